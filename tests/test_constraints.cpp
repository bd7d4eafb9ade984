// Constraints through the public C API, as Keras 3 defines them
// (keras/src/constraints/constraints.py): the parameters and Keras's defaults by name, and
// convt_layer_apply_constraints against Keras's formula written out here on the kernel's Keras
// shape (kernel_size, filters, in_channels / groups) for every set of axes, on the bias, by
// hand on small vectors, and its refusals.
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

constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon()

double get_d(const convt_layer* l, convt_param p) {
  double v = 0;
  TR_MUST(convt_layer_get_double(l, p, &v));
  return v;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct Keras {
  int32_t kind = CONVT_CONSTRAINT_NONE;
  double min_value = 0, max_value = 2, rate = 1;
  int axes = 1;  // bit i: the norm runs over axis i
};

// Keras's constraint on a row-major tensor of shape d[0] x d[1] x d[2]: for every element, the
// norm over all elements that agree with it on the axes the norm does not run over; then
// w * (desired / (epsilon + norm)). Written element by element, with no shared bookkeeping.
std::vector<double> keras_constraint(const Keras& k, const std::vector<double>& w,
                                     const int64_t d[3]) {
  std::vector<double> out(w.size());
  const auto index = [&](int64_t a, int64_t b, int64_t c) {
    return to_size((a * d[1] + b) * d[2] + c);
  };
  for (int64_t a = 0; a < d[0]; ++a) {
    for (int64_t b = 0; b < d[1]; ++b) {
      for (int64_t c = 0; c < d[2]; ++c) {
        const double v = w[index(a, b, c)];
        if (k.kind == CONVT_CONSTRAINT_NON_NEG) {
          out[index(a, b, c)] = std::max(v, 0.0);
          continue;
        }
        double sum = 0;
        for (int64_t a2 = 0; a2 < d[0]; ++a2) {
          for (int64_t b2 = 0; b2 < d[1]; ++b2) {
            for (int64_t c2 = 0; c2 < d[2]; ++c2) {
              const bool same = ((k.axes & 1) || a2 == a) && ((k.axes & 2) || b2 == b) &&
                                ((k.axes & 4) || c2 == c);
              if (same) sum += w[index(a2, b2, c2)] * w[index(a2, b2, c2)];
            }
          }
        }
        const double norm = std::sqrt(sum);
        double desired = 1.0;  // unit_norm
        if (k.kind == CONVT_CONSTRAINT_MAX_NORM)
          desired = std::min(std::max(norm, 0.0), k.max_value);
        if (k.kind == CONVT_CONSTRAINT_MIN_MAX_NORM) {
          desired =
              k.rate * std::min(std::max(norm, k.min_value), k.max_value) + (1 - k.rate) * norm;
        }
        out[index(a, b, c)] = v * (desired / (kEpsilon + norm));
      }
    }
  }
  return out;
}

void set_constraint(convt_layer* l, convt_param owner, const Keras& k) {
  TR_MUST(convt_layer_set_int(l, owner, k.kind));
  if (k.kind == CONVT_CONSTRAINT_MIN_MAX_NORM) {
    TR_MUST(convt_layer_set_double(l, owner + 1, k.min_value));
    TR_MUST(convt_layer_set_double(l, owner + 3, k.rate));
  }
  if (k.kind == CONVT_CONSTRAINT_MAX_NORM || k.kind == CONVT_CONSTRAINT_MIN_MAX_NORM) {
    TR_MUST(convt_layer_set_double(l, owner + 2, k.max_value));
  }
  if (owner == CONVT_PARAM_KERNEL_CONSTRAINT) {
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_KERNEL_CONSTRAINT_AXES, k.axes));
  }
}

// |got - want| within a few float64 roundings (the library may sum the squares in another
// order) or, for float32, one float32 rounding of the float64 result.
bool close(double got, double want, bool f64) {
  const double u = f64 ? std::ldexp(1.0, -52) : std::ldexp(1.0, -23);
  return std::fabs(got - want) <= 8 * u * std::fabs(want) + 1e-300;
}

}  // namespace

