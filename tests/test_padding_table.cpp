// Every row of SEMANTICS.md §2 (padding mode x output_padding -> P_b, L_out, accepted out_steps)
// on hand-picked cases. Each case's expected lengths and crops are computed by hand in the
// comment next to it, checked first against the oracle's table (reference.hpp) and then
// against the library through the public C API: output_shape gives the default, forward at
// both ends of the accepted range gives the reference's numbers, and the first rejected
// out_steps on each side is CONVT_E_SHAPE with the buffer untouched and a message that names
// the accepted range.
//
// Notation: K_eff = D*(K-1) + 1, L_full = (L-1)*S + K_eff, "taps" = the positions
// i*S + t*D that some input step reaches, before the crop.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
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
using convt_test::to_size;
using convt_test::Verdict;

struct LayerDeleter {
  void operator()(convt_layer* layer) const { convt_layer_destroy(layer); }
};
using LayerPtr = std::unique_ptr<convt_layer, LayerDeleter>;

// ------------------------------------------------------------------------------------------
// A hand-picked case: the layer's parameters, the input's shape and the expectations.
// ------------------------------------------------------------------------------------------
struct Row {
  std::string what;
  Hyper hyper;
  int64_t steps = 1;
  int64_t batch = 2, in_channels = 3, filters = 2, groups = 1;
  int32_t format = CONVT_CHANNELS_FIRST;
  int32_t layout = CONVT_LAYOUT_IOW;
  // Computed by hand.
  int64_t default_len = 0, min_len = 0, max_len = 0;
  int64_t pb_default = 0, pb_min = 0, pb_max = 0;
  std::vector<std::pair<int64_t, std::vector<int64_t>>> bias_only;  // (O, output steps)

  Row& pads(int64_t b, int64_t e) {
    hyper.pad_begin = b;
    hyper.pad_end = e;
    return *this;
  }
  Row& shape(int64_t n, int64_t c, int64_t f, int64_t g = 1) {
    batch = n;
    in_channels = c;
    filters = f;
    groups = g;
    return *this;
  }
  Row& keras() {  // Keras / TF conventions: channels_last and the (K, F, C/G) kernel
    format = CONVT_CHANNELS_LAST;
    layout = CONVT_LAYOUT_WOI;
    return *this;
  }
  // The accepted out_steps [lo, hi] and the default.
  Row& lengths(int64_t def, int64_t lo, int64_t hi) {
    default_len = def;
    min_len = lo;
    max_len = hi;
    return *this;
  }
  // op set: only the default is accepted.
  Row& length(int64_t def) { return lengths(def, def, def); }
  // P_b at the default, at the lowest and at the highest accepted out_steps.
  Row& crops(int64_t at_default, int64_t at_min, int64_t at_max) {
    pb_default = at_default;
    pb_min = at_min;
    pb_max = at_max;
    return *this;
  }
  Row& crop(int64_t pb) { return crops(pb, pb, pb); }
  // Output steps that hold only the bias when forward is asked for out_steps O.
  Row& bias_only_at(int64_t O, std::vector<int64_t> js) {
    bias_only.emplace_back(O, std::move(js));
    return *this;
  }
};

Row row(std::string what, int32_t padding, int64_t op, int64_t S, int64_t D, int64_t K, int64_t L) {
  Row r;
  r.what = std::move(what);
  r.hyper.padding = padding;
  r.hyper.output_padding = op;
  r.hyper.strides = S;
  r.hyper.dilation = D;
  r.hyper.kernel_size = K;
  r.steps = L;
  return r;
}

constexpr int64_t kUnset = CONVT_OUTPUT_PADDING_UNSET;

// ------------------------------------------------------------------------------------------
// dtype dispatch.
// ------------------------------------------------------------------------------------------

template <class T>
int32_t dtype_of();
template <>
int32_t dtype_of<float>() {
  return CONVT_DTYPE_FLOAT32;
}
template <>
int32_t dtype_of<double>() {
  return CONVT_DTYPE_FLOAT64;
}

// Leaves a known message as this thread's last error, so that a later check can tell that
// the call under test stored its own message.
std::string prime_last_error() {
  convt_layer* never = nullptr;
  const convt_status st = convt_layer_create(-987654321, 1, &never);
  REQUIRE(st == CONVT_E_INVALID_ARGUMENT);
  REQUIRE(never == nullptr);
  return convt_last_error();
}

LayerPtr make_layer(const Row& r, int32_t dtype) {
  convt_layer* raw = nullptr;
  REQUIRE(convt_layer_create(r.filters, r.hyper.kernel_size, &raw) == CONVT_OK);
  LayerPtr layer(raw);
  const auto set = [&](convt_param param, int64_t value) {
    const convt_status st = convt_layer_set_int(layer.get(), param, value);
    INFO("set_int(" << param << ", " << value << "): " << convt_last_error());
    REQUIRE(st == CONVT_OK);
  };
  set(CONVT_PARAM_DTYPE, dtype);
  set(CONVT_PARAM_STRIDES, r.hyper.strides);
  set(CONVT_PARAM_DILATION_RATE, r.hyper.dilation);
  set(CONVT_PARAM_PADDING, r.hyper.padding);
  set(CONVT_PARAM_PAD_BEGIN, r.hyper.pad_begin);
  set(CONVT_PARAM_PAD_END, r.hyper.pad_end);
  set(CONVT_PARAM_OUTPUT_PADDING, r.hyper.output_padding);
  set(CONVT_PARAM_DATA_FORMAT, r.format);
  set(CONVT_PARAM_GROUPS, r.groups);
  return layer;
}

// Small nonzero integers: every sum is exact in float32 and float64, so a wrong crop or a
// wrong length shows up as a difference of at least 1.
struct Data {
  std::vector<double> x, w, bias;
};

Data integer_data(const Row& r, uint64_t seed) {
  convt_test::Random rng(seed);
  Data d;
  d.x = rng.nonzero_integers(r.batch * r.in_channels * r.steps, -3, 3);
  d.w = rng.nonzero_integers(r.in_channels * (r.filters / r.groups) * r.hyper.kernel_size, -3, 3);
  d.bias = rng.nonzero_integers(r.filters, -3, 3);
  return d;
}

