// The API contract's error rules (API.md "Rules every function keeps", the header's "Errors"),
// driven only through the public C API: every bad input returns its status and a message that
// names what was wrong, a later successful call keeps that message, caller buffers stay
// untouched and the layer keeps every parameter, its weights and its forward output bit for
// bit.
#include <catch2/catch.hpp>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "convt/convt.h"

namespace {

// ------------------------------------------------------------------------------------------
// Small utilities
// ------------------------------------------------------------------------------------------

// Our own names for statuses, so that a wrong convt_status_string cannot hide a wrong status.
std::string status_name(convt_status s) {
  switch (s) {
    case CONVT_OK:
      return "CONVT_OK";
    case CONVT_E_INVALID_ARGUMENT:
      return "CONVT_E_INVALID_ARGUMENT";
    case CONVT_E_SHAPE:
      return "CONVT_E_SHAPE";
    case CONVT_E_STATE:
      return "CONVT_E_STATE";
    case CONVT_E_OUT_OF_MEMORY:
      return "CONVT_E_OUT_OF_MEMORY";
    case CONVT_E_UNSUPPORTED:
      return "CONVT_E_UNSUPPORTED";
    case CONVT_E_INTERNAL:
      return "CONVT_E_INTERNAL";
    default:
      return "status " + std::to_string(s);
  }
}

std::string to_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

bool is_number_key(const std::string& key) {
  std::size_t i = (!key.empty() && key[0] == '-') ? 1 : 0;
  if (i >= key.size()) return false;
  for (; i < key.size(); ++i) {
    if (!is_digit(key[i])) return false;
  }
  return true;
}

// A number key matches a whole number in the message ("95" is not found in "195"); any other
// key matches as a case-insensitive substring.
bool mentions_one(const std::string& msg, const std::string& key) {
  if (is_number_key(key)) {
    for (std::size_t pos = msg.find(key); pos != std::string::npos; pos = msg.find(key, pos + 1)) {
      const std::size_t end = pos + key.size();
      const bool digit_before = pos > 0 && is_digit(msg[pos - 1]);
      const bool digit_after = end < msg.size() && is_digit(msg[end]);
      if (!digit_before && !digit_after) return true;
    }
    return false;
  }
  return to_lower(msg).find(to_lower(key)) != std::string::npos;
}

// The message without the API's function names ("convt_layer_set_int: ..."), so that a key
// like "layer" must appear in what the message says, not in the name of the failing function.
std::string without_function_names(const std::string& msg) {
  std::string out;
  for (std::size_t i = 0; i < msg.size();) {
    if (msg.compare(i, 6, "convt_") == 0) {
      i += 6;
      while (i < msg.size() && (std::islower(static_cast<unsigned char>(msg[i])) ||
                                is_digit(msg[i]) || msg[i] == '_')) {
        ++i;
      }
      out += '#';
    } else {
      out += msg[i++];
    }
  }
  return out;
}

// `alternatives` is "a|b|c": the message must mention at least one of them.
bool mentions(const std::string& msg, const std::string& alternatives) {
  std::size_t start = 0;
  while (true) {
    const std::size_t bar = alternatives.find('|', start);
    const std::string key = alternatives.substr(start, bar - start);
    if (!key.empty() && mentions_one(msg, key)) return true;
    if (bar == std::string::npos) return false;
    start = bar + 1;
  }
}

void require_ok(convt_status s, const char* what) {
  INFO(what << " -> " << status_name(s) << ": " << convt_last_error());
  REQUIRE(s == CONVT_OK);
}
#define MUST(call) require_ok((call), #call)

constexpr int64_t kTwo40 = int64_t{1} << 40;
constexpr int64_t kTwo62 = int64_t{1} << 62;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// ------------------------------------------------------------------------------------------
// Caller buffers pre-filled with sentinels; every failing call must leave them alone.
// ------------------------------------------------------------------------------------------
constexpr float kSentinelF = -7777.25f;
constexpr double kSentinelD = -8888.125;
constexpr int64_t kSentinelI = -0x5a5a5a5a5a5a5a5;
constexpr char kSentinelC = '\x7f';
constexpr std::size_t kBufElems = 4096;

convt_layer* sentinel_layer_ptr() {
  return reinterpret_cast<convt_layer*>(static_cast<std::uintptr_t>(0xdeadbee0u));
}

struct Bufs {
  std::vector<float> f = std::vector<float>(kBufElems, kSentinelF);  // kernels, outputs
  std::vector<float> fb = std::vector<float>(64, kSentinelF);        // biases
  std::vector<double> d = std::vector<double>(kBufElems, kSentinelD);
  std::vector<double> db = std::vector<double>(64, kSentinelD);
  int64_t i[4] = {kSentinelI, kSentinelI, kSentinelI, kSentinelI};  // value, out_shape
  double v = kSentinelD;                                            // get_double's value
  char s[64];                                                       // get_string's buf
  convt_layer* layer = sentinel_layer_ptr();                        // create's out
  int64_t len = kSentinelI;  // get_string's length: the one output a failure may write

  Bufs() { std::memset(s, kSentinelC, sizeof s); }

  // Names of the buffers a call wrote to, "" when none.
  std::string touched() const {
    std::string t;
    for (float x : f) {
      if (std::memcmp(&x, &kSentinelF, sizeof x) != 0) {
        t += "f ";
        break;
      }
    }
    for (float x : fb) {
      if (std::memcmp(&x, &kSentinelF, sizeof x) != 0) {
        t += "fb ";
        break;
      }
    }
    for (double x : d) {
      if (std::memcmp(&x, &kSentinelD, sizeof x) != 0) {
        t += "d ";
        break;
      }
    }
    for (double x : db) {
      if (std::memcmp(&x, &kSentinelD, sizeof x) != 0) {
        t += "db ";
        break;
      }
    }
    for (int64_t x : i) {
      if (x != kSentinelI) {
        t += "i ";
        break;
      }
    }
    if (std::memcmp(&v, &kSentinelD, sizeof v) != 0) t += "v ";
    for (char c : s) {
      if (c != kSentinelC) {
        t += "s ";
        break;
      }
    }
    if (layer != sentinel_layer_ptr()) t += "layer ";
    return t;
  }
};

// ------------------------------------------------------------------------------------------
// A layer's observable state: every getter, its weights and a forward pass.
// ------------------------------------------------------------------------------------------
using Snapshot = std::vector<std::pair<std::string, std::string>>;

std::string bytes_of(const void* p, std::size_t n) {
  return std::string(static_cast<const char*>(p), n);
}

double input_value(std::size_t k) {
  return 0.125 * static_cast<double>(static_cast<int>((k * 37 + 11) % 17) - 8);
}

convt_status forward_any(const convt_layer* l, const float* in, int64_t in_len, int64_t batch,
                         int64_t steps, float* out, int64_t out_len, int64_t out_steps) {
  return convt_layer_forward_f32(l, in, in_len, batch, steps, out, out_len, out_steps);
}
convt_status forward_any(const convt_layer* l, const double* in, int64_t in_len, int64_t batch,
                         int64_t steps, double* out, int64_t out_len, int64_t out_steps) {
  return convt_layer_forward_f64(l, in, in_len, batch, steps, out, out_len, out_steps);
}
convt_status get_weights_any(const convt_layer* l, convt_layout layout, float* k, int64_t k_len,
                             float* b, int64_t b_len) {
  return convt_layer_get_weights_f32(l, layout, k, k_len, b, b_len);
}
convt_status get_weights_any(const convt_layer* l, convt_layout layout, double* k, int64_t k_len,
                             double* b, int64_t b_len) {
  return convt_layer_get_weights_f64(l, layout, k, k_len, b, b_len);
}

template <typename T>
std::string forward_state(const convt_layer* l, int64_t batch, int64_t steps, int64_t c,
                          int64_t out_elems, int64_t out_steps) {
  std::vector<T> in(static_cast<std::size_t>(batch * steps * c));
  for (std::size_t k = 0; k < in.size(); ++k) in[k] = static_cast<T>(input_value(k));
  std::vector<T> out(static_cast<std::size_t>(out_elems), T(-1));
  const convt_status st = forward_any(l, in.data(), static_cast<int64_t>(in.size()), batch, steps,
                                      out.data(), out_elems, out_steps);
  return status_name(st) + ":" +
         (st == CONVT_OK ? bytes_of(out.data(), out.size() * sizeof(T)) : std::string());
}

template <typename T>
std::string weights_state(const convt_layer* l, int64_t kernel_len, int64_t bias_len) {
  std::vector<T> k(static_cast<std::size_t>(kernel_len)), b(static_cast<std::size_t>(bias_len));
  std::string all;
  for (convt_layout layout : {CONVT_LAYOUT_WOI, CONVT_LAYOUT_IOW}) {
    const convt_status st =
        get_weights_any(l, layout, k.data(), kernel_len, bias_len ? b.data() : nullptr, bias_len);
    all += status_name(st) + ":";
    if (st == CONVT_OK) {
      all += bytes_of(k.data(), k.size() * sizeof(T)) + bytes_of(b.data(), b.size() * sizeof(T));
    }
  }
  return all;
}

Snapshot snapshot(const convt_layer* l) {
  Snapshot snap;
  for (convt_param p = 1; p <= 22; ++p) {
    int64_t iv = 0;
    convt_status st = convt_layer_get_int(l, p, &iv);
    snap.emplace_back("get_int(" + std::to_string(p) + ")",
                      status_name(st) + ":" + (st == CONVT_OK ? std::to_string(iv) : ""));
    double dv = 0;
    st = convt_layer_get_double(l, p, &dv);
    snap.emplace_back("get_double(" + std::to_string(p) + ")",
                      status_name(st) + ":" + (st == CONVT_OK ? bytes_of(&dv, sizeof dv) : ""));
    char buf[256];
    int64_t len = 0;
    st = convt_layer_get_string(l, p, buf, sizeof buf, &len);
    snap.emplace_back("get_string(" + std::to_string(p) + ")",
                      status_name(st) + ":" + (st == CONVT_OK ? std::string(buf) : ""));
  }
  int64_t f = 0, k = 0, c = 0, g = 0, use_bias = 0, dtype = 0, fmt = 0, bsz = 0, isteps = 0;
  if (convt_layer_get_int(l, CONVT_PARAM_FILTERS, &f) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_KERNEL_SIZE, &k) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_IN_CHANNELS, &c) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_GROUPS, &g) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_USE_BIAS, &use_bias) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_DTYPE, &dtype) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_DATA_FORMAT, &fmt) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_BATCH_SIZE, &bsz) != CONVT_OK ||
      convt_layer_get_int(l, CONVT_PARAM_INPUT_STEPS, &isteps) != CONVT_OK) {
    snap.emplace_back("params", "unreadable");
    return snap;
  }
  // Weights exist only when in_channels is fixed; a layer without them is "no weights".
  if (c < 1 || g < 1 || c % g != 0 || k * f * c / g > 100000) {
    snap.emplace_back("weights", "none or too large to read");
    return snap;
  }
  const int64_t kernel_len = k * f * c / g;
  const int64_t bias_len = use_bias ? f : 0;
  const std::string w = dtype == CONVT_DTYPE_FLOAT64
                            ? weights_state<double>(l, kernel_len, bias_len)
                            : weights_state<float>(l, kernel_len, bias_len);
  snap.emplace_back("weights", w);
  if (w.compare(0, 9, "CONVT_OK:") != 0) return snap;

  const int64_t batch = bsz > 0 ? bsz : 2;
  const int64_t steps = isteps > 0 ? isteps : 5;
  int64_t shape[3] = {0, 0, 0};
  const convt_status st = convt_layer_output_shape(l, batch, steps, shape);
  snap.emplace_back("output_shape", status_name(st) + ":" + std::to_string(shape[0]) + "," +
                                        std::to_string(shape[1]) + "," + std::to_string(shape[2]));
  int64_t out_steps = st == CONVT_OK ? (fmt == CONVT_CHANNELS_LAST ? shape[1] : shape[2]) : 7;
  if (out_steps < 1 || out_steps > 10000) out_steps = 7;
  const int64_t out_elems = batch * f * out_steps;
  snap.emplace_back("forward",
                    dtype == CONVT_DTYPE_FLOAT64
                        ? forward_state<double>(l, batch, steps, c, out_elems, out_steps)
                        : forward_state<float>(l, batch, steps, c, out_elems, out_steps));
  return snap;
}

