#include "layer.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "activation.hpp"
#include "checked.hpp"
#include "error.hpp"
#include "forward.hpp"
#include "initializers.hpp"
#include "names.hpp"

namespace convt::detail {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

enum class Kind { kInt, kEnum, kDouble, kString };

// Everything the accessors need to know about a parameter: its name for messages, its kind,
// its range, whether it is read-only or fixed once weights are set.
struct ParamSpec {
  const char* name;
  Kind kind;
  int64_t lo;
  int64_t hi;
  bool read_only;
  bool frozen_by_weights;
  NameKind names;  // for kEnum
};

constexpr ParamSpec kSpecs[kParamCount + 1] = {
    {"", Kind::kInt, 0, 0, true, false, NameKind::kPadding},
    {"filters", Kind::kInt, 1, kMaxInt, true, false, NameKind::kPadding},
    {"kernel_size", Kind::kInt, 1, kMaxInt, true, false, NameKind::kPadding},
    {"in_channels", Kind::kInt, 0, kMaxInt, false, true, NameKind::kPadding},
    {"strides", Kind::kInt, 1, kMaxInt, false, false, NameKind::kPadding},
    {"dilation_rate", Kind::kInt, 1, kMaxInt, false, false, NameKind::kPadding},
    {"padding", Kind::kEnum, 0, 3, false, false, NameKind::kPadding},
    {"pad_begin", Kind::kInt, 0, kMaxInt, false, false, NameKind::kPadding},
    {"pad_end", Kind::kInt, 0, kMaxInt, false, false, NameKind::kPadding},
    {"output_padding", Kind::kInt, -1, kMaxInt, false, false, NameKind::kPadding},
    {"data_format", Kind::kEnum, 0, 1, false, false, NameKind::kDataFormat},
    {"groups", Kind::kInt, 1, kMaxInt, false, true, NameKind::kPadding},
    {"use_bias", Kind::kInt, 0, 1, false, true, NameKind::kPadding},
    {"activation", Kind::kEnum, 0, kActivationCount - 1, false, false, NameKind::kActivation},
    {"activation_alpha", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"dtype", Kind::kEnum, 0, 1, false, true, NameKind::kDtype},
    {"input_steps", Kind::kInt, 0, kMaxInt, false, false, NameKind::kPadding},
    {"batch_size", Kind::kInt, 0, kMaxInt, false, false, NameKind::kPadding},
    {"name", Kind::kString, 0, 0, false, false, NameKind::kPadding},
    {"num_threads", Kind::kInt, 0, kMaxInt, false, false, NameKind::kPadding},
    {"kernel_initializer", Kind::kEnum, 0, kInitializerCount - 1, false, false,
     NameKind::kInitializer},
    {"bias_initializer", Kind::kEnum, 0, kInitializerCount - 1, false, false,
     NameKind::kInitializer},
    {"trainable", Kind::kInt, 0, 1, false, false, NameKind::kPadding},
};

const char* kind_word(Kind k) {
  switch (k) {
    case Kind::kInt:
      return "an int parameter: use convt_layer_set_int / convt_layer_get_int";
    case Kind::kEnum:
      return "an enum parameter: use convt_layer_set_int / _get_int with its value or "
             "convt_layer_set_string / _get_string with its name";
    case Kind::kDouble:
      return "a double parameter: use convt_layer_set_double / convt_layer_get_double";
    case Kind::kString:
    default:
      return "a string parameter: use convt_layer_set_string / convt_layer_get_string";
  }
}

// The spec of `param`, checked to be known and to be accessed through one of `allowed`.
const ParamSpec& spec_for(convt_param param, std::initializer_list<Kind> allowed,
                          const char* accessor) {
  if (param < 1 || param > kParamCount) {
    fail(CONVT_E_INVALID_ARGUMENT, "unknown parameter " + std::to_string(param) +
                                       "; expected a convt_param value from 1 to " +
                                       std::to_string(kParamCount));
  }
  const ParamSpec& s = kSpecs[param];
  if (std::find(allowed.begin(), allowed.end(), s.kind) == allowed.end()) {
    fail(CONVT_E_INVALID_ARGUMENT,
         std::string(accessor) + " cannot access " + s.name + ": it is " + kind_word(s.kind));
  }
  return s;
}

std::string range_text(const ParamSpec& s) {
  if (s.kind == Kind::kEnum) {
    std::string names;
    for (int32_t v = 0; v <= s.hi; ++v) {
      names += (v == 0 ? "" : ", ") + std::to_string(v) + " = " + name_of_value(s.names, v);
    }
    return "one of " + names;
  }
  if (s.hi == kMaxInt) return ">= " + std::to_string(s.lo);
  return "in [" + std::to_string(s.lo) + ", " + std::to_string(s.hi) + "]";
}

std::string default_name() {
  static std::atomic<int64_t> counter{0};
  const int64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  return n == 0 ? std::string("conv1d_transpose") : "conv1d_transpose_" + std::to_string(n);
}

template <typename T>
constexpr convt_dtype dtype_of() {
  return std::is_same<T, float>::value ? CONVT_DTYPE_FLOAT32 : CONVT_DTYPE_FLOAT64;
}

std::string product_text(const char* names, std::initializer_list<int64_t> factors,
                         int64_t result) {
  std::string s = std::string(names) + " = ";
  bool first = true;
  for (int64_t f : factors) {
    s += (first ? "" : "*") + std::to_string(f);
    first = false;
  }
  return s + " = " + std::to_string(result);
}

// "input has 95 values, expected batch*steps*in_channels = 2*4*12 = 96".
[[noreturn]] void wrong_length(const char* buffer, int64_t given, const std::string& expected) {
  fail(CONVT_E_SHAPE,
       std::string(buffer) + " has " + std::to_string(given) + " values, expected " + expected);
}

// The caller's weight buffers against the kernel's dims: layout, kernel_len, and a bias of
// `filters` values passed exactly when use_bias is 1. Shared by set_weights and get_weights.
void check_weight_buffers(const KernelDims& d, convt_layout layout, int64_t kernel_len,
                          bool use_bias, const void* bias, int64_t bias_len) {
  if (layout != CONVT_LAYOUT_WOI && layout != CONVT_LAYOUT_IOW) {
    fail(CONVT_E_INVALID_ARGUMENT, "unknown kernel layout " + std::to_string(layout) +
                                       "; expected CONVT_LAYOUT_WOI (0) or CONVT_LAYOUT_IOW (1)");
  }
  if (kernel_len != d.elements()) {
    wrong_length("kernel", kernel_len,
                 product_text("kernel_size*filters*in_channels/groups",
                              {d.kernel_size, d.filters, d.in_channels / d.groups}, d.elements()));
  }
  if (use_bias && (bias == nullptr || bias_len != d.filters)) {
    fail(CONVT_E_SHAPE,
         std::string("bias ") +
             (bias == nullptr ? "is NULL" : "has " + std::to_string(bias_len) + " values") +
             " but use_bias is 1: expected filters = " + std::to_string(d.filters) +
             " values (or set use_bias to 0 first)");
  }
  if (!use_bias && (bias != nullptr || bias_len != 0)) {
    fail(CONVT_E_SHAPE, "bias has " + std::to_string(bias_len) + " values" +
                            (bias != nullptr ? " (and is not NULL)" : "") +
                            " but use_bias is 0: expected bias NULL and bias_len 0");
  }
}

}  // namespace

