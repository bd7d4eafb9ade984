// Every bad input to convt_layer_backward_* returns its status and a message that names what
// was wrong with the numbers, writes none of the caller's buffers and leaves the layer as it was;
// a later successful call keeps the message.
#include <catch2/catch.hpp>

#include <cctype>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "convt/convt.h"
#include "test_backward_helpers.hpp"

namespace {

using namespace convt_test;

// The layer of every case: F 4, K 3, C 6, G 2, strides 2, SAME, bias; called with batch 2 and
// steps 5, so out_steps 10 (SAME accepts 9 and 10), input 60, grad_output 80, kernel 36.
constexpr int64_t kF = 4, kK = 3, kC = 6, kG = 2, kN = 2, kL = 5, kLout = 10;
constexpr int64_t kIn = kN * kL * kC, kOut = kN * kF * kLout, kKernel = kK * kF * kC / kG;
constexpr float kSentinel = -7777.25f;

struct Setup {
  bool f64 = false;
  bool weights = true;
  bool use_bias = true;
  bool trainable = true;
  int64_t batch_size = 0, input_steps = 0, output_padding = -1;
};

convt_layer* build(const Setup& s) {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(kF, kK, &l));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, kG));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, 2));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, "same"));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "tanh"));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, s.use_bias ? 1 : 0));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_DTYPE, s.f64 ? 1 : 0));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_INITIALIZER, "random_normal"));
  if (s.weights) TR_MUST(convt_layer_init_weights(l, kC, 3));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_TRAINABLE, s.trainable ? 1 : 0));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_BATCH_SIZE, s.batch_size));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_INPUT_STEPS, s.input_steps));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_OUTPUT_PADDING, s.output_padding));
  return l;
}

// Every buffer a call may touch, filled with sentinels (4096 values each).
struct Buffers {
  std::vector<float> x = std::vector<float>(4096, 0.25f), g = std::vector<float>(4096, 0.5f);
  std::vector<float> gx = std::vector<float>(4096, kSentinel);
  std::vector<float> gk = std::vector<float>(4096, kSentinel);
  std::vector<float> gb = std::vector<float>(4096, kSentinel);
  std::vector<double> xd = std::vector<double>(4096, 0.25), gd = std::vector<double>(4096, 0.5);
  std::vector<double> gxd = std::vector<double>(4096, kSentinel);
  std::vector<double> gkd = std::vector<double>(4096, kSentinel);
  std::vector<double> gbd = std::vector<double>(4096, kSentinel);
  bool untouched() const {
    for (const std::vector<float>* v : {&gx, &gk, &gb}) {
      for (float e : *v) {
        if (e != kSentinel) return false;
      }
    }
    for (const std::vector<double>* v : {&gxd, &gkd, &gbd}) {
      for (double e : *v) {
        if (e != static_cast<double>(kSentinel)) return false;
      }
    }
    return true;
  }
};

// The arguments of one call, starting from a valid one.
struct Call {
  bool f64 = false;
  bool null_layer = false, null_input = false, null_grad_output = false;
  int64_t input_len = kIn, batch = kN, steps = kL, grad_output_len = kOut, out_steps = kLout;
  bool gx = true, gk = true, gb = true;  // pass the buffer (else NULL)
  int64_t gx_len = kIn, gk_len = kKernel, gb_len = kF;
  int32_t layout = CONVT_LAYOUT_WOI;
};

