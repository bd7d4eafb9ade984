// The C++ wrapper include/convt/convt.hpp, used as a C++ program would: RAII and moves, the
// float/double dispatch by element type, pointer + size and container overloads, and errors
// as convt::Error with the C status and the library's message. Numbers are checked against
// the float64 oracle in reference.hpp.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "convt/convt.hpp"
#include "reference.hpp"

namespace {

using convt_test::to_size;

static_assert(!std::is_copy_constructible_v<convt::Layer>, "Layer owns its handle");
static_assert(!std::is_copy_assignable_v<convt::Layer>, "Layer owns its handle");
static_assert(std::is_nothrow_move_constructible_v<convt::Layer>, "moves never fail");
static_assert(std::is_nothrow_move_assignable_v<convt::Layer>, "moves never fail");
static_assert(std::is_base_of_v<std::exception, convt::Error>, "catchable as std::exception");

// Runs fn, which must throw convt::Error, and returns it.
template <class Fn>
convt::Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const convt::Error& e) {
    return e;
  }
  FAIL("expected convt::Error, nothing was thrown");
  return convt::Error(CONVT_OK, "");
}

struct Case {
  convt::Padding padding = convt::Padding::valid;
  int64_t strides = 1, dilation = 1, kernel_size = 1, output_padding = -1;
  int64_t pad_begin = 0, pad_end = 0;
  int64_t batch = 1, steps = 1, in_channels = 1, filters = 1, groups = 1;
  convt::DataFormat format = convt::DataFormat::channels_last;
  convt::Layout layout = convt::Layout::woi;
  bool use_bias = true;
};

// Builds the layer through the wrapper's named setters, sets random weights through the
// container overload and checks forward (the vector-returning overload) against the oracle.
template <class T>
void check_against_reference(const Case& c, convt_test::Random& rng) {
  convt::Layer layer(c.filters, c.kernel_size);
  layer.set_dtype(std::is_same_v<T, float> ? convt::Dtype::float32 : convt::Dtype::float64)
      .set_strides(c.strides)
      .set_dilation_rate(c.dilation)
      .set_output_padding(c.output_padding)
      .set_data_format(c.format)
      .set_groups(c.groups)
      .set_use_bias(c.use_bias);
  if (c.padding == convt::Padding::explicit_pads) {
    layer.set_pads(c.pad_begin, c.pad_end);
  } else {
    layer.set_padding(c.padding);
  }

  convt_test::Hyper h;
  h.padding = static_cast<int32_t>(c.padding);
  h.output_padding = c.output_padding;
  h.pad_begin = c.pad_begin;
  h.pad_end = c.pad_end;
  h.strides = c.strides;
  h.dilation = c.dilation;
  h.kernel_size = c.kernel_size;
  const convt_test::Lengths want = convt_test::lengths(h, c.steps);
  REQUIRE(want.verdict == convt_test::Verdict::kOk);
  CHECK(layer.output_steps(c.steps) == want.default_len);

  const int64_t cpg = c.in_channels / c.groups;
  const std::vector<double> x = rng.vector(c.batch * c.in_channels * c.steps, -1.0, 1.0);
  const std::vector<double> w_iow =
      rng.vector(c.in_channels * (c.filters / c.groups) * c.kernel_size, -1.0, 1.0);
  const std::vector<double> bias =
      c.use_bias ? rng.vector(c.filters, -1.0, 1.0) : std::vector<double>{};
  const std::vector<double> kernel =
      c.layout == convt::Layout::iow
          ? w_iow
          : convt_test::woi_from_iow(w_iow, c.in_channels, c.filters, c.groups, c.kernel_size);
  layer.set_weights(c.in_channels, convt_test::convert<T>(kernel), convt_test::convert<T>(bias),
                    c.layout);

  convt_test::Problem p;
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.filters = c.filters;
  p.groups = c.groups;
  p.kernel_size = c.kernel_size;
  p.strides = c.strides;
  p.dilation = c.dilation;
  p.steps = c.steps;
  p.out_steps = want.default_len;
  p.crop_begin = convt_test::crop_begin(h, c.steps, p.out_steps);
  const convt_test::Reference ref = convt_test::reference_forward(p, x, w_iow, bias);

  const int32_t format = static_cast<int32_t>(c.format);
  const std::vector<T> in =
      convt_test::convert<T>(convt_test::to_format(x, format, c.batch, c.in_channels, c.steps));
  const std::vector<T> out = layer.forward(in, c.batch, c.steps);
  REQUIRE(out.size() == ref.y.size());
  const std::vector<double> got = convt_test::from_format(convt_test::convert<double>(out), format,
                                                          c.batch, c.filters, p.out_steps);
  const double u =
      std::is_same_v<T, float> ? convt_test::unit_roundoff_f32() : convt_test::unit_roundoff_f64();
  const convt_test::Comparison cmp = convt_test::compare(got, ref, cpg * c.kernel_size, u, 1.0);
  INFO("first bad element " << cmp.first_failure << ": got " << cmp.got << " want " << cmp.want);
  CHECK(cmp.failures == 0);
}

