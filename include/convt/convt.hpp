/*
 * libconvt -- the C++17 wrapper over the C API (header-only).
 *
 * ===========================================================================================
 *  Introduction
 * ===========================================================================================
 *
 * convt.hpp wraps include/convt/convt.h the way oneDNN's dnnl.hpp wraps dnnl.h: every C
 * call is made exactly as documented there, a failing status becomes a convt::Error
 * exception that carries the status and the library's message, and a move-only
 * convt::Layer owns the layer's handle. Nothing here computes: the C header stays the
 * manual for what each call does, which lengths it accepts and which status it returns.
 *
 *   #include <convt/convt.hpp>
 *
 *   convt::Layer layer(2, 3);                       // Conv1DTranspose(filters=2, kernel_size=3)
 *   layer.set_strides(2).set_padding(convt::Padding::same);
 *   layer.set_weights(1, std::vector<float>{1, 10, 2, 20, 3, 30},   // WOI (3, 2, 1)
 *                     std::vector<float>{0.5f, -0.5f});
 *   std::vector<float> y = layer.forward(std::vector<float>{1, 2, 3, 4}, 1, 4);  // (1, 8, 2)
 *
 * What it covers
 *   Everything in convt.h: Layer (parameters, weights, init, output_shape, forward, backward,
 *   regularization penalties, constraints, workspace_size) and Stream (push, flush, reset).
 *
 * Types
 *   float and double, chosen by the element type of the buffers: float calls the _f32
 *   functions (for float32 layers), double the _f64 ones (float64 layers). Any other
 *   element type does not compile.
 *
 * Buffers
 *   Every function that takes data comes as pointer + element count, exactly as the C API
 *   takes it, and as a contiguous container (std::vector, std::array, a C array, anything
 *   with std::data and std::size) whose size is the element count. The caller owns every
 *   buffer; no pointer is kept after a call returns. A failed call writes no output.
 *
 * Errors
 *   Every failure throws convt::Error: status() is the C status (CONVT_E_SHAPE, ...),
 *   message() the library's message for this failure (read on the calling thread right
 *   after the call), what() both. Memory for the containers the wrapper allocates itself
 *   may also throw std::bad_alloc.
 *
 * Threads
 *   As the C API: const member functions (forward, output_shape, getters) may run at once
 *   from any number of threads on one Layer; the set_* functions, set_weights and
 *   init_weights must not overlap with any other call on that Layer.
 */
#ifndef CONVT_CONVT_HPP
#define CONVT_CONVT_HPP

#include <array>
#include <cstdint>
#include <exception>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "convt/convt.h"

namespace convt {

/* ===========================================================================================
 *  Errors
 * =========================================================================================== */

/** A failed libconvt call: the status it returned and the message it stored. */
class Error : public std::exception {
 public:
  Error(convt_status status, std::string message)
      : status_(status),
        message_(std::move(message)),
        what_(std::string(convt_status_string(status)) + ": " + message_) {}

