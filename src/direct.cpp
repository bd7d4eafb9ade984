#include "direct.hpp"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "activation.hpp"
#include "checked.hpp"
#include "owned.hpp"
#include "parallel.hpp"
#include "signal.hpp"

namespace convt::detail {
namespace {

// Output steps computed per pass of the inner loops: the accumulators stay in L1.
constexpr int64_t kStepBlock = 256;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Taps grouped by output phase: output step j gets tap t exactly when
// (j + P_b) mod S == (t*D) mod S, from input step (j + P_b - t*D) / S = m - q with
// m = (j + P_b - r) / S and q = (t*D - r) / S.
struct Phase {
  int64_t r;
  std::vector<int64_t> taps;  // ascending t
  std::vector<int64_t> q;
};

std::vector<Phase> phases_of(const Geometry& g) {
  std::vector<Phase> phases;
  for (int64_t t = 0; t < g.kernel_size; ++t) {
    const int64_t r = (t * g.dilation) % g.strides;
    auto it = std::find_if(phases.begin(), phases.end(), [&](const Phase& p) { return p.r == r; });
    if (it == phases.end()) it = phases.insert(phases.end(), Phase{r, {}, {}});
    it->taps.push_back(t);
    it->q.push_back((t * g.dilation - r) / g.strides);
  }
  return phases;
}

using DirectUnit = OutputUnit;

}  // namespace

std::vector<OutputUnit> output_units(int64_t batch, int64_t groups, int64_t out_steps,
                                     int64_t threads, int64_t min_steps) {
  const int64_t chunks = std::clamp<int64_t>((4 * threads + batch * groups - 1) / (batch * groups),
                                             1, std::max<int64_t>(out_steps / min_steps, 1));
  std::vector<OutputUnit> units;
  units.reserve(static_cast<size_t>(checked_mul(batch * groups, chunks, "output units")));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t c = 0; c < chunks; ++c)
        units.push_back({n, g, out_steps * c / chunks, out_steps * (c + 1) / chunks});
  return units;
}

bool use_direct_path(const KernelDims& d) noexcept {
  return d.channels_per_group() <= kDirectMaxChannels &&
         d.channels_per_group() * d.filters_per_group() <= kDirectMaxChannelProduct;
}