convt_status run(const convt_layer* l, const Call& c, Buffers& b) {
  const convt_layer* layer = c.null_layer ? nullptr : l;
  if (c.f64) {
    return convt_layer_backward_f64(layer, c.null_input ? nullptr : b.xd.data(), c.input_len,
                                    c.batch, c.steps, c.null_grad_output ? nullptr : b.gd.data(),
                                    c.grad_output_len, c.out_steps, c.gx ? b.gxd.data() : nullptr,
                                    c.gx_len, c.layout, c.gk ? b.gkd.data() : nullptr, c.gk_len,
                                    c.gb ? b.gbd.data() : nullptr, c.gb_len);
  }
  return convt_layer_backward_f32(layer, c.null_input ? nullptr : b.x.data(), c.input_len, c.batch,
                                  c.steps, c.null_grad_output ? nullptr : b.g.data(),
                                  c.grad_output_len, c.out_steps, c.gx ? b.gx.data() : nullptr,
                                  c.gx_len, c.layout, c.gk ? b.gk.data() : nullptr, c.gk_len,
                                  c.gb ? b.gb.data() : nullptr, c.gb_len);
}

struct Case {
  std::string name;
  Setup setup;
  Call call;
  convt_status status;
  std::vector<std::string> keys;  // each must appear in the message (case-insensitive)
};

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The layer's observable state: its weights and a forward output, as bytes.
std::vector<float> state_of(const convt_layer* l, const Setup& s) {
  if (!s.weights || s.f64) return {};
  std::vector<float> out(kKernel + kF + kOut, 0.0f);
  TR_MUST(convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, out.data(), kKernel,
                                      s.use_bias ? out.data() + kKernel : nullptr,
                                      s.use_bias ? kF : 0));
  const std::vector<float> x(kIn, 0.75f);
  if (s.batch_size == 0 && s.input_steps == 0 && s.output_padding < 0) {
    TR_MUST(
        convt_layer_forward_f32(l, x.data(), kIn, kN, kL, out.data() + kKernel + kF, kOut, kLout));
  }
  return out;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  const auto add = [&](std::string name, Setup s, Call c, convt_status status,
                       std::vector<std::string> keys) {
    v.push_back({std::move(name), s, c, status, std::move(keys)});
  };
  const Setup ok;
  const Call call;
  const convt_status A = CONVT_E_INVALID_ARGUMENT, S = CONVT_E_SHAPE, T = CONVT_E_STATE;
  Call c;
  c = call, c.null_layer = true, add("NULL layer", ok, c, A, {"layer", "NULL"});
  c = call, c.null_input = true, add("NULL input", ok, c, A, {"input", "NULL"});
  c = call, c.null_grad_output = true, add("NULL grad_output", ok, c, A, {"grad_output"});
  c = call, c.input_len = kIn - 1, add("input_len short", ok, c, S, {"input", "59", "60"});
  c = call, c.input_len = kIn + 1, add("input_len long", ok, c, S, {"input", "61", "60"});
  c = call, c.grad_output_len = kOut - 1;
  add("grad_output_len short", ok, c, S, {"grad_output", "79", "80"});
  c = call, c.grad_output_len = kOut + 1;
  add("grad_output_len long", ok, c, S, {"grad_output", "81", "80"});
  c = call, c.gx = false, add("grad_input NULL with a length", ok, c, S, {"grad_input", "60"});
  c = call, c.gx_len = kIn + 1, add("grad_input too long", ok, c, S, {"grad_input", "61", "60"});
  c = call, c.gx_len = 0, add("grad_input with length 0", ok, c, S, {"grad_input", "0", "60"});
  c = call, c.gx_len = -3, add("grad_input negative length", ok, c, S, {"grad_input", "-3"});
  c = call, c.gk = false, add("grad_kernel NULL with a length", ok, c, S, {"grad_kernel", "36"});
  c = call, c.gk_len = kKernel - 1;
  add("grad_kernel short", ok, c, S, {"grad_kernel", "35", "36", "3*4*3"});
  c = call, c.gb = false, add("grad_bias NULL with a length", ok, c, S, {"grad_bias", "4"});
  c = call, c.gb_len = 3, add("grad_bias short", ok, c, S, {"grad_bias", "3", "4"});
  Setup no_bias;
  no_bias.use_bias = false;
  add("grad_bias with use_bias 0", no_bias, call, S, {"grad_bias", "use_bias"});
  c = call, c.gb = false;
  add("grad_bias NULL with a length and use_bias 0", no_bias, c, S, {"grad_bias", "use_bias"});
  c = call, c.layout = 2, add("layout 2", ok, c, A, {"layout", "2"});
  c = call, c.layout = -1, add("layout -1", ok, c, A, {"layout", "-1"});
  c = call, c.f64 = true, add("f64 call on a float32 layer", ok, c, T, {"float32"});
  Setup f64;
  f64.f64 = true;
  add("f32 call on a float64 layer", f64, call, T, {"float64"});
  Setup no_weights;
  no_weights.weights = false;
  add("no weights", no_weights, call, T, {"weights"});
  Setup frozen;
  frozen.trainable = false;
  c = call, c.gb = false, c.gb_len = 0;
  add("grad_kernel while trainable 0", frozen, c, T, {"trainable", "grad_kernel"});
  c = call, c.gk = false, c.gk_len = 0;
  add("grad_bias while trainable 0", frozen, c, T, {"trainable", "grad_bias"});
  c = call, c.batch = 0, add("batch 0", ok, c, S, {"batch", "0"});
  c = call, c.steps = -1, add("steps -1", ok, c, S, {"steps", "-1"});
  c = call, c.out_steps = 11, add("out_steps above SAME's range", ok, c, S, {"11", "10"});
  c = call, c.out_steps = 8, add("out_steps below SAME's range", ok, c, S, {"8", "9"});
  Setup batch_size;
  batch_size.batch_size = 3;
  add("batch against BATCH_SIZE", batch_size, call, S, {"batch_size", "3"});
  Setup input_steps;
  input_steps.input_steps = 4;
  add("steps against INPUT_STEPS", input_steps, call, S, {"input_steps", "4"});
  Setup big_op;
  big_op.output_padding = 2;
  add("output_padding 2 with strides 2", big_op, call, A, {"output_padding", "2"});
  c = call, c.batch = int64_t{1} << 62, c.input_len = 0;
  add("batch that overflows", ok, c, S, {"overflow"});
  return v;
}

}  // namespace

