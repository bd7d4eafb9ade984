// The value tests fill caller buffers with to prove that a call did not write them: a quiet NaN
// with a payload the library never produces, compared bitwise. One definition for every test
// executable (it needs nothing but the standard library).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace convt_test {

template <class T>
T untouched() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t> bits;
  if constexpr (sizeof(T) == 4) {
    bits = 0x7fc5a5a5u;
  } else {
    bits = 0x7ff8a5a5a5a5a5a5ull;
  }
  T v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

template <class T>
bool is_untouched(T v) {
  const T s = untouched<T>();
  return std::memcmp(&v, &s, sizeof v) == 0;
}

// Whether v[from ..] all still hold the sentinel.
template <class T>
bool all_untouched(const std::vector<T>& v, size_t from = 0) {
  for (size_t k = from; k < v.size(); ++k) {
    if (!is_untouched(v[k])) return false;
  }
  return true;
}

}  // namespace convt_test
