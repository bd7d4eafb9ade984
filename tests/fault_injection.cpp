// Allocation failure at every allocation site a call reaches. This program replaces the global
// operator new (so it is its own executable, not part of convt_tests) with one that fails the
// N-th allocation after it is armed, and runs each call for N = 1, 2, ... until the call
// succeeds without an injected failure. The calls: create, set_string (the name and an enum),
// get_string, output_shape, set_weights (first and replacing), init_weights, forward (short
// and several tiles), backward (plain and with every penalty), regularization_loss,
// apply_constraints, stream create, every push of a growing chunking, flush and reset; on
// four layers covering both dtypes and formats, groups, bias or none, and activations with
// and without workspace. Every failing run must:
//   - return CONVT_E_OUT_OF_MEMORY with a message saying so, throwing nothing across the
//     boundary;
//   - leak nothing (every allocation made during the call is freed again: counted here, and
//     LeakSanitizer checks the same under scripts/hardening.sh's ASan build);
//   - write no caller buffer (sentinel-filled, compared bitwise) and change nothing in the
//     layer: every parameter, the name, the weights, and forward's output for a fixed input,
//     bitwise; and leave it usable (that forward still succeeds). A stream whose pushes and
//     flush failed this way must then give bitwise the outputs of the same signal streamed
//     without failures (a failed push consumes nothing).
// operator new is the allocator of everything libconvt allocates itself; the OpenMP runtime
// and OpenBLAS allocate with malloc, outside its reach. Prints each call's number of
// allocation sites; exits non-zero if any run broke a rule.
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <new>
#include <string>
#include <vector>

#include "convt/convt.h"
#include "sentinel.hpp"

// ---- the failing allocator ----------------------------------------------------------------
namespace {

std::atomic<int64_t> g_countdown{0};  // > 0: armed; the allocation that takes it to 0 fails
std::atomic<bool> g_injected{false};  // an armed allocation failed
std::atomic<int64_t> g_live{0};       // allocations not yet freed

void* allocate(std::size_t n, std::size_t align) {
  if (g_countdown.load() > 0 && g_countdown.fetch_sub(1) == 1) {
    g_injected = true;
    return nullptr;
  }
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n == 0 ? 1 : n);
  } else if (posix_memalign(&p, align, n == 0 ? align : n) != 0) {
    p = nullptr;
  }
  if (p != nullptr) ++g_live;
  return p;
}

void release(void* p) noexcept {
  if (p == nullptr) return;
  --g_live;
  std::free(p);
}

void* allocate_or_throw(std::size_t n, std::size_t align) {
  void* p = allocate(n, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }

namespace {

int g_failures = 0;

void violation(const std::string& what) {
  std::fprintf(stderr, "FAULT INJECTION VIOLATION: %s\n", what.c_str());
  ++g_failures;
}

void require_ok(convt_status s, const char* call) {
  if (s != CONVT_OK) {
    std::fprintf(stderr, "setup call failed: %s -> %d: %s\n", call, s, convt_last_error());
    std::exit(2);
  }
}
#define MUST(call) require_ok((call), #call)

// ---- buffers ------------------------------------------------------------------------------
template <class T>
T sentinel() {
  return convt_test::untouched<T>();
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

using convt_test::all_untouched;

template <class T>
std::vector<T> ramp(int64_t n, double scale) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = T(std::sin(0.7 * double(i) + scale));
  return v;
}

// ---- what a layer looks like from outside -------------------------------------------------
constexpr int32_t kMaxParam = 64;

struct Snapshot {
  std::vector<int64_t> ints;
  std::vector<uint64_t> doubles;
  std::string name;
  std::vector<double> kernel, bias;  // WOI, widened (exact for float)
  std::vector<uint8_t> output;       // forward's output bytes for a fixed input, if it runs
  convt_status forward_status = -1;

  bool operator==(const Snapshot& o) const {
    return ints == o.ints && doubles == o.doubles && name == o.name &&
           same_bits(kernel, o.kernel) && same_bits(bias, o.bias) && output == o.output &&
           forward_status == o.forward_status;
  }
};

// The fixed input a snapshot runs forward on.
struct Probe {
  int64_t batch = 2, steps = 7;
};

int64_t get(const convt_layer* l, convt_param p) {
  int64_t v = 0;
  MUST(convt_layer_get_int(l, p, &v));
  return v;
}

bool is_f64(const convt_layer* l) { return get(l, CONVT_PARAM_DTYPE) == CONVT_DTYPE_FLOAT64; }

template <class T>
convt_status forward(const convt_layer* l, const std::vector<T>& x, int64_t batch, int64_t steps,
                     std::vector<T>& y, int64_t out_steps) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return convt_layer_forward_f32(l, x.data(), int64_t(x.size()), batch, steps, y.data(),
                                   int64_t(y.size()), out_steps);
  } else {
    return convt_layer_forward_f64(l, x.data(), int64_t(x.size()), batch, steps, y.data(),
                                   int64_t(y.size()), out_steps);
  }
}

