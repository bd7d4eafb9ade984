// Kernel packing: from the caller's layout (Keras WOI or PyTorch IOW, with groups) into the
// GEMM's B operand, once in set_weights, and back for get_weights.
//
// Packed layout, per group g: a row-major (C/G) x (K*F/G) matrix whose row c' is input channel
// g*C/G + c'. Its columns come in filter blocks: block b holds filters b*Fb .. b*Fb + w_b - 1
// of the group (w_b = Fb but for a shorter last block), as K*w_b columns ordered (tap t,
// filter o' within the block). So a block's columns are contiguous -- one GEMM computes, for a
// tile of input steps, every (tap, filter) contribution of that block -- and blocks write
// disjoint output channels, which is what lets threads split the work by blocks. With one
// block (Fb = F/G) the column of (t, o') is simply t*(F/G) + o'.
#pragma once

#include <algorithm>
#include <cstdint>

#include "convt/convt.h"

namespace convt::detail {

struct KernelDims {
  int64_t kernel_size = 1;   // K
  int64_t filters = 1;       // F
  int64_t in_channels = 1;   // C
  int64_t groups = 1;        // G
  int64_t filter_block = 0;  // Fb: filters per packed block; 0 = all F/G in one block

  int64_t filters_per_group() const { return filters / groups; }
  int64_t channels_per_group() const { return in_channels / groups; }
  int64_t block() const {
    return filter_block > 0 ? std::min(filter_block, filters_per_group()) : filters_per_group();
  }
  int64_t block_count() const { return (filters_per_group() + block() - 1) / block(); }
  // Filters in block b, and its first column in the packed matrix.
  int64_t block_width(int64_t b) const {
    return std::min(block(), filters_per_group() - b * block());
  }
  int64_t block_column(int64_t b) const { return b * block() * kernel_size; }
  // Columns of a group's packed matrix (its leading dimension): K * F/G.
  int64_t row_length() const { return kernel_size * filters_per_group(); }
  // The packed column of tap t of filter o' (within the group).
  int64_t packed_column(int64_t t, int64_t o) const {
    const int64_t b = o / block();
    return block_column(b) + t * block_width(b) + o % block();
  }
  // Elements of one group's packed matrix: (C/G) * K * (F/G); the whole kernel is G times it.
  int64_t group_elements() const { return channels_per_group() * row_length(); }
  int64_t elements() const { return group_elements() * groups; }
};

// The filter block for a kernel of kernel_size taps and filters_per_group filters: about 1024
// GEMM columns per block (K * Fb), so one block's GEMM runs near peak while a tile of its
// columns stays small; blocks balanced in width and a multiple of 8 filters where possible.
// Depends on the kernel's shape only, never on threads, so results never depend on threads.
int64_t choose_filter_block(int64_t kernel_size, int64_t filters_per_group) noexcept;

// packed[...] = kernel[...] for every element; `kernel` in `layout`.
template <typename T>
void pack_kernel(const KernelDims& d, convt_layout layout, const T* kernel, T* packed) noexcept;

// kernel[...] = packed[...]: the exact inverse of pack_kernel.
template <typename T>
void unpack_kernel(const KernelDims& d, convt_layout layout, const T* packed, T* kernel) noexcept;

}  // namespace convt::detail