template <class T>
void install_weights(convt_layer* layer, const Row& r, const Data& d) {
  const std::vector<double> kernel =
      r.layout == CONVT_LAYOUT_WOI
          ? convt_test::woi_from_iow(d.w, r.in_channels, r.filters, r.groups, r.hyper.kernel_size)
          : d.w;
  const convt_status st =
      set_weights(layer, r.in_channels, r.layout, convt_test::convert<T>(kernel),
                  convt_test::convert<T>(d.bias));
  INFO("set_weights: " << convt_last_error());
  REQUIRE(st == CONVT_OK);
}

// forward at an accepted O: the reference's numbers, nothing written past N*F*O, and the
// hand-listed bias-only steps hold exactly the bias.
template <class T>
void check_accepted(const Row& r, const convt_layer* layer, const Data& d, int64_t O) {
  INFO("accepted out_steps " << O);
  convt_test::Problem p;
  p.batch = r.batch;
  p.in_channels = r.in_channels;
  p.filters = r.filters;
  p.groups = r.groups;
  p.kernel_size = r.hyper.kernel_size;
  p.strides = r.hyper.strides;
  p.dilation = r.hyper.dilation;
  p.steps = r.steps;
  p.crop_begin = convt_test::crop_begin(r.hyper, r.steps, O);
  p.out_steps = O;
  const convt_test::Reference ref = convt_test::reference_forward(p, d.x, d.w, d.bias);

  const std::vector<T> in =
      convt_test::convert<T>(convt_test::to_format(d.x, r.format, r.batch, r.in_channels, r.steps));
  const int64_t written = r.batch * r.filters * O;
  std::vector<T> out(to_size(written + 7), convt_test::untouched<T>());
  const convt_status st = forward(layer, in, r.batch, r.steps, out, O);
  INFO("forward: " << convt_status_string(st) << " " << convt_last_error());
  REQUIRE(st == CONVT_OK);
  CHECK(convt_test::all_untouched(std::vector<T>(out.begin() + written, out.end())));

  const std::vector<double> got = convt_test::from_format(
      convt_test::convert<double>(std::vector<T>(out.begin(), out.begin() + written)), r.format,
      r.batch, r.filters, O);
  const double u = dtype_of<T>() == CONVT_DTYPE_FLOAT64 ? convt_test::unit_roundoff_f64()
                                                        : convt_test::unit_roundoff_f32();
  const convt_test::Comparison cmp =
      convt_test::compare(got, ref, r.in_channels / r.groups * r.hyper.kernel_size, u, 1.0);
  INFO("first bad element (canonical index) " << cmp.first_failure << ": got " << cmp.got
                                              << ", want " << cmp.want);
  CHECK(cmp.failures == 0);

  for (const auto& entry : r.bias_only) {
    if (entry.first != O) continue;
    for (int64_t j : entry.second) {
      for (int64_t n = 0; n < r.batch; ++n)
        for (int64_t o = 0; o < r.filters; ++o) {
          INFO("bias-only step j=" << j << " n=" << n << " o=" << o);
          CHECK(got[to_size((n * r.filters + o) * O + j)] == d.bias[to_size(o)]);
        }
    }
  }
}

// forward at a rejected O: CONVT_E_SHAPE, the buffer untouched, and a fresh message that
// names the accepted range's numbers.
template <class T>
void check_rejected(const Row& r, const convt_layer* layer, const Data& d, int64_t O) {
  INFO("rejected out_steps " << O);
  const std::vector<T> in =
      convt_test::convert<T>(convt_test::to_format(d.x, r.format, r.batch, r.in_channels, r.steps));
  // Room for the rejected length too, so that only out_steps is wrong.
  std::vector<T> out(to_size(r.batch * r.filters * (r.max_len + 2) + 7),
                     convt_test::untouched<T>());
  const std::string primed = prime_last_error();
  const convt_status st = forward(layer, in, r.batch, r.steps, out, O);
  const std::string msg = convt_last_error();
  INFO("forward: " << convt_status_string(st) << " \"" << msg << "\"");
  CHECK(st == CONVT_E_SHAPE);
  CHECK(convt_test::all_untouched(out));
  CHECK(!msg.empty());
  CHECK(msg != primed);
  CHECK(convt_test::mentions_number(msg, r.min_len));
  CHECK(convt_test::mentions_number(msg, r.max_len));
}

template <class T>
void check_library(const Row& r) {
  const int32_t dtype = dtype_of<T>();
  INFO("dtype " << (dtype == CONVT_DTYPE_FLOAT64 ? "float64" : "float32"));
  LayerPtr layer = make_layer(r, dtype);

  int64_t shape[3] = {-1, -1, -1};
  const convt_status st = convt_layer_output_shape(layer.get(), r.batch, r.steps, shape);
  INFO("output_shape: " << convt_last_error());
  REQUIRE(st == CONVT_OK);
  CHECK(shape[0] == r.batch);
  if (r.format == CONVT_CHANNELS_LAST) {
    CHECK(shape[1] == r.default_len);
    CHECK(shape[2] == r.filters);
  } else {
    CHECK(shape[1] == r.filters);
    CHECK(shape[2] == r.default_len);
  }

  const Data d = integer_data(r, 0x7AB1Eu + static_cast<uint64_t>(r.steps));
  install_weights<T>(layer.get(), r, d);
  check_accepted<T>(r, layer.get(), d, r.min_len);
  if (r.default_len != r.min_len && r.default_len != r.max_len)
    check_accepted<T>(r, layer.get(), d, r.default_len);
  if (r.max_len != r.min_len) check_accepted<T>(r, layer.get(), d, r.max_len);
  check_rejected<T>(r, layer.get(), d, r.min_len - 1);
  check_rejected<T>(r, layer.get(), d, r.max_len + 1);
}

std::string describe(const Row& r) {
  std::ostringstream s;
  s << r.what << " [padding=" << r.hyper.padding << " op=" << r.hyper.output_padding << " pads=("
    << r.hyper.pad_begin << "," << r.hyper.pad_end << ") S=" << r.hyper.strides
    << " D=" << r.hyper.dilation << " K=" << r.hyper.kernel_size << " L=" << r.steps
    << " N=" << r.batch << " C=" << r.in_channels << " F=" << r.filters << " G=" << r.groups << "]";
  return s.str();
}

