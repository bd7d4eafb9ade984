// Every error a caller can make with a stream: the status, a message with the numbers, no
// write to any caller buffer, and no change of state -- proved by a twin stream that never saw
// the failed call and must give bitwise the same outputs afterwards.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "convt/convt.h"
#include "reference.hpp"
#include "test_stream_helpers.hpp"

namespace {

using convt_test::StreamCase;
using convt_test::StreamData;
using convt_test::to_size;

// C = 3, F = 4, K = 7, S = 2, EXPLICIT pads (5, 3): L_out(T) = 2T - 3, P_b = 5, so after T
// steps max(0, min(2T - 5, 2T - 3)) steps are out, the flush writes 2 more, and a 1-step signal
// has no output (L_out = -1).
StreamCase error_case() {
  StreamCase c;
  c.hyper.padding = CONVT_PADDING_EXPLICIT;
  c.hyper.kernel_size = 7;
  c.hyper.strides = 2;
  c.hyper.pad_begin = 5;
  c.hyper.pad_end = 3;
  c.batch = 2;
  c.in_channels = 3;
  c.filters = 4;
  c.steps = 12;
  c.activation = CONVT_ACTIVATION_RELU;
  return c;
}

struct Fixture {
  StreamCase c = error_case();
  StreamData d;
  convt_test::LayerHandle layer;
  convt_test::StreamHandle subject;  // sees the failing calls
  convt_test::StreamHandle twin;     // does not
  int64_t fed = 0;

  Fixture() {
    convt_test::Random rng(99);
    d.x = rng.nonzero_integers(c.batch * c.in_channels * c.steps, -3, 3);
    d.w = rng.nonzero_integers(c.in_channels * c.filters * c.hyper.kernel_size, -3, 3);
    d.bias = rng.nonzero_integers(c.filters, -3, 3);
    std::string problem;
    layer = convt_test::make_layer(c, d, &problem);
    REQUIRE(problem == "");
    subject = convt_test::make_stream(layer.get(), c.batch);
    twin = convt_test::make_stream(layer.get(), c.batch);
    REQUIRE(subject);
    REQUIRE(twin);
  }

  std::vector<float> chunk(int64_t n) const { return convt_test::chunk_of<float>(c, d.x, fed, n); }

  // Pushes the next n steps into both streams; "" when they agree bitwise.
  std::string advance(int64_t n) {
    std::vector<float> a(to_size(c.batch * c.filters * (n * 2 + 8))), b(a.size());
    int64_t na = -1, nb = -2;
    const std::vector<float> in = chunk(n);
    if (convt_test::push(subject.get(), in, n, a, &na) != CONVT_OK) return convt_last_error();
    if (convt_test::push(twin.get(), in, n, b, &nb) != CONVT_OK) return convt_last_error();
    fed += n;
    if (na != nb)
      return "subject wrote " + std::to_string(na) + " steps, twin " + std::to_string(nb);
    if (a != b) return "subject and twin differ after a push";
    return "";
  }

  // Flushes both; "" when they agree bitwise.
  std::string finish() {
    std::vector<float> a(to_size(c.batch * c.filters * 32)), b(a.size());
    int64_t na = -1, nb = -2;
    if (convt_test::flush(subject.get(), a, &na) != CONVT_OK) return convt_last_error();
    if (convt_test::flush(twin.get(), b, &nb) != CONVT_OK) return convt_last_error();
    fed = 0;
    if (na != nb)
      return "subject flushed " + std::to_string(na) + " steps, twin " + std::to_string(nb);
    if (a != b) return "subject and twin differ after the flush";
    return "";
  }
};

using convt_test::all_untouched;

bool says(const std::string& message, std::initializer_list<int64_t> numbers) {
  for (const int64_t v : numbers)
    if (!convt_test::mentions_number(message, v)) return false;
  return !message.empty();
}

}  // namespace

