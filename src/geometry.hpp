// Output length and crop of every padding mode: the one place where SEMANTICS.md §2 lives.
// Pure functions of the hyper-parameters and the input length; no allocation, no state.
#pragma once

#include <cstdint>

#include "convt/convt.h"

namespace convt::detail {

// The hyper-parameters that decide the output's geometry.
struct Geometry {
  int64_t kernel_size = 1;
  int64_t strides = 1;
  int64_t dilation = 1;
  convt_padding padding = CONVT_PADDING_VALID;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
  int64_t output_padding = CONVT_OUTPUT_PADDING_UNSET;
};

// The output lengths forward accepts for an input of `steps`, and the default among them.
struct OutputRange {
  int64_t lo = 0;
  int64_t hi = 0;
  int64_t fallback = 0;  // what convt_layer_output_shape returns
};

// Where the canonical output (length L_full) is cut: y[j] = full[j + crop_begin].
struct OutputPlan {
  int64_t crop_begin = 0;
  int64_t out_steps = 0;
};

// D*(K-1) + 1.
int64_t effective_kernel(const Geometry& g);

// (steps-1)*S + K_eff, overflow-checked.
int64_t full_length(const Geometry& g, int64_t steps);

// Throws CONVT_E_INVALID_ARGUMENT for combinations no input could satisfy
// (output_padding >= max(strides, dilation)).
void check_geometry(const Geometry& g);

// The accepted out_steps for `steps` input steps. Throws CONVT_E_SHAPE when no output length
// >= 1 exists for this input (pads longer than the output).
OutputRange output_range(const Geometry& g, int64_t steps);

// The crop for a requested `out_steps`; throws CONVT_E_SHAPE, naming the accepted range, when
// out_steps is not accepted.
OutputPlan plan_output(const Geometry& g, int64_t steps, int64_t out_steps);

// Lower-case name of a padding mode, for messages.
const char* padding_name(convt_padding p) noexcept;

}  // namespace convt::detail
