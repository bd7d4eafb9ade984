// col2im and its adjoint im2col, side by side with the same index maths.
//
// The column buffer holds `rows` input rows starting at global row i0, one row each of
// kernel_size * filters values ordered (tap t, filter o). Global row r is input step r % steps
// of batch item r / steps (so a tile may run across batch items). Input step i's tap t lands
// on output step j = i*S + t*D - P_b of the same item; targets outside [0, out_steps), or
// whose flattened position item*out_steps + j lies outside [window_begin, window_end), are
// skipped. The output is addressed with strides so one routine serves both data formats:
// y[item * item_stride + j * step_stride + o * filter_stride].
#pragma once

#include <cstdint>
#include <limits>

namespace convt::detail {

struct ColumnMap {
  int64_t strides = 1;
  int64_t dilation = 1;
  int64_t kernel_size = 1;
  int64_t filters = 1;  // filters in the columns: a column row holds kernel_size * filters
  int64_t crop_begin = 0;
  int64_t out_steps = 1;
  int64_t steps = std::numeric_limits<int64_t>::max();  // input steps per batch item
  int64_t item_stride = 0;
  int64_t step_stride = 1;
  int64_t filter_stride = 1;
  int64_t window_begin = 0;
  int64_t window_end = std::numeric_limits<int64_t>::max();
};

// y[target(i, t)][o] += cols[i - i0][t][o] for every row, tap and filter whose target exists.
template <typename T>
void col2im(const ColumnMap& m, int64_t i0, int64_t rows, const T* cols, T* y) noexcept;

// The same scatter-add for columns stored by tap: cols[t][o][i - i0]. For channels_first, where a
// filter's steps are contiguous: each (t, o) walks its output row in time instead of jumping a
// whole row per filter.
template <typename T>
void col2im_by_tap(const ColumnMap& m, int64_t i0, int64_t rows, const T* cols, T* y) noexcept;

// cols[i - i0][t][o] = y[target(i, t)][o], or 0 where the target is skipped: the adjoint of
// col2im, so <col2im(a), b> == <a, im2col(b)>.
template <typename T>
void im2col(const ColumnMap& m, int64_t i0, int64_t rows, const T* y, T* cols) noexcept;

}  // namespace convt::detail