int64_t default_out_steps(const convt_layer* l, int64_t batch, int64_t steps) {
  int64_t shape[3] = {0, 0, 0};
  MUST(convt_layer_output_shape(l, batch, steps, shape));
  return get(l, CONVT_PARAM_DATA_FORMAT) == CONVT_CHANNELS_FIRST ? shape[2] : shape[1];
}

template <class T>
void snapshot_forward(const convt_layer* l, const Probe& p, Snapshot& s) {
  const int64_t c = get(l, CONVT_PARAM_IN_CHANNELS), f = get(l, CONVT_PARAM_FILTERS);
  const int64_t out_steps = default_out_steps(l, p.batch, p.steps);
  const std::vector<T> x = ramp<T>(p.batch * p.steps * c, 0.3);
  std::vector<T> y(static_cast<size_t>(p.batch * f * out_steps), sentinel<T>());
  s.forward_status = forward(l, x, p.batch, p.steps, y, out_steps);
  s.output.assign(reinterpret_cast<const uint8_t*>(y.data()),
                  reinterpret_cast<const uint8_t*>(y.data() + y.size()));
}

template <class T>
void snapshot_weights(const convt_layer* l, Snapshot& s) {
  const int64_t k = get(l, CONVT_PARAM_KERNEL_SIZE), f = get(l, CONVT_PARAM_FILTERS);
  const int64_t c = get(l, CONVT_PARAM_IN_CHANNELS), g = get(l, CONVT_PARAM_GROUPS);
  const int64_t b = get(l, CONVT_PARAM_USE_BIAS) ? f : 0;
  std::vector<T> kernel(static_cast<size_t>(k * f * (c / g))), bias(static_cast<size_t>(b));
  convt_status st;
  if constexpr (sizeof(T) == sizeof(float)) {
    st = convt_layer_get_weights_f32(l, CONVT_LAYOUT_WOI, kernel.data(), int64_t(kernel.size()),
                                     b ? bias.data() : nullptr, b);
  } else {
    st = convt_layer_get_weights_f64(l, CONVT_LAYOUT_WOI, kernel.data(), int64_t(kernel.size()),
                                     b ? bias.data() : nullptr, b);
  }
  if (st != CONVT_OK) return;  // no weights yet: forward's status records it
  s.kernel.assign(kernel.begin(), kernel.end());
  s.bias.assign(bias.begin(), bias.end());
}

Snapshot snapshot(const convt_layer* l, const Probe& p) {
  Snapshot s;
  for (int32_t q = 1; q <= kMaxParam; ++q) {
    int64_t v = 0;
    double d = 0;
    if (convt_layer_get_int(l, q, &v) == CONVT_OK) s.ints.push_back(v);
    if (convt_layer_get_double(l, q, &d) == CONVT_OK) {
      uint64_t bits = 0;
      std::memcpy(&bits, &d, sizeof bits);
      s.doubles.push_back(bits);
    }
  }
  char buf[256];
  int64_t len = 0;
  MUST(convt_layer_get_string(l, CONVT_PARAM_NAME, buf, sizeof buf, &len));
  s.name = buf;
  if (get(l, CONVT_PARAM_IN_CHANNELS) == 0) return s;  // no weights: nothing more to see
  if (is_f64(l)) {
    snapshot_weights<double>(l, s);
    snapshot_forward<double>(l, p, s);
  } else {
    snapshot_weights<float>(l, s);
    snapshot_forward<float>(l, p, s);
  }
  return s;
}

// ---- the loop -----------------------------------------------------------------------------

