// The library's one threading runtime: OpenMP, over independent units of work.
#pragma once

#include <omp.h>

#include <cstdint>

namespace convt::detail {

// fn(unit, thread) for every unit in [0, count), on up to `threads` threads (thread numbers
// from 0), each taking the next unit as it finishes one. One thread runs the units in order on
// the caller's thread, without entering the runtime: a call of a few microseconds does not pay
// for a parallel region it cannot use.
template <typename Fn>
void parallel_units(int64_t threads, int64_t count, Fn&& fn) {
  if (threads <= 1) {
    for (int64_t u = 0; u < count; ++u) fn(u, 0);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t u = 0; u < count; ++u) fn(u, static_cast<int64_t>(omp_get_thread_num()));
}

}  // namespace convt::detail
