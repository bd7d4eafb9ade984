// API.md rule 5 through the public C API: forward, output_shape and the getters may run at once
// from any number of threads on one layer, and layers are independent. Each thread's output
// must be bitwise the output one thread computes alone.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "convt/convt.h"

namespace {

void threads_require_ok(convt_status s, const char* what) {
  INFO(what << " -> status " << s << ": " << convt_last_error());
  REQUIRE(s == CONVT_OK);
}
#define T_MUST(call) threads_require_ok((call), #call)

constexpr int kThreads = 8;
constexpr int kIterations = 60;

struct Config {
  const char* name;
  int64_t filters, kernel, in_channels, groups, strides, dilation;
  const char* padding;
  const char* data_format;
  const char* activation;
  bool f64;
  int64_t num_threads;
  int64_t batch, steps;
};

convt_layer* build(const Config& c, uint64_t seed) {
  convt_layer* l = nullptr;
  T_MUST(convt_layer_create(c.filters, c.kernel, &l));
  T_MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, c.groups));
  T_MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, c.strides));
  T_MUST(convt_layer_set_int(l, CONVT_PARAM_DILATION_RATE, c.dilation));
  T_MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, c.padding));
  if (std::string(c.padding) == "explicit") {
    T_MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_BEGIN, 1));
    T_MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_END, 2));
  }
  T_MUST(convt_layer_set_string(l, CONVT_PARAM_DATA_FORMAT, c.data_format));
  T_MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, c.activation));
  T_MUST(convt_layer_set_string(l, CONVT_PARAM_DTYPE, c.f64 ? "float64" : "float32"));
  T_MUST(convt_layer_set_int(l, CONVT_PARAM_NUM_THREADS, c.num_threads));
  T_MUST(convt_layer_set_string(l, CONVT_PARAM_BIAS_INITIALIZER, "random_normal"));
  T_MUST(convt_layer_init_weights(l, c.in_channels, seed));
  return l;
}

int64_t out_steps_of(const convt_layer* l, const Config& c) {
  int64_t shape[3] = {0, 0, 0};
  T_MUST(convt_layer_output_shape(l, c.batch, c.steps, shape));
  return std::string(c.data_format) == "channels_last" ? shape[1] : shape[2];
}

// One input per (config, index), different for every index, as raw bytes of the dtype.
std::vector<unsigned char> make_input(const Config& c, int index) {
  const std::size_t n = static_cast<std::size_t>(c.batch * c.steps * c.in_channels);
  std::vector<unsigned char> bytes(n * (c.f64 ? sizeof(double) : sizeof(float)));
  for (std::size_t i = 0; i < n; ++i) {
    const double v = std::sin(0.37 * static_cast<double>(i) + 1.3 * index) * (1 + 0.1 * index);
    if (c.f64) {
      std::memcpy(bytes.data() + i * sizeof(double), &v, sizeof v);
    } else {
      const float f = static_cast<float>(v);
      std::memcpy(bytes.data() + i * sizeof(float), &f, sizeof f);
    }
  }
  return bytes;
}

// Runs forward; returns the status and fills `out` with the output bytes.
convt_status run_forward(const convt_layer* l, const Config& c,
                         const std::vector<unsigned char>& in, int64_t out_steps,
                         std::vector<unsigned char>& out) {
  const int64_t in_len = c.batch * c.steps * c.in_channels;
  const int64_t out_len = c.batch * c.filters * out_steps;
  if (c.f64) {
    std::vector<double> x(static_cast<std::size_t>(in_len)), y(static_cast<std::size_t>(out_len));
    std::memcpy(x.data(), in.data(), in.size());
    const convt_status st = convt_layer_forward_f64(l, x.data(), in_len, c.batch, c.steps, y.data(),
                                                    out_len, out_steps);
    out.assign(reinterpret_cast<const unsigned char*>(y.data()),
               reinterpret_cast<const unsigned char*>(y.data() + y.size()));
    return st;
  }
  std::vector<float> x(static_cast<std::size_t>(in_len)), y(static_cast<std::size_t>(out_len));
  std::memcpy(x.data(), in.data(), in.size());
  const convt_status st =
      convt_layer_forward_f32(l, x.data(), in_len, c.batch, c.steps, y.data(), out_len, out_steps);
  out.assign(reinterpret_cast<const unsigned char*>(y.data()),
             reinterpret_cast<const unsigned char*>(y.data() + y.size()));
  return st;
}