namespace {

// a[e] += w * x[e * xs] for e in [e0, e1): contiguous x gets its own loop so it vectorizes.
template <typename T>
void axpy(T* a, T w, const T* x, int64_t xs, int64_t e0, int64_t e1) {
  if (xs == 1) {
    for (int64_t e = e0; e < e1; ++e) a[e] += w * x[e];
  } else {
    for (int64_t e = e0; e < e1; ++e) a[e] += w * x[e * xs];
  }
}

// Time-major: for each output phase, a block of steps at a time, vectorized along time. For
// layouts where time is contiguous (NCW, or one channel).
template <typename T>
void direct_by_time(const LayerView<T>& v, const OutputPlan& plan, const std::vector<Phase>& phases,
                    int64_t steps, const T* input, T* output, const DirectUnit& un, T* a) {
  const KernelDims& d = v.dims;
  const bool last = v.channels_last;
  const int64_t C = d.in_channels, F = d.filters, L = steps, L_out = plan.out_steps;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group();
  const int64_t S = v.geometry.strides, P = plan.crop_begin, row = d.row_length();
  const int64_t xs = last ? C : 1, xc = last ? 1 : L, ys = last ? F : 1, yf = last ? 1 : L_out;
  const T* x = input + un.item * L * C + un.group * Cg * xc;
  T* y = output + un.item * F * L_out + un.group * Fg * yf;
  const T* w = v.packed + un.group * Cg * row;
  if constexpr (std::is_same_v<T, float>) {
    SignalPlan sp;
    if (Cg == 1 && Fg == 1 && ys == 1 && !v.portable_only &&
        make_signal_plan(v.geometry, P, L, &sp)) {
      float taps[kMaxSignalTaps];
      for (int64_t t = 0; t < d.kernel_size; ++t) taps[t] = w[d.packed_column(t, 0)];
      signal_forward(sp, x, taps, v.bias == nullptr ? 0.0f : v.bias[un.group], y, un.j0, un.j1);
      activate_owned(v.activation, v.alpha, output, last, F, L_out, un.group * Fg, Fg,
                     un.item * L_out + un.j0, un.item * L_out + un.j1);
      return;
    }
  }
  for (int64_t o = 0; o < Fg; ++o) {
    const T b = v.bias == nullptr ? T(0) : v.bias[un.group * Fg + o];
    if (static_cast<int64_t>(phases.size()) < S) {  // some steps no tap reaches: the bias
      for (int64_t j = un.j0; j < un.j1; ++j) y[j * ys + o * yf] = b;
    }
    // Output blocks of S*kStepBlock steps, every phase of a block before the next block, so
    // the block's output (and the input it reads) stay in cache.
    // S*kStepBlock without overflow: a stride that large makes one block of the whole range.
    const int64_t span = S > (un.j1 - un.j0) / kStepBlock ? un.j1 - un.j0 : S * kStepBlock;
    for (int64_t jb = un.j0; jb < un.j1; jb += span) {
      const int64_t je = std::min(un.j1, jb + span);
      for (const Phase& ph : phases) {
        const int64_t mb = ceil_div(jb + P - ph.r, S);
        const int64_t cnt = floor_div(je - 1 + P - ph.r, S) - mb + 1;  // <= kStepBlock
        if (cnt <= 0) continue;
        std::fill(a, a + cnt, b);
        for (size_t k = 0; k < ph.taps.size(); ++k) {
          // Input step m - q for m = mb + e: e in [max(0, q - mb), min(cnt, L + q - mb)).
          const int64_t q = ph.q[k];
          const int64_t e0 = std::max<int64_t>(0, q - mb), e1 = std::min(cnt, L + q - mb);
          if (e0 >= e1) continue;  // no input step: form no pointer outside the input
          const int64_t column = d.packed_column(ph.taps[k], o);
          for (int64_t c = 0; c < Cg; ++c) {
            axpy(a + e0, w[c * row + column], x + c * xc + (mb - q + e0) * xs, xs, 0, e1 - e0);
          }
        }
        T* yp = y + (mb * S + ph.r - P) * ys + o * yf;
        for (int64_t e = 0; e < cnt; ++e) yp[e * S * ys] = a[e];
      }
    }
  }
  activate_owned(v.activation, v.alpha, output, last, F, L_out, un.group * Fg, Fg,
                 un.item * L_out + un.j0, un.item * L_out + un.j1);
}

// Position-major, for NWC: one output step at a time across every group's channels, which are
// contiguous there. `wt` holds the weights tap-major: wt[t][g][c'][o'].
template <typename T>
void direct_by_position(const LayerView<T>& v, const OutputPlan& plan,
                        const std::vector<Phase>& phases, const std::vector<int64_t>& phase_of,
                        int64_t steps, const T* input, T* output, const DirectUnit& un,
                        const T* wt) {
  const KernelDims& d = v.dims;
  const int64_t C = d.in_channels, F = d.filters, G = d.groups, L = steps, L_out = plan.out_steps;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group();
  const int64_t S = v.geometry.strides, P = plan.crop_begin;
  for (int64_t j = un.j0; j < un.j1; ++j) {
    T* yrow = output + (un.item * L_out + j) * F;
    for (int64_t o = 0; o < F; ++o) yrow[o] = v.bias == nullptr ? T(0) : v.bias[o];
    const int64_t r = (j + P) % S, m = (j + P) / S;
    int64_t p = -1;  // the phase of residue r: by table, or by search for huge strides
    if (r < static_cast<int64_t>(phase_of.size())) {
      p = phase_of[static_cast<size_t>(r)];
    } else {
      for (size_t q = 0; q < phases.size(); ++q) {
        if (phases[q].r == r) p = static_cast<int64_t>(q);
      }
    }
    if (p >= 0) {  // else no tap reaches this step: it keeps the bias
      const Phase& ph = phases[static_cast<size_t>(p)];
      for (size_t k = 0; k < ph.taps.size(); ++k) {
        const int64_t i = m - ph.q[k];
        if (i < 0 || i >= L) continue;
        const T* xrow = input + (un.item * L + i) * C;
        const T* w = wt + ph.taps[k] * C * Fg;
        if (Cg == 1 && Fg == 1) {  // depthwise: one multiply-add per channel, vectorized
          for (int64_t g = 0; g < G; ++g) yrow[g] += xrow[g] * w[g];
        } else {
          // Accumulate in registers: adding through yrow would chain every multiply-add
          // through memory (a store-to-load dependency per channel).
          // (In chunks of filters, so any shape works, not only the rule's.)
          constexpr int64_t kChunk = kDirectMaxChannelProduct;
          for (int64_t g = 0; g < G; ++g) {
            const T* xg = xrow + g * Cg;
            const T* wg = w + g * Cg * Fg;
            for (int64_t o0 = 0; o0 < Fg; o0 += kChunk) {
              const int64_t width = std::min(kChunk, Fg - o0);
              T acc[kChunk] = {};
              for (int64_t c = 0; c < Cg; ++c) {
                for (int64_t o = 0; o < width; ++o) acc[o] += xg[c] * wg[c * Fg + o0 + o];
              }
              for (int64_t o = 0; o < width; ++o) yrow[g * Fg + o0 + o] += acc[o];
            }
          }
        }
      }
    }
    // The whole row is done: activate it while it is in cache.
    activate_owned(v.activation, v.alpha, yrow, true, F, 1, 0, F, 0, 1);
  }
}

// What run_direct decides before it allocates: shared with the workspace query.
struct DirectPlan {
  bool by_position = false;  // NWC with several channels reads whole positions
  std::vector<DirectUnit> units;
  int64_t threads = 1;
  int64_t weight_elems = 0;  // the tap-major weight copy of by_position
  int64_t phase_table = 0;   // its residue -> phase table
};

DirectPlan plan_direct(const KernelDims& d, bool channels_last, int64_t strides, int64_t batch,
                       int64_t out_steps, int64_t threads) {
  DirectPlan p;
  p.by_position = channels_last && d.in_channels > 1;
  p.units = output_units(batch, p.by_position ? 1 : d.groups, out_steps, threads, kStepBlock);
  p.threads = std::min<int64_t>(threads, static_cast<int64_t>(p.units.size()));
  if (p.by_position) {
    p.weight_elems =
        checked_mul(d.kernel_size * d.in_channels, d.filters_per_group(), "direct weights");
    p.phase_table = std::min<int64_t>(strides, 1 << 16);
  }
  return p;
}

}  // namespace

