// The extern "C" wall: pointer checks, exception -> status, the thread's last message. No maths
// and no checks that need the layer's state: those live in src/.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "capi_internal.hpp"
#include "convt/convt.h"

namespace convt::capi {

// A fixed buffer, so that storing a message can never fail or allocate.
constexpr size_t kMessageCapacity = 2048;
thread_local char t_message[kMessageCapacity] = "";

void store_message(const char* function, const char* what) noexcept {
  std::snprintf(t_message, kMessageCapacity, "%s: %s", function, what);
}

}  // namespace convt::capi

namespace {

using convt::capi::guarded;
using convt::capi::layer_of;
using convt::capi::require;
using convt::detail::fail;

template <typename T>
convt_status set_weights(const char* function, convt_layer* layer, int64_t in_channels,
                         convt_layout layout, const T* kernel, int64_t kernel_len, const T* bias,
                         int64_t bias_len) noexcept {
  return guarded(function, [&] {
    auto& l = layer_of(layer);
    require(kernel, "kernel");
    l.set_weights(in_channels, layout, kernel, kernel_len, bias, bias_len);
  });
}

template <typename T>
convt_status get_weights(const char* function, const convt_layer* layer, convt_layout layout,
                         T* kernel, int64_t kernel_len, T* bias, int64_t bias_len) noexcept {
  return guarded(function, [&] {
    const auto& l = layer_of(layer);
    require(kernel, "kernel");
    l.get_weights(layout, kernel, kernel_len, bias, bias_len);
  });
}

template <typename T>
convt_status forward(const char* function, const convt_layer* layer, const T* input,
                     int64_t input_len, int64_t batch, int64_t steps, T* output, int64_t output_len,
                     int64_t out_steps) noexcept {
  return guarded(function, [&] {
    const auto& l = layer_of(layer);
    require(input, "input");
    require(output, "output");
    l.forward(input, input_len, batch, steps, output, output_len, out_steps);
  });
}

}  // namespace

