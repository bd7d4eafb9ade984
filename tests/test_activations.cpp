// Activations against Keras 3's definitions. Expected values are exact or were computed once,
// independently of libconvt, with mpmath at 60 digits from the definitions in
// keras/src/activations/activations.py and keras/src/ops/nn.py, and are written here as literals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "activation.hpp"

namespace {

using convt::detail::activation_along_axis;
using convt::detail::activation_alpha_problem;
using convt::detail::activation_backward;
using convt::detail::activation_default_alpha;
using convt::detail::activation_scratch_doubles;
using convt::detail::apply_activation;
using convt::detail::kActivationCount;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Point {
  double x;
  double want;
};

struct Definition {
  convt_activation activation;
  double alpha;  // NaN: the activation's default
  std::vector<Point> points;
};

double alpha_or_default(const Definition& d) {
  return std::isnan(d.alpha) ? activation_default_alpha(d.activation) : d.alpha;
}

// Each element-wise activation at -1000, -1, 0, 1, 1000 and at its kinks, all exact in float.
const std::vector<Definition>& keras_definitions() {
  static const std::vector<Definition> defs = {
      {CONVT_ACTIVATION_LINEAR, kNaN, {{-1000, -1000}, {-1, -1}, {0, 0}, {1, 1}, {1000, 1000}}},
      {CONVT_ACTIVATION_RELU, kNaN, {{-1000, 0}, {-1, 0}, {0, 0}, {1, 1}, {1000, 1000}}},
      {CONVT_ACTIVATION_SIGMOID,
       kNaN,
       {{-1000, 0}, {-1, 0.2689414213699951}, {0, 0.5}, {1, 0.7310585786300049}, {1000, 1}}},
      {CONVT_ACTIVATION_TANH,
       kNaN,
       {{-1000, -1}, {-1, -0.7615941559557649}, {0, 0}, {1, 0.7615941559557649}, {1000, 1}}},
      {CONVT_ACTIVATION_ELU,
       kNaN,
       {{-1000, -1}, {-1, -0.6321205588285577}, {0, 0}, {1, 1}, {1000, 1000}}},
      {CONVT_ACTIVATION_SELU,
       kNaN,
       {{-1000, -1.7580993408473768},
        {-1, -1.1113307378125628},
        {0, 0},
        {1, 1.0507009873554805},
        {1000, 1050.7009873554805}}},
      {CONVT_ACTIVATION_SOFTPLUS,
       kNaN,
       {{-1000, 0},
        {-1, 0.3132616875182228},
        {0, 0.6931471805599453},
        {1, 1.3132616875182228},
        {1000, 1000}}},
      {CONVT_ACTIVATION_SOFTSIGN,
       kNaN,
       {{-1000, -0.999000999000999}, {-1, -0.5}, {0, 0}, {1, 0.5}, {1000, 0.999000999000999}}},
      {CONVT_ACTIVATION_EXPONENTIAL,
       kNaN,
       {{-1000, 0}, {-1, 0.36787944117144233}, {0, 1}, {1, 2.718281828459045}, {1000, kInf}}},
      // relu6(x + 3) / 6: flat at and beyond -3 and 3.
      {CONVT_ACTIVATION_HARD_SIGMOID,
       kNaN,
       {{-1000, 0}, {-3, 0}, {-1, 1.0 / 3.0}, {0, 0.5}, {1, 2.0 / 3.0}, {3, 1}, {1000, 1}}},
      // Exact gelu, x * Phi(x), not the tanh approximation (which gives -0.1588 at -1).
      {CONVT_ACTIVATION_GELU,
       kNaN,
       {{-1000, 0}, {-1, -0.15865525393145705}, {0, 0}, {1, 0.8413447460685429}, {1000, 1000}}},
      {CONVT_ACTIVATION_SILU,
       kNaN,
       {{-1000, 0}, {-1, -0.2689414213699951}, {0, 0}, {1, 0.7310585786300049}, {1000, 1000}}},
      {CONVT_ACTIVATION_RELU6,
       kNaN,
       {{-1000, 0}, {-1, 0}, {0, 0}, {1, 1}, {6, 6}, {7, 6}, {1000, 6}}},
      {CONVT_ACTIVATION_LEAKY_RELU,
       kNaN,
       {{-1000, -200}, {-1, -0.2}, {0, 0}, {1, 1}, {1000, 1000}}},
      {CONVT_ACTIVATION_MISH,
       kNaN,
       {{-1000, 0}, {-1, -0.3034014613741089}, {0, 0}, {1, 0.8650983882673103}, {1000, 1000}}},
      {CONVT_ACTIVATION_CELU,
       kNaN,
       {{-1000, -1}, {-1, -0.6321205588285577}, {0, 0}, {1, 1}, {1000, 1000}}},
      {CONVT_ACTIVATION_HARD_SILU,
       kNaN,
       {{-1000, 0}, {-3, 0}, {-1, -1.0 / 3.0}, {0, 0}, {1, 2.0 / 3.0}, {3, 3}, {1000, 1000}}},
      {CONVT_ACTIVATION_HARD_TANH,
       kNaN,
       {{-1000, -1}, {-1, -1}, {-0.5, -0.5}, {0, 0}, {1, 1}, {1000, 1}}},
      {CONVT_ACTIVATION_LOG_SIGMOID,
       kNaN,
       {{-1000, -1000},
        {-1, -1.3132616875182228},
        {0, -0.6931471805599453},
        {1, -0.3132616875182228},
        {1000, 0}}},
      {CONVT_ACTIVATION_TANH_SHRINK,
       kNaN,
       {{-1000, -999}, {-1, -0.23840584404423512}, {0, 0}, {1, 0.23840584404423512}, {1000, 999}}},
      {CONVT_ACTIVATION_SQUAREPLUS,
       kNaN,
       {{-1000, 0.000999999000002},
        {-1, 0.6180339887498949},
        {0, 1},
        {1, 1.618033988749895},
        {1000, 1000.000999999}}},
      // 0 for x <= -1, (x + 1)^2 / 4 inside, x for x >= 1.
      {CONVT_ACTIVATION_SPARSE_PLUS,
       kNaN,
       {{-1000, 0}, {-1, 0}, {-0.5, 0.0625}, {0, 0.25}, {0.5, 0.5625}, {1, 1}, {1000, 1000}}},
      {CONVT_ACTIVATION_SOFT_SHRINK,
       kNaN,
       {{-1000, -999.5}, {-1, -0.5}, {-0.5, 0}, {0, 0}, {0.5, 0}, {1, 0.5}, {1000, 999.5}}},
      // Strict: |x| = threshold gives 0.
      {CONVT_ACTIVATION_HARD_SHRINK,
       kNaN,
       {{-1000, -1000}, {-1, -1}, {-0.5, 0}, {0, 0}, {0.5, 0}, {0.75, 0.75}, {1, 1}, {1000, 1000}}},
      {CONVT_ACTIVATION_SPARSE_SIGMOID,
       kNaN,
       {{-1000, 0}, {-1, 0}, {0, 0.5}, {0.5, 0.75}, {1, 1}, {1000, 1}}},
  };
  return defs;
}

// Non-default parameters, with values from the same definitions.
const std::vector<Definition>& non_default_alphas() {
  static const std::vector<Definition> defs = {
      {CONVT_ACTIVATION_LEAKY_RELU, 0.01, {{-1, -0.01}, {-1000, -10}, {0, 0}, {2, 2}}},
      {CONVT_ACTIVATION_ELU, 0.5, {{-1, -0.31606027941427883}, {-1000, -0.5}, {0, 0}, {2, 2}}},
      {CONVT_ACTIVATION_CELU,
       2.0,
       {{-1, -0.7869386805747332}, {-1000, -2}, {0, 0}, {2, 2}, {1000, 1000}}},
      // A negative alpha keeps Keras's pieces: alpha * (exp(x / alpha) - 1) for x < 0, x above.
      {CONVT_ACTIVATION_CELU, -2.0, {{-1, -1.2974425414002564}, {0, 0}, {1, 1}}},
      {CONVT_ACTIVATION_SOFT_SHRINK,
       1.0,
       {{-1.5, -0.5}, {-1, 0}, {0.75, 0}, {1, 0}, {1.5, 0.5}, {1000, 999}}},
      {CONVT_ACTIVATION_HARD_SHRINK,
       1.0,
       {{-1.5, -1.5}, {-1, 0}, {0.75, 0}, {1, 0}, {1.5, 1.5}, {1000, 1000}}},
      // b = 0 is relu.
      {CONVT_ACTIVATION_SQUAREPLUS, 0.0, {{-1000, 0}, {-1, 0}, {0, 0}, {2, 2}, {1000, 1000}}},
  };
  return defs;
}

// Relative tolerance: one rounding to float, or a few ulps of libm error in double.
template <typename T>
double tolerance() {
  return std::is_same<T, float>::value ? 1.2e-7 : 8e-16;
}

template <typename T>
bool close_to(T got, double want) {
  if (std::isinf(want)) return static_cast<double>(got) == want;
  return std::fabs(static_cast<double>(got) - want) <= tolerance<T>() * std::fabs(want);
}

template <typename T>
std::vector<T> activate(convt_activation a, double alpha, const std::vector<double>& x,
                        int64_t rows = 1) {
  std::vector<T> data(x.begin(), x.end());
  const int64_t row_len = static_cast<int64_t>(x.size()) / rows;
  std::vector<double> scratch(static_cast<size_t>(activation_scratch_doubles(a, row_len)));
  apply_activation<T>(a, alpha, data.data(), rows, row_len, scratch.data());
  return data;
}

template <typename T>
std::vector<T> backward(convt_activation a, double alpha, const std::vector<double>& z,
                        const std::vector<double>& g, int64_t rows = 1) {
  std::vector<T> pre(z.begin(), z.end());
  std::vector<T> grad(g.begin(), g.end());
  const int64_t row_len = static_cast<int64_t>(z.size()) / rows;
  std::vector<double> scratch(static_cast<size_t>(activation_scratch_doubles(a, row_len)));
  activation_backward<T>(a, alpha, pre.data(), grad.data(), rows, row_len, scratch.data());
  return grad;
}

template <typename T>
void check_definitions(const std::vector<Definition>& defs) {
  for (const Definition& d : defs) {
    std::vector<double> x;
    for (const Point& p : d.points) x.push_back(p.x);
    const std::vector<T> y = activate<T>(d.activation, alpha_or_default(d), x);
    for (size_t i = 0; i < x.size(); ++i) {
      INFO("activation " << d.activation << " alpha " << alpha_or_default(d) << " at x = " << x[i]
                         << ": got " << y[i] << ", Keras gives " << d.points[i].want);
      CHECK(close_to(y[i], d.points[i].want));
    }
  }
}

bool is_elementwise(convt_activation a) { return !activation_along_axis(a); }

// A fixed, seedable sequence in [lo, hi) so that failures reproduce.
std::vector<double> pseudo_random(int64_t n, double lo, double hi, uint64_t seed) {
  std::vector<double> v;
  uint64_t s = seed;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    v.push_back(lo + (hi - lo) * static_cast<double>(s >> 11) / 9007199254740992.0);
  }
  return v;
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Values
// ------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE(
    "every element-wise activation gives Keras 3's value at -1000, -1, 0, 1, 1000 "
    "and at its kinks",
    "[activation]", float, double) {
  REQUIRE(keras_definitions().size() == 25);  // all but softmax, log_softmax, sparsemax
  check_definitions<TestType>(keras_definitions());
}

