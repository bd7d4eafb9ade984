#include "packing.hpp"

namespace convt::detail {
namespace {

// Calls fn(user_index, packed_index) for every kernel element. The one place that knows both
// layouts: W_woi[t][g*F/G + o'][c'] == W_iow[g*C/G + c'][o'][t] == packed[g][c'][column(t, o')].
template <typename Fn>
void for_each_weight(const KernelDims& d, convt_layout layout, Fn fn) noexcept {
  const int64_t K = d.kernel_size, F = d.filters, Fg = d.filters_per_group();
  const int64_t Cg = d.channels_per_group();
  int64_t packed = 0;  // visited in packed order: group, channel, block, tap, filter in block
  for (int64_t g = 0; g < d.groups; ++g) {
    for (int64_t c = 0; c < Cg; ++c) {
      for (int64_t b = 0; b < d.block_count(); ++b) {
        const int64_t first = b * d.block(), width = d.block_width(b);
        for (int64_t t = 0; t < K; ++t) {
          for (int64_t o = first; o < first + width; ++o) {
            const int64_t user = layout == CONVT_LAYOUT_WOI ? (t * F + g * Fg + o) * Cg + c
                                                            : ((g * Cg + c) * Fg + o) * K + t;
            fn(user, packed++);
          }
        }
      }
    }
  }
}

}  // namespace

int64_t choose_filter_block(int64_t kernel_size, int64_t filters_per_group) noexcept {
  constexpr int64_t kTargetColumns = 1024;
  const int64_t target = std::max<int64_t>(kTargetColumns / std::max<int64_t>(kernel_size, 1), 8);
  // At least two blocks from 64 filters on: blocks are what threads split without look-back.
  constexpr int64_t kTwoBlocksFrom = 64;
  if (filters_per_group <= target && filters_per_group < kTwoBlocksFrom) return filters_per_group;
  // Ceiling divisions written so that no sum can overflow (filters may be near INT64_MAX).
  const int64_t blocks =
      std::max<int64_t>(filters_per_group / target + (filters_per_group % target != 0), 2);
  const int64_t even =  // balanced widths
      filters_per_group / blocks + (filters_per_group % blocks != 0);
  // Multiples of 32 filters from 64 on: whole panels for the fused kernel (fused.hpp).
  const int64_t multiple = filters_per_group >= 64 ? 32 : 8;
  return std::min(filters_per_group, (even + multiple - 1) / multiple * multiple);
}

template <typename T>
void pack_kernel(const KernelDims& d, convt_layout layout, const T* kernel, T* packed) noexcept {
  for_each_weight(d, layout, [&](int64_t user, int64_t p) { packed[p] = kernel[user]; });
}

template <typename T>
void unpack_kernel(const KernelDims& d, convt_layout layout, const T* packed, T* kernel) noexcept {
  for_each_weight(d, layout, [&](int64_t user, int64_t p) { kernel[user] = packed[p]; });
}

template void pack_kernel<float>(const KernelDims&, convt_layout, const float*, float*) noexcept;
template void pack_kernel<double>(const KernelDims&, convt_layout, const double*, double*) noexcept;
template void unpack_kernel<float>(const KernelDims&, convt_layout, const float*, float*) noexcept;
template void unpack_kernel<double>(const KernelDims&, convt_layout, const double*,
                                    double*) noexcept;

}  // namespace convt::detail
