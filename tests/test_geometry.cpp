// Output lengths and crops of every padding mode, checked exhaustively on a grid against each
// framework's own formula as its documentation states it (not against SEMANTICS.md's table,
// which geometry.cpp implements).
#include <catch2/catch.hpp>

#include <algorithm>

#include "error.hpp"
#include "geometry.hpp"

using convt::detail::Error;
using convt::detail::Geometry;
using convt::detail::output_range;
using convt::detail::plan_output;

namespace {

Geometry make(convt_padding padding, int64_t k, int64_t s, int64_t d, int64_t op, int64_t pb = 0,
              int64_t pe = 0) {
  Geometry g;
  g.padding = padding;
  g.kernel_size = k;
  g.strides = s;
  g.dilation = d;
  g.output_padding = op;
  g.pad_begin = pb;
  g.pad_end = pe;
  return g;
}

// Calls fn(k, s, d, L, op) over the grid, op from -1 (unset) to max(s, d) - 1.
template <typename Fn>
void grid(Fn fn) {
  for (int64_t k = 1; k <= 9; ++k)
    for (int64_t s = 1; s <= 6; ++s)
      for (int64_t d = 1; d <= 4; ++d)
        for (int64_t L = 1; L <= 7; ++L)
          for (int64_t op = -1; op < std::max(s, d); ++op) fn(k, s, d, L, op);
}

}  // namespace

TEST_CASE("PyTorch ConvTranspose1d length: (L-1)*S - 2p + D*(K-1) + op + 1, crop p", "[geometry]") {
  grid([](int64_t k, int64_t s, int64_t d, int64_t L, int64_t op) {
    for (int64_t p = 0; p <= 3; ++p) {
      const int64_t torch_len = (L - 1) * s - 2 * p + d * (k - 1) + (op < 0 ? 0 : op) + 1;
      const Geometry g = make(CONVT_PADDING_EXPLICIT, k, s, d, op, p, p);
      if (torch_len < 1) {
        CHECK_THROWS_AS(output_range(g, L), Error);
        continue;
      }
      const auto r = output_range(g, L);
      CHECK(r.fallback == torch_len);
      if (op < 0) {
        // PyTorch's output_size: any value in [min_size, min_size + max(S, D) - 1].
        CHECK(r.lo == torch_len);
        CHECK(r.hi == torch_len + std::max(s, d) - 1);
      } else {
        CHECK((r.lo == torch_len && r.hi == torch_len));
      }
      CHECK(plan_output(g, L, torch_len).crop_begin == p);
    }
  });
}

TEST_CASE("Keras Conv1DTranspose length: valid and same, with and without output_padding",
          "[geometry]") {
  grid([](int64_t k, int64_t s, int64_t d, int64_t L, int64_t op) {
    // keras/src/utils/conv_utils-style rule with the dilated kernel size.
    const int64_t ke = k + (k - 1) * (d - 1);
    int64_t valid = 0, same = 0;
    if (op < 0) {
      valid = L * s + std::max(ke - s, int64_t{0});
      same = L * s;
    } else {
      valid = (L - 1) * s + ke + op;
      same = (L - 1) * s + ke - 2 * (ke / 2) + op;
    }
    CHECK(output_range(make(CONVT_PADDING_VALID, k, s, d, op), L).fallback == valid);
    if (same < 1) {
      CHECK_THROWS_AS(output_range(make(CONVT_PADDING_SAME, k, s, d, op), L), Error);
    } else {
      CHECK(output_range(make(CONVT_PADDING_SAME, k, s, d, op), L).fallback == same);
    }
  });
}

