// AVX-512 kernels: the CPU check, and the attribute that compiles one function for AVX-512F.
// Only functions so marked use AVX-512 (the rest of the library runs on any x86-64), and they
// run only when cpu_has_avx512f().
#pragma once

#define CONVT_TARGET_AVX512 __attribute__((target("avx512f")))

namespace convt::detail {

bool cpu_has_avx512f() noexcept;

}  // namespace convt::detail
