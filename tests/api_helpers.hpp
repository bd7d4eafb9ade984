// Typed calls into the C API for tests that are written once for float and double.
#pragma once

#include <cstdint>
#include <vector>

#include "convt/convt.h"

namespace convt_test {

inline convt_status set_weights(convt_layer* layer, int64_t in_channels, convt_layout layout,
                                const std::vector<float>& kernel, const std::vector<float>& bias) {
  return convt_layer_set_weights_f32(
      layer, in_channels, layout, kernel.data(), static_cast<int64_t>(kernel.size()),
      bias.empty() ? nullptr : bias.data(), static_cast<int64_t>(bias.size()));
}
inline convt_status set_weights(convt_layer* layer, int64_t in_channels, convt_layout layout,
                                const std::vector<double>& kernel,
                                const std::vector<double>& bias) {
  return convt_layer_set_weights_f64(
      layer, in_channels, layout, kernel.data(), static_cast<int64_t>(kernel.size()),
      bias.empty() ? nullptr : bias.data(), static_cast<int64_t>(bias.size()));
}
inline convt_status forward(const convt_layer* layer, const std::vector<float>& in, int64_t batch,
                            int64_t steps, std::vector<float>& out, int64_t out_steps) {
  return convt_layer_forward_f32(layer, in.data(), static_cast<int64_t>(in.size()), batch, steps,
                                 out.data(), static_cast<int64_t>(out.size()), out_steps);
}
inline convt_status forward(const convt_layer* layer, const std::vector<double>& in, int64_t batch,
                            int64_t steps, std::vector<double>& out, int64_t out_steps) {
  return convt_layer_forward_f64(layer, in.data(), static_cast<int64_t>(in.size()), batch, steps,
                                 out.data(), static_cast<int64_t>(out.size()), out_steps);
}

}  // namespace convt_test