const Config kConfigs[] = {
    {"f32 NWC same strides 2 groups 2 gelu, all cores", 16, 5, 8, 2, 2, 1, "same", "channels_last",
     "gelu", false, 0, 3, 50},
    {"f64 NCW explicit dilation 2 elu, 2 threads", 12, 3, 6, 3, 1, 2, "explicit", "channels_first",
     "elu", true, 2, 2, 40},
    {"f32 NCW valid strides 3 softmax along time, 1 thread", 8, 4, 4, 1, 3, 1, "valid",
     "channels_first", "softmax", false, 1, 4, 33},
    {"f32 NWC same_lower strides 2 dilation 3 depthwise sparsemax", 6, 3, 6, 6, 2, 3, "same_lower",
     "channels_last", "sparsemax", false, 0, 2, 45},
};

// A start line so that the threads really overlap.
class StartLine {
 public:
  explicit StartLine(int n) : waiting_(n) {}
  void arrive_and_wait() {
    waiting_.fetch_sub(1);
    while (waiting_.load() > 0) std::this_thread::yield();
  }

 private:
  std::atomic<int> waiting_;
};

}  // namespace

TEST_CASE("8 threads running forward at once on one layer give bitwise the single-thread output",
          "[threads]") {
  for (const Config& c : kConfigs) {
    INFO("layer: " << c.name);
    convt_layer* l = build(c, 31);
    const int64_t out_steps = out_steps_of(l, c);

    // References, one thread, one input per thread.
    std::vector<std::vector<unsigned char>> inputs, refs;
    for (int t = 0; t < kThreads; ++t) {
      inputs.push_back(make_input(c, t));
      std::vector<unsigned char> out;
      T_MUST(run_forward(l, c, inputs.back(), out_steps, out));
      refs.push_back(out);
    }
    // The references differ from each other, so a thread reading another's data would show.
    CHECK(refs[0] != refs[1]);

    std::vector<int> bad_status(kThreads, 0), mismatches(kThreads, 0);
    StartLine start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        std::vector<unsigned char> out;
        for (int it = 0; it < kIterations; ++it) {
          // Each thread cycles through the inputs from its own starting point.
          const std::size_t which = static_cast<std::size_t>((t + it) % kThreads);
          if (run_forward(l, c, inputs[which], out_steps, out) != CONVT_OK) {
            ++bad_status[static_cast<std::size_t>(t)];
          } else if (out != refs[which]) {
            ++mismatches[static_cast<std::size_t>(t)];
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      INFO("thread " << t);
      CHECK(bad_status[static_cast<std::size_t>(t)] == 0);
      CHECK(mismatches[static_cast<std::size_t>(t)] == 0);
    }
    convt_layer_destroy(l);
  }
}

TEST_CASE(
    "8 threads running forward at once on several layers give each layer's single-thread "
    "output",
    "[threads]") {
  constexpr int kLayers = 4;
  std::vector<convt_layer*> layers;
  std::vector<int64_t> out_steps;
  std::vector<std::vector<unsigned char>> inputs, refs;
  for (int t = 0; t < kThreads; ++t) {
    const Config& c = kConfigs[t % kLayers];
    if (t < kLayers) {
      layers.push_back(build(c, 100 + static_cast<uint64_t>(t)));
      out_steps.push_back(out_steps_of(layers.back(), c));
    }
    inputs.push_back(make_input(c, 10 + t));
    std::vector<unsigned char> out;
    T_MUST(run_forward(layers[static_cast<std::size_t>(t % kLayers)], c, inputs.back(),
                       out_steps[static_cast<std::size_t>(t % kLayers)], out));
    refs.push_back(out);
  }

  std::vector<int> bad_status(kThreads, 0), mismatches(kThreads, 0);
  StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::size_t li = static_cast<std::size_t>(t % kLayers);
      const Config& c = kConfigs[li];
      start.arrive_and_wait();
      std::vector<unsigned char> out;
      for (int it = 0; it < kIterations; ++it) {
        // Alternate between this thread's input and the other thread's on the same layer.
        const std::size_t which = it % 2 == 0 ? static_cast<std::size_t>(t)
                                              : static_cast<std::size_t>((t + kLayers) % kThreads);
        if (run_forward(layers[li], c, inputs[which], out_steps[li], out) != CONVT_OK) {
          ++bad_status[static_cast<std::size_t>(t)];
        } else if (out != refs[which]) {
          ++mismatches[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t << " on layer " << kConfigs[t % kLayers].name);
    CHECK(bad_status[static_cast<std::size_t>(t)] == 0);
    CHECK(mismatches[static_cast<std::size_t>(t)] == 0);
  }
  for (convt_layer* l : layers) convt_layer_destroy(l);
}

TEST_CASE("Getters, output_shape and get_weights run concurrently with forward on one layer",
          "[threads]") {
  const Config& c = kConfigs[0];
  convt_layer* l = build(c, 5);
  const int64_t out_steps = out_steps_of(l, c);
  const std::vector<unsigned char> input = make_input(c, 3);
  std::vector<unsigned char> ref;
  T_MUST(run_forward(l, c, input, out_steps, ref));
  const std::size_t kernel_len =
      static_cast<std::size_t>(c.kernel * c.filters * c.in_channels / c.groups);
  std::vector<float> ref_kernel(kernel_len), ref_bias(static_cast<std::size_t>(c.filters));
  T_MUST(convt_layer_get_weights_f32(l, CONVT_LAYOUT_IOW, ref_kernel.data(),
                                     static_cast<int64_t>(kernel_len), ref_bias.data(), c.filters));
  char ref_name[128];
  int64_t ref_name_len = 0;
  T_MUST(convt_layer_get_string(l, CONVT_PARAM_NAME, ref_name, sizeof ref_name, &ref_name_len));

  std::vector<int> failures(kThreads, 0);
  StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int& bad = failures[static_cast<std::size_t>(t)];
      start.arrive_and_wait();
      for (int it = 0; it < 4 * kIterations; ++it) {
        if (t % 2 == 0) {
          std::vector<unsigned char> out;
          if (run_forward(l, c, input, out_steps, out) != CONVT_OK || out != ref) ++bad;
          continue;
        }
        int64_t v = 0;
        double alpha = 0;
        if (convt_layer_get_int(l, CONVT_PARAM_STRIDES, &v) != CONVT_OK || v != c.strides) ++bad;
        if (convt_layer_get_int(l, CONVT_PARAM_IN_CHANNELS, &v) != CONVT_OK || v != c.in_channels) {
          ++bad;
        }
        if (convt_layer_get_double(l, CONVT_PARAM_ACTIVATION_ALPHA, &alpha) != CONVT_OK ||
            !std::isnan(alpha)) {
          ++bad;
        }
        char buf[128];
        int64_t len = 0;
        if (convt_layer_get_string(l, CONVT_PARAM_ACTIVATION, buf, sizeof buf, &len) != CONVT_OK ||
            std::string(buf) != "gelu") {
          ++bad;
        }
        if (convt_layer_get_string(l, CONVT_PARAM_NAME, buf, sizeof buf, &len) != CONVT_OK ||
            std::string(buf) != ref_name) {
          ++bad;
        }
        int64_t shape[3] = {0, 0, 0};
        if (convt_layer_output_shape(l, c.batch, c.steps, shape) != CONVT_OK ||
            shape[0] != c.batch || shape[1] != out_steps || shape[2] != c.filters) {
          ++bad;
        }
        std::vector<float> k(kernel_len), b(static_cast<std::size_t>(c.filters));
        if (convt_layer_get_weights_f32(l, CONVT_LAYOUT_IOW, k.data(),
                                        static_cast<int64_t>(kernel_len), b.data(),
                                        c.filters) != CONVT_OK ||
            k != ref_kernel || b != ref_bias) {
          ++bad;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t << (t % 2 == 0 ? " (forward)" : " (getters)"));
    CHECK(failures[static_cast<std::size_t>(t)] == 0);
  }
  convt_layer_destroy(l);
}