Layer::Layer(int64_t filters, int64_t kernel_size)
    : alpha_(activation_default_alpha(CONVT_ACTIVATION_LINEAR)), name_(default_name()) {
  ints_[CONVT_PARAM_FILTERS] = filters;
  ints_[CONVT_PARAM_KERNEL_SIZE] = kernel_size;
  ints_[CONVT_PARAM_STRIDES] = 1;
  ints_[CONVT_PARAM_DILATION_RATE] = 1;
  ints_[CONVT_PARAM_PADDING] = CONVT_PADDING_VALID;
  ints_[CONVT_PARAM_OUTPUT_PADDING] = CONVT_OUTPUT_PADDING_UNSET;
  ints_[CONVT_PARAM_DATA_FORMAT] = CONVT_CHANNELS_LAST;
  ints_[CONVT_PARAM_GROUPS] = 1;
  ints_[CONVT_PARAM_USE_BIAS] = 1;
  ints_[CONVT_PARAM_ACTIVATION] = CONVT_ACTIVATION_LINEAR;
  ints_[CONVT_PARAM_DTYPE] = CONVT_DTYPE_FLOAT32;
  ints_[CONVT_PARAM_KERNEL_INITIALIZER] = CONVT_INITIALIZER_GLOROT_UNIFORM;
  ints_[CONVT_PARAM_BIAS_INITIALIZER] = CONVT_INITIALIZER_ZEROS;
  ints_[CONVT_PARAM_TRAINABLE] = 1;
}

