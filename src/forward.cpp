#include "forward.hpp"

#include <algorithm>
#include <vector>

#include "activation.hpp"
#include "checked.hpp"
#include "col2im.hpp"
#include "gemm.hpp"

namespace convt::detail {
namespace {

// Bytes of one column tile: small enough to stay in L2 while col2im consumes it.
constexpr int64_t kColumnTileBytes = int64_t{256} * 1024;

}  // namespace

template <typename T>
void run_forward(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                 const T* input, T* output) {
  const bool channels_last = v.channels_last;
  const int64_t C = v.dims.in_channels, F = v.dims.filters, G = v.dims.groups;
  const int64_t K = v.dims.kernel_size, L = steps, L_out = plan.out_steps;
  const int64_t Cg = C / G, Fg = F / G;
  const int64_t row_len = K * Fg;  // columns of the GEMM: (tap, filter) pairs of one group
  const int64_t tile = std::clamp<int64_t>(
      kColumnTileBytes / checked_mul(row_len, sizeof(T), "column row bytes"), 1, L);
  // The activation's rows: the last axis of the output as laid out.
  const int64_t act_rows = channels_last ? L_out : F, act_len = channels_last ? F : L_out;

  // All allocation happens before the first write to `output`.
  std::vector<T> cols(static_cast<size_t>(checked_mul(tile, row_len, "column tile")));
  std::vector<double> scratch(
      static_cast<size_t>(activation_scratch_doubles(v.activation, act_len)));

  ColumnMap map;
  map.strides = v.geometry.strides;
  map.dilation = v.geometry.dilation;
  map.kernel_size = K;
  map.filters = Fg;
  map.crop_begin = plan.crop_begin;
  map.out_steps = L_out;
  map.step_stride = channels_last ? F : 1;
  map.filter_stride = channels_last ? 1 : L_out;

  for (int64_t n = 0; n < batch; ++n) {
    const T* x = input + n * L * C;
    T* y = output + n * F * L_out;
    // Seed with the bias (in memory order); steps no tap reaches keep it.
    for (int64_t a = 0; a < act_rows; ++a) {
      for (int64_t b = 0; b < act_len; ++b) {
        y[a * act_len + b] = v.bias == nullptr ? T(0) : v.bias[channels_last ? b : a];
      }
    }
    for (int64_t g = 0; g < G; ++g) {
      const T* w = v.packed + g * Cg * row_len;
      T* y_group = y + g * Fg * map.filter_stride;
      for (int64_t i0 = 0; i0 < L; i0 += tile) {
        const int64_t rows = std::min(tile, L - i0);
        // cols (rows x K*Fg) = x_tile (rows x Cg) * packed_g (Cg x K*Fg). channels_last reads
        // x[i][g*Cg + c] (row-major, ld C); channels_first reads x[g*Cg + c][i] transposed.
        if (channels_last) {
          gemm<T>(false, false, rows, row_len, Cg, x + i0 * C + g * Cg, C, w, row_len, cols.data(),
                  row_len);
        } else {
          gemm<T>(true, false, rows, row_len, Cg, x + g * Cg * L + i0, L, w, row_len, cols.data(),
                  row_len);
        }
        col2im(map, i0, rows, cols.data(), y_group);
      }
    }
    apply_activation(v.activation, v.alpha, y, act_rows, act_len, scratch.data());
  }
}

template void run_forward<float>(const LayerView<float>&, const OutputPlan&, int64_t, int64_t,
                                 const float*, float*);
template void run_forward<double>(const LayerView<double>&, const OutputPlan&, int64_t, int64_t,
                                  const double*, double*);

}  // namespace convt::detail
