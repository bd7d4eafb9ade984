// Keras 3's initializers (keras/src/initializers/random_initializers.py and
// constant_initializers.py) on a generator of our own, so the same (seed, stream) gives bitwise
// the same weights on every run, build and machine.
//
// BUILD NOTE: compile this file with -ffp-contract=off (CMake keeps it as a per-file option).
// Every value here comes from + - * / and sqrt, which IEEE 754 rounds correctly, but only if no
// compiler fuses a * b + c into one FMA (one rounding instead of two): gcc does so by default
// and clang within an expression, and only where the target has FMA (aarch64: always). The
// pragmas below repeat the flag for builds that lose it; clang ignores its pragma under an
// explicit -ffp-contract=fast, so the flag stays the rule. No libm call is made: log, exp and
// the like are not correctly rounded and differ between libm versions.
#include "initializers.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "checked.hpp"
#include "error.hpp"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Wider intermediate precision (x87) or fast-math reassociation would change the last bits.
static_assert(FLT_EVAL_METHOD == 0, "initializers.cpp needs double arithmetic in double (SSE2)");
#ifdef __FAST_MATH__
#error "initializers.cpp must not be built with -ffast-math: its results must be bitwise fixed"
#endif

namespace convt::detail {
namespace {

// Keras's correction: the standard deviation of a standard normal truncated at +-2, by which
// VarianceScaling divides so that the truncated values keep the variance scale / n.
constexpr double kTruncatedNormalSd = 0.87962566103423978;

// SplitMix64 step: a bijection of the state's increment, used only to expand keys into the
// generator's state (Vigna's recommended seeding for xoshiro).
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

// ln(x) for normal x > 0 from exact and correctly rounded operations only: x = m * 2^e
// (std::frexp is exact) with m in [sqrt(1/2), sqrt(2)), then ln(m) = 2 atanh(t) with
// t = (m - 1) / (m + 1), |t| < 0.1716: of its series t * sum t^2i / (2i + 1), the first term
// left out (i = 11) is below 1e-18 of the sum. ln 2 is split so that e * kLn2Hi is exact.
double ln(double x) {
  constexpr double kSqrtHalf = 0x1.6a09e667f3bcdp-1;
  constexpr double kLn2Hi = 0x1.62e42feep-1;
  constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
  constexpr int kTerms = 11;
  int e = 0;
  double m = std::frexp(x, &e);
  if (m < kSqrtHalf) {
    m = m * 2.0;
    e = e - 1;
  }
  const double t = (m - 1.0) / (m + 1.0);
  const double t2 = t * t;
  double series = 0.0;  // sum of t2^i / (2i + 1), by Horner from the smallest term
  for (int i = kTerms - 1; i >= 0; --i) series = series * t2 + 1.0 / (2 * i + 1);
  const double de = e;
  return de * kLn2Hi + (de * kLn2Lo + 2.0 * t * series);
}

// Keras's three distributions, each with unit scale: uniform on (-1, 1), standard normal, and
// standard normal redrawn beyond +-2 (random.truncated_normal).
enum class Distribution { kUniform, kNormal, kTruncatedNormal };

// xoshiro256** keyed by (seed, stream), with the uniform and normal draws built on it.
class Generator {
 public:
  // Each key feeds its own SplitMix64 sequence (the constant keeps the two apart when
  // seed == stream), whose values are bijections of the key: s_[0] alone fixes the seed and
  // s_[2] the stream, so distinct (seed, stream) pairs start from distinct states. The first
  // output depends on s_[1] only, so it mixes both keys; s_[3] is odd, so the state is never
  // all zero.
  Generator(uint64_t seed, uint64_t stream) {
    uint64_t a = seed;
    uint64_t b = stream ^ 0xA0761D6478BD642Fu;
    s_[0] = splitmix64(a);
    s_[2] = splitmix64(b);
    s_[1] = splitmix64(a) ^ splitmix64(b);
    s_[3] = (splitmix64(a) ^ splitmix64(b)) | 1u;
  }

  // A draw of `d` at unit scale. The polar method's rejections and the truncation's redraws
  // compare values that are bitwise fixed, so the number of draws repeats on every build too.
  double draw(Distribution d) {
    if (d == Distribution::kUniform) return symmetric();
    double z = normal();
    while (d == Distribution::kTruncatedNormal && (z < -2.0 || z > 2.0)) z = normal();
    return z;
  }

