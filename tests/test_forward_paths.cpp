// The fast forward paths: every thread count gives bitwise the same output, and the direct
// kernel and the GEMM path both match the float64 reference on any shape (the rule in
// direct.hpp only chooses between two correct implementations).
#include <catch2/catch.hpp>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "api_helpers.hpp"
#include "convt/convt.h"
#include "direct.hpp"
#include "forward.hpp"
#include "fused.hpp"
#include "layer.hpp"
#include "reference.hpp"
#include "simd.hpp"
#include "tapsum.hpp"

namespace {

struct Case {
  int64_t N, C, F, G, K, S, D, L;
  int32_t padding;
  int64_t pad_begin, pad_end;
  int32_t activation;
  int64_t output_padding = CONVT_OUTPUT_PADDING_UNSET;
};

// Shapes that give several filter blocks, several tiles and segments, look-back across tile
// boundaries, bias-only gaps (K_eff < S), groups, and the direct kernel's two loop orders.
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {2, 64, 160, 1, 16, 8, 1, 700, CONVT_PADDING_EXPLICIT, 4, 4, CONVT_ACTIVATION_RELU},
      {1, 96, 200, 1, 25, 4, 1, 90, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_TANH},
      {3, 40, 48, 4, 5, 3, 2, 400, CONVT_PADDING_VALID, 0, 0, CONVT_ACTIVATION_SOFTMAX},
      {1, 32, 32, 1, 2, 5, 1, 3000, CONVT_PADDING_SAME_LOWER, 0, 0, CONVT_ACTIVATION_LINEAR},
      {2, 12, 12, 12, 4, 2, 1, 900, CONVT_PADDING_EXPLICIT, 1, 1, CONVT_ACTIVATION_ELU},
      {1, 1, 1, 1, 8, 4, 1, 5000, CONVT_PADDING_VALID, 0, 0, CONVT_ACTIVATION_LINEAR},
      {2, 48, 1, 1, 8, 4, 1, 800, CONVT_PADDING_EXPLICIT, 2, 3, CONVT_ACTIVATION_SIGMOID},
      {2, 8, 8, 1, 3, 2, 3, 500, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_LOG_SOFTMAX},
      {5, 64, 256, 1, 9, 4, 1, 6, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_RELU},
      {1, 4, 2, 1, 3, 70000, 1, 2, CONVT_PADDING_VALID, 0, 0, CONVT_ACTIVATION_SIGMOID},
      // The fused kernel's edges: depth in two slices, a last chunk of 8 filters, one tile
      // across three items; two groups with a 16-filter chunk; several blocks and tiles.
      {3, 600, 40, 1, 7, 3, 2, 150, CONVT_PADDING_EXPLICIT, 5, 2, CONVT_ACTIVATION_RELU},
      {2, 520, 96, 2, 3, 1, 1, 300, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_LINEAR},
      {1, 100, 200, 1, 4, 2, 1, 2100, CONVT_PADDING_EXPLICIT, 1, 1, CONVT_ACTIVATION_GELU},
      // 20 taps per phase (more segments than one pass holds); output padding with dilation
      // past the stride (each item's tail outputs, bias only); phases no tap reaches (D = S);
      // taps reaching further back than a fused tile holds (OpenBLAS instead).
      {2, 16, 24, 1, 40, 2, 1, 50, CONVT_PADDING_VALID, 0, 0, CONVT_ACTIVATION_LINEAR},
      {3, 20, 32, 1, 3, 2, 4, 37, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_LINEAR, 3},
      {2, 24, 48, 1, 5, 3, 3, 61, CONVT_PADDING_EXPLICIT, 2, 0, CONVT_ACTIVATION_RELU, 2},
      {2, 24, 40, 1, 5, 3, 2, 45, CONVT_PADDING_EXPLICIT, 1, 0, CONVT_ACTIVATION_LINEAR, 2},
      {1, 1024, 16, 1, 150, 1, 1, 30, CONVT_PADDING_VALID, 0, 0, CONVT_ACTIVATION_LINEAR},
      // The tap-sum kernel's: two groups of 3 filters with dilation; 12 filters, 9 taps (two
      // passes of taps), stride 8, several output blocks.
      {2, 40, 6, 2, 5, 2, 2, 333, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_TANH},
      {1, 24, 12, 1, 9, 8, 1, 4000, CONVT_PADDING_EXPLICIT, 3, 5, CONVT_ACTIVATION_LINEAR},
      // channels_last's edges: an odd channel count per group (its last channel alone), with
      // 12 taps (a pass of 4) and a block's last rows in 8, 4, 2, 1; fewer than 16 steps (no
      // group of 16 rows); 2 filters of 16 taps over 2200 outputs (units split mid-item).
      {3, 26, 2, 2, 12, 4, 1, 37, CONVT_PADDING_EXPLICIT, 2, 1, CONVT_ACTIVATION_LINEAR},
      {2, 11, 1, 1, 3, 16, 1, 9, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_RELU},
      {1, 9, 2, 1, 16, 2, 1, 1100, CONVT_PADDING_VALID, 0, 0, CONVT_ACTIVATION_LINEAR},
      // Chains of register blocks that read channels_last rows in place, 4 blocks of 12 per
      // item, whose last anchor's second phase is cropped (the chain stops a block short).
      {3, 16, 32, 1, 3, 2, 1, 48, CONVT_PADDING_EXPLICIT, 0, 2, CONVT_ACTIVATION_LINEAR},
      // 48 items of one block each in one tile: more blocks apart than a list holds.
      {48, 16, 32, 1, 3, 2, 1, 12, CONVT_PADDING_SAME, 0, 0, CONVT_ACTIVATION_LINEAR},
  };
  return c;
}

