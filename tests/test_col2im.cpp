// col2im against its definition, the adjoint identity with im2col, and kernel packing.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "col2im.hpp"
#include "packing.hpp"

using convt::detail::ColumnMap;
using convt::detail::KernelDims;

namespace {

std::vector<double> random_vector(std::mt19937_64& rng, int64_t n) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = u(rng);
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// A random map in either output layout: (out_steps, filters) or (filters, out_steps).
ColumnMap random_map(std::mt19937_64& rng, bool channels_last) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  ColumnMap m;
  m.strides = pick(1, 5);
  m.dilation = pick(1, 4);
  m.kernel_size = pick(1, 7);
  m.filters = pick(1, 4);
  m.crop_begin = pick(0, 6);
  m.out_steps = pick(1, 30);
  m.step_stride = channels_last ? m.filters : 1;
  m.filter_stride = channels_last ? 1 : m.out_steps;
  return m;
}

}  // namespace

TEST_CASE("col2im scatter-adds each tap of each step onto i*S + t*D - P_b", "[col2im]") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const bool last = trial % 2 == 0;
    const ColumnMap m = random_map(rng, last);
    const int64_t i0 = trial % 3, rows = 1 + trial % 9;
    const auto cols = random_vector(rng, rows * m.kernel_size * m.filters);
    std::vector<double> y = random_vector(rng, m.out_steps * m.filters), expected = y;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t < m.kernel_size; ++t)
        for (int64_t o = 0; o < m.filters; ++o) {
          const int64_t j = (i0 + r) * m.strides + t * m.dilation - m.crop_begin;
          if (j < 0 || j >= m.out_steps) continue;
          const int64_t at = last ? j * m.filters + o : o * m.out_steps + j;
          expected[static_cast<size_t>(at)] +=
              cols[static_cast<size_t>((r * m.kernel_size + t) * m.filters + o)];
        }
    convt::detail::col2im(m, i0, rows, cols.data(), y.data());
    for (size_t k = 0; k < y.size(); ++k) CHECK(y[k] == expected[k]);
  }
}

TEST_CASE("col2im is the adjoint of im2col: <col2im(a), b> == <a, im2col(b)>", "[col2im]") {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    const ColumnMap m = random_map(rng, trial % 2 == 0);
    const int64_t i0 = trial % 4, rows = 1 + trial % 11;
    const auto a = random_vector(rng, rows * m.kernel_size * m.filters);
    const auto b = random_vector(rng, m.out_steps * m.filters);
    std::vector<double> col2im_a(b.size(), 0.0), im2col_b(a.size(), -5.0);
    convt::detail::col2im(m, i0, rows, a.data(), col2im_a.data());
    convt::detail::im2col(m, i0, rows, b.data(), im2col_b.data());
    const double lhs = dot(col2im_a, b), rhs = dot(a, im2col_b);
    CHECK(lhs == Approx(rhs).epsilon(1e-12).margin(1e-12));
  }
}

TEST_CASE("col2im_by_tap adds columns stored by tap exactly as col2im adds them by row",
          "[col2im]") {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    ColumnMap m = random_map(rng, trial % 2 == 0);
    m.steps = 3 + trial % 9;  // tiles of up to 13 rows run across items 1, 2, 3...
    m.item_stride = m.out_steps * m.filters;
    m.window_begin = trial % 3 == 0 ? m.out_steps + trial % 5 : 0;
    const int64_t i0 = m.steps + trial % 7, rows = 1 + trial % 13;
    const int64_t cols_per_row = m.kernel_size * m.filters;
    const auto by_row = random_vector(rng, rows * cols_per_row);
    std::vector<double> by_tap(by_row.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q < cols_per_row; ++q)
        by_tap[static_cast<size_t>(q * rows + r)] =
            by_row[static_cast<size_t>(r * cols_per_row + q)];
    const auto y0 = random_vector(rng, (3 + (i0 + rows) / m.steps) * m.item_stride);
    std::vector<double> a = y0, b = y0;
    convt::detail::col2im(m, i0, rows, by_row.data(), a.data());
    convt::detail::col2im_by_tap(m, i0, rows, by_tap.data(), b.data());
    // The same terms; with dilation two (row, tap) pairs may share a target and be added in
    // another order, so equal to rounding.
    for (size_t k = 0; k < a.size(); ++k) CHECK(a[k] == Approx(b[k]).epsilon(1e-14).margin(1e-14));
  }
}

TEST_CASE("packing from WOI and IOW agrees with the grouped layout formula and round-trips",
          "[packing]") {
  std::mt19937_64 rng(3);
  const int64_t shapes[][4] = {
      {3, 4, 6, 1}, {2, 6, 4, 2}, {5, 6, 6, 3}, {4, 8, 8, 8}, {1, 1, 1, 1}};
  for (const auto& s : shapes) {
    KernelDims d;
    d.kernel_size = s[0];
    d.filters = s[1];
    d.in_channels = s[2];
    d.groups = s[3];
    const int64_t K = d.kernel_size, F = d.filters, Fg = d.filters_per_group();
    const int64_t Cg = d.channels_per_group();
    const auto iow = random_vector(rng, d.elements());
    // W_woi[t][o][c'] = W_iow[(o / (F/G)) * (C/G) + c'][o % (F/G)][t]  (API.md)
    std::vector<double> woi(iow.size());
    for (int64_t t = 0; t < K; ++t)
      for (int64_t o = 0; o < F; ++o)
        for (int64_t c = 0; c < Cg; ++c)
          woi[static_cast<size_t>((t * F + o) * Cg + c)] =
              iow[static_cast<size_t>((((o / Fg) * Cg + c) * Fg + o % Fg) * K + t)];
    std::vector<double> from_iow(iow.size()), from_woi(iow.size()), back(iow.size());
    convt::detail::pack_kernel(d, CONVT_LAYOUT_IOW, iow.data(), from_iow.data());
    convt::detail::pack_kernel(d, CONVT_LAYOUT_WOI, woi.data(), from_woi.data());
    CHECK(from_iow == from_woi);
    convt::detail::unpack_kernel(d, CONVT_LAYOUT_WOI, from_iow.data(), back.data());
    CHECK(back == woi);
    convt::detail::unpack_kernel(d, CONVT_LAYOUT_IOW, from_woi.data(), back.data());
    CHECK(back == iow);
  }
}
