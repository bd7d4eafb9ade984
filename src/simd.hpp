// AVX-512 kernels: the CPU check, and the attribute that compiles one function for AVX-512F.
// Only functions so marked use AVX-512 (the rest of the library runs on any x86-64), and they
// run only when cpu_has_avx512f().
#pragma once

#include <cstdint>
#include <type_traits>

#define CONVT_TARGET_AVX512 __attribute__((target("avx512f")))

namespace convt::detail {

bool cpu_has_avx512f() noexcept;

// Calls fn(std::integral_constant<int, V>()) for the first V of Vs (ascending) with n <= V:
// a runtime count picks the kernel compiled for it, or for the next size up. n must not
// exceed the last V.
template <int... Vs, typename Fn>
void with_count_at_least(int64_t n, Fn&& fn) {
  bool done = false;
  (void)((done || n > Vs ? false : (fn(std::integral_constant<int, Vs>()), done = true)) || ...);
}

}  // namespace convt::detail