std::string describe(const Case& c, int32_t format) {
  return "N=" + std::to_string(c.N) + " C=" + std::to_string(c.C) + " F=" + std::to_string(c.F) +
         " G=" + std::to_string(c.G) + " K=" + std::to_string(c.K) + " S=" + std::to_string(c.S) +
         " D=" + std::to_string(c.D) + " L=" + std::to_string(c.L) +
         " output_padding=" + std::to_string(c.output_padding) +
         (format == CONVT_CHANNELS_FIRST ? " NCW" : " NWC");
}

template <typename T>
std::vector<T> random_values(std::mt19937_64& rng, int64_t n, double scale) {
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(u(rng));
  return v;
}

using Params = std::vector<std::pair<convt_param, int64_t>>;

// A case's geometry and the data format, as parameters (the activation is the caller's: the
// float64 reference has none).
Params case_params(const Case& c, int32_t format) {
  return {{CONVT_PARAM_STRIDES, c.S},
          {CONVT_PARAM_DILATION_RATE, c.D},
          {CONVT_PARAM_GROUPS, c.G},
          {CONVT_PARAM_PADDING, c.padding},
          {CONVT_PARAM_PAD_BEGIN, c.pad_begin},
          {CONVT_PARAM_PAD_END, c.pad_end},
          {CONVT_PARAM_OUTPUT_PADDING, c.output_padding},
          {CONVT_PARAM_DATA_FORMAT, format}};
}

void configure(convt_layer* layer, const Case& c, int32_t format, int32_t dtype) {
  Params params = case_params(c, format);
  params.insert(params.end(), {{CONVT_PARAM_ACTIVATION, c.activation}, {CONVT_PARAM_DTYPE, dtype}});
  for (const auto& [param, value] : params) {
    INFO("parameter " << param);
    REQUIRE(convt_layer_set_int(layer, param, value) == CONVT_OK);
  }
}