  /** The C status, CONVT_E_INVALID_ARGUMENT ... CONVT_E_INTERNAL. */
  convt_status status() const noexcept { return status_; }
  /** The status's name, "CONVT_E_SHAPE". */
  const char* status_name() const noexcept { return convt_status_string(status_); }
  /** The library's message: the function, what was wrong and what was expected. */
  const std::string& message() const noexcept { return message_; }
  /** "CONVT_E_SHAPE: convt_layer_forward_f32: ..." */
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  convt_status status_;
  std::string message_;
  std::string what_;
};

/** Throws convt::Error for a failing status, with the calling thread's last message. Call
 *  it right after the C call, on the same thread, as every member function here does. */
inline void check(convt_status status) {
  if (status != CONVT_OK) throw Error(status, convt_last_error());
}

/* ===========================================================================================
 *  Version
 * =========================================================================================== */

/** The version of the library actually loaded, as CONVT_VERSION_NUMBER computes it. */
inline uint32_t version_number() noexcept { return convt_version_number(); }
/** The version of the library actually loaded, "1.0.0". */
inline const char* version_string() noexcept { return convt_version_string(); }

/* ===========================================================================================
 *  Enumerations: the C values, typed
 * =========================================================================================== */

/** The layer parameters (convt_param); types and defaults in convt.h. */
enum class Param : convt_param {
  filters = CONVT_PARAM_FILTERS,
  kernel_size = CONVT_PARAM_KERNEL_SIZE,
  in_channels = CONVT_PARAM_IN_CHANNELS,
  strides = CONVT_PARAM_STRIDES,
  dilation_rate = CONVT_PARAM_DILATION_RATE,
  padding = CONVT_PARAM_PADDING,
  pad_begin = CONVT_PARAM_PAD_BEGIN,
  pad_end = CONVT_PARAM_PAD_END,
  output_padding = CONVT_PARAM_OUTPUT_PADDING,
  data_format = CONVT_PARAM_DATA_FORMAT,
  groups = CONVT_PARAM_GROUPS,
  use_bias = CONVT_PARAM_USE_BIAS,
  activation = CONVT_PARAM_ACTIVATION,
  activation_alpha = CONVT_PARAM_ACTIVATION_ALPHA,
  dtype = CONVT_PARAM_DTYPE,
  input_steps = CONVT_PARAM_INPUT_STEPS,
  batch_size = CONVT_PARAM_BATCH_SIZE,
  name = CONVT_PARAM_NAME,
  num_threads = CONVT_PARAM_NUM_THREADS,
  kernel_initializer = CONVT_PARAM_KERNEL_INITIALIZER,
  bias_initializer = CONVT_PARAM_BIAS_INITIALIZER,
  trainable = CONVT_PARAM_TRAINABLE,
  kernel_regularizer = CONVT_PARAM_KERNEL_REGULARIZER,
  kernel_regularizer_l1 = CONVT_PARAM_KERNEL_REGULARIZER_L1,
  kernel_regularizer_l2 = CONVT_PARAM_KERNEL_REGULARIZER_L2,
  bias_regularizer = CONVT_PARAM_BIAS_REGULARIZER,
  bias_regularizer_l1 = CONVT_PARAM_BIAS_REGULARIZER_L1,
  bias_regularizer_l2 = CONVT_PARAM_BIAS_REGULARIZER_L2,
  activity_regularizer = CONVT_PARAM_ACTIVITY_REGULARIZER,
  activity_regularizer_l1 = CONVT_PARAM_ACTIVITY_REGULARIZER_L1,
  activity_regularizer_l2 = CONVT_PARAM_ACTIVITY_REGULARIZER_L2,
  kernel_constraint = CONVT_PARAM_KERNEL_CONSTRAINT,
  kernel_constraint_min_value = CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE,
  kernel_constraint_max_value = CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE,
  kernel_constraint_rate = CONVT_PARAM_KERNEL_CONSTRAINT_RATE,
  kernel_constraint_axes = CONVT_PARAM_KERNEL_CONSTRAINT_AXES,
  bias_constraint = CONVT_PARAM_BIAS_CONSTRAINT,
  bias_constraint_min_value = CONVT_PARAM_BIAS_CONSTRAINT_MIN_VALUE,
  bias_constraint_max_value = CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE,
  bias_constraint_rate = CONVT_PARAM_BIAS_CONSTRAINT_RATE,
  backward_regularization = CONVT_PARAM_BACKWARD_REGULARIZATION
};

/** Padding modes (convt_padding). explicit_pads crops PAD_BEGIN and PAD_END (PyTorch's
 *  padding=, ONNX's pads); "explicit" itself is a C++ keyword. */
enum class Padding : convt_padding {
  valid = CONVT_PADDING_VALID,
  same = CONVT_PADDING_SAME,
  same_lower = CONVT_PADDING_SAME_LOWER,
  explicit_pads = CONVT_PADDING_EXPLICIT
};

/** Data formats (convt_data_format). */
enum class DataFormat : convt_data_format {
  channels_last = CONVT_CHANNELS_LAST,   // (batch, steps, channels): Keras, TF
  channels_first = CONVT_CHANNELS_FIRST  // (batch, channels, steps): PyTorch, ONNX
};

/** Element types (convt_dtype). */
enum class Dtype : convt_dtype { float32 = CONVT_DTYPE_FLOAT32, float64 = CONVT_DTYPE_FLOAT64 };

/** Kernel layouts (convt_layout); keras and pytorch name the same two values. */
enum class Layout : convt_layout {
  woi = CONVT_LAYOUT_WOI,  // (kernel_size, filters, in_channels / groups)
  iow = CONVT_LAYOUT_IOW,  // (in_channels, filters / groups, kernel_size)
  keras = CONVT_LAYOUT_WOI,
  pytorch = CONVT_LAYOUT_IOW
};

/** Regularizers (convt_regularizer), for the *_REGULARIZER parameters. */
enum class Regularizer : convt_regularizer {
  none = CONVT_REGULARIZER_NONE,
  l1 = CONVT_REGULARIZER_L1,
  l2 = CONVT_REGULARIZER_L2,
  l1_l2 = CONVT_REGULARIZER_L1_L2
};

/** Weight constraints (convt_constraint), for the *_CONSTRAINT parameters. */
enum class Constraint : convt_constraint {
  none = CONVT_CONSTRAINT_NONE,
  max_norm = CONVT_CONSTRAINT_MAX_NORM,
  min_max_norm = CONVT_CONSTRAINT_MIN_MAX_NORM,
  non_neg = CONVT_CONSTRAINT_NON_NEG,
  unit_norm = CONVT_CONSTRAINT_UNIT_NORM
};

/** Kernel and bias, as get_weights returns them; bias is empty when use_bias is 0. */
template <class T>
struct Weights {
  std::vector<T> kernel;
  std::vector<T> bias;
};

/** The gradients backward returns: input's in the input's layout, kernel's in the layout
 *  asked for; kernel and bias are empty when not computed (trainable 0, use_bias 0). */
template <class T>
struct Gradients {
  std::vector<T> input;
  std::vector<T> kernel;
  std::vector<T> bias;
};

/* ===========================================================================================
 *  Details: the dtype dispatch and container access
 * =========================================================================================== */
namespace detail {

// The element type of a contiguous container (or C array), without const.
template <class C>
using element_t = std::remove_cv_t<std::remove_pointer_t<decltype(std::data(std::declval<C&>()))>>;

template <class T>
constexpr bool is_element_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
constexpr void require_element() {
  static_assert(is_element_v<T>, "libconvt computes in float (float32) or double (float64)");
}

template <class C>
int64_t length(const C& c) noexcept {
  return static_cast<int64_t>(std::size(c));
}

// NULL for an empty container, as the C API wants for an absent bias.
template <class C>
auto data_or_null(C& c) noexcept -> decltype(std::data(c)) {
  return std::size(c) == 0 ? nullptr : std::data(c);
}

inline convt_status set_weights(convt_layer* l, int64_t c, convt_layout lay, const float* k,
                                int64_t kl, const float* b, int64_t bl) noexcept {
  return convt_layer_set_weights_f32(l, c, lay, k, kl, b, bl);
}
inline convt_status set_weights(convt_layer* l, int64_t c, convt_layout lay, const double* k,
                                int64_t kl, const double* b, int64_t bl) noexcept {
  return convt_layer_set_weights_f64(l, c, lay, k, kl, b, bl);
}
inline convt_status get_weights(const convt_layer* l, convt_layout lay, float* k, int64_t kl,
                                float* b, int64_t bl) noexcept {
  return convt_layer_get_weights_f32(l, lay, k, kl, b, bl);
}
inline convt_status get_weights(const convt_layer* l, convt_layout lay, double* k, int64_t kl,
                                double* b, int64_t bl) noexcept {
  return convt_layer_get_weights_f64(l, lay, k, kl, b, bl);
}
inline convt_status forward(const convt_layer* l, const float* x, int64_t xl, int64_t n, int64_t s,
                            float* y, int64_t yl, int64_t o) noexcept {
  return convt_layer_forward_f32(l, x, xl, n, s, y, yl, o);
}
inline convt_status forward(const convt_layer* l, const double* x, int64_t xl, int64_t n, int64_t s,
                            double* y, int64_t yl, int64_t o) noexcept {
  return convt_layer_forward_f64(l, x, xl, n, s, y, yl, o);
}

inline convt_status backward(const convt_layer* l, const float* x, int64_t xl, int64_t n, int64_t s,
                             const float* g, int64_t gl, int64_t o, float* gx, int64_t gxl,
                             convt_layout lay, float* gk, int64_t gkl, float* gb,
                             int64_t gbl) noexcept {
  return convt_layer_backward_f32(l, x, xl, n, s, g, gl, o, gx, gxl, lay, gk, gkl, gb, gbl);
}
inline convt_status backward(const convt_layer* l, const double* x, int64_t xl, int64_t n,
                             int64_t s, const double* g, int64_t gl, int64_t o, double* gx,
                             int64_t gxl, convt_layout lay, double* gk, int64_t gkl, double* gb,
                             int64_t gbl) noexcept {
  return convt_layer_backward_f64(l, x, xl, n, s, g, gl, o, gx, gxl, lay, gk, gkl, gb, gbl);
}
inline convt_status activity_regularization(const convt_layer* l, const float* y, int64_t yl,
                                            int64_t n, int64_t o, double* p) noexcept {
  return convt_layer_activity_regularization_f32(l, y, yl, n, o, p);
}
inline convt_status activity_regularization(const convt_layer* l, const double* y, int64_t yl,
                                            int64_t n, int64_t o, double* p) noexcept {
  return convt_layer_activity_regularization_f64(l, y, yl, n, o, p);
}
inline convt_status push(convt_stream* st, const float* x, int64_t xl, int64_t s, float* y,
                         int64_t yl, int64_t* o) noexcept {
  return convt_stream_push_f32(st, x, xl, s, y, yl, o);
}
inline convt_status push(convt_stream* st, const double* x, int64_t xl, int64_t s, double* y,
                         int64_t yl, int64_t* o) noexcept {
  return convt_stream_push_f64(st, x, xl, s, y, yl, o);
}
inline convt_status flush(convt_stream* st, float* y, int64_t yl, int64_t* o) noexcept {
  return convt_stream_flush_f32(st, y, yl, o);
}
inline convt_status flush(convt_stream* st, double* y, int64_t yl, int64_t* o) noexcept {
  return convt_stream_flush_f64(st, y, yl, o);
}

// a * b * c for sizes the wrapper allocates, or 0 when any is < 1 or the product overflows:
// the library then rejects the call with its own message, which is the one users should see.
inline int64_t product_or_zero(int64_t a, int64_t b, int64_t c) noexcept {
  if (a < 1 || b < 1 || c < 1) return 0;
  const int64_t max = std::numeric_limits<int64_t>::max();
  if (a > max / b) return 0;
  if (a * b > max / c) return 0;
  return a * b * c;
}

}  // namespace detail

/* ===========================================================================================
 *  Layer
 * =========================================================================================== */

/** One Conv1DTranspose layer: owns a convt_layer*, destroyed with the Layer. Move-only. */
class Layer {
 public:
  /** convt_layer_create: Keras's defaults for everything else.
   *  @throws Error CONVT_E_INVALID_ARGUMENT for filters or kernel_size < 1 */
  Layer(int64_t filters, int64_t kernel_size) {
    check(convt_layer_create(filters, kernel_size, &handle_));
  }
  /** Adopts a handle from the C API (NULL gives an empty Layer); the Layer destroys it. */
  explicit Layer(convt_layer* handle) noexcept : handle_(handle) {}

