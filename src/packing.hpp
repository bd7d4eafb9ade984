// Kernel packing: from the caller's layout (Keras WOI or PyTorch IOW, with groups) into the
// GEMM's B operand, once in set_weights, and back for get_weights.
//
// Packed layout, per group g: a row-major (C/G) x (K*F/G) matrix whose row c' is input channel
// g*C/G + c' and whose column t*(F/G) + o' is tap t of output channel g*F/G + o'. So one GEMM
// row of the column buffer holds, for one input step, every (tap, filter) contribution, and
// col2im reads it with the filter index innermost.
#pragma once

#include <cstdint>

#include "convt/convt.h"

namespace convt::detail {

struct KernelDims {
  int64_t kernel_size = 1;  // K
  int64_t filters = 1;      // F
  int64_t in_channels = 1;  // C
  int64_t groups = 1;       // G
  int64_t filters_per_group() const { return filters / groups; }
  int64_t channels_per_group() const { return in_channels / groups; }
  // Elements of one group's packed matrix: (C/G) * K * (F/G); the whole kernel is G times it.
  int64_t group_elements() const {
    return channels_per_group() * kernel_size * filters_per_group();
  }
  int64_t elements() const { return group_elements() * groups; }
};

// packed[...] = kernel[...] for every element; `kernel` in `layout`.
template <typename T>
void pack_kernel(const KernelDims& d, convt_layout layout, const T* kernel, T* packed) noexcept;

// kernel[...] = packed[...]: the exact inverse of pack_kernel.
template <typename T>
void unpack_kernel(const KernelDims& d, convt_layout layout, const T* packed, T* kernel) noexcept;

}  // namespace convt::detail
