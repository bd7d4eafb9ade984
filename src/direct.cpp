#include "direct.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "activation.hpp"
#include "checked.hpp"

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

struct DirectUnit {
  int64_t item, group, j0, j1;
};

}  // namespace

bool use_direct_path(const KernelDims& d) noexcept {
  return d.channels_per_group() * d.filters_per_group() <= kDirectMaxChannelProduct;
}

template <typename T>
void run_direct(const LayerView<T>& v, const OutputPlan& plan, int64_t batch, int64_t steps,
                const T* input, T* output, int64_t threads) {
  const KernelDims& d = v.dims;
  const Geometry& geo = v.geometry;
  const bool last = v.channels_last;
  const int64_t C = d.in_channels, F = d.filters, G = d.groups, L = steps;
  const int64_t Cg = d.channels_per_group(), Fg = d.filters_per_group(), L_out = plan.out_steps;
  const int64_t S = geo.strides, P = plan.crop_begin;
  const std::vector<Phase> phases = phases_of(geo);
  // Input and output strides: step and channel.
  const int64_t xs = last ? C : 1, xc = last ? 1 : L;
  const int64_t ys = last ? F : 1, yf = last ? 1 : L_out;

  // Units: (item, group, a run of output steps), enough of them to feed the threads.
  const int64_t chunks = std::clamp<int64_t>((4 * threads + batch * G - 1) / (batch * G), 1,
                                             std::max<int64_t>(L_out / kStepBlock, 1));
  std::vector<DirectUnit> units;
  units.reserve(static_cast<size_t>(checked_mul(batch * G, chunks, "direct units")));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t c = 0; c < chunks; ++c)
        units.push_back({n, g, L_out * c / chunks, L_out * (c + 1) / chunks});
  const int64_t used = std::min<int64_t>(threads, static_cast<int64_t>(units.size()));
  std::vector<T> acc(static_cast<size_t>(used * kStepBlock));
  std::vector<double> scratch(
      static_cast<size_t>(activation_scratch_doubles(v.activation, last ? F : L_out)));
  const bool fuse_activation = !activation_along_axis(v.activation);

#pragma omp parallel for num_threads(used) schedule(dynamic, 1)
  for (int64_t u = 0; u < static_cast<int64_t>(units.size()); ++u) {
    const DirectUnit& un = units[static_cast<size_t>(u)];
    T* a = acc.data() + omp_get_thread_num() * kStepBlock;
    const T* x = input + un.item * L * C + un.group * Cg * xc;
    T* y = output + un.item * F * L_out + un.group * Fg * yf;
    const T* w = v.packed + un.group * Cg * d.row_length();
    // Steps no tap reaches keep the bias.
    for (int64_t j = un.j0; j < un.j1; ++j)
      for (int64_t o = 0; o < Fg; ++o)
        y[j * ys + o * yf] = v.bias == nullptr ? T(0) : v.bias[un.group * Fg + o];
    for (const Phase& ph : phases) {
      const int64_t m_lo = ceil_div(un.j0 + P - ph.r, S);
      const int64_t m_hi = floor_div(un.j1 - 1 + P - ph.r, S);  // inclusive
      for (int64_t mb = m_lo; mb <= m_hi; mb += kStepBlock) {
        const int64_t cnt = std::min(kStepBlock, m_hi - mb + 1);
        for (int64_t o = 0; o < Fg; ++o) {
          const T b = v.bias == nullptr ? T(0) : v.bias[un.group * Fg + o];
          std::fill(a, a + cnt, b);
          for (size_t k = 0; k < ph.taps.size(); ++k) {
            // Input step m - q for m = mb + e: e in [max(0, q - mb), min(cnt, L + q - mb)).
            const int64_t q = ph.q[k];
            const int64_t e0 = std::max<int64_t>(0, q - mb), e1 = std::min(cnt, L + q - mb);
            const int64_t column = d.packed_column(ph.taps[k], o);
            for (int64_t c = 0; c < Cg; ++c) {
              const T wv = w[c * d.row_length() + column];
              const T* xp = x + c * xc + (mb - q) * xs;
              for (int64_t e = e0; e < e1; ++e) a[e] += wv * xp[e * xs];
            }
          }
          T* yp = y + (mb * S + ph.r - P) * ys + o * yf;
          for (int64_t e = 0; e < cnt; ++e) yp[e * S * ys] = a[e];
        }
      }
    }
    if (fuse_activation) {
      if (last) {
        for (int64_t j = un.j0; j < un.j1; ++j)
          apply_activation(v.activation, v.alpha, y + j * F, 1, Fg, nullptr);
      } else {
        for (int64_t o = 0; o < Fg; ++o)
          apply_activation(v.activation, v.alpha, y + o * L_out + un.j0, 1, un.j1 - un.j0, nullptr);
      }
    }
  }
  if (!fuse_activation) {
    apply_activation(v.activation, v.alpha, output, last ? batch * L_out : batch * F,
                     last ? F : L_out, scratch.data());
  }
}

template void run_direct<float>(const LayerView<float>&, const OutputPlan&, int64_t, int64_t,
                                const float*, float*, int64_t);
template void run_direct<double>(const LayerView<double>&, const OutputPlan&, int64_t, int64_t,
                                 const double*, double*, int64_t);

}  // namespace convt::detail
