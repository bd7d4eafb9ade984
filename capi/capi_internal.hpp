// What every capi/*.cpp file shares: the opaque handle's definition and the one guard that
// turns exceptions into a status and this thread's message. No maths here.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "convt/convt.h"
#include "error.hpp"
#include "layer.hpp"

struct convt_layer {
  explicit convt_layer(int64_t filters, int64_t kernel_size) : impl(filters, kernel_size) {}
  convt::detail::Layer impl;
};

namespace convt::capi {

// Stores "function: what" as the calling thread's last error (never allocates or throws).
void store_message(const char* function, const char* what) noexcept;

// Runs fn, turning every exception into a status and this thread's message.
template <typename Fn>
convt_status guarded(const char* function, Fn&& fn) noexcept {
  try {
    fn();
    return CONVT_OK;
  } catch (const detail::Error& e) {
    store_message(function, e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    store_message(function, "out of memory; nothing was changed");
    return CONVT_E_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    store_message(function, e.what());
    return CONVT_E_INTERNAL;
  } catch (...) {
    store_message(function, "unknown internal error");
    return CONVT_E_INTERNAL;
  }
}

// Fails with CONVT_E_INVALID_ARGUMENT "<what> is NULL".
inline void require(const void* pointer, const char* what) {
  if (pointer == nullptr) detail::fail(CONVT_E_INVALID_ARGUMENT, std::string(what) + " is NULL");
}

inline const detail::Layer& layer_of(const convt_layer* layer) {
  require(layer, "layer");
  return layer->impl;
}

inline detail::Layer& layer_of(convt_layer* layer) {
  require(layer, "layer");
  return layer->impl;
}

}  // namespace convt::capi
