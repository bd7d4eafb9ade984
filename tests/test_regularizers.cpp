// Regularizers through the public C API, as Keras 3 defines them: the parameters and Keras's
// factors by name, convt_layer_regularization_loss and convt_layer_activity_regularization_*
// against hand computation (and Keras's own docstring example), and backward with
// BACKWARD_REGULARIZATION against hand-computed penalty gradients and central differences of
// the total loss.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "convt/convt.h"
#include "reference.hpp"
#include "test_backward_helpers.hpp"

namespace {

using namespace convt_test;

double get_d(const convt_layer* l, convt_param p) {
  double v = 0;
  TR_MUST(convt_layer_get_double(l, p, &v));
  return v;
}

int64_t get_i(const convt_layer* l, convt_param p) {
  int64_t v = 0;
  TR_MUST(convt_layer_get_int(l, p, &v));
  return v;
}

std::string get_s(const convt_layer* l, convt_param p) {
  char buf[64] = {0};
  int64_t n = 0;
  TR_MUST(convt_layer_get_string(l, p, buf, sizeof buf, &n));
  return std::string(buf, static_cast<std::size_t>(n));
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

constexpr convt_param kOwners[] = {CONVT_PARAM_KERNEL_REGULARIZER, CONVT_PARAM_BIAS_REGULARIZER,
                                   CONVT_PARAM_ACTIVITY_REGULARIZER};

}  // namespace

TEST_CASE("Regularizers start at none and take Keras's factors by name", "[regularizers]") {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(2, 3, &l));
  for (convt_param owner : kOwners) {
    const convt_param l1 = owner + 1, l2 = owner + 2;
    INFO("param " << owner);
    CHECK(get_i(l, owner) == CONVT_REGULARIZER_NONE);
    CHECK(get_s(l, owner) == "none");
    CHECK(std::isnan(get_d(l, l1)));
    CHECK(std::isnan(get_d(l, l2)));
    TR_MUST(convt_layer_set_string(l, owner, "l1"));  // keras.regularizers.get("l1") = L1(0.01)
    CHECK(get_i(l, owner) == CONVT_REGULARIZER_L1);
    CHECK(get_d(l, l1) == 0.01);
    CHECK(std::isnan(get_d(l, l2)));
    TR_MUST(convt_layer_set_string(l, owner, "L2"));  // L2(0.01)
    CHECK(get_s(l, owner) == "l2");
    CHECK(std::isnan(get_d(l, l1)));
    CHECK(get_d(l, l2) == 0.01);
    for (const char* name : {"l1_l2", "l1l2", "L1L2"}) {  // L1L2(): both factors 0
      TR_MUST(convt_layer_set_string(l, owner, "none"));
      TR_MUST(convt_layer_set_string(l, owner, name));
      CHECK(get_i(l, owner) == CONVT_REGULARIZER_L1_L2);
      CHECK(get_s(l, owner) == "l1_l2");
      CHECK(get_d(l, l1) == 0.0);
      CHECK(get_d(l, l2) == 0.0);
    }
    TR_MUST(convt_layer_set_double(l, l1, 0.25));
    TR_MUST(convt_layer_set_double(l, l2, 1.5));
    CHECK(get_d(l, l1) == 0.25);
    CHECK(get_d(l, l2) == 1.5);
    TR_MUST(convt_layer_set_int(l, owner, CONVT_REGULARIZER_L1));  // a change resets them
    CHECK(get_d(l, l1) == 0.01);
    CHECK(std::isnan(get_d(l, l2)));
    TR_MUST(convt_layer_set_int(l, owner, CONVT_REGULARIZER_NONE));
    CHECK(std::isnan(get_d(l, l1)));
  }
  convt_layer_destroy(l);
}

