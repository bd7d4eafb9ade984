#include "forward.hpp"

#include <omp.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "activation.hpp"
#include "checked.hpp"
#include "col2im.hpp"
#include "direct.hpp"
#include "error.hpp"
#include "gemm.hpp"

namespace convt::detail {
namespace {

// Bytes of one thread's column tile: it stays in the core's L2 (1 MiB here) between the GEMM
// that writes it and col2im that consumes it. Workspace per thread = this, whatever the length.
constexpr int64_t kColumnTileBytes = int64_t{512} * 1024;

// The forward pass's decomposition, from the shape alone (never from the thread count, so the
// summation order of every output element -- and so every bit -- is the same for any threads):
// input rows of all batch items form one row space, cut into tiles of `tile` rows (NCW tiles
// stay within an item, since a channels_first item is its own matrix); work units are (group,
// filter block, segment of tiles), each owning the output positions its segment starts.
struct Tiling {
  int64_t rows_per_item = 0;  // L
  int64_t tile = 0;           // rows per GEMM
  int64_t tiles_per_item = 0;
  int64_t tiles = 0;
  bool items_in_rows = false;  // NWC: tiles run across items
  int64_t max_block = 0;       // widest filter block
};

Tiling make_tiling(const KernelDims& d, bool channels_last, int64_t batch, int64_t steps,
                   int64_t elem_size) {
  Tiling t;
  t.rows_per_item = steps;
  t.items_in_rows = channels_last;
  t.max_block = d.block();
  const int64_t col_row_bytes = checked_mul(d.kernel_size * t.max_block, elem_size, "column row");
  const int64_t rows = channels_last ? checked_mul(batch, steps, "batch*steps") : steps;
  t.tile = std::clamp<int64_t>(kColumnTileBytes / col_row_bytes, 1, rows);
  if (channels_last) {
    t.tiles = (rows + t.tile - 1) / t.tile;
  } else {
    t.tiles_per_item = (steps + t.tile - 1) / t.tile;
    t.tiles = t.tiles_per_item * batch;
  }
  return t;
}

// First global row and row count of tile `k`.
void tile_rows(const Tiling& t, int64_t batch, int64_t k, int64_t* r0, int64_t* rows) {
  if (t.items_in_rows) {
    *r0 = k * t.tile;
    *rows = std::min(t.tile, batch * t.rows_per_item - *r0);
  } else {
    const int64_t item = k / t.tiles_per_item, i0 = (k % t.tiles_per_item) * t.tile;
    *r0 = item * t.rows_per_item + i0;
    *rows = std::min(t.tile, t.rows_per_item - i0);
  }
}

// The flattened output position (item*L_out + j) where tile k's outputs begin; tile 0 of an
// item begins at the item's first step, so the head that only the bias reaches is owned too.
int64_t tile_start(const Tiling& t, const OutputPlan& plan, int64_t strides, int64_t batch,
                   int64_t k) {
  int64_t r0 = 0, rows = 0;
  tile_rows(t, batch, k, &r0, &rows);
  const int64_t item = r0 / t.rows_per_item, i = r0 % t.rows_per_item;
  const int64_t j =
      i == 0 ? 0 : std::clamp<int64_t>(i * strides - plan.crop_begin, 0, plan.out_steps);
  return item * plan.out_steps + j;
}

// One past the last output position tile k can reach.
int64_t tile_end(const Tiling& t, const OutputPlan& plan, const Geometry& g, int64_t batch,
                 int64_t k) {
  int64_t r0 = 0, rows = 0;
  tile_rows(t, batch, k, &r0, &rows);
  const int64_t last = r0 + rows - 1;
  const int64_t item = last / t.rows_per_item, i = last % t.rows_per_item;
  const int64_t j = i * g.strides + (g.kernel_size - 1) * g.dilation - plan.crop_begin + 1;
  return item * plan.out_steps + std::clamp<int64_t>(j, 0, plan.out_steps);
}

struct Unit {
  int64_t group, block, first_tile, end_tile, begin, end;  // owns positions [begin, end)
};

// Calls fn(run, count, filter) for every run of output values a unit owns in filters
// [o0, o0 + width) over positions [begin, end): at one position, the contiguous filters
// o0 .. o0+width-1 (NWC; filter = -1), or contiguous steps of one filter (NCW).
template <typename T, typename Fn>
void for_each_owned(T* y, bool channels_last, int64_t F, int64_t L_out, int64_t o0, int64_t width,
                    int64_t begin, int64_t end, Fn fn) {
  if (channels_last) {
    for (int64_t pos = begin; pos < end; ++pos) fn(y + pos * F + o0, width, int64_t{-1});
    return;
  }
  for (int64_t item = begin / L_out; item * L_out < end; ++item) {
    const int64_t j0 = std::max(begin - item * L_out, int64_t{0});
    const int64_t j1 = std::min(end - item * L_out, L_out);
    for (int64_t o = o0; o < o0 + width; ++o) fn(y + (item * F + o) * L_out + j0, j1 - j0, o);
  }
}

int64_t thread_count(int64_t requested) {
  return requested > 0 ? requested : std::max(omp_get_num_procs(), 1);
}

void check_blas_dim(int64_t v, const char* what) {
  if (v > INT_MAX) {
    fail(CONVT_E_UNSUPPORTED, std::string(what) + " " + std::to_string(v) +
                                  " exceeds the 32-bit BLAS interface's limit " +
                                  std::to_string(INT_MAX));
  }
}

template <typename T>
void run_gemm_path(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                   const T* input, T* output) {
  const KernelDims& d = v.dims;
  const bool last = v.channels_last;
  const int64_t C = d.in_channels, F = d.filters, G = d.groups, K = d.kernel_size;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group(), L_out = plan.out_steps;
  const int64_t row_len = d.row_length(), blocks = d.block_count();
  const Tiling tl = make_tiling(d, last, batch, steps, sizeof(T));
  const bool fuse_activation = !activation_along_axis(v.activation);
  const int64_t threads_wanted = thread_count(v.num_threads);
  for (auto [value, what] : {std::pair{tl.tile, "GEMM rows"},
                             {K * tl.max_block, "GEMM columns"},
                             {Cg, "GEMM depth"},
                             {last ? C : steps, "input leading dimension"},
                             {row_len, "kernel leading dimension"}}) {
    check_blas_dim(value, what);
  }

  // Units: every (group, block), cut into segments of tiles when that gives the threads work.
  const int64_t per_segment_units = G * blocks;
  const int64_t segments =
      std::clamp<int64_t>((2 * threads_wanted + per_segment_units - 1) / per_segment_units, 1,
                          threads_wanted > 1 ? tl.tiles : 1);
  std::vector<Unit> units;
  units.reserve(static_cast<size_t>(per_segment_units * segments));
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t a = tl.tiles * s / segments, b = tl.tiles * (s + 1) / segments;
    if (a == b) continue;
    const int64_t begin = a == 0 ? 0 : tile_start(tl, plan, v.geometry.strides, batch, a);
    const int64_t end =
        b == tl.tiles ? batch * L_out : tile_start(tl, plan, v.geometry.strides, batch, b);
    int64_t first = a;  // look back over earlier tiles whose taps reach into [begin, end)
    while (first > 0 && tile_end(tl, plan, v.geometry, batch, first - 1) > begin) --first;
    for (int64_t g = 0; g < G; ++g)
      for (int64_t blk = 0; blk < blocks; ++blk) units.push_back({g, blk, first, b, begin, end});
  }
  const int64_t threads = std::min<int64_t>(threads_wanted, static_cast<int64_t>(units.size()));