// The whole check of one row: the hand numbers equal the oracle's table, then the library
// agrees with both, in float64 and float32.
void check_row(const Row& r) {
  INFO(describe(r));
  const Lengths lens = convt_test::lengths(r.hyper, r.steps);
  REQUIRE(lens.verdict == Verdict::kOk);
  CHECK(lens.default_len == r.default_len);
  CHECK(lens.min_len == r.min_len);
  CHECK(lens.max_len == r.max_len);
  CHECK(convt_test::crop_begin(r.hyper, r.steps, r.default_len) == r.pb_default);
  CHECK(convt_test::crop_begin(r.hyper, r.steps, r.min_len) == r.pb_min);
  CHECK(convt_test::crop_begin(r.hyper, r.steps, r.max_len) == r.pb_max);
  if (convt_test::output_padding_set(r.hyper)) REQUIRE(r.min_len == r.max_len);
  check_library<double>(r);
  check_library<float>(r);
}

}  // namespace

// ==========================================================================================
// VALID
// ==========================================================================================
TEST_CASE(
    "VALID without output_padding defaults to (L-1)*S plus the larger of K_eff and S and "
    "accepts out_steps from L_full to L_full + S - 1 with no crop",
    "[padding][valid]") {
  SECTION("Keras doc example: (4, 10, 128) -> Conv1DTranspose(32, 3, 2) -> (4, 21, 32)") {
    // K_eff = 3, L_full = 9*2 + 3 = 21; default = 9*2 + max(3, 2) = 21; O in [21, 22].
    // Taps reach 0..20, so at O = 22 step 21 holds only the bias.
    check_row(row("keras doc", CONVT_PADDING_VALID, kUnset, 2, 1, 3, 10)
                  .shape(4, 128, 32)
                  .keras()
                  .lengths(21, 21, 22)
                  .crop(0)
                  .bias_only_at(22, {21}));
  }
  SECTION("K_eff < S leaves bias-only gaps between the taps and a bias-only tail") {
    // S = 5, K = 2: K_eff = 2, L_full = 2*5 + 2 = 12; default = 2*5 + max(2, 5) = 15;
    // O in [12, 16]. Taps {0,1, 5,6, 10,11}.
    check_row(row("gaps", CONVT_PADDING_VALID, kUnset, 5, 1, 2, 3)
                  .lengths(15, 12, 16)
                  .crop(0)
                  .bias_only_at(12, {2, 3, 4, 7, 8, 9})
                  .bias_only_at(16, {2, 3, 4, 7, 8, 9, 12, 13, 14, 15}));
  }
  SECTION("L = 1 and K = 1 give the smallest legal length, 1") {
    // K_eff = 1, L_full = 1; default = 0 + max(1, 1) = 1; O in [1, 1].
    check_row(row("L=1 K=1", CONVT_PADDING_VALID, kUnset, 1, 1, 1, 1).lengths(1, 1, 1).crop(0));
  }
  SECTION("strides and dilation both above 1") {
    // S = 3, D = 2, K = 2: K_eff = 3, L_full = 3*3 + 3 = 12; default = 9 + max(3, 3) = 12;
    // O in [12, 14]. Taps i*3 + 2t = {0,2, 3,5, 6,8, 9,11}: 1, 4, 7, 10 are gaps.
    check_row(row("S3 D2", CONVT_PADDING_VALID, kUnset, 3, 2, 2, 4)
                  .keras()
                  .lengths(12, 12, 14)
                  .crop(0)
                  .bias_only_at(12, {1, 4, 7, 10})
                  .bias_only_at(14, {1, 4, 7, 10, 12, 13}));
  }
  SECTION("K = 1 with S = 4: the default is L*S, longer than L_full") {
    // K_eff = 1, L_full = 2*4 + 1 = 9; default = 8 + max(1, 4) = 12; O in [9, 12]. Taps 0, 4, 8.
    check_row(row("K=1 S=4", CONVT_PADDING_VALID, kUnset, 4, 1, 1, 3)
                  .lengths(12, 9, 12)
                  .crop(0)
                  .bias_only_at(12, {1, 2, 3, 5, 6, 7, 9, 10, 11}));
  }
}

TEST_CASE("VALID with output_padding gives L_full + op and nothing else with no crop",
          "[padding][valid]") {
  SECTION("Keras valid with output_padding = 1") {
    // S = 2, K = 3, L = 10: L_full = 21, L_out = 22; taps reach 0..20.
    check_row(row("keras op=1", CONVT_PADDING_VALID, 1, 2, 1, 3, 10)
                  .keras()
                  .length(22)
                  .crop(0)
                  .bias_only_at(22, {21}));
  }
  SECTION("op >= S is allowed below the dilation (PyTorch's rule)") {
    // S = 1, D = 3, K = 2, op = 2 < max(1, 3): K_eff = 4, L_full = 4 + 4 = 8, L_out = 10.
    // Taps i + 3t for i < 5 = 0..7.
    check_row(row("op>=S", CONVT_PADDING_VALID, 2, 1, 3, 2, 5)
                  .length(10)
                  .crop(0)
                  .bias_only_at(10, {8, 9}));
  }
  SECTION("op = 0 with K_eff < S is shorter than the unset default") {
    // S = 4, K = 1, L = 2: K_eff = 1, L_full = 5, L_out = 5 (unset would give 8). Taps 0, 4.
    check_row(row("op=0 gaps", CONVT_PADDING_VALID, 0, 4, 1, 1, 2)
                  .length(5)
                  .crop(0)
                  .bias_only_at(5, {1, 2, 3}));
  }
  SECTION("the largest op, S - 1") {
    // S = 4, K = 1, L = 2, op = 3: L_out = 5 + 3 = 8. Taps 0, 4.
    check_row(row("op=3", CONVT_PADDING_VALID, 3, 4, 1, 1, 2)
                  .length(8)
                  .crop(0)
                  .bias_only_at(8, {1, 2, 3, 5, 6, 7}));
  }
}