// ---- parameters ------------------------------------------------------------------------------

void Layer::set_int(convt_param param, int64_t value) {
  const ParamSpec& s = spec_for(param, {Kind::kInt, Kind::kEnum}, "convt_layer_set_int");
  if (s.read_only) {
    fail(CONVT_E_INVALID_ARGUMENT, std::string(s.name) +
                                       " is read-only: it is fixed by convt_layer_create (it is " +
                                       std::to_string(p(param)) + ")");
  }
  if (value < s.lo || value > s.hi) {
    fail(CONVT_E_INVALID_ARGUMENT,
         std::string(s.name) + " must be " + range_text(s) + ", got " + std::to_string(value));
  }
  if (param == CONVT_PARAM_BIAS_INITIALIZER && value == CONVT_INITIALIZER_ORTHOGONAL) {
    fail(CONVT_E_INVALID_ARGUMENT,
         "bias_initializer cannot be orthogonal: it needs a tensor of rank >= 2 and the bias "
         "has rank 1 (Keras raises the same error)");
  }
  if (s.frozen_by_weights && has_weights_ && value != p(param)) {
    fail(CONVT_E_STATE, std::string(s.name) + " is fixed once weights are set (it is " +
                            std::to_string(p(param)) + ", asked for " + std::to_string(value) +
                            "); create a new layer to change it");
  }
  if (param == CONVT_PARAM_ACTIVATION && value != p(param)) {
    alpha_ = activation_default_alpha(static_cast<convt_activation>(value));
  }
  ints_[param] = value;
}

int64_t Layer::get_int(convt_param param) const {
  spec_for(param, {Kind::kInt, Kind::kEnum}, "convt_layer_get_int");
  return p(param);
}

void Layer::set_double(convt_param param, double value) {
  const ParamSpec& s = spec_for(param, {Kind::kDouble}, "convt_layer_set_double");
  const auto act = static_cast<convt_activation>(p(CONVT_PARAM_ACTIVATION));
  if (const char* problem = activation_alpha_problem(act, value)) {
    fail(CONVT_E_INVALID_ARGUMENT,
         std::string(s.name) + " " + std::to_string(value) + " is not accepted: " + problem);
  }
  alpha_ = value;
}

double Layer::get_double(convt_param param) const {
  spec_for(param, {Kind::kDouble}, "convt_layer_get_double");
  return alpha_;
}

void Layer::set_string(convt_param param, const char* value) {
  const ParamSpec& s = spec_for(param, {Kind::kEnum, Kind::kString}, "convt_layer_set_string");
  if (s.kind == Kind::kEnum) {
    set_int(param, value_of_name(s.names, value));
    return;
  }
  if (*value == '\0') fail(CONVT_E_INVALID_ARGUMENT, "name must not be empty");
  name_ = value;
}

std::string Layer::get_string(convt_param param) const {
  const ParamSpec& s = spec_for(param, {Kind::kEnum, Kind::kString}, "convt_layer_get_string");
  if (s.kind == Kind::kString) return name_;
  return name_of_value(s.names, static_cast<int32_t>(p(param)));
}