std::string snapshot_diff(const Snapshot& a, const Snapshot& b) {
  if (a.size() != b.size()) return "different number of entries";
  std::string d;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) d += a[i].first + " ";
  }
  return d;
}

// ------------------------------------------------------------------------------------------
// The one check every failing call gets.
// ------------------------------------------------------------------------------------------
using Call = std::function<convt_status(convt_layer*, Bufs&)>;

// Runs `call` on `subject` and checks: the status; a new, non-empty message mentioning each
// of `keys` ("a|b" = either); that a following successful call keeps the message; that the
// caller's buffers are untouched; and that the layer's observable state is unchanged.
void expect_failure(convt_layer* subject, convt_status want, const std::vector<std::string>& keys,
                    const Call& call) {
  const Snapshot before = snapshot(subject);
  double ignored = 0;
  REQUIRE(convt_layer_get_double(subject, 777, &ignored) == CONVT_E_INVALID_ARGUMENT);
  const std::string primed = convt_last_error();

  Bufs bufs;
  const convt_status got = call(subject, bufs);
  const std::string msg = convt_last_error();
  INFO("message: \"" << msg << "\"");
  CHECK(status_name(got) == status_name(want));
  CHECK_FALSE(msg.empty());
  CHECK(msg != primed);
  const std::string body = without_function_names(msg);
  for (const std::string& key : keys) {
    INFO("the message should mention \"" << key << "\" outside function names");
    CHECK(mentions(body, key));
  }

  int64_t filters = 0;
  REQUIRE(convt_layer_get_int(subject, CONVT_PARAM_FILTERS, &filters) == CONVT_OK);
  CHECK(std::string(convt_last_error()) == msg);

  CHECK(bufs.touched() == "");
  CHECK(snapshot_diff(before, snapshot(subject)) == "");
}

using Factory = std::function<convt_layer*()>;

struct Case {
  std::string what;
  Factory make;
  convt_status want;
  std::vector<std::string> keys;
  Call call;
};

void run_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO("case: " << c.what);
    convt_layer* l = c.make();
    REQUIRE(l != nullptr);
    expect_failure(l, c.want, c.keys, c.call);
    convt_layer_destroy(l);
  }
}

// ------------------------------------------------------------------------------------------
// Subjects
// ------------------------------------------------------------------------------------------
// filters 6, kernel_size 3, in_channels 4, groups 2: kernel_len 36, bias_len 6; a forward of
// batch 2 and steps 5 takes 40 inputs and, with strides 2 and SAME, gives 10 steps: 120
// outputs.
constexpr int64_t kF = 6, kK = 3, kC = 4, kG = 2, kKernelLen = 36;
constexpr int64_t kBatch = 2, kSteps = 5, kInputLen = 40, kOutSteps = 10, kOutputLen = 120;

template <typename T>
std::vector<T> kernel_values(int64_t n) {
  std::vector<T> k(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = static_cast<T>(0.25 * static_cast<double>(static_cast<int>((i * 7) % 11) - 5));
  }
  return k;
}

template <typename T>
std::vector<T> bias_values(int64_t n) {
  std::vector<T> b(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<T>(0.5 * static_cast<double>(i) - 1);
  return b;
}

template <typename T>
std::vector<T> input_values(int64_t n) {
  std::vector<T> x(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(input_value(i));
  return x;
}

// A layer with filters 6 and kernel_size 3, nothing else set, no weights.
convt_layer* fresh() {
  convt_layer* l = nullptr;
  MUST(convt_layer_create(kF, kK, &l));
  return l;
}

Factory fresh_with(std::function<void(convt_layer*)> setup) {
  return [setup]() {
    convt_layer* l = fresh();
    setup(l);
    return l;
  };
}

void configure_ready(convt_layer* l, bool f64, bool use_bias) {
  MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, kG));
  MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 2));
  MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, "same"));
  MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "elu"));
  MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVATION_ALPHA, 0.7));
  MUST(convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, use_bias ? 1 : 0));
  if (f64) {
    MUST(convt_layer_set_string(l, CONVT_PARAM_DTYPE, "float64"));
    const auto k = kernel_values<double>(kKernelLen);
    const auto b = bias_values<double>(kF);
    MUST(convt_layer_set_weights_f64(l, kC, CONVT_LAYOUT_WOI, k.data(), kKernelLen,
                                     use_bias ? b.data() : nullptr, use_bias ? kF : 0));
  } else {
    const auto k = kernel_values<float>(kKernelLen);
    const auto b = bias_values<float>(kF);
    MUST(convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, k.data(), kKernelLen,
                                     use_bias ? b.data() : nullptr, use_bias ? kF : 0));
  }
}

// Weights set (in_channels 4, groups 2), strides 2, SAME, elu with alpha 0.7.
convt_layer* ready_f32() {
  convt_layer* l = fresh();
  configure_ready(l, false, true);
  return l;
}
convt_layer* ready_f64() {
  convt_layer* l = fresh();
  configure_ready(l, true, true);
  return l;
}
convt_layer* ready_f32_no_bias() {
  convt_layer* l = fresh();
  configure_ready(l, false, false);
  return l;
}
convt_layer* ready_f64_no_bias() {
  convt_layer* l = fresh();
  configure_ready(l, true, false);
  return l;
}

Factory ready_with(std::function<void(convt_layer*)> setup) {
  return [setup]() {
    convt_layer* l = ready_f32();
    setup(l);
    return l;
  };
}

// A fresh layer that declared in_channels 4 (so inputs of 40 values fit) but has no weights.
convt_layer* declared() {
  convt_layer* l = fresh();
  MUST(convt_layer_set_int(l, CONVT_PARAM_IN_CHANNELS, kC));
  return l;
}

// Inputs and weights the failing calls pass; their values differ from the layer's.
const std::vector<float>& in_f() {
  static const std::vector<float> v = input_values<float>(kBufElems);
  return v;
}
const std::vector<double>& in_d() {
  static const std::vector<double> v = input_values<double>(kBufElems);
  return v;
}
const std::vector<float>& nines_f() {
  static const std::vector<float> v(kBufElems, 9.0f);
  return v;
}
const std::vector<double>& nines_d() {
  static const std::vector<double> v(kBufElems, 9.0);
  return v;
}

