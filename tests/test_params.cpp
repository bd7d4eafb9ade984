// The 22 layer parameters through the public C API: API.md's defaults, every accepted
// spelling, canonical names, get_string's length protocol, ACTIVATION_ALPHA's per-activation
// defaults, init_weights and the set_weights / get_weights layouts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "convt/convt.h"

namespace {

void params_require_ok(convt_status s, const char* what) {
  INFO(what << " -> status " << s << ": " << convt_last_error());
  REQUIRE(s == CONVT_OK);
}
#define P_MUST(call) params_require_ok((call), #call)

convt_layer* make_layer(int64_t filters, int64_t kernel_size) {
  convt_layer* l = nullptr;
  P_MUST(convt_layer_create(filters, kernel_size, &l));
  REQUIRE(l != nullptr);
  return l;
}

int64_t get_i(const convt_layer* l, convt_param p) {
  int64_t v = -12345;
  P_MUST(convt_layer_get_int(l, p, &v));
  return v;
}

double get_alpha(const convt_layer* l) {
  double v = -12345;
  P_MUST(convt_layer_get_double(l, CONVT_PARAM_ACTIVATION_ALPHA, &v));
  return v;
}

std::string get_s(const convt_layer* l, convt_param p) {
  char buf[256];
  int64_t len = -1;
  P_MUST(convt_layer_get_string(l, p, buf, sizeof buf, &len));
  CHECK(len == static_cast<int64_t>(std::strlen(buf)));
  return std::string(buf);
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const char* const kActivationNames[] = {
    "linear",      "relu",        "sigmoid",        "tanh",         "elu",         "selu",
    "softplus",    "softsign",    "exponential",    "hard_sigmoid", "gelu",        "silu",
    "relu6",       "leaky_relu",  "mish",           "softmax",      "log_softmax", "celu",
    "hard_silu",   "hard_tanh",   "log_sigmoid",    "tanh_shrink",  "squareplus",  "sparse_plus",
    "soft_shrink", "hard_shrink", "sparse_sigmoid", "sparsemax"};
constexpr int kActivations = 28;

const char* const kInitializerNames[] = {
    "zeros",          "ones",          "glorot_uniform",   "glorot_normal",
    "he_uniform",     "he_normal",     "lecun_uniform",    "lecun_normal",
    "random_uniform", "random_normal", "truncated_normal", "orthogonal"};
const char* const kInitializerClassNames[] = {
    "Zeros",         "Ones",         "GlorotUniform",   "GlorotNormal",
    "HeUniform",     "HeNormal",     "LecunUniform",    "LecunNormal",
    "RandomUniform", "RandomNormal", "TruncatedNormal", "Orthogonal"};
constexpr int kInitializers = 12;

// Every getter's answer for every param, as text, to see what a setter changed.
std::vector<std::string> all_values(const convt_layer* l) {
  std::vector<std::string> v;
  for (convt_param p = 1; p <= 22; ++p) {
    int64_t i = 0;
    double d = 0;
    char buf[256] = {0};
    int64_t len = 0;
    const convt_status si = convt_layer_get_int(l, p, &i);
    const convt_status sd = convt_layer_get_double(l, p, &d);
    const convt_status ss = convt_layer_get_string(l, p, buf, sizeof buf, &len);
    std::string d_text = std::isnan(d) ? "nan" : std::to_string(d);
    v.push_back(std::to_string(si) + ":" + (si == CONVT_OK ? std::to_string(i) : "") + " " +
                std::to_string(sd) + ":" + (sd == CONVT_OK ? d_text : "") + " " +
                std::to_string(ss) + ":" + (ss == CONVT_OK ? std::string(buf) : ""));
  }
  return v;
}

// The params whose getters differ between a and b (1-based), as text.
std::string changed_params(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::string c;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i] != b[i]) c += std::to_string(i + 1) + " ";
  }
  return c;
}

bool is_default_name(const std::string& name) {
  static const std::regex re("conv1d_transpose(_[1-9][0-9]*)?");
  return std::regex_match(name, re);
}

int64_t name_number(const std::string& name) {
  const std::string base = "conv1d_transpose";
  if (name == base) return 0;
  return std::stoll(name.substr(base.size() + 1));
}

template <typename T>
convt_status set_w(convt_layer* l, int64_t c, convt_layout layout, const std::vector<T>& k,
                   const std::vector<T>& b);
template <>
convt_status set_w<float>(convt_layer* l, int64_t c, convt_layout layout,
                          const std::vector<float>& k, const std::vector<float>& b) {
  return convt_layer_set_weights_f32(l, c, layout, k.data(), static_cast<int64_t>(k.size()),
                                     b.empty() ? nullptr : b.data(),
                                     static_cast<int64_t>(b.size()));
}
template <>
convt_status set_w<double>(convt_layer* l, int64_t c, convt_layout layout,
                           const std::vector<double>& k, const std::vector<double>& b) {
  return convt_layer_set_weights_f64(l, c, layout, k.data(), static_cast<int64_t>(k.size()),
                                     b.empty() ? nullptr : b.data(),
                                     static_cast<int64_t>(b.size()));
}