TEST_CASE("Bad regularizer names and factors are CONVT_E_INVALID_ARGUMENT and change nothing",
          "[regularizers][errors]") {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(2, 3, &l));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_REGULARIZER, "l1"));
  TR_MUST(convt_layer_set_double(l, CONVT_PARAM_KERNEL_REGULARIZER_L1, 0.5));

  CHECK(convt_layer_set_string(l, CONVT_PARAM_KERNEL_REGULARIZER, "l3") ==
        CONVT_E_INVALID_ARGUMENT);
  std::string msg = convt_last_error();
  CHECK(contains(msg, "\"l3\""));
  CHECK(contains(msg, "\"l1_l2\""));  // the accepted names
  CHECK(convt_layer_set_string(l, CONVT_PARAM_KERNEL_REGULARIZER, "orthogonal_regularizer") ==
        CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "rank-2"));
  CHECK(convt_layer_set_int(l, CONVT_PARAM_KERNEL_REGULARIZER, 4) == CONVT_E_INVALID_ARGUMENT);
  msg = convt_last_error();
  CHECK(contains(msg, "3 = l1_l2"));
  CHECK(contains(msg, "got 4"));
  // l1 has no l2 factor (Keras's L1 takes only l1).
  CHECK(convt_layer_set_double(l, CONVT_PARAM_KERNEL_REGULARIZER_L2, 0.1) ==
        CONVT_E_INVALID_ARGUMENT);
  msg = convt_last_error();
  CHECK(contains(msg, "kernel_regularizer_l2"));
  CHECK(contains(msg, "\"l1\""));
  for (double bad :
       {-0.5, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    CHECK(convt_layer_set_double(l, CONVT_PARAM_KERNEL_REGULARIZER_L1, bad) ==
          CONVT_E_INVALID_ARGUMENT);
    CHECK(contains(convt_last_error(), ">= 0"));
  }
  // The wrong kind of accessor.
  CHECK(convt_layer_set_int(l, CONVT_PARAM_KERNEL_REGULARIZER_L1, 1) == CONVT_E_INVALID_ARGUMENT);
  CHECK(convt_layer_set_double(l, CONVT_PARAM_KERNEL_REGULARIZER, 1.0) == CONVT_E_INVALID_ARGUMENT);
  // Nothing changed.
  CHECK(get_i(l, CONVT_PARAM_KERNEL_REGULARIZER) == CONVT_REGULARIZER_L1);
  CHECK(get_d(l, CONVT_PARAM_KERNEL_REGULARIZER_L1) == 0.5);
  CHECK(std::isnan(get_d(l, CONVT_PARAM_KERNEL_REGULARIZER_L2)));
  CHECK(get_i(l, CONVT_PARAM_BACKWARD_REGULARIZATION) == 0);
  CHECK(convt_layer_set_int(l, CONVT_PARAM_BACKWARD_REGULARIZATION, 2) == CONVT_E_INVALID_ARGUMENT);
  convt_layer_destroy(l);
}

TEST_CASE("Keras's regularizer docstring example gives 0.25 plus 5.0", "[regularizers]") {
  // keras/src/regularizers/regularizers.py: Dense(5, kernel_initializer="ones",
  // kernel_regularizer=L1(0.01), activity_regularizer=L2(0.01)) on ones((5, 5)) * 2: the kernel
  // term is 0.25, the activity term (divided by the batch of 5) is 5.0, the sum 5.25. The same
  // layer here: kernel_size 1, 5 filters, 5 channels, no bias, 5 items of 1 step.
  for (bool f64 : {false, true}) {
    convt_layer* l = nullptr;
    TR_MUST(convt_layer_create(5, 1, &l));
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, 0));
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_DTYPE, f64 ? 1 : 0));
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_INITIALIZER, "ones"));
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_REGULARIZER, "l1"));
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVITY_REGULARIZER, "l2"));
    TR_MUST(convt_layer_init_weights(l, 5, 0));
    double weights = -1, activity = -1;
    TR_MUST(convt_layer_regularization_loss(l, &weights));
    if (f64) {
      const std::vector<double> x(25, 2.0);
      std::vector<double> y(25);
      TR_MUST(convt_layer_forward_f64(l, x.data(), 25, 5, 1, y.data(), 25, 1));
      TR_MUST(convt_layer_activity_regularization_f64(l, y.data(), 25, 5, 1, &activity));
    } else {
      const std::vector<float> x(25, 2.0f);
      std::vector<float> y(25);
      TR_MUST(convt_layer_forward_f32(l, x.data(), 25, 5, 1, y.data(), 25, 1));
      TR_MUST(convt_layer_activity_regularization_f32(l, y.data(), 25, 5, 1, &activity));
    }
    CHECK(weights == Approx(0.25).epsilon(1e-15));
    CHECK(activity == Approx(5.0).epsilon(1e-15));
    CHECK(weights + activity == Approx(5.25).epsilon(1e-15));
    convt_layer_destroy(l);
  }
}

