#include "forward.hpp"

#include <omp.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "activation.hpp"
#include "checked.hpp"
#include "col2im.hpp"
#include "direct.hpp"
#include "error.hpp"
#include "fused.hpp"
#include "gemm.hpp"
#include "owned.hpp"
#include "parallel.hpp"
#include "tapsum.hpp"

namespace convt::detail {
namespace {

// One thread's column tile: 512 KiB stays in the core's L2 (1 MiB here) between the GEMM that
// writes it and col2im that consumes it; but a tile of fewer than kMinTileRows rows makes
// OpenBLAS repack the weight block too often, so wide rows get up to kMaxColumnTileBytes. The
// workspace per thread (column tile, plus NCW's gathered input) stays within 2 MiB, whatever
// the input length.
constexpr int64_t kColumnTileBytes = int64_t{512} * 1024;
constexpr int64_t kMaxColumnTileBytes = int64_t{1536} * 1024;
constexpr int64_t kMaxWorkspacePerThread = int64_t{2048} * 1024;
constexpr int64_t kMinTileRows = 384;
// Filters below which an NWC block's column tile is laid out by tap (see run_forward_gemm).
constexpr int64_t kNarrowBlock = 16;
// Input rows below which a fused tile is not cut further for more threads; and the weights per
// group above which threads split a fused tile's filters rather than the tiles (each thread
// would stream all of them from memory).
constexpr int64_t kMinFusedTileRows = kMicroRows;
constexpr int64_t kSharedWeightBytes = int64_t{8} * 1024 * 1024;

// The forward pass's decomposition, from the shape alone (never from the thread count, so the
// summation order of every output element -- and so every bit -- is the same for any threads;
// only the fused kernel's tiles follow the threads, as its sums do not depend on the tiling):
// input rows of all batch items form one row space, cut into tiles of `tile` rows; work units
// are (group, filter block, segment of tiles), each owning the output positions its segment
// starts. NWC tiles run across items (rows are evenly strided). An NCW item is its own matrix,
// read transposed by the GEMM -- unless items are shorter than a tile: then tiles run across
// items too, each channel's steps copied side by side first, so short signals still give tall
// GEMMs.
struct Tiling {
  int64_t rows_per_item = 0;  // L
  int64_t tile = 0;           // rows per GEMM
  int64_t tiles_per_item = 0;
  int64_t tiles = 0;
  bool items_in_rows = false;  // tiles run across items
  bool gather = false;         // NCW tiles are copied into a (C/G x rows) buffer
  bool fused = false;          // fused.hpp's kernel instead of GEMM + col2im (float32)
  int64_t max_block = 0;       // widest filter block
};

Tiling make_tiling(const KernelDims& d, const ColumnMap& m, bool channels_last, bool fused,
                   int64_t batch, int64_t steps, int64_t elem_size, int64_t threads) {
  Tiling t;
  t.rows_per_item = steps;
  t.max_block = d.block();
  const int64_t fused_rows = fused ? fused_tile_rows(m, d.channels_per_group()) : 0;
  t.fused = fused_rows > 0;
  const int64_t col_row_bytes = checked_mul(d.kernel_size * t.max_block, elem_size, "column row");
  const int64_t tile =
      t.fused ? fused_rows
              : std::max<int64_t>({kColumnTileBytes / col_row_bytes,
                                   std::min(kMinTileRows, kMaxColumnTileBytes / col_row_bytes), 1});
  // (The fused kernel copies channels_first tiles itself, across items.)
  t.gather = !t.fused && !channels_last && batch > 1 && steps < tile;
  t.items_in_rows = channels_last || t.fused || t.gather;
  const int64_t rows = t.items_in_rows ? checked_mul(batch, steps, "batch*steps") : steps;
  t.tile = std::min(tile, rows);
  if (t.fused) {
    // Equal tiles, a multiple of the threads -- who split them evenly -- unless the weights are
    // large (kSharedWeightBytes). (The fused kernel's sums do not depend on its tiling; its
    // tiles stay at least a few register blocks tall.)
    const int64_t fit = rows / tile + (rows % tile != 0);  // the fewest that fit the budget
    const int64_t per = d.group_elements() * elem_size <= kSharedWeightBytes ? threads : 1;
    const int64_t n =
        std::max(fit, std::min((fit + per - 1) / per * per, rows / kMinFusedTileRows));
    t.tile = rows / n + (rows % n != 0);
    // Whole items where they fit: tiles then start at an item, and register blocks at its
    // first step.
    const int64_t items = batch / n + (batch % n != 0);
    if (batch >= n && items * steps <= tile) t.tile = items * steps;
  }
  if (t.gather) {  // the column tile and the gathered input together stay within the bound
    const int64_t gather_row_bytes = checked_mul(d.channels_per_group(), elem_size, "gather row");
    t.tile =
        std::clamp<int64_t>(kMaxWorkspacePerThread / (col_row_bytes + gather_row_bytes), 1, t.tile);
  }
  if (t.items_in_rows) {
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
  int64_t group, block, block_end;           // filter blocks [block, block_end) of the group
  int64_t first_tile, end_tile, begin, end;  // owns positions [begin, end)
};

// Everything run_gemm_path decides before it allocates: shared with the workspace query.
struct GemmPlan {
  Tiling tiling;
  std::vector<Unit> units;
  int64_t threads = 1;
  int64_t tile_elems = 0;    // one thread's column tile (fused: its input tile and targets)
  int64_t gather_elems = 0;  // one thread's gathered input tile (NCW short signals)
};

// col2im's map of the whole output (the window and the block's filters are each unit's).
template <typename T>
ColumnMap output_map(const LayerView<T>& v, const OutputPlan& plan, int64_t steps) {
  ColumnMap m;
  m.strides = v.geometry.strides;
  m.dilation = v.geometry.dilation;
  m.kernel_size = v.dims.kernel_size;
  m.crop_begin = plan.crop_begin;
  m.out_steps = plan.out_steps;
  m.steps = steps;
  m.item_stride = v.dims.filters * plan.out_steps;
  m.step_stride = v.channels_last ? v.dims.filters : 1;
  m.filter_stride = v.channels_last ? 1 : plan.out_steps;
  return m;
}

template <typename T>
GemmPlan plan_gemm(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps) {
  GemmPlan gp;
  const KernelDims& d = v.dims;
  const bool last = v.channels_last;
  const int64_t C = d.in_channels, G = d.groups, K = d.kernel_size;
  const int64_t Cg = d.channels_per_group(), L_out = plan.out_steps;
  const int64_t row_len = d.row_length(), blocks = d.block_count();
  const ColumnMap map = output_map(v, plan, steps);
  const int64_t threads_wanted = thread_count(v, batch, steps);
  gp.tiling = make_tiling(d, map, last, v.panels != nullptr && !v.portable_only, batch, steps,
                          sizeof(T), threads_wanted);
  const Tiling& tl = gp.tiling;
  for (auto [value, what] : {std::pair{tl.tile, "GEMM rows"},
                             {K * tl.max_block, "GEMM columns"},
                             {Cg, "GEMM depth"},
                             {last ? C : steps, "input leading dimension"},
                             {row_len, "kernel leading dimension"}}) {
    check_gemm_dim(value, what);
  }

  // Units: every (group, block), cut into segments of tiles when the threads need more.
  // GEMM + col2im units hold one block (the GEMM's width). The fused kernel gives each filter
  // the same sums whichever blocks share a unit (its panels never straddle blocks), and its
  // tiles write their own outputs whole (no look-back): so its units span all the group's
  // blocks -- one transposed input tile serves them all -- and threads split the tiles, unless
  // there are too few tiles, when they split the blocks.
  const int64_t units_per_group = std::max<int64_t>((threads_wanted + G - 1) / G, 1);
  const int64_t span = !tl.fused ? 1
                       : tl.tiles >= units_per_group
                           ? blocks
                           : std::max<int64_t>(blocks / units_per_group, 1);
  const int64_t per_segment_units = G * ((blocks + span - 1) / span);
  // Blocks need no look-back, so they come first; segments only when there are fewer
  // (group, block) units than threads, each segment boundary costing GEMM + col2im one
  // recomputed tile.
  const int64_t segments =
      std::clamp<int64_t>((threads_wanted + per_segment_units - 1) / per_segment_units, 1,
                          threads_wanted > 1 ? tl.tiles : 1);
  std::vector<Unit>& units = gp.units;
  units.reserve(static_cast<size_t>(per_segment_units * segments));
  for (int64_t s = 0; s < segments; ++s) {
    const int64_t a = tl.tiles * s / segments, b = tl.tiles * (s + 1) / segments;
    if (a == b) continue;
    const int64_t begin = a == 0 ? 0 : tile_start(tl, plan, v.geometry.strides, batch, a);
    const int64_t end =
        b == tl.tiles ? batch * L_out : tile_start(tl, plan, v.geometry.strides, batch, b);
    // Look back over earlier tiles whose taps reach into [begin, end); the fused kernel's
    // tiles write their own outputs whole.
    int64_t first = a;
    while (!tl.fused && first > 0 && tile_end(tl, plan, v.geometry, batch, first - 1) > begin) {
      --first;
    }
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t blk = 0; blk < blocks; blk += span) {
        units.push_back({g, blk, std::min(blk + span, blocks), first, b, begin, end});
      }
    }
  }
  gp.threads = std::min<int64_t>(threads_wanted, static_cast<int64_t>(units.size()));
  gp.tile_elems = tl.fused ? fused_workspace_floats(d, map, last, tl.tile)
                           : checked_mul(tl.tile, K * tl.max_block, "column tile");
  gp.gather_elems = tl.gather ? checked_mul(tl.tile, Cg, "gathered tile") : 0;
  checked_mul(gp.tile_elems + gp.gather_elems, gp.threads, "column tiles");
  return gp;
}

}  // namespace