// ==========================================================================================
// SAME
// ==========================================================================================
TEST_CASE(
    "SAME without output_padding defaults to L*S and accepts out_steps from (L-1)*S + 1 to "
    "L*S cropping half of L_full - O rounded down at the beginning",
    "[padding][same]") {
  SECTION("Keras same, S = 2, K = 3") {
    // L_full = 21; O in [19, 20], default 20. P_b(20) = floor(1/2) = 0, P_b(19) = floor(2/2) = 1.
    check_row(row("keras same", CONVT_PADDING_SAME, kUnset, 2, 1, 3, 10)
                  .shape(2, 5, 3)
                  .keras()
                  .lengths(20, 19, 20)
                  .crops(0, 1, 0));
  }
  SECTION("tf.nn.conv1d_transpose output_shape lengths 13..15 (odd K_eff - S)") {
    // x (2, 5, 3), filters [4, 6, 3], strides 3: K_eff = 4, L_full = 12 + 4 = 16.
    // O in [4*3 + 1, 15] = [13, 15]; P_b(15) = floor(1/2) = 0, P_b(13) = floor(3/2) = 1.
    check_row(row("tf output_shape", CONVT_PADDING_SAME, kUnset, 3, 1, 4, 5)
                  .shape(2, 3, 6)
                  .keras()
                  .lengths(15, 13, 15)
                  .crops(0, 1, 0));
  }
  SECTION("even K_eff - S") {
    // S = 2, K = 4, L = 6: K_eff = 4, L_full = 14; O in [11, 12];
    // P_b(12) = floor(2/2) = 1, P_b(11) = floor(3/2) = 1.
    check_row(row("even", CONVT_PADDING_SAME, kUnset, 2, 1, 4, 6)
                  .keras()
                  .lengths(12, 11, 12)
                  .crops(1, 1, 1));
  }
  SECTION("odd K_eff - S") {
    // S = 2, K = 5, L = 6: K_eff = 5, L_full = 15; O in [11, 12];
    // P_b(12) = floor(3/2) = 1, P_b(11) = floor(4/2) = 2.
    check_row(
        row("odd", CONVT_PADDING_SAME, kUnset, 2, 1, 5, 6).lengths(12, 11, 12).crops(1, 2, 1));
  }
  SECTION("K_eff < S: no crop, bias-only gaps and tail") {
    // S = 4, K = 2, L = 3: K_eff = 2, L_full = 10; O in [9, 12]; P_b(12) = 0 (L_full < O),
    // P_b(9) = floor(1/2) = 0. Taps {0,1, 4,5, 8,9}.
    check_row(row("gaps", CONVT_PADDING_SAME, kUnset, 4, 1, 2, 3)
                  .lengths(12, 9, 12)
                  .crop(0)
                  .bias_only_at(12, {2, 3, 6, 7, 10, 11})
                  .bias_only_at(9, {2, 3, 6, 7}));
  }
  SECTION("L = 1, K = 1, S = 1: the only length is 1") {
    check_row(row("L=1", CONVT_PADDING_SAME, kUnset, 1, 1, 1, 1).lengths(1, 1, 1).crop(0));
  }
  SECTION("L = 1 with S = 8: every length from 1 to 8") {
    // K = 3: K_eff = 3, L_full = 3; O in [1, 8]; P_b(8) = 0, P_b(1) = floor(2/2) = 1.
    // At O = 8 the taps reach 0..2 and 3..7 hold the bias.
    check_row(row("L=1 S=8", CONVT_PADDING_SAME, kUnset, 8, 1, 3, 1)
                  .lengths(8, 1, 8)
                  .crops(0, 1, 0)
                  .bias_only_at(8, {3, 4, 5, 6, 7}));
  }
  SECTION("strides and dilation both above 1") {
    // S = 2, D = 3, K = 3, L = 4: K_eff = 7, L_full = 13; O in [7, 8];
    // P_b(8) = floor(5/2) = 2, P_b(7) = floor(6/2) = 3.
    check_row(row("S2 D3", CONVT_PADDING_SAME, kUnset, 2, 3, 3, 4)
                  .keras()
                  .lengths(8, 7, 8)
                  .crops(2, 3, 2));
  }
}

TEST_CASE(
    "SAME with output_padding gives Keras's (L-1)*S + K_eff%2 + op cropping half of "
    "K_eff - K_eff%2 - op rounded down and at least 0 at the beginning",
    "[padding][same]") {
  SECTION("Keras same, K = 3, op = 1: same length as unset") {
    // L_out = 18 + 1 + 1 = 20; P_b = floor((3 - 1 - 1)/2) = 0; end crop 21 - 20 = 1.
    check_row(row("k3 op1", CONVT_PADDING_SAME, 1, 2, 1, 3, 10).keras().length(20).crop(0));
  }
  SECTION("even kernel, op = 0: two shorter than steps*strides") {
    // K = 4: L_out = 18 + 0 + 0 = 18; P_b = floor(4/2) = 2; L_full = 22, end crop 2.
    check_row(row("k4 op0", CONVT_PADDING_SAME, 0, 2, 1, 4, 10).keras().length(18).crop(2));
  }
  SECTION("even kernel, op = 1") {
    // L_out = 18 + 0 + 1 = 19; P_b = floor(3/2) = 1; end crop 22 - 1 - 19 = 2.
    check_row(row("k4 op1", CONVT_PADDING_SAME, 1, 2, 1, 4, 10).keras().length(19).crop(1));
  }
  SECTION("op >= S allowed by the dilation") {
    // S = 1, D = 2, K = 3, op = 1, L = 4: K_eff = 5; L_out = 3 + 1 + 1 = 5;
    // P_b = floor((5 - 1 - 1)/2) = 1; L_full = 8, end crop 2.
    check_row(row("op>=S", CONVT_PADDING_SAME, 1, 1, 2, 3, 4).length(5).crop(1));
  }
  SECTION("K_eff < S: the output is extended past L_full by bias-only steps") {
    // S = 5, K = 1, op = 4, L = 2: L_out = 5 + 1 + 4 = 10; P_b = max(floor(-4/2), 0) = 0;
    // L_full = 6, end crop -4. Taps 0, 5.
    check_row(row("extend", CONVT_PADDING_SAME, 4, 5, 1, 1, 2)
                  .length(10)
                  .crop(0)
                  .bias_only_at(10, {1, 2, 3, 4, 6, 7, 8, 9}));
  }
  SECTION("the smallest legal length: L = 1, K = 2, S = 2, op = 1") {
    // K_eff = 2: L_out = 0 + 0 + 1 = 1; P_b = floor((2 - 0 - 1)/2) = 0.
    check_row(row("L_out=1", CONVT_PADDING_SAME, 1, 2, 1, 2, 1).keras().length(1).crop(0));
  }
}