convt_status fwd_f32(const convt_layer* l, Bufs& b, int64_t input_len, int64_t batch, int64_t steps,
                     int64_t output_len, int64_t out_steps) {
  return convt_layer_forward_f32(l, in_f().data(), input_len, batch, steps, b.f.data(), output_len,
                                 out_steps);
}
convt_status fwd_f64(const convt_layer* l, Bufs& b, int64_t input_len, int64_t batch, int64_t steps,
                     int64_t output_len, int64_t out_steps) {
  return convt_layer_forward_f64(l, in_d().data(), input_len, batch, steps, b.d.data(), output_len,
                                 out_steps);
}
// A forward with every argument right for the ready layer.
convt_status good_fwd_f32(const convt_layer* l, Bufs& b) {
  return fwd_f32(l, b, kInputLen, kBatch, kSteps, kOutputLen, kOutSteps);
}

}  // namespace

// ==========================================================================================
// Statuses, versions, messages
// ==========================================================================================

TEST_CASE("convt_status_string names every status and never returns NULL", "[errors]") {
  const std::vector<std::pair<convt_status, std::string>> names = {
      {CONVT_OK, "CONVT_OK"},
      {CONVT_E_INVALID_ARGUMENT, "CONVT_E_INVALID_ARGUMENT"},
      {CONVT_E_SHAPE, "CONVT_E_SHAPE"},
      {CONVT_E_STATE, "CONVT_E_STATE"},
      {CONVT_E_OUT_OF_MEMORY, "CONVT_E_OUT_OF_MEMORY"},
      {CONVT_E_UNSUPPORTED, "CONVT_E_UNSUPPORTED"},
      {CONVT_E_INTERNAL, "CONVT_E_INTERNAL"}};
  for (const auto& n : names) {
    const char* s = convt_status_string(n.first);
    REQUIRE(s != nullptr);
    CHECK(std::string(s) == n.second);
  }
  for (convt_status unknown :
       {7, -1, 1000, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}) {
    INFO("unknown status " << unknown);
    const char* s = convt_status_string(unknown);
    REQUIRE(s != nullptr);
    CHECK(std::string(s) == "CONVT_E_UNKNOWN");
  }
}

TEST_CASE("The version functions report 1.0.0, matching the header's macros", "[errors]") {
  CHECK(CONVT_VERSION_NUMBER == 10000);
  CHECK(convt_version_number() == static_cast<uint32_t>(CONVT_VERSION_NUMBER));
  REQUIRE(convt_version_string() != nullptr);
  CHECK(std::string(convt_version_string()) == "1.0.0");
  const std::string from_macros = std::to_string(CONVT_VERSION_MAJOR) + "." +
                                  std::to_string(CONVT_VERSION_MINOR) + "." +
                                  std::to_string(CONVT_VERSION_PATCH);
  CHECK(std::string(convt_version_string()) == from_macros);
}

TEST_CASE("convt_layer_destroy(NULL) is a no-op that keeps the thread's message", "[errors]") {
  double ignored = 0;
  REQUIRE(convt_layer_get_double(nullptr, CONVT_PARAM_ACTIVATION_ALPHA, &ignored) ==
          CONVT_E_INVALID_ARGUMENT);
  const std::string msg = convt_last_error();
  convt_layer_destroy(nullptr);
  CHECK(std::string(convt_last_error()) == msg);
}

TEST_CASE("convt_last_error is per thread: empty in a new thread, untouched by other threads",
          "[errors][threads]") {
  std::string fresh_thread_msg = "not run";
  std::thread([&] { fresh_thread_msg = convt_last_error(); }).join();
  CHECK(fresh_thread_msg.empty());

  int64_t v = 0;
  convt_layer* l = fresh();
  REQUIRE(convt_layer_get_int(l, 901, &v) == CONVT_E_INVALID_ARGUMENT);
  const std::string mine = convt_last_error();
  CHECK(mentions(mine, "901"));

  std::string other_msg;
  convt_status other_status = CONVT_OK;
  std::string other_before;
  std::thread([&] {
    other_before = convt_last_error();
    other_status = convt_layer_get_int(l, 902, &v);
    other_msg = convt_last_error();
  }).join();
  CHECK(other_before.empty());
  CHECK(other_status == CONVT_E_INVALID_ARGUMENT);
  CHECK(mentions(other_msg, "902"));
  CHECK_FALSE(mentions(other_msg, "901"));
  CHECK(std::string(convt_last_error()) == mine);
  convt_layer_destroy(l);
}

TEST_CASE("A successful call of every kind leaves the previous message alone", "[errors]") {
  convt_layer* l = ready_f32();
  int64_t v = 0;
  REQUIRE(convt_layer_get_int(l, 555, &v) == CONVT_E_INVALID_ARGUMENT);
  const std::string msg = convt_last_error();
  REQUIRE(mentions(msg, "555"));

  convt_layer* other = nullptr;
  MUST(convt_layer_create(2, 2, &other));
  MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 3));
  MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVATION_ALPHA, 0.5));
  MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, "valid"));
  double d = 0;
  MUST(convt_layer_get_double(l, CONVT_PARAM_ACTIVATION_ALPHA, &d));
  char buf[64];
  int64_t len = 0;
  MUST(convt_layer_get_string(l, CONVT_PARAM_PADDING, buf, sizeof buf, &len));
  int64_t shape[3];
  MUST(convt_layer_output_shape(l, kBatch, kSteps, shape));
  std::vector<float> out(static_cast<std::size_t>(kBatch * kF * shape[1]));
  MUST(convt_layer_forward_f32(l, in_f().data(), kInputLen, kBatch, kSteps, out.data(),
                               static_cast<int64_t>(out.size()), shape[1]));
  std::vector<float> k(kKernelLen), b(kF);
  MUST(convt_layer_get_weights_f32(l, CONVT_LAYOUT_IOW, k.data(), kKernelLen, b.data(), kF));
  MUST(convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_IOW, k.data(), kKernelLen, b.data(), kF));
  MUST(convt_layer_init_weights(other, 3, 42));
  convt_layer_destroy(other);
  CHECK(std::string(convt_last_error()) == msg);
  convt_layer_destroy(l);
}

// ==========================================================================================
// NULL pointers
// ==========================================================================================

TEST_CASE("NULL pointers are CONVT_E_INVALID_ARGUMENT in every function that takes one",
          "[errors]") {
  const auto k = kernel_values<float>(kKernelLen);
  const auto bias = bias_values<float>(kF);
  const auto kd = kernel_values<double>(kKernelLen);
  const auto biasd = bias_values<double>(kF);
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  run_cases({
      {"create(out = NULL)",
       fresh,
       E,
       {"out", "null"},
       [](convt_layer*, Bufs&) { return convt_layer_create(kF, kK, nullptr); }},
      {"set_int(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs&) { return convt_layer_set_int(nullptr, CONVT_PARAM_STRIDES, 2); }},
      {"get_int(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) {
         return convt_layer_get_int(nullptr, CONVT_PARAM_STRIDES, &b.i[0]);
       }},
      {"get_int(value = NULL)",
       ready_f32,
       E,
       {"value", "null"},
       [](convt_layer* l, Bufs&) { return convt_layer_get_int(l, CONVT_PARAM_STRIDES, nullptr); }},
      {"set_double(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs&) {
         return convt_layer_set_double(nullptr, CONVT_PARAM_ACTIVATION_ALPHA, 0.5);
       }},
      {"get_double(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) {
         return convt_layer_get_double(nullptr, CONVT_PARAM_ACTIVATION_ALPHA, &b.v);
       }},
      {"get_double(value = NULL)",
       ready_f32,
       E,
       {"value", "null"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_get_double(l, CONVT_PARAM_ACTIVATION_ALPHA, nullptr);
       }},
      {"set_string(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs&) {
         return convt_layer_set_string(nullptr, CONVT_PARAM_PADDING, "valid");
       }},
      {"set_string(value = NULL) for an enum",
       ready_f32,
       E,
       {"value", "null"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_PADDING, nullptr);
       }},
      {"set_string(value = NULL) for the name",
       ready_f32,
       E,
       {"value|name", "null"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_string(l, CONVT_PARAM_NAME, nullptr); }},
      {"get_string(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) {
         return convt_layer_get_string(nullptr, CONVT_PARAM_PADDING, b.s, sizeof b.s, &b.len);
       }},
      {"get_string(buf = NULL, capacity 8)",
       ready_f32,
       E,
       {"buf", "null"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_string(l, CONVT_PARAM_PADDING, nullptr, 8, &b.len);
       }},
      {"get_string(length = NULL)",
       ready_f32,
       E,
       {"length", "null"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_string(l, CONVT_PARAM_PADDING, b.s, sizeof b.s, nullptr);
       }},
      {"set_weights_f32(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [&](convt_layer*, Bufs&) {
         return convt_layer_set_weights_f32(nullptr, kC, CONVT_LAYOUT_WOI, k.data(), kKernelLen,
                                            bias.data(), kF);
       }},
      {"set_weights_f32(kernel = NULL)",
       ready_f32,
       E,
       {"kernel", "null"},
       [&](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nullptr, kKernelLen,
                                            nines_f().data(), kF);
       }},
      {"set_weights_f32(kernel = NULL) before weights",
       fresh,
       E,
       {"kernel", "null"},
       [&](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nullptr, 72, bias.data(), kF);
       }},
      {"set_weights_f64(NULL layer)",
       ready_f64,
       E,
       {"layer", "null"},
       [&](convt_layer*, Bufs&) {
         return convt_layer_set_weights_f64(nullptr, kC, CONVT_LAYOUT_WOI, kd.data(), kKernelLen,
                                            biasd.data(), kF);
       }},
      {"set_weights_f64(kernel = NULL)",
       ready_f64,
       E,
       {"kernel", "null"},
       [&](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, kC, CONVT_LAYOUT_WOI, nullptr, kKernelLen,
                                            nines_d().data(), kF);
       }},
      {"get_weights_f32(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) {
         return convt_layer_get_weights_f32(nullptr, CONVT_LAYOUT_WOI, b.f.data(), kKernelLen,
                                            b.fb.data(), kF);
       }},
      {"get_weights_f32(kernel = NULL)",
       ready_f32,
       E,
       {"kernel", "null"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, nullptr, kKernelLen, b.fb.data(),
                                            kF);
       }},
      {"get_weights_f64(NULL layer)",
       ready_f64,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) {
         return convt_layer_get_weights_f64(nullptr, CONVT_LAYOUT_WOI, b.d.data(), kKernelLen,
                                            b.db.data(), kF);
       }},
      {"get_weights_f64(kernel = NULL)",
       ready_f64,
       E,
       {"kernel", "null"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, nullptr, kKernelLen, b.db.data(),
                                            kF);
       }},
      {"init_weights(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs&) { return convt_layer_init_weights(nullptr, kC, 1); }},
      {"output_shape(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) {
         return convt_layer_output_shape(nullptr, kBatch, kSteps, b.i);
       }},
      {"output_shape(out_shape = NULL)",
       ready_f32,
       E,
       {"shape", "null"},
       [](convt_layer* l, Bufs&) { return convt_layer_output_shape(l, kBatch, kSteps, nullptr); }},
      {"forward_f32(NULL layer)",
       ready_f32,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) { return good_fwd_f32(nullptr, b); }},
      {"forward_f32(input = NULL)",
       ready_f32,
       E,
       {"input", "null"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_forward_f32(l, nullptr, kInputLen, kBatch, kSteps, b.f.data(),
                                        kOutputLen, kOutSteps);
       }},
      {"forward_f32(output = NULL)",
       ready_f32,
       E,
       {"output", "null"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_forward_f32(l, in_f().data(), kInputLen, kBatch, kSteps, nullptr,
                                        kOutputLen, kOutSteps);
       }},
      {"forward_f64(NULL layer)",
       ready_f64,
       E,
       {"layer", "null"},
       [](convt_layer*, Bufs& b) {
         return fwd_f64(nullptr, b, kInputLen, kBatch, kSteps, kOutputLen, kOutSteps);
       }},
      {"forward_f64(input = NULL)",
       ready_f64,
       E,
       {"input", "null"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_forward_f64(l, nullptr, kInputLen, kBatch, kSteps, b.d.data(),
                                        kOutputLen, kOutSteps);
       }},
      {"forward_f64(output = NULL)",
       ready_f64,
       E,
       {"output", "null"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_forward_f64(l, in_d().data(), kInputLen, kBatch, kSteps, nullptr,
                                        kOutputLen, kOutSteps);
       }},
  });
}