TEST_CASE("Constraints start at none and take Keras's defaults by name", "[constraints]") {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(2, 3, &l));
  for (convt_param owner : {CONVT_PARAM_KERNEL_CONSTRAINT, CONVT_PARAM_BIAS_CONSTRAINT}) {
    INFO("param " << owner);
    int64_t v = -1;
    TR_MUST(convt_layer_get_int(l, owner, &v));
    CHECK(v == CONVT_CONSTRAINT_NONE);
    for (int k = 1; k <= 3; ++k) CHECK(std::isnan(get_d(l, owner + k)));
    TR_MUST(convt_layer_set_string(l, owner, "max_norm"));  // MaxNorm(max_value=2)
    CHECK(std::isnan(get_d(l, owner + 1)));
    CHECK(get_d(l, owner + 2) == 2.0);
    CHECK(std::isnan(get_d(l, owner + 3)));
    TR_MUST(convt_layer_set_string(l, owner, "MinMaxNorm"));  // (0, 1, rate 1)
    CHECK(get_d(l, owner + 1) == 0.0);
    CHECK(get_d(l, owner + 2) == 1.0);
    CHECK(get_d(l, owner + 3) == 1.0);
    char name[32];
    int64_t n = 0;
    TR_MUST(convt_layer_get_string(l, owner, name, sizeof name, &n));
    CHECK(std::string(name) == "min_max_norm");
    for (const char* s : {"non_neg", "NonNeg", "unit_norm", "UnitNorm"}) {
      TR_MUST(convt_layer_set_string(l, owner, s));
      for (int k = 1; k <= 3; ++k) CHECK(std::isnan(get_d(l, owner + k)));
    }
    TR_MUST(convt_layer_set_string(l, owner, "none"));
  }
  int64_t axes = 0;
  TR_MUST(convt_layer_get_int(l, CONVT_PARAM_KERNEL_CONSTRAINT_AXES, &axes));
  CHECK(axes == 1);  // Keras's axis=0
  convt_layer_destroy(l);
}

TEST_CASE("Bad constraint names and values are CONVT_E_INVALID_ARGUMENT and change nothing",
          "[constraints][errors]") {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(2, 3, &l));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, "min_max_norm"));
  CHECK(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, "maxnorm2") ==
        CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "\"unit_norm\""));
  CHECK(convt_layer_set_int(l, CONVT_PARAM_KERNEL_CONSTRAINT, 5) == CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "4 = unit_norm"));
  CHECK(convt_layer_set_double(l, CONVT_PARAM_KERNEL_CONSTRAINT_RATE, 1.5) ==
        CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "[0, 1]"));
  CHECK(convt_layer_set_double(l, CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE, -1) ==
        CONVT_E_INVALID_ARGUMENT);
  CHECK(convt_layer_set_double(l, CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE,
                               std::numeric_limits<double>::infinity()) ==
        CONVT_E_INVALID_ARGUMENT);
  for (int64_t axes : {0, 8, -1}) {
    CHECK(convt_layer_set_int(l, CONVT_PARAM_KERNEL_CONSTRAINT_AXES, axes) ==
          CONVT_E_INVALID_ARGUMENT);
    CHECK(contains(convt_last_error(), "[1, 7]"));
  }
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_CONSTRAINT, "non_neg"));
  CHECK(convt_layer_set_double(l, CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE, 1.0) ==
        CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "\"non_neg\""));
  CHECK(get_d(l, CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE) == 0.0);
  CHECK(get_d(l, CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE) == 1.0);
  CHECK(get_d(l, CONVT_PARAM_KERNEL_CONSTRAINT_RATE) == 1.0);
  convt_layer_destroy(l);
}

