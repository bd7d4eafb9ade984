// libFuzzer harness for the C API. The input is a program: a sequence of calls on one layer
// and one stream (create with small sizes, set parameters to any value, set weights with
// matching and mismatching lengths, init weights, output_shape, forward, backward, the
// getters, stream create / push / flush / reset / max_output_steps, calls on a NULL layer,
// destroy), decoded byte by byte by Program below (tests/fuzz/make_seeds.py writes seeds in
// that encoding). Every call is checked against the contract (API.md), not against the
// library's own answers:
//   - no crash, undefined behaviour or leak (the sanitizers and LeakSanitizer watch);
//   - a failed call returns a status from 1 to 5 (never CONVT_E_INTERNAL), stores a message
//     that names the function, writes nothing (every output buffer is sentinel-filled and
//     compared bitwise) and leaves every parameter, the name and the weights as they were;
//   - a successful call leaves the last error alone and changes exactly what it promises;
//     getters, output_shape, forward, backward and stream calls change nothing in the layer;
//   - where the parameters are small enough to reason about, the status is the one the header
//     documents (set_int's ranges, set_weights', init_weights' and backward's rules,
//     output_shape's and forward's lengths from the independent padding table in
//     tests/reference.hpp);
//   - a successful forward equals the float64 direct-loop reference within its rounding
//     bound; backward's gradients (linear part) equal reference_backward's; a flushed stream's
//     outputs, concatenated, equal the reference over the whole signal with the default
//     length; nothing is written past the lengths; forward and backward repeat bitwise, and
//     init_weights with one seed gives one set of weights.
// The harness never passes a length longer than the buffer it passes, so any out-of-bounds
// access is the library's. Requests the contract answers with CONVT_E_OUT_OF_MEMORY because
// they are valid but too large (weights or stream state of huge dimensions) are not made:
// ASan aborts on them. Build and run: README.md, "Checks".
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "convt/convt.h"
#include "reference.hpp"
#include "test_backward_helpers.hpp"  // reference_backward, the gradients' float64 oracle
#include "test_stream_helpers.hpp"    // untouched<T>(), the sentinel

namespace {

using convt_test::to_size;

// The harness allocates no buffer longer than this; a request for more is made with a small
// buffer and a length that the library must refuse.
constexpr int64_t kMaxBuffer = 4096;
// Largest reference cost (multiply-adds) a forward comparison may take.
constexpr int64_t kMaxReferenceWork = int64_t{1} << 18;
// Calls decoded from one input, so that one input runs in bounded time.
constexpr int kMaxCalls = 96;
// Parameters probed by the snapshot: the 22 of v1 and room for parameters added later.
constexpr int32_t kMaxParam = 48;
// Parameters whose values the harness reasons about stay below this (no overflow in its
// own arithmetic).
constexpr int64_t kSmall = int64_t{1} << 20;

[[noreturn]] void finding(const char* call, const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING in %s: %s\n  convt_last_error(): \"%s\"\n", call, what.c_str(),
               convt_last_error());
  std::abort();
}