 private:
  // Uniform on (-1, 1): (2k + 1 - 2^53) / 2^53 for the top 53 bits k, exact in a double. The
  // values are symmetric about 0 and never 0 or +-1, so limit * symmetric() stays within
  // [-limit, limit] (rounding is monotone) and the polar method never sees s = 0.
  double symmetric() {
    const auto k = static_cast<int64_t>(next() >> 11);
    return static_cast<double>(2 * k + 1 - (int64_t{1} << 53)) * 0x1p-53;
  }

  // Standard normal by Marsaglia's polar method, which needs only ln and sqrt; its second
  // value is kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = 0.0;
    double v = 0.0;
    double s = 1.0;
    while (s >= 1.0) {
      u = symmetric();
      v = symmetric();
      s = u * u + v * v;
    }
    const double f = std::sqrt(-2.0 * ln(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

int64_t product(std::vector<int64_t>::const_iterator first,
                std::vector<int64_t>::const_iterator last) {
  int64_t p = 1;
  for (; first != last; ++first) p = checked_mul(p, *first, "initializer shape size");
  return p;
}

// Keras's compute_fans: rank 0 -> (1, 1); rank 1 -> (n, n); rank 2 -> (rows, cols); rank >= 3
// is a convolution kernel (..., a, b) -> (a * receptive field, b * receptive field). For the
// kernel (K, F, C/G): fan_in = K * F, fan_out = K * C/G.
struct Fans {
  double in;
  double out;
};

Fans compute_fans(const std::vector<int64_t>& shape) {
  const auto rank = shape.size();
  if (rank == 0) return {1.0, 1.0};
  if (rank == 1) return {static_cast<double>(shape[0]), static_cast<double>(shape[0])};
  const double field = static_cast<double>(product(shape.begin(), shape.end() - 2));
  return {static_cast<double>(shape[rank - 2]) * field,
          static_cast<double>(shape[rank - 1]) * field};
}

// out[i] = width * a draw of `d`: width is the uniform limit or the normal's deviation.
void fill_random(Distribution d, double width, Generator& gen, int64_t count, double* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = width * gen.draw(d);
}

// Keras's VarianceScaling with the same double arithmetic as its Python: scale / max(1, n),
// then limit sqrt(3 * scale) or deviation sqrt(scale) / 0.8796..., so the limits and
// deviations equal Keras's to the bit.
void variance_scaling(double scale, double n, Distribution d, Generator& gen, int64_t count,
                      double* out) {
  scale = scale / std::max(1.0, n);
  const double width =
      d == Distribution::kUniform ? std::sqrt(3.0 * scale) : std::sqrt(scale) / kTruncatedNormalSd;
  fill_random(d, width, gen, count, out);
}

double dot(const double* x, const double* y, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s = s + x[i] * y[i];
  return s;
}

// y -= beta * (v . y) * v: applies the Householder reflector I - beta v v^T to y.
void reflect(const double* v, double beta, int64_t n, double* y) {
  const double f = beta * dot(v, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] - f * v[i];
}

// Q of the Householder QR of the m x k (m >= k) matrix `a` (column-major, overwritten), each
// column times sign(R[j][j]) as Keras does. That makes Q the unique factor whose R has a
// positive diagonal, whatever QR algorithm computed it; Householder keeps Q orthogonal to a
// few ulps even for ill-conditioned Gaussian matrices, where Gram-Schmidt would not.
std::vector<double> sign_fixed_q(int64_t m, int64_t k, std::vector<double>& a) {
  std::vector<double> beta(k);
  std::vector<double> sign(k);
  for (int64_t j = 0; j < k; ++j) {
    double* v = &a[j * m + j];  // column j from the diagonal down becomes the reflector
    const double norm = std::sqrt(dot(v, v, m - j));
    const double r = v[0] >= 0.0 ? -norm : norm;  // R[j][j], opposite to v[0]: no cancellation
    v[0] = v[0] - r;
    const double vv = dot(v, v, m - j);
    beta[j] = vv > 0.0 ? 2.0 / vv : 0.0;
    sign[j] = r > 0.0 ? 1.0 : (r < 0.0 ? -1.0 : 0.0);  // ops.sign: 0 for 0
    for (int64_t c = j + 1; c < k; ++c) reflect(v, beta[j], m - j, &a[c * m + j]);
  }
  // Q = H_0 ... H_{k-1} times the first k columns of I, applied from the last reflector; H_j
  // leaves rows < j alone, so only columns >= j change.
  std::vector<double> q(m * k, 0.0);
  for (int64_t j = 0; j < k; ++j) q[j * m + j] = 1.0;
  for (int64_t j = k - 1; j >= 0; --j) {
    for (int64_t c = j; c < k; ++c) reflect(&a[j * m + j], beta[j], m - j, &q[c * m + j]);
  }
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t i = 0; i < m; ++i) q[j * m + i] = q[j * m + i] * sign[j];
  }
  return q;
}

// Keras's Orthogonal (gain 1): the shape as a rows x cols matrix, rows = prod(shape[:-1]); a
// Gaussian matrix of shape (max, min) drawn row by row; its sign-fixed Q, transposed when
// rows < cols. The gain of 1 needs no multiplication.
void orthogonal(const std::vector<int64_t>& shape, Generator& gen, double* out) {
  if (shape.size() < 2) {
    const std::string rank = std::to_string(shape.size());
    fail(CONVT_E_INVALID_ARGUMENT,
         "orthogonal initializer: Keras requires a shape of rank >= 2, got rank " + rank);
  }
  const int64_t rows = product(shape.begin(), shape.end() - 1);
  const int64_t cols = shape.back();
  const int64_t m = std::max(rows, cols);
  const int64_t k = std::min(rows, cols);
  std::vector<double> a(m * k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < k; ++j) a[j * m + i] = gen.draw(Distribution::kNormal);
  }
  const std::vector<double> q = sign_fixed_q(m, k, a);
  if (rows >= cols) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = q[j * m + i];
    }
  } else {
    std::copy(q.begin(), q.end(), out);  // Q^T row-major is Q column-major
  }
}

}  // namespace

