// The one-signal kernel, for the direct path's layers with one input channel and one filter per
// group over contiguous steps (channels_first, or a single channel), in float32 on CPUs with
// AVX-512F, when the stride divides 16. Sixteen outputs at a time, in order: output j draws on
// input step (j + P_b - t*D) / S of each tap t whose division is exact, so within 16 outputs
// (aligned to the stride) every tap's inputs lie in a window of the signal, and one permute
// per slot of taps picks them. The output is written once, in order: memory-bound, as such a
// layer must be. Outputs whose window leaves the signal take the same sums one at a time, in
// the same order with the same fused multiply-adds, so every output is the same whichever
// way it was computed.
#pragma once

#include <array>
#include <cstdint>

#include "geometry.hpp"

namespace convt::detail {

struct SignalPlan {
  static constexpr int kMaxSlots = 8;  // taps per output phase
  int64_t kernel_size = 1, strides = 1, dilation = 1, crop_begin = 0, steps = 1;
  int64_t q_max = 0;   // the largest input step a tap reaches back, in steps
  int64_t window = 0;  // input steps one vector reads: 16 or 32
  int slots = 0;
  // Lane -> k / S - q: its input step relative to the vector's first, (o0 + P_b) / S.
  std::array<std::array<int32_t, 16>, kMaxSlots> back{};
  std::array<std::array<int32_t, 16>, kMaxSlots> tap{};  // lane -> tap, or -1
};

inline constexpr int64_t kMaxSignalTaps = 16 * SignalPlan::kMaxSlots;

// Whether the kernel applies to this geometry (and the CPU); fills `plan` when it does.
bool make_signal_plan(const Geometry& g, int64_t crop_begin, int64_t steps, SignalPlan* plan);

// y[j] for j in [j0, j1): bias + the sum over taps t of x[(j + P_b - t*D) / S] * w[t] where
// the division is exact and the step exists. x holds the signal's steps, w its kernel_size taps.
void signal_forward(const SignalPlan& p, const float* x, const float* w, float bias, float* y,
                    int64_t j0, int64_t j1) noexcept;

}  // namespace convt::detail
