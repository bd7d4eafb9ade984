// The fused GEMM + col2im kernel, for float32 on CPUs with AVX-512F. It is output-stationary
// within a phase: outputs j = i*S - crop + phi (phi < S) of 12 consecutive input steps i are
// summed in registers, 32 filters at a time, over every tap t with t*D = phi (mod S) -- tap t
// reading input step i - floor(t*D/S) -- and over the group's channels, starting from the
// bias; then stored once (a phase with more than 512 (tap, channel) products adds each further
// slice's sum). channels_first outputs go through a small channels_last scratch, stored
// transposed once per run of register blocks. No column buffer, no col2im pass, no seeding of
// the output, and no per-call repacking of the weights, which the layer keeps in this kernel's
// panel order.
//
// Panels: for group g, filter block b (packing.hpp), tap t and chunk h of 32 filters within
// the block, a (C/G) x 32 row-major matrix, zero beyond the block's width:
//   panel[c'][f] = packed[g][c'][column(t, b*Fb + h*32 + f)].
// The input tile is copied once per (tile, filter blocks) into a buffer with zero rows around
// each item: channel-major for channels_first; row-major for channels_last, whose blocks read
// rows away from item edges from the input in place when its rows are the buffer's stride.
#pragma once

#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "col2im.hpp"
#include "packing.hpp"
#include "simd.hpp"

namespace convt::detail {

inline constexpr int64_t kPanelWidth = 32;  // filters per weight panel: two AVX-512 vectors
inline constexpr int64_t kMicroRows = 12;   // anchor rows per register block
// Filters per group from which the fused kernel runs; narrower groups would leave most of a
// panel empty (they take the tap-sum kernel, or OpenBLAS).
inline constexpr int64_t kFusedMinFilters = 16;

// Allocator for 64-byte aligned buffers: AVX-512 loads of a panel never split a cache line.
// Elements are default-initialized (left unset for float and double): every user writes its
// buffer before reading it, and a workspace of megabytes is not zeroed per call.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  explicit AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, size_t) noexcept { ::operator delete (p, std::align_val_t{64}); }
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const AlignedAllocator<U>&) const noexcept {
    return false;
  }
};
template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// The rule: the fused kernel runs for float32 layers on the GEMM path (not the direct kernel's)
// with at least 16 filters per group, when the CPU has AVX-512F. Narrower groups would leave
// most of a 32-filter panel empty; they keep OpenBLAS.
bool fused_kernel_applies(const KernelDims& d) noexcept;

// Chunks of kPanelWidth filters per block, and the panel of (group, block, tap, chunk).
int64_t panel_chunks(const KernelDims& d) noexcept;
int64_t panel_elements(const KernelDims& d);  // all panels; CONVT_E_SHAPE on overflow
int64_t panel_offset(const KernelDims& d, int64_t group, int64_t block, int64_t tap,
                     int64_t chunk) noexcept;

// panels = packed in panel order (see above).
void pack_panels(const KernelDims& d, const float* packed, float* panels) noexcept;

// The input and output of a call, as the fused kernel sees them.
struct FusedIo {
  const float* x = nullptr;     // the whole input
  float* y = nullptr;           // the whole output
  const float* bias = nullptr;  // F values, or null
  bool channels_last = true;
  int64_t in_channels = 1;  // C
  int64_t filters = 1;      // F
};

// Input rows per tile (m's geometry and steps): the tile's buffer -- its rows,
// the look-back before them and each item's tail -- stays within 512 KiB. 0 when not even one
// row fits (taps reaching hundreds of steps back): the kernel does not apply.
int64_t fused_tile_rows(const ColumnMap& m, int64_t channels_per_group);

// Floats of one thread's workspace for tiles of up to `tile_rows` rows: the buffer, six int64
// per run of its rows (where they come from, which outputs they anchor) and, for
// channels_first, a scratch for one run of register blocks' output.
int64_t fused_workspace_floats(const KernelDims& d, const ColumnMap& m, bool channels_last,
                               int64_t tile_rows);

// For the `rows` global input rows from r0 (m.steps per item): y[j][o] = bias[o] + the sum of
// x[i][c'] * W[c'][t][o] over the channels of `group` and every (i, t) with target j (col2im's
// targets: m's strides, dilation, kernel_size, crop_begin, out_steps), for every output j from
// the tile's first row's first (its output at tap 0, or the item's start) to the next tile's,
// within m's window, and the filters of blocks [first_block, end_block). Every output is
// written by exactly one tile, whatever the tiling, with the same sum. `panels` are the
// layer's; `work` holds fused_workspace_floats(d, m, io.channels_last, rows) floats, 64-byte
// aligned.
void fused_tile(const KernelDims& d, const ColumnMap& m, const float* panels, const FusedIo& io,
                int64_t group, int64_t first_block, int64_t end_block, int64_t r0, int64_t rows,
                float* work) noexcept;

}  // namespace convt::detail
