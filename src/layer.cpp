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
#include "lengths.hpp"
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
    {"kernel_regularizer", Kind::kEnum, 0, kRegularizerCount - 1, false, false,
     NameKind::kRegularizer},
    {"kernel_regularizer_l1", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"kernel_regularizer_l2", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"bias_regularizer", Kind::kEnum, 0, kRegularizerCount - 1, false, false,
     NameKind::kRegularizer},
    {"bias_regularizer_l1", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"bias_regularizer_l2", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"activity_regularizer", Kind::kEnum, 0, kRegularizerCount - 1, false, false,
     NameKind::kRegularizer},
    {"activity_regularizer_l1", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"activity_regularizer_l2", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"kernel_constraint", Kind::kEnum, 0, kConstraintCount - 1, false, false,
     NameKind::kConstraint},
    {"kernel_constraint_min_value", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"kernel_constraint_max_value", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"kernel_constraint_rate", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"kernel_constraint_axes", Kind::kInt, 1, 7, false, false, NameKind::kPadding},
    {"bias_constraint", Kind::kEnum, 0, kConstraintCount - 1, false, false, NameKind::kConstraint},
    {"bias_constraint_min_value", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"bias_constraint_max_value", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"bias_constraint_rate", Kind::kDouble, 0, 0, false, false, NameKind::kPadding},
    {"backward_regularization", Kind::kInt, 0, 1, false, false, NameKind::kPadding},
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

// The caller's weight buffers against the kernel's dims: layout, kernel_len, and a bias of
// `filters` values passed exactly when use_bias is 1. Shared by set_weights and get_weights.
void check_weight_buffers(const KernelDims& d, convt_layout layout, int64_t kernel_len,
                          bool use_bias, const void* bias, int64_t bias_len) {
  check_layout(layout);
  expect_length("kernel", kernel_len, "kernel_size*filters*in_channels/groups",
                {d.kernel_size, d.filters, d.channels_per_group()});
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
  doubles_.fill(std::numeric_limits<double>::quiet_NaN());  // no regularizer, no constraint
  ints_[CONVT_PARAM_KERNEL_CONSTRAINT_AXES] = 1;            // Keras's axis=0
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
  if (dependent_count(param) > 0 && value != p(param)) {  // a new regularizer or constraint
    const std::array<double, 3> defaults = kind_defaults(param, static_cast<int32_t>(value));
    for (int k = 0; k < dependent_count(param); ++k) doubles_[param + 1 + k] = defaults[k];
  }
  ints_[param] = value;
}

int64_t Layer::get_int(convt_param param) const {
  spec_for(param, {Kind::kInt, Kind::kEnum}, "convt_layer_get_int");
  return p(param);
}

void Layer::set_double(convt_param param, double value) {
  const ParamSpec& s = spec_for(param, {Kind::kDouble}, "convt_layer_set_double");
  if (const convt_param owner = owner_of(param)) {  // a regularizer's or constraint's argument
    if (std::isnan(doubles_[param])) {
      fail(CONVT_E_INVALID_ARGUMENT,
           std::string(s.name) + " does not apply: " + kSpecs[owner].name + " is \"" +
               name_of_value(kSpecs[owner].names, static_cast<int32_t>(p(owner))) +
               "\", which has no such argument; set " + kSpecs[owner].name + " first");
    }
    if (const char* problem = double_problem(param, value)) {
      fail(CONVT_E_INVALID_ARGUMENT,
           std::string(s.name) + " " + std::to_string(value) + " is not accepted: " + problem);
    }
    doubles_[param] = value;
    return;
  }
  const auto act = static_cast<convt_activation>(p(CONVT_PARAM_ACTIVATION));
  if (const char* problem = activation_alpha_problem(act, value)) {
    fail(CONVT_E_INVALID_ARGUMENT,
         std::string(s.name) + " " + std::to_string(value) + " is not accepted: " + problem);
  }
  alpha_ = value;
}