TEST_CASE("max_norm unit_norm and non_neg of small kernels by hand", "[constraints]") {
  // Kernel (K 2, F 1, C 1) = [3, 4]: Keras's axis 0 is the taps, norm 5.
  TrainConfig c;
  c.kernel_size = 2;
  const std::vector<double> w = {3, 4}, b = {-0.5};
  const struct {
    const char* name;
    double w0, w1;
  } expected[] = {{"max_norm", 3 * (2 / (kEpsilon + 5)), 4 * (2 / (kEpsilon + 5))},
                  {"unit_norm", 3 * (1 / (kEpsilon + 5)), 4 * (1 / (kEpsilon + 5))},
                  {"min_max_norm", 3 * (1 / (kEpsilon + 5)), 4 * (1 / (kEpsilon + 5))},
                  {"non_neg", 3, 4}};
  for (const auto& e : expected) {
    INFO(e.name);
    convt_layer* l = make_layer(c, w, b, true);
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, e.name));
    TR_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_CONSTRAINT, "non_neg"));
    TR_MUST(convt_layer_apply_constraints(l));
    std::vector<double> k(2), bias(1);
    TR_MUST(convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, k.data(), 2, bias.data(), 1));
    CHECK(k[0] == Approx(e.w0).epsilon(1e-15));
    CHECK(k[1] == Approx(e.w1).epsilon(1e-15));
    CHECK(bias[0] == 0.0);
    convt_layer_destroy(l);
  }
  // A norm inside max_norm's bound is (almost) kept: [0.6, 0.8] * 1 / (1 + 1e-7).
  convt_layer* l = make_layer(c, {0.6, 0.8}, b, true);
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, "max_norm"));
  TR_MUST(convt_layer_apply_constraints(l));
  std::vector<double> k(2), bias(1);
  TR_MUST(convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, k.data(), 2, bias.data(), 1));
  CHECK(k[0] == Approx(0.6 / (1 + kEpsilon)).epsilon(1e-15));
  CHECK(bias[0] == -0.5);  // no bias constraint
  convt_layer_destroy(l);
}

TEST_CASE(
    "apply_constraints follows Keras's formula on the kernel's Keras shape for every axis set",
    "[constraints]") {
  // K 3, F 4, C 4, groups 2: Keras's shape (3, 4, 2). Weights go in as IOW, so the axes must be
  // found through the layout mapping; the result is read back as WOI.
  TrainConfig c;
  c.kernel_size = 3;
  c.filters = 4;
  c.in_channels = 4;
  c.groups = 2;
  c.layout = CONVT_LAYOUT_IOW;
  const int64_t shape[3] = {3, 4, 2};
  Random rng(2718);
  std::vector<Keras> kinds;
  Keras k;
  k.kind = CONVT_CONSTRAINT_MAX_NORM;
  k.max_value = 2;
  kinds.push_back(k);
  k.max_value = 0.75;
  kinds.push_back(k);
  k = Keras();
  k.kind = CONVT_CONSTRAINT_MIN_MAX_NORM;
  k.min_value = 0, k.max_value = 1, k.rate = 1;
  kinds.push_back(k);
  k.min_value = 1.2, k.max_value = 1.6, k.rate = 0.7;
  kinds.push_back(k);
  k = Keras();
  k.kind = CONVT_CONSTRAINT_UNIT_NORM;
  kinds.push_back(k);
  k.kind = CONVT_CONSTRAINT_NON_NEG;
  kinds.push_back(k);
  for (bool f64 : {false, true}) {
    for (const Keras& kind : kinds) {
      for (int axes = 1; axes <= 7; ++axes) {
        INFO((f64 ? "float64" : "float32")
             << " kind " << kind.kind << " axes " << axes << " max " << kind.max_value);
        std::vector<double> woi = rng.vector(c.kernel_len(), -2, 2);
        std::vector<double> bias = rng.vector(c.filters, -2, 2);
        if (!f64) woi = round_to_float(woi), bias = round_to_float(bias);
        convt_layer* l = make_layer(c, iow_from_woi(woi, 4, 4, 2, 3), bias, f64);
        Keras applied = kind;
        applied.axes = axes;
        set_constraint(l, CONVT_PARAM_KERNEL_CONSTRAINT, applied);
        set_constraint(l, CONVT_PARAM_BIAS_CONSTRAINT, kind);  // the bias's one axis
        TR_MUST(convt_layer_apply_constraints(l));
        const std::vector<double> want = keras_constraint(applied, woi, shape);
        const int64_t bias_shape[3] = {4, 1, 1};
        Keras on_bias = kind;
        on_bias.axes = 1;
        const std::vector<double> want_bias = keras_constraint(on_bias, bias, bias_shape);
        std::vector<double> got(woi.size()), got_bias(4);
        if (f64) {
          TR_MUST(convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, got.data(), len(got),
                                              got_bias.data(), 4));
        } else {
          std::vector<float> g32(woi.size()), b32(4);
          TR_MUST(convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, g32.data(), len(g32), b32.data(),
                                              4));
          got = convert<double>(g32), got_bias = convert<double>(b32);
        }
        int64_t failures = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
          failures += close(got[i], want[i], f64) ? 0 : 1;
        for (std::size_t i = 0; i < 4; ++i)
          failures += close(got_bias[i], want_bias[i], f64) ? 0 : 1;
        CHECK(failures == 0);
        // forward uses the projected weights: it equals a fresh layer given them.
        convt_layer* fresh = make_layer(c, iow_from_woi(got, 4, 4, 2, 3), got_bias, f64);
        const std::vector<double> x = rng.vector(2 * 5 * 4, -1, 1);
        std::vector<double> y1(2 * 4 * 7), y2(y1.size());
        if (f64) {
          TR_MUST(forward_t(l, x, 2, 5, y1, 7));
          TR_MUST(forward_t(fresh, x, 2, 5, y2, 7));
        } else {
          std::vector<float> a(y1.size()), b2(y1.size());
          TR_MUST(forward_t(l, convert<float>(x), 2, 5, a, 7));
          TR_MUST(forward_t(fresh, convert<float>(x), 2, 5, b2, 7));
          y1 = convert<double>(a), y2 = convert<double>(b2);
        }
        CHECK(y1 == y2);
        convt_layer_destroy(fresh);
        convt_layer_destroy(l);
      }
    }
  }
}

