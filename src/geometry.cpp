#include "geometry.hpp"

#include <algorithm>
#include <string>

#include "checked.hpp"
#include "error.hpp"

namespace convt::detail {
namespace {

bool op_set(const Geometry& g) { return g.output_padding != CONVT_OUTPUT_PADDING_UNSET; }

// ceil(v / 2) and floor(v / 2) for v >= 0.
int64_t half_up(int64_t v) { return v / 2 + v % 2; }

std::string describe(const Geometry& g, int64_t steps) {
  std::string s = "steps " + std::to_string(steps) + ", padding " + padding_name(g.padding) +
                  ", strides " + std::to_string(g.strides) + ", kernel_size " +
                  std::to_string(g.kernel_size) + ", dilation_rate " + std::to_string(g.dilation);
  if (g.padding == CONVT_PADDING_EXPLICIT) {
    s += ", pad_begin " + std::to_string(g.pad_begin) + ", pad_end " + std::to_string(g.pad_end);
  }
  if (op_set(g)) s += ", output_padding " + std::to_string(g.output_padding);
  return s;
}

}  // namespace

const char* padding_name(convt_padding p) noexcept {
  switch (p) {
    case CONVT_PADDING_VALID:
      return "valid";
    case CONVT_PADDING_SAME:
      return "same";
    case CONVT_PADDING_SAME_LOWER:
      return "same_lower";
    case CONVT_PADDING_EXPLICIT:
      return "explicit";
    default:
      return "unknown";
  }
}

int64_t effective_kernel(const Geometry& g) {
  return checked_add(checked_mul(g.dilation, g.kernel_size - 1, "dilation_rate*(kernel_size-1)"), 1,
                     "effective kernel");
}

int64_t full_length(const Geometry& g, int64_t steps) {
  return checked_add(checked_mul(steps - 1, g.strides, "(steps-1)*strides"), effective_kernel(g),
                     "full output length");
}

void check_geometry(const Geometry& g) {
  const int64_t limit = std::max(g.strides, g.dilation);
  if (op_set(g) && g.output_padding >= limit) {
    fail(CONVT_E_INVALID_ARGUMENT,
         "output_padding " + std::to_string(g.output_padding) +
             " must be less than max(strides, dilation_rate) = " + std::to_string(limit) +
             " (strides " + std::to_string(g.strides) + ", dilation_rate " +
             std::to_string(g.dilation) + "); unset it (-1) to let the length follow the padding");
  }
}

OutputRange output_range(const Geometry& g, int64_t steps) {
  check_geometry(g);
  const int64_t k_eff = effective_kernel(g);
  const int64_t full = full_length(g, steps);
  const int64_t s = g.strides;
  const int64_t op = g.output_padding;
  const int64_t same_len = checked_mul(steps, s, "steps*strides");
  OutputRange r;
  switch (g.padding) {
    case CONVT_PADDING_VALID:
      if (op_set(g)) {
        r.fallback = checked_add(full, op, "output length");
      } else {
        r.lo = full;
        r.hi = checked_add(full, s - 1, "output length");
        r.fallback = full + std::max<int64_t>(s - k_eff, 0);
      }
      break;
    case CONVT_PADDING_SAME:
      if (op_set(g)) {
        r.fallback = checked_add((steps - 1) * s + k_eff % 2, op, "output length");  // Keras
      } else {
        r.lo = (steps - 1) * s + 1;
        r.hi = same_len;
        r.fallback = same_len;
      }
      break;
    case CONVT_PADDING_SAME_LOWER:
      if (op_set(g)) {
        const int64_t grown = checked_add(full, op, "output length");
        r.fallback = grown - std::max<int64_t>(grown - same_len, 0);
      } else {
        r.lo = (steps - 1) * s + 1;
        r.hi = same_len;
        r.fallback = same_len;
      }
      break;
    case CONVT_PADDING_EXPLICIT: {
      // Pads may be any int64: a difference that overflows saturates far below zero.
      int64_t cropped = 0;
      if (__builtin_sub_overflow(full - g.pad_begin, g.pad_end, &cropped)) cropped = INT64_MIN / 4;
      if (op_set(g)) {
        r.fallback = checked_add(cropped, op, "output length");
      } else {
        r.lo = cropped;
        r.hi = checked_add(cropped, std::max(s, g.dilation) - 1, "output length");
        r.fallback = cropped;
      }
      break;
    }
    default:
      fail(CONVT_E_INTERNAL, "unknown padding mode " + std::to_string(g.padding));
  }
  if (op_set(g)) r.lo = r.hi = r.fallback;
  // The default must be a real length; the ranges start at or below it.
  if (r.fallback < 1) {
    fail(CONVT_E_SHAPE, "the output would be empty for " + describe(g, steps) +
                            ": the full output has " + std::to_string(full) +
                            " steps and the padding leaves " +
                            std::to_string(std::max<int64_t>(r.fallback, 0)));
  }
  r.lo = std::max<int64_t>(r.lo, 1);
  return r;
}

OutputPlan plan_output(const Geometry& g, int64_t steps, int64_t out_steps) {
  const OutputRange r = output_range(g, steps);
  if (out_steps < r.lo || out_steps > r.hi) {
    std::string expected = r.lo == r.hi ? std::to_string(r.lo)
                                        : "a value in [" + std::to_string(r.lo) + ", " +
                                              std::to_string(r.hi) + "] (default " +
                                              std::to_string(r.fallback) + ")";
    if (op_set(g)) expected += "; with output_padding set only the default is accepted";
    fail(CONVT_E_SHAPE, "out_steps " + std::to_string(out_steps) + " is not accepted for " +
                            describe(g, steps) + ": expected " + expected);
  }
  const int64_t full = full_length(g, steps);
  const int64_t k_eff = effective_kernel(g);
  OutputPlan p;
  p.out_steps = out_steps;
  switch (g.padding) {
    case CONVT_PADDING_VALID:
      p.crop_begin = 0;
      break;
    case CONVT_PADDING_SAME:
      if (op_set(g)) {
        p.crop_begin = std::max<int64_t>((k_eff - k_eff % 2 - g.output_padding) / 2, 0);
      } else {
        p.crop_begin = std::max<int64_t>(full - out_steps, 0) / 2;
      }
      break;
    case CONVT_PADDING_SAME_LOWER: {
      // ONNX: T = L_full + op - O (op = 0 when unset), the odd step cropped at the beginning.
      const int64_t op = op_set(g) ? g.output_padding : 0;
      p.crop_begin = half_up(std::max<int64_t>(full + op - out_steps, 0));
      break;
    }
    case CONVT_PADDING_EXPLICIT:
      p.crop_begin = g.pad_begin;
      break;
    default:
      fail(CONVT_E_INTERNAL, "unknown padding mode " + std::to_string(g.padding));
  }
  return p;
}

}  // namespace convt::detail