TEST_CASE("regularization_loss is the kernel and bias penalties of the stored weights",
          "[regularizers]") {
  // kernel (K 3, F 2, C 2) in WOI and a bias of 2, with hand-summed |w| and w^2.
  const std::vector<double> kernel = {1, -2, 0.5, 0, 3, -1, 2, 0.25, -0.5, 1, -3, 1.5};
  const std::vector<double> bias = {0.5, -1.5};
  const double abs_kernel = 15.75, square_kernel = 31.8125, square_bias = 2.5;
  for (bool f64 : {false, true}) {
    INFO((f64 ? "float64" : "float32"));
    TrainConfig c;
    c.filters = 2;
    c.kernel_size = 3;
    c.in_channels = 2;
    convt_layer* l = make_layer(c, kernel, bias, f64);
    double loss = -1;
    TR_MUST(convt_layer_regularization_loss(l, &loss));
    CHECK(loss == 0.0);  // no regularizer
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_REGULARIZER, "l1_l2"));
    TR_MUST(convt_layer_set_double(l, CONVT_PARAM_KERNEL_REGULARIZER_L1, 0.1));
    TR_MUST(convt_layer_set_double(l, CONVT_PARAM_KERNEL_REGULARIZER_L2, 0.2));
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_REGULARIZER, "l2"));
    TR_MUST(convt_layer_regularization_loss(l, &loss));
    CHECK(loss ==
          Approx(0.1 * abs_kernel + 0.2 * square_kernel + 0.01 * square_bias).epsilon(1e-15));
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVITY_REGULARIZER, "l1"));  // not weights
    double again = -1;
    TR_MUST(convt_layer_regularization_loss(l, &again));
    CHECK(again == loss);
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_TRAINABLE, 0));  // Keras: trainable weights only
    TR_MUST(convt_layer_regularization_loss(l, &loss));
    CHECK(loss == 0.0);
    convt_layer_destroy(l);
  }
}

TEST_CASE("regularization_loss refuses a layer without weights and NULL pointers",
          "[regularizers][errors]") {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(2, 3, &l));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_REGULARIZER, "l2"));
  double loss = -7;
  CHECK(convt_layer_regularization_loss(l, &loss) == CONVT_E_STATE);
  CHECK(contains(convt_last_error(), "weights"));
  CHECK(loss == -7);
  CHECK(convt_layer_regularization_loss(l, nullptr) == CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "loss is NULL"));
  CHECK(convt_layer_regularization_loss(nullptr, &loss) == CONVT_E_INVALID_ARGUMENT);
  CHECK(loss == -7);
  convt_layer_destroy(l);
}

TEST_CASE("activity_regularization is the output's penalty divided by the batch",
          "[regularizers]") {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(3, 2, &l));  // works before weights: it needs only filters
  const int64_t batch = 2, out_steps = 4, n = batch * 3 * out_steps;
  std::vector<float> y(static_cast<std::size_t>(n));
  double abs_sum = 0, square_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[static_cast<std::size_t>(i)] = static_cast<float>(i - 11) * 0.25f;  // exact in float
    abs_sum += std::fabs(static_cast<double>(i - 11) * 0.25);
    square_sum += (static_cast<double>(i - 11) * 0.25) * (static_cast<double>(i - 11) * 0.25);
  }
  double penalty = -1;
  TR_MUST(convt_layer_activity_regularization_f32(l, y.data(), n, batch, out_steps, &penalty));
  CHECK(penalty == 0.0);  // none
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVITY_REGULARIZER, "l1_l2"));
  TR_MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVITY_REGULARIZER_L1, 0.3));
  TR_MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVITY_REGULARIZER_L2, 0.7));
  TR_MUST(convt_layer_activity_regularization_f32(l, y.data(), n, batch, out_steps, &penalty));
  CHECK(penalty == Approx((0.3 * abs_sum + 0.7 * square_sum) / 2.0).epsilon(1e-15));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_TRAINABLE, 0));  // applies whatever trainable is
  double frozen = -1;
  TR_MUST(convt_layer_activity_regularization_f32(l, y.data(), n, batch, out_steps, &frozen));
  CHECK(frozen == penalty);
  // Bad inputs: status, message, the penalty untouched.
  double keep = -9;
  CHECK(convt_layer_activity_regularization_f32(l, y.data(), n - 1, batch, out_steps, &keep) ==
        CONVT_E_SHAPE);
  std::string msg = convt_last_error();
  CHECK(contains(msg, "23"));
  CHECK(contains(msg, "2*3*4 = 24"));
  CHECK(convt_layer_activity_regularization_f32(l, y.data(), n, 0, out_steps, &keep) ==
        CONVT_E_SHAPE);
  CHECK(contains(convt_last_error(), "batch"));
  CHECK(convt_layer_activity_regularization_f32(l, y.data(), n, batch, 0, &keep) == CONVT_E_SHAPE);
  CHECK(convt_layer_activity_regularization_f32(l, nullptr, n, batch, out_steps, &keep) ==
        CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "output is NULL"));
  CHECK(convt_layer_activity_regularization_f32(l, y.data(), n, batch, out_steps, nullptr) ==
        CONVT_E_INVALID_ARGUMENT);
  const std::vector<double> yd(y.begin(), y.end());
  CHECK(convt_layer_activity_regularization_f64(l, yd.data(), n, batch, out_steps, &keep) ==
        CONVT_E_STATE);
  CHECK(contains(convt_last_error(), "float32"));
  CHECK(convt_layer_activity_regularization_f32(l, y.data(), int64_t{1} << 62, int64_t{1} << 40,
                                                1 << 30, &keep) == CONVT_E_SHAPE);
  CHECK(keep == -9);
  convt_layer_destroy(l);
}