// Multiply-adds below which another thread costs more than it saves: under 2 us of work per
// thread at full speed, against about a microsecond to wake the runtime's spinning threads
// (measured: the Keras docs example, 0.49M multiply-adds, runs in 4 us on 2 threads and in
// 6 us on 1; threads that have gone to sleep cost more).
constexpr double kMinMacsPerThread = 2e5;

// Threads for a call: NUM_THREADS (0 = all cores), but no more than the work can feed. The
// choice never changes a result (see Tiling), only the speed.
template <typename T>
int64_t thread_count(const LayerView<T>& v, int64_t batch, int64_t steps) {
  const int64_t requested =
      v.num_threads > 0 ? v.num_threads : std::max<int64_t>(omp_get_num_procs(), 1);
  const double macs = static_cast<double>(batch) * static_cast<double>(steps) *
                      static_cast<double>(v.dims.channels_per_group()) *
                      static_cast<double>(v.dims.filters) * static_cast<double>(v.dims.kernel_size);
  const auto fed = static_cast<int64_t>(std::min(macs / kMinMacsPerThread, 1e6));
  return std::clamp<int64_t>(fed, 1, requested);
}

template <typename T>
void run_forward_gemm(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                      const T* input, T* output) {
  const KernelDims& d = v.dims;
  const bool last = v.channels_last;
  const int64_t C = d.in_channels, F = d.filters, K = d.kernel_size;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group(), L_out = plan.out_steps;
  const int64_t row_len = d.row_length();
  const GemmPlan gp = plan_gemm(v, plan, batch, steps);
  const Tiling& tl = gp.tiling;
  const std::vector<Unit>& units = gp.units;
  const int64_t threads = gp.threads, tile_elems = gp.tile_elems;

  // All allocation happens before the first write to `output`.
  // (Not zero-filled: the GEMM and the gather write every element before it is read.)
  AlignedVector<T> cols(static_cast<size_t>(tile_elems * threads));
  const std::unique_ptr<T[]> gathered(new T[static_cast<size_t>(gp.gather_elems * threads)]);

  const ColumnMap base = output_map(v, plan, steps);

  parallel_units(threads, static_cast<int64_t>(units.size()), [&](int64_t u, int64_t thread) {
    const Unit& unit = units[static_cast<size_t>(u)];
    T* tile_cols = cols.data() + thread * tile_elems;
    const int64_t o0 = unit.group * Fg + unit.block * d.block();  // the unit's first filter
    const int64_t width = std::min(unit.block_end * d.block(), Fg) - unit.block * d.block();
    // Column tiles by row (tap, filter innermost) suit NWC's contiguous filters; tiles by tap
    // (time innermost) suit NCW, and NWC blocks too narrow to fill a vector.
    const bool by_tap = !last || width < kNarrowBlock;
    ColumnMap map = base;
    map.filters = width;
    map.window_begin = unit.begin;
    map.window_end = unit.end;
    const T* w = v.packed + unit.group * Cg * row_len + d.block_column(unit.block);
    const auto gemm_col2im = [&](int64_t r0, int64_t rows) {
      // NWC: cols (rows x K*width) = x_tile (rows x Cg, x[r][g*Cg + c], ld C) * packed block
      // (Cg x K*width, ld K*Fg).
      if (last && !by_tap) {
        gemm<T>(false, false, rows, K * width, Cg, input + r0 * C + unit.group * Cg, C, w, row_len,
                tile_cols, K * width);
      } else if (last) {
        // A narrow block (a few filters): the same tile by tap, x_tile read transposed.
        gemm<T>(true, true, K * width, rows, Cg, w, row_len, input + r0 * C + unit.group * Cg, C,
                tile_cols, rows);
      } else {
        // NCW: colsT (K*width x rows) = packed block^T * x_tile (Cg x rows), so that col2im
        // walks each filter's output row in time. A tile of one item reads x in place (ld L);
        // one that runs across short items first copies each channel's steps side by side.
        const int64_t item = r0 / steps, i0 = r0 % steps;
        const T* b = input + (item * C + unit.group * Cg) * steps + i0;
        int64_t ldb = steps;
        if (tl.gather) {
          T* a = gathered.get() + thread * gp.gather_elems;
          for (int64_t c = 0; c < Cg; ++c) {
            for (int64_t r = 0; r < rows;) {
              const int64_t it = (r0 + r) / steps, i = (r0 + r) % steps;
              const int64_t n = std::min(rows - r, steps - i);
              std::copy_n(input + (it * C + unit.group * Cg + c) * steps + i, n, a + c * rows + r);
              r += n;
            }
          }
          b = a;
          ldb = rows;
        }
        gemm<T>(true, false, K * width, rows, Cg, w, row_len, b, ldb, tile_cols, rows);
      }
      if (by_tap) {
        col2im_by_tap(map, r0, rows, tile_cols, output + o0 * map.filter_stride);
      } else {
        col2im(map, r0, rows, tile_cols, output + o0 * map.filter_stride);
      }
    };
    // The output is seeded with the bias just before the first tile that reaches it, and
    // activated as soon as no later tile can: both while it is in cache, however long the input.
    int64_t seeded = unit.begin, finished = unit.begin;
    const auto seed_to = [&](int64_t to) {
      to = std::min(to, unit.end);
      if (to <= seeded) return;
      if (last && width == F && v.bias == nullptr) {  // the range is contiguous
        std::fill(output + seeded * F, output + to * F, T(0));
      } else {
        for_each_owned(output, last, F, L_out, o0, width, seeded, to,
                       [&](T* run, int64_t n, int64_t filter) {
                         for (int64_t e = 0; e < n; ++e) {
                           run[e] = v.bias == nullptr ? T(0) : v.bias[filter < 0 ? o0 + e : filter];
                         }
                       });
      }
      seeded = to;
    };
    const auto finish_to = [&](int64_t to) {
      seed_to(to);  // positions no tile reaches hold the bias alone
      to = std::min(to, unit.end);
      if (to <= finished) return;
      activate_owned(v.activation, v.alpha, output, last, F, L_out, o0, width, finished, to);
      finished = to;
    };
    for (int64_t k = unit.first_tile; k < unit.end_tile; ++k) {
      int64_t r0 = 0, rows = 0;
      tile_rows(tl, batch, k, &r0, &rows);
      // No later tile reaches the positions before the next tile's start.
      const int64_t next =
          k + 1 < tl.tiles ? tile_start(tl, plan, v.geometry.strides, batch, k + 1) : unit.end;
      bool done = false;
      if constexpr (std::is_same_v<T, float>) {
        if (tl.fused) {  // writes the tile's outputs whole, bias included
          fused_tile(d, map, v.panels, FusedIo{input, output, v.bias, last, C, F}, unit.group,
                     unit.block, unit.block_end, r0, rows, tile_cols);
          seeded = std::max(seeded, std::min(next, unit.end));
          done = true;
        }
      }
      if (!done) {
        seed_to(tile_end(tl, plan, v.geometry, batch, k));
        gemm_col2im(r0, rows);
      }
      finish_to(next);
    }
    finish_to(unit.end);
  });
}

