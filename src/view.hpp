// What the compute kernels (forward, and later backward and streams) see of a layer: its
// parameters and packed weights, read-only, after every check has passed.
#pragma once

#include <cstdint>

#include "convt/convt.h"
#include "geometry.hpp"
#include "packing.hpp"

namespace convt::detail {

template <typename T>
struct LayerView {
  Geometry geometry;
  KernelDims dims;
  bool channels_last = true;
  convt_activation activation = CONVT_ACTIVATION_LINEAR;
  double alpha = 0;
  int64_t num_threads = 0;    // 0 = all cores
  const T* packed = nullptr;  // packing.hpp's layout
  const T* panels = nullptr;  // fused.hpp's layout, or nullptr: the fused kernel is not used
  // Only the portable kernels (direct, OpenBLAS + col2im), as on a CPU without AVX-512: for
  // tests of those kernels on any machine.
  bool portable_only = false;
  const T* bias = nullptr;  // filters values, or nullptr without bias
};

// A validated call: the view, the output's crop and length, and the input's size.
template <typename T>
struct Prepared {
  LayerView<T> view;
  OutputPlan plan;
  int64_t batch = 0;
  int64_t steps = 0;
};

}  // namespace convt::detail