// Runs `call` with the N-th allocation failing, N = 1, 2, ..., until it succeeds without an
// injected failure. After each failure (allocator disarmed) the layer, when given, must equal
// its snapshot from before the call and still work, and `check_outputs` verifies that the
// caller's buffers were not written. `reset` runs after a success (to undo it or refill the
// buffers). A call that cannot be repeated (a stream push) stops at its first success, also
// when the library recovered from an injected failure by itself. Returns the number of
// allocation sites seen.
int exhaust(
    const std::string& what, const convt_layer* layer, const std::function<convt_status()>& call,
    const std::function<void(const std::string&)>& check_outputs,
    const std::function<void()>& reset = [] {}, bool repeatable = true) {
  const Probe probe;
  for (int64_t n = 1;; ++n) {
    const std::string run = what + " with allocation " + std::to_string(n) + " failing";
    const Snapshot before = layer != nullptr ? snapshot(layer, probe) : Snapshot();
    const int64_t live = g_live.load();
    g_injected = false;
    g_countdown = n;
    convt_status s = CONVT_E_INTERNAL;
    try {
      s = call();
    } catch (...) {
      g_countdown = 0;
      violation(run + ": an exception crossed the C boundary");
      return int(n);
    }
    g_countdown = 0;
    const bool injected = g_injected.load();
    if (s == CONVT_OK) {
      reset();
      if (!injected || !repeatable) {
        std::printf("  %-66s %4d allocation sites%s\n", what.c_str(), int(n - 1),
                    injected ? " (recovered from the last)" : "");
        return int(n - 1);
      }
      continue;  // the library recovered from this failure by itself; try the next site
    }
    if (!injected) {
      violation(run + ": failed without an injected failure: " + convt_last_error());
      return int(n);
    }
    if (s != CONVT_E_OUT_OF_MEMORY) {
      violation(run + ": status " + std::to_string(s) + " (" + convt_status_string(s) +
                "), expected CONVT_E_OUT_OF_MEMORY: " + convt_last_error());
    }
    if (std::strstr(convt_last_error(), "memory") == nullptr) {
      violation(run + ": the message does not say memory: " + convt_last_error());
    }
    if (g_live.load() != live) {
      violation(run + ": " + std::to_string(g_live.load() - live) + " allocations leaked");
    }
    if (layer != nullptr) {
      const Snapshot after = snapshot(layer, probe);
      if (!(after == before)) violation(run + ": the layer changed");
      if (before.forward_status == CONVT_OK && after.forward_status != CONVT_OK) {
        violation(run + ": the layer is no longer usable");
      }
    }
    check_outputs(run);
    if (n > 100000) {
      violation(what + ": more than 100000 allocations");
      return int(n);
    }
  }
}

void nothing_to_check(const std::string&) {}

// ---- scenarios ----------------------------------------------------------------------------
struct Config {
  const char* label;
  int64_t filters, kernel, in_channels, groups, strides, dilation;
  const char* padding;
  const char* format;
  const char* activation;
  bool f64, use_bias;
  int64_t num_threads;
};

const Config kConfigs[] = {
    {"f32 NWC valid linear", 4, 3, 3, 1, 2, 1, "valid", "channels_last", "LINEAR", false, true, 1},
    {"f64 NCW same groups 2 softmax", 6, 4, 4, 2, 3, 2, "same", "channels_first", "Softmax", true,
     true, 2},
    {"f32 NCW explicit no bias sparsemax all threads", 3, 5, 2, 1, 1, 3, "explicit",
     "channels_first", "sparsemax", false, false, 0},
    {"f64 NWC same_lower depthwise gelu", 4, 2, 4, 4, 2, 1, "same_lower", "channels_last", "GELU",
     true, true, 0},
};

convt_layer* configure(const Config& c) {
  convt_layer* l = nullptr;
  MUST(convt_layer_create(c.filters, c.kernel, &l));
  MUST(convt_layer_set_int(l, CONVT_PARAM_GROUPS, c.groups));
  MUST(convt_layer_set_int(l, CONVT_PARAM_STRIDES, c.strides));
  MUST(convt_layer_set_int(l, CONVT_PARAM_DILATION_RATE, c.dilation));
  MUST(convt_layer_set_string(l, CONVT_PARAM_PADDING, c.padding));
  MUST(convt_layer_set_string(l, CONVT_PARAM_DATA_FORMAT, c.format));
  MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, c.activation));
  MUST(convt_layer_set_string(l, CONVT_PARAM_DTYPE, c.f64 ? "float64" : "float32"));
  MUST(convt_layer_set_int(l, CONVT_PARAM_USE_BIAS, c.use_bias ? 1 : 0));
  MUST(convt_layer_set_int(l, CONVT_PARAM_NUM_THREADS, c.num_threads));
  if (std::string(c.padding) == "explicit") {
    MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_BEGIN, 1));
    MUST(convt_layer_set_int(l, CONVT_PARAM_PAD_END, 1));
  }
  return l;
}

