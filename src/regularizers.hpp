// Regularizers and constraints, exactly as Keras 3 defines them
// (keras/src/regularizers/regularizers.py, keras/src/constraints/constraints.py), and the
// training parameters that name them. Pure functions: the layer stores the parameters, the
// backward pass and convt_layer_apply_constraints call these.
#pragma once

#include <array>
#include <cstdint>

#include "convt/convt.h"

namespace convt::detail {

// Number of convt_regularizer and convt_constraint values (valid: 0 .. count - 1).
inline constexpr int32_t kRegularizerCount = 4;
inline constexpr int32_t kConstraintCount = 5;

// Keras's constraint epsilon (backend.epsilon()), added to every norm it divides by.
inline constexpr double kConstraintEpsilon = 1e-7;

// ---- the double parameters that belong to a regularizer or a constraint ------------------------

// The enum parameter (KERNEL_REGULARIZER, ..., BIAS_CONSTRAINT) whose value decides whether
// `param` exists, or 0 when `param` is not one of its double parameters. A regularizer's l1
// and l2 factors are the two parameters after it; a constraint's min_value, max_value and rate
// the three after it.
convt_param owner_of(convt_param param) noexcept;

// How many double parameters follow the enum parameter `param`: 2 for a regularizer, 3 for a
// constraint, 0 for any other parameter.
int dependent_count(convt_param param) noexcept;

// Keras's defaults of the double parameters after `owner` for its value `kind`, in order
// (l1, l2) or (min_value, max_value, rate); NaN where that kind has no such argument. By name
// Keras builds l1 = L1(0.01), l2 = L2(0.01), l1_l2 = L1L2() with both factors 0,
// max_norm = MaxNorm(2), min_max_norm = MinMaxNorm(0, 1, rate 1).
std::array<double, 3> kind_defaults(convt_param owner, int32_t kind) noexcept;

// nullptr when `value` is acceptable for the double parameter `param`, else a static sentence
// saying what is expected.
const char* double_problem(convt_param param, double value) noexcept;

// ---- regularizers ------------------------------------------------------------------------------

// l1 * sum|w| + l2 * sum w^2 (a regularizer without a factor has it 0).
struct Penalty {
  double l1 = 0.0;
  double l2 = 0.0;
  bool active() const noexcept { return l1 != 0.0 || l2 != 0.0; }
  // d(penalty)/dw = l1 * sign(w) + 2 * l2 * w, with sign(0) = 0 as TensorFlow's and JAX's
  // gradient of abs. A factor of 0 adds nothing, not even a NaN or infinite w's NaN.
  double slope(double w) const noexcept {
    const double sign = w > 0.0 ? 1.0 : (w < 0.0 ? -1.0 : 0.0);
    return (l1 != 0.0 ? l1 * sign : 0.0) + (l2 != 0.0 ? 2.0 * l2 * w : 0.0);
  }
};

// The penalty of n values, summed in double.
template <typename T>
double penalty_value(const Penalty& p, const T* w, int64_t n) noexcept;

// The penalties backward adds: all inactive unless BACKWARD_REGULARIZATION is 1.
struct Penalties {
  Penalty kernel;
  Penalty bias;
  Penalty activity;  // of the output after the activation, divided by batch
};

// ---- constraints -------------------------------------------------------------------------------

struct Constraint {
  convt_constraint kind = CONVT_CONSTRAINT_NONE;
  double min_value = 0.0;  // min_max_norm
  double max_value = 0.0;  // max_norm, min_max_norm
  double rate = 1.0;       // min_max_norm
  int64_t axes = 1;        // bit i set: the norm runs over axis i of the tensor
};

// Fails with CONVT_E_INVALID_ARGUMENT, naming `what` ("kernel_constraint"), for a combination
// the setters cannot see: min_max_norm with min_value > max_value.
void check_constraint(const Constraint& c, const char* what);

// Projects the row-major tensor w of shape dims as Keras's constraint does, in double and
// rounded once: norms = sqrt(sum of w^2 over the axes in c.axes) for every index of the other
// axes, then w * desired(norm) / (epsilon + norm) -- desired = clip(norm, 0, max_value) for
// max_norm, rate * clip(norm, min_value, max_value) + (1 - rate) * norm for min_max_norm,
// 1 for unit_norm -- or max(w, 0) for non_neg. Allocates one double per norm (may throw
// std::bad_alloc before changing w).
template <typename T>
void apply_constraint(const Constraint& c, const std::array<int64_t, 3>& dims, T* w);

}  // namespace convt::detail