template <typename T>
int64_t direct_workspace_bytes(const LayerView<T>& v, const OutputPlan& plan, int64_t batch,
                               int64_t threads) {
  const DirectPlan p =
      plan_direct(v.dims, v.channels_last, v.geometry.strides, batch, plan.out_steps, threads);
  return (p.threads * kStepBlock + p.weight_elems) * static_cast<int64_t>(sizeof(T)) +
         p.phase_table * static_cast<int64_t>(sizeof(int64_t)) +
         static_cast<int64_t>(p.units.size() * sizeof(DirectUnit));
}

template <typename T>
void run_direct(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                const T* input, T* output, int64_t threads) {
  const KernelDims& d = v.dims;
  const bool last = v.channels_last;
  const int64_t C = d.in_channels, K = d.kernel_size, L_out = plan.out_steps;
  const int64_t Fg = d.filters_per_group();
  const std::vector<Phase> phases = phases_of(v.geometry);
  const DirectPlan dp = plan_direct(d, last, v.geometry.strides, batch, L_out, threads);
  const bool by_position = dp.by_position;
  const std::vector<DirectUnit>& units = dp.units;
  const int64_t used = dp.threads;

  // All allocation happens before the first write to `output`.
  std::vector<T> acc(static_cast<size_t>(used * kStepBlock));
  std::vector<T> wt;
  std::vector<int64_t> phase_of;
  if (by_position) {
    wt.resize(static_cast<size_t>(dp.weight_elems));
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < K; ++t)
        for (int64_t o = 0; o < Fg; ++o)
          wt[static_cast<size_t>((t * C + c) * Fg + o)] =
              v.packed[c * d.row_length() + d.packed_column(t, o)];
    // Phase index by residue where the stride is small enough for a table; else no taps.
    phase_of.assign(static_cast<size_t>(dp.phase_table), -1);
    for (size_t p = 0; p < phases.size(); ++p) {
      if (phases[p].r < static_cast<int64_t>(phase_of.size())) {
        phase_of[static_cast<size_t>(phases[p].r)] = static_cast<int64_t>(p);
      }
    }
  }

  parallel_units(used, static_cast<int64_t>(units.size()), [&](int64_t u, int64_t thread) {
    const DirectUnit& un = units[static_cast<size_t>(u)];
    if (by_position) {
      direct_by_position(v, plan, phases, phase_of, steps, input, output, un, wt.data());
    } else {
      direct_by_time(v, plan, phases, steps, input, output, un, acc.data() + thread * kStepBlock);
    }
  });
}

template int64_t direct_workspace_bytes<float>(const LayerView<float>&, const OutputPlan&, int64_t,
                                               int64_t);
template int64_t direct_workspace_bytes<double>(const LayerView<double>&, const OutputPlan&,
                                                int64_t, int64_t);
template void run_direct<float>(const LayerView<float>&, const OutputPlan&, int64_t, int64_t,
                                const float*, float*, int64_t);
template void run_direct<double>(const LayerView<double>&, const OutputPlan&, int64_t, int64_t,
                                 const double*, double*, int64_t);

}  // namespace convt::detail