template <typename T>
convt_status get_w(const convt_layer* l, convt_layout layout, std::vector<T>& k, std::vector<T>& b);
template <>
convt_status get_w<float>(const convt_layer* l, convt_layout layout, std::vector<float>& k,
                          std::vector<float>& b) {
  return convt_layer_get_weights_f32(l, layout, k.data(), static_cast<int64_t>(k.size()),
                                     b.empty() ? nullptr : b.data(),
                                     static_cast<int64_t>(b.size()));
}
template <>
convt_status get_w<double>(const convt_layer* l, convt_layout layout, std::vector<double>& k,
                           std::vector<double>& b) {
  return convt_layer_get_weights_f64(l, layout, k.data(), static_cast<int64_t>(k.size()),
                                     b.empty() ? nullptr : b.data(),
                                     static_cast<int64_t>(b.size()));
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// The weights init_weights gives a layer of these sizes and initializers.
struct Drawn {
  std::vector<double> kernel;  // WOI
  std::vector<double> bias;
};

template <typename T>
Drawn draw(int64_t f, int64_t k, int64_t c, int64_t g, const char* kernel_init,
           const char* bias_init, uint64_t seed) {
  convt_layer* l = make_layer(f, k);
  if (std::is_same<T, double>::value) {
    P_MUST(convt_layer_set_string(l, CONVT_PARAM_DTYPE, "float64"));
  }
  P_MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, g));
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_INITIALIZER, kernel_init));
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_INITIALIZER, bias_init));
  P_MUST(convt_layer_init_weights(l, c, seed));
  std::vector<T> kv(static_cast<std::size_t>(k * f * c / g)), bv(static_cast<std::size_t>(f));
  P_MUST(get_w<T>(l, CONVT_LAYOUT_WOI, kv, bv));
  convt_layer_destroy(l);
  return Drawn{std::vector<double>(kv.begin(), kv.end()),
               std::vector<double>(bv.begin(), bv.end())};
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double variance(const std::vector<double>& v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size());
}
std::size_t distinct(const std::vector<double>& v) {
  return std::set<double>(v.begin(), v.end()).size();
}

}  // namespace

// ==========================================================================================
// Defaults
// ==========================================================================================

TEST_CASE("A new layer has API.md's default for every parameter", "[params]") {
  convt_layer* l = make_layer(7, 5);
  struct Int {
    convt_param p;
    int64_t v;
  };
  const Int ints[] = {{CONVT_PARAM_FILTERS, 7},
                      {CONVT_PARAM_KERNEL_SIZE, 5},
                      {CONVT_PARAM_IN_CHANNELS, 0},
                      {CONVT_PARAM_STRIDES, 1},
                      {CONVT_PARAM_DILATION_RATE, 1},
                      {CONVT_PARAM_PADDING, CONVT_PADDING_VALID},
                      {CONVT_PARAM_PAD_BEGIN, 0},
                      {CONVT_PARAM_PAD_END, 0},
                      {CONVT_PARAM_OUTPUT_PADDING, CONVT_OUTPUT_PADDING_UNSET},
                      {CONVT_PARAM_DATA_FORMAT, CONVT_CHANNELS_LAST},
                      {CONVT_PARAM_GROUPS, 1},
                      {CONVT_PARAM_USE_BIAS, 1},
                      {CONVT_PARAM_ACTIVATION, CONVT_ACTIVATION_LINEAR},
                      {CONVT_PARAM_DTYPE, CONVT_DTYPE_FLOAT32},
                      {CONVT_PARAM_INPUT_STEPS, 0},
                      {CONVT_PARAM_BATCH_SIZE, 0},
                      {CONVT_PARAM_NUM_THREADS, 0},
                      {CONVT_PARAM_KERNEL_INITIALIZER, CONVT_INITIALIZER_GLOROT_UNIFORM},
                      {CONVT_PARAM_BIAS_INITIALIZER, CONVT_INITIALIZER_ZEROS},
                      {CONVT_PARAM_TRAINABLE, 1}};
  for (const Int& e : ints) {
    INFO("param " << e.p);
    CHECK(get_i(l, e.p) == e.v);
  }
  CHECK(CONVT_OUTPUT_PADDING_UNSET == -1);
  CHECK(std::isnan(get_alpha(l)));
  CHECK(get_s(l, CONVT_PARAM_PADDING) == "valid");
  CHECK(get_s(l, CONVT_PARAM_DATA_FORMAT) == "channels_last");
  CHECK(get_s(l, CONVT_PARAM_ACTIVATION) == "linear");
  CHECK(get_s(l, CONVT_PARAM_DTYPE) == "float32");
  CHECK(get_s(l, CONVT_PARAM_KERNEL_INITIALIZER) == "glorot_uniform");
  CHECK(get_s(l, CONVT_PARAM_BIAS_INITIALIZER) == "zeros");
  const std::string name = get_s(l, CONVT_PARAM_NAME);
  INFO("name " << name);
  CHECK(is_default_name(name));
  convt_layer_destroy(l);
}

TEST_CASE("Default names are conv1d_transpose then conv1d_transpose_N, unique and increasing",
          "[params]") {
  std::vector<convt_layer*> layers;
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    layers.push_back(make_layer(2, 2));
    names.push_back(get_s(layers.back(), CONVT_PARAM_NAME));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    INFO("name " << names[i]);
    REQUIRE(is_default_name(names[i]));
    if (i > 0) {
      CHECK(name_number(names[i]) > name_number(names[i - 1]));
    }
  }
  // Destroying layers does not make their names available again.
  for (convt_layer* l : layers) convt_layer_destroy(l);
  convt_layer* later = make_layer(2, 2);
  const std::string later_name = get_s(later, CONVT_PARAM_NAME);
  INFO("later name " << later_name);
  REQUIRE(is_default_name(later_name));
  CHECK(name_number(later_name) > name_number(names.back()));
  convt_layer_destroy(later);
}

