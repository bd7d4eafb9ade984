// Shared by the training tests (test_backward*.cpp, test_regularizers.cpp,
// test_constraints.cpp): a layer configuration, building it through the C API, typed backward
// calls, and an independent float64 direct-loop oracle of the gradients written from
// SEMANTICS.md §1 (never from the library's source).
#ifndef CONVT_TESTS_TEST_BACKWARD_HELPERS_HPP
#define CONVT_TESTS_TEST_BACKWARD_HELPERS_HPP

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "convt/convt.h"
#include "reference.hpp"

namespace convt_test {

inline void training_require_ok(convt_status s, const char* what) {
  INFO(what << " -> status " << s << ": " << convt_last_error());
  REQUIRE(s == CONVT_OK);
}
#define TR_MUST(call) ::convt_test::training_require_ok((call), #call)

// Everything that decides a layer and a call.
struct TrainConfig {
  int64_t batch = 1, in_channels = 1, filters = 1, groups = 1, kernel_size = 1;
  int64_t strides = 1, dilation = 1, steps = 1;
  int32_t padding = CONVT_PADDING_VALID;
  int64_t pad_begin = 0, pad_end = 0, output_padding = CONVT_OUTPUT_PADDING_UNSET;
  int32_t format = CONVT_CHANNELS_LAST;
  int32_t activation = CONVT_ACTIVATION_LINEAR;
  bool use_bias = true;
  int64_t out_steps = 0;  // 0: the default
  int32_t layout = CONVT_LAYOUT_WOI;

  Hyper hyper() const {
    Hyper h;
    h.padding = padding;
    h.output_padding = output_padding;
    h.pad_begin = pad_begin;
    h.pad_end = pad_end;
    h.strides = strides;
    h.dilation = dilation;
    h.kernel_size = kernel_size;
    return h;
  }
  int64_t kernel_len() const { return kernel_size * filters * (in_channels / groups); }
  int64_t input_len() const { return batch * steps * in_channels; }
  int64_t output_len() const { return batch * filters * out_steps; }
  Problem problem() const {
    Problem p;
    p.batch = batch;
    p.in_channels = in_channels;
    p.filters = filters;
    p.groups = groups;
    p.kernel_size = kernel_size;
    p.strides = strides;
    p.dilation = dilation;
    p.steps = steps;
    p.crop_begin = crop_begin(hyper(), steps, out_steps);
    p.out_steps = out_steps;
    return p;
  }
  std::string describe() const {
    std::ostringstream s;
    s << "N " << batch << " C " << in_channels << " F " << filters << " G " << groups << " K "
      << kernel_size << " S " << strides << " D " << dilation << " L " << steps << " padding "
      << padding << " pads " << pad_begin << "," << pad_end << " op " << output_padding
      << " format " << format << " activation " << activation << " bias " << use_bias
      << " out_steps " << out_steps << " layout " << layout;
    return s.str();
  }
};

// A random valid configuration: every padding mode, output_padding, groups, dilation, both
// formats, both layouts, with and without bias, and every accepted out_steps.
inline TrainConfig random_config(Random& rng, int64_t max_channels_per_group = 3) {
  while (true) {
    TrainConfig c;
    c.groups = rng.uniform_int(1, 3);
    c.in_channels = c.groups * rng.uniform_int(1, max_channels_per_group);
    c.filters = c.groups * rng.uniform_int(1, max_channels_per_group);
    c.kernel_size = rng.uniform_int(1, 4);
    c.strides = rng.uniform_int(1, 3);
    c.dilation = rng.uniform_int(1, 3);
    c.steps = rng.uniform_int(1, 5);
    c.batch = rng.uniform_int(1, 2);
    c.padding = static_cast<int32_t>(rng.uniform_int(0, 3));
    if (c.padding == CONVT_PADDING_EXPLICIT) {
      c.pad_begin = rng.uniform_int(0, 2);
      c.pad_end = rng.uniform_int(0, 2);
    }
    if (rng.chance(0.4)) {
      c.output_padding = rng.uniform_int(0, std::max(c.strides, c.dilation) - 1);
    }
    c.format = rng.chance(0.5) ? CONVT_CHANNELS_LAST : CONVT_CHANNELS_FIRST;
    c.use_bias = rng.chance(0.75);
    c.layout = rng.chance(0.5) ? CONVT_LAYOUT_WOI : CONVT_LAYOUT_IOW;
    const Lengths len = lengths(c.hyper(), c.steps);
    if (len.verdict != Verdict::kOk) continue;
    c.out_steps = rng.uniform_int(len.min_len, len.max_len);
    return c;
  }
}

inline void set_config(convt_layer* l, const TrainConfig& c, bool f64) {
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, c.groups));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, c.strides));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_DILATION_RATE, c.dilation));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_PADDING, c.padding));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_BEGIN, c.pad_begin));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_END, c.pad_end));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_OUTPUT_PADDING, c.output_padding));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_DATA_FORMAT, c.format));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_ACTIVATION, c.activation));
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, c.use_bias ? 1 : 0));
  TR_MUST(
      convt_layer_set_int(l, CONVT_PARAM_DTYPE, f64 ? CONVT_DTYPE_FLOAT64 : CONVT_DTYPE_FLOAT32));
}