  // All allocation happens before the first write to `output`.
  const int64_t tile_elems = checked_mul(tl.tile, K * tl.max_block, "column tile");
  std::vector<T> cols(static_cast<size_t>(checked_mul(tile_elems, threads, "column tiles")));
  const int64_t act_len = last ? F : L_out;
  std::vector<double> scratch(
      static_cast<size_t>(activation_scratch_doubles(v.activation, act_len)));

  ColumnMap base;
  base.strides = v.geometry.strides;
  base.dilation = v.geometry.dilation;
  base.kernel_size = K;
  base.crop_begin = plan.crop_begin;
  base.out_steps = L_out;
  base.steps = steps;
  base.item_stride = F * L_out;
  base.step_stride = last ? F : 1;
  base.filter_stride = last ? 1 : L_out;

#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t u = 0; u < static_cast<int64_t>(units.size()); ++u) {
    const Unit& unit = units[static_cast<size_t>(u)];
    T* tile_cols = cols.data() + omp_get_thread_num() * tile_elems;
    const int64_t width = d.block_width(unit.block);
    const int64_t o0 = unit.group * Fg + unit.block * d.block();  // first filter of the block
    for_each_owned(output, last, F, L_out, o0, width, unit.begin, unit.end,
                   [&](T* run, int64_t n, int64_t filter) {
                     for (int64_t e = 0; e < n; ++e) {
                       run[e] = v.bias == nullptr ? T(0) : v.bias[filter < 0 ? o0 + e : filter];
                     }
                   });
    ColumnMap map = base;
    map.filters = width;
    map.window_begin = unit.begin;
    map.window_end = unit.end;
    const T* w = v.packed + unit.group * Cg * row_len + d.block_column(unit.block);
    for (int64_t k = unit.first_tile; k < unit.end_tile; ++k) {
      int64_t r0 = 0, rows = 0;
      tile_rows(tl, batch, k, &r0, &rows);
      // cols (rows x K*width) = x_tile (rows x Cg) * packed block (Cg x K*width, ld K*Fg).
      // NWC reads x[r][g*Cg + c] (ld C); NCW reads x[item][g*Cg + c][i] transposed (ld L).
      if (last) {
        gemm<T>(false, false, rows, K * width, Cg, input + r0 * C + unit.group * Cg, C, w, row_len,
                tile_cols, K * width);
      } else {
        const int64_t item = r0 / steps, i0 = r0 % steps;
        gemm<T>(true, false, rows, K * width, Cg, input + (item * C + unit.group * Cg) * steps + i0,
                steps, w, row_len, tile_cols, K * width);
      }
      col2im(map, r0, rows, tile_cols, output + o0 * map.filter_stride);
    }
    if (fuse_activation) {
      for_each_owned(output, last, F, L_out, o0, width, unit.begin, unit.end,
                     [&](T* run, int64_t n, int64_t) {
                       apply_activation(v.activation, v.alpha, run, 1, n, nullptr);
                     });
    }
  }
  if (!fuse_activation) {  // along the last axis: whole rows, once every block is done
    apply_activation(v.activation, v.alpha, output, last ? batch * L_out : batch * F, act_len,
                     scratch.data());
  }
}

}  // namespace

template <typename T>
void run_forward(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                 const T* input, T* output) {
  if (use_direct_path(v.dims)) {
    run_direct(v, plan, batch, steps, input, output, thread_count(v.num_threads));
  } else {
    run_gemm_path(v, plan, batch, steps, input, output);
  }
}

template void run_forward<float>(const LayerView<float>&, const OutputPlan&, int64_t, int64_t,
                                 const float*, float*);
template void run_forward<double>(const LayerView<double>&, const OutputPlan&, int64_t, int64_t,
                                  const double*, double*);

}  // namespace convt::detail
