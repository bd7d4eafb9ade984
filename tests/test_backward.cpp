// convt_layer_backward_* through the public C API, against independent references: the
// float64 direct-loop oracle of the gradients (exact on integer data), central finite
// differences of forward in float64 through every activation, the adjoint identity of forward's
// linear part, a rounding bound between float32 and float64, and bitwise-identical results for
// every thread count.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "convt/convt.h"
#include "reference.hpp"
#include "test_backward_helpers.hpp"

namespace {

using namespace convt_test;

// The kernel in the configuration's layout from canonical IOW.
std::vector<double> in_layout(const TrainConfig& c, const std::vector<double>& iow) {
  return c.layout == CONVT_LAYOUT_IOW
             ? iow
             : woi_from_iow(iow, c.in_channels, c.filters, c.groups, c.kernel_size);
}

// A layout's gradient back to canonical IOW.
std::vector<double> to_iow(const TrainConfig& c, int32_t layout, const std::vector<double>& k) {
  return layout == CONVT_LAYOUT_IOW
             ? k
             : iow_from_woi(k, c.in_channels, c.filters, c.groups, c.kernel_size);
}

template <typename T>
struct Grads {
  std::vector<T> input, kernel, bias;
};

// All three gradients (the bias one when the layer has a bias) from the library.
template <typename T>
Grads<T> library_backward(const convt_layer* l, const TrainConfig& c, const std::vector<T>& x,
                          const std::vector<T>& g, int32_t layout) {
  Grads<T> r;
  r.input.assign(to_size(c.input_len()), T(0));
  r.kernel.assign(to_size(c.kernel_len()), T(0));
  r.bias.assign(c.use_bias ? to_size(c.filters) : 0, T(0));
  TR_MUST(backward_t(l, x, c.batch, c.steps, g, c.out_steps, r.input, layout, r.kernel, r.bias));
  return r;
}

// A few configurations whose kernels are packed in several filter blocks, whose input spans
// several column tiles and whose channels span several kernel-gradient chunks.
std::vector<TrainConfig> large_configs() {
  std::vector<TrainConfig> out;
  TrainConfig a;
  a.batch = 2;
  a.in_channels = 66;
  a.filters = 18;
  a.kernel_size = 130;
  a.steps = 70;
  a.strides = 2;
  a.padding = CONVT_PADDING_SAME;
  a.activation = CONVT_ACTIVATION_LINEAR;
  out.push_back(a);
  TrainConfig b = a;  // channels_first, groups, explicit pads, IOW
  b.in_channels = 8;
  b.filters = 40;
  b.groups = 2;
  b.kernel_size = 60;
  b.steps = 40;
  b.strides = 3;
  b.padding = CONVT_PADDING_EXPLICIT;
  b.pad_begin = 5;
  b.pad_end = 7;
  b.format = CONVT_CHANNELS_FIRST;
  b.layout = CONVT_LAYOUT_IOW;
  out.push_back(b);
  TrainConfig d = a;  // dilation, VALID with a longer TF output length, no bias
  d.in_channels = 3;
  d.filters = 24;
  d.kernel_size = 50;
  d.strides = 1;
  d.dilation = 3;
  d.steps = 200;
  d.padding = CONVT_PADDING_VALID;
  d.use_bias = false;
  out.push_back(d);
  for (TrainConfig& c : out) c.out_steps = lengths(c.hyper(), c.steps).max_len;
  return out;
}

// Random data for a configuration, canonical layouts: integers when `integers`.
struct Data {
  std::vector<double> x, w_iow, bias, g;  // x (N,C,L), w (C,F/G,K), g (N,F,L_out)
};

Data draw_data(Random& rng, const TrainConfig& c, bool integers) {
  Data d;
  const auto draw = [&](int64_t n, double scale) {
    return integers ? rng.nonzero_integers(n, -3, 3) : rng.vector(n, -scale, scale);
  };
  d.x = draw(c.input_len(), 1.0);
  d.w_iow = draw(c.kernel_len(), 0.5);
  if (c.use_bias) d.bias = draw(c.filters, 0.5);
  d.g = draw(c.output_len(), 1.0);
  return d;
}

// Checks the library's gradients of one dtype against the oracle exactly (integer data).
template <typename T>
void check_exact(const TrainConfig& c, const Data& d, const ReferenceGradients& ref) {
  const bool f64 = std::is_same<T, double>::value;
  convt_layer* l = make_layer(c, in_layout(c, d.w_iow), d.bias, f64);
  const std::vector<T> x = convert<T>(to_format(d.x, c.format, c.batch, c.in_channels, c.steps));
  const std::vector<T> g = convert<T>(to_format(d.g, c.format, c.batch, c.filters, c.out_steps));
  for (int32_t layout : {CONVT_LAYOUT_WOI, CONVT_LAYOUT_IOW}) {
    INFO("dtype " << (f64 ? "float64" : "float32") << " grad_kernel layout " << layout);
    const Grads<T> got = library_backward(l, c, x, g, layout);
    const std::vector<double> gx =
        from_format(convert<double>(got.input), c.format, c.batch, c.in_channels, c.steps);
    CHECK(gx == ref.input);
    CHECK(to_iow(c, layout, convert<double>(got.kernel)) == ref.kernel_iow);
    if (c.use_bias) CHECK(convert<double>(got.bias) == ref.bias);
  }
  convt_layer_destroy(l);
}

}  // namespace