TEST_CASE("stream push errors write nothing consume nothing and leave the state unchanged",
          "[stream][errors]") {
  Fixture f;
  REQUIRE(f.advance(3) == "");  // mid-signal: steps out and steps held
  const StreamCase& c = f.c;
  const int64_t n = 2;
  const std::vector<float> in = f.chunk(n);
  const auto in_len = static_cast<int64_t>(in.size());
  int64_t want = -1;
  REQUIRE(convt_stream_max_output_steps(f.subject.get(), n, &want) == CONVT_OK);
  REQUIRE(want == 4);  // (2*5 - 5) - (2*3 - 5)
  const int64_t room = c.batch * c.filters * want;
  std::vector<float> out(to_size(room + 4), convt_test::untouched<float>());
  int64_t steps_out = 12345;
  const auto fails = [&](convt_status got, convt_status expected) {
    CHECK(got == expected);
    CHECK(all_untouched(out));
    CHECK(steps_out == 12345);
    return std::string(convt_last_error());
  };

  SECTION("NULL stream or out_steps or input or output") {
    CHECK(fails(convt_stream_push_f32(nullptr, in.data(), in_len, n, out.data(), room, &steps_out),
                CONVT_E_INVALID_ARGUMENT)
              .find("stream is NULL") != std::string::npos);
    CHECK(fails(convt_stream_push_f32(f.subject.get(), in.data(), in_len, n, out.data(), room,
                                      nullptr),
                CONVT_E_INVALID_ARGUMENT)
              .find("out_steps is NULL") != std::string::npos);
    CHECK(says(fails(convt_stream_push_f32(f.subject.get(), nullptr, in_len, n, out.data(), room,
                                           &steps_out),
                     CONVT_E_INVALID_ARGUMENT),
               {in_len}));
    CHECK(says(fails(convt_stream_push_f32(f.subject.get(), in.data(), in_len, n, nullptr, room,
                                           &steps_out),
                     CONVT_E_INVALID_ARGUMENT),
               {room}));
  }
  SECTION("negative steps") {
    CHECK(says(fails(convt_stream_push_f32(f.subject.get(), in.data(), in_len, -1, out.data(), room,
                                           &steps_out),
                     CONVT_E_SHAPE),
               {-1}));
  }
  SECTION("input_len that is not batch*steps*in_channels") {
    for (const int64_t len : {in_len - 1, in_len + 1, int64_t{0}}) {
      CHECK(says(fails(convt_stream_push_f32(f.subject.get(), in.data(), len, n, out.data(), room,
                                             &steps_out),
                       CONVT_E_SHAPE),
                 {len, c.batch, n, c.in_channels, in_len}));
    }
  }
  SECTION("output_len one short and NULL output with length 0") {
    CHECK(says(fails(convt_stream_push_f32(f.subject.get(), in.data(), in_len, n, out.data(),
                                           room - 1, &steps_out),
                     CONVT_E_SHAPE),
               {room - 1, c.batch, c.filters, want, room}));
    CHECK(says(
        fails(convt_stream_push_f32(f.subject.get(), in.data(), in_len, n, nullptr, 0, &steps_out),
              CONVT_E_SHAPE),
        {room}));
  }
  SECTION("steps whose lengths overflow") {
    const int64_t huge = std::numeric_limits<int64_t>::max() / 2;
    CHECK(fails(convt_stream_push_f32(f.subject.get(), in.data(), in_len, huge, out.data(), room,
                                      &steps_out),
                CONVT_E_SHAPE) != "");
    int64_t m = 777;
    CHECK(convt_stream_max_output_steps(f.subject.get(), huge, &m) == CONVT_E_SHAPE);
    CHECK(m == 777);
  }
  SECTION("the other dtype's function") {
    const std::vector<double> in64(in.begin(), in.end());
    std::vector<double> out64(to_size(room), 0.5);
    CHECK(convt_stream_push_f64(f.subject.get(), in64.data(), in_len, n, out64.data(), room,
                                &steps_out) == CONVT_E_STATE);
    CHECK(std::string(convt_last_error()).find("float32") != std::string::npos);
    CHECK(out64 == std::vector<double>(to_size(room), 0.5));
    CHECK(steps_out == 12345);
    int64_t m = -1;
    CHECK(convt_stream_flush_f64(f.subject.get(), out64.data(), room, &m) == CONVT_E_STATE);
    CHECK(m == -1);
  }
  SECTION("a layer whose parameters changed under the stream") {
    REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_ACTIVATION, CONVT_ACTIVATION_TANH) ==
            CONVT_OK);
    CHECK(fails(convt_stream_push_f32(f.subject.get(), in.data(), in_len, n, out.data(), room,
                                      &steps_out),
                CONVT_E_STATE)
              .find("changed") != std::string::npos);
    CHECK(convt_stream_reset(f.subject.get()) == CONVT_E_STATE);
    REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_ACTIVATION, CONVT_ACTIVATION_RELU) ==
            CONVT_OK);
  }
  // Whatever failed, both streams go on alike: the rest of the signal and the flush.
  CHECK(f.advance(n) == "");
  CHECK(f.advance(c.steps - f.fed) == "");
  CHECK(f.finish() == "");
}

