#include "lengths.hpp"

#include "checked.hpp"
#include "error.hpp"

namespace convt::detail {
namespace {

int64_t product(std::initializer_list<int64_t> factors, const char* names) {
  int64_t r = 1;
  for (int64_t f : factors) r = checked_mul(r, f, names);
  return r;
}

}  // namespace

std::string product_text(const char* names, std::initializer_list<int64_t> factors,
                         int64_t result) {
  std::string s = std::string(names) + " = ";
  bool first = true;
  for (int64_t f : factors) {
    s += (first ? "" : "*") + std::to_string(f);
    first = false;
  }
  return s + " = " + std::to_string(result);
}

int64_t expect_length(const char* buffer, int64_t given, const char* names,
                      std::initializer_list<int64_t> factors) {
  const int64_t expected = product(factors, names);
  if (given != expected) {
    fail(CONVT_E_SHAPE, std::string(buffer) + " has " + std::to_string(given) +
                            " values, expected " + product_text(names, factors, expected));
  }
  return expected;
}

int64_t expect_room(const char* buffer, int64_t given, const char* names,
                    std::initializer_list<int64_t> factors) {
  const int64_t needed = product(factors, names);
  if (given < needed) {
    fail(CONVT_E_SHAPE, std::string(buffer) + " has room for " + std::to_string(given) +
                            " values, expected at least " + product_text(names, factors, needed));
  }
  return needed;
}

std::string kernel_length_text(const KernelDims& d) {
  return product_text("kernel_size*filters*in_channels/groups",
                      {d.kernel_size, d.filters, d.channels_per_group()}, d.elements());
}

void check_layout(convt_layout layout) {
  if (layout != CONVT_LAYOUT_WOI && layout != CONVT_LAYOUT_IOW) {
    fail(CONVT_E_INVALID_ARGUMENT, "unknown kernel layout " + std::to_string(layout) +
                                       "; expected CONVT_LAYOUT_WOI (0) or CONVT_LAYOUT_IOW (1)");
  }
}

}  // namespace convt::detail