Geometry Layer::geometry() const {
  Geometry g;
  g.kernel_size = p(CONVT_PARAM_KERNEL_SIZE);
  g.strides = p(CONVT_PARAM_STRIDES);
  g.dilation = p(CONVT_PARAM_DILATION_RATE);
  g.padding = static_cast<convt_padding>(p(CONVT_PARAM_PADDING));
  g.pad_begin = p(CONVT_PARAM_PAD_BEGIN);
  g.pad_end = p(CONVT_PARAM_PAD_END);
  g.output_padding = p(CONVT_PARAM_OUTPUT_PADDING);
  return g;
}

// ---- weights -----------------------------------------------------------------------------------

void Layer::check_groups() const {
  const int64_t groups = p(CONVT_PARAM_GROUPS), filters = p(CONVT_PARAM_FILTERS);
  const int64_t channels = p(CONVT_PARAM_IN_CHANNELS);
  if (filters % groups != 0) {
    fail(CONVT_E_INVALID_ARGUMENT, "groups " + std::to_string(groups) +
                                       " does not divide filters " + std::to_string(filters));
  }
  if (channels != 0 && channels % groups != 0) {
    fail(CONVT_E_INVALID_ARGUMENT, "groups " + std::to_string(groups) +
                                       " does not divide in_channels " + std::to_string(channels));
  }
}

KernelDims Layer::dims_for(int64_t in_channels) const {
  const int64_t declared = p(CONVT_PARAM_IN_CHANNELS), groups = p(CONVT_PARAM_GROUPS);
  if (in_channels < 1) {
    fail(CONVT_E_SHAPE, "in_channels must be >= 1, got " + std::to_string(in_channels));
  }
  if (declared != 0 && in_channels != declared) {
    fail(CONVT_E_SHAPE, "in_channels " + std::to_string(in_channels) +
                            " does not match the layer's in_channels " + std::to_string(declared) +
                            (has_weights_ ? " (fixed by its weights)" : " (set before)"));
  }
  check_groups();
  if (in_channels % groups != 0) {
    fail(CONVT_E_SHAPE, "in_channels " + std::to_string(in_channels) +
                            " is not divisible by groups " + std::to_string(groups));
  }
  KernelDims d;
  d.kernel_size = p(CONVT_PARAM_KERNEL_SIZE);
  d.filters = p(CONVT_PARAM_FILTERS);
  d.in_channels = in_channels;
  d.groups = groups;
  d.filter_block = choose_filter_block(d.kernel_size, d.filters / groups);
  checked_mul(checked_mul(d.kernel_size, d.filters, "kernel_size*filters"), in_channels / groups,
              "kernel_size*filters*in_channels/groups");
  return d;
}

template <typename T>
void Layer::check_dtype(const char* function) const {
  const auto want = static_cast<convt_dtype>(p(CONVT_PARAM_DTYPE));
  if (want != dtype_of<T>()) {
    const char* suffix = want == CONVT_DTYPE_FLOAT32 ? "_f32" : "_f64";
    fail(CONVT_E_STATE, std::string(function) + (std::is_same<T, float>::value ? "_f32" : "_f64") +
                            " called on a " + name_of_value(NameKind::kDtype, want) +
                            " layer; use the " + suffix +
                            " function, or set dtype before weights are set");
  }
}

template <>
Layer::Weights<float>& Layer::weights<float>() {
  return f32_;
}
template <>
Layer::Weights<double>& Layer::weights<double>() {
  return f64_;
}
template <>
const Layer::Weights<float>& Layer::weights<float>() const {
  return f32_;
}
template <>
const Layer::Weights<double>& Layer::weights<double>() const {
  return f64_;
}