TEST_CASE("Every bad backward call returns its status and message and writes nothing",
          "[backward][errors]") {
  for (const Case& k : cases()) {
    INFO(k.name);
    convt_layer* l = build(k.setup);
    const std::vector<float> before = state_of(l, k.setup);
    Buffers b;
    const convt_status s = run(l, k.call, b);
    const std::string msg = convt_last_error();
    INFO("status " << s << ": " << msg);
    CHECK(s == k.status);
    const std::string prefix =
        k.call.f64 ? "convt_layer_backward_f64: " : "convt_layer_backward_f32: ";
    CHECK(msg.rfind(prefix, 0) == 0);
    const std::string text = lower(msg.substr(std::min(msg.size(), prefix.size())));
    for (const std::string& key : k.keys) {
      INFO("key " << key);
      CHECK(text.find(lower(key)) != std::string::npos);
    }
    CHECK(b.untouched());
    CHECK(state_of(l, k.setup) == before);
    // A later successful call keeps the message.
    if (k.setup.weights && !k.setup.f64 && k.setup.trainable && k.setup.use_bias &&
        k.setup.batch_size == 0 && k.setup.input_steps == 0 && k.setup.output_padding < 0) {
      Buffers fresh;
      TR_MUST(run(l, Call(), fresh));
      CHECK(std::string(convt_last_error()) == msg);
    }
    convt_layer_destroy(l);
  }
}

TEST_CASE("Backward with every gradient NULL validates and writes nothing", "[backward][errors]") {
  convt_layer* l = build(Setup());
  Buffers b;
  Call c;
  c.gx = c.gk = c.gb = false;
  c.gx_len = c.gk_len = c.gb_len = 0;
  CHECK(run(l, c, b) == CONVT_OK);
  CHECK(b.untouched());
  c.input_len = kIn + 1;
  CHECK(run(l, c, b) == CONVT_E_SHAPE);
  convt_layer_destroy(l);
}