std::vector<Case> cases() {
  std::vector<Case> all;
  Case keras;  // Conv1DTranspose(4, 3, strides=2, padding="same"), channels_last, WOI
  keras.padding = convt::Padding::same;
  keras.strides = 2;
  keras.kernel_size = 3;
  keras.batch = 2;
  keras.steps = 7;
  keras.in_channels = 3;
  keras.filters = 4;
  all.push_back(keras);
  Case torch;  // ConvTranspose1d(4, 6, 5, stride=3, padding=2, output_padding=1, groups=2)
  torch.padding = convt::Padding::explicit_pads;
  torch.pad_begin = torch.pad_end = 2;
  torch.strides = 3;
  torch.kernel_size = 5;
  torch.output_padding = 1;
  torch.in_channels = 4;
  torch.filters = 6;
  torch.groups = 2;
  torch.steps = 9;
  torch.format = convt::DataFormat::channels_first;
  torch.layout = convt::Layout::pytorch;
  all.push_back(torch);
  Case valid;  // dilated, no bias, valid padding
  valid.dilation = 3;
  valid.kernel_size = 4;
  valid.in_channels = 2;
  valid.filters = 3;
  valid.steps = 5;
  valid.use_bias = false;
  all.push_back(valid);
  Case lower;  // ONNX SAME_LOWER with stride 4 and an even kernel
  lower.padding = convt::Padding::same_lower;
  lower.strides = 4;
  lower.kernel_size = 6;
  lower.in_channels = 3;
  lower.filters = 2;
  lower.steps = 6;
  lower.batch = 3;
  lower.format = convt::DataFormat::channels_first;
  all.push_back(lower);
  return all;
}

}  // namespace

TEST_CASE("convt::Layer forward matches the float64 reference in float and double", "[cpp]") {
  convt_test::Random rng(606);
  int index = 0;
  for (const Case& c : cases()) {
    INFO("case " << index++);
    check_against_reference<float>(c, rng);
    check_against_reference<double>(c, rng);
  }
}

TEST_CASE("convt::Error carries the C status and this thread's library message", "[cpp]") {
  convt::Layer layer(2, 3);
  std::vector<float> x(4, 1.0f), y(16, 0.0f);
  const convt::Error e = error_of([&] { layer.forward(x, 1, 4, y, 8); });
  CHECK(e.status() == CONVT_E_STATE);
  CHECK(std::string(e.status_name()) == "CONVT_E_STATE");
  CHECK(e.message() == convt_last_error());
  CHECK(e.message().find("convt_layer_forward_f32") != std::string::npos);
  CHECK(std::string(e.what()) == "CONVT_E_STATE: " + e.message());

  const convt::Error bad = error_of([] { convt::Layer zero(0, 3); });
  CHECK(bad.status() == CONVT_E_INVALID_ARGUMENT);
  CHECK(convt_test::mentions_number(bad.message(), 0));

  const convt::Error stride = error_of([&] { layer.set_strides(-2); });
  CHECK(stride.status() == CONVT_E_INVALID_ARGUMENT);
  CHECK(convt_test::mentions_number(stride.message(), -2));
  CHECK(layer.strides() == 1);
}

TEST_CASE("A moved-from convt::Layer is empty and the moved-to one keeps the layer", "[cpp]") {
  convt::Layer a(3, 2);
  a.set_name("moved_layer").set_strides(4);
  convt_layer* const handle = a.get();
  convt::Layer b(std::move(a));
  CHECK_FALSE(a);
  CHECK(a.get() == nullptr);
  CHECK(b.get() == handle);
  CHECK(b.name() == "moved_layer");
  CHECK(b.strides() == 4);
  const convt::Error e = error_of([&] { (void)a.filters(); });
  CHECK(e.status() == CONVT_E_INVALID_ARGUMENT);

  convt::Layer c(1, 1);
  c = std::move(b);
  CHECK(c.get() == handle);
  CHECK(c.filters() == 3);
  CHECK_FALSE(b);

  convt_layer* released = c.release();
  CHECK_FALSE(c);
  convt::Layer adopted(released);
  CHECK(adopted.kernel_size() == 2);
}