TEST_CASE("Backward equals the direct-loop oracle exactly on integer data in float32 and float64",
          "[backward]") {
  Random rng(20240401);
  std::vector<TrainConfig> configs;
  for (int k = 0; k < 300; ++k) configs.push_back(random_config(rng));
  for (const TrainConfig& c : large_configs()) configs.push_back(c);
  for (const TrainConfig& c : configs) {
    INFO(c.describe());
    const Data d = draw_data(rng, c, true);
    const ReferenceGradients ref = reference_backward(c.problem(), d.x, d.w_iow, d.g);
    check_exact<float>(c, d, ref);
    check_exact<double>(c, d, ref);
  }
}

TEST_CASE(
    "The input gradient is the adjoint of forward and the kernel gradient of its bilinear form",
    "[backward]") {
  // For the linear activation without bias forward is linear in x and in W:
  // <forward(x), g> == <x, grad_input(g)> == <W, grad_kernel(x, g)>. Exact on integer data.
  Random rng(77);
  for (int k = 0; k < 200; ++k) {
    TrainConfig c = random_config(rng);
    c.use_bias = false;
    INFO(c.describe());
    const Data d = draw_data(rng, c, true);
    const std::vector<double> w = in_layout(c, d.w_iow);
    convt_layer* l = make_layer(c, w, d.bias, true);
    const std::vector<double> x = to_format(d.x, c.format, c.batch, c.in_channels, c.steps);
    const std::vector<double> g = to_format(d.g, c.format, c.batch, c.filters, c.out_steps);
    std::vector<double> y(to_size(c.output_len()));
    TR_MUST(forward_t(l, x, c.batch, c.steps, y, c.out_steps));
    const Grads<double> got = library_backward(l, c, x, g, c.layout);
    double yg = 0, xgx = 0, wgw = 0;
    for (std::size_t i = 0; i < y.size(); ++i) yg += y[i] * g[i];
    for (std::size_t i = 0; i < x.size(); ++i) xgx += x[i] * got.input[i];
    for (std::size_t i = 0; i < w.size(); ++i) wgw += w[i] * got.kernel[i];
    CHECK(yg == xgx);
    CHECK(yg == wgw);
    convt_layer_destroy(l);
  }
}