TEST_CASE("A bias that is missing or given against use_bias is CONVT_E_SHAPE", "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  run_cases({
      {"set_weights_f32(bias NULL, bias_len 6) with use_bias 1",
       ready_f32,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nines_f().data(), kKernelLen,
                                            nullptr, kF);
       }},
      {"set_weights_f32(bias NULL, bias_len 0) with use_bias 1",
       ready_f32,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nines_f().data(), kKernelLen,
                                            nullptr, 0);
       }},
      {"set_weights_f64(bias NULL) with use_bias 1",
       ready_f64,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, kC, CONVT_LAYOUT_WOI, nines_d().data(), kKernelLen,
                                            nullptr, kF);
       }},
      {"set_weights_f32(bias given, bias_len 6) with use_bias 0",
       ready_f32_no_bias,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nines_f().data(), kKernelLen,
                                            nines_f().data(), kF);
       }},
      {"set_weights_f32(bias given, bias_len 0) with use_bias 0",
       ready_f32_no_bias,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nines_f().data(), kKernelLen,
                                            nines_f().data(), 0);
       }},
      {"set_weights_f64(bias given) with use_bias 0",
       ready_f64_no_bias,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, kC, CONVT_LAYOUT_WOI, nines_d().data(), kKernelLen,
                                            nines_d().data(), kF);
       }},
      {"set_weights_f32(bias NULL) with use_bias 1 before weights",
       declared,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nines_f().data(), 72, nullptr,
                                            kF);
       }},
      {"get_weights_f32(bias NULL, bias_len 6) with use_bias 1",
       ready_f32,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, b.f.data(), kKernelLen, nullptr,
                                            kF);
       }},
      {"get_weights_f32(bias given) with use_bias 0",
       ready_f32_no_bias,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, b.f.data(), kKernelLen,
                                            b.fb.data(), kF);
       }},
      {"get_weights_f64(bias NULL) with use_bias 1",
       ready_f64,
       E,
       {"bias", "use_bias"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, b.d.data(), kKernelLen, nullptr,
                                            kF);
       }},
  });
}

// ==========================================================================================
// Sizes
// ==========================================================================================

TEST_CASE("convt_layer_create refuses filters or kernel_size below 1 and leaves out alone",
          "[errors]") {
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  run_cases({
      {"filters 0",
       fresh,
       E,
       {"filters", "0"},
       [](convt_layer*, Bufs& b) { return convt_layer_create(0, kK, &b.layer); }},
      {"filters -1",
       fresh,
       E,
       {"filters", "-1"},
       [](convt_layer*, Bufs& b) { return convt_layer_create(-1, kK, &b.layer); }},
      {"filters INT64_MIN",
       fresh,
       E,
       {"filters", "-9223372036854775808"},
       [](convt_layer*, Bufs& b) {
         return convt_layer_create(std::numeric_limits<int64_t>::min(), kK, &b.layer);
       }},
      {"kernel_size 0",
       fresh,
       E,
       {"kernel_size", "0"},
       [](convt_layer*, Bufs& b) { return convt_layer_create(kF, 0, &b.layer); }},
      {"kernel_size -3",
       fresh,
       E,
       {"kernel_size", "-3"},
       [](convt_layer*, Bufs& b) { return convt_layer_create(kF, -3, &b.layer); }},
  });
}

TEST_CASE("batch or steps below 1 are CONVT_E_SHAPE in output_shape and forward", "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  run_cases({
      {"output_shape batch 0",
       ready_f32,
       E,
       {"batch"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, 0, kSteps, b.i); }},
      {"output_shape batch -1",
       ready_f32,
       E,
       {"batch"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, -1, kSteps, b.i); }},
      {"output_shape steps 0",
       ready_f32,
       E,
       {"steps"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, kBatch, 0, b.i); }},
      {"output_shape steps -5",
       ready_f32,
       E,
       {"steps"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, kBatch, -5, b.i); }},
      {"output_shape steps 0 before weights",
       fresh,
       E,
       {"steps"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, 1, 0, b.i); }},
      {"forward batch 0",
       ready_f32,
       E,
       {"batch"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, 0, 0, kSteps, kOutputLen, kOutSteps); }},
      {"forward batch -2",
       ready_f32,
       E,
       {"batch"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, kInputLen, -2, kSteps, kOutputLen, kOutSteps);
       }},
      {"forward steps 0",
       ready_f32,
       E,
       {"steps"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, 0, kBatch, 0, kOutputLen, kOutSteps); }},
      {"forward steps -5",
       ready_f32,
       E,
       {"steps"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, kInputLen, kBatch, -5, kOutputLen, kOutSteps);
       }},
      {"forward_f64 steps 0",
       ready_f64,
       E,
       {"steps"},
       [](convt_layer* l, Bufs& b) { return fwd_f64(l, b, 0, kBatch, 0, kOutputLen, kOutSteps); }},
  });
}

TEST_CASE("in_channels below 1 in set_weights and init_weights is CONVT_E_SHAPE", "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  run_cases({
      {"set_weights_f32 in_channels 0",
       fresh,
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, 0, CONVT_LAYOUT_WOI, nines_f().data(), 0,
                                            nines_f().data(), kF);
       }},
      {"set_weights_f32 in_channels -4",
       fresh,
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, -4, CONVT_LAYOUT_WOI, nines_f().data(), 72,
                                            nines_f().data(), kF);
       }},
      {"set_weights_f64 in_channels 0",
       fresh_with([](convt_layer* l) {
         MUST(convt_layer_set_int(l, CONVT_PARAM_DTYPE, CONVT_DTYPE_FLOAT64));
       }),
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, 0, CONVT_LAYOUT_WOI, nines_d().data(), 0,
                                            nines_d().data(), kF);
       }},
      {"init_weights in_channels 0",
       fresh,
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, 0, 1); }},
      {"init_weights in_channels -1",
       fresh,
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, -1, 1); }},
      {"init_weights in_channels 0 on a layer with weights",
       ready_f32,
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, 0, 1); }},
  });
}

TEST_CASE("get_string refuses a negative capacity", "[errors]") {
  run_cases({
      {"get_string capacity -1",
       ready_f32,
       CONVT_E_INVALID_ARGUMENT,
       {"capacity"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_string(l, CONVT_PARAM_PADDING, b.s, -1, &b.len);
       }},
      {"get_string capacity INT64_MIN",
       ready_f32,
       CONVT_E_INVALID_ARGUMENT,
       {"capacity"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_string(l, CONVT_PARAM_NAME, b.s,
                                       std::numeric_limits<int64_t>::min(), &b.len);
       }},
  });
}

