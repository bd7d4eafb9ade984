#include "tapsum.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "checked.hpp"
#include "direct.hpp"
#include "fused.hpp"
#include "owned.hpp"
#include "signal.hpp"
#include "simd.hpp"

namespace convt::detail {
namespace {

constexpr int64_t kOutputBlock = 1024;  // output steps per block: its tap sums stay in L1/L2
constexpr int kTapGroup = 8;            // taps summed per pass over the channels

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
    const __mmask16 m0 = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1u);
    const __mmask16 m1 = static_cast<__mmask16>(n >= 32   ? 0xFFFF
                                                : n <= 16 ? 0u
                                                          : (1u << (n - 16)) - 1u);
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
      _mm512_mask_storeu_ps(z + t * ldz + (i - i0), m0, acc0[t]);
      _mm512_mask_storeu_ps(z + t * ldz + (i - i0) + 16, m1, acc1[t]);
    }
  }
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

// Where a unit reads and writes: the group's channels of one item (channels_first: x[c][i],
// ld steps; channels_last: x[i][c], ld C, transposed block by block into xt), and its filters'
// outputs y[f * y_filter + j * y_step].
struct TapsumIo {
  const float* x = nullptr;
  bool channels_last = false;
  int64_t ldx = 0;              // steps (channels_first) or C (channels_last)
  int64_t depth = 0;            // channels in the group
  int64_t filters = 0;          // in the group
  const float* w = nullptr;     // w[f][c'][t]
  const float* bias = nullptr;  // the group's biases, or nullptr
  float* y = nullptr;
  int64_t y_filter = 0, y_step = 1;
};

// One unit: outputs [j0, j1) of every filter of the group, block by block of outputs: the
// block's input steps (transposed first for channels_last), then per filter its tap sums and
// its outputs.
CONVT_TARGET_AVX512 void tapsum_unit(const SignalPlan& p, const TapsumIo& io, int64_t j0,
                                     int64_t j1, float* z, int64_t ldz, float* xt,
                                     int64_t ldxt) noexcept {
  const int64_t S = p.strides, P = p.crop_begin, K = p.kernel_size, L = p.steps;
  // Per slot and output phase (lane k of a vector is phase k % S, see below): the phase's tap
  // in that slot (or -1), and its step relative to the vector's first, -q.
  int64_t tap[SignalPlan::kMaxSlots][16], shift[SignalPlan::kMaxSlots][16];
  for (int u = 0; u < p.slots; ++u) {
    for (int64_t phase = 0; phase < S; ++phase) {
      tap[u][phase] = p.tap[static_cast<size_t>(u)][static_cast<size_t>(phase)];
      shift[u][phase] = p.back[static_cast<size_t>(u)][static_cast<size_t>(phase)];
    }
  }
  // Vectors start where (o0 + P) % S == 0: lane k is then phase k % S.
  const int64_t first = j0 - (j0 + P) % S;
  for (int64_t ob = first; ob < j1; ob += kOutputBlock) {
    const int64_t oe = std::min(ob + kOutputBlock, j1);
    // Steps this block reads: from (ob + P) / S - q_max to (oe - 1 + P) / S, in the signal.
    const int64_t i0 = std::clamp<int64_t>((ob + P) / S - p.q_max, 0, L);
    const int64_t i1 = std::clamp<int64_t>((oe - 1 + P) / S + 1, 0, L);
    // The block's steps channel-major: x itself, or its rows transposed into xt.
    const float* xb = io.x + i0;
    int64_t ldb = io.ldx;
    if (io.channels_last && i1 > i0) {
      transpose_to_channels(io.x + i0 * io.ldx, io.ldx, i1 - i0, io.depth, xt, ldxt);
      xb = xt;
      ldb = ldxt;
    }
    for (int64_t f = 0; f < io.filters; ++f) {
      const float* w = io.w + f * io.depth * K;
      for (int64_t t0 = 0; t0 < K; t0 += kTapGroup) {
        const int64_t nt = std::min<int64_t>(kTapGroup, K - t0);
        float* zt = z + t0 * ldz;
        const auto sums = [&](auto taps) {
          tap_sums<decltype(taps)::value>(xb, ldb, io.depth, w, K, t0, 0, i1 - i0, zt, ldz);
        };
        // Exactly nt taps' registers.
        with_count_at_least<1, 2, 3, 4, 5, 6, 7, kTapGroup>(nt, sums);
      }
      const __m512 b = _mm512_set1_ps(io.bias == nullptr ? 0.0f : io.bias[f]);
      float* y = io.y + f * io.y_filter;
      // S vectors of outputs at a time: 16 steps from m, each phase's sums one contiguous
      // vector per slot (no gather), interleaved into the outputs.
      for (int64_t o0 = ob; o0 < oe; o0 += 16 * S) {
        const int64_t m = (o0 + P) / S;  // the first vector's first step
        __m512 v[16];
        for (int64_t phase = 0; phase < S; ++phase) v[phase] = b;
        for (int u = 0; u < p.slots; ++u) {
          for (int64_t phase = 0; phase < S; ++phase) {
            if (tap[u][phase] < 0) continue;
            const int64_t first_step = m + shift[u][phase];  // lane l: first_step + l
            const __mmask16 in = steps_mask(first_step, i0, i1);
            if (in == 0) continue;
            const float* row = z + tap[u][phase] * ldz;
            // (A block edge's vector may start before the row: its lanes are loaded one by one.)
            const __m512 sums = first_step >= i0 ? _mm512_maskz_loadu_ps(in, row + first_step - i0)
                                                 : load_lanes(row, first_step - i0, in);
            v[phase] = _mm512_mask_add_ps(v[phase], in, v[phase], sums);
          }
        }
        interleave(v, S);
        for (int64_t k = 0; k < S; ++k) {
          const int64_t o = o0 + 16 * k;
          if (io.y_step == 1 && o >= j0 && o + 16 <= oe) {
            _mm512_storeu_ps(y + o, v[k]);
          } else {  // strided, or a partial vector: only [max(o, j0), min(o + 16, oe))
            alignas(64) float out[16];
            _mm512_store_ps(out, v[k]);
            for (int64_t j = std::max(o, j0); j < std::min(o + 16, oe); ++j) {
              y[j * io.y_step] = out[j - o];
            }
          }
        }
      }
    }
  }
}

