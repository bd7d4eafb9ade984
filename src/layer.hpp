// The layer: its parameters, its packed weights and the forward pass. Every check that needs
// the layer's state lives here; capi/ only guards pointers and translates errors.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "backward.hpp"
#include "convt/convt.h"
#include "fused.hpp"
#include "geometry.hpp"
#include "packing.hpp"
#include "regularizers.hpp"
#include "view.hpp"

namespace convt::detail {

inline constexpr int32_t kParamCount = 41;  // convt_param values 1 .. kParamCount

class Layer {
 public:
  Layer(int64_t filters, int64_t kernel_size);

  void set_int(convt_param param, int64_t value);
  int64_t get_int(convt_param param) const;
  void set_double(convt_param param, double value);
  double get_double(convt_param param) const;
  void set_string(convt_param param, const char* value);
  std::string get_string(convt_param param) const;

  template <typename T>
  void set_weights(int64_t in_channels, convt_layout layout, const T* kernel, int64_t kernel_len,
                   const T* bias, int64_t bias_len);
  template <typename T>
  void get_weights(convt_layout layout, T* kernel, int64_t kernel_len, T* bias,
                   int64_t bias_len) const;
  void init_weights(int64_t in_channels, uint64_t seed);
  bool has_weights() const noexcept { return has_weights_; }

  std::array<int64_t, 3> output_shape(int64_t batch, int64_t steps) const;

  template <typename T>
  void forward(const T* input, int64_t input_len, int64_t batch, int64_t steps, T* output,
               int64_t output_len, int64_t out_steps) const;

  // The checks of prepare that need no buffers: dtype, weights, batch and steps, the parameter
  // combination and out_steps.
  template <typename T>
  Prepared<T> prepare_call(int64_t batch, int64_t steps, int64_t out_steps) const;

  // Bytes forward allocates for a call with these arguments (checked as forward checks them).
  int64_t workspace_size(int64_t batch, int64_t steps, int64_t out_steps) const;

  // Validates a forward-shaped call (dtype, weights, batch and steps, the parameter
  // combination, out_steps, input_len, output_len) and returns what the compute needs.
  // Shared by forward and the passes that follow its rules (backward).
  template <typename T>
  Prepared<T> prepare(int64_t input_len, int64_t batch, int64_t steps, int64_t output_len,
                      int64_t out_steps) const;

  // The packed weights and parameters, read-only, for the compute kernels. Requires weights
  // of dtype T (checked by prepare, or by the caller).
  template <typename T>
  LayerView<T> view() const;

  // ---- training: backward.hpp computes, regularizers.hpp defines the penalties ----
  // Validates a backward call (forward's rules, grad_output_len, trainable, the gradient
  // buffers) and fills the requested gradients.
  template <typename T>
  void backward(const T* input, int64_t input_len, int64_t batch, int64_t steps,
                const T* grad_output, int64_t grad_output_len, int64_t out_steps,
                const Gradients<T>& grads) const;
  // kernel_regularizer(kernel) + bias_regularizer(bias); 0 when not trainable.
  double regularization_loss() const;
  // activity_regularizer(output) / batch for an output of batch * filters * out_steps values.
  template <typename T>
  double activity_regularization(const T* output, int64_t output_len, int64_t batch,
                                 int64_t out_steps) const;
  // Projects the stored weights by the kernel and bias constraints (not when not trainable).
  void apply_constraints();

 private:
  template <typename T>
  struct Weights {
    std::vector<T> packed;  // see packing.hpp
    // The same weights in the fused kernel's panel order (fused.hpp), when it applies.
    AlignedVector<T> panels;
    std::vector<T> bias;  // empty when use_bias is 0
  };

  int64_t p(convt_param param) const { return ints_[param]; }
  Geometry geometry() const;
  // Checks that groups divides filters (and in_channels when known): INVALID_ARGUMENT.
  void check_groups() const;
  // Checks in_channels for new weights against the layer, and returns the kernel's dims.
  KernelDims dims_for(int64_t in_channels) const;
  template <typename T>
  void check_dtype(const char* function) const;
  template <typename T>
  Weights<T>& weights();
  template <typename T>
  const Weights<T>& weights() const;
  // The panels for `packed` (empty when the fused kernel does not apply).
  template <typename T>
  static AlignedVector<T> panels_for(const KernelDims& d, const std::vector<T>& packed);
  template <typename T>
  void install(const KernelDims& d, convt_layout layout, const T* kernel, const T* bias);
  // The regularizer or constraint that the enum parameter `owner` and its doubles describe.
  Penalty penalty(convt_param owner) const;
  Constraint constraint(convt_param owner) const;

  std::array<int64_t, kParamCount + 1> ints_{};  // int and enum parameters by convt_param
  double alpha_;
  // The training parameters' doubles by convt_param (NaN where the regularizer or constraint
  // has no such argument); ACTIVATION_ALPHA lives in alpha_.
  std::array<double, kParamCount + 1> doubles_{};
  std::string name_;
  bool has_weights_ = false;
  Weights<float> f32_;
  Weights<double> f64_;
};

}  // namespace convt::detail