TEST_CASE("Default names stay unique when layers are created from several threads at once",
          "[params][threads]") {
  constexpr int kThreads = 8, kPerThread = 40;
  std::vector<std::vector<convt_layer*>> made(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &made, &failures] {
      for (int i = 0; i < kPerThread; ++i) {
        convt_layer* l = nullptr;
        if (convt_layer_create(3, 2, &l) != CONVT_OK || l == nullptr) {
          ++failures[static_cast<std::size_t>(t)];
          continue;
        }
        made[static_cast<std::size_t>(t)].push_back(l);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<std::string> names;
  std::size_t count = 0, malformed = 0;
  for (int t = 0; t < kThreads; ++t) {
    CHECK(failures[static_cast<std::size_t>(t)] == 0);
    for (convt_layer* l : made[static_cast<std::size_t>(t)]) {
      const std::string n = get_s(l, CONVT_PARAM_NAME);
      malformed += is_default_name(n) ? 0 : 1;
      names.insert(n);
      ++count;
      convt_layer_destroy(l);
    }
  }
  CHECK(count == static_cast<std::size_t>(kThreads * kPerThread));
  CHECK(malformed == 0);
  CHECK(names.size() == count);
}

// ==========================================================================================
// Round trips
// ==========================================================================================

TEST_CASE("Int and enum params round-trip through set_int and get_int and change nothing else",
          "[params]") {
  struct RoundTrip {
    convt_param p;
    std::vector<int64_t> values;
  };
  std::vector<int64_t> activations, kernel_inits, bias_inits;
  for (int a = 0; a < kActivations; ++a) activations.push_back(a);
  for (int i = 0; i < kInitializers; ++i) kernel_inits.push_back(i);
  for (int i = 0; i < kInitializers - 1; ++i) bias_inits.push_back(i);  // not orthogonal
  const std::vector<RoundTrip> trips = {
      {CONVT_PARAM_IN_CHANNELS, {8, 1, 3}},
      {CONVT_PARAM_STRIDES, {3, 1000, int64_t{1} << 40, 1}},
      {CONVT_PARAM_DILATION_RATE, {2, 7, 1}},
      {CONVT_PARAM_PADDING, {1, 2, 3, 0}},
      {CONVT_PARAM_PAD_BEGIN, {4, 0}},
      {CONVT_PARAM_PAD_END, {5, 0}},
      {CONVT_PARAM_OUTPUT_PADDING, {0, 7, -1}},
      {CONVT_PARAM_DATA_FORMAT, {1, 0}},
      {CONVT_PARAM_GROUPS, {3, 5, 1}},
      {CONVT_PARAM_USE_BIAS, {0, 1}},
      {CONVT_PARAM_ACTIVATION, activations},
      {CONVT_PARAM_DTYPE, {1, 0}},
      {CONVT_PARAM_INPUT_STEPS, {7, 0}},
      {CONVT_PARAM_BATCH_SIZE, {3, 0}},
      {CONVT_PARAM_NUM_THREADS, {1, 4, 0}},
      {CONVT_PARAM_KERNEL_INITIALIZER, kernel_inits},
      {CONVT_PARAM_BIAS_INITIALIZER, bias_inits},
      {CONVT_PARAM_TRAINABLE, {0, 1}},
  };
  convt_layer* l = make_layer(6, 3);
  for (const RoundTrip& trip : trips) {
    for (int64_t v : trip.values) {
      INFO("param " << trip.p << " = " << v);
      const std::vector<std::string> before = all_values(l);
      P_MUST(convt_layer_set_int(l, trip.p, v));
      CHECK(get_i(l, trip.p) == v);
      std::vector<std::string> after = all_values(l);
      // Changing the activation resets ACTIVATION_ALPHA (param 14); nothing else may change.
      std::string changed = changed_params(before, after);
      const std::string self = std::to_string(trip.p) + " ";
      if (changed.compare(0, self.size(), self) == 0) changed.erase(0, self.size());
      if (trip.p == CONVT_PARAM_ACTIVATION && changed == "14 ") changed.clear();
      CHECK(changed == "");
    }
  }
  convt_layer_destroy(l);
}

TEST_CASE("ACTIVATION_ALPHA round-trips through set_double for activations that have one",
          "[params]") {
  struct Alpha {
    const char* activation;
    std::vector<double> values;
  };
  const Alpha alphas[] = {{"leaky_relu", {0.3, 0.01, 1.5}}, {"elu", {0.7, 2.0}},
                          {"celu", {0.5, -1.25}},           {"soft_shrink", {0.0, 1.0}},
                          {"hard_shrink", {0.0, 0.25}},     {"squareplus", {0.0, 9.0}}};
  convt_layer* l = make_layer(2, 2);
  for (const Alpha& a : alphas) {
    P_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, a.activation));
    for (double v : a.values) {
      INFO(a.activation << " alpha " << v);
      P_MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVATION_ALPHA, v));
      const double got = get_alpha(l);
      CHECK(std::memcmp(&got, &v, sizeof v) == 0);
    }
  }
  convt_layer_destroy(l);
}