TEST_CASE("get_string with too small a capacity is CONVT_E_SHAPE, writes *length only",
          "[errors]") {
  const std::string name = "abcdefghijklmnopqrst";  // 20 characters
  const Factory named = fresh_with(
      [name](convt_layer* l) { MUST(convt_layer_set_string(l, CONVT_PARAM_NAME, name.c_str())); });
  for (int64_t capacity : {int64_t{7}, int64_t{20}}) {
    INFO("capacity " << capacity);
    convt_layer* l = named();
    int64_t length = -1;
    expect_failure(l, CONVT_E_SHAPE, {"20|21", std::to_string(capacity)},
                   [&](convt_layer* s, Bufs& b) {
                     const convt_status st =
                         convt_layer_get_string(s, CONVT_PARAM_NAME, b.s, capacity, &b.len);
                     length = b.len;
                     return st;
                   });
    CHECK(length == 20);
    convt_layer_destroy(l);
  }
  {
    INFO("padding \"same_lower\" (10 characters) into 10 bytes");
    convt_layer* l = fresh_with([](convt_layer* s) {
      MUST(convt_layer_set_int(s, CONVT_PARAM_PADDING, CONVT_PADDING_SAME_LOWER));
    })();
    int64_t length = -1;
    expect_failure(l, CONVT_E_SHAPE, {"10|11"}, [&](convt_layer* s, Bufs& b) {
      const convt_status st = convt_layer_get_string(s, CONVT_PARAM_PADDING, b.s, 10, &b.len);
      length = b.len;
      return st;
    });
    CHECK(length == 10);
    convt_layer_destroy(l);
  }
}

// ==========================================================================================
// Unknown params, names and enum values; the wrong kind of accessor
// ==========================================================================================

TEST_CASE("An unknown param is CONVT_E_INVALID_ARGUMENT in every accessor", "[errors]") {
  std::vector<Case> cases;
  for (convt_param p : {0, 42, -1, 1000}) {
    const std::string n = std::to_string(p);
    const convt_status E = CONVT_E_INVALID_ARGUMENT;
    cases.push_back({"set_int(" + n + ")", ready_f32, E, {n}, [p](convt_layer* l, Bufs&) {
                       return convt_layer_set_int(l, p, 1);
                     }});
    cases.push_back({"get_int(" + n + ")", ready_f32, E, {n}, [p](convt_layer* l, Bufs& b) {
                       return convt_layer_get_int(l, p, &b.i[0]);
                     }});
    cases.push_back({"set_double(" + n + ")", ready_f32, E, {n}, [p](convt_layer* l, Bufs&) {
                       return convt_layer_set_double(l, p, 0.5);
                     }});
    cases.push_back({"get_double(" + n + ")", ready_f32, E, {n}, [p](convt_layer* l, Bufs& b) {
                       return convt_layer_get_double(l, p, &b.v);
                     }});
    cases.push_back({"set_string(" + n + ")", ready_f32, E, {n}, [p](convt_layer* l, Bufs&) {
                       return convt_layer_set_string(l, p, "relu");
                     }});
    cases.push_back({"get_string(" + n + ")", ready_f32, E, {n}, [p](convt_layer* l, Bufs& b) {
                       return convt_layer_get_string(l, p, b.s, sizeof b.s, &b.len);
                     }});
    cases.push_back(
        {"set_int(" + n + ") before weights", fresh, E, {n}, [p](convt_layer* l, Bufs&) {
           return convt_layer_set_int(l, p, 0);
         }});
  }
  run_cases(cases);
}

TEST_CASE("Unknown enum values and names are CONVT_E_INVALID_ARGUMENT", "[errors]") {
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  auto set_int = [](convt_param p, int64_t v) -> Call {
    return [p, v](convt_layer* l, Bufs&) { return convt_layer_set_int(l, p, v); };
  };
  auto set_str = [](convt_param p, const char* v) -> Call {
    return [p, v](convt_layer* l, Bufs&) { return convt_layer_set_string(l, p, v); };
  };
  run_cases({
      {"set_int(PADDING, 4)", ready_f32, E, {"padding", "4"}, set_int(CONVT_PARAM_PADDING, 4)},
      {"set_int(PADDING, -1)", ready_f32, E, {"padding", "-1"}, set_int(CONVT_PARAM_PADDING, -1)},
      {"set_int(DATA_FORMAT, 2)",
       ready_f32,
       E,
       {"data_format|format", "2"},
       set_int(CONVT_PARAM_DATA_FORMAT, 2)},
      {"set_int(ACTIVATION, 28)",
       ready_f32,
       E,
       {"activation", "28"},
       set_int(CONVT_PARAM_ACTIVATION, 28)},
      {"set_int(ACTIVATION, -1)",
       ready_f32,
       E,
       {"activation", "-1"},
       set_int(CONVT_PARAM_ACTIVATION, -1)},
      {"set_int(DTYPE, 2) before weights", fresh, E, {"dtype", "2"}, set_int(CONVT_PARAM_DTYPE, 2)},
      {"set_int(KERNEL_INITIALIZER, 12)",
       ready_f32,
       E,
       {"initializer", "12"},
       set_int(CONVT_PARAM_KERNEL_INITIALIZER, 12)},
      {"set_int(BIAS_INITIALIZER, -1)",
       ready_f32,
       E,
       {"initializer", "-1"},
       set_int(CONVT_PARAM_BIAS_INITIALIZER, -1)},
      {"set_string(PADDING, \"same_upper\")",
       ready_f32,
       E,
       {"explicit", "same_upper"},
       set_str(CONVT_PARAM_PADDING, "same_upper")},
      {"set_string(PADDING, \"SAME_UPPER\")",
       ready_f32,
       E,
       {"explicit"},
       set_str(CONVT_PARAM_PADDING, "SAME_UPPER")},
      {"set_string(PADDING, \"NOTSET\")",
       ready_f32,
       E,
       {"explicit", "notset"},
       set_str(CONVT_PARAM_PADDING, "NOTSET")},
      {"set_string(PADDING, \"full\")",
       ready_f32,
       E,
       {"full"},
       set_str(CONVT_PARAM_PADDING, "full")},
      {"set_string(PADDING, \"\")", ready_f32, E, {"padding"}, set_str(CONVT_PARAM_PADDING, "")},
      {"set_string(DATA_FORMAT, \"NHWC\")",
       ready_f32,
       E,
       {"nhwc"},
       set_str(CONVT_PARAM_DATA_FORMAT, "NHWC")},
      {"set_string(ACTIVATION, \"relu7\")",
       ready_f32,
       E,
       {"relu7"},
       set_str(CONVT_PARAM_ACTIVATION, "relu7")},
      {"set_string(ACTIVATION, \"relu \") (trailing space)",
       ready_f32,
       E,
       {"relu"},
       set_str(CONVT_PARAM_ACTIVATION, "relu ")},
      {"set_string(DTYPE, \"int8\") before weights",
       fresh,
       E,
       {"int8"},
       set_str(CONVT_PARAM_DTYPE, "int8")},
      {"set_string(KERNEL_INITIALIZER, \"glorot\")",
       ready_f32,
       E,
       {"glorot"},
       set_str(CONVT_PARAM_KERNEL_INITIALIZER, "glorot")},
      {"set_string(NAME, \"\")", ready_f32, E, {"name"}, set_str(CONVT_PARAM_NAME, "")},
  });
}

TEST_CASE("Keras names this version lacks are CONVT_E_UNSUPPORTED with the name in the message",
          "[errors]") {
  const convt_status E = CONVT_E_UNSUPPORTED;
  run_cases({
      {"set_string(ACTIVATION, \"glu\")",
       ready_f32,
       E,
       {"glu"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "glu");
       }},
      {"set_string(ACTIVATION, \"GLU\")",
       ready_f32,
       E,
       {"glu"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "GLU");
       }},
      {"set_string(DTYPE, \"float16\") before weights",
       fresh,
       E,
       {"float16"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_DTYPE, "float16");
       }},
      {"set_string(DTYPE, \"bfloat16\") before weights",
       fresh,
       E,
       {"bfloat16"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_DTYPE, "bfloat16");
       }},
  });
}

TEST_CASE("The wrong kind of accessor, or setting a read-only param, is CONVT_E_INVALID_ARGUMENT",
          "[errors]") {
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  run_cases({
      {"set_double(STRIDES)",
       ready_f32,
       E,
       {"strides"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_double(l, CONVT_PARAM_STRIDES, 2.0); }},
      {"set_int(ACTIVATION_ALPHA)",
       ready_f32,
       E,
       {"alpha"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_int(l, CONVT_PARAM_ACTIVATION_ALPHA, 1);
       }},
      {"set_string(STRIDES)",
       ready_f32,
       E,
       {"strides"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_string(l, CONVT_PARAM_STRIDES, "2"); }},
      {"set_string(ACTIVATION_ALPHA)",
       ready_f32,
       E,
       {"alpha"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_ACTIVATION_ALPHA, "0.5");
       }},
      {"get_string(STRIDES)",
       ready_f32,
       E,
       {"strides"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_string(l, CONVT_PARAM_STRIDES, b.s, sizeof b.s, &b.len);
       }},
      {"get_string(ACTIVATION_ALPHA)",
       ready_f32,
       E,
       {"alpha"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_string(l, CONVT_PARAM_ACTIVATION_ALPHA, b.s, sizeof b.s, &b.len);
       }},
      {"get_double(PADDING)",
       ready_f32,
       E,
       {"padding"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_double(l, CONVT_PARAM_PADDING, &b.v);
       }},
      {"get_double(STRIDES)",
       ready_f32,
       E,
       {"strides"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_double(l, CONVT_PARAM_STRIDES, &b.v);
       }},
      {"get_int(ACTIVATION_ALPHA)",
       ready_f32,
       E,
       {"alpha"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_int(l, CONVT_PARAM_ACTIVATION_ALPHA, &b.i[0]);
       }},
      {"set_int(NAME)",
       ready_f32,
       E,
       {"name"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_NAME, 3); }},
      {"get_int(NAME)",
       ready_f32,
       E,
       {"name"},
       [](convt_layer* l, Bufs& b) { return convt_layer_get_int(l, CONVT_PARAM_NAME, &b.i[0]); }},
      {"set_double(NAME)",
       ready_f32,
       E,
       {"name"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_double(l, CONVT_PARAM_NAME, 1.0); }},
      {"set_int(FILTERS) read-only",
       ready_f32,
       E,
       {"filters"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_FILTERS, 8); }},
      {"set_int(FILTERS) to its own value",
       fresh,
       E,
       {"filters"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_FILTERS, kF); }},
      {"set_int(KERNEL_SIZE) read-only",
       ready_f32,
       E,
       {"kernel_size"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_KERNEL_SIZE, 5); }},
      {"set_string(FILTERS) read-only",
       fresh,
       E,
       {"filters"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_string(l, CONVT_PARAM_FILTERS, "8"); }},
  });
}

