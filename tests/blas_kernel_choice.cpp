// Which kernels libconvt's private OpenBLAS chose (src/blas_coretype.cpp), checked in a process
// whose environment CTest sets: OpenBLAS reads it once, when it initialises.
// Usage: convt_blas_kernel_choice EXPECTED_ON_AMD_AVX512 EXPECTED_ELSEWHERE ("-" = any).
#include <cblas.h>
#include <strings.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s EXPECTED_ON_AMD_AVX512 EXPECTED_ELSEWHERE\n", argv[0]);
    return 2;
  }
  __builtin_cpu_init();
  const bool amd_avx512 = __builtin_cpu_is("amd") && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const char* expected = amd_avx512 ? argv[1] : argv[2];
  const char* chosen = openblas_get_corename();
  std::printf("CPU %s AMD with AVX-512; OpenBLAS kernels: %s; expected: %s\n",
              amd_avx512 ? "is" : "is not", chosen, expected);
  const bool any = expected[0] == '-' && expected[1] == '\0';
  return any || strcasecmp(chosen, expected) == 0 ? 0 : 1;
}
