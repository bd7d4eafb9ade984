#include "regularizers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "error.hpp"

namespace convt::detail {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_regularizer_owner(convt_param p) noexcept {
  return p == CONVT_PARAM_KERNEL_REGULARIZER || p == CONVT_PARAM_BIAS_REGULARIZER ||
         p == CONVT_PARAM_ACTIVITY_REGULARIZER;
}

}  // namespace

convt_param owner_of(convt_param param) noexcept {
  switch (param) {
    case CONVT_PARAM_KERNEL_REGULARIZER_L1:
    case CONVT_PARAM_KERNEL_REGULARIZER_L2:
      return CONVT_PARAM_KERNEL_REGULARIZER;
    case CONVT_PARAM_BIAS_REGULARIZER_L1:
    case CONVT_PARAM_BIAS_REGULARIZER_L2:
      return CONVT_PARAM_BIAS_REGULARIZER;
    case CONVT_PARAM_ACTIVITY_REGULARIZER_L1:
    case CONVT_PARAM_ACTIVITY_REGULARIZER_L2:
      return CONVT_PARAM_ACTIVITY_REGULARIZER;
    case CONVT_PARAM_KERNEL_CONSTRAINT_MIN_VALUE:
    case CONVT_PARAM_KERNEL_CONSTRAINT_MAX_VALUE:
    case CONVT_PARAM_KERNEL_CONSTRAINT_RATE:
      return CONVT_PARAM_KERNEL_CONSTRAINT;
    case CONVT_PARAM_BIAS_CONSTRAINT_MIN_VALUE:
    case CONVT_PARAM_BIAS_CONSTRAINT_MAX_VALUE:
    case CONVT_PARAM_BIAS_CONSTRAINT_RATE:
      return CONVT_PARAM_BIAS_CONSTRAINT;
    default:
      return 0;
  }
}

int dependent_count(convt_param param) noexcept {
  if (is_regularizer_owner(param)) return 2;
  if (param == CONVT_PARAM_KERNEL_CONSTRAINT || param == CONVT_PARAM_BIAS_CONSTRAINT) return 3;
  return 0;
}

std::array<double, 3> kind_defaults(convt_param owner, int32_t kind) noexcept {
  if (is_regularizer_owner(owner)) {
    switch (kind) {
      case CONVT_REGULARIZER_L1:
        return {0.01, kNaN, kNaN};
      case CONVT_REGULARIZER_L2:
        return {kNaN, 0.01, kNaN};
      case CONVT_REGULARIZER_L1_L2:
        return {0.0, 0.0, kNaN};
      default:
        return {kNaN, kNaN, kNaN};
    }
  }
  switch (kind) {
    case CONVT_CONSTRAINT_MAX_NORM:
      return {kNaN, 2.0, kNaN};
    case CONVT_CONSTRAINT_MIN_MAX_NORM:
      return {0.0, 1.0, 1.0};
    default:
      return {kNaN, kNaN, kNaN};
  }
}

const char* double_problem(convt_param param, double value) noexcept {
  const convt_param owner = owner_of(param);
  if (is_regularizer_owner(owner)) {
    // Keras's validate_float_arg: a non-negative, finite float.
    return std::isfinite(value) && value >= 0.0 ? nullptr : "a factor must be finite and >= 0";
  }
  if (param == owner + 3) {
    return std::isfinite(value) && value >= 0.0 && value <= 1.0
               ? nullptr
               : "a rate must be in [0, 1] (1 enforces the bounds strictly)";
  }
  return std::isfinite(value) && value >= 0.0 ? nullptr : "a norm bound must be finite and >= 0";
}

template <typename T>
double penalty_value(const Penalty& p, const T* w, int64_t n) noexcept {
  double abs_sum = 0.0, square_sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(w[i]);
    abs_sum += std::fabs(v);
    square_sum += v * v;
  }
  return p.l1 * abs_sum + p.l2 * square_sum;
}

void check_constraint(const Constraint& c, const char* what) {
  if (c.kind == CONVT_CONSTRAINT_MIN_MAX_NORM && c.min_value > c.max_value) {
    fail(CONVT_E_INVALID_ARGUMENT,
         std::string(what) + " min_max_norm has min_value " + std::to_string(c.min_value) +
             " > max_value " + std::to_string(c.max_value) + "; expected min_value <= max_value");
  }
}

template <typename T>
void apply_constraint(const Constraint& c, const std::array<int64_t, 3>& dims, T* w) {
  const int64_t count = dims[0] * dims[1] * dims[2];
  if (c.kind == CONVT_CONSTRAINT_NONE) return;
  if (c.kind == CONVT_CONSTRAINT_NON_NEG) {
    for (int64_t i = 0; i < count; ++i) w[i] = std::max(w[i], T(0));
    return;
  }
  // Every element's norm index: its position among the axes the norm does not run over.
  std::array<int64_t, 3> norm_stride{};
  int64_t norms = 1;
  for (int axis = 2; axis >= 0; --axis) {
    if ((c.axes >> axis & 1) == 0) {
      norm_stride[static_cast<size_t>(axis)] = norms;
      norms *= dims[static_cast<size_t>(axis)];
    }
  }
  std::vector<double> scale(static_cast<size_t>(norms), 0.0);
  auto for_each = [&](auto fn) {
    int64_t i = 0;
    for (int64_t a = 0; a < dims[0]; ++a) {
      for (int64_t b = 0; b < dims[1]; ++b) {
        for (int64_t d = 0; d < dims[2]; ++d, ++i) {
          fn(i, a * norm_stride[0] + b * norm_stride[1] + d * norm_stride[2]);
        }
      }
    }
  };
  for_each([&](int64_t i, int64_t k) {
    const double v = static_cast<double>(w[i]);
    scale[static_cast<size_t>(k)] += v * v;
  });
  for (double& s : scale) {
    const double norm = std::sqrt(s);
    double desired = 1.0;  // unit_norm
    if (c.kind == CONVT_CONSTRAINT_MAX_NORM) desired = std::clamp(norm, 0.0, c.max_value);
    if (c.kind == CONVT_CONSTRAINT_MIN_MAX_NORM) {
      desired = c.rate * std::clamp(norm, c.min_value, c.max_value) + (1.0 - c.rate) * norm;
    }
    s = desired / (kConstraintEpsilon + norm);
  }
  for_each([&](int64_t i, int64_t k) {
    w[i] = static_cast<T>(static_cast<double>(w[i]) * scale[static_cast<size_t>(k)]);
  });
}

template double penalty_value<float>(const Penalty&, const float*, int64_t) noexcept;
template double penalty_value<double>(const Penalty&, const double*, int64_t) noexcept;
template void apply_constraint<float>(const Constraint&, const std::array<int64_t, 3>&, float*);
template void apply_constraint<double>(const Constraint&, const std::array<int64_t, 3>&, double*);

}  // namespace convt::detail
