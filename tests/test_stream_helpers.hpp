// What the stream tests share: typed stream calls, a layer built from a description, chunks
// cut from a whole signal, the latency formula of the contract, and a driver that streams one
// signal with one chunking while checking every push. Everything goes through the C API; the
// expected counts and values come from reference.hpp, never from the library.
#ifndef CONVT_TESTS_TEST_STREAM_HELPERS_HPP
#define CONVT_TESTS_TEST_STREAM_HELPERS_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "api_helpers.hpp"
#include "convt/convt.h"
#include "reference.hpp"
#include "sentinel.hpp"

namespace convt_test {

// ---- typed calls ------------------------------------------------------------------------------
inline convt_status push(convt_stream* s, const std::vector<float>& in, int64_t steps,
                         std::vector<float>& out, int64_t* out_steps) {
  return convt_stream_push_f32(s, in.data(), static_cast<int64_t>(in.size()), steps, out.data(),
                               static_cast<int64_t>(out.size()), out_steps);
}
inline convt_status push(convt_stream* s, const std::vector<double>& in, int64_t steps,
                         std::vector<double>& out, int64_t* out_steps) {
  return convt_stream_push_f64(s, in.data(), static_cast<int64_t>(in.size()), steps, out.data(),
                               static_cast<int64_t>(out.size()), out_steps);
}
inline convt_status flush(convt_stream* s, std::vector<float>& out, int64_t* out_steps) {
  return convt_stream_flush_f32(s, out.data(), static_cast<int64_t>(out.size()), out_steps);
}
inline convt_status flush(convt_stream* s, std::vector<double>& out, int64_t* out_steps) {
  return convt_stream_flush_f64(s, out.data(), static_cast<int64_t>(out.size()), out_steps);
}

struct LayerFree {
  void operator()(convt_layer* l) const { convt_layer_destroy(l); }
};
struct StreamFree {
  void operator()(convt_stream* s) const { convt_stream_destroy(s); }
};
using LayerHandle = std::unique_ptr<convt_layer, LayerFree>;
using StreamHandle = std::unique_ptr<convt_stream, StreamFree>;

// ---- a layer and its data ---------------------------------------------------------------------
struct StreamCase {
  Hyper hyper;
  int64_t batch = 1, steps = 1, in_channels = 1, filters = 1, groups = 1;
  int32_t format = CONVT_CHANNELS_LAST;
  int32_t dtype = CONVT_DTYPE_FLOAT32;
  bool use_bias = true;
  int32_t activation = CONVT_ACTIVATION_LINEAR;
};

struct StreamData {
  std::vector<double> x;     // canonical (N, C, L)
  std::vector<double> w;     // IOW (C, F/G, K)
  std::vector<double> bias;  // F values, or empty
};

inline std::string describe(const StreamCase& c) {
  std::ostringstream s;
  const Hyper& h = c.hyper;
  s << "padding=" << h.padding << " op=" << h.output_padding << " pads=(" << h.pad_begin << ","
    << h.pad_end << ") S=" << h.strides << " D=" << h.dilation << " K=" << h.kernel_size
    << " N=" << c.batch << " L=" << c.steps << " C=" << c.in_channels << " F=" << c.filters
    << " G=" << c.groups << " format=" << (c.format == CONVT_CHANNELS_FIRST ? "NCW" : "NWC")
    << " dtype=" << (c.dtype == CONVT_DTYPE_FLOAT64 ? "f64" : "f32") << " bias=" << c.use_bias
    << " activation=" << c.activation;
  return s.str();
}

// The layer of `c` with the weights of `d`; NULL (and a message in *problem) on failure.
inline LayerHandle make_layer(const StreamCase& c, const StreamData& d, std::string* problem) {
  convt_layer* raw = nullptr;
  if (convt_layer_create(c.filters, c.hyper.kernel_size, &raw) != CONVT_OK) {
    *problem = std::string("create: ") + convt_last_error();
    return nullptr;
  }
  LayerHandle layer(raw);
  const Hyper& h = c.hyper;
  const std::pair<convt_param, int64_t> params[] = {{CONVT_PARAM_DTYPE, c.dtype},
                                                    {CONVT_PARAM_STRIDES, h.strides},
                                                    {CONVT_PARAM_DILATION_RATE, h.dilation},
                                                    {CONVT_PARAM_PADDING, h.padding},
                                                    {CONVT_PARAM_PAD_BEGIN, h.pad_begin},
                                                    {CONVT_PARAM_PAD_END, h.pad_end},
                                                    {CONVT_PARAM_OUTPUT_PADDING, h.output_padding},
                                                    {CONVT_PARAM_DATA_FORMAT, c.format},
                                                    {CONVT_PARAM_GROUPS, c.groups},
                                                    {CONVT_PARAM_USE_BIAS, c.use_bias ? 1 : 0},
                                                    {CONVT_PARAM_ACTIVATION, c.activation}};
  for (const auto& [param, value] : params) {
    if (convt_layer_set_int(layer.get(), param, value) != CONVT_OK) {
      *problem = std::string("set_int: ") + convt_last_error();
      return nullptr;
    }
  }
  const convt_status st =
      c.dtype == CONVT_DTYPE_FLOAT64
          ? set_weights(layer.get(), c.in_channels, CONVT_LAYOUT_IOW, d.w, d.bias)
          : set_weights(layer.get(), c.in_channels, CONVT_LAYOUT_IOW, convert<float>(d.w),
                        convert<float>(d.bias));
  if (st != CONVT_OK) {
    *problem = std::string("set_weights: ") + convt_last_error();
    return nullptr;
  }
  return layer;
}

inline StreamHandle make_stream(const convt_layer* layer, int64_t batch) {
  convt_stream* raw = nullptr;
  if (convt_stream_create(layer, batch, &raw) != CONVT_OK) return nullptr;
  return StreamHandle(raw);
}

// Steps t0 .. t0+n-1 of the canonical signal x (N, C, L), in the data format, as T.
template <class T>
std::vector<T> chunk_of(const StreamCase& c, const std::vector<double>& x, int64_t t0, int64_t n) {
  std::vector<double> part(to_size(c.batch * c.in_channels * n));
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t ch = 0; ch < c.in_channels; ++ch)
      for (int64_t i = 0; i < n; ++i)
        part[to_size((b * c.in_channels + ch) * n + i)] =
            x[to_size((b * c.in_channels + ch) * c.steps + t0 + i)];
  return convert<T>(to_format(part, c.format, c.batch, c.in_channels, n));
}