TEMPLATE_TEST_CASE(
    "non-default alphas take effect: leaky_relu 0.01, elu 0.5, celu 2 and -2, "
    "shrink thresholds 1, squareplus 0",
    "[activation]", float, double) {
  check_definitions<TestType>(non_default_alphas());
}

TEST_CASE("stable forms keep full double precision where the textbook formula cancels",
          "[activation]") {
  // Each point is where 1 + erf, log(1 + exp), x - tanh(x), x + sqrt(x^2 + b) or exp(x) - 1
  // would lose digits or round to 0.
  check_definitions<double>({
      {CONVT_ACTIVATION_GELU,
       kNaN,
       {{-5, -1.4332578593959695e-06},
        {-10, -7.619853024160526e-23},
        {-30, -1.472014178144456e-196}}},
      {CONVT_ACTIVATION_SOFTPLUS, kNaN, {{-30, 9.357622968839737e-14}}},
      {CONVT_ACTIVATION_LOG_SIGMOID, kNaN, {{30, -9.357622968839737e-14}}},
      {CONVT_ACTIVATION_SIGMOID, kNaN, {{-30, 9.357622968839299e-14}}},
      {CONVT_ACTIVATION_SILU, kNaN, {{-30, -2.8072868906517896e-12}}},
      {CONVT_ACTIVATION_MISH,
       kNaN,
       {{-10, -0.00045398899185674697}, {-30, -2.807286890651921e-12}}},
      {CONVT_ACTIVATION_TANH_SHRINK,
       kNaN,
       {{0.0625, 8.125325248748551e-05},
        {-0.001, -3.33333200000054e-10},
        {0.375, 0.016642601649214054}}},
      {CONVT_ACTIVATION_SQUAREPLUS, kNaN, {{-1000, 0.000999999000002}, {-30, 0.03329637837290827}}},
      {CONVT_ACTIVATION_ELU, kNaN, {{-0.001, -0.0009995001666250082}}},
      {CONVT_ACTIVATION_CELU, 2.0, {{-0.001, -0.0009997500416614588}}},
  });
}

