// The one file that talks to BLAS.
#pragma once

#include <cstdint>

namespace convt::detail {

// C = op(A) * op(B), row-major, with op(A) m x k, op(B) k x n, C m x n (beta = 0).
// op(A) = A (a_transposed false: A stored m x k with leading dimension lda) or A^T
// (a_transposed true: A stored k x m); likewise op(B) with B stored k x n or n x k.
// Dimensions must fit BLAS's 32-bit int; throws CONVT_E_UNSUPPORTED otherwise.
template <typename T>
void gemm(bool a_transposed, bool b_transposed, int64_t m, int64_t n, int64_t k, const T* a,
          int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc);

// Throws CONVT_E_UNSUPPORTED, naming `what`, when v does not fit BLAS's 32-bit int: for callers
// that check their GEMMs' dimensions before they write anything.
void check_gemm_dim(int64_t v, const char* what);

}  // namespace convt::detail
