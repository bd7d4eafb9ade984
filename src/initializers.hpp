// Keras's weight initializers from a seeded generator that gives bitwise the same values on
// every run, build and machine: only correctly rounded arithmetic (+ - * / sqrt), no libm.
#pragma once

#include <cstdint>
#include <vector>

#include "convt/convt.h"

namespace convt::detail {

// Number of convt_initializer values; valid values are 0 .. kInitializerCount - 1.
inline constexpr int32_t kInitializerCount = 12;

// Fills out[0 .. prod(shape)) with `init`'s values for a tensor of `shape` (row-major, Keras's
// order: the kernel is (kernel_size, filters, in_channels / groups), the bias (filters)),
// with Keras's default arguments and fan rules. (seed, stream) selects the random sequence:
// the layer uses stream 0 for the kernel and 1 for the bias. Throws Error
// (CONVT_E_INVALID_ARGUMENT) for orthogonal with a shape of rank < 2; may throw
// std::bad_alloc.
void fill_initializer(convt_initializer init, const std::vector<int64_t>& shape, uint64_t seed,
                      uint64_t stream, double* out);

}  // namespace convt::detail