TEMPLATE_TEST_CASE("no element-wise activation gives NaN or inf at +-1000 except exponential(1000)",
                   "[activation]", float, double) {
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    if (!is_elementwise(a)) continue;
    const double alpha = activation_default_alpha(a);
    const std::vector<TestType> y = activate<TestType>(a, alpha, {-1000, 1000});
    const std::vector<TestType> dz = backward<TestType>(a, alpha, {-1000, 1000}, {1, 1});
    INFO("activation " << a);
    CHECK(std::isfinite(y[0]));
    CHECK(std::isfinite(dz[0]));
    if (a == CONVT_ACTIVATION_EXPONENTIAL) {
      CHECK(y[1] == std::numeric_limits<TestType>::infinity());  // exp(1000) overflows
    } else {
      CHECK(std::isfinite(y[1]));
      CHECK(std::isfinite(dz[1]));
    }
  }
}

TEST_CASE("a zero gradient through exponential at an overflowing input stays 0, not NaN",
          "[activation]") {
  CHECK(backward<double>(CONVT_ACTIVATION_EXPONENTIAL, kNaN, {1000}, {0})[0] == 0.0);
}

TEST_CASE("NaN inputs give NaN outputs, as Keras's max, min and where do", "[activation]") {
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    INFO("activation " << a);
    const std::vector<double> y = activate<double>(a, activation_default_alpha(a), {kNaN, 1.0});
    CHECK(std::isnan(y[0]));
  }
}