TEST_CASE(
    "ACTIVATION_ALPHA is each activation's Keras default and resets when the activation "
    "changes",
    "[params]") {
  auto expected = [](int a) {
    switch (a) {
      case CONVT_ACTIVATION_LEAKY_RELU:
        return 0.2;
      case CONVT_ACTIVATION_ELU:
      case CONVT_ACTIVATION_CELU:
        return 1.0;
      case CONVT_ACTIVATION_HARD_SHRINK:
      case CONVT_ACTIVATION_SOFT_SHRINK:
        return 0.5;
      case CONVT_ACTIVATION_SQUAREPLUS:
        return 4.0;
      default:
        return std::numeric_limits<double>::quiet_NaN();
    }
  };
  convt_layer* l = make_layer(2, 2);
  for (int a = 0; a < kActivations; ++a) {
    INFO("activation " << kActivationNames[a]);
    P_MUST(convt_layer_set_int(l, CONVT_PARAM_ACTIVATION, a));
    const double want = expected(a);
    const double got = get_alpha(l);
    if (std::isnan(want)) {
      CHECK(std::isnan(got));
    } else {
      CHECK(got == want);
      // A changed alpha goes back to the default when the activation changes and returns.
      P_MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVATION_ALPHA, 3.25));
      CHECK(get_alpha(l) == 3.25);
      P_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "relu"));
      CHECK(std::isnan(get_alpha(l)));
      P_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, kActivationNames[a]));
      CHECK(get_alpha(l) == want);
    }
  }
  // From one alpha-carrying activation to another: the new one's default, not the old value.
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "leaky_relu"));
  P_MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVATION_ALPHA, 0.3));
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "elu"));
  CHECK(get_alpha(l) == 1.0);
  P_MUST(convt_layer_set_int(l, CONVT_PARAM_ACTIVATION, CONVT_ACTIVATION_SQUAREPLUS));
  CHECK(get_alpha(l) == 4.0);
  convt_layer_destroy(l);
}

// ==========================================================================================
// Names of enum values
// ==========================================================================================

namespace {

struct Spelling {
  const char* text;
  int64_t value;
};

// Checks that each spelling sets `p` to its value and that get_string then gives
// canonical[value].
void check_spellings(convt_param p, const std::vector<Spelling>& spellings,
                     const std::vector<std::string>& canonical) {
  convt_layer* l = make_layer(4, 3);
  for (const Spelling& s : spellings) {
    INFO("param " << p << " spelled \"" << s.text << "\"");
    // Start from another value so that a no-op setter cannot pass.
    const int64_t other = s.value == 0 ? 1 : 0;
    P_MUST(convt_layer_set_int(l, p, other));
    P_MUST(convt_layer_set_string(l, p, s.text));
    CHECK(get_i(l, p) == s.value);
    CHECK(get_s(l, p) == canonical[static_cast<std::size_t>(s.value)]);
  }
  // set_int gives the canonical name too.
  for (std::size_t v = 0; v < canonical.size(); ++v) {
    INFO("param " << p << " = " << v);
    P_MUST(convt_layer_set_int(l, p, static_cast<int64_t>(v)));
    CHECK(get_s(l, p) == canonical[v]);
  }
  convt_layer_destroy(l);
}

}  // namespace

TEST_CASE("Padding accepts valid, same, same_lower and explicit in any case", "[params]") {
  check_spellings(CONVT_PARAM_PADDING,
                  {{"valid", 0},
                   {"VALID", 0},
                   {"Valid", 0},
                   {"same", 1},
                   {"Same", 1},
                   {"SAME", 1},
                   {"same_lower", 2},
                   {"SAME_LOWER", 2},
                   {"explicit", 3},
                   {"EXPLICIT", 3}},
                  {"valid", "same", "same_lower", "explicit"});
}

TEST_CASE("Data format accepts channels_last/first, NWC, NCW, NLC and NCL in any case",
          "[params]") {
  check_spellings(CONVT_PARAM_DATA_FORMAT,
                  {{"channels_last", 0},
                   {"CHANNELS_LAST", 0},
                   {"NWC", 0},
                   {"nwc", 0},
                   {"NLC", 0},
                   {"nlc", 0},
                   {"channels_first", 1},
                   {"Channels_First", 1},
                   {"NCW", 1},
                   {"ncw", 1},
                   {"NCL", 1},
                   {"ncl", 1}},
                  {"channels_last", "channels_first"});
}

TEST_CASE("Dtype accepts the Keras, NumPy and PyTorch spellings in any case", "[params]") {
  check_spellings(CONVT_PARAM_DTYPE,
                  {{"float32", 0},
                   {"FLOAT32", 0},
                   {"float", 0},
                   {"torch.float32", 0},
                   {"f32", 0},
                   {"F32", 0},
                   {"float64", 1},
                   {"Float64", 1},
                   {"double", 1},
                   {"DOUBLE", 1},
                   {"torch.float64", 1},
                   {"f64", 1}},
                  {"float32", "float64"});
}

TEST_CASE(
    "Every activation is accepted by its Keras 3 name in any case, plus swish and "
    "hard_swish",
    "[params]") {
  std::vector<Spelling> spellings;
  std::vector<std::string> upper_names;  // keeps the upper-case strings alive
  upper_names.reserve(kActivations);
  for (int a = 0; a < kActivations; ++a) {
    spellings.push_back({kActivationNames[a], a});
    upper_names.push_back(upper(kActivationNames[a]));
  }
  for (int a = 0; a < kActivations; ++a) spellings.push_back({upper_names[a].c_str(), a});
  spellings.push_back({"swish", CONVT_ACTIVATION_SILU});
  spellings.push_back({"SWISH", CONVT_ACTIVATION_SILU});
  spellings.push_back({"hard_swish", CONVT_ACTIVATION_HARD_SILU});
  spellings.push_back({"Hard_Swish", CONVT_ACTIVATION_HARD_SILU});
  check_spellings(
      CONVT_PARAM_ACTIVATION, spellings,
      std::vector<std::string>(std::begin(kActivationNames), std::end(kActivationNames)));
}

