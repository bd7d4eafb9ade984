// Every spelling of every named value, and the canonical (lower-case Keras) name of each.
#pragma once

#include <cstdint>

#include "convt/convt.h"

namespace convt::detail {

enum class NameKind {
  kPadding,
  kDataFormat,
  kDtype,
  kActivation,
  kInitializer,
  kRegularizer,
  kConstraint
};

// The value `name` spells, case-insensitively. Throws CONVT_E_UNSUPPORTED for a name Keras has
// that this version lacks ("glu", "float16") and CONVT_E_INVALID_ARGUMENT for an unknown one;
// both messages name the value and list the accepted names.
int32_t value_of_name(NameKind kind, const char* name);

// The canonical name of `value` ("same", "channels_first", "silu"), or nullptr if unknown.
const char* name_of_value(NameKind kind, int32_t value) noexcept;

// How many values `kind` has (valid values are 0 .. count-1).
int32_t value_count(NameKind kind) noexcept;

}  // namespace convt::detail