TEST_CASE("element-wise activations ignore the row structure", "[activation]") {
  const std::vector<double> x = {-2.5, -0.5, 0.25, 1.5, 3.5, 7};
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    if (!is_elementwise(a)) continue;
    INFO("activation " << a);
    const double alpha = activation_default_alpha(a);
    CHECK(activate<double>(a, alpha, x, 1) == activate<double>(a, alpha, x, 3));
  }
}

// ------------------------------------------------------------------------------------------
// Along the last axis
// ------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("softmax rows are exp(x) / sum exp(x), sum to 1 and ignore a constant shift",
                   "[activation][softmax]", float, double) {
  // Three rows of three; the second is the first plus 1000, the third spans +-1000.
  const std::vector<double> x = {1, 2, 3, 1001, 1002, 1003, -1000, 0, 1000};
  const std::vector<TestType> y = activate<TestType>(CONVT_ACTIVATION_SOFTMAX, kNaN, x, 3);
  // softmax([1, 2, 3]) = [e^-2, e^-1, 1] / (1 + e^-1 + e^-2)
  const double want[] = {0.09003057317038046, 0.24472847105479764, 0.6652409557748219};
  for (int row = 0; row < 2; ++row) {
    double sum = 0;
    for (int i = 0; i < 3; ++i) {
      CHECK(close_to(y[row * 3 + i], want[i]));
      sum += y[row * 3 + i];
    }
    CHECK(sum == Approx(1.0).epsilon(tolerance<TestType>() * 4));
  }
  CHECK(y[6] == 0);
  CHECK(y[7] == 0);
  CHECK(y[8] == 1);
}