template <class T>
convt_status set_weights(convt_layer* l, int64_t c, const std::vector<T>& k,
                         const std::vector<T>& b) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return convt_layer_set_weights_f32(l, c, CONVT_LAYOUT_IOW, k.data(), int64_t(k.size()),
                                       b.empty() ? nullptr : b.data(), int64_t(b.size()));
  } else {
    return convt_layer_set_weights_f64(l, c, CONVT_LAYOUT_IOW, k.data(), int64_t(k.size()),
                                       b.empty() ? nullptr : b.data(), int64_t(b.size()));
  }
}

template <class T>
void layer_calls(const Config& c) {
  convt_layer* l = configure(c);
  const std::vector<T> kernel = ramp<T>(c.kernel * c.filters * c.in_channels / c.groups, 1.1);
  const std::vector<T> bias = c.use_bias ? ramp<T>(c.filters, 2.3) : std::vector<T>();
  const std::vector<T> kernel2 = ramp<T>(int64_t(kernel.size()), 5.0);
  const std::string tag = std::string(c.label) + ": ";

  // Weights: set on a layer without weights, replaced, and initialized (orthogonal allocates
  // the most).
  exhaust(
      tag + "set_weights (first)", l, [&] { return set_weights(l, c.in_channels, kernel, bias); },
      nothing_to_check);
  exhaust(
      tag + "set_weights (replacing)", l,
      [&] { return set_weights(l, c.in_channels, kernel2, bias); }, nothing_to_check);
  MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_INITIALIZER, "orthogonal"));
  exhaust(
      tag + "init_weights orthogonal", l,
      [&] { return convt_layer_init_weights(l, c.in_channels, 9); }, nothing_to_check);

  // The name (long enough that the string allocates) and a parameter by name.
  exhaust(
      tag + "set_string NAME", l,
      [&] {
        return convt_layer_set_string(
            l, CONVT_PARAM_NAME,
            "a_layer_name_long_enough_to_need_a_new_allocation_whatever_the_capacity_was");
      },
      nothing_to_check);
  exhaust(
      tag + "set_string ACTIVATION", l,
      [&] { return convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, c.activation); },
      nothing_to_check);

  // Getters and output_shape: nothing written on failure.
  const std::vector<char> clean(128, '\x5a');
  std::vector<char> buf = clean;
  int64_t length = -3;
  exhaust(
      tag + "get_string NAME", l,
      [&] {
        return convt_layer_get_string(l, CONVT_PARAM_NAME, buf.data(), int64_t(buf.size()),
                                      &length);
      },
      [&](const std::string& run) {
        if (length != -3 || buf != clean) violation(run + ": wrote buf or length");
      },
      [&] {
        length = -3;
        buf = clean;
      });
  int64_t shape[3] = {-3, -3, -3};
  exhaust(
      tag + "output_shape", l, [&] { return convt_layer_output_shape(l, 3, 11, shape); },
      [&](const std::string& run) {
        if (shape[0] != -3 || shape[1] != -3 || shape[2] != -3) violation(run + ": wrote shape");
      });

  // forward, short and long enough for several column tiles.
  for (const int64_t steps : {int64_t{5}, int64_t{3000}}) {
    const int64_t out_steps = default_out_steps(l, 2, steps);
    const std::vector<T> x = ramp<T>(2 * steps * c.in_channels, 0.9);
    std::vector<T> y(size_t(2 * c.filters * out_steps), sentinel<T>());
    exhaust(
        tag + "forward steps " + std::to_string(steps), l,
        [&] { return forward(l, x, 2, steps, y, out_steps); },
        [&](const std::string& run) {
          if (!all_untouched(y)) violation(run + ": wrote output");
        },
        [&] { y.assign(y.size(), sentinel<T>()); });
  }
  convt_layer_destroy(l);
}