namespace {

// Where each activation has a kink or a jump (at its default parameter): finite differences are
// taken only where every pre-activation is farther than kMargin from them.
std::vector<double> kinks(int32_t act) {
  switch (act) {
    case CONVT_ACTIVATION_RELU:
    case CONVT_ACTIVATION_LEAKY_RELU:
    case CONVT_ACTIVATION_ELU:
    case CONVT_ACTIVATION_SELU:
    case CONVT_ACTIVATION_CELU:
      return {0.0};
    case CONVT_ACTIVATION_RELU6:
      return {0.0, 6.0};
    case CONVT_ACTIVATION_HARD_SIGMOID:
    case CONVT_ACTIVATION_HARD_SILU:
      return {-3.0, 3.0};
    case CONVT_ACTIVATION_HARD_TANH:
    case CONVT_ACTIVATION_SPARSE_PLUS:
    case CONVT_ACTIVATION_SPARSE_SIGMOID:
      return {-1.0, 1.0};
    case CONVT_ACTIVATION_SOFT_SHRINK:
    case CONVT_ACTIVATION_HARD_SHRINK:
      return {-0.5, 0.5};
    default:
      return {};
  }
}

constexpr double kMargin = 1e-3;
constexpr double kStep = 1e-5;      // central-difference step
constexpr double kRelative = 1e-6;  // the required relative agreement
constexpr int kActivations = 28;

// True when every pre-activation of this data is kMargin away from the activation's kinks.
// Positions no tap reaches without a bias hold exactly 0 and depend on nothing: skipped.
bool at_smooth_points(const TrainConfig& c, const Data& d) {
  const std::vector<double> k = kinks(c.activation);
  if (k.empty()) return true;
  Problem p = c.problem();
  p.activation = CONVT_ACTIVATION_LINEAR;
  const Reference z = reference_forward(p, d.x, d.w_iow, d.bias);
  for (std::size_t i = 0; i < z.y.size(); ++i) {
    if (!c.use_bias && z.magnitude[i] == 0.0) continue;
    for (double kink : k) {
      if (std::fabs(z.y[i] - kink) < kMargin) return false;
    }
  }
  return true;
}

// f = <forward(x), g> of a float64 layer, and its rounding scale sum |y * g|.
struct Objective {
  double value = 0, scale = 0;
};

Objective objective(const convt_layer* l, const TrainConfig& c, const std::vector<double>& x,
                    const std::vector<double>& g) {
  std::vector<double> y(to_size(c.output_len()));
  TR_MUST(forward_t(l, x, c.batch, c.steps, y, c.out_steps));
  Objective o;
  for (std::size_t i = 0; i < y.size(); ++i) {
    o.value += y[i] * g[i];
    o.scale += std::fabs(y[i] * g[i]);
  }
  return o;
}

// |fd - analytic| <= kRelative * max(|fd|, |analytic|) + the finite difference's own rounding.
struct Agreement {
  int64_t checked = 0, failures = 0;
  std::string first;
  void check(const char* what, std::size_t i, double fd, double analytic, double scale) {
    ++checked;
    const double rounding = 16.0 * std::ldexp(1.0, -52) * scale / kStep;
    const double allowed = kRelative * std::max(std::fabs(fd), std::fabs(analytic)) + rounding;
    if (std::fabs(fd - analytic) <= allowed) return;
    if (failures++ == 0) {
      first = std::string(what) + "[" + std::to_string(i) + "]: finite difference " +
              std::to_string(fd) + ", backward " + std::to_string(analytic);
    }
  }
};

}  // namespace

