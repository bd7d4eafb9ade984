#include "col2im.hpp"

#include <algorithm>

namespace convt::detail {
namespace {

// Calls fn(col_row, y_at_target_or_null) for every (row, tap): the single statement of the
// index maths that col2im and im2col share.
template <typename T, typename Fn>
void for_each_tap(const ColumnMap& m, int64_t i0, int64_t rows, T* y, Fn fn) noexcept {
  const int64_t row_len = m.kernel_size * m.filters;
  int64_t item = i0 / m.steps, step = i0 % m.steps;  // advanced per row, no division
  for (int64_t r = 0; r < rows; ++r, ++step) {
    if (step == m.steps) step = 0, ++item;
    // Valid targets: 0 <= j < out_steps and window_begin <= item*out_steps + j < window_end.
    const int64_t lo = std::max<int64_t>(0, m.window_begin - item * m.out_steps);
    const int64_t hi = std::min(m.out_steps, m.window_end - item * m.out_steps);
    const int64_t base = step * m.strides - m.crop_begin;
    T* y_item = y + item * m.item_stride;
    for (int64_t t = 0; t < m.kernel_size; ++t) {
      const int64_t j = base + t * m.dilation;
      fn(r * row_len + t * m.filters, (j >= lo && j < hi) ? y_item + j * m.step_stride : nullptr);
    }
  }
}

}  // namespace

template <typename T>
void col2im(const ColumnMap& m, int64_t i0, int64_t rows, const T* cols, T* y) noexcept {
  const int64_t fs = m.filter_stride, nf = m.filters;
  for_each_tap(m, i0, rows, y, [&](int64_t c, T* target) {
    if (target == nullptr) return;
    const T* src = cols + c;
    if (fs == 1) {
      for (int64_t o = 0; o < nf; ++o) target[o] += src[o];
    } else {
      for (int64_t o = 0; o < nf; ++o) target[o * fs] += src[o];
    }
  });
}

template <typename T>
void col2im_by_tap(const ColumnMap& m, int64_t i0, int64_t rows, const T* cols, T* y) noexcept {
  const int64_t step = m.strides * m.step_stride;
  // Row by row, the tile may run across items: one segment of rows per item.
  for (int64_t first = 0; first < rows;) {
    const int64_t item = (i0 + first) / m.steps, step0 = (i0 + first) % m.steps;
    const int64_t count = std::min(rows - first, m.steps - step0);
    const int64_t lo = std::max<int64_t>(0, m.window_begin - item * m.out_steps);
    const int64_t hi = std::min(m.out_steps, m.window_end - item * m.out_steps);
    T* y_item = y + item * m.item_stride;
    for (int64_t t = 0; t < m.kernel_size; ++t) {
      // Row r of the segment lands on j = b + r*S; the rows whose target lies in [lo, hi):
      const int64_t b = step0 * m.strides + t * m.dilation - m.crop_begin;
      const int64_t r0 =
          std::clamp<int64_t>(lo > b ? (lo - b + m.strides - 1) / m.strides : 0, 0, count);
      const int64_t r1 =
          std::clamp<int64_t>(hi > b ? (hi - b + m.strides - 1) / m.strides : 0, 0, count);
      if (r0 >= r1) continue;  // no target: form no pointer outside the output
      for (int64_t o = 0; o < m.filters; ++o) {
        const T* src = cols + (t * m.filters + o) * rows + first + r0;
        T* target = y_item + o * m.filter_stride + (b + r0 * m.strides) * m.step_stride;
        for (int64_t r = 0; r < r1 - r0; ++r) target[r * step] += src[r];
      }
    }
    first += count;
  }
}

template <typename T>
void im2col(const ColumnMap& m, int64_t i0, int64_t rows, const T* y, T* cols) noexcept {
  const int64_t fs = m.filter_stride, nf = m.filters;
  for_each_tap(m, i0, rows, y, [&](int64_t c, const T* source) {
    T* dst = cols + c;
    for (int64_t o = 0; o < nf; ++o) dst[o] = source != nullptr ? source[o * fs] : T(0);
  });
}

template void col2im<float>(const ColumnMap&, int64_t, int64_t, const float*, float*) noexcept;
template void col2im<double>(const ColumnMap&, int64_t, int64_t, const double*, double*) noexcept;
template void col2im_by_tap<float>(const ColumnMap&, int64_t, int64_t, const float*,
                                   float*) noexcept;
template void col2im_by_tap<double>(const ColumnMap&, int64_t, int64_t, const double*,
                                    double*) noexcept;
template void im2col<float>(const ColumnMap&, int64_t, int64_t, const float*, float*) noexcept;
template void im2col<double>(const ColumnMap&, int64_t, int64_t, const double*, double*) noexcept;

}  // namespace convt::detail