TEST_CASE("Initializers are accepted by Keras name, class name and alias, in any case",
          "[params]") {
  std::vector<Spelling> spellings;
  std::vector<std::string> upper_names;
  upper_names.reserve(kInitializers);
  for (int i = 0; i < kInitializers; ++i) {
    spellings.push_back({kInitializerNames[i], i});
    spellings.push_back({kInitializerClassNames[i], i});
    upper_names.push_back(upper(kInitializerNames[i]));
  }
  for (int i = 0; i < kInitializers; ++i) spellings.push_back({upper_names[i].c_str(), i});
  spellings.push_back({"glorotuniform", CONVT_INITIALIZER_GLOROT_UNIFORM});
  spellings.push_back({"zero", CONVT_INITIALIZER_ZEROS});
  spellings.push_back({"one", CONVT_INITIALIZER_ONES});
  spellings.push_back({"uniform", CONVT_INITIALIZER_RANDOM_UNIFORM});
  spellings.push_back({"normal", CONVT_INITIALIZER_RANDOM_NORMAL});
  spellings.push_back({"Normal", CONVT_INITIALIZER_RANDOM_NORMAL});
  const std::vector<std::string> canonical(std::begin(kInitializerNames),
                                           std::end(kInitializerNames));
  check_spellings(CONVT_PARAM_KERNEL_INITIALIZER, spellings, canonical);

  // The bias takes the same names except orthogonal (rank 1).
  std::vector<Spelling> bias_spellings;
  for (const Spelling& s : spellings) {
    if (s.value != CONVT_INITIALIZER_ORTHOGONAL) bias_spellings.push_back(s);
  }
  std::vector<std::string> bias_canonical(canonical.begin(), canonical.end() - 1);
  check_spellings(CONVT_PARAM_BIAS_INITIALIZER, bias_spellings, bias_canonical);
}

TEST_CASE("The layer's name round-trips exactly, case and all", "[params]") {
  convt_layer* l = make_layer(2, 2);
  for (const char* name : {"MyLayer_2", "decoder/conv1d_transpose", "x", "with space",
                           "conv1d_transpose", "\xc3\xa9tage \xe2\x82\xac"}) {
    INFO("name " << name);
    P_MUST(convt_layer_set_string(l, CONVT_PARAM_NAME, name));
    CHECK(get_s(l, CONVT_PARAM_NAME) == name);
  }
  const std::string long_name(300, 'n');
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_NAME, long_name.c_str()));
  std::vector<char> buf(400, '\0');
  int64_t len = 0;
  P_MUST(convt_layer_get_string(l, CONVT_PARAM_NAME, buf.data(), 400, &len));
  CHECK(len == 300);
  CHECK(std::string(buf.data()) == long_name);
  convt_layer_destroy(l);
}

TEST_CASE("get_string reports the length, copies only when name and NUL fit, else SHAPE",
          "[params]") {
  convt_layer* l = make_layer(2, 2);
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, "SAME_LOWER"));
  const std::string want = "same_lower";
  const int64_t n = static_cast<int64_t>(want.size());

  // NULL with capacity 0 asks for the length.
  int64_t len = -1;
  CHECK(convt_layer_get_string(l, CONVT_PARAM_PADDING, nullptr, 0, &len) == CONVT_E_SHAPE);
  CHECK(len == n);

  // Capacities 0 .. n do not fit (the NUL needs a byte): SHAPE, length, buf untouched.
  for (int64_t cap = 0; cap <= n; ++cap) {
    INFO("capacity " << cap);
    char buf[32];
    std::memset(buf, '#', sizeof buf);
    len = -1;
    CHECK(convt_layer_get_string(l, CONVT_PARAM_PADDING, buf, cap, &len) == CONVT_E_SHAPE);
    CHECK(len == n);
    CHECK(std::count(buf, buf + sizeof buf, '#') == static_cast<std::ptrdiff_t>(sizeof buf));
  }
  // n + 1 and more fit exactly.
  for (int64_t cap : {n + 1, n + 2, int64_t{32}}) {
    INFO("capacity " << cap);
    char buf[32];
    std::memset(buf, '#', sizeof buf);
    len = -1;
    CHECK(convt_layer_get_string(l, CONVT_PARAM_PADDING, buf, cap, &len) == CONVT_OK);
    CHECK(len == n);
    CHECK(std::memcmp(buf, want.c_str(), want.size() + 1) == 0);
  }
  // The name follows the same protocol.
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_NAME, "abc"));
  len = -1;
  CHECK(convt_layer_get_string(l, CONVT_PARAM_NAME, nullptr, 0, &len) == CONVT_E_SHAPE);
  CHECK(len == 3);
  char small[4];
  CHECK(convt_layer_get_string(l, CONVT_PARAM_NAME, small, 4, &len) == CONVT_OK);
  CHECK(std::string(small) == "abc");
  convt_layer_destroy(l);
}

// ==========================================================================================
// init_weights
// ==========================================================================================