TEMPLATE_TEST_CASE("log_softmax rows are log-probabilities and ignore a constant shift",
                   "[activation][softmax]", float, double) {
  const std::vector<double> x = {1, 2, 3, 1001, 1002, 1003, 1000, 1000, -1000};
  const std::vector<TestType> y = activate<TestType>(CONVT_ACTIVATION_LOG_SOFTMAX, kNaN, x, 3);
  // log_softmax([1, 2, 3]) = [1, 2, 3] - 3 - log(1 + e^-1 + e^-2)
  const double want[] = {-2.40760596444438, -1.4076059644443804, -0.4076059644443803};
  for (int row = 0; row < 2; ++row) {
    double total = 0;
    for (int i = 0; i < 3; ++i) {
      CHECK(close_to(y[row * 3 + i], want[i]));
      total += std::exp(static_cast<double>(y[row * 3 + i]));
    }
    CHECK(total == Approx(1.0).epsilon(tolerance<TestType>() * 8));
  }
  CHECK(close_to(y[6], -0.6931471805599453));  // log(1/2), no overflow at 1000
  CHECK(close_to(y[7], -0.6931471805599453));
  CHECK(close_to(y[8], -2000.69314718056));  // finite where softmax itself rounds to 0
}

TEMPLATE_TEST_CASE("sparsemax matches hand-computed projections onto the simplex",
                   "[activation][sparsemax]", float, double) {
  struct Example {
    std::vector<double> z;
    std::vector<double> want;
  };
  const std::vector<Example> examples = {
      // sorted 3, 2, 1; k = 1 (1 + 2*2 = 5 is not > 3 + 2), tau = 2
      {{1, 2, 3}, {0, 0, 1}},
      // keras-team/keras#23425's row: k = 2, tau = (1 + 0.5 - 1) / 2 = 0.25. Released Keras
      // sums the cumulative sums, tau = (1 + 1.5 - 1) / 2 = 0.75, and gives [0, 0, 0.25].
      {{0, 0.5, 1}, {0, 0.25, 0.75}},
      // k = 3, tau = (0.75 - 1) / 3 = -1/12; released Keras: tau = 1/3, [0, 0, 1/6].
      {{0, 0.25, 0.5}, {1.0 / 12.0, 1.0 / 3.0, 7.0 / 12.0}},
      {{2, 2, 2}, {1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0}},
      // keras-team/keras#23469's row: k = 4, tau = (1.4 - 1) / 4 = 0.1; released Keras: zeros.
      {{0.1, 0.2, 0.3, 0.4, 0.5}, {0, 0.1, 0.2, 0.3, 0.4}},
      {{5}, {1}},
      {{1000, -1000}, {1, 0}},
      {{-1000, -1000.5}, {0.75, 0.25}},
  };
  for (const Example& e : examples) {
    const std::vector<TestType> y = activate<TestType>(CONVT_ACTIVATION_SPARSEMAX, kNaN, e.z);
    for (size_t i = 0; i < e.z.size(); ++i) {
      INFO("row element " << i << " of a row of " << e.z.size());
      CHECK(static_cast<double>(y[i]) ==
            Approx(e.want[i]).epsilon(tolerance<TestType>() * 8).margin(tolerance<TestType>()));
    }
  }
}