TEST_CASE(
    "Backward matches central finite differences of forward in float64 through every activation",
    "[backward]") {
  Random rng(4242);
  int64_t configs = 0;
  for (int32_t act = 0; act < kActivations; ++act) {
    for (int rep = 0; rep < 4; ++rep) {
      TrainConfig c;
      Data d;
      do {  // a configuration and data whose pre-activations avoid the activation's kinks
        c = random_config(rng);
        c.activation = act;
        d = draw_data(rng, c, false);
      } while (!at_smooth_points(c, d));
      ++configs;
      INFO(c.describe());
      const std::vector<double> w = in_layout(c, d.w_iow);
      convt_layer* l = make_layer(c, w, d.bias, true);
      TR_MUST(convt_layer_set_int(l, CONVT_PARAM_NUM_THREADS, 1));
      const std::vector<double> x = to_format(d.x, c.format, c.batch, c.in_channels, c.steps);
      const std::vector<double> g = to_format(d.g, c.format, c.batch, c.filters, c.out_steps);
      const Grads<double> got = library_backward(l, c, x, g, c.layout);
      const double scale = objective(l, c, x, g).scale + 1.0;
      Agreement a;

      std::vector<double> xp = x;
      for (std::size_t i = 0; i < x.size(); ++i) {
        xp[i] = x[i] + kStep;
        const double up = objective(l, c, xp, g).value;
        xp[i] = x[i] - kStep;
        const double down = objective(l, c, xp, g).value;
        xp[i] = x[i];
        a.check("grad_input", i, (up - down) / (2 * kStep), got.input[i], scale);
      }
      std::vector<double> wp = w, bp = d.bias;
      const auto perturbed = [&]() {
        TR_MUST(weights_in(l, c, wp, bp, true));
        return objective(l, c, x, g).value;
      };
      for (std::size_t i = 0; i < w.size(); ++i) {
        wp[i] = w[i] + kStep;
        const double up = perturbed();
        wp[i] = w[i] - kStep;
        const double down = perturbed();
        wp[i] = w[i];
        a.check("grad_kernel", i, (up - down) / (2 * kStep), got.kernel[i], scale);
      }
      for (std::size_t i = 0; i < bp.size(); ++i) {
        bp[i] = d.bias[i] + kStep;
        const double up = perturbed();
        bp[i] = d.bias[i] - kStep;
        const double down = perturbed();
        bp[i] = d.bias[i];
        a.check("grad_bias", i, (up - down) / (2 * kStep), got.bias[i], scale);
      }
      TR_MUST(weights_in(l, c, w, d.bias, true));
      // The other layout holds the same numbers, placed by the header's mapping.
      const int32_t other = c.layout == CONVT_LAYOUT_WOI ? CONVT_LAYOUT_IOW : CONVT_LAYOUT_WOI;
      const Grads<double> again = library_backward(l, c, x, g, other);
      CHECK(to_iow(c, other, again.kernel) == to_iow(c, c.layout, got.kernel));

      INFO(a.first);
      CHECK(a.checked == c.input_len() + c.kernel_len() + (c.use_bias ? c.filters : 0));
      CHECK(a.failures == 0);
      convt_layer_destroy(l);
    }
  }
  CHECK(configs == 4 * kActivations);
}

