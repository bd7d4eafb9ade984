// The independent test oracle for libconvt's forward pass.
//
// Written from SEMANTICS.md §1 (the canonical sum) and §2 (the padding table) and from the
// definitions in include/convt/convt.h, never from the library's source: tests compare the
// library against this file, so it must not share the library's code or its mistakes.
//
// Everything here is float64 and deliberately naive: a direct loop over the canonical sum,
// one output element at a time. The library's constants (padding modes, activations,
// layouts) are taken from the public header, which is part of the specification.
#ifndef CONVT_TESTS_REFERENCE_HPP
#define CONVT_TESTS_REFERENCE_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "convt/convt.h"

namespace convt_test {

// ------------------------------------------------------------------------------------------
// Integer helpers (b > 0).
// ------------------------------------------------------------------------------------------
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

inline std::size_t to_size(int64_t v) { return static_cast<std::size_t>(v); }

// ------------------------------------------------------------------------------------------
// SEMANTICS.md §2: padding mode + output_padding + pads -> P_b, default L_out, accepted O.
// ------------------------------------------------------------------------------------------

// The layer hyper-parameters that decide the output length and the crop.
struct Hyper {
  int32_t padding = CONVT_PADDING_VALID;
  int64_t output_padding = CONVT_OUTPUT_PADDING_UNSET;  // -1 = unset (Keras None)
  int64_t pad_begin = 0;                                // EXPLICIT only
  int64_t pad_end = 0;                                  // EXPLICIT only
  int64_t strides = 1;
  int64_t dilation = 1;
  int64_t kernel_size = 1;
};

// What output_shape / forward must answer for a combination of parameters and input length.
enum class Verdict {
  kOk,               // output_shape succeeds with default_len
  kInvalidArgument,  // no input could satisfy it: output_padding >= max(S, D)
  kShape             // this input does not: the output length would be < 1
};

struct Lengths {
  Verdict verdict = Verdict::kOk;
  int64_t k_eff = 0;        // D*(K-1) + 1
  int64_t l_full = 0;       // (L-1)*S + K_eff
  int64_t default_len = 0;  // what convt_layer_output_shape returns
  int64_t min_len = 0;      // smallest out_steps forward accepts
  int64_t max_len = 0;      // largest out_steps forward accepts
};

inline bool output_padding_set(const Hyper& h) {
  return h.output_padding != CONVT_OUTPUT_PADDING_UNSET;
}

inline int64_t effective_kernel(const Hyper& h) { return h.dilation * (h.kernel_size - 1) + 1; }

inline int64_t full_length(const Hyper& h, int64_t steps) {
  return (steps - 1) * h.strides + effective_kernel(h);
}

// The table of SEMANTICS.md §2, row by row.
inline Lengths lengths(const Hyper& h, int64_t steps) {
  Lengths r;
  const int64_t S = h.strides;
  const int64_t D = h.dilation;
  const int64_t L = steps;
  const int64_t m = std::max(S, D);
  const bool set = output_padding_set(h);
  const int64_t op = h.output_padding;
  r.k_eff = effective_kernel(h);
  r.l_full = full_length(h, steps);
  if (set && (op < 0 || op >= m)) {
    r.verdict = Verdict::kInvalidArgument;
    return r;
  }
  switch (h.padding) {
    case CONVT_PADDING_VALID:
      if (!set) {
        r.default_len = (L - 1) * S + std::max(r.k_eff, S);
        r.min_len = r.l_full;
        r.max_len = r.l_full + S - 1;
      } else {
        r.default_len = r.min_len = r.max_len = r.l_full + op;
      }
      break;
    case CONVT_PADDING_SAME:
    case CONVT_PADDING_SAME_LOWER:
      if (!set) {
        r.default_len = L * S;
        r.min_len = (L - 1) * S + 1;
        r.max_len = L * S;
      } else if (h.padding == CONVT_PADDING_SAME) {
        r.default_len = r.min_len = r.max_len = (L - 1) * S + r.k_eff % 2 + op;
      } else {
        const int64_t T = std::max<int64_t>(r.l_full + op - L * S, 0);
        r.default_len = r.min_len = r.max_len = r.l_full + op - T;
      }
      break;
    case CONVT_PADDING_EXPLICIT:
    default:
      if (!set) {
        r.default_len = r.l_full - h.pad_begin - h.pad_end;
        r.min_len = r.default_len;
        r.max_len = r.default_len + m - 1;
      } else {
        r.default_len = r.min_len = r.max_len = r.l_full - h.pad_begin - h.pad_end + op;
      }
      break;
  }
  if (r.default_len < 1) r.verdict = Verdict::kShape;
  return r;
}

inline bool accepts(const Lengths& r, int64_t out_steps) {
  return r.verdict == Verdict::kOk && out_steps >= 1 && out_steps >= r.min_len &&
         out_steps <= r.max_len;
}

// P_b, the crop at the beginning, for an accepted out_steps O.
inline int64_t crop_begin(const Hyper& h, int64_t steps, int64_t out_steps) {
  const int64_t S = h.strides;
  const int64_t L = steps;
  const int64_t op = h.output_padding;
  const int64_t k_eff = effective_kernel(h);
  const int64_t l_full = full_length(h, steps);
  const bool set = output_padding_set(h);
  switch (h.padding) {
    case CONVT_PADDING_VALID:
      return 0;
    case CONVT_PADDING_SAME:
      if (!set) return floor_div(std::max<int64_t>(0, l_full - out_steps), 2);
      return std::max<int64_t>(floor_div(k_eff - k_eff % 2 - op, 2), 0);
    case CONVT_PADDING_SAME_LOWER:
      if (!set) return ceil_div(std::max<int64_t>(0, l_full - out_steps), 2);
      return ceil_div(std::max<int64_t>(l_full + op - L * S, 0), 2);
    case CONVT_PADDING_EXPLICIT:
    default:
      return h.pad_begin;
  }
}

// ------------------------------------------------------------------------------------------
// Activations: the 1-Lipschitz set used by the random test, from the header's definitions.
// ------------------------------------------------------------------------------------------
constexpr double kLeakyReluDefaultAlpha = 0.2;

inline const std::vector<int32_t>& reference_activations() {
  static const std::vector<int32_t> acts = {CONVT_ACTIVATION_LINEAR,    CONVT_ACTIVATION_RELU,
                                            CONVT_ACTIVATION_TANH,      CONVT_ACTIVATION_SIGMOID,
                                            CONVT_ACTIVATION_RELU6,     CONVT_ACTIVATION_LEAKY_RELU,
                                            CONVT_ACTIVATION_HARD_TANH, CONVT_ACTIVATION_SOFTSIGN};
  return acts;
}

inline const char* activation_label(int32_t act) {
  switch (act) {
    case CONVT_ACTIVATION_LINEAR:
      return "linear";
    case CONVT_ACTIVATION_RELU:
      return "relu";
    case CONVT_ACTIVATION_TANH:
      return "tanh";
    case CONVT_ACTIVATION_SIGMOID:
      return "sigmoid";
    case CONVT_ACTIVATION_RELU6:
      return "relu6";
    case CONVT_ACTIVATION_LEAKY_RELU:
      return "leaky_relu";
    case CONVT_ACTIVATION_HARD_TANH:
      return "hard_tanh";
    case CONVT_ACTIVATION_SOFTSIGN:
      return "softsign";
    default:
      return "unsupported-by-reference";
  }
}

// The activation's value at z; alpha is leaky_relu's slope. NaN for activations the
// reference does not implement, so a test that uses one fails loudly.
inline double activate(int32_t act, double z, double alpha) {
  switch (act) {
    case CONVT_ACTIVATION_LINEAR:
      return z;  // x
    case CONVT_ACTIVATION_RELU:
      return z > 0.0 ? z : 0.0;  // max(x, 0)
    case CONVT_ACTIVATION_TANH:
      return std::tanh(z);  // tanh
    case CONVT_ACTIVATION_SIGMOID:
      return 1.0 / (1.0 + std::exp(-z));  // 1 / (1 + exp(-x))
    case CONVT_ACTIVATION_RELU6:
      return std::min(std::max(z, 0.0), 6.0);  // min(max(x,0),6)
    case CONVT_ACTIVATION_LEAKY_RELU:
      return z >= 0.0 ? z : alpha * z;  // x >= 0 ? x : a*x
    case CONVT_ACTIVATION_HARD_TANH:
      return std::min(std::max(z, -1.0), 1.0);  // clip(x,-1,1)
    case CONVT_ACTIVATION_SOFTSIGN:
      return z / (1.0 + std::fabs(z));  // x / (1 + |x|)
    default:
      return std::numeric_limits<double>::quiet_NaN();
  }
}

// A Lipschitz constant of the activation (every one of the set above is 1-Lipschitz; the
// leaky slope 0.2 and sigmoid's 1/4 are below 1).
inline double lipschitz(int32_t act) {
  (void)act;
  return 1.0;
}

// ------------------------------------------------------------------------------------------
// SEMANTICS.md §1: the canonical sum, as a direct loop.
// ------------------------------------------------------------------------------------------
struct Problem {
  int64_t batch = 1;        // N
  int64_t in_channels = 1;  // C
  int64_t filters = 1;      // F
  int64_t groups = 1;       // G
  int64_t kernel_size = 1;  // K
  int64_t strides = 1;      // S
  int64_t dilation = 1;     // D
  int64_t steps = 1;        // L
  int64_t crop_begin = 0;   // P_b
  int64_t out_steps = 1;    // L_out
  int32_t activation = CONVT_ACTIVATION_LINEAR;
  double alpha = kLeakyReluDefaultAlpha;
};

struct Reference {
  std::vector<double> y;          // (N, F, L_out), after the activation
  std::vector<double> magnitude;  // sum of |x*w| over contributing terms, plus |bias|
};

// x: canonical (N, C, L); w_iow: (C, F/G, K); bias: F values, or empty for no bias.
inline Reference reference_forward(const Problem& p, const std::vector<double>& x,
                                   const std::vector<double>& w_iow,
                                   const std::vector<double>& bias) {
  const int64_t N = p.batch, C = p.in_channels, F = p.filters, G = p.groups;
  const int64_t K = p.kernel_size, S = p.strides, D = p.dilation, L = p.steps;
  const int64_t cpg = C / G;  // input channels per group
  const int64_t fpg = F / G;  // filters per group
  Reference r;
  r.y.assign(to_size(N * F * p.out_steps), 0.0);
  r.magnitude.assign(r.y.size(), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t o = 0; o < F; ++o) {
      const int64_t g = o / fpg;
      for (int64_t j = 0; j < p.out_steps; ++j) {
        double acc = bias.empty() ? 0.0 : bias[to_size(o)];
        double mag = bias.empty() ? 0.0 : std::fabs(bias[to_size(o)]);
        for (int64_t t = 0; t < K; ++t) {
          // i*S + t*D == j + P_b  <=>  i = (j + P_b - t*D) / S when that divides exactly.
          const int64_t pos = j + p.crop_begin - t * D;
          if (pos < 0 || pos % S != 0) continue;
          const int64_t i = pos / S;
          if (i >= L) continue;
          for (int64_t cc = 0; cc < cpg; ++cc) {
            const int64_t c = g * cpg + cc;
            const double xv = x[to_size((n * C + c) * L + i)];
            const double wv = w_iow[to_size((c * fpg + o % fpg) * K + t)];
            acc += xv * wv;
            mag += std::fabs(xv * wv);
          }
        }
        const std::size_t at = to_size((n * F + o) * p.out_steps + j);
        r.y[at] = activate(p.activation, acc, p.alpha);
        r.magnitude[at] = mag;
      }
    }
  }
  return r;
}