TEST_CASE("sparsemax is the exact simplex projection: non-negative, sums to 1, sparse",
          "[activation][sparsemax]") {
  const int64_t rows = 200;
  const int64_t row_len = 7;
  const std::vector<double> z = pseudo_random(rows * row_len, -3, 3, 42);
  const std::vector<double> y = activate<double>(CONVT_ACTIVATION_SPARSEMAX, kNaN, z, rows);
  int64_t rows_with_zeros = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double* zr = z.data() + r * row_len;
    const double* yr = y.data() + r * row_len;
    CHECK(std::accumulate(yr, yr + row_len, 0.0) == Approx(1.0).epsilon(1e-14));
    // Optimality of the projection: z - y is one constant tau on the support, and every
    // value off the support is at most tau.
    double tau = kNaN;
    for (int64_t i = 0; i < row_len; ++i) {
      CHECK(yr[i] >= 0);
      if (yr[i] > 0) {
        if (std::isnan(tau)) tau = zr[i] - yr[i];
        CHECK(zr[i] - yr[i] == Approx(tau).margin(1e-14));
      }
    }
    for (int64_t i = 0; i < row_len; ++i) {
      if (yr[i] == 0) CHECK(zr[i] <= tau + 1e-14);
    }
    rows_with_zeros += std::count(yr, yr + row_len, 0.0) > 0 ? 1 : 0;
  }
  CHECK(rows_with_zeros > rows / 2);  // values spread over 6 units: most rows are sparse
}

TEST_CASE("sparsemax ignores a constant added to the row", "[activation][sparsemax]") {
  const std::vector<double> z = {0.3, -0.2, 0.9, 0.85, -1.5};
  std::vector<double> shifted = z;
  for (double& v : shifted) v += 37.0;
  const std::vector<double> y = activate<double>(CONVT_ACTIVATION_SPARSEMAX, kNaN, z);
  const std::vector<double> y_shifted = activate<double>(CONVT_ACTIVATION_SPARSEMAX, kNaN, shifted);
  for (size_t i = 0; i < z.size(); ++i) CHECK(y_shifted[i] == Approx(y[i]).margin(1e-13));
}

// ------------------------------------------------------------------------------------------
// The parameter
// ------------------------------------------------------------------------------------------

TEST_CASE("alpha defaults are Keras's, and NaN for activations without a parameter",
          "[activation][alpha]") {
  CHECK(activation_default_alpha(CONVT_ACTIVATION_LEAKY_RELU) == 0.2);
  CHECK(activation_default_alpha(CONVT_ACTIVATION_ELU) == 1.0);
  CHECK(activation_default_alpha(CONVT_ACTIVATION_CELU) == 1.0);
  CHECK(activation_default_alpha(CONVT_ACTIVATION_SOFT_SHRINK) == 0.5);
  CHECK(activation_default_alpha(CONVT_ACTIVATION_HARD_SHRINK) == 0.5);
  CHECK(activation_default_alpha(CONVT_ACTIVATION_SQUAREPLUS) == 4.0);
  int with_parameter = 0;
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    const double alpha = activation_default_alpha(a);
    INFO("activation " << a);
    if (std::isnan(alpha)) {
      // No parameter: every value, NaN included, is refused with a sentence.
      CHECK(activation_alpha_problem(a, 0.0) != nullptr);
      CHECK(activation_alpha_problem(a, 1.0) != nullptr);
      CHECK(activation_alpha_problem(a, kNaN) != nullptr);
    } else {
      ++with_parameter;
      CHECK(activation_alpha_problem(a, alpha) == nullptr);  // the default is valid
    }
  }
  CHECK(with_parameter == 6);
  CHECK(std::isnan(activation_default_alpha(kActivationCount)));
}

