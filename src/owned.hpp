// The pieces of the output a work unit owns, and the element-wise activation fused into them:
// shared by the GEMM path and the direct kernel.
#pragma once

#include <algorithm>
#include <cstdint>

#include "activation.hpp"

namespace convt::detail {

// Calls fn(run, count, filter) for every run of output values owned in filters
// [o0, o0 + width) over flattened positions [begin, end) (position = item*L_out + step): at
// one position, the contiguous filters o0 .. o0+width-1 (NWC; filter = -1), or contiguous
// steps of one filter (NCW).
template <typename T, typename Fn>
void for_each_owned(T* y, bool channels_last, int64_t F, int64_t L_out, int64_t o0, int64_t width,
                    int64_t begin, int64_t end, Fn fn) {
  if (channels_last) {
    for (int64_t pos = begin; pos < end; ++pos) fn(y + pos * F + o0, width, int64_t{-1});
    return;
  }
  for (int64_t item = begin / L_out; item * L_out < end; ++item) {
    const int64_t j0 = std::max(begin - item * L_out, int64_t{0});
    const int64_t j1 = std::min(end - item * L_out, L_out);
    for (int64_t o = o0; o < o0 + width; ++o) fn(y + (item * F + o) * L_out + j0, j1 - j0, o);
  }
}

// True when the activation is applied piece by piece as the output is finished: element-wise
// and not the identity. (Softmax-like ones run once over whole rows, in run_forward.)
inline bool fuses_activation(convt_activation a) noexcept {
  return !activation_along_axis(a) && a != CONVT_ACTIVATION_LINEAR;
}

// Applies a fused activation to the owned output, when it has one.
template <typename T>
void activate_owned(convt_activation a, double alpha, T* y, bool channels_last, int64_t F,
                    int64_t L_out, int64_t o0, int64_t width, int64_t begin, int64_t end) {
  if (!fuses_activation(a)) return;
  for_each_owned(
      y, channels_last, F, L_out, o0, width, begin, end,
      [&](T* run, int64_t n, int64_t) { apply_activation(a, alpha, run, 1, n, nullptr); });
}

}  // namespace convt::detail