TEST_CASE(
    "init_weights is deterministic: the same seed gives the same bits, another seed other "
    "values, in both dtypes",
    "[params][init]") {
  for (const char* init : {"glorot_uniform", "he_normal", "orthogonal", "truncated_normal"}) {
    INFO("kernel initializer " << init);
    const Drawn a = draw<float>(6, 3, 4, 2, init, "random_normal", 1234);
    const Drawn b = draw<float>(6, 3, 4, 2, init, "random_normal", 1234);
    const Drawn c = draw<float>(6, 3, 4, 2, init, "random_normal", 1235);
    CHECK(same_bits(a.kernel, b.kernel));
    CHECK(same_bits(a.bias, b.bias));
    CHECK_FALSE(same_bits(a.kernel, c.kernel));
    CHECK_FALSE(same_bits(a.bias, c.bias));
    const Drawn d = draw<double>(6, 3, 4, 2, init, "random_uniform", 99);
    const Drawn e = draw<double>(6, 3, 4, 2, init, "random_uniform", 99);
    const Drawn f = draw<double>(6, 3, 4, 2, init, "random_uniform", 100);
    CHECK(same_bits(d.kernel, e.kernel));
    CHECK(same_bits(d.bias, e.bias));
    CHECK_FALSE(same_bits(d.kernel, f.kernel));
    CHECK_FALSE(same_bits(d.bias, f.bias));
    CHECK(distinct(a.kernel) > 1);
    CHECK(distinct(d.kernel) > 1);
  }
}

TEST_CASE("init_weights with the same seed on the same layer twice gives the same bits",
          "[params][init]") {
  convt_layer* l = make_layer(5, 2);
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_INITIALIZER, "he_uniform"));
  P_MUST(convt_layer_init_weights(l, 3, 7));
  std::vector<float> k1(30), b1(5), k2(30), b2(5);
  P_MUST(get_w<float>(l, CONVT_LAYOUT_IOW, k1, b1));
  P_MUST(convt_layer_init_weights(l, 3, 8));
  P_MUST(get_w<float>(l, CONVT_LAYOUT_IOW, k2, b2));
  CHECK_FALSE(same_bits(k1, k2));
  P_MUST(convt_layer_init_weights(l, 3, 7));
  P_MUST(get_w<float>(l, CONVT_LAYOUT_IOW, k2, b2));
  CHECK(same_bits(k1, k2));
  CHECK(same_bits(b1, b2));
  convt_layer_destroy(l);
}

TEST_CASE("init_weights fixes in_channels and respects use_bias", "[params][init]") {
  convt_layer* l = make_layer(4, 3);
  P_MUST(convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, 0));
  P_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_INITIALIZER, "ones"));
  P_MUST(convt_layer_init_weights(l, 5, 1));
  CHECK(get_i(l, CONVT_PARAM_IN_CHANNELS) == 5);
  std::vector<float> k(60), none;
  P_MUST(get_w<float>(l, CONVT_LAYOUT_WOI, k, none));
  std::vector<float> b(4, 0.0f);
  CHECK(get_w<float>(l, CONVT_LAYOUT_WOI, k, b) == CONVT_E_SHAPE);

  // Without a bias, the output at a position no tap reaches is 0 (the bias would be 1).
  P_MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 5));  // K_eff 3 < S 5: gaps
  int64_t shape[3];
  P_MUST(convt_layer_output_shape(l, 1, 2, shape));
  REQUIRE(shape[1] == 10);
  std::vector<float> in(10, 1.0f), out(40, -1.0f);
  P_MUST(convt_layer_forward_f32(l, in.data(), 10, 1, 2, out.data(), 40, 10));
  for (int64_t j : {3, 4, 8, 9}) {
    for (int64_t o = 0; o < 4; ++o) {
      CHECK(out[static_cast<std::size_t>(j * 4 + o)] == 0.0f);
    }
  }
  convt_layer_destroy(l);

  convt_layer* with_bias = make_layer(4, 3);
  P_MUST(convt_layer_set_string(with_bias, CONVT_PARAM_BIAS_INITIALIZER, "ones"));
  P_MUST(convt_layer_init_weights(with_bias, 5, 1));
  std::vector<float> kb(60);
  CHECK(get_w<float>(with_bias, CONVT_LAYOUT_WOI, kb, none) == CONVT_E_SHAPE);
  P_MUST(get_w<float>(with_bias, CONVT_LAYOUT_WOI, kb, b));
  CHECK(b == std::vector<float>(4, 1.0f));
  convt_layer_destroy(with_bias);
}

TEST_CASE("init_weights: zeros and ones are exact, in both dtypes", "[params][init]") {
  {
    const Drawn z = draw<float>(6, 3, 4, 2, "zeros", "ones", 5);
    CHECK(z.kernel == std::vector<double>(36, 0.0));
    CHECK(z.bias == std::vector<double>(6, 1.0));
    const Drawn o = draw<float>(6, 3, 4, 2, "ones", "zeros", 5);
    CHECK(o.kernel == std::vector<double>(36, 1.0));
    CHECK(o.bias == std::vector<double>(6, 0.0));
  }
  {
    const Drawn z = draw<double>(6, 3, 4, 1, "Zeros", "One", 5);
    CHECK(z.kernel == std::vector<double>(72, 0.0));
    CHECK(z.bias == std::vector<double>(6, 1.0));
    const Drawn o = draw<double>(6, 3, 4, 1, "ONES", "zero", 5);
    CHECK(o.kernel == std::vector<double>(72, 1.0));
    CHECK(o.bias == std::vector<double>(6, 0.0));
  }
  // The default bias initializer is zeros.
  convt_layer* l = make_layer(3, 2);
  P_MUST(convt_layer_init_weights(l, 2, 11));
  std::vector<float> k(12), b(3, 5.0f);
  P_MUST(get_w<float>(l, CONVT_LAYOUT_WOI, k, b));
  CHECK(b == std::vector<float>(3, 0.0f));
  convt_layer_destroy(l);
}

