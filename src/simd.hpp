// AVX-512 kernels: the CPU check, the attribute that compiles one function for AVX-512F, and
// the small helpers the kernels share (masks, rounding, stores, size dispatch).
// Only functions so marked use AVX-512 (the rest of the library runs on any x86-64), and they
// run only when cpu_has_avx512f().
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#define CONVT_TARGET_AVX512 __attribute__((target("avx512f")))

namespace convt::detail {

bool cpu_has_avx512f() noexcept;

// n rounded up to a multiple of `to`.
constexpr int64_t round_up(int64_t n, int64_t to) noexcept { return (n + to - 1) / to * to; }

// The lanes [0, n) of a vector (all 16 from n = 16, none for n <= 0).
inline __mmask16 mask_of(int64_t n) noexcept {
  return n >= 16  ? static_cast<__mmask16>(0xFFFF)
         : n <= 0 ? static_cast<__mmask16>(0)
                  : static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
}

// y[l] = v[l] (or += v[l] where `add`) for the lanes l in m. A whole vector is stored
// unmasked: on AMD's Zen a masked 512-bit store costs several times as much.
CONVT_TARGET_AVX512 inline __attribute__((always_inline)) void put_vector(float* y, __m512 v,
                                                                          bool add,
                                                                          __mmask16 m) noexcept {
  if (m == 0xFFFF) {
    _mm512_storeu_ps(y, add ? _mm512_add_ps(_mm512_loadu_ps(y), v) : v);
  } else {
    _mm512_mask_storeu_ps(y, m, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, y), v) : v);
  }
}

// Calls fn(std::integral_constant<int, V>()) for the first V of Vs (ascending) with n <= V:
// a runtime count picks the kernel compiled for it, or for the next size up. n must not
// exceed the last V.
template <int... Vs, typename Fn>
void with_count_at_least(int64_t n, Fn&& fn) {
  bool done = false;
  (void)((done || n > Vs ? false : (fn(std::integral_constant<int, Vs>()), done = true)) || ...);
}

}  // namespace convt::detail