namespace {

// Sets `owner` to l1_l2 with these factors.
void set_penalty(convt_layer* l, convt_param owner, double l1, double l2) {
  TR_MUST(convt_layer_set_string(l, owner, "l1_l2"));
  TR_MUST(convt_layer_set_double(l, owner + 1, l1));
  TR_MUST(convt_layer_set_double(l, owner + 2, l2));
}

double sign(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }

struct All {
  std::vector<double> input, kernel, bias;
};

All all_gradients(const convt_layer* l, const TrainConfig& c, const std::vector<double>& x,
                  const std::vector<double>& g) {
  All r;
  r.input.assign(to_size(c.input_len()), 0.0);
  r.kernel.assign(to_size(c.kernel_len()), 0.0);
  r.bias.assign(c.use_bias ? to_size(c.filters) : 0, 0.0);
  TR_MUST(backward_t(l, x, c.batch, c.steps, g, c.out_steps, r.input, c.layout, r.kernel, r.bias));
  return r;
}

}  // namespace

TEST_CASE("With BACKWARD_REGULARIZATION backward adds l1 sign(w) + 2 l2 w to the weight gradients",
          "[regularizers][backward]") {
  Random rng(606);
  for (int k = 0; k < 30; ++k) {
    TrainConfig c = random_config(rng);
    c.use_bias = true;
    c.activation = CONVT_ACTIVATION_TANH;
    INFO(c.describe());
    std::vector<double> w = rng.vector(c.kernel_len(), -1, 1), b = rng.vector(c.filters, -1, 1);
    w[0] = 0.0;  // sign(0) = 0
    b[0] = 0.0;
    convt_layer* l = make_layer(c, w, b, true);
    const std::vector<double> x = rng.vector(c.input_len(), -1, 1);
    const std::vector<double> g = rng.vector(c.output_len(), -1, 1);
    set_penalty(l, CONVT_PARAM_KERNEL_REGULARIZER, 0.05, 0.2);
    set_penalty(l, CONVT_PARAM_BIAS_REGULARIZER, 0.3, 0.1);
    const All plain = all_gradients(l, c, x, g);  // the penalties are not asked for yet
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_BACKWARD_REGULARIZATION, 1));
    const All with = all_gradients(l, c, x, g);
    CHECK(with.input == plain.input);  // weight penalties do not reach the input
    int64_t failures = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double want = plain.kernel[i] + 0.05 * sign(w[i]) + 2 * 0.2 * w[i];
      if (!(std::fabs(with.kernel[i] - want) <= 1e-15 * (std::fabs(want) + 1))) ++failures;
    }
    for (std::size_t i = 0; i < b.size(); ++i) {
      const double want = plain.bias[i] + 0.3 * sign(b[i]) + 2 * 0.1 * b[i];
      if (!(std::fabs(with.bias[i] - want) <= 1e-15 * (std::fabs(want) + 1))) ++failures;
    }
    CHECK(failures == 0);
    convt_layer_destroy(l);
  }
}