template <typename T>
void check_thread_counts(const Case& c, int32_t format) {
  INFO(describe(c, format));
  std::mt19937_64 rng(42);
  convt_layer* layer = nullptr;
  REQUIRE(convt_layer_create(c.F, c.K, &layer) == CONVT_OK);
  configure(layer, c, format,
            sizeof(T) == sizeof(float) ? CONVT_DTYPE_FLOAT32 : CONVT_DTYPE_FLOAT64);
  const auto w = random_values<T>(rng, c.K * c.F * c.C / c.G, 0.5);
  const auto b = random_values<T>(rng, c.F, 0.5);
  REQUIRE(convt_test::set_weights(layer, c.C, CONVT_LAYOUT_WOI, w, b) == CONVT_OK);
  int64_t shape[3];
  REQUIRE(convt_layer_output_shape(layer, c.N, c.L, shape) == CONVT_OK);
  const int64_t out_steps = format == CONVT_CHANNELS_LAST ? shape[1] : shape[2];
  const auto x = random_values<T>(rng, c.N * c.L * c.C, 1.0);
  std::vector<T> first(static_cast<size_t>(c.N * c.F * out_steps));
  REQUIRE(convt_layer_set_int(layer, CONVT_PARAM_NUM_THREADS, 1) == CONVT_OK);
  REQUIRE(convt_test::forward(layer, x, c.N, c.L, first, out_steps) == CONVT_OK);
  for (int64_t threads : {2, 3, 0}) {
    INFO("num_threads " << threads);
    std::vector<T> y(first.size());
    REQUIRE(convt_layer_set_int(layer, CONVT_PARAM_NUM_THREADS, threads) == CONVT_OK);
    REQUIRE(convt_test::forward(layer, x, c.N, c.L, y, out_steps) == CONVT_OK);
    CHECK(std::memcmp(y.data(), first.data(), y.size() * sizeof(T)) == 0);
  }
  convt_layer_destroy(layer);
}

// Runs `path` (GEMM or direct) on the layer's view and checks it against the reference.
template <typename T, typename Path>
void check_path_against_reference(const Case& c, int32_t format, Path path) {
  using convt::detail::Layer;
  INFO(describe(c, format));
  std::mt19937_64 rng(7);
  Layer layer(c.F, c.K);
  for (const auto& [param, value] : case_params(c, format)) layer.set_int(param, value);
  layer.set_int(CONVT_PARAM_NUM_THREADS, 2);
  layer.set_int(CONVT_PARAM_DTYPE,
                sizeof(T) == sizeof(float) ? CONVT_DTYPE_FLOAT32 : CONVT_DTYPE_FLOAT64);
  const auto w_iow = random_values<T>(rng, c.K * c.F * c.C / c.G, 0.5);
  const auto bias = random_values<T>(rng, c.F, 0.5);
  layer.set_weights(c.C, CONVT_LAYOUT_IOW, w_iow.data(), static_cast<int64_t>(w_iow.size()),
                    bias.data(), c.F);
  const auto shape = layer.output_shape(c.N, c.L);
  const int64_t out_steps = format == CONVT_CHANNELS_LAST ? shape[1] : shape[2];
  const auto r = layer.prepare_call<T>(c.N, c.L, out_steps);
  const auto x = random_values<T>(rng, c.N * c.L * c.C, 1.0);
  std::vector<T> y(static_cast<size_t>(c.N * c.F * out_steps));
  path(r.view, r.plan, c.N, c.L, x.data(), y.data());

  convt_test::Problem p;
  p.batch = c.N, p.in_channels = c.C, p.filters = c.F, p.groups = c.G, p.kernel_size = c.K;
  p.strides = c.S, p.dilation = c.D, p.steps = c.L, p.crop_begin = r.plan.crop_begin;
  p.out_steps = out_steps;
  const auto x64 = convt_test::convert<double>(x);
  const auto ref = convt_test::reference_forward(
      p, format == CONVT_CHANNELS_LAST ? convt_test::ncw_from_nwc(x64, c.N, c.C, c.L) : x64,
      convt_test::convert<double>(w_iow), convt_test::convert<double>(bias));
  auto got = convt_test::convert<double>(y);
  if (format == CONVT_CHANNELS_LAST) got = convt_test::ncw_from_nwc(got, c.N, c.F, out_steps);
  const double u = sizeof(T) == sizeof(float) ? convt_test::unit_roundoff_f32()
                                              : convt_test::unit_roundoff_f64();
  const auto cmp = convt_test::compare(got, ref, c.C / c.G * c.K, u, 1.0);
  CHECK(cmp.failures == 0);
}

}  // namespace

