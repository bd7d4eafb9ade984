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
// (tap, channel) products per pass over the weights: a slice of a phase's panels (up to
// 512 x 32 floats, 64 KiB) streams from L2 across the tile's register blocks. A phase whose
// taps hold more products adds its later slices' sums into the output, one pass per slice.
constexpr int64_t kDepthSlice = 512;
// Most (tap, channel-range) segments in one slice (a phase of more taps takes more slices).
constexpr int kMaxSegments = 16;
// channels_first runs of register blocks write a scratch of at most this many bytes, stored
// into the output transposed at the end of the run.
constexpr int64_t kScratchRunBytes = int64_t{768} * 1024;
// A tile holds up to 512 KiB of input rows (at most 1020), and its buffer -- the
// rows, their look-back and the items' tails -- up to 896 KiB: a pass of one slice over it
// (512 channels of every row) stays in the core's L2. With the channels_first scratch and the
// runs, a thread's workspace stays within 2 MiB.
constexpr int64_t kFusedTileBytes = int64_t{512} * 1024;
constexpr int64_t kFusedBufferBytes = int64_t{896} * 1024;
constexpr int64_t kFusedMaxTileRows = 1020;

// One tap's part of a register block's sum: `depth` channels of the input from a_offset (its
// first channel of the block's first row, moved back by the tap's shift) times a panel slice.
// (No member initializers, here and in BlockRun: each phase's arrays of them would be zeroed,
// 4 KiB, a tenth of a call of one input step.)
struct Segment {
  int64_t a_offset;
  const float* b;
  int64_t depth;
};

// Register blocks of MR anchor rows that follow on: `count` blocks from input a and output
// y0, each next one's rows following in a, its outputs in y. A pass's linear blocks go to
// register_blocks as one list: a call per block, or per few, cost ts_autoencoder 5% of its
// time (about 100 cycles a call, a block of 12 rows being 200-400).
struct BlockRun {
  const float* a;
  float* y0;
  int64_t count;
};

// For each register block of MR anchor rows: acc[r] = (first ? bias[0 .. 32) : 0) + the sum
// over the segments of a (depth x MR: a[c][r] at a + a_offset + c*lda + r, or a[r][c] at
// a + a_offset + r*lda + c when kRowMajor) * b (depth x 32), then row r's target [0 .. 32) =
// acc[r] (first) or += acc[r], under the filter masks. The targets are y0 + r*step (kLinear),
// or out[r] where that is non-null (one block, y0 null). NV = 1 for chunks of <= 16 filters;
// MR = 4, 6, 8 or 10 for blocks of fewer rows (a range's last anchors).
template <int NV, bool kLinear, int MR, bool kRowMajor>
CONVT_TARGET_AVX512 void register_blocks(const BlockRun* list, int64_t length, int64_t lda,
                                         const Segment* segments, int count, bool first,
                                         const float* bias, int64_t step, float* const* out,
                                         __mmask16 m0, __mmask16 m1) noexcept {
  const bool biased = first && bias != nullptr;
  const __m512 init0 = biased ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 init1 = biased ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  for (int64_t q = 0; q < length; ++q) {
    const float* a = list[q].a;
    float* y0 = list[q].y0;
    // (y0 is null but for linear blocks: it only moves for them.)
    for (int64_t k = 0; k < list[q].count;
         ++k, a += kRowMajor ? MR * lda : MR, y0 += kLinear ? MR * step : 0) {
      __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        acc0[r] = init0;
        acc1[r] = init1;
      }
      for (int s = 0; s < count; ++s) {
        const float* ap = a + segments[s].a_offset;
        const float* b = segments[s].b;
        const int64_t depth = segments[s].depth;
#pragma GCC unroll 2
        for (int64_t c = 0; c < depth; ++c) {
          const __m512 b0 = _mm512_load_ps(b + c * kPanelWidth);
          const __m512 b1 = NV == 2 ? _mm512_load_ps(b + c * kPanelWidth + 16) : b0;
#pragma GCC unroll 12
          for (int r = 0; r < MR; ++r) {
            const __m512 av = _mm512_set1_ps(kRowMajor ? ap[r * lda + c] : ap[c * lda + r]);
            acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
            if constexpr (NV == 2) acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
          }
        }
      }
#pragma GCC unroll 12
      for (int r = 0; r < MR; ++r) {
        float* y = kLinear ? y0 + r * step : out[r];
        if (!kLinear && y == nullptr) continue;
        put_vector(y, acc0[r], !first, m0);
        if constexpr (NV == 2) put_vector(y + 16, acc1[r], !first, m1);
      }
    }
  }
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