TEST_CASE("alpha problems: celu 0, negative thresholds and b, and non-finite values are refused",
          "[activation][alpha]") {
  CHECK(std::string(activation_alpha_problem(CONVT_ACTIVATION_RELU, 0.0)) ==
        "relu has no parameter");
  CHECK(std::string(activation_alpha_problem(CONVT_ACTIVATION_CELU, 0.0)) ==
        "celu's alpha must be finite and not 0");
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_CELU, -0.0) != nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_CELU, -2.0) == nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_SOFT_SHRINK, -0.1) != nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_HARD_SHRINK, -0.1) != nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_SQUAREPLUS, -1.0) != nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_SOFT_SHRINK, 0.0) == nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_HARD_SHRINK, 0.0) == nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_SQUAREPLUS, 0.0) == nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_LEAKY_RELU, -0.5) == nullptr);
  CHECK(activation_alpha_problem(CONVT_ACTIVATION_ELU, 0.0) == nullptr);
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    INFO("activation " << a);
    CHECK(activation_alpha_problem(a, kInf) != nullptr);
    CHECK(activation_alpha_problem(a, -kInf) != nullptr);
    CHECK(activation_alpha_problem(a, kNaN) != nullptr);
  }
  CHECK(activation_alpha_problem(kActivationCount, 1.0) != nullptr);
  CHECK(activation_alpha_problem(-1, 1.0) != nullptr);
}

TEST_CASE("only softmax, log_softmax and sparsemax act along the axis and need scratch",
          "[activation]") {
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    const bool along = a == CONVT_ACTIVATION_SOFTMAX || a == CONVT_ACTIVATION_LOG_SOFTMAX ||
                       a == CONVT_ACTIVATION_SPARSEMAX;
    INFO("activation " << a);
    CHECK(activation_along_axis(a) == along);
    CHECK(activation_scratch_doubles(a, 17) == (along ? 17 : 0));
  }
}

// ------------------------------------------------------------------------------------------
// Backward
// ------------------------------------------------------------------------------------------

namespace {

// sum_i g_i * activation(z)_i, the loss whose gradient backward computes.
double loss(convt_activation a, double alpha, const std::vector<double>& z,
            const std::vector<double>& g, int64_t rows) {
  const std::vector<double> y = activate<double>(a, alpha, z, rows);
  return std::inner_product(y.begin(), y.end(), g.begin(), 0.0);
}

// Compares backward with central differences of `loss` in every coordinate.
void check_against_finite_differences(convt_activation a, double alpha,
                                      const std::vector<double>& z, int64_t rows) {
  const std::vector<double> g = pseudo_random(static_cast<int64_t>(z.size()), -1.5, 1.5, 7);
  const std::vector<double> dz = backward<double>(a, alpha, z, g, rows);
  const double h = 1e-5;
  for (size_t i = 0; i < z.size(); ++i) {
    std::vector<double> plus = z;
    std::vector<double> minus = z;
    plus[i] += h;
    minus[i] -= h;
    const double fd = (loss(a, alpha, plus, g, rows) - loss(a, alpha, minus, g, rows)) / (2 * h);
    INFO("activation " << a << " alpha " << alpha << " at z = " << z[i] << ": backward " << dz[i]
                       << ", finite difference " << fd);
    CHECK(std::fabs(dz[i] - fd) <= 1e-6 * std::max(std::fabs(dz[i]), std::fabs(fd)) + 1e-12);
  }
}

}  // namespace