TEST_CASE("init_weights draws each initializer within its bounds with Keras's variance and fans",
          "[params][init]") {
  // Kernel (K, F, C/G) = (8, 16, 96): fan_in = K*F = 128, fan_out = K*C/G = 768.
  constexpr int64_t F = 16, K = 8, C = 192, G = 2;
  const double fan_in = 128, fan_out = 768;
  const double trunc = 0.87962566103423978;  // sd of a standard normal truncated at +-2
  struct Law {
    const char* name;
    bool uniform;
    double scale;  // uniform: the limit; normal: the requested sd before truncation
    bool truncated;
  };
  const Law laws[] = {
      {"glorot_uniform", true, std::sqrt(6 / (fan_in + fan_out)), false},
      {"he_uniform", true, std::sqrt(6 / fan_in), false},
      {"lecun_uniform", true, std::sqrt(3 / fan_in), false},
      {"random_uniform", true, 0.05, false},
      {"glorot_normal", false, std::sqrt(2 / (fan_in + fan_out)) / trunc, true},
      {"he_normal", false, std::sqrt(2 / fan_in) / trunc, true},
      {"lecun_normal", false, std::sqrt(1 / fan_in) / trunc, true},
      {"truncated_normal", false, 0.05, true},
      {"random_normal", false, 0.05, false},
  };
  for (bool f64 : {false, true}) {
    for (const Law& law : laws) {
      INFO((f64 ? "float64 " : "float32 ") << law.name);
      const Drawn d = f64 ? draw<double>(F, K, C, G, law.name, "zeros", 2024)
                          : draw<float>(F, K, C, G, law.name, "zeros", 2024);
      const double var = variance(d.kernel);
      double want_var = 0;
      if (law.uniform) {
        CHECK(max_abs(d.kernel) <= law.scale * (1 + 1e-6));
        want_var = law.scale * law.scale / 3;
      } else if (law.truncated) {
        CHECK(max_abs(d.kernel) <= 2 * law.scale * (1 + 1e-6));
        want_var = law.scale * law.scale * trunc * trunc;
      } else {
        want_var = law.scale * law.scale;
      }
      INFO("variance " << var << ", expected " << want_var);
      CHECK(std::fabs(var / want_var - 1) < 0.06);
      CHECK(std::fabs(mean(d.kernel)) < 5 * std::sqrt(want_var / 12288.0));
      CHECK(distinct(d.kernel) > 12000);
    }
  }
}

TEST_CASE("init_weights draws the bias with fan_in = fan_out = filters", "[params][init]") {
  // he_uniform on the bias: limit sqrt(6 / 16); lecun_uniform sqrt(3 / 16).
  const Drawn he = draw<float>(16, 2, 2, 1, "zeros", "he_uniform", 3);
  CHECK(he.kernel == std::vector<double>(64, 0.0));
  CHECK(max_abs(he.bias) <= std::sqrt(6.0 / 16) * (1 + 1e-6));
  CHECK(max_abs(he.bias) > 0.05);  // not random_uniform's 0.05 or all zeros
  CHECK(distinct(he.bias) == 16);
  const Drawn ru = draw<double>(16, 2, 2, 1, "zeros", "random_uniform", 3);
  CHECK(max_abs(ru.bias) <= 0.05);
  CHECK(distinct(ru.bias) == 16);
}

TEST_CASE(
    "The orthogonal initializer gives orthonormal columns (or rows) of the (K*F) x (C/G) "
    "matrix",
    "[params][init]") {
  struct Shape {
    int64_t f, k, c, g;
  };
  // rows K*F, cols C/G.
  const Shape shapes[] = {{4, 3, 8, 1}, {6, 2, 8, 2}, {2, 1, 6, 1}};
  for (bool f64 : {false, true}) {
    for (const Shape& s : shapes) {
      INFO((f64 ? "float64" : "float32")
           << " F " << s.f << " K " << s.k << " C " << s.c << " G " << s.g);
      const Drawn d = f64 ? draw<double>(s.f, s.k, s.c, s.g, "orthogonal", "zeros", 77)
                          : draw<float>(s.f, s.k, s.c, s.g, "orthogonal", "zeros", 77);
      const int64_t rows = s.k * s.f, cols = s.c / s.g;
      const double tol = f64 ? 1e-12 : 1e-5;
      double worst = 0;
      if (rows >= cols) {
        for (int64_t a = 0; a < cols; ++a) {
          for (int64_t b = 0; b < cols; ++b) {
            double dot = 0;
            for (int64_t r = 0; r < rows; ++r) {
              dot += d.kernel[static_cast<std::size_t>(r * cols + a)] *
                     d.kernel[static_cast<std::size_t>(r * cols + b)];
            }
            worst = std::max(worst, std::fabs(dot - (a == b ? 1.0 : 0.0)));
          }
        }
      } else {
        for (int64_t a = 0; a < rows; ++a) {
          for (int64_t b = 0; b < rows; ++b) {
            double dot = 0;
            for (int64_t col = 0; col < cols; ++col) {
              dot += d.kernel[static_cast<std::size_t>(a * cols + col)] *
                     d.kernel[static_cast<std::size_t>(b * cols + col)];
            }
            worst = std::max(worst, std::fabs(dot - (a == b ? 1.0 : 0.0)));
          }
        }
      }
      CHECK(worst < tol);
    }
  }
}

// ==========================================================================================
// set_weights / get_weights layouts
// ==========================================================================================

