// The caller's buffer lengths against what a call needs, with the messages users read
// ("input has 95 values, expected batch*steps*in_channels = 2*4*12 = 96"): one place for every
// length check of forward, backward, streams and weights.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "convt/convt.h"
#include "packing.hpp"

namespace convt::detail {

// "names = a*b*c = result".
std::string product_text(const char* names, std::initializer_list<int64_t> factors, int64_t result);

// The overflow-checked product of `factors`; fails with CONVT_E_SHAPE unless `given` equals it
// (exact) or is at least it (room). `buffer` and `names` go into the message.
int64_t expect_length(const char* buffer, int64_t given, const char* names,
                      std::initializer_list<int64_t> factors);
int64_t expect_room(const char* buffer, int64_t given, const char* names,
                    std::initializer_list<int64_t> factors);

// "kernel_size*filters*in_channels/groups = K*F*C/G = n": the kernel's length, for messages.
std::string kernel_length_text(const KernelDims& d);

// Fails with CONVT_E_INVALID_ARGUMENT unless `layout` is WOI or IOW.
void check_layout(convt_layout layout);

}  // namespace convt::detail
