// The direct kernel, for layers whose GEMM would degenerate: few channels per group (depthwise
// layers, 1-channel signals, 48 -> 1 channel decoders). It computes each output element as a
// gather, y[j][o] = bias[o] + sum over the taps whose input step exists and the group's
// channels, vectorized along time within one output phase; no column buffer.
#pragma once

#include <cstdint>

#include "view.hpp"

namespace convt::detail {

// The rule (documented in the header): the direct kernel runs when
// (in_channels/groups) * (filters/groups) <= kDirectMaxChannelProduct; the GEMM path otherwise.
inline constexpr int64_t kDirectMaxChannelProduct = 64;

bool use_direct_path(const KernelDims& d) noexcept;

// Same contract as run_forward, on up to `threads` threads.
template <typename T>
void run_direct(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                const T* input, T* output, int64_t threads);

// Bytes of the accumulators run_direct allocates (without the activation's scratch).
template <typename T>
int64_t direct_workspace_bytes(const LayerView<T>& v, const OutputPlan& plan, int64_t batch,
                               int64_t threads);

}  // namespace convt::detail