TEST_CASE(
    "With BACKWARD_REGULARIZATION backward is the gradient of the total loss by central "
    "differences",
    "[regularizers][backward]") {
  // Total = <y, g> + regularization_loss + activity_regularization(y), every term through the
  // C API; backward with BACKWARD_REGULARIZATION 1 must be its gradient in x, kernel and bias.
  // Activations with positive outputs carry an l1 activity term; the others l2 only, so that no
  // |y| kink sits near a sample.
  struct Act {
    int32_t activation;
    double activity_l1;
  };
  const Act acts[] = {{CONVT_ACTIVATION_SOFTPLUS, 0.05},    {CONVT_ACTIVATION_SIGMOID, 0.1},
                      {CONVT_ACTIVATION_EXPONENTIAL, 0.02}, {CONVT_ACTIVATION_TANH, 0.0},
                      {CONVT_ACTIVATION_LINEAR, 0.0},       {CONVT_ACTIVATION_SOFTMAX, 0.2}};
  Random rng(1717);
  const double h = 1e-5;
  for (int k = 0; k < 18; ++k) {
    const Act& a = acts[k % 6];
    TrainConfig c = random_config(rng);
    c.activation = a.activation;
    INFO(c.describe());
    std::vector<double> w = rng.vector(c.kernel_len(), -0.5, 0.5);
    std::vector<double> b = c.use_bias ? rng.vector(c.filters, 0.1, 0.5) : std::vector<double>();
    convt_layer* l = make_layer(c, w, b, true);
    set_penalty(l, CONVT_PARAM_KERNEL_REGULARIZER, 0.0, 0.03);
    set_penalty(l, CONVT_PARAM_BIAS_REGULARIZER, 0.02, 0.0);  // |b| is smooth away from 0
    set_penalty(l, CONVT_PARAM_ACTIVITY_REGULARIZER, a.activity_l1, 0.1);
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_BACKWARD_REGULARIZATION, 1));
    const std::vector<double> x = rng.vector(c.input_len(), -1, 1);
    const std::vector<double> g = rng.vector(c.output_len(), -1, 1);
    const auto total = [&](const std::vector<double>& xs) {
      std::vector<double> y(to_size(c.output_len()));
      TR_MUST(forward_t(l, xs, c.batch, c.steps, y, c.out_steps));
      double v = 0, weights = 0, activity = 0;
      for (std::size_t i = 0; i < y.size(); ++i) v += y[i] * g[i];
      TR_MUST(convt_layer_regularization_loss(l, &weights));
      TR_MUST(convt_layer_activity_regularization_f64(l, y.data(), len(y), c.batch, c.out_steps,
                                                      &activity));
      return v + weights + activity;
    };
    const All got = all_gradients(l, c, x, g);
    int64_t checked = 0, failures = 0;
    const auto agree = [&](double fd, double analytic) {
      ++checked;
      if (!(std::fabs(fd - analytic) <= 1e-6 * std::max(std::fabs(fd), std::fabs(analytic)) + 1e-8))
        ++failures;
    };
    std::vector<double> xp = x;
    for (std::size_t i = 0; i < x.size(); ++i) {
      xp[i] = x[i] + h;
      const double up = total(xp);
      xp[i] = x[i] - h;
      const double down = total(xp);
      xp[i] = x[i];
      agree((up - down) / (2 * h), got.input[i]);
    }
    std::vector<double> wp = w, bp = b;
    const auto at = [&]() {
      TR_MUST(weights_in(l, c, wp, bp, true));
      return total(x);
    };
    for (std::size_t i = 0; i < w.size(); ++i) {
      wp[i] = w[i] + h;
      const double up = at();
      wp[i] = w[i] - h;
      const double down = at();
      wp[i] = w[i];
      agree((up - down) / (2 * h), got.kernel[i]);
    }
    for (std::size_t i = 0; i < b.size(); ++i) {
      bp[i] = b[i] + h;
      const double up = at();
      bp[i] = b[i] - h;
      const double down = at();
      bp[i] = b[i];
      agree((up - down) / (2 * h), got.bias[i]);
    }
    CHECK(checked == c.input_len() + c.kernel_len() + static_cast<int64_t>(b.size()));
    CHECK(failures == 0);
    convt_layer_destroy(l);
  }
}