TEST_CASE("forward is bitwise identical for every NUM_THREADS on the GEMM and direct paths",
          "[forward][threads]") {
  for (const Case& c : cases()) {
    for (int32_t format : {CONVT_CHANNELS_LAST, CONVT_CHANNELS_FIRST}) {
      check_thread_counts<float>(c, format);
      check_thread_counts<double>(c, format);
    }
  }
}

TEST_CASE(
    "the GEMM path with and without the fused kernel and the direct kernel all match the float64 "
    "reference on any shape",
    "[forward][direct]") {
  for (Case c : cases()) {
    c.activation = CONVT_ACTIVATION_LINEAR;  // the paths themselves; activations are tested apart
    for (int32_t format : {CONVT_CHANNELS_LAST, CONVT_CHANNELS_FIRST}) {
      check_path_against_reference<float>(
          c, format, [](auto&&... a) { convt::detail::run_forward_gemm(a...); });
      // The portable kernels, as on CPUs without AVX-512 (with them, the lines above and
      // below run the fused, signal and tap-sum kernels where their rules apply).
      check_path_against_reference<float>(c, format, [](auto v, auto&&... a) {
        v.portable_only = true;
        convt::detail::run_forward(v, a...);
      });
      check_path_against_reference<double>(
          c, format, [](auto&&... a) { convt::detail::run_forward_gemm(a...); });
      check_path_against_reference<float>(
          c, format, [](auto&&... a) { convt::detail::run_direct(a..., int64_t{2}); });
      check_path_against_reference<double>(
          c, format, [](auto&&... a) { convt::detail::run_direct(a..., int64_t{2}); });
      check_path_against_reference<float>(
          c, format, [](const auto& v, const auto& plan, int64_t n, int64_t l, auto&&... a) {
            if (convt::detail::tapsum_applies(v, plan, l)) {
              convt::detail::run_tapsum(v, plan, n, l, a..., int64_t{2});
            } else {
              convt::detail::run_forward_gemm(v, plan, n, l, a...);
            }
          });
    }
  }
}

TEST_CASE(
    "the direct kernel is chosen exactly when channels per group are at most 8 and their product "
    "with filters per group at most 64",
    "[forward][direct]") {
  const auto direct = [](int64_t C, int64_t F, int64_t G) {
    convt::detail::KernelDims d;
    d.in_channels = C, d.filters = F, d.groups = G;
    return convt::detail::use_direct_path(d);
  };
  CHECK(direct(512, 512, 512));  // depthwise
  CHECK(direct(1, 1, 1));        // one channel
  CHECK(direct(8, 8, 1));
  CHECK(direct(2, 32, 1));
  CHECK_FALSE(direct(48, 1, 1));  // a deep GEMM stays efficient with one column per tap
  CHECK_FALSE(direct(9, 1, 1));
  CHECK_FALSE(direct(4, 17, 1));
  CHECK_FALSE(direct(16, 32, 1));
}

namespace {

// A layer of F filters and K taps with these int parameters and weights for C input channels.
std::unique_ptr<convt::detail::Layer> layer_with(int64_t F, int64_t K, const Params& params,
                                                 int64_t C) {
  auto layer = std::make_unique<convt::detail::Layer>(F, K);
  for (const auto& [param, value] : params) layer->set_int(param, value);
  layer->init_weights(C, 1);
  return layer;
}

}  // namespace

TEST_CASE(
    "the fused kernel is chosen exactly for float32 GEMM-path layers with at least 16 filters "
    "per group on CPUs with AVX-512F",
    "[forward][fused]") {
  const auto panels = [](int64_t C, int64_t F, int64_t G, int32_t dtype) {
    const auto layer = layer_with(F, 3, {{CONVT_PARAM_GROUPS, G}, {CONVT_PARAM_DTYPE, dtype}}, C);
    return dtype == CONVT_DTYPE_FLOAT32 ? layer->view<float>().panels != nullptr
                                        : layer->view<double>().panels != nullptr;
  };
  const bool avx512 = convt::detail::cpu_has_avx512f();
  INFO("AVX-512F: " << avx512);
  CHECK(panels(64, 32, 1, CONVT_DTYPE_FLOAT32) == avx512);
  CHECK(panels(48, 16, 1, CONVT_DTYPE_FLOAT32) == avx512);
  CHECK(panels(64, 64, 2, CONVT_DTYPE_FLOAT32) == avx512);  // 32 filters per group
  CHECK_FALSE(panels(64, 15, 1, CONVT_DTYPE_FLOAT32));      // narrow: OpenBLAS
  CHECK_FALSE(panels(64, 32, 4, CONVT_DTYPE_FLOAT32));      // 8 filters per group
  CHECK_FALSE(panels(2, 32, 1, CONVT_DTYPE_FLOAT32));       // the direct kernel's
  CHECK_FALSE(panels(64, 32, 1, CONVT_DTYPE_FLOAT64));
}

