#include "packing.hpp"

namespace convt::detail {
namespace {

// Calls fn(user_index, packed_index) for every kernel element. The one place that knows both
// layouts: W_woi[t][g*F/G + o'][c'] == W_iow[g*C/G + c'][o'][t] == packed[g][c'][t*F/G + o'].
template <typename Fn>
void for_each_weight(const KernelDims& d, convt_layout layout, Fn fn) noexcept {
  const int64_t K = d.kernel_size, F = d.filters, Fg = d.filters_per_group();
  const int64_t Cg = d.channels_per_group();
  for (int64_t g = 0; g < d.groups; ++g) {
    for (int64_t c = 0; c < Cg; ++c) {
      const int64_t packed_row = (g * Cg + c) * K * Fg;
      for (int64_t t = 0; t < K; ++t) {
        for (int64_t o = 0; o < Fg; ++o) {
          const int64_t user = layout == CONVT_LAYOUT_WOI ? (t * F + g * Fg + o) * Cg + c
                                                          : ((g * Cg + c) * Fg + o) * K + t;
          fn(user, packed_row + t * Fg + o);
        }
      }
    }
  }
}

}  // namespace

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