// ==========================================================================================
// Values out of range
// ==========================================================================================

TEST_CASE("Setters refuse values out of range with CONVT_E_INVALID_ARGUMENT", "[errors]") {
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  auto set_int = [](convt_param p, int64_t v) -> Call {
    return [p, v](convt_layer* l, Bufs&) { return convt_layer_set_int(l, p, v); };
  };
  run_cases({
      {"strides 0", ready_f32, E, {"strides"}, set_int(CONVT_PARAM_STRIDES, 0)},
      {"strides -2", ready_f32, E, {"strides"}, set_int(CONVT_PARAM_STRIDES, -2)},
      {"dilation_rate 0", ready_f32, E, {"dilation"}, set_int(CONVT_PARAM_DILATION_RATE, 0)},
      {"pad_begin -1",
       ready_f32,
       E,
       {"pad_begin|pad begin|pad"},
       set_int(CONVT_PARAM_PAD_BEGIN, -1)},
      {"pad_end -1", ready_f32, E, {"pad_end|pad end|pad"}, set_int(CONVT_PARAM_PAD_END, -1)},
      {"output_padding -2",
       ready_f32,
       E,
       {"output_padding"},
       set_int(CONVT_PARAM_OUTPUT_PADDING, -2)},
      {"groups 0 before weights", fresh, E, {"groups"}, set_int(CONVT_PARAM_GROUPS, 0)},
      {"groups -2 before weights", fresh, E, {"groups"}, set_int(CONVT_PARAM_GROUPS, -2)},
      {"use_bias 2 before weights", fresh, E, {"use_bias"}, set_int(CONVT_PARAM_USE_BIAS, 2)},
      {"use_bias -1 before weights", fresh, E, {"use_bias"}, set_int(CONVT_PARAM_USE_BIAS, -1)},
      {"trainable -1", ready_f32, E, {"trainable"}, set_int(CONVT_PARAM_TRAINABLE, -1)},
      {"trainable 2", ready_f32, E, {"trainable"}, set_int(CONVT_PARAM_TRAINABLE, 2)},
      {"num_threads -1",
       ready_f32,
       E,
       {"num_threads|threads"},
       set_int(CONVT_PARAM_NUM_THREADS, -1)},
      {"input_steps -1", ready_f32, E, {"input_steps"}, set_int(CONVT_PARAM_INPUT_STEPS, -1)},
      {"batch_size -1", ready_f32, E, {"batch_size"}, set_int(CONVT_PARAM_BATCH_SIZE, -1)},
      {"in_channels -1 before weights",
       fresh,
       E,
       {"in_channels"},
       set_int(CONVT_PARAM_IN_CHANNELS, -1)},
      {"bias_initializer orthogonal by value",
       ready_f32,
       E,
       {"orthogonal"},
       set_int(CONVT_PARAM_BIAS_INITIALIZER, CONVT_INITIALIZER_ORTHOGONAL)},
      {"bias_initializer \"orthogonal\" by name",
       ready_f32,
       E,
       {"orthogonal"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_BIAS_INITIALIZER, "orthogonal");
       }},
      {"bias_initializer \"Orthogonal\" by class name",
       ready_f32,
       E,
       {"orthogonal"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_BIAS_INITIALIZER, "Orthogonal");
       }},
  });
}

TEST_CASE(
    "ACTIVATION_ALPHA refuses non-finite values, out-of-range values and activations "
    "without one",
    "[errors]") {
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  auto with_activation = [](const char* name) -> Factory {
    return ready_with(
        [name](convt_layer* l) { MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, name)); });
  };
  auto set_alpha = [](double v) -> Call {
    return [v](convt_layer* l, Bufs&) {
      return convt_layer_set_double(l, CONVT_PARAM_ACTIVATION_ALPHA, v);
    };
  };
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  run_cases({
      {"elu alpha NaN", ready_f32, E, {"alpha"}, set_alpha(nan)},
      {"elu alpha +inf", ready_f32, E, {"alpha"}, set_alpha(inf)},
      {"leaky_relu alpha -inf", with_activation("leaky_relu"), E, {"alpha|slope"}, set_alpha(-inf)},
      {"relu has no alpha", with_activation("relu"), E, {"alpha"}, set_alpha(0.1)},
      {"linear has no alpha", with_activation("linear"), E, {"alpha"}, set_alpha(1.0)},
      {"selu has no alpha", with_activation("selu"), E, {"alpha"}, set_alpha(1.0)},
      {"celu alpha 0", with_activation("celu"), E, {"celu"}, set_alpha(0.0)},
      {"soft_shrink threshold -1",
       with_activation("soft_shrink"),
       E,
       {"shrink|threshold"},
       set_alpha(-1.0)},
      {"hard_shrink threshold -1",
       with_activation("hard_shrink"),
       E,
       {"shrink|threshold"},
       set_alpha(-1.0)},
      {"squareplus b -1", with_activation("squareplus"), E, {"squareplus"}, set_alpha(-1.0)},
  });
}

// ==========================================================================================
// Buffer lengths
// ==========================================================================================

TEST_CASE("Wrong buffer lengths are CONVT_E_SHAPE with the given and the expected number",
          "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  auto set_w32 = [](int64_t kernel_len, int64_t bias_len) -> Call {
    return [=](convt_layer* l, Bufs&) {
      return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nines_f().data(), kernel_len,
                                         nines_f().data(), bias_len);
    };
  };
  auto set_w64 = [](int64_t kernel_len, int64_t bias_len) -> Call {
    return [=](convt_layer* l, Bufs&) {
      return convt_layer_set_weights_f64(l, kC, CONVT_LAYOUT_IOW, nines_d().data(), kernel_len,
                                         nines_d().data(), bias_len);
    };
  };
  auto get_w32 = [](int64_t kernel_len, int64_t bias_len) -> Call {
    return [=](convt_layer* l, Bufs& b) {
      return convt_layer_get_weights_f32(l, CONVT_LAYOUT_IOW, b.f.data(), kernel_len, b.fb.data(),
                                         bias_len);
    };
  };
  auto get_w64 = [](int64_t kernel_len, int64_t bias_len) -> Call {
    return [=](convt_layer* l, Bufs& b) {
      return convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, b.d.data(), kernel_len, b.db.data(),
                                         bias_len);
    };
  };
  run_cases({
      {"set_weights_f32 kernel_len 35 for 36", ready_f32, E, {"35", "36"}, set_w32(35, kF)},
      {"set_weights_f32 kernel_len 37 for 36", ready_f32, E, {"37", "36"}, set_w32(37, kF)},
      {"set_weights_f32 bias_len 5 for 6", ready_f32, E, {"bias", "5", "6"}, set_w32(36, 5)},
      {"set_weights_f32 bias_len 7 for 6", ready_f32, E, {"bias", "7", "6"}, set_w32(36, 7)},
      {"set_weights_f64 kernel_len 35 for 36", ready_f64, E, {"35", "36"}, set_w64(35, kF)},
      {"set_weights_f64 kernel_len 37 for 36", ready_f64, E, {"37", "36"}, set_w64(37, kF)},
      {"set_weights_f64 bias_len 5 for 6", ready_f64, E, {"bias", "5", "6"}, set_w64(36, 5)},
      {"set_weights_f64 bias_len 7 for 6", ready_f64, E, {"bias", "7", "6"}, set_w64(36, 7)},
      {"set_weights_f32 kernel_len 71 for 72 before weights",
       declared,
       E,
       {"71", "72"},
       set_w32(71, kF)},
      {"get_weights_f32 kernel_len 35 for 36", ready_f32, E, {"35", "36"}, get_w32(35, kF)},
      {"get_weights_f32 kernel_len 37 for 36", ready_f32, E, {"37", "36"}, get_w32(37, kF)},
      {"get_weights_f32 bias_len 5 for 6", ready_f32, E, {"bias", "5", "6"}, get_w32(36, 5)},
      {"get_weights_f32 bias_len 7 for 6", ready_f32, E, {"bias", "7", "6"}, get_w32(36, 7)},
      {"get_weights_f64 kernel_len 35 for 36", ready_f64, E, {"35", "36"}, get_w64(35, kF)},
      {"get_weights_f64 bias_len 7 for 6", ready_f64, E, {"bias", "7", "6"}, get_w64(36, 7)},
      {"forward_f32 input_len 39 for 40",
       ready_f32,
       E,
       {"39", "40"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, 39, kBatch, kSteps, kOutputLen, kOutSteps);
       }},
      {"forward_f32 input_len 41 for 40",
       ready_f32,
       E,
       {"41", "40"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, 41, kBatch, kSteps, kOutputLen, kOutSteps);
       }},
      {"forward_f32 output_len 119 for 120",
       ready_f32,
       E,
       {"119", "120"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, kInputLen, kBatch, kSteps, kOutputLen - 1, kOutSteps);
       }},
      {"forward_f64 input_len 39 for 40",
       ready_f64,
       E,
       {"39", "40"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f64(l, b, 39, kBatch, kSteps, kOutputLen, kOutSteps);
       }},
      {"forward_f64 input_len 41 for 40",
       ready_f64,
       E,
       {"41", "40"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f64(l, b, 41, kBatch, kSteps, kOutputLen, kOutSteps);
       }},
      {"forward_f64 output_len 119 for 120",
       ready_f64,
       E,
       {"119", "120"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f64(l, b, kInputLen, kBatch, kSteps, kOutputLen - 1, kOutSteps);
       }},
      // SAME with strides 2 and 5 steps accepts out_steps 9 and 10 (TF's output_shape).
      {"forward out_steps 11 (SAME accepts 9..10)",
       ready_f32,
       E,
       {"11", "10"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, kInputLen, kBatch, kSteps, 200, 11); }},
      {"forward out_steps 8 (SAME accepts 9..10)",
       ready_f32,
       E,
       {"8", "9"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, kInputLen, kBatch, kSteps, 200, 8); }},
      {"forward out_steps 0",
       ready_f32,
       E,
       {"out_steps|output length|steps"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, kInputLen, kBatch, kSteps, 200, 0); }},
      {"forward out_steps 9 with output_padding 1 set (only 10 is accepted)",
       ready_with(
           [](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_OUTPUT_PADDING, 1)); }),
       E,
       {"out_steps|output length|steps"},
       // SAME with op 1, K_eff 3: (5-1)*2 + 1 + 1 = 10 is the only length.
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, kInputLen, kBatch, kSteps, 200, 9); }},
  });
}