TEST_CASE(
    "float32 forward matches the float64 reference on 400 random shapes of the fused and tap-sum "
    "kernels in both formats",
    "[forward][fused][tapsum]") {
  // Shapes past the direct kernel's rule (more than 8 channels per group), with 1-40 filters
  // per group: the fused kernel from 16, the tap-sum kernel below; every padding mode,
  // strides 1-8 (the tap-sum kernel only for those dividing 16), dilation 1-4, several items.
  std::mt19937_64 rng(20261121);
  const auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int i = 0; i < 400; ++i) {
    Case c{};
    c.G = pick(1, 2);
    c.C = c.G * pick(9, 40);
    c.F = c.G * (i % 3 == 0 ? pick(1, 15) : pick(16, 40));
    c.K = pick(1, 16);
    c.S = pick(1, 8);
    c.D = pick(1, 4);
    c.N = pick(1, 3);
    c.L = pick(1, 60);
    c.padding = static_cast<int32_t>(i % 4);
    const int64_t full = (c.L - 1) * c.S + (c.K - 1) * c.D + 1;
    c.pad_begin = c.padding == CONVT_PADDING_EXPLICIT ? pick(0, (full - 1) / 2) : 0;
    c.pad_end = c.padding == CONVT_PADDING_EXPLICIT ? pick(0, (full - 1) / 2) : 0;
    c.activation = CONVT_ACTIVATION_LINEAR;
    for (int32_t format : {CONVT_CHANNELS_LAST, CONVT_CHANNELS_FIRST}) {
      check_path_against_reference<float>(c, format,
                                          [](auto&&... a) { convt::detail::run_forward(a...); });
    }
  }
}

TEST_CASE("forward's workspace stays within 2 MiB per thread whatever the input length",
          "[forward][workspace]") {
  struct Shape {
    int64_t N, C, F, K, S, L;
  };
  // The suite's real layers (HiFi-GAN, MelGAN, EnCodec, WaveGAN, a deep 1024-channel one, a
  // 48 -> 1 one), each also 100 times longer.
  const Shape shapes[] = {
      {1, 512, 256, 16, 8, 86},  {1, 256, 128, 16, 8, 688},  {1, 128, 64, 4, 2, 5504},
      {1, 64, 32, 4, 2, 11008},  {16, 512, 256, 16, 8, 32},  {1, 256, 128, 10, 5, 600},
      {8, 1024, 512, 25, 4, 16}, {1, 1024, 1024, 2, 2, 256}, {1, 48, 1, 8, 4, 15999}};
  constexpr int64_t kBound = int64_t{2} * 1024 * 1024;
  for (const Shape& s : shapes) {
    for (int32_t format : {CONVT_CHANNELS_LAST, CONVT_CHANNELS_FIRST}) {
      for (int32_t dtype : {CONVT_DTYPE_FLOAT32, CONVT_DTYPE_FLOAT64}) {
        for (int64_t threads : {1, 2}) {
          for (int64_t scale : {1, 100}) {
            const int64_t L = s.L * scale;
            INFO("N=" << s.N << " C=" << s.C << " F=" << s.F << " K=" << s.K << " S=" << s.S
                      << " L=" << L << " format " << format << " dtype " << dtype << " threads "
                      << threads);
            convt_layer* layer = nullptr;
            REQUIRE(convt_layer_create(s.F, s.K, &layer) == CONVT_OK);
            REQUIRE(convt_layer_set_int(layer, CONVT_PARAM_STRIDES, s.S) == CONVT_OK);
            REQUIRE(convt_layer_set_int(layer, CONVT_PARAM_DATA_FORMAT, format) == CONVT_OK);
            REQUIRE(convt_layer_set_int(layer, CONVT_PARAM_DTYPE, dtype) == CONVT_OK);
            REQUIRE(convt_layer_set_int(layer, CONVT_PARAM_NUM_THREADS, threads) == CONVT_OK);
            REQUIRE(convt_layer_init_weights(layer, s.C, 3) == CONVT_OK);
            int64_t shape[3];
            REQUIRE(convt_layer_output_shape(layer, s.N, L, shape) == CONVT_OK);
            const int64_t out_steps = format == CONVT_CHANNELS_LAST ? shape[1] : shape[2];
            int64_t bytes = -1;
            REQUIRE(convt_layer_workspace_size(layer, s.N, L, out_steps, &bytes) == CONVT_OK);
            CHECK(bytes > 0);
            CHECK(bytes <= threads * kBound);
            convt_layer_destroy(layer);
          }
        }
      }
    }
  }
}