// ==========================================================================================
// SAME_LOWER
// ==========================================================================================
TEST_CASE(
    "SAME_LOWER without output_padding has SAME's lengths and crops half of L_full - O "
    "rounded up at the beginning",
    "[padding][same_lower]") {
  SECTION("S = 2, K = 3: the odd crop moves to the beginning") {
    // L_full = 21; O in [19, 20]; P_b(20) = ceil(1/2) = 1, P_b(19) = ceil(2/2) = 1.
    check_row(row("k3", CONVT_PADDING_SAME_LOWER, kUnset, 2, 1, 3, 10)
                  .lengths(20, 19, 20)
                  .crops(1, 1, 1));
  }
  SECTION("S = 3, K = 4") {
    // L_full = 16; O in [13, 15]; P_b(15) = ceil(1/2) = 1, P_b(13) = ceil(3/2) = 2.
    check_row(row("k4 s3", CONVT_PADDING_SAME_LOWER, kUnset, 3, 1, 4, 5)
                  .lengths(15, 13, 15)
                  .crops(1, 2, 1));
  }
  SECTION("K_eff < S") {
    // S = 4, K = 2, L = 3: L_full = 10; O in [9, 12]; P_b(12) = 0, P_b(9) = ceil(1/2) = 1.
    // Taps {0,1, 4,5, 8,9}: at O = 12 steps 2,3,6,7,10,11 hold the bias; at O = 9 (shifted
    // by 1) positions 2,3,6,7 are steps 1,2,5,6.
    check_row(row("gaps", CONVT_PADDING_SAME_LOWER, kUnset, 4, 1, 2, 3)
                  .lengths(12, 9, 12)
                  .crops(0, 1, 0)
                  .bias_only_at(12, {2, 3, 6, 7, 10, 11})
                  .bias_only_at(9, {1, 2, 5, 6}));
  }
  SECTION("L = 1, K = 1") {
    check_row(row("L=1", CONVT_PADDING_SAME_LOWER, kUnset, 1, 1, 1, 1).lengths(1, 1, 1).crop(0));
  }
}

TEST_CASE(
    "SAME_LOWER with output_padding gives ONNX's L_full + op - T where T is the excess of "
    "L_full + op over L*S and crops half of T rounded up at the beginning",
    "[padding][same_lower]") {
  SECTION("ONNX auto_pad=SAME_LOWER without output_padding (op = 0)") {
    // S = 2, K = 3, L = 10: L_full = 21, T = 1, P_b = 1, L_out = 20.
    check_row(row("onnx op0", CONVT_PADDING_SAME_LOWER, 0, 2, 1, 3, 10).length(20).crop(1));
  }
  SECTION("ONNX auto_pad=SAME_LOWER with output_padding = 1") {
    // T = 22 - 20 = 2, P_b = 1, L_out = 20.
    check_row(row("onnx op1", CONVT_PADDING_SAME_LOWER, 1, 2, 1, 3, 10).length(20).crop(1));
  }
  SECTION("K_eff < S: T clamps at 0 and the output is L_full + op") {
    // S = 4, K = 2, L = 3, op = 1: L_full = 10, T = max(11 - 12, 0) = 0, P_b = 0, L_out = 11.
    // Taps {0,1, 4,5, 8,9}.
    check_row(row("gaps", CONVT_PADDING_SAME_LOWER, 1, 4, 1, 2, 3)
                  .length(11)
                  .crop(0)
                  .bias_only_at(11, {2, 3, 6, 7, 10}));
  }
  SECTION("op >= S allowed by the dilation") {
    // S = 1, D = 3, K = 2, op = 2, L = 4: K_eff = 4, L_full = 7; T = 9 - 4 = 5, P_b = 3,
    // L_out = 4.
    check_row(row("op>=S", CONVT_PADDING_SAME_LOWER, 2, 1, 3, 2, 4).length(4).crop(3));
  }
  SECTION("odd total crop with an even kernel") {
    // S = 2, K = 4, L = 3, op = 1: K_eff = 4, L_full = 8; T = 9 - 6 = 3, P_b = 2, L_out = 6.
    check_row(row("even k", CONVT_PADDING_SAME_LOWER, 1, 2, 1, 4, 3).length(6).crop(2));
  }
}