// ==========================================================================================
// Order and dtype
// ==========================================================================================

TEST_CASE("forward and get_weights before weights are CONVT_E_STATE", "[errors]") {
  const convt_status E = CONVT_E_STATE;
  run_cases({
      {"forward_f32 before weights",
       declared,
       E,
       {"weights"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, kInputLen, kBatch, kSteps, kOutputLen, 7);
       }},
      {"forward_f64 before weights on a float64 layer",
       fresh_with([](convt_layer* l) {
         MUST(convt_layer_set_int(l, CONVT_PARAM_IN_CHANNELS, kC));
         MUST(convt_layer_set_string(l, CONVT_PARAM_DTYPE, "float64"));
       }),
       E,
       {"weights"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f64(l, b, kInputLen, kBatch, kSteps, kOutputLen, 7);
       }},
      {"get_weights_f32 before weights",
       declared,
       E,
       {"weights"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, b.f.data(), 72, b.fb.data(), kF);
       }},
  });
}

TEST_CASE("An _f32 call on a float64 layer, or the reverse, is CONVT_E_STATE", "[errors]") {
  const convt_status E = CONVT_E_STATE;
  const std::string dt = "float|f32|f64|double|dtype";
  run_cases({
      {"set_weights_f64 on a float32 layer",
       ready_f32,
       E,
       {dt},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, kC, CONVT_LAYOUT_WOI, nines_d().data(), kKernelLen,
                                            nines_d().data(), kF);
       }},
      {"set_weights_f64 on a float32 layer without weights",
       declared,
       E,
       {dt},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, kC, CONVT_LAYOUT_WOI, nines_d().data(), 72,
                                            nines_d().data(), kF);
       }},
      {"get_weights_f64 on a float32 layer",
       ready_f32,
       E,
       {dt},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, b.d.data(), kKernelLen,
                                            b.db.data(), kF);
       }},
      {"forward_f64 on a float32 layer",
       ready_f32,
       E,
       {dt},
       [](convt_layer* l, Bufs& b) {
         return fwd_f64(l, b, kInputLen, kBatch, kSteps, kOutputLen, kOutSteps);
       }},
      {"set_weights_f32 on a float64 layer",
       ready_f64,
       E,
       {dt},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_WOI, nines_f().data(), kKernelLen,
                                            nines_f().data(), kF);
       }},
      {"get_weights_f32 on a float64 layer",
       ready_f64,
       E,
       {dt},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, b.f.data(), kKernelLen,
                                            b.fb.data(), kF);
       }},
      {"forward_f32 on a float64 layer",
       ready_f64,
       E,
       {dt},
       [](convt_layer* l, Bufs& b) { return good_fwd_f32(l, b); }},
  });
}

TEST_CASE("in_channels, groups, use_bias and dtype are frozen once weights are set", "[errors]") {
  const convt_status E = CONVT_E_STATE;
  run_cases({
      {"set_int(IN_CHANNELS, 8) after weights",
       ready_f32,
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_IN_CHANNELS, 8); }},
      {"set_int(IN_CHANNELS, 0) after weights",
       ready_f32,
       E,
       {"in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_IN_CHANNELS, 0); }},
      {"set_int(GROUPS, 1) after weights",
       ready_f32,
       E,
       {"groups"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_GROUPS, 1); }},
      {"set_int(GROUPS, 4) after weights",
       ready_f32,
       E,
       {"groups"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_GROUPS, 4); }},
      {"set_int(USE_BIAS, 0) after weights",
       ready_f32,
       E,
       {"use_bias"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, 0); }},
      {"set_int(USE_BIAS, 1) after weights without bias",
       ready_f32_no_bias,
       E,
       {"use_bias"},
       [](convt_layer* l, Bufs&) { return convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, 1); }},
      {"set_int(DTYPE, FLOAT64) after weights",
       ready_f32,
       E,
       {"dtype"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_int(l, CONVT_PARAM_DTYPE, CONVT_DTYPE_FLOAT64);
       }},
      {"set_string(DTYPE, \"float64\") after weights",
       ready_f32,
       E,
       {"dtype"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_DTYPE, "float64");
       }},
      {"set_string(DTYPE, \"float32\") on a float64 layer after weights",
       ready_f64,
       E,
       {"dtype"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_string(l, CONVT_PARAM_DTYPE, "float32");
       }},
  });
}

TEST_CASE("After weights, the same in_channels and the unfrozen params can still be set",
          "[errors]") {
  convt_layer* l = ready_f32();
  MUST(convt_layer_set_int(l, CONVT_PARAM_IN_CHANNELS, kC));
  MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 3));
  MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, "valid"));
  MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "relu"));
  MUST(convt_layer_set_int(l, CONVT_PARAM_DILATION_RATE, 2));
  MUST(convt_layer_set_string(l, CONVT_PARAM_DATA_FORMAT, "channels_first"));
  // The weights may be set again with the same in_channels.
  const auto k = kernel_values<float>(kKernelLen);
  const auto b = bias_values<float>(kF);
  MUST(convt_layer_set_weights_f32(l, kC, CONVT_LAYOUT_IOW, k.data(), kKernelLen, b.data(), kF));
  MUST(convt_layer_init_weights(l, kC, 5));
  int64_t v = 0;
  MUST(convt_layer_get_int(l, CONVT_PARAM_STRIDES, &v));
  CHECK(v == 3);
  MUST(convt_layer_get_int(l, CONVT_PARAM_ACTIVATION, &v));
  CHECK(v == CONVT_ACTIVATION_RELU);
  int64_t shape[3] = {0, 0, 0};
  MUST(convt_layer_output_shape(l, kBatch, kSteps, shape));
  // VALID, strides 3, K_eff = 2*2 + 1 = 5: (5-1)*3 + max(5, 3) = 17; channels_first.
  CHECK(shape[0] == kBatch);
  CHECK(shape[1] == kF);
  CHECK(shape[2] == 17);
  std::vector<float> out(static_cast<std::size_t>(kBatch * kF * 17), -1.0f);
  MUST(convt_layer_forward_f32(l, in_f().data(), kInputLen, kBatch, kSteps, out.data(),
                               static_cast<int64_t>(out.size()), 17));
  std::size_t negative = 0;
  for (float y : out) negative += y < 0.0f ? 1 : 0;
  CHECK(negative == 0);  // relu
  convt_layer_destroy(l);
}

TEST_CASE(
    "in_channels that differ from the layer's are CONVT_E_SHAPE in set_weights and "
    "init_weights",
    "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  run_cases({
      {"set_weights_f32 in_channels 8 on a layer with 4",
       ready_f32,
       E,
       {"8", "4"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, 8, CONVT_LAYOUT_WOI, nines_f().data(), 72,
                                            nines_f().data(), kF);
       }},
      {"init_weights in_channels 8 on a layer with 4",
       ready_f32,
       E,
       {"8", "4"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, 8, 3); }},
      {"set_weights_f32 in_channels 8 with IN_CHANNELS 4 declared",
       declared,
       E,
       {"8", "4"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, 8, CONVT_LAYOUT_WOI, nines_f().data(), 144,
                                            nines_f().data(), kF);
       }},
      {"init_weights in_channels 8 with IN_CHANNELS 4 declared",
       declared,
       E,
       {"8", "4"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, 8, 3); }},
      {"set_weights in_channels 4 not divisible by groups 3",
       fresh_with([](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, 3)); }),
       E,
       {"groups|in_channels"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, 4, CONVT_LAYOUT_WOI, nines_f().data(), 24,
                                            nines_f().data(), kF);
       }},
      {"init_weights in_channels 4 not divisible by groups 3",
       fresh_with([](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, 3)); }),
       E,
       {"groups|in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, 4, 3); }},
  });
}