// Typed C API calls. Empty vectors are passed as NULL with length 0.
template <typename V>
auto data_or_null(V& v) -> decltype(v.data()) {
  return v.empty() ? nullptr : v.data();
}
inline int64_t len(const std::vector<float>& v) { return static_cast<int64_t>(v.size()); }
inline int64_t len(const std::vector<double>& v) { return static_cast<int64_t>(v.size()); }

inline convt_status weights_in(convt_layer* l, const TrainConfig& c, const std::vector<double>& k,
                               const std::vector<double>& b, bool f64) {
  if (f64) {
    return convt_layer_set_weights_f64(l, c.in_channels, c.layout, k.data(), len(k),
                                       b.empty() ? nullptr : b.data(), len(b));
  }
  const std::vector<float> k32 = convert<float>(k), b32 = convert<float>(b);
  return convt_layer_set_weights_f32(l, c.in_channels, c.layout, k32.data(), len(k32),
                                     b32.empty() ? nullptr : b32.data(), len(b32));
}

// A layer of the configuration with these weights (kernel in c.layout).
inline convt_layer* make_layer(const TrainConfig& c, const std::vector<double>& kernel,
                               const std::vector<double>& bias, bool f64) {
  convt_layer* l = nullptr;
  TR_MUST(convt_layer_create(c.filters, c.kernel_size, &l));
  set_config(l, c, f64);
  TR_MUST(weights_in(l, c, kernel, bias, f64));
  return l;
}

inline convt_status forward_t(const convt_layer* l, const std::vector<float>& x, int64_t batch,
                              int64_t steps, std::vector<float>& y, int64_t out_steps) {
  return convt_layer_forward_f32(l, x.data(), len(x), batch, steps, y.data(), len(y), out_steps);
}
inline convt_status forward_t(const convt_layer* l, const std::vector<double>& x, int64_t batch,
                              int64_t steps, std::vector<double>& y, int64_t out_steps) {
  return convt_layer_forward_f64(l, x.data(), len(x), batch, steps, y.data(), len(y), out_steps);
}

inline convt_status backward_t(const convt_layer* l, const std::vector<float>& x, int64_t batch,
                               int64_t steps, const std::vector<float>& g, int64_t out_steps,
                               std::vector<float>& gx, int32_t layout, std::vector<float>& gk,
                               std::vector<float>& gb) {
  return convt_layer_backward_f32(l, x.data(), len(x), batch, steps, g.data(), len(g), out_steps,
                                  data_or_null(gx), len(gx), layout, data_or_null(gk), len(gk),
                                  data_or_null(gb), len(gb));
}
inline convt_status backward_t(const convt_layer* l, const std::vector<double>& x, int64_t batch,
                               int64_t steps, const std::vector<double>& g, int64_t out_steps,
                               std::vector<double>& gx, int32_t layout, std::vector<double>& gk,
                               std::vector<double>& gb) {
  return convt_layer_backward_f64(l, x.data(), len(x), batch, steps, g.data(), len(g), out_steps,
                                  data_or_null(gx), len(gx), layout, data_or_null(gk), len(gk),
                                  data_or_null(gb), len(gb));
}

// ------------------------------------------------------------------------------------------
// The oracle: the gradients of sum over (n, o, j) of y[n][o][j] * dz[n][o][j] for the linear
// part y = bias + conv1d_transpose(x), straight from SEMANTICS.md §1's canonical sum.
// x (N, C, L), w_iow (C, F/G, K), dz (N, F, L_out), all canonical; gradients likewise.
// ------------------------------------------------------------------------------------------
struct ReferenceGradients {
  std::vector<double> input, kernel_iow, bias;
};

inline ReferenceGradients reference_backward(const Problem& p, const std::vector<double>& x,
                                             const std::vector<double>& w_iow,
                                             const std::vector<double>& dz) {
  const int64_t N = p.batch, C = p.in_channels, F = p.filters, G = p.groups;
  const int64_t K = p.kernel_size, S = p.strides, D = p.dilation, L = p.steps;
  const int64_t cpg = C / G, fpg = F / G;
  ReferenceGradients r;
  r.input.assign(to_size(N * C * L), 0.0);
  r.kernel_iow.assign(w_iow.size(), 0.0);
  r.bias.assign(to_size(F), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t o = 0; o < F; ++o) {
      const int64_t g = o / fpg;
      for (int64_t j = 0; j < p.out_steps; ++j) {
        const double d = dz[to_size((n * F + o) * p.out_steps + j)];
        r.bias[to_size(o)] += d;
        for (int64_t t = 0; t < K; ++t) {
          const int64_t pos = j + p.crop_begin - t * D;  // i*S == pos
          if (pos < 0 || pos % S != 0 || pos / S >= L) continue;
          const int64_t i = pos / S;
          for (int64_t cc = 0; cc < cpg; ++cc) {
            const int64_t c = g * cpg + cc;
            const std::size_t wi = to_size((c * fpg + o % fpg) * K + t);
            const std::size_t xi = to_size((n * C + c) * L + i);
            r.input[xi] += d * w_iow[wi];
            r.kernel_iow[wi] += d * x[xi];
          }
        }
      }
    }
  }
  return r;
}

}  // namespace convt_test

#endif  // CONVT_TESTS_TEST_BACKWARD_HELPERS_HPP