#define FUZZ_CHECK(cond, call, what)                                  \
  do {                                                                \
    if (!(cond)) finding((call), std::string(what) + " [" #cond "]"); \
  } while (0)

// ------------------------------------------------------------------------------------------
// Decoding the input.
// ------------------------------------------------------------------------------------------
constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
// clang-format off
constexpr int64_t kEdges[16] = {
    0, -1, 1, 2, kMax64, kMin64, kMax64 - 1, int64_t{1} << 31, (int64_t{1} << 31) - 1,
    (int64_t{1} << 32) + 1, -(int64_t{1} << 31), int64_t{1} << 59, (int64_t{1} << 59) + 1,
    int64_t{1} << 62, int64_t{1} << 20, 4097};

const double kRealEdges[16] = {
    0.0, -0.0, 1.0, -1.0, 0.2, 0.5, 4.0, 1e308, -1e308, std::numeric_limits<double>::infinity(),
    -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
    std::numeric_limits<double>::denorm_min(), -2.5, 3.0, 1e-300};

const char* const kNames[] = {
    "valid", "SAME", "same_lower", "explicit", "SAME_UPPER", "NOTSET", "channels_first", "NCW",
    "nlc", "channels_last", "relu", "Softmax", "sparsemax", "gelu", "leaky_relu", "swish", "glu",
    "float64", "double", "float32", "float16", "bfloat16", "glorot_uniform", "Orthogonal",
    "zeros", "random_normal", "", "conv1d_transpose", "x", "no_such_name"};
// clang-format on
constexpr int kNameCount = sizeof(kNames) / sizeof(kNames[0]);

class Program {
 public:
  Program(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{byte()} << (8 * i);
    return v;
  }
  // Any int64: mostly small (byte < 160 gives byte % 16 - 2), often an edge value, or raw.
  int64_t integer() {
    const uint8_t b = byte();
    if (b < 160) return int64_t{b % 16} - 2;
    if (b < 240) return kEdges[(b - 160) % 16];
    return static_cast<int64_t>(u64());
  }
  // A size: byte < 240 gives 1 + byte % range, else any integer().
  int64_t size(int64_t range) {
    const uint8_t b = byte();
    return b < 240 ? 1 + int64_t{b} % range : integer();
  }
  double real() {
    const uint8_t b = byte();
    if (b < 128) return (b - 64) / 8.0;
    if (b < 240) return kRealEdges[(b - 128) % 16];
    const uint64_t bits = u64();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string name() {
    const uint8_t b = byte();
    if (b < 224) return kNames[b % kNameCount];
    std::string s;  // raw characters up to a NUL, at most 40
    for (int i = 0; i < 40; ++i) {
      const char c = static_cast<char>(byte());
      if (c == '\0') break;
      s += c;
    }
    return s;
  }
  bool chance(int in256) { return byte() < in256; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// ------------------------------------------------------------------------------------------
// Buffers: sentinel-filled, compared bitwise.
// ------------------------------------------------------------------------------------------
// A quiet NaN with a payload the library never makes (the stream tests' marker).
template <class T>
T sentinel() {
  return convt_test::untouched<T>();
}

using convt_test::all_untouched;

// The first element at or after `from` that is not the sentinel, or -1.
template <class T>
int64_t first_written(const std::vector<T>& v, size_t from) {
  for (size_t i = from; i < v.size(); ++i) {
    if (!convt_test::is_untouched(v[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Exactly representable data (multiples of 1/8 in [-16, 16)) from a seed.
template <class T>
void fill(std::vector<T>& v, uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (T& e : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    e = static_cast<T>(static_cast<int8_t>(s >> 24)) / T(8);
  }
}

// a * b when both are >= 0 and the product fits under `cap`, else -1.
int64_t small_product(int64_t a, int64_t b, int64_t cap = kMaxBuffer) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > cap) return -1;
  return r;
}

// The length a buffer is passed with: the expected one, one off, 0, or a small random one;
// never more than `room` (the harness's buffer).
int64_t pick_length(Program& in, int64_t expected) {
  const uint8_t b = in.byte();
  int64_t len = expected;
  if (expected < 0)
    len = b % 24;  // the expected length is too long to allocate
  else if (b >= 192 && b < 208)
    len = expected - 1;
  else if (b >= 208 && b < 224)
    len = expected + 1;
  else if (b >= 224 && b < 240)
    len = 0;
  else if (b >= 240)
    len = b % 16;
  return std::min(len, kMaxBuffer + 1);
}

std::vector<int32_t>& int_params() {
  static std::vector<int32_t> params;
  return params;
}
std::vector<int32_t>& double_params() {
  static std::vector<int32_t> params;
  return params;
}

// The int and double parameters this build has, found once from a fresh layer (parameters
// added by later versions are included automatically).
void find_params() {
  if (!int_params().empty()) return;
  convt_layer* l = nullptr;
  if (convt_layer_create(1, 1, &l) != CONVT_OK) finding("convt_layer_create", "create(1, 1)");
  for (int32_t p = -1; p <= kMaxParam; ++p) {
    int64_t v = 0;
    double d = 0;
    if (convt_layer_get_int(l, p, &v) == CONVT_OK) int_params().push_back(p);
    if (convt_layer_get_double(l, p, &d) == CONVT_OK) double_params().push_back(p);
  }
  convt_layer_destroy(l);
}

size_t index_of(const std::vector<int32_t>& params, convt_param p) {
  return static_cast<size_t>(std::find(params.begin(), params.end(), p) - params.begin());
}

// ------------------------------------------------------------------------------------------
// Everything observable about a layer.
// ------------------------------------------------------------------------------------------
struct Snapshot {
  std::vector<int64_t> ints;      // by int_params()
  std::vector<uint64_t> doubles;  // by double_params(), as bits
  uint64_t alpha_bits = 0;
  std::string name;
  convt_status w32 = -1, w64 = -1;  // CONVT_OK: weights of that dtype read; -1: none
  std::vector<float> k32, b32;
  std::vector<double> k64, b64;

  int64_t get(convt_param p) const {
    const size_t i = index_of(int_params(), p);
    return i < ints.size() ? ints[i] : 0;
  }
  bool has_weights() const { return w32 == CONVT_OK || w64 == CONVT_OK; }
  bool f64() const { return get(CONVT_PARAM_DTYPE) == CONVT_DTYPE_FLOAT64; }
  // kernel_size * filters * in_channels / groups, or -1 when unknown or too large.
  int64_t kernel_len() const {
    const int64_t c = get(CONVT_PARAM_IN_CHANNELS), g = get(CONVT_PARAM_GROUPS);
    if (c < 1 || g < 1 || c % g != 0) return -1;
    const int64_t kf = small_product(get(CONVT_PARAM_KERNEL_SIZE), get(CONVT_PARAM_FILTERS));
    return kf < 0 ? -1 : small_product(kf, c / g);
  }
  int64_t bias_len() const { return get(CONVT_PARAM_USE_BIAS) ? get(CONVT_PARAM_FILTERS) : 0; }
};

template <class T>
convt_status get_weights(const convt_layer* l, convt_layout layout, T* k, int64_t kl, T* b,
                         int64_t bl);
template <>
convt_status get_weights<float>(const convt_layer* l, convt_layout layout, float* k, int64_t kl,
                                float* b, int64_t bl) {
  return convt_layer_get_weights_f32(l, layout, k, kl, b, bl);
}
template <>
convt_status get_weights<double>(const convt_layer* l, convt_layout layout, double* k, int64_t kl,
                                 double* b, int64_t bl) {
  return convt_layer_get_weights_f64(l, layout, k, kl, b, bl);
}

template <class T>
convt_status read_weights(const convt_layer* l, const Snapshot& s, convt_layout layout,
                          std::vector<T>& k, std::vector<T>& b) {
  const int64_t kl = s.kernel_len(), bl = s.bias_len();
  if (kl < 0 || bl > kMaxBuffer) return -1;
  k.assign(to_size(kl), sentinel<T>());
  b.assign(to_size(bl), sentinel<T>());
  return get_weights<T>(l, layout, k.data(), kl, bl == 0 ? nullptr : b.data(), bl);
}

Snapshot snapshot(const convt_layer* l) {
  Snapshot s;
  for (int32_t p : int_params()) {
    int64_t v = 0;
    if (convt_layer_get_int(l, p, &v) != CONVT_OK) finding("convt_layer_get_int", "snapshot");
    s.ints.push_back(v);
  }
  for (int32_t p : double_params()) {
    double d = 0;
    if (convt_layer_get_double(l, p, &d) != CONVT_OK) finding("convt_layer_get_double", "snapshot");
    uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof d);
    s.doubles.push_back(bits);
    if (p == CONVT_PARAM_ACTIVATION_ALPHA) s.alpha_bits = bits;
  }
  char buf[256];
  int64_t len = 0;
  const convt_status st = convt_layer_get_string(l, CONVT_PARAM_NAME, buf, sizeof buf, &len);
  s.name = st == CONVT_OK ? std::string(buf) : "<" + std::to_string(len) + " characters>";
  // Without weights the buffers' contents and the reason (no weights, wrong dtype, lengths
  // unknown) are not part of the layer's state.
  if ((s.w32 = read_weights<float>(l, s, CONVT_LAYOUT_WOI, s.k32, s.b32)) != CONVT_OK) {
    s.w32 = -1;
    s.k32.clear();
    s.b32.clear();
  }
  if ((s.w64 = read_weights<double>(l, s, CONVT_LAYOUT_WOI, s.k64, s.b64)) != CONVT_OK) {
    s.w64 = -1;
    s.k64.clear();
    s.b64.clear();
  }
  FUZZ_CHECK(s.w32 != CONVT_OK || s.w64 != CONVT_OK, "convt_layer_get_weights",
             "both dtypes' weights readable");
  return s;
}

bool operator==(const Snapshot& a, const Snapshot& b) {
  return a.ints == b.ints && a.doubles == b.doubles && a.name == b.name && a.w32 == b.w32 &&
         a.w64 == b.w64 && same_bits(a.k32, b.k32) && same_bits(a.b32, b.b32) &&
         same_bits(a.k64, b.k64) && same_bits(a.b64, b.b64);
}

// a and b agree except on parameter p and the double parameters that follow it: alpha
// follows the activation, and a training parameter's kind (regularizer, constraint, after
// CONVT_PARAM_TRAINABLE) resets its factors.
bool same_except(const Snapshot& a, const Snapshot& b, convt_param p) {
  Snapshot x = a;
  const size_t i = index_of(int_params(), p), d = index_of(double_params(), p);
  if (i < x.ints.size()) x.ints[i] = b.ints[i];
  if (d < x.doubles.size()) x.doubles[d] = b.doubles[d];
  if (p == CONVT_PARAM_ACTIVATION || p > CONVT_PARAM_TRAINABLE) x.doubles = b.doubles;
  x.alpha_bits = b.alpha_bits;  // also in doubles
  return x == b;
}

// The documented ranges of the settable int parameters (include/convt/convt.h), for the
// status model of set_int; {1, 0} for a read-only parameter.
struct Range {
  int64_t lo, hi;
  bool frozen;  // fixed once weights are set
};
bool documented_range(convt_param p, Range& r) {
  switch (p) {
    case CONVT_PARAM_FILTERS:
    case CONVT_PARAM_KERNEL_SIZE:
      r = {1, 0, false};
      return true;
    case CONVT_PARAM_IN_CHANNELS:
      r = {0, kMax64, true};
      return true;
    case CONVT_PARAM_STRIDES:
    case CONVT_PARAM_DILATION_RATE:
      r = {1, kMax64, false};
      return true;
    case CONVT_PARAM_PADDING:
      r = {0, 3, false};
      return true;
    case CONVT_PARAM_PAD_BEGIN:
    case CONVT_PARAM_PAD_END:
    case CONVT_PARAM_INPUT_STEPS:
    case CONVT_PARAM_BATCH_SIZE:
    case CONVT_PARAM_NUM_THREADS:
      r = {0, kMax64, false};
      return true;
    case CONVT_PARAM_OUTPUT_PADDING:
      r = {-1, kMax64, false};
      return true;
    case CONVT_PARAM_DATA_FORMAT:
    case CONVT_PARAM_TRAINABLE:
      r = {0, 1, false};
      return true;
    case CONVT_PARAM_GROUPS:
      r = {1, kMax64, true};
      return true;
    case CONVT_PARAM_USE_BIAS:
    case CONVT_PARAM_DTYPE:
      r = {0, 1, true};
      return true;
    case CONVT_PARAM_ACTIVATION:
      r = {0, CONVT_ACTIVATION_SPARSEMAX, false};
      return true;
    case CONVT_PARAM_KERNEL_INITIALIZER:
      r = {0, CONVT_INITIALIZER_ORTHOGONAL, false};
      return true;
    case CONVT_PARAM_BIAS_INITIALIZER:  // orthogonal needs rank >= 2
      r = {0, CONVT_INITIALIZER_TRUNCATED_NORMAL, false};
      return true;
    default:
      return false;
  }
}

// CONVT_FUZZ_TRACE=1 prints every checked call and its status (to read what an input does).
bool trace() {
  static const bool on = std::getenv("CONVT_FUZZ_TRACE") != nullptr;
  return on;
}

// ------------------------------------------------------------------------------------------
// One call: the checks every call shares.
// ------------------------------------------------------------------------------------------
class Call {
 public:
  Call(const char* name, const convt_layer* layer) : name_(name), layer_(layer) {
    if (layer_ != nullptr) before_ = snapshot(layer_);
    message_ = convt_last_error();
  }
  const Snapshot& before() const { return before_; }

  // The status is valid; a failure stored its own message (it names the function) and
  // changed nothing, a success left the message alone; a read-only call (getters,
  // output_shape, forward) changed nothing either way. Returns whether the call succeeded.
  bool finish(convt_status s, bool read_only = false) {
    const std::string message = convt_last_error();
    if (trace()) std::fprintf(stderr, "%s -> %d %s\n", name_, s, s ? message.c_str() : "");
    FUZZ_CHECK(s >= CONVT_OK && s <= CONVT_E_UNSUPPORTED, name_,
               "status " + std::to_string(s) + " (CONVT_E_INTERNAL is a bug)");
    FUZZ_CHECK(s != CONVT_E_OUT_OF_MEMORY, name_, "out of memory on a small layer");
    if (s == CONVT_OK) {
      FUZZ_CHECK(message_ == message, name_, "a successful call changed the message");
    } else {
      FUZZ_CHECK(message.compare(0, std::strlen(name_), name_) == 0 &&
                     message.size() > std::strlen(name_) + 2,
                 name_, "a failed call stored no message of its own: \"" + message + "\"");
    }
    if (layer_ != nullptr && (s != CONVT_OK || read_only)) {
      FUZZ_CHECK(snapshot(layer_) == before_, name_, "the layer changed");
    }
    return s == CONVT_OK;
  }
  void expect(bool ok, convt_status s, const std::string& why) {
    FUZZ_CHECK((s == CONVT_OK) == ok, name_,
               (ok ? "refused a valid call: " : "accepted an invalid call: ") + why +
                   " -> status " + std::to_string(s));
  }

 private:
  const char* name_;
  const convt_layer* layer_;
  Snapshot before_;
  std::string message_;
};

// ------------------------------------------------------------------------------------------
// The parameters the models need, read from a snapshot.
// ------------------------------------------------------------------------------------------
struct Params {
  int64_t F, K, C, G, S, D, pb, pe, op, steps_fixed, batch_fixed;
  int32_t padding, format, activation;
  bool f64, use_bias, small;

  explicit Params(const Snapshot& s) {
    F = s.get(CONVT_PARAM_FILTERS);
    K = s.get(CONVT_PARAM_KERNEL_SIZE);
    C = s.get(CONVT_PARAM_IN_CHANNELS);
    G = s.get(CONVT_PARAM_GROUPS);
    S = s.get(CONVT_PARAM_STRIDES);
    D = s.get(CONVT_PARAM_DILATION_RATE);
    pb = s.get(CONVT_PARAM_PAD_BEGIN);
    pe = s.get(CONVT_PARAM_PAD_END);
    op = s.get(CONVT_PARAM_OUTPUT_PADDING);
    steps_fixed = s.get(CONVT_PARAM_INPUT_STEPS);
    batch_fixed = s.get(CONVT_PARAM_BATCH_SIZE);
    padding = static_cast<int32_t>(s.get(CONVT_PARAM_PADDING));
    format = static_cast<int32_t>(s.get(CONVT_PARAM_DATA_FORMAT));
    activation = static_cast<int32_t>(s.get(CONVT_PARAM_ACTIVATION));
    f64 = s.f64();
    use_bias = s.get(CONVT_PARAM_USE_BIAS) != 0;
    // The setters keep every value within its documented range (set_int's model checks that).
    small = F < kSmall && K < kSmall && C < kSmall && S < kSmall && D < kSmall && pb < kSmall &&
            pe < kSmall && op < kSmall && F >= 1 && K >= 1 && C >= 0 && G >= 1 && S >= 1 &&
            D >= 1 && pb >= 0 && pe >= 0 && op >= -1;
  }
  convt_test::Hyper hyper() const {
    convt_test::Hyper h;
    h.padding = padding;
    h.output_padding = op;
    h.pad_begin = pb;
    h.pad_end = pe;
    h.strides = S;
    h.dilation = D;
    h.kernel_size = K;
    return h;
  }
  bool groups_ok() const { return F % G == 0 && (C == 0 || C % G == 0); }
};

// What output_shape must answer for (batch, steps) when p.small, batch and steps are small:
// CONVT_OK with *out_steps set, or the status.
convt_status expected_shape(const Params& p, int64_t batch, int64_t steps, int64_t* out_steps) {
  if (batch < 1 || steps < 1) return CONVT_E_SHAPE;
  if (!p.groups_ok()) return CONVT_E_INVALID_ARGUMENT;
  const convt_test::Lengths r = convt_test::lengths(p.hyper(), steps);
  if (r.verdict == convt_test::Verdict::kInvalidArgument) return CONVT_E_INVALID_ARGUMENT;
  if (r.verdict == convt_test::Verdict::kShape) return CONVT_E_SHAPE;
  int64_t n = 0;
  if (__builtin_mul_overflow(batch, p.F, &n) || __builtin_mul_overflow(n, r.default_len, &n) ||
      n > (int64_t{1} << 59)) {
    return CONVT_E_SHAPE;
  }
  *out_steps = r.default_len;
  return CONVT_OK;
}

// The shape of a forward-like call (forward, backward): batch, steps and out_steps.
struct CallShape {
  int64_t batch = 0, steps = 0, out_steps = 0;

  std::string text() const {
    return "batch " + std::to_string(batch) + " steps " + std::to_string(steps) + " out_steps " +
           std::to_string(out_steps);
  }
  // Small enough for the harness's own arithmetic (with p.small).
  bool small(const Params& p) const {
    return batch > -kSmall && batch < kSmall && steps > -kSmall && steps < kSmall &&
           out_steps > -kSmall && out_steps < kSmall && p.small;
  }
  // What forward and backward both require of the call (when small): dtype T, weights, the
  // padding table's lengths, BATCH_SIZE, INPUT_STEPS and the input's length.
  template <class T>
  bool rules_hold(const Params& p, const Snapshot& s, int64_t input_len) const {
    int64_t default_steps = 0;
    return p.f64 == (sizeof(T) == sizeof(double)) && s.has_weights() &&
           expected_shape(p, batch, steps, &default_steps) == CONVT_OK &&
           convt_test::accepts(convt_test::lengths(p.hyper(), steps), out_steps) &&
           (p.steps_fixed == 0 || p.steps_fixed == steps) &&
           (p.batch_fixed == 0 || p.batch_fixed == batch) && input_len == batch * steps * p.C;
  }
};

// batch and steps (mostly small), and out_steps: the default (from output_shape), one near
// it, or anything.
CallShape pick_shape(Program& in, const convt_layer* layer, const Params& p) {
  CallShape cs;
  cs.batch = in.size(3);
  cs.steps = in.size(6);
  cs.out_steps = in.integer();
  int64_t shape[3] = {0, 0, 0};
  const uint8_t ob = in.byte();
  if (ob < 200 && layer != nullptr &&
      convt_layer_output_shape(layer, cs.batch, cs.steps, shape) == CONVT_OK) {
    cs.out_steps = shape[p.format == CONVT_CHANNELS_FIRST ? 2 : 1] + (ob < 128 ? 0 : ob % 7 - 3);
  }
  return cs;
}

// ------------------------------------------------------------------------------------------
// The calls.
// ------------------------------------------------------------------------------------------
// The signal a stream has taken in since it was created, flushed or reset, and what it gave
// out, canonical (N, C, n) and (N, F, n) per push; compared with the reference at the flush.
struct Signal {
  bool valid = false;  // every push since the start recorded, on the layer of `start`
  Snapshot start;
  std::vector<std::vector<double>> in, out;
  std::vector<int64_t> in_steps, out_steps;
};

struct Harness {
  convt_layer* layer = nullptr;
  convt_stream* stream = nullptr;
  int64_t stream_batch = 0;
  Signal signal;

  ~Harness() { destroy(); }

  void create(Program& in) {
    const int64_t filters = in.size(6), kernel = in.size(5);
    const bool null_out = in.chance(8);
    convt_layer* const marker = reinterpret_cast<convt_layer*>(uintptr_t{0x5e1});
    convt_layer* out = marker;
    Call c("convt_layer_create", nullptr);
    const convt_status s = convt_layer_create(filters, kernel, null_out ? nullptr : &out);
    c.expect(!null_out && filters >= 1 && kernel >= 1, s,
             "filters " + std::to_string(filters) + " kernel_size " + std::to_string(kernel));
    if (!c.finish(s)) {
      FUZZ_CHECK(out == marker, "convt_layer_create", "a failed create wrote *out");
      return;
    }
    destroy();
    layer = out;
    const Snapshot now = snapshot(layer);
    FUZZ_CHECK(now.get(CONVT_PARAM_FILTERS) == filters &&
                   now.get(CONVT_PARAM_KERNEL_SIZE) == kernel && !now.has_weights(),
               "convt_layer_create", "the new layer's filters, kernel_size or weights");
  }

  // A stream must not outlive its layer: it goes first.
  void destroy() {
    destroy_stream();
    convt_layer_destroy(layer);
    layer = nullptr;
  }

  void set_int(Program& in) {
    const convt_param p = static_cast<convt_param>(int32_t{in.byte()} % (kMaxParam + 2) - 1);
    const int64_t v = in.integer();
    Call c("convt_layer_set_int", layer);
    const convt_status s = convt_layer_set_int(layer, p, v);
    Range r{};
    if (layer != nullptr && documented_range(p, r)) {
      const Snapshot& b = c.before();
      const bool frozen = r.frozen && b.has_weights() && v != b.get(p);
      const bool valid = v >= r.lo && v <= r.hi && !frozen;
      c.expect(valid, s, "param " + std::to_string(p) + " value " + std::to_string(v));
    }
    if (!c.finish(s)) return;
    const Snapshot after = snapshot(layer);
    FUZZ_CHECK(after.get(p) == v, "convt_layer_set_int", "get_int differs from the value set");
    FUZZ_CHECK(same_except(c.before(), after, p), "convt_layer_set_int",
               "changed another parameter");
  }

  void set_double(Program& in) {
    const convt_param p = static_cast<convt_param>(int32_t{in.byte()} % (kMaxParam + 2) - 1);
    const double v = in.real();
    Call c("convt_layer_set_double", layer);
    const convt_status s = convt_layer_set_double(layer, p, v);
    if (!std::isfinite(v)) c.expect(false, s, "a value that is not finite");
    if (!c.finish(s)) return;
    const Snapshot after = snapshot(layer);
    double got = 0;
    FUZZ_CHECK(convt_layer_get_double(layer, p, &got) == CONVT_OK && got == v,
               "convt_layer_set_double", "get_double differs from the value set");
    FUZZ_CHECK(same_except(c.before(), after, p), "convt_layer_set_double",
               "changed another parameter");
  }

  void set_string(Program& in) {
    const convt_param p = static_cast<convt_param>(int32_t{in.byte()} % (kMaxParam + 2) - 1);
    const std::string v = in.name();
    const bool null_value = in.chance(8);
    Call c("convt_layer_set_string", layer);
    const convt_status s = convt_layer_set_string(layer, p, null_value ? nullptr : v.c_str());
    if (p == CONVT_PARAM_NAME && layer != nullptr) {
      c.expect(!null_value && !v.empty(), s, "name \"" + v + "\"");
    }
    if (!c.finish(s)) return;
    const Snapshot after = snapshot(layer);
    if (p == CONVT_PARAM_NAME) {
      FUZZ_CHECK(after.name == v, "convt_layer_set_string", "the name read back differs");
      Snapshot b = c.before();
      b.name = v;
      FUZZ_CHECK(b == after, "convt_layer_set_string", "setting the name changed more");
    } else {
      FUZZ_CHECK(same_except(c.before(), after, p), "convt_layer_set_string",
                 "changed another parameter");
    }
  }

  template <class T>
  convt_status call_set_weights(int64_t in_channels, convt_layout layout, const T* kernel,
                                int64_t kernel_len, const T* bias, int64_t bias_len) {
    if constexpr (sizeof(T) == sizeof(float)) {
      return convt_layer_set_weights_f32(layer, in_channels, layout, kernel, kernel_len, bias,
                                         bias_len);
    } else {
      return convt_layer_set_weights_f64(layer, in_channels, layout, kernel, kernel_len, bias,
                                         bias_len);
    }
  }

  template <class T>
  void set_weights(Program& in) {
    const Snapshot b0 = layer ? snapshot(layer) : Snapshot{};
    const Params p0(b0);
    const uint8_t cb = in.byte();
    const int64_t in_channels = cb < 128 && p0.C > 0 ? p0.C : cb < 240 ? 1 + cb % 8 : in.integer();
    const uint8_t lb = in.byte();
    const convt_layout layout =
        lb < 240 ? static_cast<convt_layout>(lb % 2) : static_cast<convt_layout>(in.integer());
    // The kernel length the contract asks for, when the harness can hold it.
    int64_t expected = -1;
    if (in_channels >= 1 && p0.G >= 1 && in_channels % p0.G == 0) {
      const int64_t kf = small_product(p0.K, p0.F);
      if (kf >= 0) expected = small_product(kf, in_channels / p0.G);
    }
    const int64_t kernel_len = pick_length(in, expected);
    std::vector<T> kernel(to_size(std::max<int64_t>(kernel_len, 1)));
    fill(kernel, in.byte());
    const bool null_kernel = in.chance(6);
    // Bias: filters values, NULL, or a pointer with a wrong length.
    const uint8_t bb = in.byte() % 6;
    const int64_t F = p0.F <= kMaxBuffer ? p0.F : 4;
    std::vector<T> bias(to_size(F + 1));
    fill(bias, bb + 99u);
    const T* bias_ptr = (bb == 1 || bb == 2) ? nullptr : bias.data();
    const int64_t bias_len = bb == 0              ? F
                             : bb == 1 || bb == 3 ? 0
                             : bb == 2            ? F
                             : bb == 4            ? F - 1
                                                  : F + 1;
    Call c("convt_layer_set_weights", layer);
    const convt_status s = call_set_weights<T>(
        in_channels, layout, null_kernel ? nullptr : kernel.data(), kernel_len, bias_ptr, bias_len);
    if (layer != nullptr && p0.F <= kMaxBuffer) {
      const bool dtype_ok = p0.f64 == (sizeof(T) == sizeof(double));
      const bool channels_ok = in_channels >= 1 && (p0.C == 0 || p0.C == in_channels) &&
                               p0.F % p0.G == 0 && in_channels % p0.G == 0;
      const bool bias_ok = p0.use_bias ? bias_ptr != nullptr && bias_len == p0.F
                                       : bias_ptr == nullptr && bias_len == 0;
      const bool valid = !null_kernel && dtype_ok && channels_ok && (layout == 0 || layout == 1) &&
                         expected >= 0 && kernel_len == expected && bias_ok;
      c.expect(valid, s,
               "in_channels " + std::to_string(in_channels) + " kernel_len " +
                   std::to_string(kernel_len) + " (expected " + std::to_string(expected) +
                   ") bias_len " + std::to_string(bias_len));
    }
    if (!c.finish(s)) return;
    // The weights read back in the same layout are the ones given, bit for bit.
    const Snapshot after = snapshot(layer);
    FUZZ_CHECK(after.get(CONVT_PARAM_IN_CHANNELS) == in_channels, "convt_layer_set_weights",
               "in_channels not fixed");
    std::vector<T> k, bs;
    FUZZ_CHECK(read_weights<T>(layer, after, layout, k, bs) == CONVT_OK, "convt_layer_get_weights",
               "weights set but not readable");
    kernel.resize(to_size(kernel_len));
    if (bias_ptr != nullptr)
      bias.resize(to_size(bias_len));
    else
      bias.clear();
    FUZZ_CHECK(same_bits(k, kernel) && same_bits(bs, bias), "convt_layer_set_weights",
               "the weights read back differ from those set");
    Snapshot expect_after = c.before();
    const auto& ps = int_params();
    for (size_t i = 0; i < ps.size(); ++i) {
      if (ps[i] == CONVT_PARAM_IN_CHANNELS) expect_after.ints[i] = in_channels;
    }
    FUZZ_CHECK(expect_after.ints == after.ints && expect_after.name == after.name &&
                   expect_after.doubles == after.doubles,
               "convt_layer_set_weights", "changed a parameter");
  }

  void init_weights(Program& in) {
    const Snapshot b0 = layer ? snapshot(layer) : Snapshot{};
    const Params p0(b0);
    const uint8_t cb = in.byte();
    const int64_t in_channels = cb < 128 && p0.C > 0 ? p0.C : cb < 240 ? 1 + cb % 8 : in.integer();
    const uint64_t seed = in.chance(128) ? in.byte() : in.u64();
    const bool would_install = layer != nullptr && in_channels >= 1 &&
                               (p0.C == 0 || p0.C == in_channels) && p0.F % p0.G == 0 &&
                               in_channels % p0.G == 0;
    if (would_install && small_product(small_product(p0.K, p0.F), in_channels) < 0) {
      return;  // a valid request for weights larger than the harness allows
    }
    Call c("convt_layer_init_weights", layer);
    const convt_status s = convt_layer_init_weights(layer, in_channels, seed);
    if (layer != nullptr) c.expect(would_install, s, "in_channels " + std::to_string(in_channels));
    if (!c.finish(s)) return;
    const Snapshot after = snapshot(layer);
    FUZZ_CHECK(after.has_weights() && after.get(CONVT_PARAM_IN_CHANNELS) == in_channels,
               "convt_layer_init_weights", "no weights, or in_channels not fixed");
    // The same seed gives bitwise the same weights.
    FUZZ_CHECK(convt_layer_init_weights(layer, in_channels, seed) == CONVT_OK,
               "convt_layer_init_weights", "a repeated call failed");
    FUZZ_CHECK(snapshot(layer) == after, "convt_layer_init_weights",
               "the same seed gave other weights");
  }

  void output_shape(Program& in) {
    const int64_t batch = in.size(3), steps = in.size(6);
    const bool null_shape = in.chance(8);
    int64_t shape[4] = {-7, -7, -7, -7};
    Call c("convt_layer_output_shape", layer);
    const convt_status s =
        convt_layer_output_shape(layer, batch, steps, null_shape ? nullptr : shape);
    const bool ok = c.finish(s, true);
    FUZZ_CHECK(shape[3] == -7 && (ok || (shape[0] == -7 && shape[1] == -7 && shape[2] == -7)),
               "convt_layer_output_shape", "wrote outside out_shape[3] or on failure");
    if (layer == nullptr || null_shape) return;
    const Params p(c.before());
    if (!p.small || batch >= kSmall || steps >= kSmall) return;
    int64_t out_steps = 0;
    const convt_status want = expected_shape(p, batch, steps, &out_steps);
    FUZZ_CHECK(s == want, "convt_layer_output_shape",
               "status " + std::to_string(s) + ", the padding table says " + std::to_string(want));
    if (!ok) return;
    const bool first = p.format == CONVT_CHANNELS_FIRST;
    FUZZ_CHECK(
        shape[0] == batch && shape[first ? 1 : 2] == p.F && shape[first ? 2 : 1] == out_steps,
        "convt_layer_output_shape", "shape differs from the padding table's");
  }

  template <class T>
  void forward(Program& in) {
    const Snapshot b0 = layer ? snapshot(layer) : Snapshot{};
    const Params p(b0);
    const CallShape cs = pick_shape(in, layer, p);
    const int64_t batch = cs.batch, steps = cs.steps, out_steps = cs.out_steps;
    const int64_t C = p.C > 0 ? p.C : 1;
    const int64_t input_len = pick_length(in, small_product(small_product(batch, steps), C));
    const int64_t needed = small_product(small_product(batch, p.F), out_steps);
    const int64_t output_len = pick_length(in, needed);
    const int64_t slack = in.byte() % 4;
    std::vector<T> input(to_size(std::max<int64_t>(input_len, 1)));
    fill(input, in.byte());
    std::vector<T> output(to_size(std::max<int64_t>(output_len, 0) + slack + 1), sentinel<T>());
    const uint8_t nb = in.byte();
    const bool null_input = nb < 6, null_output = nb >= 250;
    const T* x = null_input ? nullptr : input.data();
    T* y = null_output ? nullptr : output.data();

    Call c("convt_layer_forward", layer);
    const convt_status s = call_forward(x, input_len, batch, steps, y, output_len, out_steps);
    const bool ok = c.finish(s, true);
    if (!ok) {
      FUZZ_CHECK(all_untouched(output), "convt_layer_forward", "a failed forward wrote output");
    }
    if (layer == nullptr) return;
    // The status model, when the parameters are small enough for the harness's arithmetic.
    if (cs.small(p)) {
      const bool valid = !null_input && !null_output && cs.rules_hold<T>(p, b0, input_len) &&
                         needed >= 0 && output_len >= needed;
      c.expect(valid, s,
               cs.text() + " input_len " + std::to_string(input_len) + " output_len " +
                   std::to_string(output_len));
    }
    if (!ok) return;
    FUZZ_CHECK(needed >= 0 && all_untouched(output, to_size(needed)), "convt_layer_forward",
               "wrote past batch * filters * out_steps");
    // Bitwise the same on a second run.
    std::vector<T> again(output.size(), sentinel<T>());
    FUZZ_CHECK(
        call_forward(x, input_len, batch, steps, again.data(), output_len, out_steps) == CONVT_OK &&
            same_bits(again, output),
        "convt_layer_forward", "a repeated forward differs");
    compare_with_reference(b0, p, batch, steps, out_steps, input, output);
  }

  template <class T>
  convt_status call_forward(const T* x, int64_t input_len, int64_t batch, int64_t steps, T* y,
                            int64_t output_len, int64_t out_steps) {
    if constexpr (sizeof(T) == sizeof(float)) {
      return convt_layer_forward_f32(layer, x, input_len, batch, steps, y, output_len, out_steps);
    } else {
      return convt_layer_forward_f64(layer, x, input_len, batch, steps, y, output_len, out_steps);
    }
  }

  // The reference problem for the layer's parameters, with the crop out_steps implies.
  static convt_test::Problem problem(const Params& p, int64_t batch, int64_t steps,
                                     int64_t out_steps) {
    convt_test::Problem pr;
    pr.batch = batch;
    pr.in_channels = p.C;
    pr.filters = p.F;
    pr.groups = p.G;
    pr.kernel_size = p.K;
    pr.strides = p.S;
    pr.dilation = p.D;
    pr.steps = steps;
    pr.crop_begin = convt_test::crop_begin(p.hyper(), steps, out_steps);
    pr.out_steps = out_steps;
    pr.activation = p.activation;
    return pr;
  }

  // got (canonical N, F, L_out) equals the reference for x (canonical N, C, L) within forward's
  // rounding bound.
  template <class T>
  static void expect_reference(const char* call, const convt_test::Problem& pr, const Params& p,
                               const std::vector<double>& x, const std::vector<T>& w_iow,
                               const std::vector<T>& bias, const std::vector<double>& got,
                               double alpha) {
    const convt_test::Reference ref = convt_test::reference_forward(
        pr, x, convt_test::convert<double>(w_iow), convt_test::convert<double>(bias));
    const double u = sizeof(T) == sizeof(float) ? convt_test::unit_roundoff_f32()
                                                : convt_test::unit_roundoff_f64();
    const double lip =
        p.activation == CONVT_ACTIVATION_LEAKY_RELU ? std::max(1.0, std::fabs(alpha)) : 1.0;
    for (size_t k = 0; k < ref.y.size(); ++k) {
      if (got[k] == ref.y[k]) continue;  // also equal infinities
      // A value beyond T's range (a huge leaky_relu slope) rounds to infinity.
      if (std::isinf(got[k]) && std::signbit(got[k]) == std::signbit(ref.y[k]) &&
          std::fabs(ref.y[k]) >= double(std::numeric_limits<T>::max()) * (1 - 4 * u)) {
        continue;
      }
      const double allowed =
          convt_test::tolerance(ref.magnitude[k], ref.y[k], p.C / p.G * p.K, u, lip);
      FUZZ_CHECK(std::fabs(got[k] - ref.y[k]) <= allowed, call,
                 "element " + std::to_string(k) + " is " + std::to_string(got[k]) +
                     ", the reference gives " + std::to_string(ref.y[k]) + " (allowed error " +
                     std::to_string(allowed) + ")");
    }
  }

  template <class T>
  void compare_with_reference(const Snapshot& b0, const Params& p, int64_t batch, int64_t steps,
                              int64_t out_steps, const std::vector<T>& input,
                              const std::vector<T>& output) {
    const auto& acts = convt_test::reference_activations();
    if (std::find(acts.begin(), acts.end(), p.activation) == acts.end()) return;
    if (small_product(small_product(small_product(batch, p.F), out_steps),
                      small_product(p.C / p.G, p.K), kMaxReferenceWork) < 0) {
      return;
    }
    double alpha = 0;
    std::memcpy(&alpha, &b0.alpha_bits, sizeof alpha);
    std::vector<T> w_iow, bias;
    if (read_weights<T>(layer, b0, CONVT_LAYOUT_IOW, w_iow, bias) != CONVT_OK) {
      finding("convt_layer_get_weights", "weights used by forward are not readable");
    }
    convt_test::Problem pr = problem(p, batch, steps, out_steps);
    pr.alpha = alpha;
    std::vector<double> x(input.begin(), input.begin() + batch * steps * p.C);
    std::vector<double> got(output.begin(), output.begin() + batch * p.F * out_steps);
    expect_reference<T>("convt_layer_forward", pr, p,
                        convt_test::from_format(x, p.format, batch, p.C, steps), w_iow, bias,
                        convt_test::from_format(got, p.format, batch, p.F, out_steps), alpha);
  }

  void getters(Program& in) {
    const convt_param p = static_cast<convt_param>(int32_t{in.byte()} % (kMaxParam + 2) - 1);
    const uint8_t kind = in.byte() % 4;
    if (kind == 0) {  // get_string with every capacity case
      int64_t length = -5;
      const uint8_t cap_b = in.byte();
      const int64_t capacity = cap_b < 64 ? cap_b % 24 : cap_b < 128 ? -1 : 64;
      const bool null_buf = in.chance(32);
      std::vector<char> buf(65, '\x5a');  // capacity <= 64: one byte to spare
      Call c("convt_layer_get_string", layer);
      const convt_status s = convt_layer_get_string(layer, p, null_buf ? nullptr : buf.data(),
                                                    capacity, in.chance(8) ? nullptr : &length);
      const bool ok = c.finish(s, true);
      const bool buf_untouched =
          std::all_of(buf.begin(), buf.end(), [](char ch) { return ch == '\x5a'; });
      if (!ok) {
        FUZZ_CHECK(buf_untouched, "convt_layer_get_string", "a failed call wrote buf");
        // The one output a failing call writes: the length, when the value did not fit.
        if (s == CONVT_E_SHAPE && p == CONVT_PARAM_NAME) {
          FUZZ_CHECK(length == static_cast<int64_t>(c.before().name.size()),
                     "convt_layer_get_string", "the length reported with CONVT_E_SHAPE");
        }
        return;
      }
      FUZZ_CHECK(length >= 0 && length + 1 <= capacity && buf[to_size(length)] == '\0' &&
                     std::strlen(buf.data()) == to_size(length) &&
                     buf[to_size(length) + 1] == '\x5a',
                 "convt_layer_get_string", "the copied string or its length");
    } else if (kind == 1) {  // get_int / get_double
      int64_t v = -5;
      double d = -5;
      const bool null_value = in.chance(32);
      Call c("convt_layer_get_int", layer);
      convt_status s = convt_layer_get_int(layer, p, null_value ? nullptr : &v);
      if (!c.finish(s, true)) {
        FUZZ_CHECK(v == -5, "convt_layer_get_int", "a failed call wrote *value");
      } else {
        FUZZ_CHECK(v == c.before().get(p), "convt_layer_get_int", "differs from the snapshot");
      }
      Call c2("convt_layer_get_double", layer);
      s = convt_layer_get_double(layer, p, null_value ? nullptr : &d);
      if (!c2.finish(s, true))
        FUZZ_CHECK(d == -5, "convt_layer_get_double", "a failed call wrote *value");
    } else {  // get_weights with any lengths
      const Snapshot b0 = layer ? snapshot(layer) : Snapshot{};
      const int64_t kernel_len = pick_length(in, b0.kernel_len());
      const int64_t bias_len = pick_length(in, b0.bias_len() <= kMaxBuffer ? b0.bias_len() : -1);
      const convt_layout layout = static_cast<convt_layout>(in.byte() % 3);
      const bool null_bias = in.chance(64);
      std::vector<float> k(to_size(std::max<int64_t>(kernel_len, 0)) + 1, sentinel<float>());
      std::vector<float> b(to_size(std::max<int64_t>(bias_len, 0)) + 1, sentinel<float>());
      Call c("convt_layer_get_weights", layer);
      const convt_status s = convt_layer_get_weights_f32(layer, layout, k.data(), kernel_len,
                                                         null_bias ? nullptr : b.data(), bias_len);
      if (!c.finish(s, true)) {
        FUZZ_CHECK(all_untouched(k) && all_untouched(b), "convt_layer_get_weights",
                   "a failed call wrote a buffer");
      } else {
        FUZZ_CHECK(all_untouched(k, to_size(kernel_len)) && all_untouched(b, to_size(bias_len)),
                   "convt_layer_get_weights", "wrote past the lengths");
      }
    }
  }

  // Every layer function with a NULL layer: CONVT_E_INVALID_ARGUMENT, nothing written.
  void null_layer(Program& in) {
    const uint8_t which = in.byte() % 8;
    std::vector<float> buf(8, sentinel<float>());
    int64_t shape[3] = {-7, -7, -7};
    convt_status s = CONVT_OK;
    switch (which) {
      case 0:
        s = convt_layer_set_int(nullptr, CONVT_PARAM_STRIDES, 2);
        break;
      case 1:
        s = convt_layer_get_int(nullptr, CONVT_PARAM_STRIDES, &shape[0]);
        break;
      case 2:
        s = convt_layer_set_string(nullptr, CONVT_PARAM_NAME, "x");
        break;
      case 3:
        s = convt_layer_set_weights_f32(nullptr, 1, CONVT_LAYOUT_WOI, buf.data(), 1, buf.data(), 1);
        break;
      case 4:
        s = convt_layer_init_weights(nullptr, 1, 7);
        break;
      case 5:
        s = convt_layer_output_shape(nullptr, 1, 1, shape);
        break;
      case 6:
        s = convt_layer_forward_f32(nullptr, buf.data(), 1, 1, 1, buf.data() + 4, 4, 1);
        break;
      default:
        s = convt_layer_get_weights_f32(nullptr, CONVT_LAYOUT_WOI, buf.data(), 1, buf.data() + 1,
                                        1);
        break;
    }
    FUZZ_CHECK(s == CONVT_E_INVALID_ARGUMENT, "a NULL layer", "status " + std::to_string(s));
    FUZZ_CHECK(shape[0] == -7 && shape[1] == -7 && shape[2] == -7, "a NULL layer", "wrote shape");
    FUZZ_CHECK(all_untouched(buf), "a NULL layer", "wrote a buffer");
  }

  // ---- backward ---------------------------------------------------------------------------
  template <class T>
  convt_status call_backward(const T* x, int64_t x_len, int64_t batch, int64_t steps, const T* g,
                             int64_t g_len, int64_t out_steps, T* gx, int64_t gx_len,
                             convt_layout layout, T* gk, int64_t gk_len, T* gb, int64_t gb_len) {
    if constexpr (sizeof(T) == sizeof(float)) {
      return convt_layer_backward_f32(layer, x, x_len, batch, steps, g, g_len, out_steps, gx,
                                      gx_len, layout, gk, gk_len, gb, gb_len);
    } else {
      return convt_layer_backward_f64(layer, x, x_len, batch, steps, g, g_len, out_steps, gx,
                                      gx_len, layout, gk, gk_len, gb, gb_len);
    }
  }

  // A gradient buffer: asked for (with a length as pick_length chooses) or NULL with length 0
  // (or, rarely, NULL with a nonzero length, which must be refused).
  struct Grad {
    bool asked = false;
    int64_t len = 0;
  };
  static Grad pick_grad(Program& in, int64_t expected) {
    const uint8_t b = in.byte();
    Grad g;
    if (b < 160) {
      g.asked = true;
      g.len = pick_length(in, expected);
    } else if (b >= 248) {
      g.len = 1 + b % 4;  // NULL with a length
    }
    return g;
  }

  template <class T>
  void backward(Program& in) {
    const Snapshot b0 = layer ? snapshot(layer) : Snapshot{};
    const Params p(b0);
    const CallShape cs = pick_shape(in, layer, p);
    const int64_t batch = cs.batch, steps = cs.steps, out_steps = cs.out_steps;
    const int64_t C = p.C > 0 ? p.C : 1;
    const int64_t x_expected = small_product(small_product(batch, steps), C);
    const int64_t g_expected = small_product(small_product(batch, p.F), out_steps);
    const int64_t x_len = pick_length(in, x_expected), g_len = pick_length(in, g_expected);
    const Grad gx = pick_grad(in, x_expected);
    const uint8_t lb = in.byte();
    const convt_layout layout =
        lb < 240 ? static_cast<convt_layout>(lb % 2) : static_cast<convt_layout>(in.integer());
    const Grad gk = pick_grad(in, b0.kernel_len());
    const Grad gb = pick_grad(in, p.F <= kMaxBuffer ? p.F : -1);
    std::vector<T> x(to_size(std::max<int64_t>(x_len, 1))), g(to_size(std::max<int64_t>(g_len, 1)));
    fill(x, in.byte());
    fill(g, in.byte() + 1000u);
    const auto room = [](const Grad& q) { return to_size(std::max<int64_t>(q.len, 0)) + 2; };
    std::vector<T> gxb(room(gx), sentinel<T>()), gkb(room(gk), sentinel<T>()),
        gbb(room(gb), sentinel<T>());
    const uint8_t nb = in.byte();
    const bool null_x = nb < 6, null_g = nb >= 250;

    Call c("convt_layer_backward", layer);
    const auto run = [&](std::vector<T>& ox, std::vector<T>& ok, std::vector<T>& ob2) {
      return call_backward<T>(
          null_x ? nullptr : x.data(), x_len, batch, steps, null_g ? nullptr : g.data(), g_len,
          out_steps, gx.asked ? ox.data() : nullptr, gx.len, layout, gk.asked ? ok.data() : nullptr,
          gk.len, gb.asked ? ob2.data() : nullptr, gb.len);
    };
    const convt_status s = run(gxb, gkb, gbb);
    const bool ok = c.finish(s, true);
    if (!ok) {
      FUZZ_CHECK(all_untouched(gxb) && all_untouched(gkb) && all_untouched(gbb),
                 "convt_layer_backward", "a failed backward wrote a gradient");
    }
    if (layer == nullptr) return;
    // The layout matters only with grad_kernel; unknown, it may be refused either way.
    if (cs.small(p) && (gk.asked || layout == 0 || layout == 1)) {
      const bool trainable = b0.get(CONVT_PARAM_TRAINABLE) != 0;
      const auto grad_ok = [](const Grad& q, int64_t want) {
        return q.asked ? want >= 0 && q.len == want : q.len == 0;
      };
      const bool valid = !null_x && !null_g && cs.rules_hold<T>(p, b0, x_len) && g_expected >= 0 &&
                         g_len == g_expected && grad_ok(gx, x_len) &&
                         grad_ok(gk, b0.kernel_len()) && grad_ok(gb, p.use_bias ? p.F : -1) &&
                         (!gk.asked || layout == 0 || layout == 1) &&
                         (trainable || (!gk.asked && !gb.asked));
      c.expect(valid, s,
               cs.text() + " lengths " + std::to_string(x_len) + " " + std::to_string(g_len) + " " +
                   std::to_string(gx.len) + " " + std::to_string(gk.len) + " " +
                   std::to_string(gb.len));
    }
    if (!ok) return;
    FUZZ_CHECK(all_untouched(gxb, to_size(gx.len)) && all_untouched(gkb, to_size(gk.len)) &&
                   all_untouched(gbb, to_size(gb.len)),
               "convt_layer_backward", "wrote past a gradient's length");
    // Bitwise the same on a second run.
    std::vector<T> gx2(gxb.size(), sentinel<T>()), gk2(gkb.size(), sentinel<T>()),
        gb2(gbb.size(), sentinel<T>());
    FUZZ_CHECK(run(gx2, gk2, gb2) == CONVT_OK && same_bits(gx2, gxb) && same_bits(gk2, gkb) &&
                   same_bits(gb2, gbb),
               "convt_layer_backward", "a repeated backward differs");
    // The linear part against the oracle (penalties and activations are tested apart).
    if (p.activation != CONVT_ACTIVATION_LINEAR || b0.get(CONVT_PARAM_BACKWARD_REGULARIZATION) != 0)
      return;
    const int64_t cg = p.C / p.G;
    if (small_product(small_product(small_product(batch, p.F), out_steps), small_product(cg, p.K),
                      kMaxReferenceWork) < 0) {
      return;
    }
    std::vector<T> w_iow, bias;
    FUZZ_CHECK(read_weights<T>(layer, b0, CONVT_LAYOUT_IOW, w_iow, bias) == CONVT_OK,
               "convt_layer_get_weights", "weights used by backward are not readable");
    convt_test::Problem pr = problem(p, batch, steps, out_steps);
    std::vector<double> xc(x.begin(), x.begin() + x_len), gc(g.begin(), g.begin() + g_len);
    xc = convt_test::from_format(xc, p.format, batch, p.C, steps);
    gc = convt_test::from_format(gc, p.format, batch, p.F, out_steps);
    const std::vector<double> w = convt_test::convert<double>(w_iow);
    const convt_test::ReferenceGradients r = convt_test::reference_backward(pr, xc, w, gc);
    // Magnitudes for the bound: the same sums over |terms|.
    const auto absv = [](std::vector<double> v) {
      for (double& e : v) e = std::fabs(e);
      return v;
    };
    const convt_test::ReferenceGradients m =
        convt_test::reference_backward(pr, absv(xc), absv(w), absv(gc));
    const int64_t terms = batch * out_steps + (p.F / p.G) * p.K + 4;
    const double u = sizeof(T) == sizeof(float) ? convt_test::unit_roundoff_f32()
                                                : convt_test::unit_roundoff_f64();
    const auto check = [&](const char* what, std::vector<double> got,
                           const std::vector<double>& want, const std::vector<double>& mag) {
      for (size_t k = 0; k < want.size(); ++k) {
        const double allowed = convt_test::tolerance(mag[k], want[k], terms, u, 1.0);
        FUZZ_CHECK(std::fabs(got[k] - want[k]) <= allowed, "convt_layer_backward",
                   std::string(what) + " element " + std::to_string(k) + " is " +
                       std::to_string(got[k]) + ", the reference gives " + std::to_string(want[k]));
      }
    };
    if (gx.asked) {
      std::vector<double> got(gxb.begin(), gxb.begin() + x_len);
      check("grad_input", convt_test::from_format(got, p.format, batch, p.C, steps), r.input,
            m.input);
    }
    if (gk.asked) {
      std::vector<double> got(gkb.begin(), gkb.begin() + gk.len);
      if (layout == CONVT_LAYOUT_WOI) got = convt_test::iow_from_woi(got, p.C, p.F, p.G, p.K);
      check("grad_kernel", got, r.kernel_iow, m.kernel_iow);
    }
    if (gb.asked)
      check("grad_bias", std::vector<double>(gbb.begin(), gbb.begin() + gb.len), r.bias, m.bias);
  }

  // ---- streams ----------------------------------------------------------------------------
  void destroy_stream() {
    convt_stream_destroy(stream);
    stream = nullptr;
    signal = Signal{};
  }

  void start_signal() {
    signal = Signal{};
    signal.valid = layer != nullptr;
    if (signal.valid) signal.start = snapshot(layer);
  }

  void stream_create(Program& in) {
    const int64_t batch = in.size(3);
    const bool null_out = in.chance(8);
    if (layer != nullptr) {
      // A stream keeps batch * filters * max(K_eff - strides, crop at the end, 0) values (the
      // header), works on a step's strides output steps at a time and holds the output_padding
      // steps at the end: with a huge dilation, pad, stride or output_padding that is a valid
      // request for more memory than exists, which the library answers with
      // CONVT_E_OUT_OF_MEMORY and ASan with an abort. Not made.
      const Params p(snapshot(layer));
      constexpr int64_t kLimit = int64_t{1} << 24;
      const int64_t span = small_product(p.D, p.K - 1, kLimit);  // K_eff - 1, or -1 if huge
      const int64_t keep = span < 0 ? -1 : std::max({span + 1, p.pe, p.S, p.op});
      if (batch > 0 &&
          (keep < 0 || small_product(small_product(batch, p.F, kLimit), keep, kLimit) < 0)) {
        return;
      }
    }
    convt_stream* const marker = reinterpret_cast<convt_stream*>(uintptr_t{0x5e2});
    convt_stream* out = marker;
    Call c("convt_stream_create", layer);
    const convt_status s = convt_stream_create(layer, batch, null_out ? nullptr : &out);
    if (!c.finish(s, true)) {
      FUZZ_CHECK(out == marker, "convt_stream_create", "a failed create wrote *out");
      return;
    }
    destroy_stream();
    stream = out;
    stream_batch = batch;
    start_signal();
  }

  // max_output_steps(steps), or -1 when it refuses.
  int64_t max_output(int64_t steps) {
    int64_t m = -7;
    const convt_status s = convt_stream_max_output_steps(stream, steps, &m);
    if (s != CONVT_OK) {
      FUZZ_CHECK(m == -7, "convt_stream_max_output_steps", "a failed call wrote *max_out");
      return -1;
    }
    FUZZ_CHECK(m >= 0, "convt_stream_max_output_steps", "negative step count");
    return m;
  }

  template <class T>
  convt_status call_push(const T* x, int64_t x_len, int64_t steps, T* y, int64_t y_len,
                         int64_t* n) {
    if constexpr (sizeof(T) == sizeof(float)) {
      return convt_stream_push_f32(stream, x, x_len, steps, y, y_len, n);
    } else {
      return convt_stream_push_f64(stream, x, x_len, steps, y, y_len, n);
    }
  }
  template <class T>
  convt_status call_flush(T* y, int64_t y_len, int64_t* n) {
    if constexpr (sizeof(T) == sizeof(float)) {
      return convt_stream_flush_f32(stream, y, y_len, n);
    } else {
      return convt_stream_flush_f64(stream, y, y_len, n);
    }
  }

  // A successful push or flush wrote n <= m (max_output_steps') steps and nothing past them;
  // returns the values written.
  template <class T>
  int64_t check_emitted(const char* call, const Params& p, const std::vector<T>& y, int64_t y_len,
                        int64_t n, int64_t m) const {
    FUZZ_CHECK(n >= 0 && (m < 0 || n <= m), call,
               "wrote " + std::to_string(n) + " steps, max_output_steps said " + std::to_string(m));
    const int64_t written = small_product(small_product(stream_batch, p.F, kMax64), n, kMax64);
    FUZZ_CHECK(written >= 0 && all_untouched(y, to_size(written)), call,
               "wrote element " + std::to_string(first_written(y, to_size(written))) +
                   " past batch * filters * out_steps = " + std::to_string(stream_batch) + "*" +
                   std::to_string(p.F) + "*" + std::to_string(n) + " (output_len " +
                   std::to_string(y_len) + ")");
    return written;
  }

  template <class T>
  void stream_push(Program& in) {
    const Snapshot b0 = layer ? snapshot(layer) : Snapshot{};
    const Params p(b0);
    const uint8_t sb = in.byte();
    const int64_t steps = sb < 240 ? sb % 9 : in.integer();
    const int64_t C = p.C > 0 ? p.C : 1;
    const int64_t x_len = pick_length(in, small_product(small_product(stream_batch, steps), C));
    const int64_t m = stream != nullptr && steps >= 0 ? max_output(steps) : -1;
    const int64_t y_len = pick_length(in, small_product(small_product(stream_batch, p.F), m));
    std::vector<T> x(to_size(std::max<int64_t>(x_len, 1)));
    fill(x, in.byte());
    std::vector<T> y(to_size(std::max<int64_t>(y_len, 0)) + 2, sentinel<T>());
    const uint8_t nb = in.byte();
    const bool null_x = nb < 6 || (x_len == 0 && nb < 128), null_n = nb >= 250;
    int64_t n = -7;
    Call c("convt_stream_push", layer);
    const convt_status s = call_push<T>(null_x ? nullptr : x.data(), x_len, steps, y.data(), y_len,
                                        null_n ? nullptr : &n);
    if (!c.finish(s, true)) {
      FUZZ_CHECK(all_untouched(y) && n == -7, "convt_stream_push", "a failed push wrote output");
      return;
    }
    const int64_t written = check_emitted("convt_stream_push", p, y, y_len, n, m);
    if (!signal.valid) return;
    std::vector<double> xc(x.begin(), x.begin() + x_len), yc(y.begin(), y.begin() + written);
    signal.in.push_back(convt_test::from_format(xc, p.format, stream_batch, p.C, steps));
    signal.in_steps.push_back(steps);
    signal.out.push_back(convt_test::from_format(yc, p.format, stream_batch, p.F, n));
    signal.out_steps.push_back(n);
  }

  template <class T>
  void stream_flush(Program& in) {
    const Snapshot b0 = layer ? snapshot(layer) : Snapshot{};
    const Params p(b0);
    const int64_t m = stream != nullptr ? max_output(0) : -1;
    const int64_t y_len = pick_length(in, small_product(small_product(stream_batch, p.F), m));
    std::vector<T> y(to_size(std::max<int64_t>(y_len, 0)) + 2, sentinel<T>());
    const bool null_n = in.chance(6), null_y = in.chance(128);  // NULL output: with length 0
    int64_t n = -7;
    Call c("convt_stream_flush", layer);
    const convt_status s =
        call_flush<T>(null_y && y_len == 0 ? nullptr : y.data(), y_len, null_n ? nullptr : &n);
    if (!c.finish(s, true)) {
      FUZZ_CHECK(all_untouched(y) && n == -7, "convt_stream_flush", "a failed flush wrote output");
      return;
    }
    const int64_t written = check_emitted("convt_stream_flush", p, y, y_len, n, m);
    if (signal.valid && b0 == signal.start) {
      std::vector<double> yc(y.begin(), y.begin() + written);
      signal.out.push_back(convt_test::from_format(yc, p.format, stream_batch, p.F, n));
      signal.out_steps.push_back(n);
      compare_signal<T>(p);
    }
    start_signal();  // a flush starts a new signal
  }

  // The concatenated outputs of a whole signal equal forward's over it: the reference.
  template <class T>
  void compare_signal(const Params& p) {
    int64_t steps = 0, out_steps = 0;
    for (int64_t k : signal.in_steps) steps += k;
    for (int64_t k : signal.out_steps) out_steps += k;
    if (steps == 0) {
      FUZZ_CHECK(out_steps == 0, "convt_stream_flush", "output without input");
      return;
    }
    if (!p.small) return;
    const convt_test::Lengths len = convt_test::lengths(p.hyper(), steps);
    FUZZ_CHECK(out_steps == len.default_len, "convt_stream_flush",
               "the signal gave " + std::to_string(out_steps) + " steps, forward gives " +
                   std::to_string(len.default_len));
    const auto& acts = convt_test::reference_activations();
    if (std::find(acts.begin(), acts.end(), p.activation) == acts.end()) return;
    const int64_t N = stream_batch;
    if (small_product(small_product(small_product(N, p.F), out_steps),
                      small_product(p.C / p.G, p.K), kMaxReferenceWork) < 0) {
      return;
    }
    // Concatenate along time, per item and channel.
    const auto join = [N](const std::vector<std::vector<double>>& parts,
                          const std::vector<int64_t>& lens, int64_t rows, int64_t total) {
      std::vector<double> all(to_size(N * rows * total));
      int64_t at = 0;
      for (size_t k = 0; k < parts.size(); ++k) {
        for (int64_t r = 0; r < N * rows; ++r) {
          for (int64_t j = 0; j < lens[k]; ++j) {
            all[to_size(r * total + at + j)] = parts[k][to_size(r * lens[k] + j)];
          }
        }
        at += lens[k];
      }
      return all;
    };
    const std::vector<double> x = join(signal.in, signal.in_steps, p.C, steps);
    const std::vector<double> got = join(signal.out, signal.out_steps, p.F, out_steps);
    std::vector<T> w_iow, bias;
    FUZZ_CHECK(read_weights<T>(layer, signal.start, CONVT_LAYOUT_IOW, w_iow, bias) == CONVT_OK,
               "convt_layer_get_weights", "the stream's weights are not readable");
    double alpha = 0;
    std::memcpy(&alpha, &signal.start.alpha_bits, sizeof alpha);
    convt_test::Problem pr = problem(p, N, steps, out_steps);
    pr.alpha = alpha;
    expect_reference<T>("convt_stream_flush", pr, p, x, w_iow, bias, got, alpha);
    if (trace())
      std::fprintf(stderr, "  the signal's %d pushes equal the reference\n", int(signal.in.size()));
  }

  void stream_misc(Program& in) {
    const uint8_t which = in.byte() % 4;
    if (which == 0) {
      Call c("convt_stream_reset", layer);
      if (c.finish(convt_stream_reset(stream), true)) start_signal();
    } else if (which == 1) {
      const int64_t steps = in.integer();
      int64_t m = -7;
      Call c("convt_stream_max_output_steps", layer);
      if (!c.finish(convt_stream_max_output_steps(stream, steps, in.chance(8) ? nullptr : &m),
                    true)) {
        FUZZ_CHECK(m == -7, "convt_stream_max_output_steps", "a failed call wrote *max_out");
      }
    } else if (which == 2) {
      destroy_stream();
    } else {
      convt_stream_destroy(nullptr);  // NULL is fine
    }
  }

  // Runs op<float> or op<double>, as the next byte says.
  template <class Op>
  static void either_dtype(Program& in, Op op) {
    if (in.chance(128)) {
      op(float{});
    } else {
      op(double{});
    }
  }

  void run(Program& in) {
    for (int n = 0; n < kMaxCalls && !in.done(); ++n) {
      const uint8_t op = in.byte() % 16;
      if (op == 0) {
        create(in);
      } else if (op == 1) {
        if (in.chance(32)) convt_layer_destroy(nullptr);  // NULL is fine
        destroy();
      } else if (op == 2) {
        set_int(in);
      } else if (op == 3) {
        set_double(in);
      } else if (op == 4) {
        set_string(in);
      } else if (op == 5) {
        either_dtype(in, [&](auto t) { set_weights<decltype(t)>(in); });
      } else if (op == 6) {
        init_weights(in);
      } else if (op == 7) {
        output_shape(in);
      } else if (op == 8 || op == 9) {
        either_dtype(in, [&](auto t) { forward<decltype(t)>(in); });
      } else if (op == 10) {
        if (in.chance(200)) {
          getters(in);
        } else {
          stream_misc(in);
        }
      } else if (op == 11) {
        null_layer(in);
      } else if (op == 12) {
        either_dtype(in, [&](auto t) { backward<decltype(t)>(in); });
      } else if (op == 13) {
        stream_create(in);
      } else if (op == 14) {
        either_dtype(in, [&](auto t) { stream_push<decltype(t)>(in); });
      } else {
        either_dtype(in, [&](auto t) { stream_flush<decltype(t)>(in); });
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  find_params();
  Program in(data, size);
  Harness h;
  h.run(in);
  return 0;
}