// ------------------------------------------------------------------------------------------
// Layout converters.
// ------------------------------------------------------------------------------------------

// W_woi[t][o][c'] = W_iow[(o/(F/G))*(C/G) + c'][o%(F/G)][t]
template <class T>
std::vector<T> woi_from_iow(const std::vector<T>& iow, int64_t C, int64_t F, int64_t G, int64_t K) {
  const int64_t cpg = C / G, fpg = F / G;
  std::vector<T> woi(iow.size());
  for (int64_t t = 0; t < K; ++t)
    for (int64_t o = 0; o < F; ++o)
      for (int64_t cc = 0; cc < cpg; ++cc)
        woi[to_size((t * F + o) * cpg + cc)] =
            iow[to_size((((o / fpg) * cpg + cc) * fpg + o % fpg) * K + t)];
  return woi;
}

template <class T>
std::vector<T> iow_from_woi(const std::vector<T>& woi, int64_t C, int64_t F, int64_t G, int64_t K) {
  const int64_t cpg = C / G, fpg = F / G;
  std::vector<T> iow(woi.size());
  for (int64_t t = 0; t < K; ++t)
    for (int64_t o = 0; o < F; ++o)
      for (int64_t cc = 0; cc < cpg; ++cc)
        iow[to_size((((o / fpg) * cpg + cc) * fpg + o % fpg) * K + t)] =
            woi[to_size((t * F + o) * cpg + cc)];
  return iow;
}