template <typename T>
void Layer::install(const KernelDims& d, convt_layout layout, const T* kernel, const T* bias) {
  Weights<T> w;  // built aside, so that an allocation failure leaves the layer as it was
  w.packed.resize(static_cast<size_t>(d.elements()));
  pack_kernel(d, layout, kernel, w.packed.data());
  if (bias != nullptr) w.bias.assign(bias, bias + d.filters);
  weights<T>() = std::move(w);
  ints_[CONVT_PARAM_IN_CHANNELS] = d.in_channels;
  has_weights_ = true;
}

template <typename T>
void Layer::set_weights(int64_t in_channels, convt_layout layout, const T* kernel,
                        int64_t kernel_len, const T* bias, int64_t bias_len) {
  check_dtype<T>("convt_layer_set_weights");
  const KernelDims d = dims_for(in_channels);
  check_weight_buffers(d, layout, kernel_len, p(CONVT_PARAM_USE_BIAS) != 0, bias, bias_len);
  install(d, layout, kernel, bias);
}

template <typename T>
void Layer::get_weights(convt_layout layout, T* kernel, int64_t kernel_len, T* bias,
                        int64_t bias_len) const {
  check_dtype<T>("convt_layer_get_weights");
  if (!has_weights_) fail(CONVT_E_STATE, "the layer has no weights yet: set or init them first");
  const KernelDims d = dims_for(p(CONVT_PARAM_IN_CHANNELS));
  const bool use_bias = p(CONVT_PARAM_USE_BIAS) != 0;
  check_weight_buffers(d, layout, kernel_len, use_bias, bias, bias_len);
  const Weights<T>& w = weights<T>();
  unpack_kernel(d, layout, w.packed.data(), kernel);
  if (use_bias) std::copy(w.bias.begin(), w.bias.end(), bias);
}

void Layer::init_weights(int64_t in_channels, uint64_t seed) {
  const KernelDims d = dims_for(in_channels);
  const auto kernel_init = static_cast<convt_initializer>(p(CONVT_PARAM_KERNEL_INITIALIZER));
  const auto bias_init = static_cast<convt_initializer>(p(CONVT_PARAM_BIAS_INITIALIZER));
  const bool use_bias = p(CONVT_PARAM_USE_BIAS) != 0;
  // Keras's kernel shape (K, F, C/G) is the WOI layout.
  std::vector<double> kernel(static_cast<size_t>(d.elements()));
  fill_initializer(kernel_init, {d.kernel_size, d.filters, d.channels_per_group()}, seed, 0,
                   kernel.data());
  std::vector<double> bias(use_bias ? static_cast<size_t>(d.filters) : 0);
  if (use_bias) fill_initializer(bias_init, {d.filters}, seed, 1, bias.data());
  if (p(CONVT_PARAM_DTYPE) == CONVT_DTYPE_FLOAT64) {
    install<double>(d, CONVT_LAYOUT_WOI, kernel.data(), use_bias ? bias.data() : nullptr);
  } else {
    const std::vector<float> k32(kernel.begin(), kernel.end());
    const std::vector<float> b32(bias.begin(), bias.end());
    install<float>(d, CONVT_LAYOUT_WOI, k32.data(), use_bias ? b32.data() : nullptr);
  }
}

// ---- shapes and forward ------------------------------------------------------------------------

std::array<int64_t, 3> Layer::output_shape(int64_t batch, int64_t steps) const {
  if (batch < 1 || steps < 1) {
    fail(CONVT_E_SHAPE, "batch and steps must be >= 1, got batch " + std::to_string(batch) +
                            " and steps " + std::to_string(steps));
  }
  check_groups();
  const int64_t out = output_range(geometry(), steps).fallback;
  const int64_t filters = p(CONVT_PARAM_FILTERS);
  checked_mul(checked_mul(batch, filters, "batch*filters"), out, "batch*filters*out_steps");
  if (p(CONVT_PARAM_DATA_FORMAT) == CONVT_CHANNELS_FIRST) return {batch, filters, out};
  return {batch, out, filters};
}

