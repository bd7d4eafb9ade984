// The backward pass, after validation: the gradients of the layer's output with respect to its
// input (the adjoint of forward: im2col of dL/dz, then a GEMM with the packed kernel
// transposed), its kernel and its bias, through the activation.
#pragma once

#include <cstdint>

#include "convt/convt.h"
#include "regularizers.hpp"
#include "view.hpp"

namespace convt::detail {

// The caller's gradient buffers. A NULL buffer is not computed; its length must then be 0.
template <typename T>
struct Gradients {
  T* input = nullptr;  // input_len values, in the input's layout
  int64_t input_len = 0;
  convt_layout layout = CONVT_LAYOUT_WOI;  // of `kernel`
  T* kernel = nullptr;                     // kernel_size * filters * in_channels / groups
  int64_t kernel_len = 0;
  T* bias = nullptr;  // filters values; only with a bias
  int64_t bias_len = 0;
};

// Checks the gradient buffers against the layer: layout known, each buffer NULL with length 0
// or of exactly its length, a bias gradient only when the layer has a bias. CONVT_E_SHAPE or
// CONVT_E_INVALID_ARGUMENT with the numbers.
template <typename T>
void check_gradients(const KernelDims& dims, bool use_bias, int64_t input_len,
                     const Gradients<T>& grads);

// Fills the requested gradients for grad_output = dL/dy (batch * F * L_out values in the
// output's layout), adding the gradients of the active penalties. Allocates its bounded
// workspace before the first write to a gradient buffer. May throw std::bad_alloc.
template <typename T>
void run_backward(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                  const T* input, const T* grad_output, const Penalties& penalties,
                  const Gradients<T>& grads);

}  // namespace convt::detail
