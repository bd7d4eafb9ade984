#include "gemm.hpp"

#include <cblas.h>

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
  call(a_transposed, blas_dim(m, "GEMM rows"), blas_dim(n, "GEMM columns"),
       blas_dim(k, "GEMM depth"), a, blas_dim(lda, "input leading dimension"), b,
       blas_dim(ldb, "kernel leading dimension"), c, blas_dim(ldc, "column leading dimension"));
}

template void gemm<float>(bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*,
                          int64_t, float*, int64_t);
template void gemm<double>(bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*,
                           int64_t, double*, int64_t);

}  // namespace convt::detail
