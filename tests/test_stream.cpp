// Streaming through the C API: the concatenated outputs of every push and the flush against
// convt_layer_forward over the whole signal and against the float64 oracle of reference.hpp,
// the number of steps out after every push against the contract's latency formula, and the
// stream's life cycle (reset, flush and reuse, several streams on one layer).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "convt/convt.h"
#include "reference.hpp"
#include "test_stream_helpers.hpp"

namespace {

using convt_test::Hyper;
using convt_test::Random;
using convt_test::StreamCase;
using convt_test::StreamData;
using convt_test::to_size;

constexpr int32_t kActivations = 28;  // CONVT_ACTIVATION_LINEAR .. CONVT_ACTIVATION_SPARSEMAX

bool along_axis(int32_t activation) {
  return activation == CONVT_ACTIVATION_SOFTMAX || activation == CONVT_ACTIVATION_LOG_SOFTMAX ||
         activation == CONVT_ACTIVATION_SPARSEMAX;
}

// Configuration `index`: the padding mode and whether output_padding is set cycle with the
// index (every 8 configurations see all 8); the rest is random, drawn again until the whole
// signal has an output. Up to 12 channels per group, so GEMMs deep enough to round differently
// by row count occur; EXPLICIT pads up to 2*K_eff + 2*S, so the crop at the end often exceeds
// K_eff and short prefixes of the signal have no output.
StreamCase random_case(int index, Random& rng) {
  StreamCase c;
  const int32_t padding = static_cast<int32_t>(index % 4);
  const bool op_set = (index / 4) % 2 == 1;
  for (;;) {
    Hyper& h = c.hyper;
    h = Hyper{};
    h.padding = padding;
    h.strides = rng.uniform_int(1, 6);
    h.dilation = rng.chance(0.5) ? 1 : rng.uniform_int(2, 4);
    h.kernel_size = rng.uniform_int(1, 9);
    const int64_t m = std::max(h.strides, h.dilation);
    h.output_padding = op_set ? rng.uniform_int(0, m - 1) : CONVT_OUTPUT_PADDING_UNSET;
    c.steps = rng.uniform_int(1, 30);
    c.batch = rng.uniform_int(1, 3);
    const int64_t kind = rng.uniform_int(0, 3);
    if (kind == 3) {
      c.groups = c.in_channels = c.filters = rng.uniform_int(2, 6);  // depthwise
    } else {
      c.groups = kind + 1;
      c.in_channels = c.groups * rng.uniform_int(1, 12);
      c.filters = c.groups * rng.uniform_int(1, 4);
    }
    if (padding == CONVT_PADDING_EXPLICIT || rng.chance(0.2)) {
      // Other modes ignore the pads: nonzero values must not change them.
      const int64_t reach = 2 * convt_test::effective_kernel(h) + 2 * h.strides;
      h.pad_begin = rng.uniform_int(0, reach);
      h.pad_end = rng.uniform_int(0, reach);
    }
    if (convt_test::lengths(h, c.steps).verdict == convt_test::Verdict::kOk) break;
  }
  c.format = rng.chance(0.5) ? CONVT_CHANNELS_FIRST : CONVT_CHANNELS_LAST;
  c.dtype = rng.chance(0.5) ? CONVT_DTYPE_FLOAT64 : CONVT_DTYPE_FLOAT32;
  c.use_bias = rng.chance(0.7);
  c.activation = rng.pick(convt_test::reference_activations());
  return c;
}

// The signal, kernel and bias of c, each drawn by draw(element count).
template <class Draw>
StreamData draw_data(const StreamCase& c, Draw draw) {
  StreamData d;
  d.x = draw(c.batch * c.in_channels * c.steps);
  d.w = draw(c.in_channels * (c.filters / c.groups) * c.hyper.kernel_size);
  if (c.use_bias) d.bias = draw(c.filters);
  return d;
}

// Real values in [-1, 1); for float32 layers already rounded to what the layer sees.
StreamData real_data(const StreamCase& c, Random& rng) {
  return draw_data(c, [&](int64_t n) {
    const std::vector<double> v = rng.vector(n, -1.0, 1.0);
    return c.dtype == CONVT_DTYPE_FLOAT32 ? convt_test::round_to_float(v) : v;
  });
}

// Small integers: every sum is exact in float32 whatever its order, so the stream must equal
// forward bitwise, before and after any activation.
StreamData integer_data(const StreamCase& c, Random& rng) {
  return draw_data(c, [&](int64_t n) { return rng.nonzero_integers(n, -3, 3); });
}

// The chunkings every configuration is streamed with: one step at a time, one chunk, and
// random chunkings with no-op pushes of 0 steps.
std::vector<std::vector<int64_t>> chunkings(Random& rng, int64_t steps) {
  return {std::vector<int64_t>(to_size(steps), 1),
          {steps},
          convt_test::random_chunks(rng, steps, 3),
          convt_test::random_chunks(rng, steps, 8),
          convt_test::random_chunks(rng, steps, steps)};
}

std::string chunks_text(const std::vector<int64_t>& chunks) {
  std::string s;
  for (const int64_t n : chunks) s += (s.empty() ? "" : " ") + std::to_string(n);
  return s;
}

// The oracle for the whole signal of `c` with forward's default output length.
convt_test::Reference reference_of(const StreamCase& c, const StreamData& d) {
  convt_test::Problem p;
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.filters = c.filters;
  p.groups = c.groups;
  p.kernel_size = c.hyper.kernel_size;
  p.strides = c.hyper.strides;
  p.dilation = c.hyper.dilation;
  p.steps = c.steps;
  p.out_steps = convt_test::lengths(c.hyper, c.steps).default_len;
  p.crop_begin = convt_test::stream_crop(c);
  p.activation = c.activation;
  p.alpha = convt_test::kLeakyReluDefaultAlpha;
  return convt_test::reference_forward(p, d.x, d.w, d.bias);
}

// "" when got is within the per-element rounding bound of `want`, whose magnitudes are the
// oracle's; otherwise the first element outside it.
std::string within_bound(const char* what, const std::vector<double>& got,
                         const std::vector<double>& want, const convt_test::Reference& ref,
                         const StreamCase& c) {
  convt_test::Reference target = ref;
  target.y = want;
  const double u = c.dtype == CONVT_DTYPE_FLOAT64 ? convt_test::unit_roundoff_f64()
                                                  : convt_test::unit_roundoff_f32();
  const convt_test::Comparison cmp =
      convt_test::compare(got, target, c.in_channels / c.groups * c.hyper.kernel_size, u,
                          convt_test::lipschitz(c.activation));
  if (cmp.failures == 0) return "";
  return std::string(what) + ": element " + std::to_string(cmp.first_failure) + " is " +
         std::to_string(cmp.got) + ", want " + std::to_string(cmp.want) + " within " +
         std::to_string(cmp.allowed) + " (" + std::to_string(cmp.failures) + " outside)";
}

std::string bitwise_problem(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return "lengths differ";
  for (std::size_t k = 0; k < got.size(); ++k) {
    const bool both_nan = std::isnan(got[k]) && std::isnan(want[k]);
    if (!both_nan && std::memcmp(&got[k], &want[k], sizeof(double)) != 0) {
      return "element " + std::to_string(k) + " is " + std::to_string(got[k]) + ", forward gave " +
             std::to_string(want[k]);
    }
  }
  return "";
}

enum class Expect { kWithinBound, kBitwise };

// Streams one configuration with every chunking of `plan` on one stream (each flush starts
// the next signal) and returns the first problem, or "". kWithinBound compares with forward
// and with the float64 oracle within the rounding bound; kBitwise with forward bitwise.
template <class T>
std::string check_case(const StreamCase& c, const StreamData& d,
                       const std::vector<std::vector<int64_t>>& plan, Expect expect) {
  std::string problem;
  const convt_test::LayerHandle layer = convt_test::make_layer(c, d, &problem);
  if (!layer) return problem;
  const convt_test::StreamHandle stream = convt_test::make_stream(layer.get(), c.batch);
  if (!stream) return std::string("stream_create: ") + convt_last_error();
  const convt_test::StreamResult offline = convt_test::forward_signal<T>(layer.get(), c, d.x);
  if (!offline.problem.empty()) return offline.problem;
  const convt_test::Reference ref =
      expect == Expect::kWithinBound ? reference_of(c, d) : convt_test::Reference{};
  for (const auto& chunks : plan) {
    const convt_test::StreamResult s = convt_test::stream_signal<T>(stream.get(), c, d.x, chunks);
    std::string p = s.problem;
    if (p.empty() && expect == Expect::kBitwise) p = bitwise_problem(s.y, offline.y);
    if (p.empty() && expect == Expect::kWithinBound) {
      p = within_bound("stream vs forward", s.y, offline.y, ref, c);
      if (p.empty()) p = within_bound("stream vs float64 reference", s.y, ref.y, ref, c);
    }
    if (!p.empty()) return p + " | chunks " + chunks_text(chunks);
  }
  return "";
}

// fn(T{}) with T the element type of c's dtype.
template <class Fn>
auto with_dtype(const StreamCase& c, Fn fn) {
  return c.dtype == CONVT_DTYPE_FLOAT64 ? fn(0.0) : fn(0.0f);
}

std::string check_case(const StreamCase& c, const StreamData& d,
                       const std::vector<std::vector<int64_t>>& plan, Expect expect) {
  return with_dtype(c, [&](auto zero) { return check_case<decltype(zero)>(c, d, plan, expect); });
}

// Streams the signal x of c through s with `chunks`: "" when the result is forward's, bitwise.
std::string streams_as_forward(convt_stream* s, const convt_layer* layer, const StreamCase& c,
                               const std::vector<double>& x, const std::vector<int64_t>& chunks) {
  return with_dtype(c, [&](auto zero) {
    using T = decltype(zero);
    const convt_test::StreamResult got = convt_test::stream_signal<T>(s, c, x, chunks);
    if (!got.problem.empty()) return got.problem;
    return bitwise_problem(got.y, convt_test::forward_signal<T>(layer, c, x).y);
  });
}

}  // namespace