TEST_CASE("convt::Layer weights round-trip through both layouts and all overloads", "[cpp]") {
  const int64_t C = 4, F = 6, G = 2, K = 3;
  convt::Layer layer(F, K);
  layer.set_groups(G).set_dtype(convt::Dtype::float64);
  convt_test::Random rng(7);
  const std::vector<double> woi = rng.vector(K * F * (C / G), -1.0, 1.0);
  const std::array<double, 6> bias = {1, 2, 3, 4, 5, 6};
  layer.set_weights(C, woi, bias);
  CHECK(layer.in_channels() == C);

  const convt::Weights<double> keras = layer.get_weights<double>();
  CHECK(keras.kernel == woi);
  CHECK(keras.bias == std::vector<double>(bias.begin(), bias.end()));

  const convt::Weights<double> torch = layer.get_weights<double>(convt::Layout::pytorch);
  CHECK(torch.kernel == convt_test::iow_from_woi(woi, C, F, G, K));

  std::vector<double> k(woi.size(), 0.0);
  double b[6] = {};
  layer.get_weights(convt::Layout::woi, k.data(), static_cast<int64_t>(k.size()), b, 6);
  CHECK(k == woi);
  CHECK(b[5] == 6.0);

  // A kernel of the wrong length: the library's CONVT_E_SHAPE, weights unchanged.
  const convt::Error e = error_of([&] { layer.set_weights(C, std::vector<double>(5, 0.0), bias); });
  CHECK(e.status() == CONVT_E_SHAPE);
  CHECK(convt_test::mentions_number(e.message(), 5));
  CHECK(layer.get_weights<double>().kernel == woi);
}

TEST_CASE("convt::Layer dispatches on element type and rejects the other dtype", "[cpp]") {
  convt::Layer layer(2, 2);
  layer.init_weights(3, 42);
  const std::vector<double> x(3 * 5, 0.5);
  const convt::Error e = error_of([&] { (void)layer.forward(x, 1, 5); });
  CHECK(e.status() == CONVT_E_STATE);
  CHECK(e.message().find("convt_layer_forward_f64") != std::string::npos);
  const std::vector<float> xf(3 * 5, 0.5f);
  CHECK(layer.forward(xf, 1, 5).size() == to_size(1 * 6 * 2));
}

TEST_CASE("convt::Layer pointer forward writes exactly batch x filters x out_steps values",
          "[cpp]") {
  convt::Layer layer(1, 3);
  layer.set_strides(2).set_padding("SAME");
  const float kernel[3] = {1, 2, 3};
  const float bias[1] = {0.5f};
  layer.set_weights(1, convt::Layout::woi, kernel, 3, bias, 1);
  const float x[4] = {1, 2, 3, 4};
  float y[10];
  for (float& v : y) v = -100.0f;
  // TF's output_shape may ask for 7 steps with SAME: (L-1)*S + 1 <= 7 <= L*S.
  layer.forward(x, 4, 1, 4, y, 10, 7);
  CHECK(y[7] == -100.0f);
  CHECK(y[9] == -100.0f);
  // Too short an output: CONVT_E_SHAPE and nothing written.
  float small[7];
  for (float& v : small) v = -7.0f;
  const convt::Error e = error_of([&] { layer.forward(x, 4, 1, 4, small, 7, 8); });
  CHECK(e.status() == CONVT_E_SHAPE);
  for (float v : small) CHECK(v == -7.0f);
  // out_steps no input could give: the library's error, not an allocation failure.
  const convt::Error long_out = error_of([&] { (void)layer.forward(x, 1, 4, int64_t{1000}); });
  CHECK(long_out.status() == CONVT_E_SHAPE);
  CHECK(convt_test::mentions_number(long_out.message(), 1000));
}

TEST_CASE("convt::Layer set_pads sets explicit padding or changes nothing", "[cpp]") {
  convt::Layer layer(2, 5);
  layer.set_pads(2, 1);
  CHECK(layer.padding() == convt::Padding::explicit_pads);
  CHECK(layer.get_int(convt::Param::pad_begin) == 2);
  CHECK(layer.get_int(convt::Param::pad_end) == 1);
  CHECK(layer.output_steps(4) == (4 - 1) * 1 + 5 - 3);

  layer.set_padding(convt::Padding::same);
  const convt::Error e = error_of([&] { layer.set_pads(7, -1); });
  CHECK(e.status() == CONVT_E_INVALID_ARGUMENT);
  CHECK(layer.padding() == convt::Padding::same);
  CHECK(layer.get_int(convt::Param::pad_begin) == 2);
  CHECK(layer.get_int(convt::Param::pad_end) == 1);
}