namespace {

enum class Kernel { direct, tapsum, gemm };  // gemm: fused.hpp's where the layer has panels

// The one place that picks a forward kernel (the header's "How it computes" states the rule).
template <typename T>
Kernel choose_kernel(const LayerView<T>& v, const OutputPlan& plan, int64_t steps) {
  if (use_direct_path(v.dims)) return Kernel::direct;
  if constexpr (std::is_same_v<T, float>) {
    if (tapsum_applies(v, plan, steps)) return Kernel::tapsum;
  }
  return Kernel::gemm;
}

}  // namespace

template <typename T>
int64_t forward_workspace_bytes(const LayerView<T>& v, const OutputPlan& plan, int64_t batch,
                                int64_t steps) {
  const int64_t act_len = v.channels_last ? v.dims.filters : plan.out_steps;
  const int64_t scratch =
      activation_scratch_doubles(v.activation, act_len) * static_cast<int64_t>(sizeof(double));
  const int64_t threads = thread_count(v, batch, steps);
  switch (choose_kernel(v, plan, steps)) {
    case Kernel::direct:
      return direct_workspace_bytes(v, plan, batch, threads) + scratch;
    case Kernel::tapsum:
      if constexpr (std::is_same_v<T, float>) {
        return tapsum_workspace_bytes(v, plan, batch, steps, threads) + scratch;
      }
      break;
    case Kernel::gemm:
      break;
  }
  const GemmPlan gp = plan_gemm(v, plan, batch, steps);
  return (gp.tile_elems + gp.gather_elems) * gp.threads * static_cast<int64_t>(sizeof(T)) + scratch;
}

