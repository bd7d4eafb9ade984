// Keras's initializers: exact constants and limits, the sample moments Keras's formulas target,
// fans by Keras's compute_fans, orthogonality, determinism per (seed, stream), and golden bits
// that every build and machine must reproduce.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "error.hpp"
#include "initializers.hpp"

namespace {

using convt::detail::fill_initializer;
using Shape = std::vector<int64_t>;

// Keras's truncated-normal correction: the sd of a standard normal truncated at +-2.
constexpr double kTruncSd = 0.87962566103423978;

int64_t count_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<double> draw(convt_initializer init, const Shape& shape, uint64_t seed,
                         uint64_t stream = 0) {
  std::vector<double> v(static_cast<size_t>(count_of(shape)));
  fill_initializer(init, shape, seed, stream, v.data());
  return v;
}

// At least `n` values of `init` for `shape`, from seeds 1, 2, ... concatenated.
std::vector<double> draw_many(convt_initializer init, const Shape& shape, int64_t n) {
  std::vector<double> all;
  for (uint64_t seed = 1; static_cast<int64_t>(all.size()) < n; ++seed) {
    const std::vector<double> v = draw(init, shape, seed);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

uint64_t bits(double x) {
  uint64_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Sample mean and second moment with their standard errors, for 5-standard-error checks.
struct Moments {
  double mean, se_mean, m2, se_m2;
};

Moments moments(const std::vector<double>& v) {
  double s1 = 0.0, s2 = 0.0, s4 = 0.0;
  for (double x : v) {
    s1 += x;
    s2 += x * x;
    s4 += x * x * x * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = s1 / n, m2 = s2 / n, m4 = s4 / n;
  return {mean, std::sqrt((m2 - mean * mean) / n), m2, std::sqrt((m4 - m2 * m2) / n)};
}

void check_moments(const std::vector<double>& v, double variance) {
  const Moments m = moments(v);
  CHECK(std::fabs(m.mean) <= 5.0 * m.se_mean);
  CHECK(std::fabs(m.m2 - variance) <= 5.0 * m.se_m2);
}

// Fraction of |v| > t, and whether it is within 5 standard errors of p.
bool tail_fraction_is(const std::vector<double>& v, double t, double p) {
  const double n = static_cast<double>(v.size());
  const double k = static_cast<double>(
      std::count_if(v.begin(), v.end(), [t](double x) { return std::fabs(x) > t; }));
  return std::fabs(k / n - p) <= 5.0 * std::sqrt(p * (1.0 - p) / n);
}

// Keras's VarianceScaling arithmetic for the expected limit and deviation.
double uniform_limit(double scale, double n) { return std::sqrt(3.0 * (scale / std::max(1.0, n))); }
double truncated_sd(double scale, double n) {
  return std::sqrt(scale / std::max(1.0, n)) / kTruncSd;
}

// Rows-by-cols matrix M of an orthogonal output: max |M^T M - I| (tall, square) or
// max |M M^T - I| (wide).
double orthogonality_error(const std::vector<double>& m, int64_t rows, int64_t cols) {
  const bool wide = rows < cols;
  const int64_t k = wide ? rows : cols, len = wide ? cols : rows;
  const auto at = [&](int64_t vec, int64_t i) {
    return wide ? m[vec * cols + i] : m[i * cols + vec];
  };
  double err = 0.0;
  for (int64_t a = 0; a < k; ++a) {
    for (int64_t b = 0; b < k; ++b) {
      double s = 0.0;
      for (int64_t i = 0; i < len; ++i) s += at(a, i) * at(b, i);
      err = std::max(err, std::fabs(s - (a == b ? 1.0 : 0.0)));
    }
  }
  return err;
}

}  // namespace

TEST_CASE("zeros and ones fill every element with exactly +0 and 1", "[initializers]") {
  for (const Shape& shape : {Shape{3, 4, 5}, Shape{7}}) {
    for (double x : draw(CONVT_INITIALIZER_ZEROS, shape, 9)) CHECK(bits(x) == bits(0.0));
    for (double x : draw(CONVT_INITIALIZER_ONES, shape, 9)) CHECK(x == 1.0);
  }
}

TEST_CASE("uniform initializers stay within Keras's limit with mean 0 and variance limit^2/3",
          "[initializers]") {
  const Shape shape{5, 16, 12};  // fan_in = 80, fan_out = 60
  struct Case {
    convt_initializer init;
    double limit;
  };
  const Case cases[] = {{CONVT_INITIALIZER_GLOROT_UNIFORM, uniform_limit(1.0, 70.0)},
                        {CONVT_INITIALIZER_HE_UNIFORM, uniform_limit(2.0, 80.0)},
                        {CONVT_INITIALIZER_LECUN_UNIFORM, uniform_limit(1.0, 80.0)},
                        {CONVT_INITIALIZER_RANDOM_UNIFORM, 0.05}};
  for (const Case& c : cases) {
    INFO("initializer " << c.init);
    const std::vector<double> v = draw_many(c.init, shape, 200000);
    CHECK(max_abs(v) <= c.limit);
    CHECK(max_abs(v) >= c.limit * (1.0 - 1e-4));
    check_moments(v, c.limit * c.limit / 3.0);
  }
}

TEST_CASE("truncated-normal initializers stay within 2 sd and have Keras's variance scale / n",
          "[initializers]") {
  const Shape shape{5, 16, 12};  // fan_in = 80, fan_out = 60
  struct Case {
    convt_initializer init;
    double sd;
  };
  const Case cases[] = {{CONVT_INITIALIZER_GLOROT_NORMAL, truncated_sd(1.0, 70.0)},
                        {CONVT_INITIALIZER_HE_NORMAL, truncated_sd(2.0, 80.0)},
                        {CONVT_INITIALIZER_LECUN_NORMAL, truncated_sd(1.0, 80.0)},
                        {CONVT_INITIALIZER_TRUNCATED_NORMAL, 0.05}};
  for (const Case& c : cases) {
    INFO("initializer " << c.init);
    const std::vector<double> v = draw_many(c.init, shape, 200000);
    CHECK(max_abs(v) <= 2.0 * c.sd);
    CHECK(max_abs(v) >= 2.0 * c.sd * (1.0 - 1e-3));
    // A normal truncated at +-2 sd keeps kTruncSd^2 = 0.7737... of its variance, which Keras's
    // corrected sd turns back into scale / n (for truncated_normal: 0.05^2 * 0.7737...).
    check_moments(v, c.sd * kTruncSd * c.sd * kTruncSd);
    // Of a normal truncated at 2 sd, P(|z| > 1) = (0.954500 - 0.682689) / 0.954500.
    CHECK(tail_fraction_is(v, c.sd, (0.9544997361 - 0.6826894921) / 0.9544997361));
  }
}

TEST_CASE("random_normal is N(0, 0.05) and not truncated", "[initializers]") {
  const std::vector<double> v = draw_many(CONVT_INITIALIZER_RANDOM_NORMAL, {5, 16, 12}, 400000);
  check_moments(v, 0.05 * 0.05);
  CHECK(tail_fraction_is(v, 0.05, 1.0 - 0.6826894921));
  CHECK(tail_fraction_is(v, 0.10, 1.0 - 0.9544997361));
  CHECK(tail_fraction_is(v, 0.15, 1.0 - 0.9973002039));
  CHECK(max_abs(v) > 0.2);
}

TEST_CASE("fans follow Keras's compute_fans for kernels (K, F, C/G) and rank 1 and 2 shapes",
          "[initializers]") {
  struct Case {
    Shape shape;
    double fan_in, fan_out;
  };
  const Case cases[] = {
      {{3, 4, 5}, 12, 15},     // kernel (K, F, C/G): fan_in = K*F, fan_out = K*C/G
      {{1, 8, 2}, 8, 2},       // K = 1
      {{7, 1, 3}, 7, 21},      // one filter
      {{2, 3, 4, 5}, 24, 30},  // rank 4: receptive field 2*3
      {{6, 9}, 6, 9},          // rank 2: (fan_in, fan_out)
      {{10}, 10, 10},          // rank 1, the bias: fan_in = fan_out = filters
  };
  for (const Case& c : cases) {
    INFO("shape rank " << c.shape.size() << ", first dim " << c.shape[0]);
    // he_uniform's limit gives fan_in and glorot_uniform's fan_in + fan_out; 20000 values
    // reach within 1e-3 of a limit with probability 1 - 2e-9.
    const double he = uniform_limit(2.0, c.fan_in);
    const double glorot = uniform_limit(1.0, (c.fan_in + c.fan_out) / 2.0);
    const std::vector<double> h = draw_many(CONVT_INITIALIZER_HE_UNIFORM, c.shape, 20000);
    const std::vector<double> g = draw_many(CONVT_INITIALIZER_GLOROT_UNIFORM, c.shape, 20000);
    CHECK(max_abs(h) <= he);
    CHECK(max_abs(h) >= he * (1.0 - 1e-3));
    CHECK(max_abs(g) <= glorot);
    CHECK(max_abs(g) >= glorot * (1.0 - 1e-3));
  }
}

TEST_CASE("orthogonal gives orthonormal columns (tall, square) or rows (wide) to 1e-12",
          "[initializers]") {
  struct Case {
    Shape shape;
    int64_t rows, cols;
  };
  const Case cases[] = {{{3, 4, 5}, 12, 5}, {{2, 3, 6}, 6, 6},    {{1, 2, 7}, 2, 7},
                        {{9, 4}, 9, 4},     {{4, 9}, 4, 9},       {{8, 8, 64}, 64, 64},
                        {{1, 1, 1}, 1, 1},  {{5, 16, 12}, 80, 12}};
  for (const Case& c : cases) {
    INFO("rows " << c.rows << ", cols " << c.cols);
    for (uint64_t seed = 0; seed < 5; ++seed) {
      CHECK(orthogonality_error(draw(CONVT_INITIALIZER_ORTHOGONAL, c.shape, seed), c.rows,
                                c.cols) <= 1e-12);
    }
  }
}

TEST_CASE("orthogonal is the Q with positive R diagonal of the Gaussian matrix of its stream",
          "[initializers]") {
  // Keras: A is normal of shape (max(rows, cols), min(rows, cols)); A = Q R with Q's columns
  // times sign(diag(R)), so Q^T A is upper triangular with a positive diagonal. random_normal
  // of A's shape draws 0.05 * the same Gaussian values from the same (seed, stream).
  struct Case {
    Shape shape;
    int64_t rows, cols;
  };
  const Case cases[] = {{{3, 4, 5}, 12, 5}, {{2, 3, 6}, 6, 6}, {{1, 3, 8}, 3, 8}};
  for (const Case& c : cases) {
    INFO("rows " << c.rows << ", cols " << c.cols);
    const int64_t m = std::max(c.rows, c.cols), k = std::min(c.rows, c.cols);
    const std::vector<double> out = draw(CONVT_INITIALIZER_ORTHOGONAL, c.shape, 3, 1);
    const std::vector<double> a = draw(CONVT_INITIALIZER_RANDOM_NORMAL, {m, k}, 3, 1);
    // Q (m x k) is the output itself when tall, its transpose when wide.
    const auto q = [&](int64_t i, int64_t j) {
      return c.rows >= c.cols ? out[i * k + j] : out[j * m + i];
    };
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < k; ++j) {
        double r = 0.0;  // R[i][j] = (Q^T A)[i][j], A = a / 0.05
        for (int64_t t = 0; t < m; ++t) r += q(t, i) * a[t * k + j] / 0.05;
        if (i > j) CHECK(std::fabs(r) <= 1e-12);
        if (i == j) CHECK(r > 0.0);
      }
    }
  }
}

TEST_CASE("orthogonal of a rank < 2 shape throws Error CONVT_E_INVALID_ARGUMENT",
          "[initializers]") {
  for (const Shape& shape : {Shape{8}, Shape{}}) {
    std::vector<double> out(8);
    try {
      fill_initializer(CONVT_INITIALIZER_ORTHOGONAL, shape, 1, 1, out.data());
      FAIL("no exception");
    } catch (const convt::detail::Error& e) {
      CHECK(e.status() == CONVT_E_INVALID_ARGUMENT);
      CHECK(std::string(e.what()).find("rank >= 2") != std::string::npos);
    }
  }
}

TEST_CASE("an unknown initializer value throws Error CONVT_E_INVALID_ARGUMENT", "[initializers]") {
  double out[4];
  for (convt_initializer init : {-1, convt::detail::kInitializerCount}) {
    try {
      fill_initializer(init, {4}, 1, 0, out);
      FAIL("no exception");
    } catch (const convt::detail::Error& e) {
      CHECK(e.status() == CONVT_E_INVALID_ARGUMENT);
    }
  }
}

TEST_CASE("the same (seed, stream) gives the same bits and another seed or stream other values",
          "[initializers]") {
  const Shape shape{3, 4, 5};
  for (convt_initializer init = CONVT_INITIALIZER_GLOROT_UNIFORM;
       init < convt::detail::kInitializerCount; ++init) {
    INFO("initializer " << init);
    const std::vector<double> base = draw(init, shape, 7, 0);
    const std::vector<double> again = draw(init, shape, 7, 0);
    CHECK(std::memcmp(base.data(), again.data(), base.size() * sizeof(double)) == 0);
    for (const std::vector<double>& other :
         {draw(init, shape, 8, 0), draw(init, shape, 7, 1), draw(init, shape, 0, 7)}) {
      for (size_t i = 0; i < base.size(); ++i) CHECK(other[i] != base[i]);
    }
  }
}

TEST_CASE("golden bits: every build and machine draws exactly these values", "[initializers]") {
  // Computed once by this implementation (gcc and clang, -O0 and -O3, x86-64, agreed). A build
  // that differs contracts a*b+c into an FMA, evaluates in extended precision or uses another
  // generator: all break the promise that a seed gives bitwise the same weights everywhere.
  struct Case {
    convt_initializer init;
    Shape shape;
    uint64_t stream;
    uint64_t golden[4];
  };
  const Case cases[] = {
      {CONVT_INITIALIZER_GLOROT_UNIFORM,
       {3, 4, 5},
       0,
       {0xBFBB5C52D9AE7BD8u, 0xBFC6DC0B2D741A07u, 0x3FD3555BF43D4811u, 0x3FB961C6A116A959u}},
      {CONVT_INITIALIZER_HE_NORMAL,
       {3, 4, 5},
       0,
       {0xBFDB956F2EC83BFFu, 0xBFE70BC25262FB19u, 0x3FE1B62E1A75701Au, 0x3FC740B50AD8E386u}},
      {CONVT_INITIALIZER_RANDOM_UNIFORM,
       {4},
       1,
       {0x3F879154EA370D24u, 0x3FA294D39198436Cu, 0x3F970270FD41F86Fu, 0x3F61485789247C27u}},
      {CONVT_INITIALIZER_RANDOM_NORMAL,
       {3, 4, 5},
       0,
       {0xBFA7C5EC347A2684u, 0xBFB3DCBA8A60ADD4u, 0x3FAE879957A137E5u, 0x3F940A5CB9B579DEu}},
      {CONVT_INITIALIZER_TRUNCATED_NORMAL,
       {4},
       1,
       {0x3F902869F5CF0B44u, 0x3FA97A8000D45EE5u, 0x3FB6BB67B1C2EA8Au, 0x3F8112FC76B3EEADu}},
      {CONVT_INITIALIZER_ORTHOGONAL,
       {3, 4, 5},
       0,
       {0xBFD045620EE7CC44u, 0xBFDC4AFF85EF943Bu, 0x3FDB938982542BCCu, 0x3FCE0204384DA02Eu}},
      {CONVT_INITIALIZER_ORTHOGONAL,
       {1, 2, 7},
       0,
       {0xBFDA9A48AAF79524u, 0x3FE114EA4B3398A8u, 0x3FCC7F1402AACA1Au, 0x3FBDE876291B5F9Fu}},
  };
  for (const Case& c : cases) {
    INFO("initializer " << c.init);
    const std::vector<double> v = draw(c.init, c.shape, 20240607, c.stream);
    for (int i = 0; i < 4; ++i) {
      INFO("value " << i << " = " << v[i]);
      CHECK(bits(v[i]) == c.golden[i]);
    }
  }
}