// ==========================================================================================
// EXPLICIT
// ==========================================================================================
TEST_CASE(
    "EXPLICIT without output_padding defaults to L_full - pad_begin - pad_end and accepts up "
    "to the larger of S and D minus 1 more steps cropping pad_begin",
    "[padding][explicit]") {
  SECTION("PyTorch ConvTranspose1d(k=16, s=8, padding=4), groups 2, output_size 80..87") {
    // L = 10: K_eff = 16, L_full = 72 + 16 = 88; default = 88 - 8 = 80; O in [80, 87];
    // P_b = 4. At O = 87 the crop at the end is 88 - 4 - 87 = -3: steps 84..86 hold the bias.
    check_row(row("torch k16 s8 p4", CONVT_PADDING_EXPLICIT, kUnset, 8, 1, 16, 10)
                  .pads(4, 4)
                  .shape(2, 4, 6, 2)
                  .lengths(80, 80, 87)
                  .crop(4)
                  .bias_only_at(87, {84, 85, 86}));
  }
  SECTION("dilation above the stride widens the accepted range") {
    // S = 1, D = 4, K = 3, pads (2, 1), L = 5: K_eff = 9, L_full = 13; default 10;
    // O in [10, 10 + 4 - 1] = [10, 13]; P_b = 2. At O = 13, L_full - P_b = 11: steps 11, 12.
    check_row(row("D4", CONVT_PADDING_EXPLICIT, kUnset, 1, 4, 3, 5)
                  .pads(2, 1)
                  .lengths(10, 10, 13)
                  .crop(2)
                  .bias_only_at(13, {11, 12}));
  }
  SECTION("the smallest legal length: pads leave one step") {
    // S = 2, K = 3, L = 2, pads (2, 2): L_full = 5; default 1; O in [1, 2]; P_b = 2.
    check_row(row("L_out=1", CONVT_PADDING_EXPLICIT, kUnset, 2, 1, 3, 2)
                  .pads(2, 2)
                  .lengths(1, 1, 2)
                  .crop(2));
  }
  SECTION("K = 1, no pads") {
    // S = 3, L = 4: L_full = 10; default 10; O in [10, 12]. Taps 0, 3, 6, 9.
    check_row(row("K=1", CONVT_PADDING_EXPLICIT, kUnset, 3, 1, 1, 4)
                  .lengths(10, 10, 12)
                  .crop(0)
                  .bias_only_at(12, {1, 2, 4, 5, 7, 8, 10, 11}));
  }
  SECTION("ONNX asymmetric pads [3, 0]") {
    // S = 2, K = 5, L = 4: K_eff = 5, L_full = 11; default 8; O in [8, 9]; P_b = 3.
    check_row(row("onnx pads", CONVT_PADDING_EXPLICIT, kUnset, 2, 1, 5, 4)
                  .pads(3, 0)
                  .lengths(8, 8, 9)
                  .crop(3));
  }
}

TEST_CASE("EXPLICIT with output_padding gives L_full - pad_begin - pad_end + op cropping pad_begin",
          "[padding][explicit]") {
  SECTION("PyTorch k=16, s=8, padding=4, output_padding=7 (the largest)") {
    // L = 10: L_out = 80 + 7 = 87; P_b = 4; steps 84..86 lie past L_full - P_b = 84.
    check_row(row("torch op7", CONVT_PADDING_EXPLICIT, 7, 8, 1, 16, 10)
                  .pads(4, 4)
                  .length(87)
                  .crop(4)
                  .bias_only_at(87, {84, 85, 86}));
  }
  SECTION("PyTorch k=16, s=8, padding=4, output_padding=0") {
    check_row(
        row("torch op0", CONVT_PADDING_EXPLICIT, 0, 8, 1, 16, 10).pads(4, 4).length(80).crop(4));
  }
  SECTION("ONNX pads [1, 2] with strides 3, dilation 2, output_padding 2") {
    // K = 3, L = 3: K_eff = 5, L_full = 6 + 5 = 11; L_out = 11 - 3 + 2 = 10; P_b = 1.
    check_row(row("onnx", CONVT_PADDING_EXPLICIT, 2, 3, 2, 3, 3).pads(1, 2).length(10).crop(1));
  }
  SECTION("pads that eat all of L_full, made up for by output_padding (PyTorch accepts it)") {
    // PyTorch ConvTranspose1d(k=2, stride=4, padding=1, output_padding=3) on L = 1:
    // K_eff = 2, L_full = 2; L_out = 2 - 1 - 1 + 3 = 3 >= 1; P_b = 1. Taps {0, 1}; steps j
    // read positions j + 1 = 1..3, so steps 1 and 2 hold only the bias.
    check_row(row("op makes up pads", CONVT_PADDING_EXPLICIT, 3, 4, 1, 2, 1)
                  .pads(1, 1)
                  .length(3)
                  .crop(1)
                  .bias_only_at(3, {1, 2}));
  }
  SECTION("pads longer than L_full, made up for by output_padding") {
    // ONNX pads [3, 10], strides 8, output_padding 7, K = 4, L = 2: K_eff = 4,
    // L_full = 8 + 4 = 12; L_out = 12 - 3 - 10 + 7 = 6 >= 1; P_b = 3. Taps {0..3, 8..11};
    // steps j read positions j + 3 = 3..8: steps 1..4 hold only the bias.
    check_row(row("op makes up pads > L_full", CONVT_PADDING_EXPLICIT, 7, 8, 1, 4, 2)
                  .pads(3, 10)
                  .length(6)
                  .crop(3)
                  .bias_only_at(6, {1, 2, 3, 4}));
  }
  SECTION("op >= S allowed by the dilation, with bias-only steps") {
    // S = 1, D = 3, K = 2, pads (1, 0), op = 2, L = 2: K_eff = 4, L_full = 5; L_out = 6;
    // P_b = 1. Taps {0, 1, 3, 4}; steps j read positions j + 1 = 1..6: 2, 5, 6 are empty.
    check_row(row("op>=S", CONVT_PADDING_EXPLICIT, 2, 1, 3, 2, 2)
                  .pads(1, 0)
                  .length(6)
                  .crop(1)
                  .bias_only_at(6, {1, 4, 5}));
  }
}