template <typename T>
void run_forward(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                 const T* input, T* output) {
  const bool last = v.channels_last;
  const int64_t rows = last ? batch * plan.out_steps : batch * v.dims.filters;
  const int64_t row_len = last ? v.dims.filters : plan.out_steps;
  // Allocated before any kernel writes: a failure leaves the output untouched.
  std::vector<double> scratch(
      static_cast<size_t>(activation_scratch_doubles(v.activation, row_len)));
  switch (choose_kernel(v, plan, steps)) {
    case Kernel::direct:
      run_direct(v, plan, batch, steps, input, output, thread_count(v, batch, steps));
      break;
    case Kernel::tapsum:
      if constexpr (std::is_same_v<T, float>) {
        run_tapsum(v, plan, batch, steps, input, output, thread_count(v, batch, steps));
      }
      break;
    case Kernel::gemm:
      run_forward_gemm(v, plan, batch, steps, input, output);
      break;
  }
  if (activation_along_axis(v.activation)) {  // along the last axis: whole rows, at the end
    apply_activation(v.activation, v.alpha, output, rows, row_len, scratch.data());
  }
}

template int64_t forward_workspace_bytes<float>(const LayerView<float>&, const OutputPlan&, int64_t,
                                                int64_t);
template int64_t forward_workspace_bytes<double>(const LayerView<double>&, const OutputPlan&,
                                                 int64_t, int64_t);
template int64_t thread_count<float>(const LayerView<float>&, int64_t, int64_t);
template int64_t thread_count<double>(const LayerView<double>&, int64_t, int64_t);
template void run_forward_gemm<float>(const LayerView<float>&, const OutputPlan&, int64_t, int64_t,
                                      const float*, float*);
template void run_forward_gemm<double>(const LayerView<double>&, const OutputPlan&, int64_t,
                                       int64_t, const double*, double*);
template void run_forward<float>(const LayerView<float>&, const OutputPlan&, int64_t, int64_t,
                                 const float*, float*);
template void run_forward<double>(const LayerView<double>&, const OutputPlan&, int64_t, int64_t,
                                  const double*, double*);

}  // namespace convt::detail