template <class T>
convt_status backward(const convt_layer* l, const std::vector<T>& x, int64_t batch, int64_t steps,
                      const std::vector<T>& g, int64_t out_steps, std::vector<T>& gx,
                      std::vector<T>& gk, std::vector<T>& gb) {
  T* gbp = gb.empty() ? nullptr : gb.data();
  if constexpr (sizeof(T) == sizeof(float)) {
    return convt_layer_backward_f32(l, x.data(), int64_t(x.size()), batch, steps, g.data(),
                                    int64_t(g.size()), out_steps, gx.data(), int64_t(gx.size()),
                                    CONVT_LAYOUT_WOI, gk.data(), int64_t(gk.size()), gbp,
                                    int64_t(gb.size()));
  } else {
    return convt_layer_backward_f64(l, x.data(), int64_t(x.size()), batch, steps, g.data(),
                                    int64_t(g.size()), out_steps, gx.data(), int64_t(gx.size()),
                                    CONVT_LAYOUT_WOI, gk.data(), int64_t(gk.size()), gbp,
                                    int64_t(gb.size()));
  }
}

// backward (plain, then with every penalty), the penalties and the constraints.
template <class T>
void training_calls(const Config& c) {
  convt_layer* l = configure(c);
  MUST(convt_layer_init_weights(l, c.in_channels, 5));
  const std::string tag = std::string(c.label) + ": ";
  const int64_t batch = 2, steps = 40, out_steps = default_out_steps(l, batch, steps);
  const std::vector<T> x = ramp<T>(batch * steps * c.in_channels, 0.4);
  const std::vector<T> g = ramp<T>(batch * c.filters * out_steps, 2.2);
  std::vector<T> gx(x.size(), sentinel<T>());
  std::vector<T> gk(size_t(c.kernel * c.filters * c.in_channels / c.groups), sentinel<T>());
  std::vector<T> gb(c.use_bias ? size_t(c.filters) : 0, sentinel<T>());
  const auto refill = [&] {
    for (auto* v : {&gx, &gk, &gb}) v->assign(v->size(), sentinel<T>());
  };
  const auto check = [&](const std::string& run) {
    if (!all_untouched(gx) || !all_untouched(gk) || !all_untouched(gb))
      violation(run + ": wrote a gradient");
  };
  exhaust(
      tag + "backward", l, [&] { return backward(l, x, batch, steps, g, out_steps, gx, gk, gb); },
      check, refill);
  MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_REGULARIZER, "l2"));
  MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVITY_REGULARIZER, "l1_l2"));
  MUST(convt_layer_set_double(l, CONVT_PARAM_ACTIVITY_REGULARIZER_L2, 0.5));
  MUST(convt_layer_set_int(l, CONVT_PARAM_BACKWARD_REGULARIZATION, 1));
  exhaust(
      tag + "backward with the penalties", l,
      [&] { return backward(l, x, batch, steps, g, out_steps, gx, gk, gb); }, check, refill);
  double loss = -3;
  exhaust(
      tag + "regularization_loss", l, [&] { return convt_layer_regularization_loss(l, &loss); },
      [&](const std::string& run) {
        if (loss != -3) violation(run + ": wrote the loss");
      },
      [&] { loss = -3; });
  MUST(convt_layer_set_string(l, CONVT_PARAM_KERNEL_CONSTRAINT, "max_norm"));
  MUST(convt_layer_set_double(l, CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE, 0.1));
  exhaust(
      tag + "apply_constraints", l, [&] { return convt_layer_apply_constraints(l); },
      nothing_to_check);
  convt_layer_destroy(l);
}

template <class T>
convt_status push(convt_stream* s, const std::vector<T>& x, int64_t steps, std::vector<T>& y,
                  int64_t* n) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return convt_stream_push_f32(s, x.data(), int64_t(x.size()), steps, y.data(), int64_t(y.size()),
                                 n);
  } else {
    return convt_stream_push_f64(s, x.data(), int64_t(x.size()), steps, y.data(), int64_t(y.size()),
                                 n);
  }
}

template <class T>
convt_status flush(convt_stream* s, std::vector<T>& y, int64_t* n) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return convt_stream_flush_f32(s, y.data(), int64_t(y.size()), n);
  } else {
    return convt_stream_flush_f64(s, y.data(), int64_t(y.size()), n);
  }
}

