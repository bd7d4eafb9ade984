#include "fused.hpp"

#include <immintrin.h>

#include <algorithm>
#include <climits>
#include <type_traits>

#include "checked.hpp"
#include "direct.hpp"
#include "simd.hpp"

namespace convt::detail {
namespace {

constexpr int kRows = static_cast<int>(kMicroRows);
// Channels per pass over a panel (a 512 x 32 slice, 64 KiB, streams from L2 across the tile's
// register blocks); deeper groups add their partial sums into the output once per slice.
constexpr int64_t kDepthSlice = 512;
// Output bytes a run of register blocks writes (see fused_tile), and the group's weights up to
// which runs pay: each run passes over all of them again, which costs more than it saves once
// they no longer fit the shared cache. channels_first runs write a scratch of at most
// kScratchRunBytes instead, whatever the weights.
constexpr int64_t kOutputRunBytes = int64_t{256} * 1024;
constexpr int64_t kRunWeightBytes = int64_t{8} * 1024 * 1024;
constexpr int64_t kScratchRunBytes = int64_t{1024} * 1024;

// For one register block: acc = a (depth x MR, a[c][r] at a + c*lda + r) * b (depth x 32 panel
// slice), then row r's target [0 .. 32) += acc[r] under the filter masks. The targets are
// y0 + r*step (kLinear), or out[r] where that is non-null. NV = 1 for chunks of <= 16 filters;
// MR = 4 or 8 for blocks whose last rows have no target (a tile's last rows, an item's edge).
template <int NV, bool kLinear, int MR>
CONVT_TARGET_AVX512 void register_block(const float* a, int64_t lda, const float* b, int64_t depth,
                                        float* y0, int64_t step, float* const* out, __mmask16 m0,
                                        __mmask16 m1) noexcept {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    acc0[r] = _mm512_setzero_ps();
    acc1[r] = _mm512_setzero_ps();
  }
#pragma GCC unroll 2
  for (int64_t c = 0; c < depth; ++c) {
    const __m512 b0 = _mm512_load_ps(b + c * kPanelWidth);
    const __m512 b1 = NV == 2 ? _mm512_load_ps(b + c * kPanelWidth + 16) : b0;
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[c * lda + r]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      if constexpr (NV == 2) acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    float* y = kLinear ? y0 + r * step : out[r];
    if (!kLinear && y == nullptr) continue;
    _mm512_mask_storeu_ps(y, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, y), acc0[r]));
    if constexpr (NV == 2) {
      _mm512_mask_storeu_ps(y + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, y + 16), acc1[r]));
    }
  }
}

__mmask16 mask_of(int64_t n) noexcept {
  return n >= 16
             ? static_cast<__mmask16>(0xFFFF)
             : static_cast<__mmask16>((1u << static_cast<unsigned>(std::max<int64_t>(n, 0))) - 1u);
}

int64_t micro_panels(int64_t rows) noexcept { return (rows + kMicroRows - 1) / kMicroRows; }

// Leading dimension of the transposed input tile: every register block's rows, rounded up to
// whole 16 x 16 transposes, and an odd number of cache lines, so that a register block's
// channels (one line each) spread over all L1 sets instead of aliasing 4 KiB apart.
int64_t transposed_rows(int64_t rows) noexcept {
  const int64_t lines = (micro_panels(rows) * kMicroRows + 15) / 16;
  return (lines | 1) * 16;
}

