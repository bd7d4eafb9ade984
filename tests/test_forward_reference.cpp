// Conformance of convt_layer_forward_f32/_f64 and convt_layer_output_shape with the independent
// float64 oracle in reference.hpp, driven only through the public C API, on random
// configurations that cover every padding mode, output_padding set and unset (with every
// accepted out_steps), strides, dilation, kernel sizes, groups, data formats, kernel layouts,
// dtypes, batch sizes, lengths, bias and a set of 1-Lipschitz activations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "api_helpers.hpp"
#include "convt/convt.h"
#include "reference.hpp"
#include "sentinel.hpp"

namespace {

using convt_test::forward;
using convt_test::set_weights;

using convt_test::Hyper;
using convt_test::Lengths;
using convt_test::Random;
using convt_test::to_size;
using convt_test::Verdict;

struct LayerDeleter {
  void operator()(convt_layer* layer) const { convt_layer_destroy(layer); }
};
using LayerPtr = std::unique_ptr<convt_layer, LayerDeleter>;

// ------------------------------------------------------------------------------------------
// dtype dispatch over the _f32 / _f64 entry points.
// ------------------------------------------------------------------------------------------

// ------------------------------------------------------------------------------------------
// Random configurations.
// ------------------------------------------------------------------------------------------
constexpr int kDepthwise = 4;  // group_kind 0..3 = groups 1..4; 4 = groups = C = F

struct Config {
  int index = 0;
  Hyper hyper;
  int64_t batch = 1, steps = 1, in_channels = 1, filters = 1, groups = 1;
  int group_kind = 0;
  int32_t format = CONVT_CHANNELS_LAST;
  int32_t layout = CONVT_LAYOUT_WOI;
  int32_t dtype = CONVT_DTYPE_FLOAT32;
  bool use_bias = true;
  int32_t activation = CONVT_ACTIVATION_LINEAR;
  Lengths lengths;
  int64_t other_out_steps = 0;  // op unset: a random accepted out_steps (0 = none)
  int64_t slack = 1;            // extra output elements beyond batch*filters*out_steps
};

const char* padding_label(int32_t p) {
  switch (p) {
    case CONVT_PADDING_VALID:
      return "VALID";
    case CONVT_PADDING_SAME:
      return "SAME";
    case CONVT_PADDING_SAME_LOWER:
      return "SAME_LOWER";
    default:
      return "EXPLICIT";
  }
}

std::string describe(const Config& c) {
  std::ostringstream s;
  s << "config #" << c.index << ": padding=" << padding_label(c.hyper.padding)
    << " output_padding=" << c.hyper.output_padding << " pads=(" << c.hyper.pad_begin << ","
    << c.hyper.pad_end << ") S=" << c.hyper.strides << " D=" << c.hyper.dilation
    << " K=" << c.hyper.kernel_size << " N=" << c.batch << " L=" << c.steps
    << " C=" << c.in_channels << " F=" << c.filters << " G=" << c.groups
    << " format=" << (c.format == CONVT_CHANNELS_FIRST ? "NCW" : "NWC")
    << " layout=" << (c.layout == CONVT_LAYOUT_IOW ? "IOW" : "WOI")
    << " dtype=" << (c.dtype == CONVT_DTYPE_FLOAT64 ? "f64" : "f32") << " use_bias=" << c.use_bias
    << " activation=" << convt_test::activation_label(c.activation)
    << " | reference: default L_out=" << c.lengths.default_len << " accepted O=["
    << c.lengths.min_len << ", " << c.lengths.max_len << "] L_full=" << c.lengths.l_full;
  return s.str();
}

// Draws configuration `index`. The padding mode and whether output_padding is set cycle with
// the index (every 8 configurations see all 8 combinations); the rest is random. Draws again
// until the combination is legal: op < max(S, D) by construction, L_out >= 1 by the check.
Config make_config(int index, Random& rng) {
  Config c;
  c.index = index;
  const int32_t padding = static_cast<int32_t>(index % 4);
  const bool op_set = (index / 4) % 2 == 1;
  for (;;) {
    Hyper& h = c.hyper;
    h = Hyper{};
    h.padding = padding;
    h.strides = rng.uniform_int(1, 8);
    h.dilation = rng.chance(0.35) ? 1 : rng.uniform_int(1, 4);
    h.kernel_size = rng.uniform_int(1, 16);
    const int64_t m = std::max(h.strides, h.dilation);
    h.output_padding = op_set ? rng.uniform_int(0, m - 1) : CONVT_OUTPUT_PADDING_UNSET;
    c.steps = rng.uniform_int(1, 40);
    c.batch = rng.uniform_int(1, 3);
    c.group_kind = static_cast<int>(rng.uniform_int(0, 4));
    if (c.group_kind == kDepthwise) {
      c.groups = c.in_channels = c.filters = rng.uniform_int(2, 8);
    } else {
      c.groups = c.group_kind + 1;
      c.in_channels = c.groups * rng.uniform_int(1, 4);
      c.filters = c.groups * rng.uniform_int(1, 4);
    }
    const int64_t k_eff = convt_test::effective_kernel(h);
    const int64_t l_full = convt_test::full_length(h, c.steps);
    if (padding == CONVT_PADDING_EXPLICIT) {
      if (!rng.chance(0.25)) {
        // Keep the default length >= 1: pad_begin + pad_end <= L_full - 1 (+ op when set).
        const int64_t cap = 2 * k_eff + h.strides;
        h.pad_begin = rng.uniform_int(0, std::min(l_full - 1, cap));
        const int64_t room = l_full - 1 - h.pad_begin + (op_set ? h.output_padding : 0);
        h.pad_end = rng.uniform_int(0, std::min(room, cap));
      }
    } else if (rng.chance(0.3)) {
      // Pads are used by EXPLICIT only: nonzero values must not change the other modes.
      h.pad_begin = rng.uniform_int(0, 5);
      h.pad_end = rng.uniform_int(0, 5);
    }
    c.lengths = convt_test::lengths(h, c.steps);
    if (c.lengths.verdict == Verdict::kOk) break;  // e.g. SAME, op 0, L = 1, even K_eff
  }
  c.format = rng.chance(0.5) ? CONVT_CHANNELS_FIRST : CONVT_CHANNELS_LAST;
  c.layout = rng.chance(0.5) ? CONVT_LAYOUT_IOW : CONVT_LAYOUT_WOI;
  c.dtype = rng.chance(0.5) ? CONVT_DTYPE_FLOAT64 : CONVT_DTYPE_FLOAT32;
  c.use_bias = rng.chance(0.5);
  c.activation = rng.pick(convt_test::reference_activations());
  if (!convt_test::output_padding_set(c.hyper)) {
    const int64_t r = rng.uniform_int(0, 9);
    c.other_out_steps = r < 3   ? c.lengths.min_len
                        : r < 6 ? c.lengths.max_len
                                : rng.uniform_int(c.lengths.min_len, c.lengths.max_len);
  }
  c.slack = rng.uniform_int(1, 17);
  return c;
}

// ------------------------------------------------------------------------------------------
// Coverage bookkeeping.
// ------------------------------------------------------------------------------------------
class Coverage {
 public:
  void hit(const std::string& key) { ++counts_[key]; }
  int64_t count(const std::string& key) const {
    const auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, int64_t> counts_;
};

std::string key(const std::string& name, int64_t v) { return name + "=" + std::to_string(v); }

// ------------------------------------------------------------------------------------------
// One configuration, in one dtype.
// ------------------------------------------------------------------------------------------
struct Data {
  std::vector<double> x;     // canonical (N, C, L)
  std::vector<double> w;     // IOW (C, F/G, K)
  std::vector<double> bias;  // F values, or empty
};

// Runs forward with out_steps = O and checks every element against the reference, and that
// nothing beyond the first N*F*O elements was written.
template <class T>
void check_forward(const Config& c, const convt_layer* layer, const Data& d, int64_t O) {
  INFO("out_steps = " << O);
  const Hyper& h = c.hyper;
  convt_test::Problem p;
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.filters = c.filters;
  p.groups = c.groups;
  p.kernel_size = h.kernel_size;
  p.strides = h.strides;
  p.dilation = h.dilation;
  p.steps = c.steps;
  p.crop_begin = convt_test::crop_begin(h, c.steps, O);
  p.out_steps = O;
  p.activation = c.activation;
  p.alpha = convt_test::kLeakyReluDefaultAlpha;
  INFO("reference P_b = " << p.crop_begin);
  const convt_test::Reference ref = convt_test::reference_forward(p, d.x, d.w, d.bias);

  const std::vector<T> in =
      convt_test::convert<T>(convt_test::to_format(d.x, c.format, c.batch, c.in_channels, c.steps));
  const int64_t written = c.batch * c.filters * O;
  std::vector<T> out(to_size(written + c.slack), convt_test::untouched<T>());
  const convt_status st = forward(layer, in, c.batch, c.steps, out, O);
  INFO("status " << convt_status_string(st) << ": " << convt_last_error());
  CHECK(st == CONVT_OK);
  if (st != CONVT_OK) return;  // reported; go on with the next configuration

  int64_t tail_written = 0;
  for (std::size_t k = to_size(written); k < out.size(); ++k)
    if (!convt_test::is_untouched(out[k])) ++tail_written;
  CHECK(tail_written == 0);

  const std::vector<double> got = convt_test::from_format(
      convt_test::convert<double>(std::vector<T>(out.begin(), out.begin() + written)), c.format,
      c.batch, c.filters, O);
  const double u = c.dtype == CONVT_DTYPE_FLOAT64 ? convt_test::unit_roundoff_f64()
                                                  : convt_test::unit_roundoff_f32();
  const convt_test::Comparison cmp = convt_test::compare(
      got, ref, c.in_channels / c.groups * h.kernel_size, u, convt_test::lipschitz(c.activation));
  if (cmp.failures > 0) {
    const int64_t j = cmp.first_failure % O;
    const int64_t o = (cmp.first_failure / O) % c.filters;
    const int64_t n = cmp.first_failure / O / c.filters;
    UNSCOPED_INFO("first bad element: n=" << n << " o=" << o << " j=" << j << " got=" << cmp.got
                                          << " want=" << cmp.want << " allowed=" << cmp.allowed
                                          << " (" << cmp.failures << " bad of " << ref.y.size()
                                          << ")");
  }
  CHECK(cmp.failures == 0);
}

template <class T>
void run_config(const Config& c, Random& rng, Coverage& cov) {
  const Hyper& h = c.hyper;
  convt_layer* raw = nullptr;
  REQUIRE(convt_layer_create(c.filters, h.kernel_size, &raw) == CONVT_OK);
  LayerPtr layer(raw);
  const auto set = [&](convt_param param, int64_t value) {
    const convt_status st = convt_layer_set_int(layer.get(), param, value);
    INFO("set_int(" << param << ", " << value << "): " << convt_status_string(st) << " "
                    << convt_last_error());
    REQUIRE(st == CONVT_OK);  // every value is in its documented range
  };
  set(CONVT_PARAM_DTYPE, c.dtype);
  set(CONVT_PARAM_STRIDES, h.strides);
  set(CONVT_PARAM_DILATION_RATE, h.dilation);
  set(CONVT_PARAM_PADDING, h.padding);
  set(CONVT_PARAM_PAD_BEGIN, h.pad_begin);
  set(CONVT_PARAM_PAD_END, h.pad_end);
  set(CONVT_PARAM_OUTPUT_PADDING, h.output_padding);
  set(CONVT_PARAM_DATA_FORMAT, c.format);
  set(CONVT_PARAM_GROUPS, c.groups);
  set(CONVT_PARAM_USE_BIAS, c.use_bias ? 1 : 0);
  set(CONVT_PARAM_ACTIVATION, c.activation);

  // output_shape needs only the parameters: ask before the weights are set.
  int64_t shape[3] = {-1, -1, -1};
  {
    const convt_status st = convt_layer_output_shape(layer.get(), c.batch, c.steps, shape);
    INFO("output_shape: " << convt_status_string(st) << " " << convt_last_error());
    CHECK(st == CONVT_OK);
  }
  const int64_t L_out = c.lengths.default_len;
  CHECK(shape[0] == c.batch);
  if (c.format == CONVT_CHANNELS_LAST) {
    CHECK(shape[1] == L_out);
    CHECK(shape[2] == c.filters);
  } else {
    CHECK(shape[1] == c.filters);
    CHECK(shape[2] == L_out);
  }

  Data d;
  const int64_t kernel_len = c.in_channels * (c.filters / c.groups) * h.kernel_size;
  d.x = rng.vector(c.batch * c.in_channels * c.steps, -1.0, 1.0);
  d.w = rng.vector(kernel_len, -1.0, 1.0);
  if (c.use_bias) d.bias = rng.vector(c.filters, -1.0, 1.0);
  if (c.dtype == CONVT_DTYPE_FLOAT32) {
    // The reference sees exactly the float32 values the layer sees.
    d.x = convt_test::round_to_float(d.x);
    d.w = convt_test::round_to_float(d.w);
    d.bias = convt_test::round_to_float(d.bias);
  }
  const std::vector<double> kernel =
      c.layout == CONVT_LAYOUT_WOI
          ? convt_test::woi_from_iow(d.w, c.in_channels, c.filters, c.groups, h.kernel_size)
          : d.w;
  {
    const convt_status st =
        set_weights(layer.get(), c.in_channels, c.layout, convt_test::convert<T>(kernel),
                    convt_test::convert<T>(d.bias));
    INFO("set_weights: " << convt_status_string(st) << " " << convt_last_error());
    CHECK(st == CONVT_OK);
    if (st != CONVT_OK) return;
  }

  check_forward<T>(c, layer.get(), d, L_out);
  const std::string mode = std::string(padding_label(h.padding));
  if (c.other_out_steps > 0) {
    check_forward<T>(c, layer.get(), d, c.other_out_steps);
    if (c.other_out_steps != L_out) cov.hit(mode + " op unset, O != default");
    if (c.lengths.min_len < c.lengths.max_len) {
      if (c.other_out_steps == c.lengths.min_len) cov.hit(mode + " O = lowest accepted");
      if (c.other_out_steps == c.lengths.max_len) cov.hit(mode + " O = highest accepted");
    }
    const int64_t pb = convt_test::crop_begin(h, c.steps, c.other_out_steps);
    if (c.lengths.l_full - pb - c.other_out_steps < 0) cov.hit("bias-only tail");
  }
  const int64_t pb = convt_test::crop_begin(h, c.steps, L_out);
  if (c.lengths.l_full - pb - L_out < 0) cov.hit("bias-only tail");
}

}  // namespace

TEST_CASE("reference oracle reproduces hand-computed transposed convolutions",
          "[reference][oracle]") {
  convt_test::Problem p;
  SECTION("stride 2 interleaves overlapping taps: x=[1,2], w=[1,10,100] -> [1,10,102,20,200]") {
    // L_full = (2-1)*2 + 3 = 5; y[j] = sum x[i]*w[t] over 2i + t == j.
    p.kernel_size = 3;
    p.strides = 2;
    p.steps = 2;
    p.out_steps = 5;
    const auto r = convt_test::reference_forward(p, {1, 2}, {1, 10, 100}, {});
    CHECK(r.y == std::vector<double>{1, 10, 102, 20, 200});
    CHECK(r.magnitude == std::vector<double>{1, 10, 102, 20, 200});
  }
  SECTION("dilation 2 spreads the taps: x=[1,2], w=[1,10,100] -> [1,2,10,20,100,200]") {
    // K_eff = 5, L_full = 1 + 5 = 6; y[j] = sum over i + 2t == j.
    p.kernel_size = 3;
    p.dilation = 2;
    p.steps = 2;
    p.out_steps = 6;
    const auto r = convt_test::reference_forward(p, {1, 2}, {1, 10, 100}, {});
    CHECK(r.y == std::vector<double>{1, 2, 10, 20, 100, 200});
  }
  SECTION("the crop P_b shifts the window and bias fills steps no tap reaches") {
    // S=3, K=1, x=[1,2]: L_full = 4, taps land on 0 and 3; P_b = 1, L_out = 5:
    // y = [b, b, 2+b, b, b] with b = 0.5.
    p.strides = 3;
    p.steps = 2;
    p.crop_begin = 1;
    p.out_steps = 5;
    const auto r = convt_test::reference_forward(p, {1, 2}, {1}, {0.5});
    CHECK(r.y == std::vector<double>{0.5, 0.5, 2.5, 0.5, 0.5});
    CHECK(r.magnitude == std::vector<double>{0.5, 0.5, 2.5, 0.5, 0.5});
  }
  SECTION("groups connect each filter only to its group's channels") {
    // C=2, F=2, G=2, K=1: y[o] = x[o] * w[o]; x = [3, 5], w_iow = [2, 7] -> [6, 35].
    p.in_channels = 2;
    p.filters = 2;
    p.groups = 2;
    p.steps = 1;
    p.out_steps = 1;
    const auto r = convt_test::reference_forward(p, {3, 5}, {2, 7}, {});
    CHECK(r.y == std::vector<double>{6, 35});
  }
  SECTION("activations follow the header's definitions") {
    CHECK(convt_test::activate(CONVT_ACTIVATION_RELU6, 7.0, 0) == 6.0);
    CHECK(convt_test::activate(CONVT_ACTIVATION_LEAKY_RELU, -2.0, 0.2) == Approx(-0.4));
    CHECK(convt_test::activate(CONVT_ACTIVATION_HARD_TANH, -3.0, 0) == -1.0);
    CHECK(convt_test::activate(CONVT_ACTIVATION_SOFTSIGN, 3.0, 0) == 0.75);
    CHECK(convt_test::activate(CONVT_ACTIVATION_SIGMOID, 0.0, 0) == 0.5);
    CHECK(convt_test::activate(CONVT_ACTIVATION_RELU, -1.0, 0) == 0.0);
  }
}

TEST_CASE("reference kernel layouts follow the header's WOI to IOW formula with groups",
          "[reference][oracle]") {
  // C = 6, F = 4, G = 2, K = 3: C/G = 3, F/G = 2. Each IOW value encodes its own index.
  const int64_t C = 6, F = 4, G = 2, K = 3;
  std::vector<double> iow(to_size(C * (F / G) * K));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t of = 0; of < F / G; ++of)
      for (int64_t t = 0; t < K; ++t)
        iow[to_size((c * (F / G) + of) * K + t)] = static_cast<double>(100 * c + 10 * of + t);
  const std::vector<double> woi = convt_test::woi_from_iow(iow, C, F, G, K);
  // W_woi[t=2][o=3][c'=1]: group 3/2 = 1 -> c = 1*3 + 1 = 4, o%2 = 1 -> value 412.
  CHECK(woi[to_size((2 * F + 3) * (C / G) + 1)] == 412.0);
  // W_woi[t=0][o=1][c'=2]: group 0 -> c = 2, o%2 = 1 -> value 210.
  CHECK(woi[to_size((0 * F + 1) * (C / G) + 2)] == 210.0);
  CHECK(convt_test::iow_from_woi(woi, C, F, G, K) == iow);
  const std::vector<double> ncw = {1, 2, 3, 4, 5, 6};  // N=1, C=2, L=3
  CHECK(convt_test::nwc_from_ncw(ncw, 1, 2, 3) == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(convt_test::ncw_from_nwc(convt_test::nwc_from_ncw(ncw, 1, 2, 3), 1, 2, 3) == ncw);
}

TEST_CASE(
    "forward matches the float64 reference within the rounding bound on 5000 random "
    "configurations covering every padding mode and output_padding with strides dilation "
    "kernels groups formats layouts and dtypes",
    "[forward][reference][random]") {
  constexpr int kConfigs = 5000;
  Random rng(0xC0417u);
  Coverage cov;
  for (int i = 0; i < kConfigs; ++i) {
    const Config c = make_config(i, rng);
    INFO(describe(c));
    const Hyper& h = c.hyper;
    if (c.dtype == CONVT_DTYPE_FLOAT64)
      run_config<double>(c, rng, cov);
    else
      run_config<float>(c, rng, cov);

    const bool op_set = convt_test::output_padding_set(h);
    const std::string mode = padding_label(h.padding);
    cov.hit(mode + (op_set ? " op set" : " op unset"));
    cov.hit(key("S", h.strides));
    cov.hit(key("D", h.dilation));
    cov.hit(key("K", h.kernel_size));
    cov.hit(key("N", c.batch));
    cov.hit(key("L", c.steps));
    cov.hit(key("group_kind", c.group_kind));
    cov.hit(key("format", c.format));
    cov.hit(key("layout", c.layout));
    cov.hit(key("dtype", c.dtype));
    cov.hit(key("dtype,format,layout", c.dtype * 100 + c.format * 10 + c.layout));
    cov.hit(key("use_bias", c.use_bias));
    cov.hit(key("activation", c.activation));
    if (h.strides > 1 && h.dilation > 1) cov.hit("S>1 and D>1");
    if (op_set) cov.hit(key("op", h.output_padding));
    if (op_set && h.output_padding >= h.strides) cov.hit("op >= S (allowed by D)");
    if (c.lengths.k_eff < h.strides) cov.hit("K_eff < S");
    if (h.padding == CONVT_PADDING_EXPLICIT && h.pad_begin + h.pad_end > 0)
      cov.hit("EXPLICIT with nonzero pads");
    if (h.padding != CONVT_PADDING_EXPLICIT && h.pad_begin + h.pad_end > 0)
      cov.hit("ignored pads in a non-EXPLICIT mode");
    if (c.lengths.default_len == 1) cov.hit("L_out = 1");
    if (h.padding == CONVT_PADDING_EXPLICIT && op_set &&
        h.pad_begin + h.pad_end > c.lengths.l_full - 1)
      cov.hit("EXPLICIT pads >= L_full, made up for by op");
  }

  // Every category was actually exercised.
  const auto need = [&](const std::string& k, int64_t at_least) {
    INFO("coverage of '" << k << "': " << cov.count(k) << " (need " << at_least << ")");
    REQUIRE(cov.count(k) >= at_least);
  };
  for (const char* mode : {"VALID", "SAME", "SAME_LOWER", "EXPLICIT"}) {
    const std::string m = mode;
    need(m + " op set", 20);
    need(m + " op unset", 20);
    need(m + " op unset, O != default", 10);
    need(m + " O = lowest accepted", 5);
    need(m + " O = highest accepted", 5);
  }
  for (int64_t s = 1; s <= 8; ++s) need(key("S", s), 10);
  for (int64_t dd = 1; dd <= 4; ++dd) need(key("D", dd), 10);
  for (int64_t k = 1; k <= 16; ++k) need(key("K", k), 5);
  for (int64_t n = 1; n <= 3; ++n) need(key("N", n), 20);
  for (int64_t l = 1; l <= 40; ++l) need(key("L", l), 2);
  for (int64_t g = 0; g <= kDepthwise; ++g) need(key("group_kind", g), 20);
  for (int64_t f : {CONVT_CHANNELS_LAST, CONVT_CHANNELS_FIRST}) need(key("format", f), 100);
  for (int64_t l : {CONVT_LAYOUT_WOI, CONVT_LAYOUT_IOW}) need(key("layout", l), 100);
  for (int64_t t : {CONVT_DTYPE_FLOAT32, CONVT_DTYPE_FLOAT64}) need(key("dtype", t), 100);
  for (int64_t t = 0; t <= 1; ++t)
    for (int64_t f = 0; f <= 1; ++f)
      for (int64_t l = 0; l <= 1; ++l) need(key("dtype,format,layout", t * 100 + f * 10 + l), 20);
  need(key("use_bias", 0), 100);
  need(key("use_bias", 1), 100);
  for (int32_t a : convt_test::reference_activations()) need(key("activation", a), 20);
  for (int64_t op = 0; op < 8; ++op) need(key("op", op), 3);
  need("S>1 and D>1", 50);
  need("op >= S (allowed by D)", 10);
  need("K_eff < S", 20);
  need("bias-only tail", 20);
  need("EXPLICIT with nonzero pads", 20);
  need("ignored pads in a non-EXPLICIT mode", 20);
  need("L_out = 1", 1);
}