TEST_CASE("Float32 backward stays within a rounding bound of float64 backward", "[backward]") {
  // Both layers get the same float32-rounded data; the float32 result may differ from the
  // float64 one by the rounding of its sums: 2 * (terms + 4) * u32 * (the sum of |terms|),
  // with the sums of |terms| from the oracle on absolute values.
  Random rng(31337);
  std::vector<TrainConfig> configs;
  for (int k = 0; k < 150; ++k) configs.push_back(random_config(rng));
  for (const TrainConfig& c : large_configs()) configs.push_back(c);
  for (const TrainConfig& c : configs) {
    INFO(c.describe());
    Data d = draw_data(rng, c, false);
    for (std::vector<double>* v : {&d.x, &d.w_iow, &d.bias, &d.g}) *v = round_to_float(*v);
    const auto absolute = [](std::vector<double> v) {
      for (double& e : v) e = std::fabs(e);
      return v;
    };
    const ReferenceGradients mag =
        reference_backward(c.problem(), absolute(d.x), absolute(d.w_iow), absolute(d.g));
    const std::vector<double> w = in_layout(c, d.w_iow);
    convt_layer* l32 = make_layer(c, w, d.bias, false);
    convt_layer* l64 = make_layer(c, w, d.bias, true);
    const std::vector<double> x = to_format(d.x, c.format, c.batch, c.in_channels, c.steps);
    const std::vector<double> g = to_format(d.g, c.format, c.batch, c.filters, c.out_steps);
    const Grads<float> g32 =
        library_backward(l32, c, convert<float>(x), convert<float>(g), CONVT_LAYOUT_IOW);
    const Grads<double> g64 = library_backward(l64, c, x, g, CONVT_LAYOUT_IOW);
    const int64_t terms = c.kernel_size * c.filters + c.batch * (c.steps + c.out_steps);
    const double u = unit_roundoff_f32();
    int64_t failures = 0, checked = 0;
    const auto compare = [&](const std::vector<float>& got, const std::vector<double>& want,
                             const std::vector<double>& magnitude) {
      for (std::size_t i = 0; i < got.size(); ++i, ++checked) {
        const double allowed = tolerance(magnitude[i], want[i], terms, u, 1.0);
        if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= allowed)) ++failures;
      }
    };
    compare(g32.input, g64.input, to_format(mag.input, c.format, c.batch, c.in_channels, c.steps));
    compare(g32.kernel, g64.kernel, mag.kernel_iow);
    if (c.use_bias) compare(g32.bias, g64.bias, mag.bias);
    CHECK(checked == c.input_len() + c.kernel_len() + (c.use_bias ? c.filters : 0));
    CHECK(failures == 0);
    convt_layer_destroy(l32);
    convt_layer_destroy(l64);
  }
}

namespace {

template <typename T>
std::vector<unsigned char> bytes_of(const Grads<T>& g) {
  std::vector<unsigned char> b;
  for (const std::vector<T>* v : {&g.input, &g.kernel, &g.bias}) {
    const auto* p = reinterpret_cast<const unsigned char*>(v->data());
    b.insert(b.end(), p, p + v->size() * sizeof(T));
  }
  return b;
}

}  // namespace

TEST_CASE("Backward gives the same bits for every thread count and from many threads at once",
          "[backward][threads]") {
  Random rng(99);
  for (TrainConfig c : large_configs()) {
    c.activation = CONVT_ACTIVATION_TANH;
    INFO(c.describe());
    const Data d = draw_data(rng, c, false);
    convt_layer* l = make_layer(c, in_layout(c, d.w_iow), d.bias, false);
    const std::vector<float> x =
        convert<float>(to_format(d.x, c.format, c.batch, c.in_channels, c.steps));
    const std::vector<float> g =
        convert<float>(to_format(d.g, c.format, c.batch, c.filters, c.out_steps));
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_NUM_THREADS, 1));
    const std::vector<unsigned char> one = bytes_of(library_backward(l, c, x, g, c.layout));
    for (int64_t threads : {2, 3, 0}) {
      INFO("NUM_THREADS " << threads);
      TR_MUST(convt_layer_set_int(l, CONVT_PARAM_NUM_THREADS, threads));
      CHECK(bytes_of(library_backward(l, c, x, g, c.layout)) == one);
    }
    TR_MUST(convt_layer_set_int(l, CONVT_PARAM_NUM_THREADS, 2));
    std::vector<int> same(4, 0);
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < same.size(); ++t) {
      pool.emplace_back([&, t] {
        for (int it = 0; it < 3; ++it) {
          Grads<float> r;  // no Catch2 assertions off the main thread
          r.input.assign(to_size(c.input_len()), 0.0f);
          r.kernel.assign(to_size(c.kernel_len()), 0.0f);
          r.bias.assign(c.use_bias ? to_size(c.filters) : 0, 0.0f);
          const convt_status s = backward_t(l, x, c.batch, c.steps, g, c.out_steps, r.input,
                                            c.layout, r.kernel, r.bias);
          if (s == CONVT_OK && bytes_of(r) == one) ++same[t];
        }
      });
    }
    for (std::thread& th : pool) th.join();
    CHECK(same == std::vector<int>(4, 3));
    convt_layer_destroy(l);
  }
}