// (N, C, L) <-> (N, L, C)
template <class T>
std::vector<T> nwc_from_ncw(const std::vector<T>& ncw, int64_t N, int64_t C, int64_t L) {
  std::vector<T> nwc(ncw.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < L; ++i)
        nwc[to_size((n * L + i) * C + c)] = ncw[to_size((n * C + c) * L + i)];
  return nwc;
}

template <class T>
std::vector<T> ncw_from_nwc(const std::vector<T>& nwc, int64_t N, int64_t C, int64_t L) {
  std::vector<T> ncw(nwc.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < L; ++i)
        ncw[to_size((n * C + c) * L + i)] = nwc[to_size((n * L + i) * C + c)];
  return ncw;
}

// Canonical (N, C, L) from / to the layer's data format.
template <class T>
std::vector<T> to_format(const std::vector<T>& ncw, int32_t format, int64_t N, int64_t C,
                         int64_t L) {
  return format == CONVT_CHANNELS_FIRST ? ncw : nwc_from_ncw(ncw, N, C, L);
}

template <class T>
std::vector<T> from_format(const std::vector<T>& data, int32_t format, int64_t N, int64_t C,
                           int64_t L) {
  return format == CONVT_CHANNELS_FIRST ? data : ncw_from_nwc(data, N, C, L);
}

