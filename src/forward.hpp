// The forward pass, after validation. run_forward picks one of four kernels by the layer's
// shape, dtype and CPU (the rule: the header's "How it computes"): the direct kernel
// (direct.hpp), the tap-sum kernel (tapsum.hpp), or the tiled GEMM path, which runs the fused
// kernel (fused.hpp) where the layer has weight panels and OpenBLAS + col2im elsewhere. Each
// computes the same numbers to rounding, for any shape; all four write the output piece by
// piece, from the bias (the fused kernel starts its register sums there, the others seed the
// output), and activate each piece when it is finished.
#pragma once

#include <cstdint>

#include "view.hpp"

namespace convt::detail {

// output[0 .. batch*F*L_out) = activation(conv1d_transpose(input) + bias). Allocates its
// bounded workspace before the first write to output (so an allocation failure leaves output
// untouched). May throw std::bad_alloc.
template <typename T>
void run_forward(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                 const T* input, T* output);

// Threads for a call on `batch` items of `steps` steps: NUM_THREADS (0 = all cores), but no
// more than the work can feed. The choice never changes a result, only the speed.
template <typename T>
int64_t thread_count(const LayerView<T>& v, int64_t batch, int64_t steps);

// The tiled GEMM path (fused kernel or OpenBLAS + col2im), with element-wise activations
// fused. Softmax-like activations (along the last axis) are left to run_forward, which applies
// them at the end.
template <typename T>
void run_forward_gemm(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                      const T* input, T* output);

// Bytes of workspace run_forward allocates for this call (column tiles of every thread it
// uses, the direct kernel's accumulators, the activation's row scratch).
template <typename T>
int64_t forward_workspace_bytes(const LayerView<T>& v, const OutputPlan& plan, int64_t batch,
                                int64_t steps);

}  // namespace convt::detail
