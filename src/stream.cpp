#include "stream.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>
#include <type_traits>

#include "activation.hpp"
#include "checked.hpp"
#include "col2im.hpp"
#include "error.hpp"
#include "gemm.hpp"
#include "lengths.hpp"
#include "names.hpp"

namespace convt::detail {
namespace {

// Bytes a pass's columns and new workspace steps take at most (but one row): small enough to
// stay in L2 while col2im consumes them, so a long chunk costs no more memory than a short one.
constexpr int64_t kPassBytes = int64_t{256} * 1024;

template <typename T>
constexpr convt_dtype dtype_of() {
  return std::is_same<T, float>::value ? CONVT_DTYPE_FLOAT32 : CONVT_DTYPE_FLOAT64;
}

const char* suffix_of(convt_dtype d) { return d == CONVT_DTYPE_FLOAT64 ? "_f64" : "_f32"; }

// A signal length whose output exists, to read the padding table's constants off: only
// EXPLICIT pads can empty the output, and (probe - 1)*S >= pad_begin + pad_end + 2 leaves at
// least K_eff + 2 steps.
int64_t probe_steps(const Geometry& g) {
  if (g.padding != CONVT_PADDING_EXPLICIT) return 2;
  int64_t probe = 0;
  if (__builtin_add_overflow(g.pad_begin / g.strides, g.pad_end / g.strides, &probe) ||
      probe > kMaxElements) {
    fail(CONVT_E_SHAPE, "pad_begin " + std::to_string(g.pad_begin) + " and pad_end " +
                            std::to_string(g.pad_end) +
                            " crop more steps than any signal can have: no stream of this layer "
                            "could emit a step");
  }
  return probe + 3;
}

bool same_geometry(const Geometry& a, const Geometry& b) {
  return a.kernel_size == b.kernel_size && a.strides == b.strides && a.dilation == b.dilation &&
         a.padding == b.padding && a.pad_begin == b.pad_begin && a.pad_end == b.pad_end &&
         a.output_padding == b.output_padding;
}

bool same_dims(const KernelDims& a, const KernelDims& b) {
  return a.kernel_size == b.kernel_size && a.filters == b.filters &&
         a.in_channels == b.in_channels && a.groups == b.groups && a.block() == b.block();
}

// Activations without a parameter have alpha NaN.
bool same_alpha(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

template <>
Stream::Buffers<float>& Stream::buffers<float>() noexcept {
  return f32_;
}
template <>
Stream::Buffers<double>& Stream::buffers<double>() noexcept {
  return f64_;
}

Stream::Stream(const Layer& layer, int64_t batch)
    : layer_(&layer),
      channels_last_(true),
      activation_(CONVT_ACTIVATION_LINEAR),
      alpha_(0),
      use_bias_(false),
      dtype_(static_cast<convt_dtype>(layer.get_int(CONVT_PARAM_DTYPE))),
      batch_(batch) {
  if (!layer.has_weights()) {
    fail(CONVT_E_STATE,
         "the layer has no weights yet: call convt_layer_set_weights_* or "
         "convt_layer_init_weights before creating a stream");
  }
  if (batch < 1) fail(CONVT_E_SHAPE, "batch must be >= 1, got " + std::to_string(batch));
  const int64_t want_batch = layer.get_int(CONVT_PARAM_BATCH_SIZE);
  if (want_batch != 0 && batch != want_batch) {
    fail(CONVT_E_SHAPE, "batch " + std::to_string(batch) +
                            " does not match the layer's batch_size " + std::to_string(want_batch));
  }
  const auto take = [this](const auto& v) {
    geometry_ = v.geometry;
    dims_ = v.dims;
    channels_last_ = v.channels_last;
    activation_ = v.activation;
    alpha_ = v.alpha;
    use_bias_ = v.bias != nullptr;
  };
  if (dtype_ == CONVT_DTYPE_FLOAT64) {
    take(layer.view<double>());
  } else {
    take(layer.view<float>());
  }
  if (activation_along_axis(activation_) && !channels_last_) {
    fail(CONVT_E_UNSUPPORTED,
         std::string(name_of_value(NameKind::kActivation, activation_)) +
             " acts along the output's last axis, which is time for channels_first: no step is "
             "final before the signal ends, so it cannot stream (use channels_last, where it "
             "acts along filters, or forward)");
  }

  // The padding table's constants (SEMANTICS.md §2 is linear in the length): P_b and
  // c = L_out(T) - T*S, read at one length whose output exists. Also checks output_padding.
  const Geometry& g = geometry_;
  const int64_t probe = probe_steps(g);
  const OutputRange range = output_range(g, probe);
  crop_begin_ = plan_output(g, probe, range.fallback).crop_begin;
  length_offset_ = range.fallback - checked_mul(probe, g.strides, "steps*strides");
  delay_ = std::max(crop_begin_, -length_offset_);
  held_ = std::max<int64_t>(0, effective_kernel(g) - g.strides - crop_begin_ + delay_);
  tail_ = std::max<int64_t>(0, length_offset_ + delay_);

  const int64_t F = dims_.filters;
  const int64_t K = dims_.kernel_size;
  // BLAS takes 32-bit dimensions: checked here and per push before any write, so a push
  // never fails halfway.
  check_gemm_dim(dims_.in_channels, "in_channels");
  check_gemm_dim(dims_.row_length(), "kernel_size*filters/groups");
  const int64_t element = dtype_ == CONVT_DTYPE_FLOAT64 ? 8 : 4;
  const int64_t row_bytes =
      checked_mul(checked_add(checked_mul(K, dims_.block(), "kernel_size*filters"),
                              checked_mul(g.strides, F, "strides*filters"), "pass row"),
                  element, "pass row bytes");
  pass_rows_ = std::clamp<int64_t>(kPassBytes / row_bytes, 1, INT_MAX);
  checked_mul(checked_mul(batch, held_, "batch*held steps"), F, "batch*held steps*filters");
  scratch_.resize(
      static_cast<size_t>(channels_last_ ? activation_scratch_doubles(activation_, F) : 0));
  if (dtype_ == CONVT_DTYPE_FLOAT64) {
    start<double>();
  } else {
    start<float>();
  }
}

template <typename T>
void Stream::start() {
  Buffers<T>& b = buffers<T>();
  b.state.resize(static_cast<size_t>(batch_ * held_ * dims_.filters));
  reserve<T>(1);
  restart(current_view<T>());
}

template <typename T>
LayerView<T> Stream::current_view() const {
  if (dtype_of<T>() != dtype_) {
    fail(CONVT_E_STATE, std::string("a ") + suffix_of(dtype_of<T>()) + " call on a stream of a " +
                            name_of_value(NameKind::kDtype, dtype_) + " layer: use the " +
                            suffix_of(dtype_) + " functions");
  }
  const LayerView<T> v = layer_->view<T>();
  if (!same_geometry(v.geometry, geometry_) || !same_dims(v.dims, dims_) ||
      v.channels_last != channels_last_ || v.activation != activation_ ||
      !same_alpha(v.alpha, alpha_) || (v.bias != nullptr) != use_bias_) {
    fail(CONVT_E_STATE,
         "the layer's parameters changed after this stream was created; a layer must keep its "
         "parameters while it has streams: create a new stream");
  }
  return v;
}

int64_t Stream::emitted_after(int64_t consumed) const {
  return std::max<int64_t>(
      0, checked_mul(consumed, geometry_.strides, "input steps*strides") - delay_);
}

int64_t Stream::length_after(int64_t consumed) const {
  try {
    return output_range(geometry_, consumed).fallback;
  } catch (const Error& e) {
    fail(e.status(), std::string(e.what()) + "; the stream keeps its " + std::to_string(consumed) +
                         " input steps: push more, or reset");
  }
}

void Stream::check_room(int64_t output_len, int64_t out_steps) const {
  expect_room("output", output_len, "batch*filters*out_steps", {batch_, dims_.filters, out_steps});
}

template <typename T>
void Stream::reserve(int64_t rows) {
  Buffers<T>& b = buffers<T>();
  const int64_t F = dims_.filters;
  const int64_t steps = std::max(
      checked_add(held_, checked_mul(rows, geometry_.strides, "rows*strides"), "work steps"),
      tail_);
  const auto work = static_cast<size_t>(checked_mul(steps, F, "work steps*filters"));
  const auto cols = static_cast<size_t>(
      checked_mul(rows, dims_.kernel_size * dims_.block(), "rows*kernel_size*filters"));
  // Scratch only: growing either keeps the stream's state as it was if it fails.
  if (b.work.size() < work) b.work.resize(work);
  if (b.cols.size() < cols) b.cols.resize(cols);
}

template <typename T>
void Stream::seed(const LayerView<T>& v, T* steps, int64_t count) const noexcept {
  const int64_t F = dims_.filters;
  for (int64_t k = 0; k < count; ++k) {
    for (int64_t o = 0; o < F; ++o) steps[k * F + o] = v.bias == nullptr ? T(0) : v.bias[o];
  }
}

template <typename T>
void Stream::restart(const LayerView<T>& v) noexcept {
  seed(v, buffers<T>().state.data(), batch_ * held_);
  consumed_ = 0;
  emitted_ = 0;
}

void Stream::reset() {
  if (dtype_ == CONVT_DTYPE_FLOAT64) {
    restart(current_view<double>());
  } else {
    restart(current_view<float>());
  }
}

int64_t Stream::max_output_steps(int64_t steps) const {
  if (steps < 0) {
    fail(CONVT_E_SHAPE, "steps must be >= 0, got " + std::to_string(steps));
  }
  if (steps > 0) {
    return emitted_after(checked_add(consumed_, steps, "input steps in all")) - emitted_;
  }
  if (consumed_ == 0) return 0;
  // L_out(T) = T*S + c; a signal without output (L_out < 1) makes flush fail, emitting nothing.
  return std::max<int64_t>(0, consumed_ * geometry_.strides + length_offset_ - emitted_);
}

template <typename T>
void Stream::accumulate(const LayerView<T>& v, const T* x, int64_t chunk, int64_t first,
                        int64_t rows, int64_t consumed, int64_t window, int64_t span, T* work) {
  const int64_t C = dims_.in_channels, F = dims_.filters, G = dims_.groups;
  const int64_t Cg = C / G, Fg = F / G, K = dims_.kernel_size, row = dims_.row_length();
  T* cols = buffers<T>().cols.data();
  // Input step i's tap t lands on output step i*S + t*D - P_b, which is work step
  // i*S + t*D - (P_b + window); work holds `span` steps, step-major.
  ColumnMap map;
  map.strides = geometry_.strides;
  map.dilation = geometry_.dilation;
  map.kernel_size = K;
  map.crop_begin = crop_begin_ + window;
  map.out_steps = span;
  map.step_stride = F;
  map.filter_stride = 1;
  for (int64_t g = 0; g < G; ++g) {
    // A = this pass's rows x Cg inputs of group g: x[i][g*Cg + c] (ld C) for channels_last,
    // x[g*Cg + c][i] read transposed (ld chunk) for channels_first.
    const T* a = channels_last_ ? x + first * C + g * Cg : x + g * Cg * chunk + first;
    const int64_t lda = channels_last_ ? C : chunk;
    const T* w = v.packed + g * Cg * row;
    for (int64_t b = 0; b < dims_.block_count(); ++b) {
      const int64_t width = dims_.block_width(b);
      // cols (rows x K*width) = A (rows x Cg) * block b of packed_g (Cg x K*width, ld row).
      gemm<T>(!channels_last_, false, rows, K * width, Cg, a, lda, w + dims_.block_column(b), row,
              cols, K * width);
      map.filters = width;
      col2im(map, consumed, rows, cols, work + g * Fg + b * dims_.block());
    }
  }
}

template <typename T>
void Stream::emit(const T* steps, int64_t n, T* out, int64_t count, int64_t at) const noexcept {
  const int64_t F = dims_.filters;
  if (channels_last_) {
    std::copy(steps, steps + n * F, out + at * F);
    return;
  }
  for (int64_t o = 0; o < F; ++o) {
    for (int64_t k = 0; k < n; ++k) out[o * count + at + k] = steps[k * F + o];
  }
}

template <typename T>
void Stream::activate(const LayerView<T>& v, T* out, int64_t count) noexcept {
  // Along the output's last axis as forward applies it: per step over the filters for
  // channels_last; channels_first streams only element-wise activations.
  const int64_t F = dims_.filters;
  apply_activation(v.activation, v.alpha, out, channels_last_ ? count : F,
                   channels_last_ ? F : count, scratch_.data());
}

template <typename T>
int64_t Stream::push(const T* input, int64_t input_len, int64_t steps, T* output,
                     int64_t output_len) {
  const LayerView<T> v = current_view<T>();
  if (steps < 0) fail(CONVT_E_SHAPE, "steps must be >= 0, got " + std::to_string(steps));
  const int64_t C = dims_.in_channels, F = dims_.filters;
  expect_length("input", input_len, "batch*steps*in_channels", {batch_, steps, C});
  const int64_t consumed = checked_add(consumed_, steps, "input steps in all");
  const int64_t count = emitted_after(consumed) - emitted_;
  check_room(output_len, count);
  if (steps == 0) return 0;
  if (!channels_last_) check_gemm_dim(steps, "a channels_first chunk's steps");
  reserve<T>(std::min(steps, pass_rows_));

  // Nothing below can fail.
  Buffers<T>& buf = buffers<T>();
  T* work = buf.work.data();
  for (int64_t n = 0; n < batch_; ++n) {
    const T* x = input + n * steps * C;
    T* out = output + n * F * count;
    T* held = buf.state.data() + n * held_ * F;
    std::copy(held, held + held_ * F, work);
    int64_t consumed_so_far = consumed_, window = emitted_;
    for (int64_t first = 0; first < steps; first += pass_rows_) {
      const int64_t rows = std::min(pass_rows_, steps - first);
      const int64_t next = emitted_after(consumed_so_far + rows);
      const int64_t done = next - window, span = held_ + done;
      seed(v, work + held_ * F, done);  // the steps entering the window start at the bias
      accumulate(v, x, steps, first, rows, consumed_so_far, window, span, work);
      emit(work, done, out, count, window - emitted_);
      if (done > 0) std::copy(work + done * F, work + span * F, work);
      consumed_so_far += rows;
      window = next;
    }
    std::copy(work, work + held_ * F, held);
    activate(v, out, count);
  }
  consumed_ = consumed;
  emitted_ += count;
  return count;
}

template <typename T>
int64_t Stream::flush(T* output, int64_t output_len) {
  const LayerView<T> v = current_view<T>();
  const int64_t count = consumed_ == 0 ? 0 : length_after(consumed_) - emitted_;
  check_room(output_len, count);

  // Nothing below can fail. Steps past the held ones (an output longer than L_full) hold only
  // the bias, as in forward.
  Buffers<T>& buf = buffers<T>();
  const int64_t F = dims_.filters, kept = std::min(count, held_);
  T* work = buf.work.data();
  for (int64_t n = 0; n < batch_; ++n) {
    const T* held = buf.state.data() + n * held_ * F;
    std::copy(held, held + kept * F, work);
    seed(v, work + kept * F, count - kept);
    T* out = output + n * F * count;
    emit(work, count, out, count, 0);
    activate(v, out, count);
  }
  restart(v);
  return count;
}

template int64_t Stream::push<float>(const float*, int64_t, int64_t, float*, int64_t);
template int64_t Stream::push<double>(const double*, int64_t, int64_t, double*, int64_t);
template int64_t Stream::flush<float>(float*, int64_t);
template int64_t Stream::flush<double>(double*, int64_t);

}  // namespace convt::detail
