// Activations, exactly as Keras 3 defines them by name, fused into the output pass
// (epilogue), and their derivatives for the backward pass.
#pragma once

#include <cstdint>

#include "convt/convt.h"

namespace convt::detail {

// Number of convt_activation values; valid values are 0 .. kActivationCount - 1.
inline constexpr int32_t kActivationCount = 28;

// Keras's default for the activation's parameter (CONVT_PARAM_ACTIVATION_ALPHA), or NaN when
// the activation has none.
double activation_default_alpha(convt_activation a) noexcept;

// nullptr when `alpha` is a valid parameter for `a`, else a static sentence saying what is
// expected (for example "celu's alpha must be finite and not 0"). Activations without a
// parameter accept nothing.
const char* activation_alpha_problem(convt_activation a, double alpha) noexcept;

// True for softmax, log_softmax and sparsemax, which act along the last axis of the output.
bool activation_along_axis(convt_activation a) noexcept;

// How many doubles of scratch apply_activation / activation_backward need for rows of
// row_len values (0 for element-wise activations).
int64_t activation_scratch_doubles(convt_activation a, int64_t row_len) noexcept;

// Applies `a` in place to rows * row_len values, laid out as `rows` contiguous rows of
// row_len (the last axis). Element-wise activations ignore the row structure. Values are
// computed in double and rounded once to T. `scratch` holds activation_scratch_doubles.
template <typename T>
void apply_activation(convt_activation a, double alpha, T* data, int64_t rows, int64_t row_len,
                      double* scratch) noexcept;

// Backward through `a`: `pre` holds the pre-activation values z, `grad` holds dL/dy on entry
// and dL/dz on return (same layout as apply_activation). Where `a` is not differentiable
// either one-sided derivative is used.
template <typename T>
void activation_backward(convt_activation a, double alpha, const T* pre, T* grad, int64_t rows,
                         int64_t row_len, double* scratch) noexcept;

}  // namespace convt::detail