// ---- the contract's latency -------------------------------------------------------------------

// P_b of the layer: it does not depend on the length, so the whole signal's serves.
inline int64_t stream_crop(const StreamCase& c) {
  return crop_begin(c.hyper, c.steps, lengths(c.hyper, c.steps).default_len);
}

// max(0, min(T*S - P_b, L_out(T))): the steps out after T input steps.
inline int64_t emitted_after(const Hyper& h, int64_t crop, int64_t T) {
  if (T == 0) return 0;
  return std::max<int64_t>(0, std::min(T * h.strides - crop, lengths(h, T).default_len));
}

// What a flush writes after T input steps: the rest of L_out(T), or nothing when a T-step
// signal has no output (the flush then fails).
inline int64_t flush_after(const Hyper& h, int64_t crop, int64_t T) {
  if (T == 0) return 0;
  return std::max<int64_t>(0, lengths(h, T).default_len - emitted_after(h, crop, T));
}

// ---- streaming one signal ---------------------------------------------------------------------
struct StreamResult {
  std::vector<double> y;  // canonical (N, F, L_out) assembled from every push and the flush
  std::string problem;    // the first deviation from the contract, or empty
};

// Streams the signal x of `c` through `s` with the given chunk sizes (summing to c.steps) and
// flushes. After every push, checks the status, *out_steps against the latency formula and
// against max_output_steps asked before, and that nothing past the written values changed.
template <class T>
StreamResult stream_signal(convt_stream* s, const StreamCase& c, const std::vector<double>& x,
                           const std::vector<int64_t>& chunks) {
  StreamResult r;
  const Hyper& h = c.hyper;
  const int64_t crop = stream_crop(c);
  const int64_t L_out = lengths(h, c.steps).default_len;
  const int64_t F = c.filters;
  r.y.assign(to_size(c.batch * F * L_out), 0.0);
  int64_t pushed = 0, at = 0;
  std::ostringstream problem;
  // Appends n steps of output (data format) at step `at` of every item.
  const auto take = [&](const std::vector<T>& out, int64_t n) {
    const std::vector<double> canon =
        from_format(convert<double>(std::vector<T>(out.begin(), out.begin() + c.batch * F * n)),
                    c.format, c.batch, F, n);
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t o = 0; o < F; ++o)
        for (int64_t j = 0; j < n && at + j < L_out; ++j)
          r.y[to_size((b * F + o) * L_out + at + j)] = canon[to_size((b * F + o) * n + j)];
  };
  const auto check_call = [&](const char* what, convt_status st, int64_t got, int64_t asked,
                              int64_t asked_want, int64_t want, const std::vector<T>& out) {
    if (!r.problem.empty()) return false;
    if (st != CONVT_OK) {
      problem << what << " after " << pushed << " steps: " << convt_status_string(st) << " "
              << convt_last_error();
    } else if (got != want || asked != asked_want) {
      problem << what << " after " << pushed << " steps wrote " << got << " steps and "
              << "max_output_steps said " << asked << "; the contract says " << want << " and "
              << asked_want;
    } else if (at + got > L_out) {
      problem << what << " after " << pushed << " steps: " << at + got
              << " steps in all, more than "
              << "forward's " << L_out;
    } else {
      for (std::size_t k = to_size(c.batch * F * got); k < out.size(); ++k) {
        if (!is_untouched(out[k])) {
          problem << what << " after " << pushed << " steps wrote past its " << got << " steps";
          break;
        }
      }
    }
    r.problem = problem.str();
    return r.problem.empty();
  };
  for (const int64_t n : chunks) {
    int64_t asked = -1, got = -1;
    convt_stream_max_output_steps(s, n, &asked);
    const int64_t want = emitted_after(h, crop, pushed + n) - emitted_after(h, crop, pushed);
    // For 0 steps max_output_steps answers for the flush.
    const int64_t asked_want = n > 0 ? want : flush_after(h, crop, pushed);
    const int64_t room = std::max<int64_t>(n > 0 ? asked : 0, 0);
    std::vector<T> out(to_size(c.batch * F * room + 3), untouched<T>());
    const std::vector<T> in = chunk_of<T>(c, x, pushed, n);
    const convt_status st = push(s, in, n, out, &got);
    pushed += n;
    if (!check_call("push", st, got, asked, asked_want, want, out)) return r;
    take(out, got);
    at += got;
  }
  int64_t asked = -1, got = -1;
  convt_stream_max_output_steps(s, 0, &asked);
  std::vector<T> out(to_size(c.batch * F * std::max<int64_t>(asked, 0) + 3), untouched<T>());
  const convt_status st = flush(s, out, &got);
  if (!check_call("flush", st, got, asked, L_out - at, L_out - at, out)) return r;
  take(out, got);
  return r;
}

