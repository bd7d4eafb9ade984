// A C++17 program built against the installed libconvt through find_package(convt) and
// convt::convt, using the RAII wrapper convt/convt.hpp: the README's example with its output
// checked against values computed by hand, and an error caught as convt::Error.
#include <convt/convt.hpp>

#include <cstdio>
#include <vector>

int main() {
  int failures = 0;
  const auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      std::printf("consumer_cpp: FAILED: %s\n", what);
      ++failures;
    }
  };
  try {
    // keras.layers.Conv1DTranspose(filters=2, kernel_size=3, strides=2, padding="same")
    convt::Layer layer(2, 3);
    layer.set_strides(2).set_padding(convt::Padding::same);
    layer.set_weights(1, std::vector<float>{1, 10, 2, 20, 3, 30}, std::vector<float>{0.5f, -0.5f});
    const std::vector<float> y = layer.forward(std::vector<float>{1, 2, 3, 4}, 1, 4);
    // y[j] = sum of x[i] * W[t] over 2i + t = j, plus the bias, worked out by hand.
    const float want0[8] = {1.5f, 2.5f, 5.5f, 4.5f, 9.5f, 6.5f, 13.5f, 8.5f};
    expect(y.size() == 16, "the output has 1 x 8 x 2 values");
    for (std::size_t j = 0; j < 8 && y.size() == 16; ++j) {
      expect(y[2 * j] == want0[j], "filter 0 matches the hand-computed output");
      expect(y[2 * j + 1] == (want0[j] - 0.5f) * 10 - 0.5f,
             "filter 1 matches the hand-computed output");
    }
    try {
      (void)layer.forward(std::vector<double>(4, 1.0), 1, 4);
      expect(false, "a double forward on a float32 layer throws");
    } catch (const convt::Error& e) {
      expect(e.status() == CONVT_E_STATE, "the error carries CONVT_E_STATE");
      expect(!e.message().empty(), "the error carries the library's message");
    }
  } catch (const convt::Error& e) {
    std::printf("consumer_cpp: unexpected %s\n", e.what());
    return 1;
  }
  if (failures == 0) std::printf("consumer_cpp: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