// GCC 12's unmasked AVX-512 intrinsics pass an undefined vector it then warns about.
#pragma GCC diagnostic push
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
// Transposes 16 x 16 floats in registers: afterwards v[c][r] is what v[r][c] was.
CONVT_TARGET_AVX512 inline __attribute__((always_inline)) void transpose16(__m512* v) noexcept {
  __m512 t[16];
  for (int k = 0; k < 8; ++k) {  // pairs of rows, element by element within 128-bit lanes
    t[2 * k] = _mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {  // v[4k + e], lane l: element 4l + e of rows 4k .. 4k+3
    v[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    v[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    v[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    v[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int e = 0; e < 4; ++e) {  // gather lane l of the four row groups: column 4l + e
    const __m512 lo02 = _mm512_shuffle_f32x4(v[e], v[4 + e], 0x88);
    const __m512 lo13 = _mm512_shuffle_f32x4(v[e], v[4 + e], 0xDD);
    const __m512 hi02 = _mm512_shuffle_f32x4(v[8 + e], v[12 + e], 0x88);
    const __m512 hi13 = _mm512_shuffle_f32x4(v[8 + e], v[12 + e], 0xDD);
    t[e] = _mm512_shuffle_f32x4(lo02, hi02, 0x88);
    t[4 + e] = _mm512_shuffle_f32x4(lo13, hi13, 0x88);
    t[8 + e] = _mm512_shuffle_f32x4(lo02, hi02, 0xDD);
    t[12 + e] = _mm512_shuffle_f32x4(lo13, hi13, 0xDD);
  }
  for (int c = 0; c < 16; ++c) v[c] = t[c];
}

// v[c] = column c of the 16 x 16 block at src (ld ld): rows past `rows` and columns outside
// `columns` read as zero.
CONVT_TARGET_AVX512 inline __attribute__((always_inline)) void load_transposed(
    const float* src, int64_t ld, int64_t rows, __mmask16 columns, __m512* v) noexcept {
  for (int r = 0; r < 16; ++r) {
    v[r] = r < rows ? _mm512_maskz_loadu_ps(columns, src + r * ld) : _mm512_setzero_ps();
  }
  transpose16(v);
}

}  // namespace

// (fused.hpp) The fused kernel makes each channels_last tile channel-major, so that a register
// block's 12 rows of one channel are contiguous; the tap-sum kernel, each block of steps.
CONVT_TARGET_AVX512 void transpose_to_channels(const float* x, int64_t ldx, int64_t rows,
                                               int64_t depth, float* a, int64_t lda) noexcept {
  for (int64_t r0 = 0; r0 < lda; r0 += 16) {
    for (int64_t c0 = 0; c0 < depth; c0 += 16) {
      __m512 v[16];
      if (r0 < rows) {
        load_transposed(x + r0 * ldx + c0, ldx, rows - r0, mask_of(depth - c0), v);
      } else {  // padding rows: zero, without forming a pointer past the input
        for (__m512& z : v) z = _mm512_setzero_ps();
      }
      for (int64_t c = c0; c < std::min(c0 + 16, depth); ++c) {
        _mm512_storeu_ps(a + c * lda + r0, v[c - c0]);
      }
    }
  }
}

namespace {

// y[f][j0 + p] += s[p][f] for p < positions, f < filters (ld_s, ld_y): a run's channels_last
// scratch added into a channels_first output.
CONVT_TARGET_AVX512 void transpose_add(const float* s, int64_t ld_s, int64_t positions,
                                       int64_t filters, float* y, int64_t ld_y) noexcept {
  for (int64_t f0 = 0; f0 < filters; f0 += 16) {
    const __mmask16 fm = mask_of(filters - f0);
    for (int64_t p0 = 0; p0 < positions; p0 += 16) {
      const __mmask16 pm = mask_of(positions - p0);
      __m512 v[16];
      load_transposed(s + p0 * ld_s + f0, ld_s, positions - p0, fm, v);
      for (int64_t f = f0; f < std::min(f0 + 16, filters); ++f) {
        float* row = y + f * ld_y + p0;
        _mm512_mask_storeu_ps(row, pm, _mm512_add_ps(_mm512_maskz_loadu_ps(pm, row), v[f - f0]));
      }
    }
  }
}
#pragma GCC diagnostic pop

}  // namespace

bool cpu_has_avx512f() noexcept {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return available;
}

bool fused_kernel_applies(const KernelDims& d) noexcept {
  return cpu_has_avx512f() && !use_direct_path(d) && d.filters_per_group() >= kFusedMinFilters;
}

int64_t panel_chunks(const KernelDims& d) noexcept {
  return (d.block() + kPanelWidth - 1) / kPanelWidth;
}

int64_t panel_elements(const KernelDims& d) {
  int64_t n = checked_mul(d.groups, d.block_count(), "weight panels");
  n = checked_mul(n, d.kernel_size, "weight panels");
  n = checked_mul(n, panel_chunks(d), "weight panels");
  n = checked_mul(n, d.channels_per_group(), "weight panels");
  return checked_mul(n, kPanelWidth, "weight panels");
}

int64_t panel_offset(const KernelDims& d, int64_t group, int64_t block, int64_t tap,
                     int64_t chunk) noexcept {
  return (((group * d.block_count() + block) * d.kernel_size + tap) * panel_chunks(d) + chunk) *
         d.channels_per_group() * kPanelWidth;
}

void pack_panels(const KernelDims& d, const float* packed, float* panels) noexcept {
  const int64_t Cg = d.channels_per_group(), row_len = d.row_length();
  for (int64_t g = 0; g < d.groups; ++g) {
    for (int64_t b = 0; b < d.block_count(); ++b) {
      const int64_t width = d.block_width(b);
      for (int64_t t = 0; t < d.kernel_size; ++t) {
        for (int64_t h = 0; h < panel_chunks(d); ++h) {
          float* panel = panels + panel_offset(d, g, b, t, h);
          for (int64_t c = 0; c < Cg; ++c) {
            const float* src =
                packed + g * d.group_elements() + c * row_len + d.block_column(b) + t * width;
            for (int64_t f = 0; f < kPanelWidth; ++f) {
              const int64_t o = h * kPanelWidth + f;
              panel[c * kPanelWidth + f] = o < width ? src[o] : 0.0f;
            }
          }
        }
      }
    }
  }
}

namespace {

// Register blocks per run (see fused_tile), from the shape alone.
int64_t run_panels(const KernelDims& d, const ColumnMap& m, bool channels_last,
                   int64_t panels_m) noexcept {
  const bool small_weights = d.group_elements() * int64_t{sizeof(float)} <= kRunWeightBytes;
  if (channels_last && !small_weights) return panels_m;
  const int64_t run_bytes = small_weights ? kOutputRunBytes : kScratchRunBytes;
  const int64_t row_bytes = m.strides * d.filters_per_group() * int64_t{sizeof(float)};
  return std::clamp<int64_t>(run_bytes / row_bytes / kMicroRows, 1, panels_m);
}

// Output positions a run of `rows` input rows can write: (rows - 1) * S + K_eff within an item,
// plus, for each item boundary inside the run, the amount by which an item's output exceeds
// steps * S.
int64_t run_positions(const ColumnMap& m, int64_t rows) {
  const int64_t reach =
      checked_add(checked_mul(m.kernel_size - 1, m.dilation, "kernel reach"), 1, "kernel reach");
  const int64_t boundaries = std::min(rows - 1, (rows - 1) / m.steps + 1);
  const int64_t excess = std::max<int64_t>(m.out_steps - m.steps * m.strides, 0);
  return checked_add(
      checked_add(checked_mul(rows - 1, m.strides, "run positions"), reach, "run positions"),
      checked_mul(boundaries, excess, "run positions"), "run positions");
}

// The workspace's parts: the channel-major input tile, three int64 per row, and (channels_first)
// a 64-byte aligned scratch for one run's output.
struct WorkLayout {
  int64_t lda = 0, targets = 0, scratch = 0, total = 0;  // offsets and size, in floats
};

WorkLayout work_layout(const KernelDims& d, const ColumnMap& m, bool channels_last, int64_t rows) {
  WorkLayout w;
  w.lda = transposed_rows(rows);
  w.targets = checked_mul(w.lda, d.channels_per_group(), "input tile");
  w.scratch =
      (checked_add(w.targets, checked_mul(rows, 6, "output targets"), "fused workspace") + 15) /
      16 * 16;
  w.total = w.scratch;
  if (!channels_last) {
    const int64_t panels_m = micro_panels(rows);
    const int64_t run_rows = std::min(run_panels(d, m, channels_last, panels_m) * kMicroRows, rows);
    w.total = checked_add(
        w.scratch, checked_mul(run_positions(m, run_rows), d.filters_per_group(), "output scratch"),
        "fused workspace");
  }
  // Whole cache lines, so that every thread's part of the workspace keeps the 64-byte
  // alignment (and the int64 targets their 8).
  w.total = checked_add(w.total, 15, "fused workspace") / 16 * 16;
  return w;
}

}  // namespace

int64_t fused_workspace_floats(const KernelDims& d, const ColumnMap& m, bool channels_last,
                               int64_t tile_rows) {
  return work_layout(d, m, channels_last, tile_rows).total;
}

void fused_tile(const KernelDims& d, const ColumnMap& m, const float* panels, const FusedIo& io,
                int64_t group, int64_t first_block, int64_t end_block, int64_t r0, int64_t rows,
                float* work) noexcept {
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group(), S = m.strides;
  const int64_t panels_m = micro_panels(rows), chunks = panel_chunks(d);
  const WorkLayout layout = work_layout(d, m, io.channels_last, rows);
  const int64_t lda = layout.lda;
  const int64_t o0 = group * Fg + first_block * d.block();  // the unit's first filter
  const int64_t width = std::min(end_block * d.block(), Fg) - first_block * d.block();
  float* a = work;  // a[c'][row], rows past the tile zero
  if (io.channels_last) {
    transpose_to_channels(io.x + r0 * io.in_channels + group * Cg, io.in_channels, rows, Cg, a,
                          lda);
  } else {  // already channel-major: each channel's steps copied side by side, item by item
    for (int64_t c = 0; c < Cg; ++c) {
      float* dst = a + c * lda;
      for (int64_t row = 0; row < rows;) {
        const int64_t item = (r0 + row) / m.steps, i = (r0 + row) % m.steps;
        const int64_t n = std::min(rows - row, m.steps - i);
        std::copy_n(io.x + (item * io.in_channels + group * Cg + c) * m.steps + i, n, dst + row);
        row += n;
      }
      std::fill(dst + rows, dst + lda, 0.0f);
    }
  }
  // Each row's first target (tap 0), as a flattened position item*L_out + j, and the range of
  // positions it may write: its own item's output, within the unit's window.
  auto* base = reinterpret_cast<int64_t*>(work + layout.targets);
  int64_t* lo = base + rows;
  int64_t* hi = lo + rows;
  {
    // (Locals, not m's fields: the stores below could alias them.)
    const int64_t steps = m.steps, L_out = m.out_steps, crop = m.crop_begin;
    const int64_t wb = m.window_begin, we = m.window_end;
    int64_t item = r0 / steps, step = r0 % steps;  // advanced per row, no division
    for (int64_t row = 0; row < rows; ++row, ++step) {
      if (step == steps) step = 0, ++item;
      base[row] = item * L_out + step * S - crop;
      lo[row] = std::max(item * L_out, wb);
      hi[row] = std::min(item * L_out + L_out, we);
    }
  }
  const int64_t reach = (m.kernel_size - 1) * m.dilation + 1;
  const int64_t last_offset = (kMicroRows - 1) * S;
  // Register blocks in runs whose output rows (about S*F/G floats per input row) stay in L2
  // while every panel passes over them; a panel is reused by each run's register blocks.
  // channels_last runs add into the output; channels_first runs into a channels_last scratch
  // of the run's positions, added into the output, transposed, at the end of the run.
  const int64_t per_run = run_panels(d, m, io.channels_last, panels_m);
  float* scratch = work + layout.scratch;
  for (int64_t q0 = 0; q0 < panels_m; q0 += per_run) {
    const int64_t q1 = std::min(q0 + per_run, panels_m);
    float* target = io.y + o0;  // position `origin`'s first filter of the unit, ld `ld`
    int64_t ld = io.filters, origin = 0, end = 0;
    if (!io.channels_last) {
      origin = INT64_MAX;
      for (int64_t row = q0 * kMicroRows; row < std::min(q1 * kMicroRows, rows); ++row) {
        const int64_t from = std::max(base[row], lo[row]);
        const int64_t to = std::min(base[row] + reach, hi[row]);
        if (from < to) origin = std::min(origin, from), end = std::max(end, to);
      }
      if (origin == INT64_MAX) continue;  // the run writes nothing the unit owns
      std::fill(scratch, scratch + (end - origin) * width, 0.0f);
      target = scratch;
      ld = width;
    }
    for (int64_t blk = first_block; blk < end_block; ++blk) {
      const int64_t bw = d.block_width(blk);
      const float* block_panels = panels + panel_offset(d, group, blk, 0, 0);
      float* yb = target + (blk - first_block) * d.block();
      for (int64_t t = 0; t < m.kernel_size; ++t) {
        for (int64_t h = 0; h * kPanelWidth < bw; ++h) {
          const int64_t filters = std::min(kPanelWidth, bw - h * kPanelWidth);
          const float* panel = block_panels + (t * chunks + h) * Cg * kPanelWidth;
          const __mmask16 m0 = mask_of(filters), m1 = mask_of(filters - 16);
          const auto run = [&](auto linear, auto mr, const float* ap, const float* b, int64_t depth,
                               float* y0, float* const* out) {
            constexpr bool kLinear = decltype(linear)::value;
            constexpr int kMr = decltype(mr)::value;
            if (filters > 16) {
              register_block<2, kLinear, kMr>(ap, lda, b, depth, y0, S * ld, out, m0, m1);
            } else {
              register_block<1, kLinear, kMr>(ap, lda, b, depth, y0, S * ld, out, m0, m1);
            }
          };
          for (int64_t c0 = 0; c0 < Cg; c0 += kDepthSlice) {
            const int64_t depth = std::min(kDepthSlice, Cg - c0);
            const float* b = panel + c0 * kPanelWidth;
            for (int64_t p = q0; p < q1; ++p) {
              const float* ap = a + c0 * lda + p * kMicroRows;
              const int64_t first = p * kMicroRows, last = std::min(first + kMicroRows, rows) - 1;
              const int64_t j0 = base[first] + t * m.dilation;
              // The common case: 12 rows of one item whose targets, S apart, are all owned.
              if (last - first == kMicroRows - 1 && base[last] - base[first] == last_offset &&
                  lo[first] == lo[last] && hi[first] == hi[last] && j0 >= lo[first] &&
                  j0 + last_offset < hi[first]) {
                float* y0 = yb + (j0 - origin) * ld + h * kPanelWidth;
                run(std::true_type(), std::integral_constant<int, kRows>(), ap, b, depth, y0,
                    nullptr);
                continue;
              }
              float* out[kRows];
              int rows_hit = 0;  // one past the last row with a target
              for (int r = 0; r < kRows; ++r) {
                const int64_t row = first + r;
                const int64_t j = row <= last ? base[row] + t * m.dilation : -1;
                const bool hit = row <= last && j >= lo[row] && j < hi[row];
                out[r] = hit ? yb + (j - origin) * ld + h * kPanelWidth : nullptr;
                if (hit) rows_hit = r + 1;
              }
              if (rows_hit == 0) continue;
              if (rows_hit <= 4) {
                run(std::false_type(), std::integral_constant<int, 4>(), ap, b, depth, nullptr,
                    out);
              } else if (rows_hit <= 8) {
                run(std::false_type(), std::integral_constant<int, 8>(), ap, b, depth, nullptr,
                    out);
              } else {
                run(std::false_type(), std::integral_constant<int, kRows>(), ap, b, depth, nullptr,
                    out);
              }
            }
          }
        }
      }
    }
    for (int64_t pos = origin; !io.channels_last && pos < end;) {
      const int64_t item = pos / m.out_steps, j = pos % m.out_steps;
      const int64_t n = std::min(end - pos, m.out_steps - j);
      transpose_add(scratch + (pos - origin) * width, width, n, width,
                    io.y + (item * io.filters + o0) * m.out_steps + j, m.out_steps);
      pos += n;
    }
  }
}

}  // namespace convt::detail
