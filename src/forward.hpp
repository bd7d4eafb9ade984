// The forward pass, after validation: GEMM into column tiles, col2im into the bias-seeded
// output, then the activation.
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

}  // namespace convt::detail
