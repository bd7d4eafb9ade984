// col2im and its adjoint im2col, side by side with the same index maths.
//
// The column buffer holds `rows` input steps i0 .. i0+rows-1, one row each of K*(F/G) values
// ordered (tap t, filter o). Input step i's tap t lands on output step j = i*S + t*D - P_b; the
// targets outside [0, out_steps) are cropped. The output is addressed with two strides so one
// routine serves both data formats: y[j * step_stride + o * filter_stride].
#pragma once

#include <cstdint>

namespace convt::detail {

struct ColumnMap {
  int64_t strides = 1;
  int64_t dilation = 1;
  int64_t kernel_size = 1;
  int64_t filters = 1;  // per group: the inner length of a column row is kernel_size * filters
  int64_t crop_begin = 0;
  int64_t out_steps = 1;
  int64_t step_stride = 1;
  int64_t filter_stride = 1;
};

// y[target(i, t)][o] += cols[i - i0][t][o] for every row, tap and filter whose target exists.
template <typename T>
void col2im(const ColumnMap& m, int64_t i0, int64_t rows, const T* cols, T* y) noexcept;

// cols[i - i0][t][o] = y[target(i, t)][o], or 0 where the target is cropped: the adjoint of
// col2im, so <col2im(a), b> == <a, im2col(b)>.
template <typename T>
void im2col(const ColumnMap& m, int64_t i0, int64_t rows, const T* y, T* cols) noexcept;

}  // namespace convt::detail