TEST_CASE(
    "stream outputs concatenated equal forward within its rounding bound for 400 random "
    "configurations and five chunkings each",
    "[stream][random]") {
  Random rng(0x57AE4u);
  int64_t streamed = 0, deep_gemm = 0, channels_first = 0, f64 = 0, explicit_tail = 0;
  for (int i = 0; i < 400; ++i) {
    const StreamCase c = random_case(i, rng);
    const StreamData d = real_data(c, rng);
    const auto plan = chunkings(rng, c.steps);
    INFO("config #" << i << ": " << convt_test::describe(c));
    CHECK(check_case(c, d, plan, Expect::kWithinBound) == "");
    streamed += static_cast<int64_t>(plan.size());
    if (c.in_channels / c.groups >= 8) ++deep_gemm;
    if (c.format == CONVT_CHANNELS_FIRST) ++channels_first;
    if (c.dtype == CONVT_DTYPE_FLOAT64) ++f64;
    const int64_t crop = convt_test::stream_crop(c);
    const convt_test::Lengths len = convt_test::lengths(c.hyper, c.steps);
    if (len.l_full - crop - len.default_len > len.k_eff) ++explicit_tail;
  }
  CHECK(streamed == 2000);
  // The draw covers what matters (counts of 400 configurations).
  CHECK(deep_gemm >= 40);
  CHECK(channels_first >= 100);
  CHECK(f64 >= 100);
  CHECK(explicit_tail >= 10);
}