void fill_initializer(convt_initializer init, const std::vector<int64_t>& shape, uint64_t seed,
                      uint64_t stream, double* out) {
  const int64_t count = product(shape.begin(), shape.end());
  const Fans fans = compute_fans(shape);
  const double fan_avg = (fans.in + fans.out) / 2.0;
  Generator gen(seed, stream);
  constexpr auto kUniform = Distribution::kUniform;
  constexpr auto kNormal = Distribution::kNormal;
  constexpr auto kTruncated = Distribution::kTruncatedNormal;
  switch (init) {
    case CONVT_INITIALIZER_ZEROS:
      return std::fill(out, out + count, 0.0);
    case CONVT_INITIALIZER_ONES:
      return std::fill(out, out + count, 1.0);
    case CONVT_INITIALIZER_GLOROT_UNIFORM:
      return variance_scaling(1.0, fan_avg, kUniform, gen, count, out);
    case CONVT_INITIALIZER_GLOROT_NORMAL:
      return variance_scaling(1.0, fan_avg, kTruncated, gen, count, out);
    case CONVT_INITIALIZER_HE_UNIFORM:
      return variance_scaling(2.0, fans.in, kUniform, gen, count, out);
    case CONVT_INITIALIZER_HE_NORMAL:
      return variance_scaling(2.0, fans.in, kTruncated, gen, count, out);
    case CONVT_INITIALIZER_LECUN_UNIFORM:
      return variance_scaling(1.0, fans.in, kUniform, gen, count, out);
    case CONVT_INITIALIZER_LECUN_NORMAL:
      return variance_scaling(1.0, fans.in, kTruncated, gen, count, out);
    case CONVT_INITIALIZER_RANDOM_UNIFORM:  // U(-0.05, 0.05)
      return fill_random(kUniform, 0.05, gen, count, out);
    case CONVT_INITIALIZER_RANDOM_NORMAL:  // N(0, 0.05)
      return fill_random(kNormal, 0.05, gen, count, out);
    case CONVT_INITIALIZER_TRUNCATED_NORMAL:  // N(0, 0.05) redrawn beyond 2 sd
      return fill_random(kTruncated, 0.05, gen, count, out);
    case CONVT_INITIALIZER_ORTHOGONAL:
      return orthogonal(shape, gen, out);
    default:
      fail(CONVT_E_INVALID_ARGUMENT, "unknown initializer " + std::to_string(init));
  }
}

}  // namespace convt::detail
