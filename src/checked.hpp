// Overflow-checked size arithmetic: every product of user-given sizes goes through here, so
// that a length that cannot exist is CONVT_E_SHAPE and never a wrapped allocation.
#pragma once

#include <cstdint>
#include <string>

#include "error.hpp"

namespace convt::detail {

// Largest element count the library will ever allocate or address: 2^62 bytes / 8.
inline constexpr int64_t kMaxElements = int64_t{1} << 59;

// a * b for a, b >= 0; fails with CONVT_E_SHAPE naming `what` when it exceeds kMaxElements.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > kMaxElements) {
    fail(CONVT_E_SHAPE, std::string(what) + " = " + std::to_string(a) + " * " + std::to_string(b) +
                            " overflows: sizes that large cannot exist");
  }
  return r;
}

// a + b for a, b >= 0, checked like checked_mul.
inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r) || r > kMaxElements) {
    fail(CONVT_E_SHAPE, std::string(what) + " = " + std::to_string(a) + " + " + std::to_string(b) +
                            " overflows: sizes that large cannot exist");
  }
  return r;
}

}  // namespace convt::detail