TEST_CASE(
    "stream outputs are bitwise equal to forward for every activation when all sums are exact",
    "[stream][random][activation]") {
  Random rng(0xB17u);
  for (int i = 0; i < 224; ++i) {
    StreamCase c = random_case(i, rng);
    c.activation = i % kActivations;  // 8 of each
    if (along_axis(c.activation)) c.format = CONVT_CHANNELS_LAST;
    const StreamData d = integer_data(c, rng);
    const auto plan = chunkings(rng, c.steps);
    INFO("config #" << i << ": " << convt_test::describe(c));
    CHECK(check_case(c, d, plan, Expect::kBitwise) == "");
  }
}

TEST_CASE("stream emits hand-computed steps as soon as no later input reaches them", "[stream]") {
  // VALID, K = 3, S = 2, w = [1, 10, 100], x = [1, 2, 3]: the full output is
  // [1, 10, 100+2, 20, 200+3, 30, 300]. After T steps positions below 2T are final:
  // 2, 4, 6 steps out, and the flush writes the last one.
  StreamCase c;
  c.hyper.kernel_size = 3;
  c.hyper.strides = 2;
  c.steps = 3;
  c.use_bias = false;
  StreamData d;
  d.x = {1, 2, 3};
  d.w = {1, 10, 100};
  std::string problem;
  const convt_test::LayerHandle layer = convt_test::make_layer(c, d, &problem);
  REQUIRE(problem == "");
  const convt_test::StreamHandle stream = convt_test::make_stream(layer.get(), 1);
  REQUIRE(stream);
  const std::vector<std::vector<float>> want = {{1, 10}, {102, 20}, {203, 30}};
  for (int i = 0; i < 3; ++i) {
    std::vector<float> out(4, -1.0f);
    int64_t n = -1;
    REQUIRE(convt_test::push(stream.get(), {static_cast<float>(i + 1)}, 1, out, &n) == CONVT_OK);
    REQUIRE(n == 2);
    CHECK(std::vector<float>(out.begin(), out.begin() + 2) == want[to_size(i)]);
  }
  std::vector<float> out(4, -1.0f);
  int64_t n = -1;
  REQUIRE(convt_test::flush(stream.get(), out, &n) == CONVT_OK);
  REQUIRE(n == 1);
  CHECK(out[0] == 300.0f);

  SECTION("SAME holds back the crop at the beginning: floor((K_eff - S) / 2) steps") {
    // SAME, K = 5, S = 1: P_b = 2, L_out = L. x = [1, 0, 0, 0] with w = [1, 2, 3, 4, 5]
    // gives the full output [1, 2, 3, 4, 5, 0, 0, 0] and y = [3, 4, 5, 0]. After T steps
    // min(T - 2, T) are out: 0, 0, 1, 2, then the flush writes the last 2.
    c.hyper = Hyper{};
    c.hyper.padding = CONVT_PADDING_SAME;
    c.hyper.kernel_size = 5;
    c.steps = 4;
    d.x = {1, 0, 0, 0};
    d.w = {1, 2, 3, 4, 5};
    const convt_test::LayerHandle same = convt_test::make_layer(c, d, &problem);
    REQUIRE(problem == "");
    const convt_test::StreamHandle s = convt_test::make_stream(same.get(), 1);
    REQUIRE(s);
    std::vector<float> got;
    const int64_t counts[4] = {0, 0, 1, 2};
    for (int i = 0; i < 4; ++i) {
      std::vector<float> o(4, -1.0f);
      REQUIRE(convt_test::push(s.get(), {static_cast<float>(d.x[to_size(i)])}, 1, o, &n) ==
              CONVT_OK);
      CHECK(n == counts[i] - (i > 0 ? counts[i - 1] : 0));
      got.insert(got.end(), o.begin(), o.begin() + n);
    }
    std::vector<float> o(8, -1.0f);
    REQUIRE(convt_test::flush(s.get(), o, &n) == CONVT_OK);
    CHECK(n == 2);
    got.insert(got.end(), o.begin(), o.begin() + n);
    CHECK(got == std::vector<float>{3, 4, 5, 0});
  }
}