extern "C" {

uint32_t convt_version_number(void) noexcept { return CONVT_VERSION_NUMBER; }

const char* convt_version_string(void) noexcept { return "1.0.0"; }

const char* convt_status_string(convt_status status) noexcept {
  switch (status) {
    case CONVT_OK:
      return "CONVT_OK";
    case CONVT_E_INVALID_ARGUMENT:
      return "CONVT_E_INVALID_ARGUMENT";
    case CONVT_E_SHAPE:
      return "CONVT_E_SHAPE";
    case CONVT_E_STATE:
      return "CONVT_E_STATE";
    case CONVT_E_OUT_OF_MEMORY:
      return "CONVT_E_OUT_OF_MEMORY";
    case CONVT_E_UNSUPPORTED:
      return "CONVT_E_UNSUPPORTED";
    case CONVT_E_INTERNAL:
      return "CONVT_E_INTERNAL";
    default:
      return "CONVT_E_UNKNOWN";
  }
}

const char* convt_last_error(void) noexcept { return convt::capi::t_message; }

convt_status convt_layer_create(int64_t filters, int64_t kernel_size, convt_layer** out) noexcept {
  return guarded(__func__, [&] {
    require(out, "out");
    if (filters < 1 || kernel_size < 1) {
      fail(CONVT_E_INVALID_ARGUMENT, "filters and kernel_size must be >= 1, got filters " +
                                         std::to_string(filters) + " and kernel_size " +
                                         std::to_string(kernel_size));
    }
    *out = new convt_layer(filters, kernel_size);
  });
}

void convt_layer_destroy(convt_layer* layer) noexcept { delete layer; }

convt_status convt_layer_set_int(convt_layer* layer, convt_param param, int64_t value) noexcept {
  return guarded(__func__, [&] { layer_of(layer).set_int(param, value); });
}

convt_status convt_layer_get_int(const convt_layer* layer, convt_param param,
                                 int64_t* value) noexcept {
  return guarded(__func__, [&] {
    const auto& l = layer_of(layer);
    require(value, "value");
    *value = l.get_int(param);
  });
}

convt_status convt_layer_set_double(convt_layer* layer, convt_param param, double value) noexcept {
  return guarded(__func__, [&] { layer_of(layer).set_double(param, value); });
}

convt_status convt_layer_get_double(const convt_layer* layer, convt_param param,
                                    double* value) noexcept {
  return guarded(__func__, [&] {
    const auto& l = layer_of(layer);
    require(value, "value");
    *value = l.get_double(param);
  });
}

convt_status convt_layer_set_string(convt_layer* layer, convt_param param,
                                    const char* value) noexcept {
  return guarded(__func__, [&] {
    auto& l = layer_of(layer);
    require(value, "value");
    l.set_string(param, value);
  });
}

convt_status convt_layer_get_string(const convt_layer* layer, convt_param param, char* buf,
                                    int64_t capacity, int64_t* length) noexcept {
  return guarded(__func__, [&] {
    const auto& l = layer_of(layer);
    require(length, "length");
    if (capacity < 0) {
      fail(CONVT_E_INVALID_ARGUMENT, "capacity must be >= 0, got " + std::to_string(capacity));
    }
    if (buf == nullptr && capacity != 0) {
      fail(CONVT_E_INVALID_ARGUMENT,
           "buf is NULL with capacity " + std::to_string(capacity) + "; pass capacity 0 with NULL");
    }
    const std::string s = l.get_string(param);
    const auto n = static_cast<int64_t>(s.size());
    *length = n;
    if (n + 1 > capacity) {
      fail(CONVT_E_SHAPE, "the value has " + std::to_string(n) + " characters and needs capacity " +
                              std::to_string(n + 1) + " with its NUL, got " +
                              std::to_string(capacity));
    }
    std::memcpy(buf, s.c_str(), s.size() + 1);
  });
}

convt_status convt_layer_set_weights_f32(convt_layer* layer, int64_t in_channels,
                                         convt_layout layout, const float* kernel,
                                         int64_t kernel_len, const float* bias,
                                         int64_t bias_len) noexcept {
  return set_weights(__func__, layer, in_channels, layout, kernel, kernel_len, bias, bias_len);
}

convt_status convt_layer_set_weights_f64(convt_layer* layer, int64_t in_channels,
                                         convt_layout layout, const double* kernel,
                                         int64_t kernel_len, const double* bias,
                                         int64_t bias_len) noexcept {
  return set_weights(__func__, layer, in_channels, layout, kernel, kernel_len, bias, bias_len);
}

convt_status convt_layer_get_weights_f32(const convt_layer* layer, convt_layout layout,
                                         float* kernel, int64_t kernel_len, float* bias,
                                         int64_t bias_len) noexcept {
  return get_weights(__func__, layer, layout, kernel, kernel_len, bias, bias_len);
}

convt_status convt_layer_get_weights_f64(const convt_layer* layer, convt_layout layout,
                                         double* kernel, int64_t kernel_len, double* bias,
                                         int64_t bias_len) noexcept {
  return get_weights(__func__, layer, layout, kernel, kernel_len, bias, bias_len);
}

convt_status convt_layer_init_weights(convt_layer* layer, int64_t in_channels,
                                      uint64_t seed) noexcept {
  return guarded(__func__, [&] { layer_of(layer).init_weights(in_channels, seed); });
}

convt_status convt_layer_output_shape(const convt_layer* layer, int64_t batch, int64_t steps,
                                      int64_t out_shape[3]) noexcept {
  return guarded(__func__, [&] {
    const auto& l = layer_of(layer);
    require(out_shape, "out_shape");
    const auto shape = l.output_shape(batch, steps);
    for (int i = 0; i < 3; ++i) out_shape[i] = shape[static_cast<size_t>(i)];
  });
}

convt_status convt_layer_workspace_size(const convt_layer* layer, int64_t batch, int64_t steps,
                                        int64_t out_steps, int64_t* bytes) noexcept {
  return guarded(__func__, [&] {
    const auto& l = layer_of(layer);
    require(bytes, "bytes");
    *bytes = l.workspace_size(batch, steps, out_steps);
  });
}

convt_status convt_layer_forward_f32(const convt_layer* layer, const float* input,
                                     int64_t input_len, int64_t batch, int64_t steps, float* output,
                                     int64_t output_len, int64_t out_steps) noexcept {
  return forward(__func__, layer, input, input_len, batch, steps, output, output_len, out_steps);
}

convt_status convt_layer_forward_f64(const convt_layer* layer, const double* input,
                                     int64_t input_len, int64_t batch, int64_t steps,
                                     double* output, int64_t output_len,
                                     int64_t out_steps) noexcept {
  return forward(__func__, layer, input, input_len, batch, steps, output, output_len, out_steps);
}

}  // extern "C"