TEST_CASE(
    "apply_constraints leaves a frozen layer alone and ignores the bias constraint without a bias",
    "[constraints]") {
  TrainConfig c;
  c.kernel_size = 2;
  c.filters = 2;
  c.in_channels = 1;
  const std::vector<double> w = {-3, 4, 5, -6};
  convt_layer* l = make_layer(c, w, {7, -8}, true);
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, "non_neg"));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_CONSTRAINT, "non_neg"));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_TRAINABLE, 0));
  TR_MUST(convt_layer_apply_constraints(l));
  std::vector<double> k(4), b(2);
  TR_MUST(convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, k.data(), 4, b.data(), 2));
  CHECK(k == w);
  CHECK(b == std::vector<double>{7, -8});
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_TRAINABLE, 1));
  TR_MUST(convt_layer_apply_constraints(l));
  TR_MUST(convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, k.data(), 4, b.data(), 2));
  CHECK(k == std::vector<double>{0, 4, 5, 0});
  CHECK(b == std::vector<double>{7, 0});
  convt_layer_destroy(l);

  c.use_bias = false;
  l = make_layer(c, w, {}, true);
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_CONSTRAINT, "unit_norm"));
  TR_MUST(convt_layer_apply_constraints(l));
  TR_MUST(convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, k.data(), 4, nullptr, 0));
  CHECK(k == w);
  convt_layer_destroy(l);
}

TEST_CASE("apply_constraints refuses min_value above max_value, a layer without weights and NULL",
          "[constraints][errors]") {
  TrainConfig c;
  c.kernel_size = 2;
  const std::vector<double> w = {3, 4};
  convt_layer* l = make_layer(c, w, {2}, true);
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, "unit_norm"));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_CONSTRAINT, "min_max_norm"));
  TR_MUST(convt_layer_set_double(l, CONVT_PARAM_BIAS_CONSTRAINT_MIN_VALUE, 3));
  TR_MUST(convt_layer_set_double(l, CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE, 2));
  CHECK(convt_layer_apply_constraints(l) == CONVT_E_INVALID_ARGUMENT);
  const std::string msg = convt_last_error();
  CHECK(contains(msg, "bias_constraint"));
  CHECK(contains(msg, "min_value 3"));
  CHECK(contains(msg, "max_value 2"));
  std::vector<double> k(2), b(1);
  TR_MUST(convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, k.data(), 2, b.data(), 1));
  CHECK(k == w);  // the kernel's valid constraint was not applied either
  CHECK(b[0] == 2);
  convt_layer_destroy(l);

  TR_MUST(convt_layer_create(1, 2, &l));
  TR_MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, "non_neg"));
  CHECK(convt_layer_apply_constraints(l) == CONVT_E_STATE);
  CHECK(contains(convt_last_error(), "weights"));
  convt_layer_destroy(l);
  CHECK(convt_layer_apply_constraints(nullptr) == CONVT_E_INVALID_ARGUMENT);
  CHECK(contains(convt_last_error(), "layer is NULL"));
}