TEST_CASE("stream push of 0 steps is a no-op that writes nothing", "[stream][errors]") {
  Fixture f;
  REQUIRE(f.advance(5) == "");
  int64_t steps_out = -1;
  std::vector<float> out(8, convt_test::untouched<float>());
  CHECK(convt_stream_push_f32(f.subject.get(), nullptr, 0, 0, nullptr, 0, &steps_out) == CONVT_OK);
  CHECK(steps_out == 0);
  steps_out = -1;
  CHECK(convt_stream_push_f32(f.subject.get(), nullptr, 0, 0, out.data(), 8, &steps_out) ==
        CONVT_OK);
  CHECK(steps_out == 0);
  CHECK(all_untouched(out));
  // A 0-step push still checks input_len against batch*0*in_channels.
  const std::vector<float> in = f.chunk(1);
  CHECK(convt_stream_push_f32(f.subject.get(), in.data(), 3, 0, out.data(), 8, &steps_out) ==
        CONVT_E_SHAPE);
  CHECK(f.advance(f.c.steps - f.fed) == "");
  CHECK(f.finish() == "");
}

TEST_CASE("stream flush errors write nothing and keep the signal", "[stream][errors]") {
  Fixture f;
  const StreamCase& c = f.c;
  int64_t steps_out = 12345;

  SECTION("a signal without output yet: pads longer than it") {
    // One step: L_out = 0*2 + 7 - 5 - 3 = -1 < 1, as forward would refuse.
    REQUIRE(f.advance(1) == "");
    std::vector<float> out(64, convt_test::untouched<float>());
    int64_t pending = -1;
    REQUIRE(convt_stream_max_output_steps(f.subject.get(), 0, &pending) == CONVT_OK);
    CHECK(pending == 0);
    CHECK(convt_stream_flush_f32(f.subject.get(), out.data(), 64, &steps_out) == CONVT_E_SHAPE);
    CHECK(says(convt_last_error(), {1, 7, 5, 3}));
    CHECK(all_untouched(out));
    CHECK(steps_out == 12345);
  }
  SECTION("NULL stream or out_steps or output and output one short") {
    REQUIRE(f.advance(7) == "");
    int64_t pending = -1;
    REQUIRE(convt_stream_max_output_steps(f.subject.get(), 0, &pending) == CONVT_OK);
    REQUIRE(pending > 0);
    const int64_t room = c.batch * c.filters * pending;
    std::vector<float> out(to_size(room), convt_test::untouched<float>());
    CHECK(convt_stream_flush_f32(nullptr, out.data(), room, &steps_out) ==
          CONVT_E_INVALID_ARGUMENT);
    CHECK(convt_stream_flush_f32(f.subject.get(), out.data(), room, nullptr) ==
          CONVT_E_INVALID_ARGUMENT);
    CHECK(convt_stream_flush_f32(f.subject.get(), nullptr, room, &steps_out) ==
          CONVT_E_INVALID_ARGUMENT);
    CHECK(convt_stream_flush_f32(f.subject.get(), out.data(), room - 1, &steps_out) ==
          CONVT_E_SHAPE);
    CHECK(says(convt_last_error(), {room - 1, c.batch, c.filters, pending, room}));
    CHECK(all_untouched(out));
    CHECK(steps_out == 12345);
  }
  CHECK(f.advance(c.steps - f.fed) == "");
  CHECK(f.finish() == "");
}