TEST_CASE(
    "TF conv1d_transpose accepts exactly the output_shape lengths whose forward conv "
    "gives back L",
    "[geometry]") {
  // tf.nn.conv1d_transpose is the gradient of conv1d: output_shape O is accepted exactly when
  // conv1d over O steps gives L: VALID ceil((O - K_eff + 1) / S) == L, SAME ceil(O / S) == L.
  grid([](int64_t k, int64_t s, int64_t d, int64_t L, int64_t op) {
    if (op >= 0) return;
    const int64_t ke = d * (k - 1) + 1;
    for (int64_t O = 1; O <= (L + 1) * s + ke; ++O) {
      const bool valid_ok = O >= ke && (O - ke + s) / s == L;
      const bool same_ok = (O + s - 1) / s == L;
      const auto rv = output_range(make(CONVT_PADDING_VALID, k, s, d, -1), L);
      const auto rs = output_range(make(CONVT_PADDING_SAME, k, s, d, -1), L);
      CHECK((O >= rv.lo && O <= rv.hi) == valid_ok);
      CHECK((O >= rs.lo && O <= rs.hi) == same_ok);
      if (same_ok) {
        // TF SAME pads the forward conv by max(0, (L-1)*S + K_eff - O), the odd one at the end.
        const int64_t pad = std::max<int64_t>(0, (L - 1) * s + ke - O);
        CHECK(plan_output(make(CONVT_PADDING_SAME, k, s, d, -1), L, O).crop_begin == pad / 2);
        CHECK(plan_output(make(CONVT_PADDING_SAME_LOWER, k, s, d, -1), L, O).crop_begin ==
              pad - pad / 2);
      }
    }
  });
}

TEST_CASE("ONNX SAME_LOWER with output_padding: output L*S and begin pad total - total/2",
          "[geometry]") {
  grid([](int64_t k, int64_t s, int64_t d, int64_t L, int64_t op) {
    if (op < 0) return;
    const int64_t ke = d * (k - 1) + 1;
    const int64_t total = s * (L - 1) + op + ke - L * s;  // ONNX's total_padding for O = L*S
    const Geometry g = make(CONVT_PADDING_SAME_LOWER, k, s, d, op);
    const auto r = output_range(g, L);
    if (total >= 0) {
      CHECK(r.fallback == L * s);
      CHECK(plan_output(g, L, r.fallback).crop_begin == total - total / 2);
    } else {
      // A negative total would pad: libconvt keeps the whole output instead (SEMANTICS §2).
      CHECK(r.fallback == (L - 1) * s + ke + op);
      CHECK(plan_output(g, L, r.fallback).crop_begin == 0);
    }
  });
}

TEST_CASE("output_padding must be below max(strides, dilation_rate)", "[geometry]") {
  CHECK_NOTHROW(output_range(make(CONVT_PADDING_VALID, 3, 2, 3, 2), 4));
  try {
    output_range(make(CONVT_PADDING_VALID, 3, 2, 3, 3), 4);
    FAIL("accepted output_padding 3 with strides 2, dilation 3");
  } catch (const Error& e) {
    CHECK(e.status() == CONVT_E_INVALID_ARGUMENT);
    CHECK_THAT(e.what(), Catch::Contains("max(strides, dilation_rate) = 3"));
  }
}

TEST_CASE("a rejected out_steps names the accepted range", "[geometry]") {
  try {
    plan_output(make(CONVT_PADDING_SAME, 3, 2, 1, -1), 10, 21);
    FAIL("accepted 21");
  } catch (const Error& e) {
    CHECK(e.status() == CONVT_E_SHAPE);
    CHECK_THAT(e.what(), Catch::Contains("[19, 20]"));
  }
}

TEST_CASE("lengths that overflow int64 are CONVT_E_SHAPE", "[geometry]") {
  const int64_t huge = int64_t{1} << 62;
  try {
    output_range(make(CONVT_PADDING_VALID, 3, huge, 1, -1), 1000);
    FAIL("no overflow detected");
  } catch (const Error& e) {
    CHECK(e.status() == CONVT_E_SHAPE);
  }
  CHECK_THROWS_AS(output_range(make(CONVT_PADDING_EXPLICIT, 3, 1, 1, -1, huge, huge), 5), Error);
}