  ~Layer() { convt_layer_destroy(handle_); }
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  /** The moved-from Layer is empty: get() is NULL and every call on it throws. */
  Layer(Layer&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Layer& operator=(Layer&& other) noexcept {
    if (this != &other) {
      convt_layer_destroy(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }

  /** The C handle, for calls the wrapper does not cover; still owned by the Layer. */
  convt_layer* get() const noexcept { return handle_; }
  /** Gives up ownership: the caller destroys the returned handle. */
  convt_layer* release() noexcept { return std::exchange(handle_, nullptr); }
  /** False for an empty (moved-from or released) Layer. */
  explicit operator bool() const noexcept { return handle_ != nullptr; }

  /* ---- parameters, by convt_param ------------------------------------------------------- */

  /** convt_layer_set_int: an int or enum parameter. */
  Layer& set_int(Param param, int64_t value) {
    check(convt_layer_set_int(handle_, static_cast<convt_param>(param), value));
    return *this;
  }
  /** convt_layer_get_int. */
  int64_t get_int(Param param) const {
    int64_t value = 0;
    check(convt_layer_get_int(handle_, static_cast<convt_param>(param), &value));
    return value;
  }
  /** convt_layer_set_double: ACTIVATION_ALPHA. */
  Layer& set_double(Param param, double value) {
    check(convt_layer_set_double(handle_, static_cast<convt_param>(param), value));
    return *this;
  }
  /** convt_layer_get_double. */
  double get_double(Param param) const {
    double value = 0.0;
    check(convt_layer_get_double(handle_, static_cast<convt_param>(param), &value));
    return value;
  }
  /** convt_layer_set_string: an enum by any of its names, or the layer's name. */
  Layer& set_string(Param param, const std::string& value) {
    check(convt_layer_set_string(handle_, static_cast<convt_param>(param), value.c_str()));
    return *this;
  }
  /** convt_layer_get_string: the canonical name, or the layer's name. */
  std::string get_string(Param param) const {
    const auto p = static_cast<convt_param>(param);
    int64_t length = 0;
    // Ask for the length first; a failure other than "does not fit" is the real error.
    const convt_status asked = convt_layer_get_string(handle_, p, nullptr, 0, &length);
    if (asked != CONVT_OK && asked != CONVT_E_SHAPE) check(asked);
    std::string value(static_cast<std::size_t>(length) + 1, '\0');
    check(convt_layer_get_string(handle_, p, value.data(), length + 1, &length));
    value.resize(static_cast<std::size_t>(length));
    return value;
  }

  /* ---- parameters, by name -------------------------------------------------------------- */

  int64_t filters() const { return get_int(Param::filters); }
  int64_t kernel_size() const { return get_int(Param::kernel_size); }
  /** 0 until set_weights, init_weights or set_in_channels fixes it. */
  int64_t in_channels() const { return get_int(Param::in_channels); }
  int64_t strides() const { return get_int(Param::strides); }
  int64_t dilation_rate() const { return get_int(Param::dilation_rate); }
  Padding padding() const { return static_cast<Padding>(get_int(Param::padding)); }
  /** -1 (CONVT_OUTPUT_PADDING_UNSET) while unset, as Keras's None. */
  int64_t output_padding() const { return get_int(Param::output_padding); }
  DataFormat data_format() const { return static_cast<DataFormat>(get_int(Param::data_format)); }
  int64_t groups() const { return get_int(Param::groups); }
  bool use_bias() const { return get_int(Param::use_bias) != 0; }
  std::string activation() const { return get_string(Param::activation); }
  Dtype dtype() const { return static_cast<Dtype>(get_int(Param::dtype)); }
  std::string name() const { return get_string(Param::name); }

  Layer& set_in_channels(int64_t c) { return set_int(Param::in_channels, c); }
  Layer& set_strides(int64_t s) { return set_int(Param::strides, s); }
  Layer& set_dilation_rate(int64_t d) { return set_int(Param::dilation_rate, d); }
  Layer& set_padding(Padding p) { return set_int(Param::padding, static_cast<convt_padding>(p)); }
  /** "valid", "same", "SAME_LOWER", "explicit", ... as convt_layer_set_string takes them. */
  Layer& set_padding(const std::string& name) { return set_string(Param::padding, name); }
  /** PyTorch's padding=p is set_pads(p, p). Sets EXPLICIT padding with these crops; on an
   *  error the three parameters keep their previous values. */
  Layer& set_pads(int64_t begin, int64_t end) {
    const int64_t old_begin = get_int(Param::pad_begin);
    const int64_t old_end = get_int(Param::pad_end);
    try {
      set_int(Param::pad_begin, begin);
      set_int(Param::pad_end, end);
      set_padding(Padding::explicit_pads);
    } catch (const Error&) {
      // Restoring values the layer held a moment ago cannot fail.
      convt_layer_set_int(handle_, CONVT_PARAM_PAD_BEGIN, old_begin);
      convt_layer_set_int(handle_, CONVT_PARAM_PAD_END, old_end);
      throw;
    }
    return *this;
  }
  /** -1 unsets it (Keras None). */
  Layer& set_output_padding(int64_t op) { return set_int(Param::output_padding, op); }
  Layer& set_data_format(DataFormat f) {
    return set_int(Param::data_format, static_cast<convt_data_format>(f));
  }
  Layer& set_groups(int64_t g) { return set_int(Param::groups, g); }
  Layer& set_use_bias(bool use_bias) { return set_int(Param::use_bias, use_bias ? 1 : 0); }
  /** A Keras 3 activation name: "relu", "leaky_relu", "swish", ... */
  Layer& set_activation(const std::string& name) { return set_string(Param::activation, name); }
  Layer& set_activation_alpha(double alpha) { return set_double(Param::activation_alpha, alpha); }
  Layer& set_dtype(Dtype d) { return set_int(Param::dtype, static_cast<convt_dtype>(d)); }
  Layer& set_name(const std::string& name) { return set_string(Param::name, name); }
  Layer& set_num_threads(int64_t n) { return set_int(Param::num_threads, n); }
  /** A Keras initializer name: "glorot_uniform", "he_normal", "zeros", ... */
  Layer& set_kernel_initializer(const std::string& name) {
    return set_string(Param::kernel_initializer, name);
  }
  Layer& set_bias_initializer(const std::string& name) {
    return set_string(Param::bias_initializer, name);
  }

  /* ---- weights -------------------------------------------------------------------------- */

  /** convt_layer_set_weights_f32 / _f64 by T. bias NULL with bias_len 0 when use_bias is 0.
   *  @param kernel_len, bias_len  element counts */
  template <class T>
  void set_weights(int64_t in_channels, Layout layout, const T* kernel, int64_t kernel_len,
                   const T* bias, int64_t bias_len) {
    detail::require_element<T>();
    check(detail::set_weights(handle_, in_channels, static_cast<convt_layout>(layout), kernel,
                              kernel_len, bias, bias_len));
  }
  /** The same with containers; an empty bias means none (use_bias 0). */
  template <class K, class B>
  void set_weights(int64_t in_channels, const K& kernel, const B& bias,
                   Layout layout = Layout::woi) {
    static_assert(std::is_same_v<detail::element_t<const K>, detail::element_t<const B>>,
                  "kernel and bias must have one element type");
    set_weights(in_channels, layout, std::data(kernel), detail::length(kernel),
                detail::data_or_null(bias), detail::length(bias));
  }

  /** convt_layer_get_weights_f32 / _f64 by T into the caller's buffers. */
  template <class T>
  void get_weights(Layout layout, T* kernel, int64_t kernel_len, T* bias, int64_t bias_len) const {
    detail::require_element<T>();
    check(detail::get_weights(handle_, static_cast<convt_layout>(layout), kernel, kernel_len, bias,
                              bias_len));
  }
  /** The same into containers of exactly the right sizes (an empty bias for use_bias 0). */
  template <class K, class B>
  void get_weights(Layout layout, K& kernel, B& bias) const {
    get_weights(layout, std::data(kernel), detail::length(kernel), detail::data_or_null(bias),
                detail::length(bias));
  }
  /** The kernel (in the layout asked for) and bias, in new vectors: get_weights<float>(). */
  template <class T>
  Weights<T> get_weights(Layout layout = Layout::woi) const {
    detail::require_element<T>();
    Weights<T> w;
    w.kernel.resize(kernel_elements());
    if (use_bias()) w.bias.resize(static_cast<std::size_t>(filters()));
    get_weights(layout, w.kernel, w.bias);
    return w;
  }

  /** convt_layer_init_weights: the layer's initializers for in_channels inputs, from seed;
   *  the same seed gives bitwise the same weights everywhere. */
  void init_weights(int64_t in_channels, uint64_t seed) {
    check(convt_layer_init_weights(handle_, in_channels, seed));
  }

  /* ---- shapes and the forward pass ------------------------------------------------------ */

  /** convt_layer_output_shape: {batch, out_steps, filters} or {batch, filters, out_steps}. */
  std::array<int64_t, 3> output_shape(int64_t batch, int64_t steps) const {
    std::array<int64_t, 3> shape{};
    check(convt_layer_output_shape(handle_, batch, steps, shape.data()));
    return shape;
  }
  /** The default output length for an input of `steps` steps. */
  int64_t output_steps(int64_t steps) const { return output_steps_for(1, steps); }

  /** convt_layer_forward_f32 / _f64 by T. Writes the first batch * filters * out_steps
   *  elements of output.
   *  @param input_len, output_len  element counts */
  template <class T>
  void forward(const T* input, int64_t input_len, int64_t batch, int64_t steps, T* output,
               int64_t output_len, int64_t out_steps) const {
    detail::require_element<T>();
    check(detail::forward(handle_, input, input_len, batch, steps, output, output_len, out_steps));
  }
  /** The same with containers: input's size is input_len, output's size output_len. */
  template <class In, class Out>
  void forward(const In& input, int64_t batch, int64_t steps, Out& output,
               int64_t out_steps) const {
    forward(std::data(input), detail::length(input), batch, steps, std::data(output),
            detail::length(output), out_steps);
  }
  /** The output of the given length (TF's output_shape, PyTorch's output_size), in a new
   *  vector of batch * filters * out_steps elements. */
  template <class In>
  std::vector<detail::element_t<const In>> forward(const In& input, int64_t batch, int64_t steps,
                                                   int64_t out_steps) const {
    using T = detail::element_t<const In>;
    detail::require_element<T>();
    const int64_t len = detail::product_or_zero(batch, filters(), out_steps);
    // A length the library rejects still gets one element, so that its message is the error.
    std::vector<T> output(static_cast<std::size_t>(len > 0 ? len : 1));
    forward(input, batch, steps, output, out_steps);
    return output;
  }
  /** The output of the default length (output_steps(steps)), in a new vector. */
  template <class In>
  std::vector<detail::element_t<const In>> forward(const In& input, int64_t batch,
                                                   int64_t steps) const {
    return forward(input, batch, steps, output_steps_for(batch, steps));
  }

  /* ---- training ------------------------------------------------------------------------- */

  /** convt_layer_backward_f32 / _f64 by T: dL/dinput, dL/dkernel (in `layout`) and dL/dbias
   *  for grad_output = dL/dy of the forward pass of length out_steps. A NULL gradient with
   *  length 0 is skipped.
   *  @param input_len, grad_output_len, grad_input_len, grad_kernel_len, grad_bias_len
   *         element counts */
  template <class T>
  void backward(const T* input, int64_t input_len, int64_t batch, int64_t steps,
                const T* grad_output, int64_t grad_output_len, int64_t out_steps, T* grad_input,
                int64_t grad_input_len, Layout layout, T* grad_kernel, int64_t grad_kernel_len,
                T* grad_bias, int64_t grad_bias_len) const {
    detail::require_element<T>();
    check(detail::backward(handle_, input, input_len, batch, steps, grad_output, grad_output_len,
                           out_steps, grad_input, grad_input_len, static_cast<convt_layout>(layout),
                           grad_kernel, grad_kernel_len, grad_bias, grad_bias_len));
  }
  /** Every gradient the layer has, in new vectors: the input's always, the kernel's (in
   *  `layout`) and the bias's only while trainable is 1 (and use_bias is 1 for the bias).
   *  out_steps is the forward pass's output length. */
  template <class In, class G>
  Gradients<detail::element_t<const In>> backward(const In& input, int64_t batch, int64_t steps,
                                                  const G& grad_output, int64_t out_steps,
                                                  Layout layout = Layout::woi) const {
    using T = detail::element_t<const In>;
    static_assert(std::is_same_v<T, detail::element_t<const G>>,
                  "input and grad_output must have one element type");
    Gradients<T> g;
    g.input.resize(std::size(input));
    if (get_int(Param::trainable) != 0) {
      g.kernel.resize(kernel_elements());
      if (use_bias()) g.bias.resize(static_cast<std::size_t>(filters()));
    }
    backward(std::data(input), detail::length(input), batch, steps, std::data(grad_output),
             detail::length(grad_output), out_steps, detail::data_or_null(g.input),
             detail::length(g.input), layout, detail::data_or_null(g.kernel),
             detail::length(g.kernel), detail::data_or_null(g.bias), detail::length(g.bias));
    return g;
  }

  /** convt_layer_regularization_loss: kernel_regularizer(kernel) + bias_regularizer(bias). */
  double regularization_loss() const {
    double loss = 0.0;
    check(convt_layer_regularization_loss(handle_, &loss));
    return loss;
  }
  /** convt_layer_activity_regularization_f32 / _f64 by T: activity_regularizer(y) / batch for
   *  an output of batch * filters * out_steps values (output_len, an element count). */
  template <class T>
  double activity_regularization(const T* output, int64_t output_len, int64_t batch,
                                 int64_t out_steps) const {
    detail::require_element<T>();
    double penalty = 0.0;
    check(detail::activity_regularization(handle_, output, output_len, batch, out_steps, &penalty));
    return penalty;
  }
  /** The same with a container of exactly batch * filters * out_steps values. */
  template <class C>
  double activity_regularization(const C& output, int64_t batch, int64_t out_steps) const {
    return activity_regularization(std::data(output), detail::length(output), batch, out_steps);
  }
  /** convt_layer_apply_constraints: projects the stored weights by the constraints. */
  void apply_constraints() { check(convt_layer_apply_constraints(handle_)); }
  /** convt_layer_workspace_size: the bytes one forward call with these arguments allocates. */
  int64_t workspace_size(int64_t batch, int64_t steps, int64_t out_steps) const {
    int64_t bytes = 0;
    check(convt_layer_workspace_size(handle_, batch, steps, out_steps, &bytes));
    return bytes;
  }

 private:
  // kernel_size * filters * in_channels / groups, or 1 before in_channels is known: the
  // library then refuses the call with CONVT_E_STATE (no weights yet), the error to show.
  std::size_t kernel_elements() const {
    const int64_t c = in_channels(), g = groups();
    const int64_t len =
        c > 0 && g > 0 ? detail::product_or_zero(kernel_size(), filters(), c / g) : 0;
    return static_cast<std::size_t>(len > 0 ? len : 1);
  }

  // The default out_steps, checked with this batch so that a bad batch reports itself.
  int64_t output_steps_for(int64_t batch, int64_t steps) const {
    const std::array<int64_t, 3> shape = output_shape(batch, steps);
    return data_format() == DataFormat::channels_first ? shape[2] : shape[1];
  }

  convt_layer* handle_ = nullptr;
};

/* ===========================================================================================
 *  Stream
 * =========================================================================================== */

/** A signal of `batch` items run through a Layer in chunks (convt_stream_*): owns a
 *  convt_stream*, destroyed with the Stream. Move-only. The Layer must outlive the Stream and
 *  keep its parameters and weights. One thread at a time. */
class Stream {
 public:
  /** convt_stream_create. @throws Error CONVT_E_STATE when the layer has no weights */
  Stream(const Layer& layer, int64_t batch) : batch_(batch), filters_(layer.filters()) {
    check(convt_stream_create(layer.get(), batch, &handle_));
  }
  ~Stream() { convt_stream_destroy(handle_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  /** The moved-from Stream is empty: get() is NULL and every call on it throws. */
  Stream(Stream&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)),
        batch_(other.batch_),
        filters_(other.filters_) {}
  Stream& operator=(Stream&& other) noexcept {
    if (this != &other) {
      convt_stream_destroy(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
      batch_ = other.batch_;
      filters_ = other.filters_;
    }
    return *this;
  }

  /** The C handle, still owned by the Stream. */
  convt_stream* get() const noexcept { return handle_; }
  explicit operator bool() const noexcept { return handle_ != nullptr; }

  /** convt_stream_max_output_steps: the steps the next push of `steps` steps writes (0: what
   *  flush would write now). */
  int64_t max_output_steps(int64_t steps) const {
    int64_t n = 0;
    check(convt_stream_max_output_steps(handle_, steps, &n));
    return n;
  }

  /** convt_stream_push_f32 / _f64 by T: consumes `steps` steps, writes the first
   *  batch * filters * n values of output and returns n, the output steps per item.
   *  @param input_len, output_len  element counts */
  template <class T>
  int64_t push(const T* input, int64_t input_len, int64_t steps, T* output, int64_t output_len) {
    detail::require_element<T>();
    int64_t n = 0;
    check(detail::push(handle_, input, input_len, steps, output, output_len, &n));
    return n;
  }
  /** The same with a chunk in a container; returns the output steps that became final, in
   *  a new vector of batch * filters * n values (the layer's data format). */
  template <class In>
  std::vector<detail::element_t<const In>> push(const In& input, int64_t steps) {
    using T = detail::element_t<const In>;
    std::vector<T> output(sized(max_output_steps(steps)));
    const int64_t n = push(detail::data_or_null(input), detail::length(input), steps,
                           detail::data_or_null(output), detail::length(output));
    output.resize(sized(n));
    return output;
  }

  /** convt_stream_flush_f32 / _f64 by T: writes the rest of the signal and returns its
   *  output steps per item; the stream then starts a new signal. */
  template <class T>
  int64_t flush(T* output, int64_t output_len) {
    detail::require_element<T>();
    int64_t n = 0;
    check(detail::flush(handle_, output, output_len, &n));
    return n;
  }
  /** The rest of the signal in a new vector: flush<float>() or flush<double>(). */
  template <class T>
  std::vector<T> flush() {
    std::vector<T> output(sized(max_output_steps(0)));
    const int64_t n = flush(detail::data_or_null(output), detail::length(output));
    output.resize(sized(n));
    return output;
  }

  /** convt_stream_reset: drops the signal so far. */
  void reset() { check(convt_stream_reset(handle_)); }

 private:
  // batch * filters * steps values; the library bounds steps by what it will write.
  std::size_t sized(int64_t steps) const {
    return static_cast<std::size_t>(detail::product_or_zero(batch_, filters_, steps));
  }

  convt_stream* handle_ = nullptr;
  int64_t batch_ = 0;
  int64_t filters_ = 0;
};

}  // namespace convt

#endif /* CONVT_CONVT_HPP */