template <typename T>
Prepared<T> Layer::prepare(int64_t input_len, int64_t batch, int64_t steps, int64_t output_len,
                           int64_t out_steps) const {
  check_dtype<T>("convt_layer_forward");
  if (!has_weights_) {
    fail(CONVT_E_STATE,
         "forward before weights: call convt_layer_set_weights_* or "
         "convt_layer_init_weights first");
  }
  output_shape(batch, steps);  // batch, steps, groups and the parameter combination
  const int64_t want_steps = p(CONVT_PARAM_INPUT_STEPS), want_batch = p(CONVT_PARAM_BATCH_SIZE);
  if (want_steps != 0 && steps != want_steps) {
    fail(CONVT_E_SHAPE, "steps " + std::to_string(steps) +
                            " does not match the layer's input_steps " +
                            std::to_string(want_steps));
  }
  if (want_batch != 0 && batch != want_batch) {
    fail(CONVT_E_SHAPE, "batch " + std::to_string(batch) +
                            " does not match the layer's batch_size " + std::to_string(want_batch));
  }
  Prepared<T> r;
  r.view = view<T>();
  r.plan = plan_output(r.view.geometry, steps, out_steps);
  r.batch = batch;
  r.steps = steps;
  const int64_t C = r.view.dims.in_channels, F = r.view.dims.filters, L_out = r.plan.out_steps;
  const int64_t in_expected =
      checked_mul(checked_mul(batch, steps, "batch*steps"), C, "batch*steps*in_channels");
  if (input_len != in_expected) {
    wrong_length("input", input_len,
                 product_text("batch*steps*in_channels", {batch, steps, C}, in_expected));
  }
  const int64_t out_needed =
      checked_mul(checked_mul(batch, F, "batch*filters"), L_out, "batch*filters*out_steps");
  if (output_len < out_needed) {
    fail(CONVT_E_SHAPE, "output has room for " + std::to_string(output_len) +
                            " values, expected at least " +
                            product_text("batch*filters*out_steps", {batch, F, L_out}, out_needed));
  }
  return r;
}

template <typename T>
LayerView<T> Layer::view() const {
  LayerView<T> v;
  v.geometry = geometry();
  v.dims = dims_for(p(CONVT_PARAM_IN_CHANNELS));
  v.channels_last = p(CONVT_PARAM_DATA_FORMAT) == CONVT_CHANNELS_LAST;
  v.activation = static_cast<convt_activation>(p(CONVT_PARAM_ACTIVATION));
  v.alpha = alpha_;
  v.num_threads = p(CONVT_PARAM_NUM_THREADS);
  const Weights<T>& w = weights<T>();
  v.packed = w.packed.data();
  v.bias = w.bias.empty() ? nullptr : w.bias.data();
  return v;
}

template <typename T>
void Layer::forward(const T* input, int64_t input_len, int64_t batch, int64_t steps, T* output,
                    int64_t output_len, int64_t out_steps) const {
  const Prepared<T> r = prepare<T>(input_len, batch, steps, output_len, out_steps);
  run_forward(r.view, r.plan, r.batch, r.steps, input, output);
}

template void Layer::set_weights<float>(int64_t, convt_layout, const float*, int64_t, const float*,
                                        int64_t);
template void Layer::set_weights<double>(int64_t, convt_layout, const double*, int64_t,
                                         const double*, int64_t);
template void Layer::get_weights<float>(convt_layout, float*, int64_t, float*, int64_t) const;
template void Layer::get_weights<double>(convt_layout, double*, int64_t, double*, int64_t) const;
template void Layer::forward<float>(const float*, int64_t, int64_t, int64_t, float*, int64_t,
                                    int64_t) const;
template void Layer::forward<double>(const double*, int64_t, int64_t, int64_t, double*, int64_t,
                                     int64_t) const;
template Prepared<float> Layer::prepare<float>(int64_t, int64_t, int64_t, int64_t, int64_t) const;
template Prepared<double> Layer::prepare<double>(int64_t, int64_t, int64_t, int64_t, int64_t) const;
template LayerView<float> Layer::view<float>() const;
template LayerView<double> Layer::view<double>() const;

}  // namespace convt::detail
