#include "backward.hpp"

#include <omp.h>

#include <algorithm>
#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "activation.hpp"
#include "checked.hpp"
#include "col2im.hpp"
#include "error.hpp"
#include "forward.hpp"
#include "gemm.hpp"
#include "lengths.hpp"
#include "packing.hpp"

namespace convt::detail {
namespace {

// Bytes of one thread's column tile: small enough to stay in L2 between im2col and the GEMM
// that reads it. Workspace per thread is this plus one GEMM result, whatever the length.
constexpr int64_t kColumnTileBytes = int64_t{256} * 1024;

// Input channels per kernel-gradient unit: the units of a kernel block split its rows, so
// that one filter block still gives the threads work. Fixed, so results never depend on
// threads.
constexpr int64_t kKernelChunk = 64;

constexpr int64_t kMaxInt32 = INT_MAX;

// An optional gradient buffer: NULL with length 0 (not wanted), or exactly `expected` values.
void check_buffer(const std::string& name, const void* buffer, int64_t length, int64_t expected,
                  const std::string& expected_text) {
  if (buffer == nullptr && length != 0) {
    fail(CONVT_E_SHAPE, name + " is NULL but " + name + "_len is " + std::to_string(length) +
                            ": pass length 0 to skip it, or a buffer of " + expected_text);
  }
  if (buffer != nullptr && length != expected) {
    fail(CONVT_E_SHAPE, name + " has " + std::to_string(length) + " values, expected " +
                            expected_text + " (or NULL with length 0 to skip it)");
  }
}

}  // namespace

template <typename T>
void check_gradients(const KernelDims& d, bool use_bias, int64_t input_len,
                     const Gradients<T>& grads) {
  check_layout(grads.layout);
  check_buffer("grad_input", grads.input, grads.input_len, input_len,
               "input_len = " + std::to_string(input_len) + " values");
  check_buffer("grad_kernel", grads.kernel, grads.kernel_len, d.elements(),
               kernel_length_text(d) + " values");
  if (!use_bias && (grads.bias != nullptr || grads.bias_len != 0)) {
    fail(CONVT_E_SHAPE, "grad_bias " +
                            (grads.bias != nullptr
                                 ? std::string("is given")
                                 : "is NULL with grad_bias_len " + std::to_string(grads.bias_len)) +
                            " but use_bias is 0: the layer has no bias; pass NULL with "
                            "grad_bias_len 0");
  }
  check_buffer("grad_bias", grads.bias, grads.bias_len, d.filters,
               "filters = " + std::to_string(d.filters) + " values");
}

template <typename T>
void run_backward(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                  const T* input, const T* grad_output, const Penalties& penalties,
                  const Gradients<T>& grads) {
  const bool want_input = grads.input != nullptr, want_kernel = grads.kernel != nullptr;
  const bool want_bias = grads.bias != nullptr;
  if (!want_input && !want_kernel && !want_bias) return;
  const KernelDims& d = v.dims;
  const bool last = v.channels_last;
  const int64_t C = d.in_channels, F = d.filters, G = d.groups, K = d.kernel_size;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group();
  const int64_t L = steps, L_out = plan.out_steps, row_len = d.row_length();
  const int64_t blocks = d.block_count(), max_cols = K * d.block();
  const int64_t item_in = L * C, item_out = F * L_out;  // products checked by prepare
  const int64_t tile = std::clamp<int64_t>(
      kColumnTileBytes / checked_mul(max_cols, sizeof(T), "column row bytes"), 1, L);
  const int64_t tiles = (L + tile - 1) / tile;
  const int64_t chunk = std::min(Cg, kKernelChunk), chunks = (Cg + chunk - 1) / chunk;
  const int64_t act_rows = last ? L_out : F, act_len = last ? F : L_out;
  for (auto [value, what] : {std::pair{tile, "GEMM rows"},
                             {max_cols, "GEMM columns"},
                             {Cg, "GEMM depth"},
                             {last ? C : L, "input leading dimension"},
                             {row_len, "kernel leading dimension"}}) {
    check_gemm_dim(value, what);  // gemm must not throw inside the parallel regions
  }
  // dL/dz equals dL/dy unless an activation or an activity penalty lies between them; then
  // the pre-activation z is recomputed (the layer keeps no state between calls), for the whole
  // batch in one forward pass before the first write, so that nothing allocates after it.
  const bool recompute = v.activation != CONVT_ACTIVATION_LINEAR || penalties.activity.active();

  // The work of one item, in units whose outputs are disjoint and whose summation order is
  // fixed by the shape, never by the thread count: dL/dx by (group, tile), summing the filter
  // blocks in order; dL/dW by (group, block, chunk of channels), summing tiles and items in
  // order.
  const int64_t input_units = want_input ? G * tiles : 0;
  const int64_t kernel_units = want_kernel ? G * blocks * chunks : 0;
  const int64_t threads = std::clamp<int64_t>(
      std::min(thread_count(v, batch, steps), std::max(input_units, kernel_units)), 1, kMaxInt32);
  const int team = static_cast<int>(threads);

  // All allocation happens before the first write to a gradient buffer: z (as large as
  // grad_output), one item's dL/dz, each thread's column tile and GEMM result, the kernel and
  // bias sums.
  const auto size = [](bool wanted, int64_t n) { return static_cast<size_t>(wanted ? n : 0); };
  std::vector<T> z(size(recompute, checked_mul(batch, item_out, "batch*filters*out_steps")));
  std::vector<T> dz(size(recompute, item_out));
  std::vector<double> scratch(size(recompute, activation_scratch_doubles(v.activation, act_len)));
  const int64_t cols_len = checked_mul(tile, max_cols, "column tile");
  const int64_t part_len = std::max(want_input ? checked_mul(tile, Cg, "input tile") : 0,
                                    want_kernel ? checked_mul(chunk, max_cols, "kernel tile") : 0);
  const bool gemms = want_input || want_kernel;
  std::vector<T> cols(size(gemms, checked_mul(cols_len, threads, "column tiles")));
  std::vector<T> parts(size(gemms, checked_mul(part_len, threads, "GEMM results")));
  std::vector<double> kernel_sum(size(want_kernel, d.elements()));
  std::vector<T> kernel_out(size(want_kernel, d.elements()));
  std::vector<double> bias_sum(size(want_bias, F));

  LayerView<T> linear = v;  // z = forward without the activation
  linear.activation = CONVT_ACTIVATION_LINEAR;

  ColumnMap base;  // forward's map: im2col gathers exactly what col2im scattered
  base.strides = v.geometry.strides;
  base.dilation = v.geometry.dilation;
  base.kernel_size = K;
  base.crop_begin = plan.crop_begin;
  base.out_steps = L_out;
  base.step_stride = last ? F : 1;
  base.filter_stride = last ? 1 : L_out;
  // cols (rows x K*width) = dL/dz at every target of input steps i0 .. i0+rows-1, for the
  // filters of block `blk` of group `grp`.
  const auto gather = [&](const T* g, int64_t grp, int64_t blk, int64_t i0, int64_t rows,
                          T* tile_cols) {
    ColumnMap map = base;
    map.filters = d.block_width(blk);
    im2col(map, i0, rows, g + (grp * Fg + blk * d.block()) * map.filter_stride, tile_cols);
  };

  if (recompute) run_forward(linear, plan, batch, L, input, z.data());
  for (int64_t n = 0; n < batch; ++n) {
    const T* x = input + n * item_in;
    const T* g = grad_output + n * item_out;  // dL/dz of this item, once the activation is undone
    if (recompute) {
      const T* zn = z.data() + n * item_out;
      if (penalties.activity.active()) {
        // dL/dy += d(activity penalty)/dy = (l1 * sign(y) + 2 * l2 * y) / batch, y = act(z).
        std::copy(zn, zn + item_out, dz.begin());
        apply_activation(v.activation, v.alpha, dz.data(), act_rows, act_len, scratch.data());
        for (int64_t k = 0; k < item_out; ++k) {
          const double slope = penalties.activity.slope(static_cast<double>(dz[k]));
          dz[k] = static_cast<T>(static_cast<double>(g[k]) + slope / static_cast<double>(batch));
        }
      } else {
        std::copy(g, g + item_out, dz.begin());
      }
      activation_backward(v.activation, v.alpha, zn, dz.data(), act_rows, act_len, scratch.data());
      g = dz.data();
    }
    if (want_bias) {
      for (int64_t a = 0; a < act_rows; ++a) {
        for (int64_t b = 0; b < act_len; ++b) {
          bias_sum[static_cast<size_t>(last ? b : a)] += g[a * act_len + b];
        }
      }
    }

    if (!gemms) continue;
#pragma omp parallel num_threads(team)
    {
      T* tile_cols = cols.data() + omp_get_thread_num() * cols_len;
      T* part = parts.data() + omp_get_thread_num() * part_len;
#pragma omp for schedule(dynamic, 1)
      for (int64_t u = 0; u < input_units; ++u) {
        const int64_t grp = u / tiles, i0 = (u % tiles) * tile, rows = std::min(tile, L - i0);
        // dL/dx_tile (rows x Cg) = sum over blocks of cols (rows x K*width) * block^T; NCW
        // stores its transpose (Cg x rows, ld L) = block * cols^T.
        T* gx = last ? grads.input + n * item_in + i0 * C + grp * Cg
                     : grads.input + n * item_in + grp * Cg * L + i0;
        const int64_t ld = last ? C : L;
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const int64_t cols_w = K * d.block_width(blk);
          const T* w = v.packed + grp * Cg * row_len + d.block_column(blk);  // Cg x cols_w
          gather(g, grp, blk, i0, rows, tile_cols);
          T* dst = blk == 0 ? gx : part;  // later blocks add their share
          const int64_t ld_dst = blk == 0 ? ld : (last ? Cg : rows);
          if (last) {
            gemm<T>(false, true, rows, Cg, cols_w, tile_cols, cols_w, w, row_len, dst, ld_dst);
          } else {
            gemm<T>(false, true, Cg, rows, cols_w, w, row_len, tile_cols, cols_w, dst, ld_dst);
          }
          if (blk == 0) continue;
          const int64_t outer = last ? rows : Cg, inner = last ? Cg : rows;
          for (int64_t a = 0; a < outer; ++a) {
            for (int64_t b = 0; b < inner; ++b) gx[a * ld + b] += part[a * inner + b];
          }
        }
      }
#pragma omp for schedule(dynamic, 1)
      for (int64_t u = 0; u < kernel_units; ++u) {
        const int64_t grp = u / (blocks * chunks), blk = u / chunks % blocks;
        const int64_t c0 = u % chunks * chunk, rows_c = std::min(chunk, Cg - c0);
        const int64_t cols_w = K * d.block_width(blk);
        double* w_sum = kernel_sum.data() + (grp * Cg + c0) * row_len + d.block_column(blk);
        for (int64_t i0 = 0; i0 < L; i0 += tile) {
          const int64_t rows = std::min(tile, L - i0);
          gather(g, grp, blk, i0, rows, tile_cols);
          // dL/dblock (rows_c x cols_w) += x_tile^T (rows_c x rows) * cols (rows x cols_w).
          if (last) {
            gemm<T>(true, false, rows_c, cols_w, rows, x + i0 * C + grp * Cg + c0, C, tile_cols,
                    cols_w, part, cols_w);
          } else {
            gemm<T>(false, false, rows_c, cols_w, rows, x + (grp * Cg + c0) * L + i0, L, tile_cols,
                    cols_w, part, cols_w);
          }
          for (int64_t c = 0; c < rows_c; ++c) {
            for (int64_t q = 0; q < cols_w; ++q) w_sum[c * row_len + q] += part[c * cols_w + q];
          }
        }
      }
    }
  }