// One signal through a stream, in chunks; with `faults`, every push and the flush run through
// exhaust(). Returns the outputs' bytes, concatenated.
template <class T>
std::vector<uint8_t> stream_signal(convt_layer* l, const Config& c,
                                   const std::vector<int64_t>& chunks, bool faults) {
  const std::string tag = std::string(c.label) + ": ";
  const int64_t batch = 2;
  convt_stream* s = nullptr;
  MUST(convt_stream_create(l, batch, &s));
  std::vector<uint8_t> all;
  int64_t at = 0;
  for (size_t k = 0; k <= chunks.size(); ++k) {
    const bool flushing = k == chunks.size();
    const int64_t steps = flushing ? 0 : chunks[k];
    int64_t room = 0;
    MUST(convt_stream_max_output_steps(s, steps, &room));
    const std::vector<T> x = ramp<T>(batch * steps * c.in_channels, 0.1 * double(at));
    std::vector<T> y(size_t(batch * c.filters * room + 1), sentinel<T>());
    int64_t n = -3;
    const auto call = [&] { return flushing ? flush(s, y, &n) : push(s, x, steps, y, &n); };
    if (faults) {
      exhaust(
          tag + (flushing ? "stream flush" : "stream push of " + std::to_string(steps) + " steps"),
          l, call,
          [&](const std::string& run) {
            if (n != -3 || !all_untouched(y)) violation(run + ": wrote output");
          },
          [] {}, false);
    } else {
      MUST(call());
    }
    const auto* b = reinterpret_cast<const uint8_t*>(y.data());
    all.insert(all.end(), b, b + size_t(batch * c.filters * n) * sizeof(T));
    at += steps;
  }
  if (faults) {
    exhaust(
        tag + "stream reset", l, [&] { return convt_stream_reset(s); }, nothing_to_check);
  }
  convt_stream_destroy(s);
  return all;
}

// Streams: create, then a signal whose every push and flush fails at each allocation in turn
// before it succeeds; the outputs must be bitwise those of the same signal without failures
// (a failed push consumes nothing).
template <class T>
void stream_calls(const Config& c) {
  convt_layer* l = configure(c);
  // softmax and sparsemax along time (channels_first) cannot stream.
  MUST(convt_layer_set_string(l, CONVT_PARAM_ACTIVATION, "tanh"));
  MUST(convt_layer_init_weights(l, c.in_channels, 6));
  const std::string tag = std::string(c.label) + ": ";
  convt_stream* const marker = reinterpret_cast<convt_stream*>(uintptr_t{0x5e2});
  convt_stream* out = marker;
  exhaust(
      tag + "stream_create", l, [&] { return convt_stream_create(l, 2, &out); },
      [&](const std::string& run) {
        if (out != marker) violation(run + ": wrote *out");
      },
      [&] {
        if (out != marker) convt_stream_destroy(out);
        out = marker;
      });
  // Chunks that grow, so that several pushes need a larger workspace.
  const std::vector<int64_t> chunks = {1, 3, 2, 17, 40, 5, 300};
  const std::vector<uint8_t> clean = stream_signal<T>(l, c, chunks, false);
  if (stream_signal<T>(l, c, chunks, true) != clean) {
    violation(tag + "a stream whose calls failed on allocation gave other outputs");
  }
  convt_layer_destroy(l);
}

void create_calls() {
  convt_layer* const marker = reinterpret_cast<convt_layer*>(uintptr_t{0x5e1});
  convt_layer* out = marker;
  exhaust(
      "convt_layer_create", nullptr, [&] { return convt_layer_create(8, 3, &out); },
      [&](const std::string& run) {
        if (out != marker) violation(run + ": wrote *out");
      },
      [&] {
        if (out != marker) convt_layer_destroy(out);
        out = marker;
      });
}

}  // namespace

int main() {
  std::printf("Allocation failure at every allocation site (operator new fails the N-th time):\n");
  // Warm up once: first-use statics (the library's and the C++ runtime's) are not leaks.
  for (const Config& c : kConfigs) {
    convt_layer* l = configure(c);
    MUST(convt_layer_init_weights(l, c.in_channels, 1));
    (void)snapshot(l, Probe());
    convt_layer_destroy(l);
  }
  create_calls();
  for (const Config& c : kConfigs) {
    if (c.f64) {
      layer_calls<double>(c);
      training_calls<double>(c);
      stream_calls<double>(c);
    } else {
      layer_calls<float>(c);
      training_calls<float>(c);
      stream_calls<float>(c);
    }
  }
  if (g_failures != 0) {
    std::fprintf(stderr, "%d violations\n", g_failures);
    return 1;
  }
  std::printf(
      "every injected allocation failure returned CONVT_E_OUT_OF_MEMORY, leaked nothing "
      "and changed nothing\n");
  return 0;
}