TEST_CASE("stream reset mid-signal forgets it and the next signal equals forward",
          "[stream][lifecycle]") {
  Random rng(0x5E7u);
  for (int i = 0; i < 48; ++i) {
    const StreamCase c = random_case(i, rng);
    const StreamData a = integer_data(c, rng), b = integer_data(c, rng);
    INFO("config #" << i << ": " << convt_test::describe(c));
    std::string problem;
    const convt_test::LayerHandle layer = convt_test::make_layer(c, a, &problem);
    REQUIRE(problem == "");
    const convt_test::StreamHandle s = convt_test::make_stream(layer.get(), c.batch);
    REQUIRE(s);
    // Part of signal a (some steps, emitted or held), then reset.
    const int64_t part = rng.uniform_int(1, c.steps);
    const convt_status st = with_dtype(c, [&](auto zero) {
      using T = decltype(zero);
      std::vector<T> out(to_size(c.batch * c.filters * part * c.hyper.strides));
      int64_t n = 0;
      return convt_test::push(s.get(), convt_test::chunk_of<T>(c, a.x, 0, part), part, out, &n);
    });
    REQUIRE(st == CONVT_OK);
    REQUIRE(convt_stream_reset(s.get()) == CONVT_OK);
    int64_t pending = -1;
    REQUIRE(convt_stream_max_output_steps(s.get(), 0, &pending) == CONVT_OK);
    CHECK(pending == 0);
    // Signal b from its start: equal to forward over b.
    CHECK(streams_as_forward(s.get(), layer.get(), c, b.x,
                             convt_test::random_chunks(rng, c.steps, 4)) == "");
  }
}