TEST_CASE("convt::Layer reads strings and doubles as the C API defines them", "[cpp]") {
  convt::Layer layer(2, 5);
  CHECK(layer.activation() == "linear");
  layer.set_activation("swish");
  CHECK(layer.activation() == "silu");
  CHECK(std::isnan(layer.get_double(convt::Param::activation_alpha)));
  layer.set_activation("leaky_relu").set_activation_alpha(0.3);
  CHECK(layer.get_double(convt::Param::activation_alpha) == 0.3);
  const std::string long_name(300, 'n');
  layer.set_name(long_name);
  CHECK(layer.name() == long_name);
  CHECK(layer.get_string(convt::Param::data_format) == "channels_last");
  const convt::Error e = error_of([&] { (void)layer.get_string(convt::Param::strides); });
  CHECK(e.status() == CONVT_E_INVALID_ARGUMENT);
  const convt::Error glu = error_of([&] { layer.set_activation("glu"); });
  CHECK(glu.status() == CONVT_E_UNSUPPORTED);
  CHECK(glu.message().find("glu") != std::string::npos);
  CHECK(convt::version_number() == CONVT_VERSION_NUMBER);
  CHECK(std::string(convt::version_string()) == "1.0.0");
}

TEST_CASE("convt::Layer get_weights before any weights is the library's state error", "[cpp]") {
  convt::Layer layer(2, 5);
  const convt::Error e = error_of([&] { (void)layer.get_weights<float>(); });
  CHECK(e.status() == CONVT_E_STATE);
  layer.set_in_channels(3);
  const convt::Error declared = error_of([&] { (void)layer.get_weights<float>(); });
  CHECK(declared.status() == CONVT_E_STATE);
}

// ---- training and streams ---------------------------------------------------------------

namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

TEST_CASE("convt::Layer backward is the adjoint of forward in input and kernel", "[cpp]") {
  // Linear layer: y = sum x * W + b, so <y - b, g> = <x, dL/dx> = <W, dL/dW> for dL/dy = g,
  // and dL/db[o] is the sum of g over the batch and the steps.
  const int64_t N = 2, C = 4, F = 6, G = 2, K = 5, L = 9;
  convt::Layer layer(F, K);
  layer.set_dtype(convt::Dtype::float64).set_groups(G).set_strides(3).set_pads(2, 1);
  convt_test::Random rng(11);
  const std::vector<double> w = rng.vector(K * F * (C / G), -1.0, 1.0);
  const std::vector<double> b = rng.vector(F, -1.0, 1.0);
  layer.set_weights(C, w, b);
  const std::vector<double> x = rng.vector(N * L * C, -1.0, 1.0);
  const int64_t out = layer.output_steps(L);
  const std::vector<double> y = layer.forward(x, N, L);
  const std::vector<double> g = rng.vector(N * out * F, -1.0, 1.0);
  const convt::Gradients<double> grads = layer.backward(x, N, L, g, out);
  REQUIRE(grads.input.size() == x.size());
  REQUIRE(grads.kernel.size() == w.size());
  REQUIRE(grads.bias.size() == b.size());

  std::vector<double> y_no_bias = y;  // channels_last: (N, out, F)
  for (std::size_t i = 0; i < y.size(); ++i) y_no_bias[i] -= b[i % to_size(F)];
  const double want = dot(y_no_bias, g);
  CHECK(dot(x, grads.input) == Approx(want).epsilon(1e-12));
  CHECK(dot(w, grads.kernel) == Approx(want).epsilon(1e-12));
  for (int64_t o = 0; o < F; ++o) {
    double sum = 0.0;
    for (int64_t k = o; k < N * out * F; k += F) sum += g[to_size(k)];
    CHECK(grads.bias[to_size(o)] == Approx(sum).epsilon(1e-12));
  }

  // PyTorch's layout gives the same kernel gradient, regrouped.
  const convt::Gradients<double> torch = layer.backward(x, N, L, g, out, convt::Layout::pytorch);
  const std::vector<double> regrouped = convt_test::iow_from_woi(grads.kernel, C, F, G, K);
  for (std::size_t i = 0; i < regrouped.size(); ++i)
    CHECK(torch.kernel[i] == Approx(regrouped[i]).epsilon(1e-12));

  // Frozen: only the input's gradient is asked for, and it is the same.
  layer.set_int(convt::Param::trainable, 0);
  const convt::Gradients<double> frozen = layer.backward(x, N, L, g, out);
  CHECK(frozen.kernel.empty());
  CHECK(frozen.bias.empty());
  CHECK(frozen.input == grads.input);

  // A grad_output of the wrong length: the library's CONVT_E_SHAPE.
  const convt::Error e = error_of([&] { (void)layer.backward(x, N, L, x, out); });
  CHECK(e.status() == CONVT_E_SHAPE);
}

