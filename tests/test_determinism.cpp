// Determinism: the same call gives the same bits every time -- on a layer rebuilt from the same
// weights (its packed weights and workspaces at other addresses), with the caller's buffers at
// every alignment (BLAS kernels may take other code paths on misaligned data), for every
// NUM_THREADS, and repeated. On real-valued data, where any change in the order of a sum would
// show in the last bit. test_forward_paths.cpp and test_backward.cpp vary NUM_THREADS on one
// layer, test_threads.cpp runs many threads at once, test_stream.cpp compares chunkings on
// exact data; this file adds rebuilt layers, alignment and repetition, for forward, backward
// and streams.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "convt/convt.h"
#include "reference.hpp"
#include "test_stream_helpers.hpp"

namespace {

using convt_test::convert;
using convt_test::Hyper;
using convt_test::LayerHandle;
using convt_test::Random;
using convt_test::StreamCase;
using convt_test::StreamData;
using convt_test::to_format;
using convt_test::to_size;

void det_require_ok(convt_status s, const char* what) {
  INFO(what << " -> " << convt_status_string(s) << ": " << convt_last_error());
  REQUIRE(s == CONVT_OK);
}
#define DET_MUST(call) det_require_ok((call), #call)

StreamCase make_case(int32_t padding, int64_t K, int64_t S, int64_t D, int64_t C, int64_t F,
                     int64_t G, int32_t format, int32_t dtype, int32_t activation, int64_t batch,
                     int64_t steps) {
  StreamCase c;
  c.hyper.padding = padding;
  c.hyper.kernel_size = K;
  c.hyper.strides = S;
  c.hyper.dilation = D;
  if (padding == CONVT_PADDING_EXPLICIT) {
    c.hyper.pad_begin = 1;
    c.hyper.pad_end = 2;
  }
  c.in_channels = C;
  c.filters = F;
  c.groups = G;
  c.format = format;
  c.dtype = dtype;
  c.activation = activation;
  c.batch = batch;
  c.steps = steps;
  return c;
}

// Deep groups (the GEMM path) and shallow ones (the direct kernel), both formats and dtypes,
// element-wise and along-the-axis activations.
std::vector<StreamCase> cases() {
  constexpr int32_t NWC = CONVT_CHANNELS_LAST, NCW = CONVT_CHANNELS_FIRST;
  constexpr int32_t F32 = CONVT_DTYPE_FLOAT32, F64 = CONVT_DTYPE_FLOAT64;
  return {
      make_case(CONVT_PADDING_SAME, 5, 2, 1, 16, 24, 1, NWC, F32, CONVT_ACTIVATION_GELU, 3, 200),
      make_case(CONVT_PADDING_EXPLICIT, 3, 3, 2, 4, 6, 2, NCW, F64, CONVT_ACTIVATION_TANH, 2, 150),
      make_case(CONVT_PADDING_SAME_LOWER, 4, 1, 3, 8, 8, 8, NWC, F32, CONVT_ACTIVATION_SOFTMAX, 4,
                100),
      make_case(CONVT_PADDING_VALID, 7, 4, 1, 12, 16, 1, NCW, F32, CONVT_ACTIVATION_SPARSEMAX, 2,
                90),
      make_case(CONVT_PADDING_SAME, 2, 2, 1, 32, 8, 4, NCW, F64, CONVT_ACTIVATION_ELU, 2, 120),
  };
}

// Real-valued data: weights and bias in [-0.5, 0.5), input in [-1, 1).
StreamData real_data(const StreamCase& c, Random& rng) {
  StreamData d;
  d.x = rng.vector(c.batch * c.in_channels * c.steps, -1.0, 1.0);
  d.w = rng.vector(c.hyper.kernel_size * c.filters * c.in_channels / c.groups, -0.5, 0.5);
  d.bias = rng.vector(c.filters, -0.5, 0.5);
  return d;
}

LayerHandle build(const StreamCase& c, const StreamData& d, int64_t num_threads) {
  std::string problem;
  LayerHandle l = convt_test::make_layer(c, d, &problem);
  INFO(problem);
  REQUIRE(l != nullptr);
  DET_MUST(convt_layer_set_int(l.get(), CONVT_PARAM_NUM_THREADS, num_threads));
  return l;
}

int64_t out_steps_of(const StreamCase& c) {
  return convt_test::lengths(c.hyper, c.steps).default_len;
}

// Copies v into a fresh buffer `offset` elements in, so that the data starts at another
// alignment; the allocation itself also lands elsewhere.
template <class T>
std::vector<T> shifted(const std::vector<T>& v, size_t offset) {
  std::vector<T> b(offset + v.size() + 1);
  std::copy(v.begin(), v.end(), b.begin() + static_cast<std::ptrdiff_t>(offset));
  return b;
}

template <class T>
std::vector<uint8_t> bytes(const T* p, size_t n) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n * sizeof(T));
}