TEST_CASE("stream flush starts a new signal and every signal equals its own forward",
          "[stream][lifecycle]") {
  Random rng(0xF1u);
  for (int i = 0; i < 48; ++i) {
    const StreamCase c = random_case(i, rng);
    INFO("config #" << i << ": " << convt_test::describe(c));
    std::vector<StreamData> signals;
    for (int k = 0; k < 3; ++k) signals.push_back(integer_data(c, rng));
    std::string problem;
    const convt_test::LayerHandle layer = convt_test::make_layer(c, signals[0], &problem);
    REQUIRE(problem == "");
    const convt_test::StreamHandle s = convt_test::make_stream(layer.get(), c.batch);
    REQUIRE(s);
    for (const StreamData& d : signals) {
      CHECK(streams_as_forward(s.get(), layer.get(), c, d.x,
                               convt_test::random_chunks(rng, c.steps, 5)) == "");
    }
  }
}

TEST_CASE("stream flush after no input writes nothing and keeps the stream usable",
          "[stream][lifecycle]") {
  StreamCase c;
  c.hyper.kernel_size = 4;
  c.hyper.strides = 2;
  c.hyper.padding = CONVT_PADDING_SAME;
  c.steps = 5;
  c.in_channels = 2;
  c.filters = 3;
  Random rng(7);
  const StreamData d = integer_data(c, rng);
  std::string problem;
  const convt_test::LayerHandle layer = convt_test::make_layer(c, d, &problem);
  REQUIRE(problem == "");
  const convt_test::StreamHandle s = convt_test::make_stream(layer.get(), 1);
  REQUIRE(s);
  int64_t n = -1;
  REQUIRE(convt_stream_flush_f32(s.get(), nullptr, 0, &n) == CONVT_OK);
  CHECK(n == 0);
  CHECK(streams_as_forward(s.get(), layer.get(), c, d.x, {2, 0, 3}) == "");
}