// v[c] = column c of the 16 rows at row[0 .. 16) (a null row reads as zero), columns outside
// `columns` zero.
CONVT_TARGET_AVX512 inline __attribute__((always_inline)) void load_transposed(
    const float* const* row, __mmask16 columns, __m512* v) noexcept {
  for (int r = 0; r < 16; ++r) {
    v[r] = row[r] != nullptr ? _mm512_maskz_loadu_ps(columns, row[r]) : _mm512_setzero_ps();
  }
  transpose16(v);
}

// The same for the 16 x 16 block at src (ld ld): rows past `rows` read as zero.
CONVT_TARGET_AVX512 inline __attribute__((always_inline)) void load_transposed(
    const float* src, int64_t ld, int64_t rows, __mmask16 columns, __m512* v) noexcept {
  const float* row[16];
  for (int r = 0; r < 16; ++r) row[r] = r < rows ? src + r * ld : nullptr;
  load_transposed(row, columns, v);
}

}  // namespace

namespace {

// y[f][p] = s[p][f] for p < positions, f < filters (ld_s, ld_y): a run's channels_last scratch
// stored into a channels_first output.
CONVT_TARGET_AVX512 void transpose_store(const float* s, int64_t ld_s, int64_t positions,
                                         int64_t filters, float* y, int64_t ld_y) noexcept {
  for (int64_t f0 = 0; f0 < filters; f0 += 16) {
    const __mmask16 fm = mask_of(filters - f0);
    for (int64_t p0 = 0; p0 < positions; p0 += 16) {
      const __mmask16 pm = mask_of(positions - p0);
      __m512 v[16];
      load_transposed(s + p0 * ld_s + f0, ld_s, positions - p0, fm, v);
      for (int64_t f = f0; f < std::min(f0 + 16, filters); ++f) {
        put_vector(y + f * ld_y + p0, v[f - f0], false, pm);
      }
    }
  }
}
#pragma GCC diagnostic pop

// A run of a fused tile's buffer rows [begin, begin + count): input rows from x + offset (the
// group's first channel of the first row), or zeros where offset < 0. Row begin + r anchors
// the outputs first + r*S + phi (phi < S), those in [lo, hi) its tile writes (none: lo = hi).
struct Run {
  int64_t begin = 0, count = 0, offset = -1;
  int64_t first = 0, lo = 0, hi = 0;
  int64_t end() const noexcept { return begin + count; }
  // The output row b anchors at phase 0 (the stride S apart from the next row's).
  int64_t output(int64_t b, int64_t S) const noexcept { return first + (b - begin) * S; }
};
static_assert(sizeof(Run) == 6 * sizeof(int64_t), "the workspace holds six int64 per run");

// A piece of an item's anchors: buffer rows [begin, end), the item's step 0 at row step0.
struct AnchorRange {
  int64_t begin = 0, end = 0, step0 = 0;
};
static_assert(sizeof(AnchorRange) == 3 * sizeof(int64_t), "three int64 per piece's range");

// a[b][c] = x[r][c] (ld ldx) for rows r in [r0, r1) of `run` (b = run.begin + r) and
// c < depth, a's ld lda.
CONVT_TARGET_AVX512 void copy_run(const float* x, int64_t ldx, const Run& run, int64_t r0,
                                  int64_t r1, int64_t depth, float* a, int64_t lda) noexcept {
  if (ldx == lda && depth == lda) {  // the rows are contiguous in both
    std::copy_n(x + run.offset + r0 * ldx, (r1 - r0) * lda, a + (run.begin + r0) * lda);
    return;
  }
  const int64_t whole = depth / 16 * 16;
  const __mmask16 rest = mask_of(depth - whole);
  for (int64_t r = r0; r < r1; ++r) {
    const float* src = x + run.offset + r * ldx;
    float* dst = a + (run.begin + r) * lda;
    for (int64_t c = 0; c < whole; c += 16) _mm512_storeu_ps(dst + c, _mm512_loadu_ps(src + c));
    // (The row's padding takes the rest of the vector: lda is whole vectors.)
    if (rest != 0) _mm512_storeu_ps(dst + whole, _mm512_maskz_loadu_ps(rest, src + whole));
  }
}

// a[b][c] = x[the input row of buffer row b][c] (ld ldx) for the runs' rows b and c < depth,
// a's ld lda; zero in the zero runs. A copy, row by row: the register blocks read
// channels_last rows as they are. Of a run of input rows, only the first and last `margin`
// rows are copied (all of them when margin is 0): the register blocks read its middle rows
// from x itself.
void copy_rows(const float* x, int64_t ldx, const Run* runs, int count_runs, int64_t depth,
               float* a, int64_t lda, int64_t margin) noexcept {
  for (int k = 0; k < count_runs; ++k) {
    const Run& run = runs[k];
    if (run.offset < 0) {  // the run's rows are contiguous
      std::fill_n(a + run.begin * lda, run.count * lda, 0.0f);
    } else if (margin == 0 || run.count <= 2 * margin) {
      copy_run(x, ldx, run, 0, run.count, depth, a, lda);
    } else {
      copy_run(x, ldx, run, 0, margin, depth, a, lda);
      copy_run(x, ldx, run, run.count - margin, run.count, depth, a, lda);
    }
  }
}

// p[0 .. count) = 0 with masked stores: a channel's few zero rows, cheaper than a call to
// memset per channel and run.
CONVT_TARGET_AVX512 void zero_floats(float* p, int64_t count) noexcept {
  for (int64_t r = 0; r < count; r += 16) {
    put_vector(p + r, _mm512_setzero_ps(), false, mask_of(count - r));
  }
}

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

// The tile's anchor rows (see fused_tile): `back` rows before the tile's first row that its
// outputs read, in a lead of `lead` rows (zeros first); and `gap` zero rows after each item's
// last row -- the anchors of the item's tail (outputs past its last step's phases), and the
// next item's look-back. For channel-major buffers (`aligned`), lead is whole 16-row groups,
// and so is L + gap unless that would add more than L/4 zero rows, so that the transposes of
// a tile starting at an item mostly read 16 rows of one item, or none. (Sizes take the
// aligned rows: an upper bound.)
// An item's last anchor with an output (at phase 0) is last_anchor, past its last row when it
// has a tail.
struct PhaseRows {
  int64_t back = 0, lead = 0, gap = 0, last_anchor = 0;
};

// The first and last anchor steps with an output at phase phi: i*S - crop + phi in
// [0, L_out). (None when the first is past the last.)
std::pair<int64_t, int64_t> phase_anchors(const ColumnMap& m, int64_t phi) noexcept {
  const int64_t S = m.strides, lead = m.crop_begin - phi;  // lead > -S
  const int64_t last = m.out_steps - 1 + lead;             // > -S - 1: -1 ends before step 0
  return {lead <= 0 ? 0 : (lead + S - 1) / S, last < 0 ? -1 : last / S};
}

PhaseRows phase_rows(const ColumnMap& m, bool aligned = true) noexcept {
  PhaseRows p;
  p.back = (m.kernel_size - 1) * m.dilation / m.strides;
  p.lead = aligned ? round_up(p.back, 16) : p.back;
  p.last_anchor = phase_anchors(m, 0).second;
  p.gap = std::max(p.back, p.last_anchor - (m.steps - 1));
  // (Short items keep their gap: rounding it would take the buffer room of whole items.)
  const int64_t pad = (16 - (m.steps + p.gap) % 16) % 16;
  if (aligned && 4 * pad <= m.steps) p.gap += pad;
  return p;
}

// Item ends among `rows` consecutive input rows, at most.
int64_t item_ends(const ColumnMap& m, int64_t rows) noexcept { return rows / m.steps + 1; }

// Buffer rows of a tile of `rows` input rows: the look-back, the rows, a gap after each item
// that may end in the tile, and a register block's rows of zeros (a block of fewer anchors
// still reads 12 rows).
int64_t buffer_rows(const ColumnMap& m, int64_t rows) {
  const PhaseRows p = phase_rows(m);
  const int64_t gaps = checked_mul(p.gap, item_ends(m, rows), "fused tile rows");
  return checked_add(checked_add(p.lead + kMicroRows, rows, "fused tile rows"), gaps,
                     "fused tile rows");
}

// Pieces of items in a tile of `rows` rows, at most; and runs of its buffer (gather_to_channels):
// the look-back's two, each piece's and its gap's, and the padding.
int64_t item_pieces(const ColumnMap& m, int64_t rows) noexcept { return item_ends(m, rows) + 1; }
int64_t max_runs(const ColumnMap& m, int64_t rows) noexcept { return 2 * item_pieces(m, rows) + 3; }

// Buffer rows per channels_first run: its output scratch (S positions per anchor, one panel's
// 32 filters each) stays within kScratchRunBytes.
int64_t run_rows(const ColumnMap& m) noexcept {
  const int64_t anchor_bytes = m.strides * kPanelWidth * int64_t{sizeof(float)};
  return std::max<int64_t>(kScratchRunBytes / anchor_bytes / kMicroRows, 1) * kMicroRows;
}

// The workspace's parts: the tile's buffer, its runs and ranges of anchors, and
// (channels_first) a 64-byte aligned scratch for one run's output.
struct WorkLayout {
  int64_t rows = 0;                                   // buffer rows
  int64_t lda = 0, runs = 0, scratch = 0, total = 0;  // in floats: ld, offsets, size
};

WorkLayout work_layout(const KernelDims& d, const ColumnMap& m, bool channels_last, int64_t rows) {
  WorkLayout w;
  w.rows = buffer_rows(m, rows);
  // channels_first: channel-major, whole 16-row groups per channel, an odd number of cache
  // lines so that a register block's channels spread over all L1 sets instead of aliasing
  // 4 KiB apart. channels_last: row-major, whole cache lines per row, and not a multiple of
  // 1 KiB (12 rows would fall in a few sets); where that is the input's row, register blocks
  // can read the input in place (fused_tile).
  const int64_t Cg = d.channels_per_group();
  if (channels_last) {
    w.lda = round_up(Cg, 16);
    if (w.lda % 256 == 0) w.lda += 16;
  } else {
    w.lda = ((w.rows + 15) / 16 | 1) * 16;
  }
  w.runs = checked_mul(w.lda, channels_last ? w.rows : Cg, "input tile");
  // Six int64 per run, three per piece's range of anchors.
  const int64_t indices =
      checked_add(checked_mul(max_runs(m, rows), 6, "fused tile"),
                  checked_mul(item_pieces(m, rows), 3, "fused tile"), "fused tile");
  w.scratch =
      round_up(checked_add(w.runs, checked_mul(indices, 2, "buffer runs"), "fused workspace"), 16);
  w.total = w.scratch;
  if (!channels_last) {
    const int64_t anchors = std::min(run_rows(m), w.rows);
    w.total = checked_add(w.scratch,
                          checked_mul(checked_mul(anchors, m.strides, "output scratch"),
                                      kPanelWidth, "output scratch"),
                          "fused workspace");
  }
  // Whole cache lines, so that every thread's part of the workspace keeps the 64-byte
  // alignment (and the int64 runs their 8).
  w.total = round_up(w.total, 16);
  return w;
}

}  // namespace

