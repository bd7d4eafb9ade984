// The tap-sum kernel, for float32 layers with fewer than 16 filters per group on the GEMM path
// (such as a 48 -> 1 channel output layer), on CPUs with AVX-512F, when the stride divides 16.
// Such a GEMM has only kernel_size * filters/groups columns, too few for OpenBLAS. Instead,
// for each block of output steps and each filter: first each tap's sum over the group's
// channels, z[t][i] = sum over c' of x[c'][i] * W[c'][t][o] -- channels_first vectorized along
// time; channels_last straight from each step's row, lanes (tap, channel parity) with two
// channels per broadcast, 16 steps in flight, then transposed in registers -- and then each
// output sums its taps' sums, bias + z[t][(j + P_b - t*D) / S] over the taps of
// its phase in ascending order: 16 steps of each phase at a time, each tap's sums one
// contiguous vector, then the S phases interleaved into 16*S outputs -- so every output is
// computed the same way wherever its block starts.
#pragma once

#include <cstdint>

#include "view.hpp"

namespace convt::detail {

// Whether the kernel applies to this call (layer, data format, CPU).
bool tapsum_applies(const LayerView<float>& v, const OutputPlan& plan, int64_t steps);

// Same contract as run_forward_gemm (forward.hpp), on up to `threads` threads.
void run_tapsum(const LayerView<float>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                const float* input, float* output, int64_t threads);

// Bytes run_tapsum allocates (without the activation's scratch).
int64_t tapsum_workspace_bytes(const LayerView<float>& v, const OutputPlan& plan, int64_t batch,
                               int64_t steps, int64_t threads);

}  // namespace convt::detail