TEST_CASE("several streams on one layer are independent whether interleaved or on threads",
          "[stream][lifecycle][threads]") {
  Random rng(0x3C0u);
  StreamCase c;
  c.hyper.padding = CONVT_PADDING_EXPLICIT;
  c.hyper.kernel_size = 7;
  c.hyper.strides = 3;
  c.hyper.pad_begin = 2;
  c.hyper.pad_end = 4;
  c.in_channels = 9;
  c.filters = 5;
  c.steps = 23;
  c.format = CONVT_CHANNELS_FIRST;
  c.activation = CONVT_ACTIVATION_TANH;

  // Three streams of different batch sizes, fed in turns with different signals.
  std::vector<StreamCase> cases;
  std::vector<StreamData> data;
  for (int64_t batch = 1; batch <= 3; ++batch) {
    StreamCase ci = c;
    ci.batch = batch;
    cases.push_back(ci);
    data.push_back(integer_data(ci, rng));
  }
  std::string problem;
  const convt_test::LayerHandle layer = convt_test::make_layer(cases[0], data[0], &problem);
  REQUIRE(problem == "");

  SECTION("interleaved pushes") {
    std::vector<convt_test::StreamHandle> streams;
    std::vector<std::vector<float>> got(3);
    std::vector<int64_t> fed(3, 0);
    for (const StreamCase& ci : cases)
      streams.push_back(convt_test::make_stream(layer.get(), ci.batch));
    for (const auto& s : streams) REQUIRE(s);
    // Each stream's output, collected per push in its own format, is compared at the end.
    std::vector<convt_test::StreamResult> results(3);
    for (int k = 0; k < 3; ++k) {
      const StreamCase& ci = cases[to_size(k)];
      results[to_size(k)].y.assign(
          to_size(ci.batch * ci.filters * convt_test::lengths(ci.hyper, ci.steps).default_len), 0);
    }
    int64_t at[3] = {0, 0, 0};
    bool busy = true;
    while (busy) {
      busy = false;
      for (int k = 0; k < 3; ++k) {
        const StreamCase& ci = cases[to_size(k)];
        const int64_t L_out = convt_test::lengths(ci.hyper, ci.steps).default_len;
        const int64_t left = ci.steps - fed[to_size(k)];
        std::vector<float> out(to_size(ci.batch * ci.filters * (3 * ci.hyper.strides + L_out)));
        int64_t n = 0;
        if (left > 0) {
          const int64_t step = std::min<int64_t>(left, 1 + k);
          REQUIRE(convt_test::push(
                      streams[to_size(k)].get(),
                      convt_test::chunk_of<float>(ci, data[to_size(k)].x, fed[to_size(k)], step),
                      step, out, &n) == CONVT_OK);
          fed[to_size(k)] += step;
          busy = true;
        } else if (fed[to_size(k)] == ci.steps) {
          REQUIRE(convt_test::flush(streams[to_size(k)].get(), out, &n) == CONVT_OK);
          fed[to_size(k)] += 1;  // flushed
        }
        // channels_first: item b, filter o, step j of this call.
        for (int64_t b = 0; b < ci.batch; ++b)
          for (int64_t o = 0; o < ci.filters; ++o)
            for (int64_t j = 0; j < n; ++j)
              results[to_size(k)].y[to_size((b * ci.filters + o) * L_out + at[k] + j)] =
                  out[to_size((b * ci.filters + o) * n + j)];
        at[k] += n;
      }
    }
    for (int k = 0; k < 3; ++k) {
      const StreamCase& ci = cases[to_size(k)];
      CHECK(at[k] == convt_test::lengths(ci.hyper, ci.steps).default_len);
      CHECK(bitwise_problem(
                results[to_size(k)].y,
                convt_test::forward_signal<float>(layer.get(), ci, data[to_size(k)].x).y) == "");
    }
  }

  SECTION("one stream per thread") {
    std::vector<std::string> problems(3);
    std::vector<std::thread> threads;
    for (int k = 0; k < 3; ++k) {
      threads.emplace_back([&, k] {
        const StreamCase& ci = cases[to_size(k)];
        const convt_test::StreamHandle s = convt_test::make_stream(layer.get(), ci.batch);
        if (!s) {
          problems[to_size(k)] = "create failed";
          return;
        }
        const std::vector<int64_t> ones(to_size(ci.steps), 1);
        for (int round = 0; round < 20 && problems[to_size(k)].empty(); ++round) {
          problems[to_size(k)] =
              streams_as_forward(s.get(), layer.get(), ci, data[to_size(k)].x, ones);
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& p : problems) CHECK(p == "");
  }
}

TEST_CASE("stream input_steps does not apply and batch_size does", "[stream][params]") {
  StreamCase c;
  c.hyper.kernel_size = 3;
  c.hyper.strides = 2;
  c.steps = 9;
  c.batch = 2;
  Random rng(11);
  const StreamData d = integer_data(c, rng);
  std::string problem;
  const convt_test::LayerHandle layer = convt_test::make_layer(c, d, &problem);
  REQUIRE(problem == "");
  REQUIRE(convt_layer_set_int(layer.get(), CONVT_PARAM_INPUT_STEPS, 4) == CONVT_OK);
  REQUIRE(convt_layer_set_int(layer.get(), CONVT_PARAM_BATCH_SIZE, 2) == CONVT_OK);
  convt_stream* raw = nullptr;
  CHECK(convt_stream_create(layer.get(), 3, &raw) == CONVT_E_SHAPE);
  CHECK(raw == nullptr);
  CHECK(convt_test::integers_in(convt_last_error()) == std::vector<int64_t>{3, 2});
  const convt_test::StreamHandle s = convt_test::make_stream(layer.get(), 2);
  REQUIRE(s);
  // Chunks of 3 and 1 steps while input_steps is 4; forward over the whole signal of 9 steps
  // needs input_steps 0 again.
  const auto got = convt_test::stream_signal<float>(s.get(), c, d.x, {3, 1, 5});
  CHECK(got.problem == "");
  REQUIRE(convt_layer_set_int(layer.get(), CONVT_PARAM_INPUT_STEPS, 0) == CONVT_OK);
  CHECK(bitwise_problem(got.y, convt_test::forward_signal<float>(layer.get(), c, d.x).y) == "");
}