int64_t fused_tile_rows(const ColumnMap& m, int64_t channels_per_group) {
  const int64_t row_bytes = channels_per_group * int64_t{sizeof(float)};
  const int64_t rows =
      std::clamp<int64_t>(kFusedTileBytes / row_bytes, 2 * kMicroRows, kFusedMaxTileRows);
  const PhaseRows p = phase_rows(m);
  // Rows r with r + gap * (r / L + 1) <= room (buffer_rows' bound).
  const int64_t room = kFusedBufferBytes / row_bytes - p.lead - kMicroRows;
  if (room - p.gap < 1) return 0;
  const int64_t items = (room - p.gap) / (m.steps + p.gap);  // whole items, each with its gap
  return std::min(rows, items > 0 ? items * m.steps : room - p.gap);
}

int64_t fused_workspace_floats(const KernelDims& d, const ColumnMap& m, bool channels_last,
                               int64_t tile_rows) {
  return work_layout(d, m, channels_last, tile_rows).total;
}

void fused_tile(const KernelDims& d, const ColumnMap& m, const float* panels, const FusedIo& io,
                int64_t group, int64_t first_block, int64_t end_block, int64_t r0, int64_t rows,
                float* work) noexcept {
  const int64_t Cg = d.channels_per_group(), S = m.strides, D = m.dilation, K = m.kernel_size;
  const int64_t L = m.steps, L_out = m.out_steps, chunks = panel_chunks(d);
  const PhaseRows pr = phase_rows(m, !io.channels_last);
  const WorkLayout layout = work_layout(d, m, io.channels_last, rows);
  const int64_t lda = layout.lda;
  const int64_t o0 = group * d.filters_per_group() + first_block * d.block();  // first filter
  float* a = work;  // the buffer: a[c'][buffer row], or a[buffer row][c'] for channels_last
  auto* runs = reinterpret_cast<Run*>(work + layout.runs);
  // Each piece's anchor rows [begin, end) and the buffer row of its item's step 0.
  auto* ranges = reinterpret_cast<AnchorRange*>(runs + max_runs(m, rows));

  // The buffer: `lead` rows before the tile's first (ending in the item's `back` earlier rows,
  // or zeros), then the tile's rows item by item, each item that ends in the tile followed by
  // `gap` zero rows.
  // Buffer row b holds input step i of item n (i >= L in a gap: zeros) and anchors the S
  // outputs n*L_out + i*S - crop + phi, phi < S: output j's taps t are those with
  // t*D == (j + crop) mod S, each reading the input row i - floor(t*D / S), `shift` rows back.
  // Every output is thus one anchor's, and a tile writes exactly the outputs from its first
  // row's first (tile_start) to the next tile's.
  // channels_last rows whose stride is the buffer's: a register block whose rows and look-back
  // lie in one run of input rows reads them in place; the buffer holds the rest (copy_rows).
  const bool in_place = io.channels_last && lda == io.in_channels;
  int64_t n = 0;  // buffer rows laid out
  int count_runs = 0;
  int64_t count_ranges = 0;
  // (Locals, not m's fields: the stores below could alias them.)
  const int64_t crop = m.crop_begin, wb = m.window_begin, we = m.window_end, C = io.in_channels;
  // `count` buffer rows for steps [step, step + count) of `item`: the input's rows (zeros
  // where !data), whose outputs are written where `anchors`.
  const auto put = [&](int64_t item, int64_t step, int64_t count, bool data, bool anchors) {
    if (count <= 0) return;
    const int64_t offset = !data              ? -1
                           : io.channels_last ? (item * L + step) * C + group * Cg
                                              : (item * C + group * Cg) * L + step;
    Run& run = runs[count_runs++];
    run = {n, count, offset, 0, 0, 0};
    if (anchors) {
      run.first = item * L_out + step * S - crop;
      run.lo = std::max(item * L_out, wb);
      run.hi = std::max(run.lo, std::min(item * L_out + L_out, we));
    }
    n += count;
  };
  {
    int64_t item = r0 / L, step = r0 % L;
    const int64_t lead = std::min(pr.back, step);
    put(item, 0, pr.lead - lead, false, false);
    put(item, step - lead, lead, true, false);
    for (int64_t row = 0; row < rows;) {
      const int64_t count = std::min(rows - row, L - step);
      const int64_t at = n - step;  // buffer row of the item's step 0
      put(item, step, count, true, true);
      const bool ends = step + count == L;
      if (ends) put(item, L, pr.gap, false, true);  // zeros, anchoring the item's tail
      // (Each phase cuts the piece to the anchors it writes.)
      ranges[count_ranges++] = {at + step, at + (ends ? L + pr.gap : step + count), at};
      row += count;
      step += count;
      if (ends) step = 0, ++item;
    }
    put(item, 0, kMicroRows, false, false);
  }
  if (io.channels_last) {
    copy_rows(io.x, C, runs, count_runs, Cg, a, lda, in_place ? pr.back + kMicroRows : 0);
  } else {
    for (int64_t c = 0; c < Cg; ++c) {
      for (int k = 0; k < count_runs; ++k) {
        const Run& run = runs[k];
        if (run.offset < 0) {
          zero_floats(a + c * lda + run.begin, run.count);
        } else {
          std::copy_n(io.x + run.offset + c * L, run.count, a + c * lda + run.begin);
        }
      }
    }
  }
  // Buffer (row, channel) (b, c) is a[b * row_step + c * channel_step].
  const int64_t row_step = io.channels_last ? lda : 1, channel_step = io.channels_last ? 1 : lda;
  // Register blocks: 12 anchors of one range at a time (fewer at its end), for each panel of
  // 32 filters. channels_last adds into the output directly; channels_first runs of the
  // buffer's rows write a channels_last scratch of their outputs for the panel's filters,
  // stored into the output transposed. Either way each panel's weights pass once per tile
  // (channels_first: per run, and a run usually spans the tile).
  const int64_t span = io.channels_last ? n : run_rows(m);
  float* scratch = work + layout.scratch;
  for (int64_t blk = first_block; blk < end_block; ++blk) {
    const int64_t bw = d.block_width(blk);
    const float* block_panels = panels + panel_offset(d, group, blk, 0, 0);
    for (int64_t h = 0; h * kPanelWidth < bw; ++h) {
      const int64_t f0 = (blk - first_block) * d.block() + h * kPanelWidth;  // unit's filter
      const int64_t filters = std::min(kPanelWidth, bw - h * kPanelWidth);
      const __mmask16 m0 = mask_of(filters), m1 = mask_of(filters - 16);
      const float* bias = io.bias ? io.bias + o0 + f0 : nullptr;
      for (int64_t u0 = 0; u0 < n; u0 += span) {
        const int64_t u1 = std::min(u0 + span, n);
        float* yb = io.y + o0 + f0;  // position `origin`'s first filter of the panel, ld `ld`
        int64_t ld = io.filters, origin = 0, end = 0;
        if (!io.channels_last) {
          origin = INT64_MAX;
          for (int k = 0; k < count_runs; ++k) {  // rows [b0, b1) of the run anchor [from, to)
            const Run& run = runs[k];
            const int64_t b0 = std::max(u0, run.begin), b1 = std::min(u1, run.end());
            if (b0 >= b1) continue;
            const int64_t from = std::max(run.output(b0, S), run.lo);
            const int64_t to = std::min(run.output(b1, S), run.hi);
            if (from < to) origin = std::min(origin, from), end = std::max(end, to);
          }
          if (origin == INT64_MAX) continue;  // the run writes nothing the unit owns
          yb = scratch;
          ld = kPanelWidth;
        }
        for (int64_t phi = 0; phi < S; ++phi) {
          const auto anchors = phase_anchors(m, phi);
          Segment segments[kMaxSegments];
          int count = 0;
          int64_t depth = 0, back = 0;  // the segments' depth, and rows back that they read
          bool first = true;
          // Register blocks of MR anchors: a list of linear ones, or one at ap writing out[].
          const auto run = [&](auto linear, auto mr, const BlockRun* list, int64_t length,
                               float* const* out) {
            constexpr bool kLinear = decltype(linear)::value;
            constexpr int kMr = decltype(mr)::value;
            const auto call = [&](auto nv, auto row_major) {
              register_blocks<decltype(nv)::value, kLinear, kMr, decltype(row_major)::value>(
                  list, length, lda, segments, count, first, bias, S * ld, out, m0, m1);
            };
            const auto in_layout = [&](auto nv) {
              if (io.channels_last) {
                call(nv, std::true_type());
              } else {
                call(nv, std::false_type());
              }
            };
            if (filters > 16) {
              in_layout(std::integral_constant<int, 2>());
            } else {
              in_layout(std::integral_constant<int, 1>());
            }
          };
          // Linear blocks wait in a list per size (MR = 4 + 2i in list i), run in one call per
          // list: each output has one block per pass, so their order does not matter.
          constexpr int kSizes = (kRows - 4) / 2 + 1, kListLength = 32;
          BlockRun lists[kSizes][kListLength];
          int64_t listed[kSizes] = {};
          const auto flush = [&](int i) {
            if (listed[i] == 0) return;
            with_count_at_least<4, 6, 8, 10, kRows>(4 + 2 * i, [&](auto mr) {
              run(std::true_type(), mr, lists[i], listed[i], nullptr);
            });
            listed[i] = 0;
          };
          // The run holding buffer row b: blocks ask in increasing order within a pass.
          int at_run = 0;
          const auto run_of = [&](int64_t b) -> const Run& {
            while (runs[at_run].end() <= b) ++at_run;
            return runs[at_run];
          };
          // `chain` linear blocks of `mr` anchors that follow on, from input ap and output y0.
          const auto add_linear = [&](const float* ap, float* y0, int64_t mr, int64_t chain) {
            const int i = static_cast<int>(mr - 4) / 2;
            BlockRun* last = listed[i] > 0 ? &lists[i][listed[i] - 1] : nullptr;
            if (last != nullptr && ap == last->a + last->count * mr * row_step &&
                y0 == last->y0 + last->count * mr * S * ld) {
              last->count += chain;  // they follow on
              return;
            }
            if (listed[i] == kListLength) flush(i);
            lists[i][listed[i]++] = {ap, y0, chain};
          };
          // Register blocks from buffer row b0 of a range ending at `to`: the linear blocks of
          // 12 anchors that follow on from b0 in its run, reading one source; or one block of
          // up to 12 anchors. Returns the anchors they take.
          const auto blocks_at = [&](int64_t b0, int64_t to) -> int64_t {
            const Run& first_run = run_of(b0);
            const int64_t rows_in = std::min<int64_t>(kMicroRows, to - b0);
            const int64_t j0 = first_run.output(b0, S) + phi;
            // Blocks from this row on, that end in the run, read x in place.
            const int64_t inside_from =
                in_place && first_run.offset >= 0 ? first_run.begin + back : INT64_MAX;
            const bool inside = b0 >= inside_from && b0 + kMicroRows <= first_run.end();
            const float* ap =
                inside ? io.x + first_run.offset + (b0 - first_run.begin) * lda : a + b0 * row_step;
            // Rows from b0 that are linear: in the run, up to `to`, their outputs (S apart) owned.
            const int64_t owned =
                j0 < first_run.lo || j0 >= first_run.hi ? 0 : (first_run.hi - 1 - j0) / S + 1;
            const int64_t linear = std::min({first_run.end(), to, b0 + owned}) - b0;
            // The common case: an even number of linear anchors from 4; for blocks of 12, the
            // chain of them that follow on reading one source.
            if (rows_in % 2 == 0 && rows_in >= 4 && rows_in <= linear) {
              int64_t chain = 1;
              if (rows_in == kMicroRows) {
                chain = linear / kMicroRows;
                if (!inside && inside_from != INT64_MAX) {
                  chain = std::min(chain, (inside_from - b0 + kMicroRows - 1) / kMicroRows);
                }
              }
              add_linear(ap, yb + (j0 - origin) * ld, rows_in, chain);
              return chain * rows_in;
            }
            float* out[kRows];
            int rows_hit = 0;  // one past the last row with a target
            for (int r = 0, k = at_run; r < rows_in; ++r) {
              while (runs[k].end() <= b0 + r) ++k;
              const int64_t j = runs[k].output(b0 + r, S) + phi;
              const bool hit = j >= runs[k].lo && j < runs[k].hi;
              out[r] = hit ? yb + (j - origin) * ld : nullptr;
              if (hit) rows_hit = r + 1;
            }
            for (int r = static_cast<int>(rows_in); r < kRows; ++r) out[r] = nullptr;
            if (rows_hit == 0) return rows_in;
            // Rows to the next even count from 4 (an item's last anchors, say 17 = 12 + 6).
            const BlockRun one{ap, nullptr, 1};
            with_count_at_least<4, 6, 8, 10, kRows>(
                rows_hit, [&](auto mr) { run(std::false_type(), mr, &one, 1, out); });
            return rows_in;
          };
          // One pass over the run's register blocks with the slice's segments.
          const auto pass = [&] {
            at_run = 0;
            // The phase's anchors of each piece, those next to each other as one range:
            // blocks may straddle items.
            int64_t from = 0, to = 0;
            for (int64_t k = 0; k <= count_ranges; ++k) {
              int64_t b = 0, e = 0;
              if (k < count_ranges) {
                const AnchorRange& r = ranges[k];
                b = std::max({r.begin, r.step0 + anchors.first, u0});
                e = std::min({r.end, r.step0 + anchors.second + 1, u1});
                if (b >= e) continue;
                if (b == to) {
                  to = e;
                  continue;
                }
              }
              for (int64_t b0 = from; b0 < to;) b0 += blocks_at(b0, to);
              from = b, to = e;
            }
            for (int i = 0; i < kSizes; ++i) flush(i);
            first = false;
            count = 0;
            depth = 0;
            back = 0;
          };
          // The phase's (tap, channel range) segments, in order, cut into slices.
          for (int64_t t = 0; t < K; ++t) {
            if (t * D % S != phi) continue;
            const float* panel = block_panels + (t * chunks + h) * Cg * kPanelWidth;
            for (int64_t c0 = 0; c0 < Cg; c0 += kDepthSlice) {
              const int64_t part = std::min(kDepthSlice, Cg - c0);
              if (count == kMaxSegments || (count > 0 && depth + part > kDepthSlice)) pass();
              segments[count++] = {c0 * channel_step - t * D / S * row_step,
                                   panel + c0 * kPanelWidth, part};
              depth += part;
              back = std::max(back, t * D / S);
            }
          }
          if (count > 0 || first) pass();  // (a phase no tap reaches: the bias alone)
        }
        for (int64_t pos = origin; !io.channels_last && pos < end;) {
          const int64_t item = pos / L_out, j = pos % L_out;
          const int64_t count = std::min(end - pos, L_out - j);
          transpose_store(scratch + (pos - origin) * kPanelWidth, kPanelWidth, count, filters,
                          io.y + (item * io.filters + o0 + f0) * L_out + j, L_out);
          pos += count;
        }
      }
    }
  }
}

}  // namespace convt::detail