TEST_CASE("stream max_output_steps and reset reject NULL and negative steps", "[stream][errors]") {
  Fixture f;
  int64_t m = 777;
  CHECK(convt_stream_max_output_steps(nullptr, 1, &m) == CONVT_E_INVALID_ARGUMENT);
  CHECK(convt_stream_max_output_steps(f.subject.get(), 1, nullptr) == CONVT_E_INVALID_ARGUMENT);
  CHECK(convt_stream_max_output_steps(f.subject.get(), -3, &m) == CONVT_E_SHAPE);
  CHECK(convt_test::mentions_number(convt_last_error(), -3));
  CHECK(m == 777);
  CHECK(convt_stream_reset(nullptr) == CONVT_E_INVALID_ARGUMENT);
  convt_stream_destroy(nullptr);  // documented as fine
  CHECK(f.advance(f.c.steps) == "");
  CHECK(f.finish() == "");
}

TEST_CASE("stream create rejects what cannot stream and leaves out untouched", "[stream][errors]") {
  Fixture f;
  auto* const marker = reinterpret_cast<convt_stream*>(&f);
  convt_stream* out = marker;

  SECTION("NULL layer or out") {
    CHECK(convt_stream_create(nullptr, 1, &out) == CONVT_E_INVALID_ARGUMENT);
    CHECK(convt_stream_create(f.layer.get(), 1, nullptr) == CONVT_E_INVALID_ARGUMENT);
  }
  SECTION("batch below 1") {
    CHECK(convt_stream_create(f.layer.get(), 0, &out) == CONVT_E_SHAPE);
    CHECK(convt_test::mentions_number(convt_last_error(), 0));
    CHECK(convt_stream_create(f.layer.get(), -2, &out) == CONVT_E_SHAPE);
    CHECK(convt_test::mentions_number(convt_last_error(), -2));
  }
  SECTION("a layer without weights") {
    convt_layer* bare = nullptr;
    REQUIRE(convt_layer_create(2, 3, &bare) == CONVT_OK);
    const convt_test::LayerHandle hold(bare);
    CHECK(convt_stream_create(bare, 1, &out) == CONVT_E_STATE);
    CHECK(std::string(convt_last_error()).find("weights") != std::string::npos);
  }
  SECTION("output_padding no input could satisfy") {
    REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_OUTPUT_PADDING, 2) == CONVT_OK);
    CHECK(convt_stream_create(f.layer.get(), 2, &out) == CONVT_E_INVALID_ARGUMENT);
    CHECK(convt_test::mentions_number(convt_last_error(), 2));
    REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_OUTPUT_PADDING, -1) == CONVT_OK);
  }
  SECTION("activations along time with channels_first") {
    const std::vector<std::pair<int32_t, const char*>> along = {
        {CONVT_ACTIVATION_SOFTMAX, "softmax"},
        {CONVT_ACTIVATION_LOG_SOFTMAX, "log_softmax"},
        {CONVT_ACTIVATION_SPARSEMAX, "sparsemax"}};
    for (const auto& [activation, name] : along) {
      REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_ACTIVATION, activation) == CONVT_OK);
      REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_DATA_FORMAT, CONVT_CHANNELS_FIRST) ==
              CONVT_OK);
      CHECK(convt_stream_create(f.layer.get(), 2, &out) == CONVT_E_UNSUPPORTED);
      CHECK(std::string(convt_last_error()).find(name) != std::string::npos);
      // Along the filters (channels_last) they stream.
      REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_DATA_FORMAT, CONVT_CHANNELS_LAST) ==
              CONVT_OK);
      const convt_test::StreamHandle ok = convt_test::make_stream(f.layer.get(), 2);
      CHECK(ok != nullptr);
    }
    REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_ACTIVATION, CONVT_ACTIVATION_RELU) ==
            CONVT_OK);
  }
  SECTION("pads no signal could outlast") {
    REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_PAD_END,
                                std::numeric_limits<int64_t>::max()) == CONVT_OK);
    CHECK(convt_stream_create(f.layer.get(), 2, &out) == CONVT_E_SHAPE);
    REQUIRE(convt_layer_set_int(f.layer.get(), CONVT_PARAM_PAD_END, 3) == CONVT_OK);
  }
  CHECK(out == marker);
  // The layer's existing streams were not disturbed by any of it.
  CHECK(f.advance(f.c.steps) == "");
  CHECK(f.finish() == "");
}
