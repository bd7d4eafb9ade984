#include "signal.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "simd.hpp"

namespace convt::detail {
namespace {

// Output j's sum, one tap at a time: bias, then the taps of j's phase in ascending order, each
// with a fused multiply-add -- exactly the vector path's order and rounding.
__attribute__((target("avx512f,fma"))) float signal_one(const SignalPlan& p, const float* x,
                                                        const float* w, float bias,
                                                        int64_t j) noexcept {
  float acc = bias;
  const int64_t n = j + p.crop_begin;
  for (int64_t t = 0; t < p.kernel_size; ++t) {
    const int64_t v = n - t * p.dilation;
    if (v < 0) break;  // later taps reach further back
    if (v % p.strides != 0) continue;
    const int64_t i = v / p.strides;
    if (i < p.steps) acc = std::fma(x[i], w[t], acc);
  }
  return acc;
}

}  // namespace

bool make_signal_plan(const Geometry& g, int64_t crop_begin, int64_t steps, SignalPlan* plan) {
  const int64_t S = g.strides, D = g.dilation, K = g.kernel_size;
  int64_t reach = 0;
  if (!cpu_has_avx512f() || S < 1 || 16 % S != 0 || crop_begin < 0 || K > kMaxSignalTaps ||
      __builtin_mul_overflow(K, D, &reach)) {
    return false;
  }
  SignalPlan p;
  p.kernel_size = K, p.strides = S, p.dilation = D, p.crop_begin = crop_begin, p.steps = steps;
  // Taps by phase r = t*D mod S, each reaching back q = (t*D - r) / S steps, in ascending t.
  std::array<int, 16> count{};
  for (int64_t t = 0; t < K; ++t) {
    const int64_t r = (t * D) % S, q = (t * D - r) / S;
    if (count[static_cast<size_t>(r)] >= SignalPlan::kMaxSlots || q > 16) return false;
    p.q_max = std::max(p.q_max, q);
    ++count[static_cast<size_t>(r)];
  }
  for (int r = 0; r < S; ++r) p.slots = std::max(p.slots, count[static_cast<size_t>(r)]);
  // Lane k of a vector whose first output o0 has (o0 + P_b) % S == 0 is phase k % S and reads
  // input step (o0 + P_b) / S + k / S - q: step k / S - q + q_max of a window that starts
  // q_max steps back.
  int64_t need = 1;
  for (int u = 0; u < p.slots; ++u) {
    for (int k = 0; k < 16; ++k) {
      const int64_t r = k % S;
      int seen = 0;
      p.tap[static_cast<size_t>(u)][static_cast<size_t>(k)] = -1;
      p.back[static_cast<size_t>(u)][static_cast<size_t>(k)] = static_cast<int32_t>(k / S);
      for (int64_t t = 0; t < K; ++t) {
        if ((t * D) % S != r || seen++ != u) continue;
        const int64_t back = k / S - (t * D - r) / S;
        p.tap[static_cast<size_t>(u)][static_cast<size_t>(k)] = static_cast<int32_t>(t);
        p.back[static_cast<size_t>(u)][static_cast<size_t>(k)] = static_cast<int32_t>(back);
        need = std::max(need, back + p.q_max + 1);
      }
    }
  }
  if (need > 32) return false;
  p.window = need <= 16 ? 16 : 32;
  *plan = p;
  return true;
}

CONVT_TARGET_AVX512 void signal_forward(const SignalPlan& p, const float* x, const float* w,
                                        float bias, float* y, int64_t j0, int64_t j1) noexcept {
  const int64_t S = p.strides, P = p.crop_begin;
  __m512i index[SignalPlan::kMaxSlots];
  __m512 weight[SignalPlan::kMaxSlots];
  __mmask16 has[SignalPlan::kMaxSlots];
  for (int u = 0; u < p.slots; ++u) {
    alignas(64) float wv[16];
    has[u] = 0;
    for (int k = 0; k < 16; ++k) {
      const int32_t t = p.tap[static_cast<size_t>(u)][static_cast<size_t>(k)];
      wv[k] = t < 0 ? 0.0f : w[t];
      if (t >= 0) has[u] = static_cast<__mmask16>(has[u] | (1u << k));
    }
    index[u] = _mm512_add_epi32(_mm512_loadu_si512(p.back[static_cast<size_t>(u)].data()),
                                _mm512_set1_epi32(static_cast<int32_t>(p.q_max)));
    weight[u] = _mm512_load_ps(wv);
  }
  // Vectors start where (o0 + P) % S == 0, and their window [b, b + window) must lie in the
  // signal: b = (o0 + P) / S - q_max >= 0 and b + window <= steps.
  int64_t o0 = j0 + (S - (j0 + P) % S) % S;
  int64_t j = j0;  // outputs before j are written
  const __m512 b = _mm512_set1_ps(bias);
  for (; o0 + 16 <= j1; o0 += 16) {
    const int64_t base = (o0 + P) / S - p.q_max;
    if (base < 0) continue;                // the head: one at a time below
    if (base + p.window > p.steps) break;  // the tail: one at a time below
    for (; j < o0; ++j) y[j] = signal_one(p, x, w, bias, j);
    const __m512 lo = _mm512_loadu_ps(x + base);
    const __m512 hi = p.window > 16 ? _mm512_loadu_ps(x + base + 16) : lo;
    __m512 acc = b;
    for (int u = 0; u < p.slots; ++u) {
      const __m512 in = _mm512_permutex2var_ps(lo, index[u], hi);
      acc = _mm512_mask3_fmadd_ps(in, weight[u], acc, has[u]);
    }
    _mm512_storeu_ps(y + o0, acc);
    j = o0 + 16;
  }
  for (; j < j1; ++j) y[j] = signal_one(p, x, w, bias, j);
}

}  // namespace convt::detail
