// The extern "C" functions of streams: pointer checks and exception -> status. The state
// machine and its checks live in src/stream.cpp.
#include <string>

#include "capi_internal.hpp"
#include "convt/convt.h"
#include "stream.hpp"

struct convt_stream {
  convt_stream(const convt::detail::Layer& layer, int64_t batch) : impl(layer, batch) {}
  convt::detail::Stream impl;
};

namespace {

using convt::capi::guarded;
using convt::capi::layer_of;
using convt::capi::require;
using convt::detail::fail;

const convt::detail::Stream& stream_of(const convt_stream* stream) {
  require(stream, "stream");
  return stream->impl;
}

convt::detail::Stream& stream_of(convt_stream* stream) {
  require(stream, "stream");
  return stream->impl;
}

// A buffer may be NULL only when its length says nothing is read or written there.
void require_buffer(const void* buffer, int64_t length, const char* what) {
  if (buffer == nullptr && length != 0) {
    fail(CONVT_E_INVALID_ARGUMENT, std::string(what) + " is NULL with " + what + "_len " +
                                       std::to_string(length) + "; pass a buffer, or length 0");
  }
}

template <typename T>
convt_status push(const char* function, convt_stream* stream, const T* input, int64_t input_len,
                  int64_t steps, T* output, int64_t output_len, int64_t* out_steps) noexcept {
  return guarded(function, [&] {
    auto& s = stream_of(stream);
    require(out_steps, "out_steps");
    require_buffer(input, input_len, "input");
    require_buffer(output, output_len, "output");
    *out_steps = s.push(input, input_len, steps, output, output_len);
  });
}

template <typename T>
convt_status flush(const char* function, convt_stream* stream, T* output, int64_t output_len,
                   int64_t* out_steps) noexcept {
  return guarded(function, [&] {
    auto& s = stream_of(stream);
    require(out_steps, "out_steps");
    require_buffer(output, output_len, "output");
    *out_steps = s.flush(output, output_len);
  });
}

}  // namespace

extern "C" {

convt_status convt_stream_create(const convt_layer* layer, int64_t batch,
                                 convt_stream** out) noexcept {
  return guarded(__func__, [&] {
    const auto& l = layer_of(layer);
    require(out, "out");
    *out = new convt_stream(l, batch);
  });
}

void convt_stream_destroy(convt_stream* stream) noexcept { delete stream; }

convt_status convt_stream_max_output_steps(const convt_stream* stream, int64_t steps,
                                           int64_t* max_out) noexcept {
  return guarded(__func__, [&] {
    const auto& s = stream_of(stream);
    require(max_out, "max_out");
    *max_out = s.max_output_steps(steps);
  });
}

convt_status convt_stream_push_f32(convt_stream* stream, const float* input, int64_t input_len,
                                   int64_t steps, float* output, int64_t output_len,
                                   int64_t* out_steps) noexcept {
  return push(__func__, stream, input, input_len, steps, output, output_len, out_steps);
}

convt_status convt_stream_push_f64(convt_stream* stream, const double* input, int64_t input_len,
                                   int64_t steps, double* output, int64_t output_len,
                                   int64_t* out_steps) noexcept {
  return push(__func__, stream, input, input_len, steps, output, output_len, out_steps);
}

convt_status convt_stream_flush_f32(convt_stream* stream, float* output, int64_t output_len,
                                    int64_t* out_steps) noexcept {
  return flush(__func__, stream, output, output_len, out_steps);
}

convt_status convt_stream_flush_f64(convt_stream* stream, double* output, int64_t output_len,
                                    int64_t* out_steps) noexcept {
  return flush(__func__, stream, output, output_len, out_steps);
}

convt_status convt_stream_reset(convt_stream* stream) noexcept {
  return guarded(__func__, [&] { stream_of(stream).reset(); });
}

}  // extern "C"