// ==========================================================================================
// Every output_padding in [0, max(S, D)), every mode
// ==========================================================================================
TEST_CASE(
    "every output_padding from 0 to the larger of S and D minus 1 gives the table's length and "
    "crop in every mode",
    "[padding][output_padding]") {
  struct Expect {
    int32_t padding;
    int64_t op, length, pb;
  };
  struct Geometry {
    const char* what;
    int64_t S, D, K, L, pad_begin, pad_end;
    std::vector<Expect> expect;
  };
  const std::vector<Geometry> geometries = {
      // S = 3, D = 2, K = 3, L = 4: K_eff = 5, L_full = 14, L*S = 12, K_eff%2 = 1.
      //   VALID       14 + op
      //   SAME        9 + 1 + op;            P_b = max(floor((5 - 1 - op)/2), 0) = 2, 1, 1
      //   SAME_LOWER  T = 14 + op - 12 = 2, 3, 4; P_b = 1, 2, 2; L_out = 12
      //   EXPLICIT    pads (1, 2): 11 + op; P_b = 1
      {"S=3 D=2 K=3 L=4",
       3,
       2,
       3,
       4,
       1,
       2,
       {{CONVT_PADDING_VALID, 0, 14, 0},
        {CONVT_PADDING_VALID, 1, 15, 0},
        {CONVT_PADDING_VALID, 2, 16, 0},
        {CONVT_PADDING_SAME, 0, 10, 2},
        {CONVT_PADDING_SAME, 1, 11, 1},
        {CONVT_PADDING_SAME, 2, 12, 1},
        {CONVT_PADDING_SAME_LOWER, 0, 12, 1},
        {CONVT_PADDING_SAME_LOWER, 1, 12, 2},
        {CONVT_PADDING_SAME_LOWER, 2, 12, 2},
        {CONVT_PADDING_EXPLICIT, 0, 11, 1},
        {CONVT_PADDING_EXPLICIT, 1, 12, 1},
        {CONVT_PADDING_EXPLICIT, 2, 13, 1}}},
      // S = 1, D = 3, K = 2, L = 3 (op up to D - 1 > S - 1): K_eff = 4, L_full = 6, L*S = 3.
      //   VALID       6 + op
      //   SAME        2 + 0 + op;            P_b = max(floor((4 - op)/2), 0) = 2, 1, 1
      //   SAME_LOWER  T = 6 + op - 3 = 3, 4, 5; P_b = 2, 2, 3; L_out = 3
      //   EXPLICIT    pads (0, 1): 5 + op; P_b = 0
      {"S=1 D=3 K=2 L=3",
       1,
       3,
       2,
       3,
       0,
       1,
       {{CONVT_PADDING_VALID, 0, 6, 0},
        {CONVT_PADDING_VALID, 1, 7, 0},
        {CONVT_PADDING_VALID, 2, 8, 0},
        {CONVT_PADDING_SAME, 0, 2, 2},
        {CONVT_PADDING_SAME, 1, 3, 1},
        {CONVT_PADDING_SAME, 2, 4, 1},
        {CONVT_PADDING_SAME_LOWER, 0, 3, 2},
        {CONVT_PADDING_SAME_LOWER, 1, 3, 2},
        {CONVT_PADDING_SAME_LOWER, 2, 3, 3},
        {CONVT_PADDING_EXPLICIT, 0, 5, 0},
        {CONVT_PADDING_EXPLICIT, 1, 6, 0},
        {CONVT_PADDING_EXPLICIT, 2, 7, 0}}},
      // S = 8, D = 1, K = 16, L = 2 (PyTorch's k=16, s=8): K_eff = 16, L_full = 24, L*S = 16.
      //   VALID       24 + op
      //   SAME        8 + 0 + op;            P_b = floor((16 - op)/2) = 8,7,7,6,6,5,5,4
      //   SAME_LOWER  T = 8 + op;            P_b = ceil((8 + op)/2) = 4,5,5,6,6,7,7,8; L_out 16
      //   EXPLICIT    pads (4, 4): 16 + op; P_b = 4
      {"S=8 D=1 K=16 L=2",
       8,
       1,
       16,
       2,
       4,
       4,
       {{CONVT_PADDING_VALID, 0, 24, 0},      {CONVT_PADDING_VALID, 1, 25, 0},
        {CONVT_PADDING_VALID, 2, 26, 0},      {CONVT_PADDING_VALID, 3, 27, 0},
        {CONVT_PADDING_VALID, 4, 28, 0},      {CONVT_PADDING_VALID, 5, 29, 0},
        {CONVT_PADDING_VALID, 6, 30, 0},      {CONVT_PADDING_VALID, 7, 31, 0},
        {CONVT_PADDING_SAME, 0, 8, 8},        {CONVT_PADDING_SAME, 1, 9, 7},
        {CONVT_PADDING_SAME, 2, 10, 7},       {CONVT_PADDING_SAME, 3, 11, 6},
        {CONVT_PADDING_SAME, 4, 12, 6},       {CONVT_PADDING_SAME, 5, 13, 5},
        {CONVT_PADDING_SAME, 6, 14, 5},       {CONVT_PADDING_SAME, 7, 15, 4},
        {CONVT_PADDING_SAME_LOWER, 0, 16, 4}, {CONVT_PADDING_SAME_LOWER, 1, 16, 5},
        {CONVT_PADDING_SAME_LOWER, 2, 16, 5}, {CONVT_PADDING_SAME_LOWER, 3, 16, 6},
        {CONVT_PADDING_SAME_LOWER, 4, 16, 6}, {CONVT_PADDING_SAME_LOWER, 5, 16, 7},
        {CONVT_PADDING_SAME_LOWER, 6, 16, 7}, {CONVT_PADDING_SAME_LOWER, 7, 16, 8},
        {CONVT_PADDING_EXPLICIT, 0, 16, 4},   {CONVT_PADDING_EXPLICIT, 1, 17, 4},
        {CONVT_PADDING_EXPLICIT, 2, 18, 4},   {CONVT_PADDING_EXPLICIT, 3, 19, 4},
        {CONVT_PADDING_EXPLICIT, 4, 20, 4},   {CONVT_PADDING_EXPLICIT, 5, 21, 4},
        {CONVT_PADDING_EXPLICIT, 6, 22, 4},   {CONVT_PADDING_EXPLICIT, 7, 23, 4}}},
  };
  for (const Geometry& g : geometries) {
    int64_t cases = 0;
    for (const Expect& e : g.expect) {
      Row r = row(g.what, e.padding, e.op, g.S, g.D, g.K, g.L).length(e.length).crop(e.pb);
      if (e.padding == CONVT_PADDING_EXPLICIT) r.pads(g.pad_begin, g.pad_end);
      check_row(r);
      ++cases;
    }
    // The table lists every op in [0, max(S, D)) for each of the four modes.
    CHECK(cases == 4 * std::max(g.S, g.D));
  }
}