namespace {

struct Dims {
  int64_t f, k, c, g;
};

// Index of W_woi[t][o][c'] and of W_iow[c][oo][t], by the header's formula.
std::size_t woi_index(const Dims& d, int64_t t, int64_t o, int64_t cp) {
  return static_cast<std::size_t>((t * d.f + o) * (d.c / d.g) + cp);
}
std::size_t iow_index_of_woi(const Dims& d, int64_t t, int64_t o, int64_t cp) {
  const int64_t fg = d.f / d.g, cg = d.c / d.g;
  const int64_t c = (o / fg) * cg + cp;
  return static_cast<std::size_t>((c * fg + o % fg) * d.k + t);
}

template <typename T>
void check_layouts(const Dims& d) {
  const std::size_t n = static_cast<std::size_t>(d.k * d.f * d.c / d.g);
  std::vector<T> src(n), bias(static_cast<std::size_t>(d.f));
  for (std::size_t i = 0; i < n; ++i) src[i] = static_cast<T>(i + 1) / static_cast<T>(8);
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<T>(100 + i);

  convt_layer* l = make_layer(d.f, d.k);
  if (std::is_same<T, double>::value) {
    P_MUST(convt_layer_set_int(l, CONVT_PARAM_DTYPE, CONVT_DTYPE_FLOAT64));
  }
  P_MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, d.g));

  // Set WOI: WOI comes back identical, IOW by the formula.
  P_MUST(set_w<T>(l, d.c, CONVT_LAYOUT_WOI, src, bias));
  std::vector<T> woi(n), iow(n), b(bias.size());
  P_MUST(get_w<T>(l, CONVT_LAYOUT_WOI, woi, b));
  CHECK(same_bits(woi, src));
  CHECK(same_bits(b, bias));
  P_MUST(get_w<T>(l, CONVT_LAYOUT_IOW, iow, b));
  std::size_t mismatches = 0;
  for (int64_t t = 0; t < d.k; ++t) {
    for (int64_t o = 0; o < d.f; ++o) {
      for (int64_t cp = 0; cp < d.c / d.g; ++cp) {
        mismatches += iow[iow_index_of_woi(d, t, o, cp)] == src[woi_index(d, t, o, cp)] ? 0 : 1;
      }
    }
  }
  CHECK(mismatches == 0);

  // Set IOW: IOW comes back identical, WOI by the formula.
  P_MUST(set_w<T>(l, d.c, CONVT_LAYOUT_IOW, src, bias));
  P_MUST(get_w<T>(l, CONVT_LAYOUT_IOW, iow, b));
  CHECK(same_bits(iow, src));
  P_MUST(get_w<T>(l, CONVT_LAYOUT_WOI, woi, b));
  mismatches = 0;
  for (int64_t t = 0; t < d.k; ++t) {
    for (int64_t o = 0; o < d.f; ++o) {
      for (int64_t cp = 0; cp < d.c / d.g; ++cp) {
        mismatches += woi[woi_index(d, t, o, cp)] == src[iow_index_of_woi(d, t, o, cp)] ? 0 : 1;
      }
    }
  }
  CHECK(mismatches == 0);
  convt_layer_destroy(l);
}

}  // namespace

TEST_CASE(
    "set_weights / get_weights round-trip exactly and convert WOI <-> IOW by the header's "
    "formula, with groups",
    "[params][weights]") {
  const Dims dims[] = {{6, 3, 4, 2}, {4, 2, 4, 4}, {3, 2, 5, 1}, {6, 5, 9, 3}, {1, 1, 1, 1}};
  for (const Dims& d : dims) {
    INFO("F " << d.f << " K " << d.k << " C " << d.c << " G " << d.g);
    check_layouts<float>(d);
    check_layouts<double>(d);
  }
}

TEST_CASE("Equivalent WOI and IOW kernels give bitwise the same forward", "[params][weights]") {
  const Dims d{6, 3, 4, 2};
  const std::size_t n = 36;
  std::vector<float> woi(n), iow(n), bias = {0.5f, -1, 2, 0, 0.25f, 3};
  for (int64_t t = 0; t < d.k; ++t) {
    for (int64_t o = 0; o < d.f; ++o) {
      for (int64_t cp = 0; cp < 2; ++cp) {
        const float v = static_cast<float>(std::sin(static_cast<double>(woi_index(d, t, o, cp))));
        woi[woi_index(d, t, o, cp)] = v;
        iow[iow_index_of_woi(d, t, o, cp)] = v;
      }
    }
  }
  std::vector<float> out[2];
  for (int which = 0; which < 2; ++which) {
    convt_layer* l = make_layer(d.f, d.k);
    P_MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, d.g));
    P_MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 2));
    P_MUST(convt_layer_set_string(l, CONVT_PARAM_DATA_FORMAT, "NCW"));
    P_MUST(set_w<float>(l, d.c, which == 0 ? CONVT_LAYOUT_WOI : CONVT_LAYOUT_IOW,
                        which == 0 ? woi : iow, bias));
    std::vector<float> in(2 * 4 * 5);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 7) - 3;
    int64_t shape[3];
    P_MUST(convt_layer_output_shape(l, 2, 5, shape));
    out[which].assign(static_cast<std::size_t>(shape[0] * shape[1] * shape[2]), 0.0f);
    P_MUST(convt_layer_forward_f32(l, in.data(), 40, 2, 5, out[which].data(),
                                   static_cast<int64_t>(out[which].size()), shape[2]));
    convt_layer_destroy(l);
  }
  CHECK(same_bits(out[0], out[1]));
}