// Floats of one thread's workspace: the tap sums, the group's weights, and (channels_last) the
// transposed block.
struct TapsumWork {
  int64_t ldz = 0, ldxt = 0, weights = 0, xt = 0, total = 0;  // offsets and size, in floats
};

TapsumWork tapsum_work(const SignalPlan& p, const KernelDims& d, bool channels_last) {
  TapsumWork w;
  w.ldz = block_rows(p);
  w.ldxt = (w.ldz + 15) / 16 * 16;
  w.weights = checked_mul(d.kernel_size, w.ldz, "tap sums");
  w.xt = checked_add(
      w.weights,
      checked_mul(checked_mul(d.filters_per_group(), d.channels_per_group(), "group weights"),
                  d.kernel_size, "group weights"),
      "tap-sum workspace");
  w.xt = (w.xt + 15) / 16 * 16;
  w.total = channels_last ? checked_add(w.xt, checked_mul(d.channels_per_group(), w.ldxt, "block"),
                                        "tap-sum workspace")
                          : w.xt;
  return w;
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
  const int64_t C = d.in_channels, F = d.filters, K = d.kernel_size, L_out = plan.out_steps;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group();
  const std::vector<OutputUnit> units = output_units(batch, d.groups, L_out, threads, kOutputBlock);
  const int64_t used = std::min<int64_t>(threads, static_cast<int64_t>(units.size()));
  const TapsumWork layout = tapsum_work(p, d, last);
  // All allocation happens before the first write to `output` (64-byte aligned: the
  // transposed block is written a cache line at a time).
  AlignedVector<float> work(static_cast<size_t>(layout.total * used));

#pragma omp parallel for num_threads(used) schedule(dynamic, 1)
  for (int64_t u = 0; u < static_cast<int64_t>(units.size()); ++u) {
    const OutputUnit& un = units[static_cast<size_t>(u)];
    float* z = work.data() + omp_get_thread_num() * layout.total;
    float* w = z + layout.weights;  // w[f][c'][t]: the group's weights
    for (int64_t o = 0; o < Fg; ++o) {
      for (int64_t c = 0; c < Cg; ++c) {
        for (int64_t t = 0; t < K; ++t) {
          w[(o * Cg + c) * K + t] =
              v.packed[un.group * d.group_elements() + c * d.row_length() + d.packed_column(t, o)];
        }
      }
    }
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
    tapsum_unit(p, io, un.j0, un.j1, z, layout.ldz,
                work.data() + omp_get_thread_num() * layout.total + layout.xt, layout.ldxt);
    activate_owned(v.activation, v.alpha, output, last, F, L_out, un.group * Fg, Fg,
                   un.item * L_out + un.j0, un.item * L_out + un.j1);
  }
}

}  // namespace convt::detail
