// Streams in steady state allocate nothing: once a stream has seen a chunk size, pushes of up
// to that many steps, max_output_steps, flush and reset allocate nothing, however long the
// signal -- so the state does not grow with it. Its own executable, because it counts
// allocations by replacing the global operator new (libconvt's allocations resolve to it).
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "convt/convt.h"

namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

int g_failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++g_failures;
}

bool ok(convt_status s) {
  if (s != CONVT_OK) std::printf("  %s: %s\n", convt_status_string(s), convt_last_error());
  return s == CONVT_OK;
}

// One layer's stream: the first push of `first` steps may allocate; then `pushes` pushes
// cycling through chunks of at most `first` steps (zeros included), a flush every 97 pushes
// and a reset every 211, must not.
template <class T>
void check(const char* name, convt_layer* layer, int64_t batch, int64_t channels, int64_t filters,
           int64_t strides, int64_t first, int64_t pushes) {
  std::printf("%s\n", name);
  convt_stream* s = nullptr;
  const int64_t at_create = g_allocations.load();
  if (!ok(convt_stream_create(layer, batch, &s))) {
    expect(false, "stream created");
    return;
  }
  // Without this the zero below could mean the counter never sees the library.
  expect(g_allocations.load() > at_create, "the counter sees libconvt's allocations (create)");
  // Buffers for every call, before counting.
  std::vector<T> in(static_cast<size_t>(batch * channels * first), T(0.25));
  std::vector<T> out(static_cast<size_t>(batch * filters * (first * strides + 64)));
  const auto push = [&](int64_t steps, int64_t* n) {
    const auto len = static_cast<int64_t>(batch * channels * steps);
    const auto room = static_cast<int64_t>(out.size());
    if constexpr (sizeof(T) == 4) {
      return convt_stream_push_f32(s, in.data(), len, steps, out.data(), room, n);
    } else {
      return convt_stream_push_f64(s, in.data(), len, steps, out.data(), room, n);
    }
  };
  const auto flush = [&](int64_t* n) {
    if constexpr (sizeof(T) == 4) {
      return convt_stream_flush_f32(s, out.data(), static_cast<int64_t>(out.size()), n);
    } else {
      return convt_stream_flush_f64(s, out.data(), static_cast<int64_t>(out.size()), n);
    }
  };
  int64_t n = 0, m = 0;
  bool calls_ok = ok(push(first, &n));
  const int64_t before = g_allocations.load();
  const int64_t cycle[] = {1, first, 0, (first + 1) / 2, 1, 1};
  for (int64_t k = 0; k < pushes && calls_ok; ++k) {
    const int64_t steps = cycle[k % 6];
    // max_output_steps(0) answers for a flush; a push of 0 steps writes nothing.
    calls_ok = ok(convt_stream_max_output_steps(s, steps, &m)) && ok(push(steps, &n)) &&
               n == (steps > 0 ? m : 0);
    if (k % 97 == 96) calls_ok = calls_ok && ok(flush(&n));
    if (k % 211 == 210) calls_ok = calls_ok && ok(convt_stream_reset(s));
  }
  const int64_t during = g_allocations.load() - before;
  expect(calls_ok, "every push, flush and reset succeeded with the announced step counts");
  std::printf("  allocations after the first push: %lld over %lld pushes\n",
              static_cast<long long>(during), static_cast<long long>(pushes));
  expect(during == 0, "no allocation once the stream has seen its chunk size");
  convt_stream_destroy(s);
}

convt_layer* make(int64_t filters, int64_t kernel, int64_t strides, const char* padding,
                  int64_t pad, const char* format, const char* dtype, int64_t groups,
                  int64_t channels, const char* activation) {
  convt_layer* l = nullptr;
  if (!ok(convt_layer_create(filters, kernel, &l))) return nullptr;
  const bool fine = ok(convt_layer_set_int(l, CONVT_PARAM_STRIDES, strides)) &&
                    ok(convt_layer_set_string(l, CONVT_PARAM_PADDING, padding)) &&
                    ok(convt_layer_set_int(l, CONVT_PARAM_PAD_BEGIN, pad)) &&
                    ok(convt_layer_set_int(l, CONVT_PARAM_PAD_END, pad)) &&
                    ok(convt_layer_set_string(l, CONVT_PARAM_DATA_FORMAT, format)) &&
                    ok(convt_layer_set_string(l, CONVT_PARAM_DTYPE, dtype)) &&
                    ok(convt_layer_set_int(l, CONVT_PARAM_GROUPS, groups)) &&
                    ok(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, activation)) &&
                    ok(convt_layer_init_weights(l, channels, 42));
  if (!fine) {
    convt_layer_destroy(l);
    return nullptr;
  }
  return l;
}

}  // namespace

int main() {
  // HiFi-GAN's first upsampling layer, PyTorch style (NCW, padding (16 - 8) / 2 = 4).
  convt_layer* a =
      make(64, 16, 8, "explicit", 4, "channels_first", "float32", 1, 128, "leaky_relu");
  // A grouped float64 NWC layer with SAME padding and softmax along the filters.
  convt_layer* b = make(12, 5, 3, "same", 0, "channels_last", "float64", 2, 6, "softmax");
  expect(a != nullptr && b != nullptr, "layers created");
  if (a != nullptr) check<float>("float32, NCW, EXPLICIT", a, 2, 128, 64, 8, 4, 20000);
  if (b != nullptr) check<double>("float64, NWC, SAME, groups 2", b, 3, 6, 12, 3, 7, 20000);
  convt_layer_destroy(a);
  convt_layer_destroy(b);
  std::printf("%s\n", g_failures == 0 ? "PASS" : "FAIL");
  return g_failures == 0 ? 0 : 1;
}