TEST_CASE("convt::Layer penalties and constraints follow the regularizer formulas", "[cpp]") {
  convt::Layer layer(3, 2);
  layer.set_dtype(convt::Dtype::float64)
      .set_int(convt::Param::kernel_regularizer, static_cast<int64_t>(convt::Regularizer::l2))
      .set_double(convt::Param::kernel_regularizer_l2, 0.5)
      .set_string(convt::Param::activity_regularizer, "l1")
      .set_string(convt::Param::kernel_constraint, "non_neg");
  CHECK(layer.get_double(convt::Param::activity_regularizer_l1) == 0.01);
  const std::vector<double> w = {1, -2, 3, -4, 5, -6};  // (2, 3, 1)
  layer.set_weights(1, w, std::vector<double>{0, 0, 0});
  CHECK(layer.regularization_loss() == Approx(0.5 * (1 + 4 + 9 + 16 + 25 + 36)));
  const std::vector<double> y = {1, -1, 2, -2, 3, -3};  // batch 2, 1 step, 3 filters
  CHECK(layer.activity_regularization(y, 2, 1) == Approx(0.01 * 12 / 2));
  CHECK(layer.workspace_size(2, 4, layer.output_steps(4)) >= 0);

  layer.apply_constraints();
  CHECK(layer.get_weights<double>().kernel == std::vector<double>{1, 0, 3, 0, 5, 0});
}

TEST_CASE("convt::Stream chunks concatenate to the whole forward output", "[cpp]") {
  const int64_t N = 2, C = 3, F = 2, K = 5, L = 23;
  convt::Layer layer(F, K);
  layer.set_strides(2).set_padding(convt::Padding::same);
  convt_test::Random rng(5);
  // Small integers: every sum is exact in float, so chunked and whole agree bitwise.
  layer.set_weights(C, convt_test::convert<float>(rng.nonzero_integers(K * F * C, -3, 3)),
                    convt_test::convert<float>(rng.nonzero_integers(F, -3, 3)));
  const std::vector<float> x = convt_test::convert<float>(rng.nonzero_integers(N * L * C, -3, 3));
  const std::vector<float> whole = layer.forward(x, N, L);
  const int64_t out = layer.output_steps(L);

  convt::Stream stream(layer, N);
  std::vector<std::vector<float>> per_item(to_size(N));  // (steps, F) rows of each item
  const auto append = [&](const std::vector<float>& chunk) {
    const std::size_t rows = chunk.size() / to_size(N * F);
    for (int64_t n = 0; n < N; ++n)
      per_item[to_size(n)].insert(
          per_item[to_size(n)].end(),
          chunk.begin() + static_cast<std::ptrdiff_t>(n) * static_cast<std::ptrdiff_t>(rows * F),
          chunk.begin() +
              static_cast<std::ptrdiff_t>(n + 1) * static_cast<std::ptrdiff_t>(rows * F));
  };
  int64_t done = 0;
  for (const int64_t steps : {1, 4, 0, 7, 11}) {
    std::vector<float> chunk;  // (N, steps, C) cut from x
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = done; i < done + steps; ++i)
        for (int64_t c = 0; c < C; ++c) chunk.push_back(x[to_size((n * L + i) * C + c)]);
    append(stream.push(chunk, steps));
    done += steps;
  }
  REQUIRE(done == L);
  append(stream.flush<float>());
  std::vector<float> streamed;
  for (const auto& rows : per_item) streamed.insert(streamed.end(), rows.begin(), rows.end());
  REQUIRE(streamed.size() == to_size(N * out * F));
  CHECK(streamed == whole);

  // After a flush the stream starts again; float64 calls on a float32 stream are refused.
  CHECK(stream.max_output_steps(0) == 0);
  const convt::Error e = error_of([&] { (void)stream.push(std::vector<double>(N * C, 1.0), 1); });
  CHECK(e.status() == CONVT_E_STATE);
  stream.reset();
  convt::Stream moved(std::move(stream));
  CHECK_FALSE(stream);
  CHECK(moved.push(std::vector<float>(N * C, 1.0f), 1).size() % to_size(N * F) == 0);

  convt::Layer empty(2, 3);
  const convt::Error no_weights = error_of([&] { convt::Stream s(empty, 1); });
  CHECK(no_weights.status() == CONVT_E_STATE);
}