TEST_CASE("Unknown kernel layouts are CONVT_E_INVALID_ARGUMENT", "[errors]") {
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  run_cases({
      {"set_weights_f32 layout 2",
       ready_f32,
       E,
       {"layout"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kC, 2, nines_f().data(), kKernelLen,
                                            nines_f().data(), kF);
       }},
      {"set_weights_f64 layout -1",
       ready_f64,
       E,
       {"layout"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, kC, -1, nines_d().data(), kKernelLen,
                                            nines_d().data(), kF);
       }},
      {"get_weights_f32 layout 2",
       ready_f32,
       E,
       {"layout"},
       [](convt_layer* l, Bufs& b) {
         return convt_layer_get_weights_f32(l, 2, b.f.data(), kKernelLen, b.fb.data(), kF);
       }},
  });
}

// ==========================================================================================
// Combinations and declared shapes
// ==========================================================================================

TEST_CASE(
    "Combinations no input satisfies are CONVT_E_INVALID_ARGUMENT from output_shape and "
    "forward",
    "[errors]") {
  const convt_status E = CONVT_E_INVALID_ARGUMENT;
  auto set = [](convt_param p, int64_t v) {
    return [p, v](convt_layer* l) { MUST(convt_layer_set_int(l, p, v)); };
  };
  auto shape = [](convt_layer* l, Bufs& b) {
    return convt_layer_output_shape(l, kBatch, kSteps, b.i);
  };
  run_cases({
      {"output_padding 1 with strides 1 and dilation 1",
       fresh_with(set(CONVT_PARAM_OUTPUT_PADDING, 1)),
       E,
       {"output_padding"},
       shape},
      {"output_padding 2 with strides 2",
       fresh_with([](convt_layer* l) {
         MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 2));
         MUST(convt_layer_set_int(l, CONVT_PARAM_OUTPUT_PADDING, 2));
       }),
       E,
       {"output_padding"},
       shape},
      {"output_padding 3 with strides 2 and dilation 3",
       fresh_with([](convt_layer* l) {
         MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 2));
         MUST(convt_layer_set_int(l, CONVT_PARAM_DILATION_RATE, 3));
         MUST(convt_layer_set_int(l, CONVT_PARAM_OUTPUT_PADDING, 3));
       }),
       E,
       {"output_padding"},
       shape},
      {"groups 4 not dividing filters 6",
       fresh_with(set(CONVT_PARAM_GROUPS, 4)),
       E,
       {"groups"},
       shape},
      {"groups 3 not dividing declared in_channels 4",
       fresh_with([](convt_layer* l) {
         MUST(convt_layer_set_int(l, CONVT_PARAM_IN_CHANNELS, 4));
         MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, 3));
       }),
       E,
       {"groups"},
       shape},
      {"output_shape with output_padding 2 >= strides 2 on a layer with weights",
       ready_with(set(CONVT_PARAM_OUTPUT_PADDING, 2)),
       E,
       {"output_padding"},
       shape},
      {"forward_f32 with output_padding 2 >= strides 2",
       ready_with(set(CONVT_PARAM_OUTPUT_PADDING, 2)),
       E,
       {"output_padding"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, kInputLen, kBatch, kSteps, 200, 11); }},
      {"forward_f64 with output_padding 5 >= strides 2",
       [] {
         convt_layer* l = ready_f64();
         MUST(convt_layer_set_int(l, CONVT_PARAM_OUTPUT_PADDING, 5));
         return l;
       },
       E,
       {"output_padding"},
       [](convt_layer* l, Bufs& b) { return fwd_f64(l, b, kInputLen, kBatch, kSteps, 200, 14); }},
      {"set_weights with groups 4 not dividing filters 6",
       fresh_with(set(CONVT_PARAM_GROUPS, 4)),
       E,
       {"groups"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, 4, CONVT_LAYOUT_WOI, nines_f().data(), 18,
                                            nines_f().data(), kF);
       }},
      {"init_weights with groups 4 not dividing filters 6",
       fresh_with(set(CONVT_PARAM_GROUPS, 4)),
       E,
       {"groups"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, 4, 1); }},
  });
}

TEST_CASE("A combination only this input fails is CONVT_E_SHAPE", "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  const Factory cropped_away = ready_with([](convt_layer* l) {
    MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, "explicit"));
    MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_BEGIN, 6));
    MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_END, 6));
  });
  // L_full for 5 steps = 4*2 + 3 = 11 < 12 cropped.
  run_cases({
      {"output_shape with pads longer than the output",
       cropped_away,
       E,
       {"pad|length|steps"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, kBatch, kSteps, b.i); }},
      {"forward with pads longer than the output",
       cropped_away,
       E,
       {"pad|length|steps"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, kInputLen, kBatch, kSteps, 200, 1); }},
  });
}

TEST_CASE("Forward checks INPUT_STEPS and BATCH_SIZE when they are set", "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  run_cases({
      {"INPUT_STEPS 5, forward with 7 steps",
       ready_with([](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_INPUT_STEPS, 5)); }),
       E,
       {"steps", "7", "5"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, 56, kBatch, 7, 200, 14); }},
      {"BATCH_SIZE 2, forward with batch 3",
       ready_with([](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_BATCH_SIZE, 2)); }),
       E,
       {"batch", "3", "2"},
       [](convt_layer* l, Bufs& b) { return fwd_f32(l, b, 60, 3, kSteps, 200, kOutSteps); }},
      {"BATCH_SIZE 3, forward with batch 2",
       ready_with([](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_BATCH_SIZE, 3)); }),
       E,
       {"batch", "3", "2"},
       [](convt_layer* l, Bufs& b) { return good_fwd_f32(l, b); }},
  });
}

// ==========================================================================================
// Overflow
// ==========================================================================================

TEST_CASE("Sizes whose products overflow are CONVT_E_SHAPE, never a crash or a huge allocation",
          "[errors]") {
  const convt_status E = CONVT_E_SHAPE;
  const std::string ovf = "overflow|too large|large|cannot|exceed";
  const Factory huge_strides =
      fresh_with([](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, kTwo40)); });
  const Factory huge_dilation = fresh_with(
      [](convt_layer* l) { MUST(convt_layer_set_int(l, CONVT_PARAM_DILATION_RATE, kTwo62)); });
  run_cases({
      {"output_shape batch = steps = 2^40",
       ready_f32,
       E,
       {ovf + "|1099511627776"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, kTwo40, kTwo40, b.i); }},
      {"output_shape steps 2^40 with strides 2^40",
       huge_strides,
       E,
       {ovf + "|1099511627776|strides"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, 1, kTwo40, b.i); }},
      {"output_shape steps INT64_MAX",
       ready_f32,
       E,
       {ovf + "|9223372036854775807|steps"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, 1, kInt64Max, b.i); }},
      {"output_shape with dilation 2^62",
       huge_dilation,
       E,
       {ovf + "|dilation|4611686018427387904"},
       [](convt_layer* l, Bufs& b) { return convt_layer_output_shape(l, 1, 2, b.i); }},
      {"forward_f32 batch = steps = 2^40",
       ready_f32,
       E,
       {ovf + "|1099511627776"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, kInputLen, kTwo40, kTwo40, kOutputLen, kOutSteps);
       }},
      {"forward_f64 batch = steps = 2^40",
       ready_f64,
       E,
       {ovf + "|1099511627776"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f64(l, b, kInputLen, kTwo40, kTwo40, kOutputLen, kOutSteps);
       }},
      {"forward_f32 batch INT64_MAX",
       ready_f32,
       E,
       {ovf + "|9223372036854775807|batch"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, kInputLen, kInt64Max, 1, kOutputLen, kOutSteps);
       }},
      {"forward_f32 steps 2^40 with input_len 40 and output_len INT64_MAX",
       ready_f32,
       E,
       {"input"},
       [](convt_layer* l, Bufs& b) {
         return fwd_f32(l, b, kInputLen, 1, kTwo40, kInt64Max, 2 * kTwo40);
       }},
      {"set_weights_f32 in_channels 2^62",
       fresh,
       E,
       {ovf + "|4611686018427387904|in_channels"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kTwo62, CONVT_LAYOUT_WOI, nines_f().data(), 72,
                                            nines_f().data(), kF);
       }},
      {"set_weights_f32 in_channels INT64_MAX",
       fresh,
       E,
       {ovf + "|9223372036854775807|in_channels"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f32(l, kInt64Max, CONVT_LAYOUT_WOI, nines_f().data(),
                                            kInt64Max, nines_f().data(), kF);
       }},
      {"set_weights_f64 in_channels 2^62",
       fresh_with([](convt_layer* l) {
         MUST(convt_layer_set_int(l, CONVT_PARAM_DTYPE, CONVT_DTYPE_FLOAT64));
       }),
       E,
       {ovf + "|4611686018427387904|in_channels"},
       [](convt_layer* l, Bufs&) {
         return convt_layer_set_weights_f64(l, kTwo62, CONVT_LAYOUT_IOW, nines_d().data(), 72,
                                            nines_d().data(), kF);
       }},
      {"init_weights in_channels 2^62",
       fresh,
       E,
       {ovf + "|4611686018427387904|in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, kTwo62, 1); }},
      {"init_weights in_channels INT64_MAX",
       fresh,
       E,
       {ovf + "|9223372036854775807|in_channels"},
       [](convt_layer* l, Bufs&) { return convt_layer_init_weights(l, kInt64Max, 1); }},
  });
}
