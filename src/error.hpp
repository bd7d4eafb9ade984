// The one exception type of the core. The C boundary (capi/) turns it into a status code
// and the thread's message; nothing else in the library reports errors.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "convt/convt.h"

namespace convt::detail {

class Error : public std::runtime_error {
 public:
  Error(convt_status status, std::string message)
      : std::runtime_error(std::move(message)), status_(status) {}
  convt_status status() const noexcept { return status_; }

 private:
  convt_status status_;
};

[[noreturn]] inline void fail(convt_status status, std::string message) {
  throw Error(status, std::move(message));
}

}  // namespace convt::detail
