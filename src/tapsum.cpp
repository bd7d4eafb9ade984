#include "tapsum.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "checked.hpp"
#include "direct.hpp"
#include "fused.hpp"
#include "owned.hpp"
#include "parallel.hpp"
#include "signal.hpp"
#include "simd.hpp"

namespace convt::detail {
namespace {

constexpr int64_t kOutputBlock = 1024;  // output steps per block: its tap sums stay in L1/L2
constexpr int kTapGroup = 8;            // taps summed per pass over the channels
constexpr int kRowGroup = 16;  // channels_last rows in flight: one lane each of a tap's vector

// Passes of kTapGroup taps over the channels, and channels_last weight vectors per pass.
int64_t tap_passes(int64_t K) { return (K + kTapGroup - 1) / kTapGroup; }
int64_t pair_vectors_per_pass(int64_t depth) { return (depth + 1) / 2; }
static_assert(2 * kTapGroup == 16, "a channels_last vector holds a pass's taps for two channels");

// Input steps one block's outputs can draw on, before clamping to the signal: at most
// (block - 1 + S - 1) / S + 1 + (K - 1) * D / S + 1.
int64_t block_rows(const SignalPlan& p) {
  return (kOutputBlock + p.strides - 1) / p.strides + 2 +
         checked_mul(p.kernel_size - 1, p.dilation, "kernel reach") / p.strides;
}

// z[t - t0][i - i0] = sum over c' < depth of x[c' * ldx + i] * w[c' * K + t] for taps
// [t0, t0 + NT) and steps [i0, i1).
template <int NT>
CONVT_TARGET_AVX512 void tap_sums(const float* x, int64_t ldx, int64_t depth, const float* w,
                                  int64_t K, int64_t t0, int64_t i0, int64_t i1, float* z,
                                  int64_t ldz) noexcept {
  for (int64_t i = i0; i < i1; i += 32) {
    const int64_t n = std::min<int64_t>(32, i1 - i);
    const __mmask16 m0 = mask_of(n), m1 = mask_of(n - 16);
    __m512 acc0[NT], acc1[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
    for (int64_t c = 0; c < depth; ++c) {
      const __m512 x0 = _mm512_maskz_loadu_ps(m0, x + c * ldx + i);
      const __m512 x1 = _mm512_maskz_loadu_ps(m1, x + c * ldx + i + 16);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m512 wt = _mm512_set1_ps(w[c * K + t0 + t]);
        acc0[t] = _mm512_fmadd_ps(x0, wt, acc0[t]);
        acc1[t] = _mm512_fmadd_ps(x1, wt, acc1[t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      put_vector(z + t * ldz + (i - i0), acc0[t], false, m0);
      put_vector(z + t * ldz + (i - i0) + 16, acc1[t], false, m1);
    }
  }
}

// Two adjacent floats x[0], x[1] in every pair of lanes (2k, 2k + 1): one 64-bit broadcast load.
CONVT_TARGET_AVX512 inline __m512 broadcast_pair(const float* x) noexcept {
  double d;
  std::memcpy(&d, x, sizeof d);
  return _mm512_castpd_ps(_mm512_set1_pd(d));
}

// For R channels_last rows x + r * ldx: acc[r] lane 2k + p = the sum over channel pairs q of
// x[r * ldx + 2q + p] * wp[16q + 2k + p], in ascending q (a last odd channel: its even lanes
// only, without reading past the row). wp holds one vector per pair of the depth channels, lane
// 2k + p the weight of channel 2q + p at the pass's tap k; the sums of each row's 8 taps split
// by channel parity. Every row's lanes take the same operations, whatever R.
template <int R>
CONVT_TARGET_AVX512 void pair_sums(const float* x, int64_t ldx, int64_t depth, const float* wp,
                                   __m512* acc) noexcept {
  __m512 a[R];  // (in registers: the caller's array may not be)
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) a[r] = _mm512_setzero_ps();
  const int64_t pairs = depth / 2;
  for (int64_t q = 0; q < pairs; ++q) {
    const __m512 w = _mm512_load_ps(wp + 16 * q);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      a[r] = _mm512_fmadd_ps(broadcast_pair(x + r * ldx + 2 * q), w, a[r]);
    }
  }
  if (depth % 2 != 0) {
    const __m512 w = _mm512_load_ps(wp + 16 * pairs);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      a[r] = _mm512_mask3_fmadd_ps(_mm512_set1_ps(x[r * ldx + depth - 1]), w, a[r], 0x5555);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc[r] = a[r];
}

// Lanes 0-7: a's lane pairs (2k, 2k + 1) added, row a's 8 tap sums; lanes 8-15: b's.
CONVT_TARGET_AVX512 inline __m512 add_pairs(__m512 a, __m512 b) noexcept {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  return _mm512_add_ps(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b));
}

// Permute indices that swap lane bit `bit` with the bit telling a pair of vectors (a, b)
// apart: lane l of the first output is a[l] where l's bit is clear, else b[l - bit]; of the
// second, a[l + bit], else b[l].
struct SwapLanes {
  alignas(64) int32_t first[16] = {}, second[16] = {};
};
constexpr SwapLanes swap_lanes(int32_t bit) {
  SwapLanes s;
  for (int32_t l = 0; l < 16; ++l) {
    s.first[l] = (l & bit) != 0 ? 16 + l - bit : l;
    s.second[l] = (l & bit) != 0 ? 16 + l : l + bit;
  }
  return s;
}
constexpr SwapLanes kSwapLanes[3] = {swap_lanes(1), swap_lanes(2), swap_lanes(4)};

// z[k * ldz + l] = row l's sum for tap k < nt, from kRowGroup (16) rows' pair sums.
CONVT_TARGET_AVX512 void store_row_group(const __m512* acc, int64_t nt, float* z,
                                         int64_t ldz) noexcept {
  // v[m] lane 8h + k: row 8h + m, tap k. Three rounds swap vector bit j with lane bit j, so
  // that v[k] lane 8h + m holds row 8h + m, tap k: a 16 x 8 transpose in registers.
  __m512 v[8];
#pragma GCC unroll 8
  for (int m = 0; m < 8; ++m) v[m] = add_pairs(acc[m], acc[m + 8]);
#pragma GCC unroll 3
  for (int j = 0; j < 3; ++j) {
    const __m512i first = _mm512_load_si512(kSwapLanes[j].first);
    const __m512i second = _mm512_load_si512(kSwapLanes[j].second);
#pragma GCC unroll 8
    for (int m = 0; m < 8; ++m) {
      if ((m & (1 << j)) != 0) continue;
      const __m512 a = v[m], b = v[m | (1 << j)];
      v[m] = _mm512_permutex2var_ps(a, first, b);
      v[m | (1 << j)] = _mm512_permutex2var_ps(a, second, b);
    }
  }
  for (int64_t k = 0; k < nt; ++k) _mm512_storeu_ps(z + k * ldz, v[k]);
}

// Rows [i, i1) (fewer than 2R) of row_tap_sums, z at row i: R of them if there are, then the
// rest by halves; each row's sums stored one by one.
template <int R>
CONVT_TARGET_AVX512 void tail_tap_sums(const float* x, int64_t ldx, int64_t depth, const float* wp,
                                       int64_t nt, int64_t i, int64_t i1, float* z,
                                       int64_t ldz) noexcept {
  if (i1 - i >= R) {
    __m512 acc[R];
    pair_sums<R>(x + i * ldx, ldx, depth, wp, acc);
    for (int r = 0; r < R; r += 2) {
      alignas(64) float sums[16];  // rows i + r, i + r + 1 (or i + r again)
      _mm512_store_ps(sums, add_pairs(acc[r], acc[std::min(r + 1, R - 1)]));
      for (int h = 0; h < std::min(2, R - r); ++h) {
        for (int64_t k = 0; k < nt; ++k) z[k * ldz + r + h] = sums[8 * h + k];
      }
    }
    i += R;
    z += R;
  }
  if constexpr (R > 1) tail_tap_sums<R / 2>(x, ldx, depth, wp, nt, i, i1, z, ldz);
}

// z[t][i - i0] = sum over c' < depth of x[i * ldx + c'] * W[c'][t0 + t] for the pass's taps
// t < nt and steps [i0, i1), from channels_last rows directly: lanes are (tap, channel parity)
// pairs, each row's channels two at a time (pair_sums, wp as there), 16 rows in flight, then
// the parities added and the 16 rows transposed into each tap's 16 steps. Every row's sums take
// the same operations wherever its block starts.
CONVT_TARGET_AVX512 void row_tap_sums(const float* x, int64_t ldx, int64_t depth, const float* wp,
                                      int64_t nt, int64_t i0, int64_t i1, float* z,
                                      int64_t ldz) noexcept {
  int64_t i = i0;
  for (; i + kRowGroup <= i1; i += kRowGroup) {
    __m512 acc[kRowGroup];
    pair_sums<kRowGroup>(x + i * ldx, ldx, depth, wp, acc);
    store_row_group(acc, nt, z + (i - i0), ldz);
  }
  tail_tap_sums<kRowGroup / 2>(x, ldx, depth, wp, nt, i, i1, z + (i - i0), ldz);
}

// Lanes l < 16 whose step first + l lies in [i0, i1).
CONVT_TARGET_AVX512 inline __mmask16 steps_mask(int64_t first, int64_t i0, int64_t i1) noexcept {
  const int64_t lo = std::clamp<int64_t>(i0 - first, 0, 16);
  const int64_t hi = std::clamp<int64_t>(i1 - first, 0, 16);
  return hi <= lo ? 0 : static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// row[at + l] in the lanes l of `in` (at + l >= 0 there), zero elsewhere.
CONVT_TARGET_AVX512 inline __m512 load_lanes(const float* row, int64_t at, __mmask16 in) noexcept {
  alignas(64) float lanes[16] = {};
  for (int l = 0; l < 16; ++l) {
    if (in & (1u << l)) lanes[l] = row[at + l];
  }
  return _mm512_load_ps(lanes);
}

// v[0 .. S) (S = 1, 2, 4, 8 or 16) hold S rows of 16; afterwards v[k] lane l holds what row
// (16k + l) % S held at lane (16k + l) / S: the rows interleaved, element by element. log2(S)
// rounds of zips of row r with row r + S/2.
CONVT_TARGET_AVX512 inline void interleave(__m512* v, int64_t S) noexcept {
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  for (int64_t round = 1; round < S; round *= 2) {
    __m512 t[16];
    for (int64_t r = 0; r < S / 2; ++r) {
      t[2 * r] = _mm512_permutex2var_ps(v[r], lo, v[r + S / 2]);
      t[2 * r + 1] = _mm512_permutex2var_ps(v[r], hi, v[r + S / 2]);
    }
    for (int64_t r = 0; r < S; ++r) v[r] = t[r];
  }
}

// Per slot and output phase (lane k of a vector is phase k % S): the phase's tap in that slot
// (or -1), and its step relative to the vector's first, -q; and the least and greatest such
// step over the taps.
struct PhaseTaps {
  int slots = 0;
  int64_t tap[SignalPlan::kMaxSlots][16] = {}, shift[SignalPlan::kMaxSlots][16] = {};
  int64_t lowest = 0, highest = 0;
};

// One filter's outputs j in [max(ob, j0), oe) (y[j * y_step]) from the block's tap sums z (steps
// [i0, i1)), for outputs from ob (where (ob + P) % S == 0): S vectors at a time, 16 steps from
// m, each phase's sums one contiguous vector per slot (no gather), interleaved into the
// outputs. S is a constant so that the vectors stay in registers; away from the block's edges
// every lane is in, and no mask is worked out.
template <int S>
CONVT_TARGET_AVX512 void block_outputs(const PhaseTaps& pt, const float* z, int64_t ldz, int64_t i0,
                                       int64_t i1, int64_t P, float bias, int64_t ob, int64_t oe,
                                       int64_t j0, float* y, int64_t y_step) noexcept {
  for (int64_t o0 = ob; o0 < oe; o0 += 16 * S) {
    const int64_t m = (o0 + P) / S;  // the first vector's first step
    const bool inside = m + pt.lowest >= i0 && m + pt.highest + 16 <= i1;
    __m512 v[S];
#pragma GCC unroll 16
    for (int phase = 0; phase < S; ++phase) v[phase] = _mm512_set1_ps(bias);
    for (int u = 0; u < pt.slots; ++u) {
#pragma GCC unroll 16
      for (int phase = 0; phase < S; ++phase) {
        if (pt.tap[u][phase] < 0) continue;
        const int64_t first_step = m + pt.shift[u][phase];  // lane l: first_step + l
        const __mmask16 in = inside ? __mmask16{0xFFFF} : steps_mask(first_step, i0, i1);
        if (in == 0) continue;
        const float* row = z + pt.tap[u][phase] * ldz;
        // (A block edge's vector may start before the row: its lanes are loaded one by one.)
        const __m512 sums = first_step >= i0 ? _mm512_maskz_loadu_ps(in, row + first_step - i0)
                                             : load_lanes(row, first_step - i0, in);
        v[phase] = _mm512_mask_add_ps(v[phase], in, v[phase], sums);
      }
    }
    interleave(v, S);
#pragma GCC unroll 16
    for (int k = 0; k < S; ++k) {
      const int64_t o = o0 + 16 * k;
      if (y_step == 1 && o >= j0 && o + 16 <= oe) {
        _mm512_storeu_ps(y + o, v[k]);
      } else {  // strided, or a partial vector: only [max(o, j0), min(o + 16, oe))
        alignas(64) float out[16];
        _mm512_store_ps(out, v[k]);
        for (int64_t j = std::max(o, j0); j < std::min(o + 16, oe); ++j) y[j * y_step] = out[j - o];
      }
    }
  }
}

// Where a unit reads and writes: the group's channels of one item (channels_first: x[c][i],
// ld steps; channels_last: x[i][c], ld C), and its filters' outputs y[f * y_filter + j * y_step].
struct TapsumIo {
  const float* x = nullptr;
  bool channels_last = false;
  int64_t ldx = 0;              // steps (channels_first) or C (channels_last)
  int64_t depth = 0;            // channels in the group
  int64_t filters = 0;          // in the group
  const float* w = nullptr;     // the group's weights, as pack_tapsum_weights lays them out
  const float* bias = nullptr;  // the group's biases, or nullptr
  float* y = nullptr;
  int64_t y_filter = 0, y_step = 1;
};

// One unit: outputs [j0, j1) of every filter of the group, block by block of outputs: per
// filter, the tap sums of the block's input steps, then its outputs.
CONVT_TARGET_AVX512 void tapsum_unit(const SignalPlan& p, const TapsumIo& io, int64_t j0,
                                     int64_t j1, float* z, int64_t ldz) noexcept {
  const int64_t S = p.strides, P = p.crop_begin, K = p.kernel_size, L = p.steps;
  const int64_t passes = tap_passes(K), pair_vectors = pair_vectors_per_pass(io.depth);
  PhaseTaps pt;
  pt.slots = p.slots;
  pt.lowest = 16;  // (then lowered and raised by every tap)
  pt.highest = -16;
  for (int u = 0; u < p.slots; ++u) {
    for (int64_t phase = 0; phase < S; ++phase) {
      pt.tap[u][phase] = p.tap[static_cast<size_t>(u)][static_cast<size_t>(phase)];
      pt.shift[u][phase] = p.back[static_cast<size_t>(u)][static_cast<size_t>(phase)];
      if (pt.tap[u][phase] < 0) continue;
      pt.lowest = std::min(pt.lowest, pt.shift[u][phase]);
      pt.highest = std::max(pt.highest, pt.shift[u][phase]);
    }
  }
  // Vectors start where (o0 + P) % S == 0: lane k is then phase k % S.
  const int64_t first = j0 - (j0 + P) % S;
  for (int64_t ob = first; ob < j1; ob += kOutputBlock) {
    const int64_t oe = std::min(ob + kOutputBlock, j1);
    // Steps this block reads: from (ob + P) / S - q_max to (oe - 1 + P) / S, in the signal.
    const int64_t i0 = std::clamp<int64_t>((ob + P) / S - p.q_max, 0, L);
    const int64_t i1 = std::clamp<int64_t>((oe - 1 + P) / S + 1, 0, L);
    for (int64_t f = 0; f < io.filters; ++f) {
      for (int64_t t0 = 0; t0 < K; t0 += kTapGroup) {
        const int64_t nt = std::min<int64_t>(kTapGroup, K - t0);
        float* zt = z + t0 * ldz;
        if (io.channels_last) {
          const float* wp = io.w + (f * passes + t0 / kTapGroup) * pair_vectors * 16;
          row_tap_sums(io.x, io.ldx, io.depth, wp, nt, i0, i1, zt, ldz);
          continue;
        }
        const float* w = io.w + f * io.depth * K;
        const auto sums = [&](auto taps) {
          tap_sums<decltype(taps)::value>(io.x + i0, io.ldx, io.depth, w, K, t0, 0, i1 - i0, zt,
                                          ldz);
        };
        // Exactly nt taps' registers.
        with_count_at_least<1, 2, 3, 4, 5, 6, 7, kTapGroup>(nt, sums);
      }
      const float bias = io.bias == nullptr ? 0.0f : io.bias[f];
      const auto outputs = [&](auto stride) {
        block_outputs<decltype(stride)::value>(pt, z, ldz, i0, i1, P, bias, ob, oe, j0,
                                               io.y + f * io.y_filter, io.y_step);
      };
      with_count_at_least<1, 2, 4, 8, 16>(S, outputs);  // exactly S: it divides 16
    }
  }
}

// Floats of one thread's workspace: the tap sums, then (64-byte aligned) the group's weights.
struct TapsumWork {
  int64_t ldz = 0, weights = 0, total = 0;  // offsets and size, in floats
};

TapsumWork tapsum_work(const SignalPlan& p, const KernelDims& d, bool channels_last) {
  TapsumWork w;
  w.ldz = block_rows(p);
  w.weights = round_up(checked_mul(d.kernel_size, w.ldz, "tap sums"), 16);
  const int64_t per_filter =
      channels_last
          ? checked_mul(checked_mul(tap_passes(d.kernel_size),
                                    pair_vectors_per_pass(d.channels_per_group()), "group weights"),
                        16, "group weights")
          : checked_mul(d.channels_per_group(), d.kernel_size, "group weights");
  w.total = checked_add(w.weights, checked_mul(d.filters_per_group(), per_filter, "group weights"),
                        "tap-sum workspace");
  w.total = round_up(w.total, 16);
  return w;
}

// The weights of `group` for tapsum_unit: channels_first, w[f][c'][t]; channels_last, per
// filter, pass of kTapGroup taps from t0 and pair of channels (2q, 2q + 1), one vector whose
// lane 2k + p is W[2q + p][t0 + k] (zero past the taps or the channels), as pair_sums reads it.
void pack_tapsum_weights(const LayerView<float>& v, int64_t group, float* w) {
  const KernelDims& d = v.dims;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group(), K = d.kernel_size;
  const auto weight = [&](int64_t o, int64_t c, int64_t t) {
    return v.packed[group * d.group_elements() + c * d.row_length() + d.packed_column(t, o)];
  };
  if (!v.channels_last) {
    for (int64_t o = 0; o < Fg; ++o) {
      for (int64_t c = 0; c < Cg; ++c) {
        for (int64_t t = 0; t < K; ++t) w[(o * Cg + c) * K + t] = weight(o, c, t);
      }
    }
    return;
  }
  const int64_t passes = tap_passes(K), pair_vectors = pair_vectors_per_pass(Cg);
  for (int64_t o = 0; o < Fg; ++o) {
    for (int64_t pass = 0; pass < passes; ++pass) {
      for (int64_t q = 0; q < pair_vectors; ++q) {
        for (int64_t lane = 0; lane < 16; ++lane) {
          const int64_t t = pass * kTapGroup + lane / 2, c = 2 * q + lane % 2;
          *w++ = t < K && c < Cg ? weight(o, c, t) : 0.0f;
        }
      }
    }
  }
}

}  // namespace

bool tapsum_applies(const LayerView<float>& v, const OutputPlan& plan, int64_t steps) {
  SignalPlan p;
  return !v.portable_only && !use_direct_path(v.dims) &&
         v.dims.filters_per_group() < kFusedMinFilters && steps < (int64_t{1} << 30) &&
         make_signal_plan(v.geometry, plan.crop_begin, steps, &p);
}

int64_t tapsum_workspace_bytes(const LayerView<float>& v, const OutputPlan& plan, int64_t batch,
                               int64_t steps, int64_t threads) {
  SignalPlan p;
  make_signal_plan(v.geometry, plan.crop_begin, steps, &p);
  const int64_t used = std::min<int64_t>(
      threads,
      static_cast<int64_t>(
          output_units(batch, v.dims.groups, plan.out_steps, threads, kOutputBlock).size()));
  const int64_t per_thread = tapsum_work(p, v.dims, v.channels_last).total;
  return checked_mul(checked_mul(per_thread, used, "tap-sum workspace"), sizeof(float),
                     "tap-sum workspace");
}

void run_tapsum(const LayerView<float>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                const float* input, float* output, int64_t threads) {
  const KernelDims& d = v.dims;
  const bool last = v.channels_last;
  SignalPlan p;
  make_signal_plan(v.geometry, plan.crop_begin, steps, &p);
  const int64_t C = d.in_channels, F = d.filters, L_out = plan.out_steps;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group();
  const std::vector<OutputUnit> units = output_units(batch, d.groups, L_out, threads, kOutputBlock);
  const int64_t used = std::min<int64_t>(threads, static_cast<int64_t>(units.size()));
  const TapsumWork layout = tapsum_work(p, d, last);
  // All allocation happens before the first write to `output` (64-byte aligned: the
  // channels_last weights are read a vector at a time).
  AlignedVector<float> work(static_cast<size_t>(layout.total * used));

  parallel_units(used, static_cast<int64_t>(units.size()), [&](int64_t u, int64_t thread) {
    const OutputUnit& un = units[static_cast<size_t>(u)];
    float* z = work.data() + thread * layout.total;
    float* w = z + layout.weights;
    pack_tapsum_weights(v, un.group, w);
    TapsumIo io;
    io.channels_last = last;
    io.x = last ? input + un.item * steps * C + un.group * Cg
                : input + (un.item * C + un.group * Cg) * steps;
    io.ldx = last ? C : steps;
    io.depth = Cg;
    io.filters = Fg;
    io.w = w;
    io.bias = v.bias == nullptr ? nullptr : v.bias + un.group * Fg;
    io.y = last ? output + un.item * L_out * F + un.group * Fg
                : output + (un.item * F + un.group * Fg) * L_out;
    io.y_filter = last ? 1 : L_out;
    io.y_step = last ? F : 1;
    tapsum_unit(p, io, un.j0, un.j1, z, layout.ldz);
    activate_owned(v.activation, v.alpha, output, last, F, L_out, un.group * Fg, Fg,
                   un.item * L_out + un.j0, un.item * L_out + un.j1);
  });
}

}  // namespace convt::detail