TEST_CASE("Each gradient asked for alone equals the one computed with all three", "[backward]") {
  Random rng(5150);
  for (int k = 0; k < 40; ++k) {
    TrainConfig c = random_config(rng);
    c.use_bias = true;
    c.activation = static_cast<int32_t>(rng.uniform_int(0, kActivations - 1));
    INFO(c.describe());
    const Data d = draw_data(rng, c, false);
    convt_layer* l = make_layer(c, in_layout(c, d.w_iow), d.bias, true);
    const std::vector<double> x = to_format(d.x, c.format, c.batch, c.in_channels, c.steps);
    const std::vector<double> g = to_format(d.g, c.format, c.batch, c.filters, c.out_steps);
    const Grads<double> all = library_backward(l, c, x, g, c.layout);
    std::vector<double> gx(all.input.size()), gk(all.kernel.size()), gb(all.bias.size()), none;
    TR_MUST(backward_t(l, x, c.batch, c.steps, g, c.out_steps, gx, c.layout, none, none));
    TR_MUST(backward_t(l, x, c.batch, c.steps, g, c.out_steps, none, c.layout, gk, none));
    TR_MUST(backward_t(l, x, c.batch, c.steps, g, c.out_steps, none, c.layout, none, gb));
    TR_MUST(backward_t(l, x, c.batch, c.steps, g, c.out_steps, none, c.layout, none, none));
    CHECK(gx == all.input);
    CHECK(gk == all.kernel);
    CHECK(gb == all.bias);
    convt_layer_destroy(l);
  }
}

TEST_CASE(
    "Trainable 0 refuses grad_kernel and grad_bias with CONVT_E_STATE and still gives grad_input",
    "[backward]") {
  Random rng(8);
  TrainConfig c = random_config(rng);
  c.use_bias = true;
  c.activation = CONVT_ACTIVATION_SIGMOID;
  INFO(c.describe());
  const Data d = draw_data(rng, c, false);
  convt_layer* l = make_layer(c, in_layout(c, d.w_iow), d.bias, true);
  const std::vector<double> x = to_format(d.x, c.format, c.batch, c.in_channels, c.steps);
  const std::vector<double> g = to_format(d.g, c.format, c.batch, c.filters, c.out_steps);
  const Grads<double> trained = library_backward(l, c, x, g, c.layout);
  TR_MUST(convt_layer_set_int(l, CONVT_PARAM_TRAINABLE, 0));

  const double sentinel = -4321.5;
  std::vector<double> gx(to_size(c.input_len()), sentinel), none;
  std::vector<double> gk(to_size(c.kernel_len()), sentinel), gb(to_size(c.filters), sentinel);
  const std::vector<double> gx0 = gx, gk0 = gk, gb0 = gb;
  CHECK(backward_t(l, x, c.batch, c.steps, g, c.out_steps, gx, c.layout, gk, none) ==
        CONVT_E_STATE);
  const std::string msg_kernel = convt_last_error();
  CHECK(msg_kernel.find("trainable") != std::string::npos);
  CHECK(msg_kernel.find("grad_kernel") != std::string::npos);
  CHECK(backward_t(l, x, c.batch, c.steps, g, c.out_steps, gx, c.layout, none, gb) ==
        CONVT_E_STATE);
  CHECK(std::string(convt_last_error()).find("grad_bias") != std::string::npos);
  CHECK(gx == gx0);  // nothing written by the refused calls
  CHECK(gk == gk0);
  CHECK(gb == gb0);
  TR_MUST(backward_t(l, x, c.batch, c.steps, g, c.out_steps, gx, c.layout, none, none));
  CHECK(gx == trained.input);
  convt_layer_destroy(l);
}