// ------------------------------------------------------------------------------------------
// Precision conversions.
// ------------------------------------------------------------------------------------------
template <class To, class From>
std::vector<To> convert(const std::vector<From>& v) {
  std::vector<To> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<To>(v[i]);
  return out;
}

// Rounds every value to float32 (kept as double): the exact inputs a float32 layer sees.
inline std::vector<double> round_to_float(const std::vector<double>& v) {
  return convert<double>(convert<float>(v));
}

// ------------------------------------------------------------------------------------------
// The per-element error bound and the comparison.
// ------------------------------------------------------------------------------------------
inline double unit_roundoff_f32() { return std::ldexp(1.0, -24); }
inline double unit_roundoff_f64() { return std::ldexp(1.0, -53); }

// |y - y_ref| <= 2*(C/G*K + 4)*u*lip*sum|x*w| + 16*u*|y_ref|
inline double tolerance(double magnitude, double y_ref, int64_t terms, double u, double lip) {
  return 2.0 * static_cast<double>(terms + 4) * u * lip * magnitude + 16.0 * u * std::fabs(y_ref);
}

struct Comparison {
  int64_t failures = 0;
  int64_t first_failure = -1;  // index into the canonical (N, F, L_out) array
  double got = 0.0, want = 0.0, allowed = 0.0;
  double worst_ratio = 0.0;  // max |y - y_ref| / tolerance (<= 1 passes)
};