// ==========================================================================================
// Rejected combinations
// ==========================================================================================
TEST_CASE(
    "output_padding at or above the larger of S and D is accepted by the setter but is "
    "CONVT_E_INVALID_ARGUMENT from output_shape and forward which touch nothing",
    "[padding][output_padding][errors]") {
  struct Bad {
    int64_t S, D;
  };
  for (const Bad b : {Bad{1, 1}, Bad{3, 2}, Bad{1, 3}, Bad{8, 1}}) {
    const int64_t m = std::max(b.S, b.D);
    for (int32_t padding : {CONVT_PADDING_VALID, CONVT_PADDING_SAME, CONVT_PADDING_SAME_LOWER,
                            CONVT_PADDING_EXPLICIT}) {
      for (int64_t op : {m, m + 5}) {
        Row r = row("bad op", padding, op, b.S, b.D, 3, 4);
        INFO(describe(r));
        REQUIRE(convt_test::lengths(r.hyper, r.steps).verdict == Verdict::kInvalidArgument);
        LayerPtr layer = make_layer(r, CONVT_DTYPE_FLOAT64);  // the setter takes any op >= 0
        const Data d = integer_data(r, 99);
        install_weights<double>(layer.get(), r, d);

        int64_t shape[3] = {-7, -7, -7};
        std::string primed = prime_last_error();
        CHECK(convt_layer_output_shape(layer.get(), r.batch, r.steps, shape) ==
              CONVT_E_INVALID_ARGUMENT);
        std::string msg = convt_last_error();
        INFO("output_shape message: \"" << msg << "\"");
        CHECK(shape[0] == -7);
        CHECK(shape[1] == -7);
        CHECK(shape[2] == -7);
        CHECK(!msg.empty());
        CHECK(msg != primed);
        CHECK((convt_test::mentions_number(msg, op) || convt_test::mentions_number(msg, m)));

        // out_steps as VALID would give with this op: only the op is wrong.
        const int64_t O = convt_test::full_length(r.hyper, r.steps) + op;
        const std::vector<double> in =
            convt_test::to_format(d.x, r.format, r.batch, r.in_channels, r.steps);
        std::vector<double> out(to_size(r.batch * r.filters * O + 3),
                                convt_test::untouched<double>());
        primed = prime_last_error();
        CHECK(forward(layer.get(), in, r.batch, r.steps, out, O) == CONVT_E_INVALID_ARGUMENT);
        msg = convt_last_error();
        INFO("forward message: \"" << msg << "\"");
        CHECK(convt_test::all_untouched(out));
        CHECK(!msg.empty());
        CHECK(msg != primed);
      }
    }
  }
}

TEST_CASE(
    "pads or lengths that leave L_out below 1 are CONVT_E_SHAPE from output_shape and "
    "forward which touch nothing",
    "[padding][errors]") {
  // Each case: no out_steps at all is accepted.
  const std::vector<Row> rows = {
      // SAME, op = 0, L = 1, K = 2 (K_eff even): L_out = 0 + 0 + 0 = 0.
      row("SAME op=0 L=1 even K_eff", CONVT_PADDING_SAME, 0, 1, 1, 2, 1),
      // SAME, op = 0, L = 1, K = 4, S = 3: L_out = 0 + 0 + 0 = 0 (op = 1 would give 1).
      row("SAME op=0 L=1 K=4 S=3", CONVT_PADDING_SAME, 0, 3, 1, 4, 1),
      // EXPLICIT, op = 0, pads (1, 1), K = 2, L = 1: L_full = 2, L_out = 0.
      row("EXPLICIT op=0 pads eat all", CONVT_PADDING_EXPLICIT, 0, 1, 1, 2, 1).pads(1, 1),
      // EXPLICIT unset, same: default 0, accepted up to 0 + max(1, 1) - 1 = 0.
      row("EXPLICIT unset pads eat all", CONVT_PADDING_EXPLICIT, kUnset, 1, 1, 2, 1).pads(1, 1),
      // EXPLICIT unset, S = 2, K = 3, L = 2, pads (3, 4): L_full = 5, default -2, up to -1.
      row("EXPLICIT unset pads exceed", CONVT_PADDING_EXPLICIT, kUnset, 2, 1, 3, 2).pads(3, 4),
  };
  for (const Row& r : rows) {
    INFO(describe(r));
    const Lengths lens = convt_test::lengths(r.hyper, r.steps);
    REQUIRE(lens.verdict == Verdict::kShape);
    REQUIRE(lens.max_len < 1);
    for (int32_t dtype : {CONVT_DTYPE_FLOAT64, CONVT_DTYPE_FLOAT32}) {
      INFO("dtype " << dtype);
      LayerPtr layer = make_layer(r, dtype);
      const Data d = integer_data(r, 5);
      if (dtype == CONVT_DTYPE_FLOAT64)
        install_weights<double>(layer.get(), r, d);
      else
        install_weights<float>(layer.get(), r, d);

      int64_t shape[3] = {-7, -7, -7};
      std::string primed = prime_last_error();
      CHECK(convt_layer_output_shape(layer.get(), r.batch, r.steps, shape) == CONVT_E_SHAPE);
      std::string msg = convt_last_error();
      INFO("output_shape message: \"" << msg << "\"");
      CHECK(shape[0] == -7);
      CHECK(shape[1] == -7);
      CHECK(shape[2] == -7);
      CHECK(!msg.empty());
      CHECK(msg != primed);

      for (int64_t O : {int64_t{1}, int64_t{2}}) {
        INFO("forward out_steps " << O);
        primed = prime_last_error();
        convt_status st;
        bool untouched;
        if (dtype == CONVT_DTYPE_FLOAT64) {
          const std::vector<double> in =
              convt_test::to_format(d.x, r.format, r.batch, r.in_channels, r.steps);
          std::vector<double> out(to_size(r.batch * r.filters * O + 3),
                                  convt_test::untouched<double>());
          st = forward(layer.get(), in, r.batch, r.steps, out, O);
          untouched = convt_test::all_untouched(out);
        } else {
          const std::vector<float> in = convt_test::convert<float>(
              convt_test::to_format(d.x, r.format, r.batch, r.in_channels, r.steps));
          std::vector<float> out(to_size(r.batch * r.filters * O + 3),
                                 convt_test::untouched<float>());
          st = forward(layer.get(), in, r.batch, r.steps, out, O);
          untouched = convt_test::all_untouched(out);
        }
        msg = convt_last_error();
        INFO("forward: " << convt_status_string(st) << " \"" << msg << "\"");
        CHECK(st == CONVT_E_SHAPE);
        CHECK(untouched);
        CHECK(!msg.empty());
        CHECK(msg != primed);
      }
    }
  }
}