template <class T>
convt_status forward_at(const convt_layer* l, const T* x, int64_t x_len, const StreamCase& c, T* y,
                        int64_t y_len) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return convt_layer_forward_f32(l, x, x_len, c.batch, c.steps, y, y_len, out_steps_of(c));
  } else {
    return convt_layer_forward_f64(l, x, x_len, c.batch, c.steps, y, y_len, out_steps_of(c));
  }
}

// forward's output bytes for the input x placed `offset` elements into its buffer, and the
// output `offset` + 1 elements into its own.
template <class T>
std::vector<uint8_t> forward_bytes(const convt_layer* l, const StreamCase& c,
                                   const std::vector<T>& x, size_t offset) {
  const std::vector<T> xb = shifted(x, offset);
  const size_t n = to_size(c.batch * c.filters * out_steps_of(c));
  std::vector<T> yb(offset + 1 + n);
  DET_MUST(forward_at(l, xb.data() + offset, static_cast<int64_t>(x.size()), c,
                      yb.data() + offset + 1, static_cast<int64_t>(n)));
  return bytes(yb.data() + offset + 1, n);
}

template <class T>
convt_status backward_at(const convt_layer* l, const StreamCase& c, const T* x, const T* g, T* gx,
                         T* gk, T* gb) {
  const int64_t x_len = c.batch * c.steps * c.in_channels;
  const int64_t g_len = c.batch * c.filters * out_steps_of(c);
  const int64_t k_len = c.hyper.kernel_size * c.filters * c.in_channels / c.groups;
  if constexpr (sizeof(T) == sizeof(float)) {
    return convt_layer_backward_f32(l, x, x_len, c.batch, c.steps, g, g_len, out_steps_of(c), gx,
                                    x_len, CONVT_LAYOUT_WOI, gk, k_len, gb, c.filters);
  } else {
    return convt_layer_backward_f64(l, x, x_len, c.batch, c.steps, g, g_len, out_steps_of(c), gx,
                                    x_len, CONVT_LAYOUT_WOI, gk, k_len, gb, c.filters);
  }
}

// The three gradients' bytes, every buffer `offset` elements into its own.
template <class T>
std::vector<uint8_t> backward_bytes(const convt_layer* l, const StreamCase& c,
                                    const std::vector<T>& x, const std::vector<T>& g,
                                    size_t offset) {
  const size_t k_len = to_size(c.hyper.kernel_size * c.filters * c.in_channels / c.groups);
  const std::vector<T> xb = shifted(x, offset), gb_in = shifted(g, offset);
  std::vector<T> gx(offset + x.size()), gk(offset + k_len), gb(offset + to_size(c.filters));
  DET_MUST(backward_at(l, c, xb.data() + offset, gb_in.data() + offset, gx.data() + offset,
                       gk.data() + offset, gb.data() + offset));
  std::vector<uint8_t> all = bytes(gx.data() + offset, x.size());
  const std::vector<uint8_t> k = bytes(gk.data() + offset, k_len);
  const std::vector<uint8_t> b = bytes(gb.data() + offset, to_size(c.filters));
  all.insert(all.end(), k.begin(), k.end());
  all.insert(all.end(), b.begin(), b.end());
  return all;
}

// Fills the heap with blocks of odd sizes, so that what a rebuilt layer allocates lands at
// other addresses and alignments than the first layer's.
std::vector<std::vector<char>> disturb_heap(int round) {
  std::vector<std::vector<char>> blocks;
  for (int i = 0; i < 8; ++i) blocks.emplace_back(to_size(24 + 40 * i + 8 * round), 'x');
  return blocks;
}

constexpr int64_t kThreadCounts[] = {0, 2, 3};

template <class T>
void check_forward(const StreamCase& c, const StreamData& d) {
  const std::vector<T> x = convert<T>(to_format(d.x, c.format, c.batch, c.in_channels, c.steps));
  const LayerHandle first = build(c, d, 1);
  const std::vector<uint8_t> want = forward_bytes(first.get(), c, x, 0);
  CHECK(forward_bytes(first.get(), c, x, 0) == want);  // repeated on the same layer
  for (int round = 0; round < 3; ++round) {
    INFO("rebuilt layer " << round << ", NUM_THREADS " << kThreadCounts[round]);
    const auto keep = disturb_heap(round);
    const LayerHandle again = build(c, d, kThreadCounts[round]);
    for (size_t offset : {size_t{1}, size_t{3}, size_t{5}}) {
      INFO("buffers " << offset << " elements off their allocation");
      CHECK(forward_bytes(again.get(), c, x, offset) == want);
    }
  }
}