// got: the library's output in canonical (N, F, L_out) order, widened to double.
inline Comparison compare(const std::vector<double>& got, const Reference& ref, int64_t terms,
                          double u, double lip) {
  Comparison c;
  for (std::size_t k = 0; k < ref.y.size(); ++k) {
    const double allowed = tolerance(ref.magnitude[k], ref.y[k], terms, u, lip);
    const double err = std::fabs(got[k] - ref.y[k]);
    const bool ok = err <= allowed;  // false for NaN
    if (allowed > 0.0 && std::isfinite(err)) c.worst_ratio = std::max(c.worst_ratio, err / allowed);
    if (!ok) {
      if (c.failures == 0) {
        c.first_failure = static_cast<int64_t>(k);
        c.got = got[k];
        c.want = ref.y[k];
        c.allowed = allowed;
      }
      ++c.failures;
    }
  }
  return c;
}

// ------------------------------------------------------------------------------------------
// Seeded random data. The distributions are written out so that the sequence is the same
// with every standard library (std::uniform_*_distribution is implementation-defined).
// ------------------------------------------------------------------------------------------
class Random {
 public:
  explicit Random(uint64_t seed) : gen_(seed) {}

  // Uniform integer in [lo, hi], lo <= hi.
  int64_t uniform_int(int64_t lo, int64_t hi) {
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1u;
    const uint64_t limit =
        std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
    uint64_t v = gen_();
    while (v >= limit) v = gen_();
    return lo + static_cast<int64_t>(v % range);
  }

  // Uniform double in [lo, hi).
  double uniform(double lo, double hi) {
    const double unit = static_cast<double>(gen_() >> 11) * std::ldexp(1.0, -53);
    return lo + (hi - lo) * unit;
  }

  bool chance(double p) { return uniform(0.0, 1.0) < p; }

  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[to_size(uniform_int(0, static_cast<int64_t>(v.size()) - 1))];
  }

  std::vector<double> vector(int64_t n, double lo, double hi) {
    std::vector<double> v(to_size(n));
    for (double& e : v) e = uniform(lo, hi);
    return v;
  }

  // Integers in [lo, hi] without 0: exact in float32 and float64 alike.
  std::vector<double> nonzero_integers(int64_t n, int64_t lo, int64_t hi) {
    std::vector<double> v(to_size(n));
    for (double& e : v) {
      int64_t k = 0;
      while (k == 0) k = uniform_int(lo, hi);
      e = static_cast<double>(k);
    }
    return v;
  }

 private:
  std::mt19937_64 gen_;
};

// ------------------------------------------------------------------------------------------
// Messages.
// ------------------------------------------------------------------------------------------

// Every maximal run of decimal digits in s, with a directly preceding '-' as its sign.
inline std::vector<int64_t> integers_in(const std::string& s) {
  std::vector<int64_t> out;
  std::size_t k = 0;
  while (k < s.size()) {
    if (s[k] >= '0' && s[k] <= '9') {
      const bool negative = k > 0 && s[k - 1] == '-';
      int64_t v = 0;
      bool overflow = false;
      while (k < s.size() && s[k] >= '0' && s[k] <= '9') {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) overflow = true;
        if (!overflow) v = v * 10 + (s[k] - '0');
        ++k;
      }
      if (!overflow) out.push_back(negative ? -v : v);
    } else {
      ++k;
    }
  }
  return out;
}

inline bool mentions_number(const std::string& s, int64_t v) {
  const std::vector<int64_t> nums = integers_in(s);
  return std::find(nums.begin(), nums.end(), v) != nums.end();
}

}  // namespace convt_test

#endif  // CONVT_TESTS_REFERENCE_HPP
