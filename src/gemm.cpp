#include "gemm.hpp"

#include <cblas.h>
#include <omp.h>

#include <climits>
#include <string>

#include "error.hpp"

namespace convt::detail {
namespace {

blasint blas_dim(int64_t v, const char* what) {
  check_gemm_dim(v, what);
  return static_cast<blasint>(v);
}

CBLAS_TRANSPOSE op(bool transposed) { return transposed ? CblasTrans : CblasNoTrans; }

void call(bool at, bool bt, blasint m, blasint n, blasint k, const float* a, blasint lda,
          const float* b, blasint ldb, float* c, blasint ldc) {
  cblas_sgemm(CblasRowMajor, op(at), op(bt), m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

void call(bool at, bool bt, blasint m, blasint n, blasint k, const double* a, blasint lda,
          const double* b, blasint ldb, double* c, blasint ldc) {
  cblas_dgemm(CblasRowMajor, op(at), op(bt), m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

}  // namespace

void check_gemm_dim(int64_t v, const char* what) {
  if (v > INT_MAX) {
    fail(CONVT_E_UNSUPPORTED, std::string(what) + " " + std::to_string(v) +
                                  " exceeds the 32-bit BLAS interface's limit " +
                                  std::to_string(INT_MAX));
  }
}

template <typename T>
void gemm(bool a_transposed, bool b_transposed, int64_t m, int64_t n, int64_t k, const T* a,
          int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc) {
  // OpenBLAS (OpenMP build) runs single-threaded when the calling task's nthreads ICV is 1.
  // That ICV is per task: setting it inside a 1-thread region of our own changes nothing for
  // the host, and the library's own threads decide the parallelism. Single-threaded calls also
  // keep every result independent of how many threads the caller runs.
  const blasint bm = blas_dim(m, "GEMM rows"), bn = blas_dim(n, "GEMM columns");
  const blasint bk = blas_dim(k, "GEMM depth"), blda = blas_dim(lda, "A's leading dimension");
  const blasint bldb = blas_dim(ldb, "B's leading dimension");
  const blasint bldc = blas_dim(ldc, "C's leading dimension");
#pragma omp parallel num_threads(1)
  {
    omp_set_num_threads(1);
    call(a_transposed, b_transposed, bm, bn, bk, a, blda, b, bldb, c, bldc);
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t,
                          const float*, int64_t, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, const double*, int64_t,
                           const double*, int64_t, double*, int64_t);

}  // namespace convt::detail