template <class T>
void check_backward(const StreamCase& c, const StreamData& d, Random& rng) {
  const std::vector<T> x = convert<T>(to_format(d.x, c.format, c.batch, c.in_channels, c.steps));
  const std::vector<T> g = convert<T>(rng.vector(c.batch * c.filters * out_steps_of(c), -1, 1));
  const LayerHandle first = build(c, d, 1);
  const std::vector<uint8_t> want = backward_bytes(first.get(), c, x, g, 0);
  CHECK(backward_bytes(first.get(), c, x, g, 0) == want);
  for (int round = 0; round < 3; ++round) {
    INFO("rebuilt layer " << round << ", NUM_THREADS " << kThreadCounts[round]);
    const auto keep = disturb_heap(round);
    const LayerHandle again = build(c, d, kThreadCounts[round]);
    for (size_t offset : {size_t{1}, size_t{3}}) {
      INFO("buffers " << offset << " elements off their allocation");
      CHECK(backward_bytes(again.get(), c, x, g, offset) == want);
    }
  }
}

template <class T>
std::vector<double> streamed(const StreamCase& c, const StreamData& d, convt_stream* s,
                             const std::vector<int64_t>& chunks) {
  const convt_test::StreamResult r = convt_test::stream_signal<T>(s, c, d.x, chunks);
  INFO(r.problem);
  REQUIRE(r.problem.empty());
  return r.y;
}

template <class T>
void check_stream(const StreamCase& c, const StreamData& d) {
  const LayerHandle l = build(c, d, 1);
  const std::vector<int64_t> chunks = {7, 1, 0, 13, 2, 30, 1, 1, 5, c.steps - 60};
  convt_test::StreamHandle s = convt_test::make_stream(l.get(), c.batch);
  REQUIRE(s != nullptr);
  const std::vector<double> want = streamed<T>(c, d, s.get(), chunks);
  // The same stream again (flush started a new signal), after a reset mid-signal, and a new
  // stream on a rebuilt layer: the same bits.
  CHECK(bytes(streamed<T>(c, d, s.get(), chunks).data(), want.size()) ==
        bytes(want.data(), want.size()));
  const std::vector<T> part = convt_test::chunk_of<T>(c, d.x, 0, 9);
  std::vector<T> out(to_size(c.batch * c.filters * 9 * c.hyper.strides + 64));
  int64_t n = 0;
  DET_MUST(convt_test::push(s.get(), part, 9, out, &n));
  DET_MUST(convt_stream_reset(s.get()));
  CHECK(bytes(streamed<T>(c, d, s.get(), chunks).data(), want.size()) ==
        bytes(want.data(), want.size()));
  const auto keep = disturb_heap(1);
  const LayerHandle again = build(c, d, 0);
  convt_test::StreamHandle s2 = convt_test::make_stream(again.get(), c.batch);
  REQUIRE(s2 != nullptr);
  CHECK(bytes(streamed<T>(c, d, s2.get(), chunks).data(), want.size()) ==
        bytes(want.data(), want.size()));
}

// Runs check(T{}, case, data, rng) for every case in the case's dtype, on real-valued data;
// for streams without the activations along time, which cannot stream.
template <class Check>
void for_each_case(uint64_t seed, bool streaming, Check check) {
  Random rng(seed);
  for (const StreamCase& c : cases()) {
    if (streaming && c.format == CONVT_CHANNELS_FIRST &&
        (c.activation == CONVT_ACTIVATION_SOFTMAX || c.activation == CONVT_ACTIVATION_SPARSEMAX)) {
      continue;
    }
    INFO(convt_test::describe(c));
    const StreamData d = real_data(c, rng);
    if (c.dtype == CONVT_DTYPE_FLOAT64) {
      check(double{}, c, d, rng);
    } else {
      check(float{}, c, d, rng);
    }
  }
}

}  // namespace

TEST_CASE("Forward gives the same bits on a rebuilt layer at any buffer alignment and thread count",
          "[determinism]") {
  for_each_case(0xD7u, false, [](auto zero, const StreamCase& c, const StreamData& d, Random&) {
    check_forward<decltype(zero)>(c, d);
  });
}

TEST_CASE(
    "Backward gives the same bits on a rebuilt layer at any buffer alignment and thread count",
    "[determinism][backward]") {
  for_each_case(0xD8u, false, [](auto zero, const StreamCase& c, const StreamData& d, Random& rng) {
    check_backward<decltype(zero)>(c, d, rng);
  });
}

TEST_CASE("A stream gives the same bits every time for one chunking on real-valued data",
          "[determinism][stream]") {
  for_each_case(0xD9u, true, [](auto zero, const StreamCase& c, const StreamData& d, Random&) {
    check_stream<decltype(zero)>(c, d);
  });
}
