// Activations by Keras 3 name. Each element-wise activation is one small struct with its value
// and its derivative, visited through one switch, so that the forward and backward loops are
// written once and the compiler still inlines the maths. Softmax, log_softmax and sparsemax
// work row by row with caller-provided scratch, and never allocate.
//
// Definitions follow keras/src/activations/activations.py and keras/src/ops/nn.py (Keras 3):
// the boundary conventions (which side of a kink takes which piece) are Keras's, the arithmetic
// is rearranged where the textbook form overflows or cancels.
#include "activation.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace convt::detail {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// The activation's parameter (CONVT_PARAM_ACTIVATION_ALPHA)
// ---------------------------------------------------------------------------------------------

// What values the parameter may take. Keras accepts anything for these arguments; the limits
// below are where the function stops being defined (celu divides by alpha) or stops meaning
// what its name says (a negative shrink threshold or squareplus b).
enum class AlphaRule { kNone, kFinite, kFiniteNonZero, kFiniteNonNegative };

struct AlphaInfo {
  double default_value;  // Keras's default for the argument, NaN when there is none
  AlphaRule rule;
  const char* problem;  // the sentence activation_alpha_problem returns
};

// Indexed by convt_activation; the static_assert below keeps it the length of the enum.
constexpr AlphaInfo kAlpha[] = {
    {kNaN, AlphaRule::kNone, "linear has no parameter"},
    {kNaN, AlphaRule::kNone, "relu has no parameter"},
    {kNaN, AlphaRule::kNone, "sigmoid has no parameter"},
    {kNaN, AlphaRule::kNone, "tanh has no parameter"},
    {1.0, AlphaRule::kFinite, "elu's alpha must be finite"},
    {kNaN, AlphaRule::kNone, "selu has no parameter: its alpha and scale are fixed constants"},
    {kNaN, AlphaRule::kNone, "softplus has no parameter"},
    {kNaN, AlphaRule::kNone, "softsign has no parameter"},
    {kNaN, AlphaRule::kNone, "exponential has no parameter"},
    {kNaN, AlphaRule::kNone, "hard_sigmoid has no parameter"},
    {kNaN, AlphaRule::kNone, "gelu has no parameter"},
    {kNaN, AlphaRule::kNone, "silu has no parameter"},
    {kNaN, AlphaRule::kNone, "relu6 has no parameter"},
    {0.2, AlphaRule::kFinite, "leaky_relu's alpha (the negative slope) must be finite"},
    {kNaN, AlphaRule::kNone, "mish has no parameter"},
    {kNaN, AlphaRule::kNone, "softmax has no parameter"},
    {kNaN, AlphaRule::kNone, "log_softmax has no parameter"},
    {1.0, AlphaRule::kFiniteNonZero, "celu's alpha must be finite and not 0"},
    {kNaN, AlphaRule::kNone, "hard_silu has no parameter"},
    {kNaN, AlphaRule::kNone, "hard_tanh has no parameter"},
    {kNaN, AlphaRule::kNone, "log_sigmoid has no parameter"},
    {kNaN, AlphaRule::kNone, "tanh_shrink has no parameter"},
    {4.0, AlphaRule::kFiniteNonNegative, "squareplus's alpha (b) must be finite and >= 0"},
    {kNaN, AlphaRule::kNone, "sparse_plus has no parameter"},
    {0.5, AlphaRule::kFiniteNonNegative,
     "soft_shrink's alpha (the threshold) must be finite and >= 0"},
    {0.5, AlphaRule::kFiniteNonNegative,
     "hard_shrink's alpha (the threshold) must be finite and >= 0"},
    {kNaN, AlphaRule::kNone, "sparse_sigmoid has no parameter"},
    {kNaN, AlphaRule::kNone, "sparsemax has no parameter"},
};
static_assert(sizeof(kAlpha) / sizeof(kAlpha[0]) == kActivationCount,
              "one kAlpha row per convt_activation value");

bool is_known(convt_activation a) noexcept { return a >= 0 && a < kActivationCount; }