// The whole signal's forward output in canonical (N, F, L_out), or a problem.
template <class T>
StreamResult forward_signal(const convt_layer* layer, const StreamCase& c,
                            const std::vector<double>& x) {
  StreamResult r;
  const int64_t L_out = lengths(c.hyper, c.steps).default_len;
  std::vector<T> out(to_size(c.batch * c.filters * L_out));
  const std::vector<T> in = convert<T>(to_format(x, c.format, c.batch, c.in_channels, c.steps));
  if (forward(layer, in, c.batch, c.steps, out, L_out) != CONVT_OK) {
    r.problem = std::string("forward: ") + convt_last_error();
    return r;
  }
  r.y = from_format(convert<double>(out), c.format, c.batch, c.filters, L_out);
  return r;
}

// Chunk sizes summing to `steps`: each in [0, largest], zeros included (no-op pushes).
inline std::vector<int64_t> random_chunks(Random& rng, int64_t steps, int64_t largest) {
  std::vector<int64_t> chunks;
  int64_t left = steps;
  while (left > 0) {
    const int64_t n = std::min(left, rng.uniform_int(0, largest));
    chunks.push_back(n);
    left -= n;
  }
  return chunks;
}

}  // namespace convt_test

#endif  // CONVT_TESTS_TEST_STREAM_HELPERS_HPP