double Layer::get_double(convt_param param) const {
  spec_for(param, {Kind::kDouble}, "convt_layer_get_double");
  return param == CONVT_PARAM_ACTIVATION_ALPHA ? alpha_ : doubles_[param];
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
AlignedVector<T> Layer::panels_for(const KernelDims& d, const std::vector<T>& packed) {
  AlignedVector<T> panels;
  if constexpr (std::is_same_v<T, float>) {
    if (fused_kernel_applies(d)) {
      panels.resize(static_cast<size_t>(panel_elements(d)));
      pack_panels(d, packed.data(), panels.data());
    }
  }
  return panels;
}

template <typename T>
void Layer::install(const KernelDims& d, convt_layout layout, const T* kernel, const T* bias) {
  Weights<T> w;  // built aside, so that an allocation failure leaves the layer as it was
  w.packed.resize(static_cast<size_t>(d.elements()));
  pack_kernel(d, layout, kernel, w.packed.data());
  w.panels = panels_for(d, w.packed);
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
Prepared<T> Layer::prepare_call(int64_t batch, int64_t steps, int64_t out_steps) const {
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
  return r;
}

template <typename T>
Prepared<T> Layer::prepare(int64_t input_len, int64_t batch, int64_t steps, int64_t output_len,
                           int64_t out_steps) const {
  Prepared<T> r = prepare_call<T>(batch, steps, out_steps);
  const int64_t C = r.view.dims.in_channels, F = r.view.dims.filters, L_out = r.plan.out_steps;
  expect_length("input", input_len, "batch*steps*in_channels", {batch, steps, C});
  expect_room("output", output_len, "batch*filters*out_steps", {batch, F, L_out});
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
  v.panels = w.panels.empty() ? nullptr : w.panels.data();
  v.bias = w.bias.empty() ? nullptr : w.bias.data();
  return v;
}

int64_t Layer::workspace_size(int64_t batch, int64_t steps, int64_t out_steps) const {
  if (p(CONVT_PARAM_DTYPE) == CONVT_DTYPE_FLOAT64) {
    const Prepared<double> r = prepare_call<double>(batch, steps, out_steps);
    return forward_workspace_bytes(r.view, r.plan, batch, steps);
  }
  const Prepared<float> r = prepare_call<float>(batch, steps, out_steps);
  return forward_workspace_bytes(r.view, r.plan, batch, steps);
}

template <typename T>
void Layer::forward(const T* input, int64_t input_len, int64_t batch, int64_t steps, T* output,
                    int64_t output_len, int64_t out_steps) const {
  const Prepared<T> r = prepare<T>(input_len, batch, steps, output_len, out_steps);
  run_forward(r.view, r.plan, r.batch, r.steps, input, output);
}

// ---- training ------------------------------------------------------------------------------

Penalty Layer::penalty(convt_param owner) const {
  Penalty pen;  // a factor the regularizer does not have (NaN) is 0
  if (p(owner) == CONVT_REGULARIZER_NONE) return pen;
  if (!std::isnan(doubles_[owner + 1])) pen.l1 = doubles_[owner + 1];
  if (!std::isnan(doubles_[owner + 2])) pen.l2 = doubles_[owner + 2];
  return pen;
}

Constraint Layer::constraint(convt_param owner) const {
  Constraint c;
  c.kind = static_cast<convt_constraint>(p(owner));
  c.min_value = doubles_[owner + 1];
  c.max_value = doubles_[owner + 2];
  c.rate = doubles_[owner + 3];
  c.axes = owner == CONVT_PARAM_KERNEL_CONSTRAINT ? p(CONVT_PARAM_KERNEL_CONSTRAINT_AXES) : 1;
  return c;
}

template <typename T>
void Layer::backward(const T* input, int64_t input_len, int64_t batch, int64_t steps,
                     const T* grad_output, int64_t grad_output_len, int64_t out_steps,
                     const Gradients<T>& grads) const {
  check_dtype<T>("convt_layer_backward");
  if (!has_weights_) {
    fail(CONVT_E_STATE,
         "backward before weights: call convt_layer_set_weights_* or convt_layer_init_weights "
         "first");
  }
  // Forward's rules; grad_output is checked below for its exact length.
  const Prepared<T> r = prepare<T>(input_len, batch, steps, kMaxInt, out_steps);
  const int64_t F = r.view.dims.filters, L_out = r.plan.out_steps;
  expect_length("grad_output", grad_output_len, "batch*filters*out_steps", {batch, F, L_out});
  if (p(CONVT_PARAM_TRAINABLE) == 0 && (grads.kernel != nullptr || grads.bias != nullptr)) {
    fail(CONVT_E_STATE, std::string("trainable is 0: the layer's weights are frozen, so ") +
                            (grads.kernel != nullptr ? "grad_kernel" : "grad_bias") +
                            " cannot be asked for; pass NULL with length 0 (grad_input still "
                            "works), or set trainable to 1");
  }
  check_gradients(r.view.dims, r.view.bias != nullptr, input_len, grads);
  Penalties pen;
  if (p(CONVT_PARAM_BACKWARD_REGULARIZATION) != 0) {
    pen.kernel = penalty(CONVT_PARAM_KERNEL_REGULARIZER);
    pen.bias = penalty(CONVT_PARAM_BIAS_REGULARIZER);
    pen.activity = penalty(CONVT_PARAM_ACTIVITY_REGULARIZER);
  }
  run_backward(r.view, r.plan, batch, steps, input, grad_output, pen, grads);
}

double Layer::regularization_loss() const {
  if (!has_weights_) fail(CONVT_E_STATE, "the layer has no weights yet: set or init them first");
  if (p(CONVT_PARAM_TRAINABLE) == 0) return 0.0;  // Keras: trainable weights only
  const Penalty kernel = penalty(CONVT_PARAM_KERNEL_REGULARIZER);
  const Penalty bias = penalty(CONVT_PARAM_BIAS_REGULARIZER);
  const auto sum = [&](const auto& w) {  // the packed order holds every weight once
    return penalty_value(kernel, w.packed.data(), static_cast<int64_t>(w.packed.size())) +
           penalty_value(bias, w.bias.data(), static_cast<int64_t>(w.bias.size()));
  };
  return p(CONVT_PARAM_DTYPE) == CONVT_DTYPE_FLOAT64 ? sum(f64_) : sum(f32_);
}

template <typename T>
double Layer::activity_regularization(const T* output, int64_t output_len, int64_t batch,
                                      int64_t out_steps) const {
  check_dtype<T>("convt_layer_activity_regularization");
  if (batch < 1 || out_steps < 1) {
    fail(CONVT_E_SHAPE, "batch and out_steps must be >= 1, got batch " + std::to_string(batch) +
                            " and out_steps " + std::to_string(out_steps));
  }
  const int64_t F = p(CONVT_PARAM_FILTERS);
  expect_length("output", output_len, "batch*filters*out_steps", {batch, F, out_steps});
  return penalty_value(penalty(CONVT_PARAM_ACTIVITY_REGULARIZER), output, output_len) /
         static_cast<double>(batch);
}

void Layer::apply_constraints() {
  if (!has_weights_) fail(CONVT_E_STATE, "the layer has no weights yet: set or init them first");
  const Constraint kernel = constraint(CONVT_PARAM_KERNEL_CONSTRAINT);
  const Constraint bias = constraint(CONVT_PARAM_BIAS_CONSTRAINT);
  check_constraint(kernel, "kernel_constraint");
  check_constraint(bias, "bias_constraint");
  if (p(CONVT_PARAM_TRAINABLE) == 0) return;  // Keras's optimizer leaves frozen weights alone
  const KernelDims d = dims_for(p(CONVT_PARAM_IN_CHANNELS));
  const auto project = [&](auto& w) {
    using T = typename std::decay_t<decltype(w.packed)>::value_type;
    // Keras's kernel is (K, F, C/G), the WOI layout: project copies in it, then commit, so
    // that a failed allocation changes nothing.
    const bool on_kernel = kernel.kind != CONVT_CONSTRAINT_NONE;
    std::vector<T> packed(on_kernel ? w.packed.size() : 0), b(w.bias);
    if (on_kernel) {
      std::vector<T> woi(w.packed.size());
      unpack_kernel(d, CONVT_LAYOUT_WOI, w.packed.data(), woi.data());
      apply_constraint(kernel, {d.kernel_size, d.filters, d.channels_per_group()}, woi.data());
      pack_kernel(d, CONVT_LAYOUT_WOI, woi.data(), packed.data());
    }
    auto panels = on_kernel ? panels_for(d, packed) : decltype(w.panels)();
    if (!b.empty()) apply_constraint(bias, {d.filters, 1, 1}, b.data());
    if (on_kernel) {
      w.packed.swap(packed);
      w.panels.swap(panels);
    }
    w.bias.swap(b);
  };
  if (p(CONVT_PARAM_DTYPE) == CONVT_DTYPE_FLOAT64) {
    project(f64_);
  } else {
    project(f32_);
  }
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
template Prepared<float> Layer::prepare_call<float>(int64_t, int64_t, int64_t) const;
template Prepared<double> Layer::prepare_call<double>(int64_t, int64_t, int64_t) const;
template Prepared<float> Layer::prepare<float>(int64_t, int64_t, int64_t, int64_t, int64_t) const;
template Prepared<double> Layer::prepare<double>(int64_t, int64_t, int64_t, int64_t, int64_t) const;
template LayerView<float> Layer::view<float>() const;
template LayerView<double> Layer::view<double>() const;
template void Layer::backward<float>(const float*, int64_t, int64_t, int64_t, const float*, int64_t,
                                     int64_t, const Gradients<float>&) const;
template void Layer::backward<double>(const double*, int64_t, int64_t, int64_t, const double*,
                                      int64_t, int64_t, const Gradients<double>&) const;
template double Layer::activity_regularization<float>(const float*, int64_t, int64_t,
                                                      int64_t) const;
template double Layer::activity_regularization<double>(const double*, int64_t, int64_t,
                                                       int64_t) const;

}  // namespace convt::detail
