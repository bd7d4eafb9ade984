// The extern "C" functions of the header's "Training" section: pointer checks, exception ->
// status, the thread's last message. The checks that need the layer live in src/layer.cpp.
#include "backward.hpp"
#include "capi_internal.hpp"
#include "convt/convt.h"

namespace {

using convt::capi::guarded;
using convt::capi::layer_of;
using convt::capi::require;

template <typename T>
convt_status backward(const char* function, const convt_layer* layer, const T* input,
                      int64_t input_len, int64_t batch, int64_t steps, const T* grad_output,
                      int64_t grad_output_len, int64_t out_steps, T* grad_input,
                      int64_t grad_input_len, convt_layout layout, T* grad_kernel,
                      int64_t grad_kernel_len, T* grad_bias, int64_t grad_bias_len) noexcept {
  return guarded(function, [&] {
    const auto& l = layer_of(layer);
    require(input, "input");
    require(grad_output, "grad_output");
    convt::detail::Gradients<T> grads;  // NULL gradients are optional: src/ checks them
    grads.input = grad_input;
    grads.input_len = grad_input_len;
    grads.layout = layout;
    grads.kernel = grad_kernel;
    grads.kernel_len = grad_kernel_len;
    grads.bias = grad_bias;
    grads.bias_len = grad_bias_len;
    l.backward(input, input_len, batch, steps, grad_output, grad_output_len, out_steps, grads);
  });
}

template <typename T>
convt_status activity_regularization(const char* function, const convt_layer* layer,
                                     const T* output, int64_t output_len, int64_t batch,
                                     int64_t out_steps, double* penalty) noexcept {
  return guarded(function, [&] {
    const auto& l = layer_of(layer);
    require(output, "output");
    require(penalty, "penalty");
    *penalty = l.activity_regularization(output, output_len, batch, out_steps);
  });
}

}  // namespace

extern "C" {

convt_status convt_layer_backward_f32(const convt_layer* layer, const float* input,
                                      int64_t input_len, int64_t batch, int64_t steps,
                                      const float* grad_output, int64_t grad_output_len,
                                      int64_t out_steps, float* grad_input, int64_t grad_input_len,
                                      convt_layout layout, float* grad_kernel,
                                      int64_t grad_kernel_len, float* grad_bias,
                                      int64_t grad_bias_len) noexcept {
  return backward(__func__, layer, input, input_len, batch, steps, grad_output, grad_output_len,
                  out_steps, grad_input, grad_input_len, layout, grad_kernel, grad_kernel_len,
                  grad_bias, grad_bias_len);
}

convt_status convt_layer_backward_f64(const convt_layer* layer, const double* input,
                                      int64_t input_len, int64_t batch, int64_t steps,
                                      const double* grad_output, int64_t grad_output_len,
                                      int64_t out_steps, double* grad_input, int64_t grad_input_len,
                                      convt_layout layout, double* grad_kernel,
                                      int64_t grad_kernel_len, double* grad_bias,
                                      int64_t grad_bias_len) noexcept {
  return backward(__func__, layer, input, input_len, batch, steps, grad_output, grad_output_len,
                  out_steps, grad_input, grad_input_len, layout, grad_kernel, grad_kernel_len,
                  grad_bias, grad_bias_len);
}

convt_status convt_layer_regularization_loss(const convt_layer* layer, double* loss) noexcept {
  return guarded(__func__, [&] {
    const auto& l = layer_of(layer);
    require(loss, "loss");
    *loss = l.regularization_loss();
  });
}

convt_status convt_layer_activity_regularization_f32(const convt_layer* layer, const float* output,
                                                     int64_t output_len, int64_t batch,
                                                     int64_t out_steps, double* penalty) noexcept {
  return activity_regularization(__func__, layer, output, output_len, batch, out_steps, penalty);
}

convt_status convt_layer_activity_regularization_f64(const convt_layer* layer, const double* output,
                                                     int64_t output_len, int64_t batch,
                                                     int64_t out_steps, double* penalty) noexcept {
  return activity_regularization(__func__, layer, output, output_len, batch, out_steps, penalty);
}

convt_status convt_layer_apply_constraints(convt_layer* layer) noexcept {
  return guarded(__func__, [&] { layer_of(layer).apply_constraints(); });
}

}  // extern "C"