bool alpha_allowed(AlphaRule rule, double alpha) noexcept {
  switch (rule) {
    case AlphaRule::kNone:
      return false;
    case AlphaRule::kFinite:
      return std::isfinite(alpha);
    case AlphaRule::kFiniteNonZero:
      return std::isfinite(alpha) && alpha != 0.0;
    case AlphaRule::kFiniteNonNegative:
      return std::isfinite(alpha) && alpha >= 0.0;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces of the element-wise maths
// ---------------------------------------------------------------------------------------------

// 1 / (1 + exp(-x)) without overflow: exp is only taken of a non-positive number.
double stable_sigmoid(double x) noexcept {
  if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): the textbook form overflows above x = 709
// (softplus(1000) is 1000) and returns 0 below x = -37, where 1 + exp(x) rounds to 1.
double stable_softplus(double x) noexcept {
  return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
}

// NaN stays NaN in every clamp below (Keras's max/min/where propagate it); comparisons with
// NaN are false, so each returns x for it.
double clamp_keep_nan(double x, double lo, double hi) noexcept {
  return x < lo ? lo : (x > hi ? hi : x);
}

// 1 for lo < x < hi, else 0: the derivative of clamp, with the flat side at the kinks.
double inside(double x, double lo, double hi) noexcept { return (x > lo && x < hi) ? 1.0 : 0.0; }

// x - tanh(x) for |x| <= 1/2 by its Taylor series: the subtraction would cancel the leading
// digits there (x = 1e-3 keeps only 6 of 16, x = 1/2 loses 4 bits). Eighteen terms reach double
// precision at |x| = 1/2; beyond it at most ~4 bits are lost, fewer as |x| grows.
double tanh_shrink_series(double x) noexcept {
  // Coefficients of x^3, x^5, ..., x^37 in x - tanh(x): -2^2n (2^2n - 1) B_2n / (2n)!, n >= 2.
  constexpr double kCoef[] = {
      0.3333333333333333,     -0.13333333333333333,    0.05396825396825397,
      -0.021869488536155203,  0.008863235529902197,    -0.003592128036572481,
      0.0014558343870513183,  -0.000590027440945586,   0.00023912911424355248,
      -9.691537956929451e-05, 3.927832388331683e-05,   -1.5918905069328964e-05,
      6.451689215655431e-06,  -2.6147711512907546e-06, 1.0597268320104654e-06,
      -4.294911078273806e-07, 1.7406618963571648e-07,  -7.054636946400968e-08};
  constexpr int kTerms = sizeof(kCoef) / sizeof(kCoef[0]);
  const double x2 = x * x;
  double sum = 0.0;
  for (int i = kTerms - 1; i >= 0; --i) sum = sum * x2 + kCoef[i];  // Horner in x^2
  return sum * x2 * x;
}

// ---------------------------------------------------------------------------------------------
// Element-wise activations: value(x, alpha) and slope(x, alpha) = d value / dx
// ---------------------------------------------------------------------------------------------

struct Linear {
  static double value(double x, double) noexcept { return x; }
  static double slope(double, double) noexcept { return 1.0; }
};

struct Relu {
  static double value(double x, double) noexcept { return x < 0.0 ? 0.0 : x; }
  static double slope(double x, double) noexcept { return x > 0.0 ? 1.0 : 0.0; }
};

struct Sigmoid {
  static double value(double x, double) noexcept { return stable_sigmoid(x); }
  // s(x) * (1 - s(x)) written as s(x) * s(-x): 1 - s(x) would cancel for large x.
  static double slope(double x, double) noexcept { return stable_sigmoid(x) * stable_sigmoid(-x); }
};

struct Tanh {
  static double value(double x, double) noexcept { return std::tanh(x); }
  static double slope(double x, double) noexcept {
    const double c = std::cosh(x);  // 1 / cosh^2 keeps its digits where 1 - tanh^2 cancels
    return 1.0 / (c * c);
  }
};

// Keras: x for x >= 0, alpha * (exp(x) - 1) for x < 0 (both pieces are 0 at 0); expm1 keeps
// the digits near 0 that exp(x) - 1 would cancel.
struct Elu {
  static double value(double x, double alpha) noexcept {
    return x > 0.0 ? x : alpha * std::expm1(x);
  }
  static double slope(double x, double alpha) noexcept {
    return x > 0.0 ? 1.0 : alpha * std::exp(x);
  }
};

// Keras's selu(x) = scale * elu(x, alpha) with these two fixed constants (ops/nn.py selu).
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

struct Selu {
  static double value(double x, double) noexcept { return kSeluScale * Elu::value(x, kSeluAlpha); }
  static double slope(double x, double) noexcept { return kSeluScale * Elu::slope(x, kSeluAlpha); }
};

struct Softplus {
  static double value(double x, double) noexcept { return stable_softplus(x); }
  static double slope(double x, double) noexcept { return stable_sigmoid(x); }
};

struct Softsign {
  static double value(double x, double) noexcept { return x / (1.0 + std::fabs(x)); }
  static double slope(double x, double) noexcept {
    const double d = 1.0 + std::fabs(x);
    return 1.0 / (d * d);
  }
};

// exp overflows to inf above ~709.78 (~88.72 in float): that is the true, unrepresentable value.
struct Exponential {
  static double value(double x, double) noexcept { return std::exp(x); }
  static double slope(double x, double) noexcept { return std::exp(x); }
};

// Keras 3: relu6(x + 3) / 6, i.e. 0 at x <= -3 and 1 at x >= 3 (not Keras 2's 0.2 x + 0.5).
struct HardSigmoid {
  static double value(double x, double) noexcept { return clamp_keep_nan(x + 3.0, 0.0, 6.0) / 6.0; }
  static double slope(double x, double) noexcept { return inside(x, -3.0, 3.0) / 6.0; }
};

// Phi(x), the standard normal CDF, as erfc(-x / sqrt 2) / 2: (1 + erf(x / sqrt 2)) / 2 would
// cancel to 0 below about x = -8 while the true value is still representable. For
// t = -x / sqrt 2 > 1, erfc's relative error grows like 2t times the error in t, so the
// rounding of t is corrected to first order: erfc(t + e) = erfc(t) - e 2/sqrt(pi) exp(-t^2)
// (without it gelu(-10) is off by ~100 ulps).
constexpr double kInvSqrt2 = 0.7071067811865476;        // 1/sqrt(2) rounded to double
constexpr double kInvSqrt2Lo = -4.833646656726457e-17;  // 1/sqrt(2) - kInvSqrt2
constexpr double kTwoOverSqrtPi = 1.1283791670955126;
constexpr double kInvSqrt2Pi = 0.39894228040143267793994605993438186848;

double normal_cdf(double x) noexcept {
  const double t = -x * kInvSqrt2;
  if (!(t > 1.0)) return 0.5 * std::erfc(t);
  const double t_error = std::fma(-x, kInvSqrt2, -t) - x * kInvSqrt2Lo;
  return 0.5 * (std::erfc(t) - t_error * kTwoOverSqrtPi * std::exp(-t * t));
}

// Keras's activations.gelu defaults to approximate=False: x * Phi(x), not the tanh form.
struct Gelu {
  static double value(double x, double) noexcept { return x * normal_cdf(x); }
  static double slope(double x, double) noexcept {
    return normal_cdf(x) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
  }
};

struct Silu {
  static double value(double x, double) noexcept { return x * stable_sigmoid(x); }
  // s + x s (1 - s), with 1 - s = s(-x) to avoid cancellation.
  static double slope(double x, double) noexcept {
    return stable_sigmoid(x) * (1.0 + x * stable_sigmoid(-x));
  }
};

struct Relu6 {
  static double value(double x, double) noexcept { return clamp_keep_nan(x, 0.0, 6.0); }
  static double slope(double x, double) noexcept { return inside(x, 0.0, 6.0); }
};

// Keras documents (and its jax, tensorflow and torch backends compute) x for x >= 0 and
// alpha * x below; written as a branch, not max(x, alpha x), which differs when alpha > 1.
struct LeakyRelu {
  static double value(double x, double alpha) noexcept { return x >= 0.0 ? x : alpha * x; }
  static double slope(double x, double alpha) noexcept { return x >= 0.0 ? 1.0 : alpha; }
};

// x * tanh(softplus(x)) (activations.py Mish.static_call), with the stable softplus.
struct Mish {
  static double value(double x, double) noexcept { return x * std::tanh(stable_softplus(x)); }
  static double slope(double x, double) noexcept {
    const double sp = stable_softplus(x);
    const double c = std::cosh(sp);
    return std::tanh(sp) + x * stable_sigmoid(x) / (c * c);
  }
};

// Keras: x for x >= 0, alpha * (exp(x / alpha) - 1) for x < 0. (For alpha < 0 this is not
// max(x, 0) + alpha * min(0, exp(x / alpha) - 1); Keras's and PyTorch's form is used.)
struct Celu {
  static double value(double x, double alpha) noexcept {
    return x > 0.0 ? x : alpha * std::expm1(x / alpha);
  }
  static double slope(double x, double alpha) noexcept {
    return x > 0.0 ? 1.0 : std::exp(x / alpha);
  }
};

// Keras: x * hard_sigmoid(x).
struct HardSilu {
  static double value(double x, double) noexcept { return x * HardSigmoid::value(x, 0.0); }
  static double slope(double x, double) noexcept {
    if (x < -3.0) return 0.0;
    if (x > 3.0) return 1.0;
    return (2.0 * x + 3.0) / 6.0;
  }
};

struct HardTanh {
  static double value(double x, double) noexcept { return clamp_keep_nan(x, -1.0, 1.0); }
  static double slope(double x, double) noexcept { return inside(x, -1.0, 1.0); }
};

// Keras: -softplus(-x); log_sigmoid(-1000) = -1000.
struct LogSigmoid {
  static double value(double x, double) noexcept { return -stable_softplus(-x); }
  static double slope(double x, double) noexcept { return stable_sigmoid(-x); }
};

struct TanhShrink {
  static double value(double x, double) noexcept {
    return std::fabs(x) <= 0.5 ? tanh_shrink_series(x) : x - std::tanh(x);
  }
  static double slope(double x, double) noexcept {
    const double t = std::tanh(x);  // 1 - (1 - tanh^2): exact, no cancellation
    return t * t;
  }
};

// Keras: (x + sqrt(x^2 + b)) / 2. For x < 0 the sum cancels (x = -1000 keeps 5 digits), so it
// is rewritten as b / (2 (sqrt(x^2 + b) - x)); hypot keeps x^2 from overflowing.
struct Squareplus {
  static double value(double x, double b) noexcept {
    const double s = std::hypot(x, std::sqrt(b));
    return x >= 0.0 ? 0.5 * (x + s) : 0.5 * b / (s - x);
  }
  // (1 + x / s) / 2, the same rearrangement for x < 0. With b = 0 and x = 0 (s = 0) it is
  // relu's kink; the right-hand derivative 1 is used.
  static double slope(double x, double b) noexcept {
    const double s = std::hypot(x, std::sqrt(b));
    if (s == 0.0) return 1.0;
    return x >= 0.0 ? 0.5 * (1.0 + x / s) : 0.5 * b / (s * (s - x));
  }
};

// Keras: 0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1. The pieces meet with equal
// slopes, so the derivative is continuous.
struct SparsePlus {
  static double value(double x, double) noexcept {
    if (x <= -1.0) return 0.0;
    if (x < 1.0) return 0.25 * (x + 1.0) * (x + 1.0);
    return x;
  }
  static double slope(double x, double) noexcept {
    if (x <= -1.0) return 0.0;
    if (x < 1.0) return 0.5 * (x + 1.0);
    return 1.0;
  }
};

// Keras: x - t for x > t, x + t for x < -t, else 0 (strict comparisons; continuous anyway).
struct SoftShrink {
  static double value(double x, double t) noexcept {
    if (x > t) return x - t;
    if (x < -t) return x + t;
    return std::isnan(x) ? x : 0.0;
  }
  static double slope(double x, double t) noexcept { return std::fabs(x) > t ? 1.0 : 0.0; }
};

// Keras: x where |x| > t, else 0. Strict, so hard_shrink(0.5) = 0 with the default threshold.
struct HardShrink {
  static double value(double x, double t) noexcept {
    return (std::fabs(x) > t || std::isnan(x)) ? x : 0.0;
  }
  static double slope(double x, double t) noexcept { return std::fabs(x) > t ? 1.0 : 0.0; }
};

// Keras: 0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1.
struct SparseSigmoid {
  static double value(double x, double) noexcept {
    return clamp_keep_nan(0.5 * (x + 1.0), 0.0, 1.0);
  }
  static double slope(double x, double) noexcept { return 0.5 * inside(x, -1.0, 1.0); }
};

// Calls visit(Rule{}) with the element-wise rule of `a`; returns false (and calls nothing) for
// the activations that act along an axis and for unknown values.
template <typename Visitor>
bool visit_elementwise(convt_activation a, Visitor&& visit) noexcept {
  switch (a) {
    // clang-format off
    case CONVT_ACTIVATION_LINEAR:         visit(Linear{});        return true;
    case CONVT_ACTIVATION_RELU:           visit(Relu{});          return true;
    case CONVT_ACTIVATION_SIGMOID:        visit(Sigmoid{});       return true;
    case CONVT_ACTIVATION_TANH:           visit(Tanh{});          return true;
    case CONVT_ACTIVATION_ELU:            visit(Elu{});           return true;
    case CONVT_ACTIVATION_SELU:           visit(Selu{});          return true;
    case CONVT_ACTIVATION_SOFTPLUS:       visit(Softplus{});      return true;
    case CONVT_ACTIVATION_SOFTSIGN:       visit(Softsign{});      return true;
    case CONVT_ACTIVATION_EXPONENTIAL:    visit(Exponential{});   return true;
    case CONVT_ACTIVATION_HARD_SIGMOID:   visit(HardSigmoid{});   return true;
    case CONVT_ACTIVATION_GELU:           visit(Gelu{});          return true;
    case CONVT_ACTIVATION_SILU:           visit(Silu{});          return true;
    case CONVT_ACTIVATION_RELU6:          visit(Relu6{});         return true;
    case CONVT_ACTIVATION_LEAKY_RELU:     visit(LeakyRelu{});     return true;
    case CONVT_ACTIVATION_MISH:           visit(Mish{});          return true;
    case CONVT_ACTIVATION_CELU:           visit(Celu{});          return true;
    case CONVT_ACTIVATION_HARD_SILU:      visit(HardSilu{});      return true;
    case CONVT_ACTIVATION_HARD_TANH:      visit(HardTanh{});      return true;
    case CONVT_ACTIVATION_LOG_SIGMOID:    visit(LogSigmoid{});    return true;
    case CONVT_ACTIVATION_TANH_SHRINK:    visit(TanhShrink{});    return true;
    case CONVT_ACTIVATION_SQUAREPLUS:     visit(Squareplus{});    return true;
    case CONVT_ACTIVATION_SPARSE_PLUS:    visit(SparsePlus{});    return true;
    case CONVT_ACTIVATION_SOFT_SHRINK:    visit(SoftShrink{});    return true;
    case CONVT_ACTIVATION_HARD_SHRINK:    visit(HardShrink{});    return true;
    case CONVT_ACTIVATION_SPARSE_SIGMOID: visit(SparseSigmoid{}); return true;
    // clang-format on
    default:
      return false;
  }
}

// g * f'(z), except that a zero incoming gradient stays zero where f'(z) overflowed to inf
// (exponential at z = 1000): the true product is 0, and 0 * inf would be NaN.
double chain(double g, double slope) noexcept {
  return (g == 0.0 && !std::isnan(slope)) ? 0.0 : g * slope;
}

// ---------------------------------------------------------------------------------------------
// Activations along the last axis, one row of n values at a time
// ---------------------------------------------------------------------------------------------

template <typename T>
double row_max(const T* z, int64_t n) noexcept {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(z[i]));
  return m;
}

// e[i] = exp(z[i] - max z); returns max z and the sum of the e[i] (>= 1). The shift keeps exp
// from overflowing and changes nothing: softmax is invariant to adding a constant to the row.
struct ShiftedExp {
  double max;
  double sum;
};

template <typename T>
ShiftedExp shifted_exp(const T* z, int64_t n, double* e) noexcept {
  const double m = row_max(z, n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    e[i] = std::exp(static_cast<double>(z[i]) - m);
    sum += e[i];
  }
  return {m, sum};
}

template <typename T>
bool row_has_nan(const T* z, int64_t n) noexcept {
  return std::any_of(z, z + n, [](T v) { return std::isnan(v); });
}

// The sparsemax threshold of a row (Martins & Astudillo 2016, Algorithm 1): with z sorted
// descending, k = max{k : 1 + k z_(k) > z_(1) + ... + z_(k)} and tau = (z_(1) + ... + z_(k) - 1)
// / k. Released Keras divides the sum of the first k *cumulative sums* instead
// (keras-team/keras#23425), which is wrong whenever k > 1. `sorted` is n doubles of scratch.
template <typename T>
double sparsemax_threshold(const T* z, int64_t n, double* sorted) noexcept {
  for (int64_t i = 0; i < n; ++i) sorted[i] = static_cast<double>(z[i]);
  std::sort(sorted, sorted + n, std::greater<double>());  // in place: no allocation
  // k = 1 always qualifies for finite values; starting there keeps k >= 1 for a row of -inf.
  double cumsum = sorted[0];
  double support_sum = cumsum;
  int64_t k = 1;
  for (int64_t j = 1; j < n; ++j) {
    cumsum += sorted[j];
    if (1.0 + static_cast<double>(j + 1) * sorted[j] > cumsum) {
      k = j + 1;
      support_sum = cumsum;
    }
  }
  return (support_sum - 1.0) / static_cast<double>(k);
}

template <typename T>
void softmax_row(T* z, int64_t n, double* scratch) noexcept {
  const double sum = shifted_exp(z, n, scratch).sum;
  for (int64_t i = 0; i < n; ++i) z[i] = static_cast<T>(scratch[i] / sum);
}

// log_softmax = (z - max) - log(sum exp(z - max)); never log of a rounded-to-0 probability.
template <typename T>
void log_softmax_row(T* z, int64_t n, double* scratch) noexcept {
  const ShiftedExp s = shifted_exp(z, n, scratch);
  const double log_sum = std::log(s.sum);
  for (int64_t i = 0; i < n; ++i) {
    z[i] = static_cast<T>((static_cast<double>(z[i]) - s.max) - log_sum);
  }
}

template <typename T>
void sparsemax_row(T* z, int64_t n, double* scratch) noexcept {
  // A NaN anywhere makes the threshold undefined (and would break std::sort's ordering).
  if (row_has_nan(z, n)) {
    std::fill(z, z + n, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  const double tau = sparsemax_threshold(z, n, scratch);
  for (int64_t i = 0; i < n; ++i) {
    z[i] = static_cast<T>(std::max(static_cast<double>(z[i]) - tau, 0.0));
  }
}

// dz = y * (g - <g, y>), y = softmax(z).
template <typename T>
void softmax_backward_row(const T* z, T* g, int64_t n, double* scratch) noexcept {
  const double sum = shifted_exp(z, n, scratch).sum;
  double dot = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    scratch[i] /= sum;
    dot += static_cast<double>(g[i]) * scratch[i];
  }
  for (int64_t i = 0; i < n; ++i) {
    g[i] = static_cast<T>(scratch[i] * (static_cast<double>(g[i]) - dot));
  }
}

// dz = g - softmax(z) * sum(g).
template <typename T>
void log_softmax_backward_row(const T* z, T* g, int64_t n, double* scratch) noexcept {
  const double sum = shifted_exp(z, n, scratch).sum;
  double g_sum = 0.0;
  for (int64_t i = 0; i < n; ++i) g_sum += static_cast<double>(g[i]);
  for (int64_t i = 0; i < n; ++i) {
    g[i] = static_cast<T>(static_cast<double>(g[i]) - scratch[i] / sum * g_sum);
  }
}

// On the support S = {i : z_i > tau} (where y > 0) dz_i = g_i - mean of g over S; 0 elsewhere.
template <typename T>
void sparsemax_backward_row(const T* z, T* g, int64_t n, double* scratch) noexcept {
  if (row_has_nan(z, n)) {
    std::fill(g, g + n, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  const double tau = sparsemax_threshold(z, n, scratch);
  double g_sum = 0.0;
  int64_t support = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (static_cast<double>(z[i]) > tau) {
      g_sum += static_cast<double>(g[i]);
      ++support;
    }
  }
  const double g_mean = support > 0 ? g_sum / static_cast<double>(support) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    g[i] =
        static_cast<double>(z[i]) > tau ? static_cast<T>(static_cast<double>(g[i]) - g_mean) : T(0);
  }
}

}  // namespace

double activation_default_alpha(convt_activation a) noexcept {
  return is_known(a) ? kAlpha[a].default_value : kNaN;
}

const char* activation_alpha_problem(convt_activation a, double alpha) noexcept {
  if (!is_known(a)) return "the activation is not a convt_activation value (0 to 27)";
  const AlphaInfo& info = kAlpha[a];
  return alpha_allowed(info.rule, alpha) ? nullptr : info.problem;
}

bool activation_along_axis(convt_activation a) noexcept {
  return a == CONVT_ACTIVATION_SOFTMAX || a == CONVT_ACTIVATION_LOG_SOFTMAX ||
         a == CONVT_ACTIVATION_SPARSEMAX;
}

int64_t activation_scratch_doubles(convt_activation a, int64_t row_len) noexcept {
  return activation_along_axis(a) ? row_len : 0;
}

template <typename T>
void apply_activation(convt_activation a, double alpha, T* data, int64_t rows, int64_t row_len,
                      double* scratch) noexcept {
  if (rows <= 0 || row_len <= 0 || a == CONVT_ACTIVATION_LINEAR) return;  // identity
  const int64_t count = rows * row_len;
  const bool elementwise = visit_elementwise(a, [&](auto rule) {
    using Rule = decltype(rule);
    for (int64_t i = 0; i < count; ++i) {
      data[i] = static_cast<T>(Rule::value(static_cast<double>(data[i]), alpha));
    }
  });
  if (elementwise) return;

  void (*row_fn)(T*, int64_t, double*) noexcept = nullptr;
  if (a == CONVT_ACTIVATION_SOFTMAX) row_fn = softmax_row<T>;
  if (a == CONVT_ACTIVATION_LOG_SOFTMAX) row_fn = log_softmax_row<T>;
  if (a == CONVT_ACTIVATION_SPARSEMAX) row_fn = sparsemax_row<T>;
  if (row_fn == nullptr) return;  // unknown activation: rejected before it can get here
  for (int64_t r = 0; r < rows; ++r) row_fn(data + r * row_len, row_len, scratch);
}

template <typename T>
void activation_backward(convt_activation a, double alpha, const T* pre, T* grad, int64_t rows,
                         int64_t row_len, double* scratch) noexcept {
  if (rows <= 0 || row_len <= 0) return;
  const int64_t count = rows * row_len;
  const bool elementwise = visit_elementwise(a, [&](auto rule) {
    using Rule = decltype(rule);
    for (int64_t i = 0; i < count; ++i) {
      const double slope = Rule::slope(static_cast<double>(pre[i]), alpha);
      grad[i] = static_cast<T>(chain(static_cast<double>(grad[i]), slope));
    }
  });
  if (elementwise) return;

  void (*row_fn)(const T*, T*, int64_t, double*) noexcept = nullptr;
  if (a == CONVT_ACTIVATION_SOFTMAX) row_fn = softmax_backward_row<T>;
  if (a == CONVT_ACTIVATION_LOG_SOFTMAX) row_fn = log_softmax_backward_row<T>;
  if (a == CONVT_ACTIVATION_SPARSEMAX) row_fn = sparsemax_backward_row<T>;
  if (row_fn == nullptr) return;
  for (int64_t r = 0; r < rows; ++r) {
    row_fn(pre + r * row_len, grad + r * row_len, row_len, scratch);
  }
}

template void apply_activation<float>(convt_activation, double, float*, int64_t, int64_t,
                                      double*) noexcept;
template void apply_activation<double>(convt_activation, double, double*, int64_t, int64_t,
                                       double*) noexcept;
template void activation_backward<float>(convt_activation, double, const float*, float*, int64_t,
                                         int64_t, double*) noexcept;
template void activation_backward<double>(convt_activation, double, const double*, double*, int64_t,
                                          int64_t, double*) noexcept;

}  // namespace convt::detail