  if (want_kernel) {
    for (int64_t p = 0; p < d.elements(); ++p) {
      const double slope = penalties.kernel.slope(static_cast<double>(v.packed[p]));
      kernel_out[static_cast<size_t>(p)] =
          static_cast<T>(kernel_sum[static_cast<size_t>(p)] + slope);
    }
    unpack_kernel(d, grads.layout, kernel_out.data(), grads.kernel);
  }
  if (want_bias) {
    for (int64_t o = 0; o < F; ++o) {
      const double slope = penalties.bias.slope(static_cast<double>(v.bias[o]));
      grads.bias[o] = static_cast<T>(bias_sum[static_cast<size_t>(o)] + slope);
    }
  }
}

template void check_gradients<float>(const KernelDims&, bool, int64_t, const Gradients<float>&);
template void check_gradients<double>(const KernelDims&, bool, int64_t, const Gradients<double>&);
template void run_backward<float>(const LayerView<float>&, const OutputPlan&, int64_t, int64_t,
                                  const float*, const float*, const Penalties&,
                                  const Gradients<float>&);
template void run_backward<double>(const LayerView<double>&, const OutputPlan&, int64_t, int64_t,
                                   const double*, const double*, const Penalties&,
                                   const Gradients<double>&);

}  // namespace convt::detail
