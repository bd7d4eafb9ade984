// The direct kernel, for layers whose GEMM would degenerate: so few input channels per group
// that the GEMM's depth cannot amortize its packing (depthwise layers, 1-channel signals). It
// computes each output element as a gather, y[j][o] = bias[o] + sum over the taps whose input step
// exists and the group's channels, vectorized along time within one output phase; no column buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "view.hpp"

namespace convt::detail {

// The rule (documented in the header): the direct kernel runs when in_channels/groups <=
// kDirectMaxChannels and (in_channels/groups) * (filters/groups) <= kDirectMaxChannelProduct;
// the GEMM path otherwise. (A deep GEMM stays efficient even with few columns: a 48 -> 1
// channel layer runs its GEMM at SGEMM speed, and gathering 48 channels per output does not.)
inline constexpr int64_t kDirectMaxChannels = 8;
inline constexpr int64_t kDirectMaxChannelProduct = 64;

bool use_direct_path(const KernelDims& d) noexcept;

// A piece of the output that kernels computing outputs one by one give a thread: steps
// [j0, j1) of one item's filters in one group.
struct OutputUnit {
  int64_t item, group, j0, j1;
};

// Units (item, group, a run of at least min_steps output steps where the output is that long),
// about four per thread.
std::vector<OutputUnit> output_units(int64_t batch, int64_t groups, int64_t out_steps,
                                     int64_t threads, int64_t min_steps);

// Same contract as run_forward_gemm (forward.hpp), on up to `threads` threads.
template <typename T>
void run_direct(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                const T* input, T* output, int64_t threads);

// Bytes of the accumulators run_direct allocates (without the activation's scratch).
template <typename T>
int64_t direct_workspace_bytes(const LayerView<T>& v, const OutputPlan& plan, int64_t batch,
                               int64_t threads);

}  // namespace convt::detail
