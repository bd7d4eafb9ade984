// Streaming inference: the layer applied to a signal that arrives in chunks, with outputs that
// concatenate to forward over the whole signal.
//
// Positions are output steps j (the canonical position minus the crop P_b). After T input steps
// no later input reaches a position below T*S, and the padding table of SEMANTICS.md §2 is
// linear in T: L_out(T) = T*S + c and P_b do not depend on T. So after T steps the first
// emitted(T) = max(0, min(T*S - P_b, T*S + c)) = max(0, T*S - delay) steps are final and exist
// whatever follows, with delay = max(P_b, -c). The stream keeps the `held` steps after them --
// bias plus the contributions so far, summed in forward's order -- which is every step an
// input has reached (at most K_eff - S past the final ones) and the steps the crop at the end
// may still remove (EXPLICIT's pad_end): held = max(0, K_eff - S - P_b + delay), fixed at
// creation, whatever the stream's length. A push runs the GEMM and col2im of forward on its
// chunk, in passes of a bounded number of rows, into a workspace that starts with the held
// steps; the steps that became final go to the output through the activation, the rest are
// held. Flush emits the held steps up to L_out(T) (bias only past them) and resets.
#pragma once

#include <cstdint>
#include <vector>

#include "convt/convt.h"
#include "geometry.hpp"
#include "layer.hpp"
#include "packing.hpp"
#include "view.hpp"

namespace convt::detail {

class Stream {
 public:
  // Checks the layer (weights, the parameter combination, an activation that acts along
  // time) and `batch` (>= 1, = BATCH_SIZE when set), and allocates the held state. The layer
  // must outlive the stream; every call checks that its parameters are unchanged.
  Stream(const Layer& layer, int64_t batch);

  // Exactly the steps the next push of `steps` would emit; for 0, what flush would emit now.
  int64_t max_output_steps(int64_t steps) const;

  // Consumes `steps` input steps (batch, steps, C) or (batch, C, steps) and writes the steps
  // that became final to output, (batch, n, F) or (batch, F, n); returns n. Validates and
  // allocates before any write, so a failed push changes nothing.
  template <typename T>
  int64_t push(const T* input, int64_t input_len, int64_t steps, T* output, int64_t output_len);

  // Writes the rest of the signal's output and resets; returns the steps written. Fails with
  // CONVT_E_SHAPE, keeping the state, when the signal so far has no output (forward's rule).
  template <typename T>
  int64_t flush(T* output, int64_t output_len);

  // Forgets the signal. Fails only when the layer changed under the stream.
  void reset();

 private:
  template <typename T>
  struct Buffers {
    std::vector<T> state;  // batch x held x F, step-major: the held steps of every item
    std::vector<T> work;   // (held + rows*S) x F: one item's steps during a pass
    std::vector<T> cols;   // rows x K*Fb: one filter block's GEMM result
  };

  template <typename T>
  Buffers<T>& buffers() noexcept;
  // The layer's view after checking the dtype and that nothing the stream depends on changed.
  template <typename T>
  LayerView<T> current_view() const;
  int64_t emitted_after(int64_t consumed) const;
  // The output steps of a signal of `consumed` steps; CONVT_E_SHAPE when it has none.
  int64_t length_after(int64_t consumed) const;
  void check_room(int64_t output_len, int64_t out_steps) const;
  template <typename T>
  void reserve(int64_t rows);
  template <typename T>
  void seed(const LayerView<T>& v, T* steps, int64_t count) const noexcept;
  // Allocates the state for the layer's dtype and starts the signal.
  template <typename T>
  void start();
  // Forgets the signal: every held step back to the bias.
  template <typename T>
  void restart(const LayerView<T>& v) noexcept;
  // Runs `rows` input rows of one item (x, in the data format, `chunk` steps long, from row
  // `first`) through GEMM and col2im into work, whose step 0 is output step `window`.
  template <typename T>
  void accumulate(const LayerView<T>& v, const T* x, int64_t chunk, int64_t first, int64_t rows,
                  int64_t consumed, int64_t window, int64_t span, T* work);
  // Copies n finished steps (step-major rows of F) into one item's output of `count` steps at
  // step `at`, in the data format, and applies the activation.
  template <typename T>
  void emit(const T* steps, int64_t n, T* out, int64_t count, int64_t at) const noexcept;
  template <typename T>
  void activate(const LayerView<T>& v, T* out, int64_t count) noexcept;

  const Layer* layer_;
  // What the stream was built for; current_view() compares the layer against it.
  Geometry geometry_;
  KernelDims dims_;
  bool channels_last_;
  convt_activation activation_;
  double alpha_;
  bool use_bias_;
  convt_dtype dtype_;

  int64_t batch_;
  int64_t crop_begin_ = 0;     // P_b
  int64_t length_offset_ = 0;  // c in L_out(T) = T*S + c
  int64_t delay_ = 0;
  int64_t held_ = 0;
  int64_t tail_ = 0;       // most steps a flush emits
  int64_t pass_rows_ = 1;  // input rows per GEMM pass at most

  int64_t consumed_ = 0;  // T: input steps since creation, the last flush or reset
  int64_t emitted_ = 0;   // output steps written since then

  std::vector<double> scratch_;  // the activation's, for rows of F values
  Buffers<float> f32_;
  Buffers<double> f64_;
};

}  // namespace convt::detail
