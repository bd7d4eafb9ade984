#include "gemm.hpp"

#include <cblas.h>
#include <omp.h>

#include <climits>
#include <string>

#include "error.hpp"

namespace convt::detail {
namespace {

blasint blas_dim(int64_t v, const char* what) {
  if (v > INT_MAX) {
    fail(CONVT_E_UNSUPPORTED, std::string(what) + " " + std::to_string(v) +
                                  " exceeds the 32-bit BLAS interface's limit " +
                                  std::to_string(INT_MAX));
  }
  return static_cast<blasint>(v);
}

void call(bool at, blasint m, blasint n, blasint k, const float* a, blasint lda, const float* b,
          blasint ldb, float* c, blasint ldc) {
  cblas_sgemm(CblasRowMajor, at ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b,
              ldb, 0.0f, c, ldc);
}

void call(bool at, blasint m, blasint n, blasint k, const double* a, blasint lda, const double* b,
          blasint ldb, double* c, blasint ldc) {
  cblas_dgemm(CblasRowMajor, at ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, lda, b,
              ldb, 0.0, c, ldc);
}

}  // namespace

template <typename T>
void gemm(bool a_transposed, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T* c, int64_t ldc) {
  // OpenBLAS (OpenMP build) runs single-threaded when the calling task's nthreads ICV is 1.
  // That ICV is per task: setting it inside a 1-thread region of our own changes nothing for
  // the host, and the library's own threads decide the parallelism. Single-threaded calls also
  // keep every result independent of how many threads the caller runs.
  const blasint bm = blas_dim(m, "GEMM rows"), bn = blas_dim(n, "GEMM columns");
  const blasint bk = blas_dim(k, "GEMM depth"), blda = blas_dim(lda, "input leading dimension");
  const blasint bldb = blas_dim(ldb, "kernel leading dimension");
  const blasint bldc = blas_dim(ldc, "column leading dimension");
#pragma omp parallel num_threads(1)
  {
    omp_set_num_threads(1);
    call(a_transposed, bm, bn, bk, a, blda, b, bldb, c, bldc);
  }
}

template void gemm<float>(bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*,
                          int64_t, float*, int64_t);
template void gemm<double>(bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*,
                           int64_t, double*, int64_t);

}  // namespace convt::detail