TEST_CASE(
    "the tap-sum kernel is chosen for float32 GEMM-path layers with fewer than 16 filters per "
    "group and a stride dividing 16, on CPUs with AVX-512F",
    "[forward][tapsum]") {
  const auto applies = [](int64_t C, int64_t F, int64_t S, int32_t format) {
    const auto layer =
        layer_with(F, 8, {{CONVT_PARAM_STRIDES, S}, {CONVT_PARAM_DATA_FORMAT, format}}, C);
    const auto shape = layer->output_shape(1, 100);
    const auto r =
        layer->prepare_call<float>(1, 100, format == CONVT_CHANNELS_FIRST ? shape[2] : shape[1]);
    return convt::detail::tapsum_applies(r.view, r.plan, 100);
  };
  const bool avx512 = convt::detail::cpu_has_avx512f();
  CHECK(applies(48, 1, 4, CONVT_CHANNELS_FIRST) == avx512);  // Demucs' last layer
  CHECK(applies(48, 15, 8, CONVT_CHANNELS_FIRST) == avx512);
  CHECK_FALSE(applies(48, 16, 4, CONVT_CHANNELS_FIRST));  // the fused kernel's
  CHECK_FALSE(applies(48, 1, 3, CONVT_CHANNELS_FIRST));   // 3 does not divide 16
  CHECK(applies(48, 1, 4, CONVT_CHANNELS_LAST) == avx512);
  CHECK_FALSE(applies(4, 1, 4, CONVT_CHANNELS_FIRST));  // the direct kernel's
}

TEST_CASE("the portable kernels alone are bitwise identical for every NUM_THREADS",
          "[forward][threads]") {
  for (const Case& c : cases()) {
    for (int32_t format : {CONVT_CHANNELS_LAST, CONVT_CHANNELS_FIRST}) {
      INFO(describe(c, format));
      std::mt19937_64 rng(11);
      Params params = case_params(c, format);
      params.emplace_back(CONVT_PARAM_ACTIVATION, c.activation);
      const auto layer = layer_with(c.F, c.K, params, c.C);
      const auto shape = layer->output_shape(c.N, c.L);
      const int64_t out_steps = format == CONVT_CHANNELS_LAST ? shape[1] : shape[2];
      const auto x = random_values<float>(rng, c.N * c.L * c.C, 1.0);
      auto r = layer->prepare_call<float>(c.N, c.L, out_steps);
      r.view.portable_only = true;
      std::vector<float> first;
      for (int64_t threads : {1, 2, 3}) {
        INFO("num_threads " << threads);
        r.view.num_threads = threads;
        std::vector<float> y(static_cast<size_t>(c.N * c.F * out_steps));
        convt::detail::run_forward(r.view, r.plan, c.N, c.L, x.data(), y.data());
        if (first.empty()) {
          first = y;
        } else {
          CHECK(std::memcmp(y.data(), first.data(), y.size() * sizeof(float)) == 0);
        }
      }
    }
  }
}
