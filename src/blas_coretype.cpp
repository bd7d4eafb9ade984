// Kernel choice of the private OpenBLAS. libconvt links Debian's OpenBLAS 0.3.21 statically, and
// that release maps AMD CPUs with AVX-512 (Zen 4, Zen 5) to its AVX2 kernels, half the speed
// of its own AVX-512 (SkylakeX) kernels there (measured: SGEMM 126 vs 245 GFLOP/s on one
// Zen 5 core). OpenBLAS reads OPENBLAS_CORETYPE once, at its own initialisation; the link maps
// its getenv calls -- and only the calls inside libconvt's link -- here (-Wl,--wrap=getenv,
// set by CMakeLists.txt when OpenBLAS is static). The answer for OPENBLAS_CORETYPE is:
//   1. CONVT_OPENBLAS_CORETYPE when set: the user's choice for libconvt alone;
//   2. "SkylakeX" on an AMD CPU with AVX-512 F/BW/DQ/VL. A host's OPENBLAS_CORETYPE addresses
//      the host's own OpenBLAS; on these CPUs it is a workaround for 0.3.21 not knowing them
//      (typically "Haswell"), and the private copy knows better;
//   3. else the host's OPENBLAS_CORETYPE, else nothing (OpenBLAS detects the CPU as usual).
// No environment is changed, and an OpenBLAS the host loads itself is not affected.
#include <cstdlib>
#include <cstring>

extern "C" char* __real_getenv(const char* name);   // NOLINT(bugprone-reserved-identifier)
extern "C" char* __wrap_getenv(const char* name) {  // NOLINT(bugprone-reserved-identifier)
  if (std::strcmp(name, "OPENBLAS_CORETYPE") != 0) return __real_getenv(name);
  if (char* ours = __real_getenv("CONVT_OPENBLAS_CORETYPE")) return ours;
  __builtin_cpu_init();
  const bool amd_avx512 = __builtin_cpu_is("amd") && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  static char skylakex[] = "SkylakeX";
  return amd_avx512 ? skylakex : __real_getenv(name);
}