TEST_CASE("backward of every element-wise activation matches central finite differences",
          "[activation][backward]") {
  // Clear of every kink (0, +-0.5, +-1, +-3, 6) by more than the step.
  const std::vector<double> z = {-2.3, -0.7, -0.3, 0.3, 0.7, 2.3, 4.2};
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    if (is_elementwise(a)) check_against_finite_differences(a, activation_default_alpha(a), z, 1);
  }
  for (const Definition& d : non_default_alphas()) {
    check_against_finite_differences(d.activation, d.alpha, z, 1);
  }
}

TEST_CASE("backward of softmax, log_softmax and sparsemax matches central finite differences",
          "[activation][backward]") {
  // Two rows of four. Sparsemax: row 1 has support {0.9, 0.5} with tau = 0.2 (0.1 is 0.1 below
  // it), row 2 has support {1.2, 1.1, 0.8} with tau = 0.7 (0.8 is 0.1 above it): no support
  // changes within the step.
  const std::vector<double> z = {0.1, 0.5, 0.9, -1.0, 1.2, 0.8, -1.0, 1.1};
  check_against_finite_differences(CONVT_ACTIVATION_SOFTMAX, kNaN, z, 2);
  check_against_finite_differences(CONVT_ACTIVATION_LOG_SOFTMAX, kNaN, z, 2);
  check_against_finite_differences(CONVT_ACTIVATION_SPARSEMAX, kNaN, z, 2);
}

TEST_CASE("backward at a kink uses one of the one-sided derivatives", "[activation][backward]") {
  struct Kink {
    convt_activation a;
    double z, left, right;
  };
  const Kink kinks[] = {
      {CONVT_ACTIVATION_RELU, 0, 0, 1},
      {CONVT_ACTIVATION_LEAKY_RELU, 0, 0.2, 1},
      {CONVT_ACTIVATION_ELU, 0, 1, 1},
      {CONVT_ACTIVATION_RELU6, 0, 0, 1},
      {CONVT_ACTIVATION_RELU6, 6, 1, 0},
      {CONVT_ACTIVATION_HARD_SIGMOID, -3, 0, 1.0 / 6.0},
      {CONVT_ACTIVATION_HARD_SIGMOID, 3, 1.0 / 6.0, 0},
      {CONVT_ACTIVATION_HARD_SILU, -3, 0, -0.5},
      {CONVT_ACTIVATION_HARD_SILU, 3, 1.5, 1},
      {CONVT_ACTIVATION_HARD_TANH, 1, 1, 0},
      {CONVT_ACTIVATION_SPARSE_PLUS, -1, 0, 0},
      {CONVT_ACTIVATION_SPARSE_PLUS, 1, 1, 1},
      {CONVT_ACTIVATION_SPARSE_SIGMOID, -1, 0, 0.5},
      {CONVT_ACTIVATION_SOFT_SHRINK, 0.5, 0, 1},
      {CONVT_ACTIVATION_HARD_SHRINK, -0.5, 1, 0},
  };
  for (const Kink& k : kinks) {
    const double d = backward<double>(k.a, activation_default_alpha(k.a), {k.z}, {1})[0];
    INFO("activation " << k.a << " at " << k.z << ": " << d);
    CHECK((d == k.left || d == k.right));
  }
}

TEST_CASE("float backward is the double backward rounded once", "[activation][backward]") {
  const std::vector<double> z = {-2.25, -0.75, 0.25, 1.75};
  const std::vector<double> g = {0.5, -1.25, 2, 0.75};
  for (convt_activation a = 0; a < kActivationCount; ++a) {
    const double alpha = activation_default_alpha(a);
    const std::vector<float> f = backward<float>(a, alpha, z, g);
    const std::vector<double> d = backward<double>(a, alpha, z, g);
    for (size_t i = 0; i < z.size(); ++i) {
      INFO("activation " << a << " at " << z[i]);
      CHECK(f[i] == static_cast<float>(d[i]));
    }
  }
}
