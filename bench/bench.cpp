// libconvt benchmark: every shape of shared/bench/suite.json, both data formats, 1 and 2
// threads, contenders in one run:
//   libconvt  convt_layer_forward_f32 with NUM_THREADS = threads
//   sgemm     the bare single-call SGEMM of the same lowering (cols = X * W), OpenBLAS's own
//             threading: the ceiling of GEMM + col2im
//   onednn    oneDNN's deconvolution forward (primitive created once), when built with it
//   reference the float64 direct loop, run once per shape; it verifies every contender's
//             output to 1e-4 relative (libconvt and oneDNN on the full output; sgemm checks
//             nothing, it computes only the columns)
//   memcpy    for tiny-channel shapes (C*F <= 64): a one-thread memcpy of the input + output
//             bytes, against which libconvt's bandwidth is reported
// Each timing: warm-up, then at least 5 repetitions (and >= 0.3 s), median with min-max.
// Usage: convt_bench [--suite FILE] [--json FILE] [--shape NAME] [--threads 1,2]
//                    [--formats nwc,ncw] [--reps N]
#include <cblas.h>
#include <convt/convt.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef CONVT_BENCH_ONEDNN
#include <dnnl.hpp>
#endif

extern "C" char* openblas_get_config(void);

namespace {

// ---- a minimal JSON reader (objects, arrays, strings, numbers) for suite.json ---------------
struct Json {
  enum Kind { kNull, kNumber, kString, kArray, kObject } kind = kNull;
  double number = 0;
  std::string text;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
  const Json& at(const std::string& k) const {
    auto it = fields.find(k);
    if (it == fields.end()) throw std::runtime_error("suite.json: missing field " + k);
    return it->second;
  }
  bool has(const std::string& k) const { return fields.count(k) != 0; }
};

class Parser {
 public:
  explicit Parser(std::string s) : s_(std::move(s)) {}
  Json parse() {
    Json j = value();
    skip();
    if (p_ != s_.size()) fail("trailing text");
    return j;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("suite.json: ") + what + " at offset " +
                             std::to_string(p_));
  }
  void skip() {
    while (p_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[p_]))) ++p_;
  }
  bool eat(char c) {
    skip();
    if (p_ < s_.size() && s_[p_] == c) return ++p_, true;
    return false;
  }
  std::string str() {
    if (!eat('"')) fail("expected a string");
    std::string out;
    while (p_ < s_.size() && s_[p_] != '"') {
      if (s_[p_] == '\\' && p_ + 1 < s_.size()) ++p_;
      out += s_[p_++];
    }
    if (p_++ >= s_.size()) fail("unterminated string");
    return out;
  }
  Json value() {
    skip();
    Json j;
    if (p_ >= s_.size()) fail("unexpected end");
    const char c = s_[p_];
    if (c == '{') {
      ++p_;
      j.kind = Json::kObject;
      if (eat('}')) return j;
      do {
        std::string k = str();
        if (!eat(':')) fail("expected ':'");
        j.fields[k] = value();
      } while (eat(','));
      if (!eat('}')) fail("expected '}'");
    } else if (c == '[') {
      ++p_;
      j.kind = Json::kArray;
      if (eat(']')) return j;
      do j.items.push_back(value());
      while (eat(','));
      if (!eat(']')) fail("expected ']'");
    } else if (c == '"') {
      j.kind = Json::kString;
      j.text = str();
    } else {
      size_t used = 0;
      j.kind = Json::kNumber;
      j.number = std::stod(s_.substr(p_, 32), &used);
      if (used == 0) fail("expected a value");
      p_ += used;
    }
    return j;
  }
  std::string s_;
  size_t p_ = 0;
};

// ---- one shape ------------------------------------------------------------------------------
struct Shape {
  std::string name;
  int64_t N, C, F, K, S, D, G, L, op;
  std::string padding;  // "valid", "same", or "explicit" with pad_begin/pad_end
  int64_t pad_begin = 0, pad_end = 0;
  double flops() const { return 2.0 * N * C * F * K * L / G; }
};

std::vector<Shape> load_suite(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path + " (pass --suite FILE)");
  std::stringstream ss;
  ss << f.rdbuf();
  const Json root = Parser(ss.str()).parse();
  std::vector<Shape> out;
  for (const Json& j : root.at("shapes").items) {
    Shape s;
    s.name = j.at("name").text;
    auto num = [&](const char* k) { return static_cast<int64_t>(j.at(k).number); };
    s.N = num("N"), s.C = num("C"), s.F = num("F"), s.K = num("k"), s.S = num("s");
    s.D = num("dilation"), s.L = num("L"), s.op = num("output_padding");
    s.G = j.has("groups") ? num("groups") : 1;
    const Json& p = j.at("padding");
    if (p.kind == Json::kString) {
      s.padding = p.text;  // Keras semantics: output_padding unset
    } else if (p.kind == Json::kNumber) {
      s.padding = "explicit";
      s.pad_begin = s.pad_end = static_cast<int64_t>(p.number);
    } else {
      s.padding = "explicit";
      s.pad_begin = static_cast<int64_t>(p.items.at(0).number);
      s.pad_end = static_cast<int64_t>(p.items.at(1).number);
    }
    out.push_back(s);
  }
  return out;
}

// ---- timing ---------------------------------------------------------------------------------
struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int reps = 0;
};

template <typename Fn>
Timing time_it(Fn fn, int min_reps) {
  // Warm-up: at least one call (first-touch of buffers) and 20 ms, so that a layer of a few
  // microseconds is timed with the core's clock and caches as settled as a long one's.
  const auto warm = std::chrono::steady_clock::now();
  do {
    fn();
  } while (std::chrono::steady_clock::now() - warm < std::chrono::milliseconds(20));
  std::vector<double> ms;
  double total = 0;
  while (static_cast<int>(ms.size()) < min_reps || (total < 300.0 && ms.size() < 2000)) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double dt =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ms.push_back(dt);
    total += dt;
  }
  std::sort(ms.begin(), ms.end());
  Timing t;
  t.reps = static_cast<int>(ms.size());
  t.median_ms = ms[ms.size() / 2];
  t.min_ms = ms.front();
  t.max_ms = ms.back();
  return t;
}

// ---- data and the reference -----------------------------------------------------------------
// Canonical layouts: x (N, L, C), kernel IOW (C, F/G, K), y (N, Lout, F).
struct Data {
  std::vector<float> x_nwc, x_ncw, w_iow;
  std::vector<double> y_ref_nwc;  // float64 reference
  int64_t out_steps = 0, crop = 0;
};

void check(convt_status s, const char* what) {
  if (s != CONVT_OK) {
    throw std::runtime_error(std::string(what) + ": " + convt_status_string(s) + ": " +
                             convt_last_error());
  }
}

convt_layer* make_layer(const Shape& s, bool ncw, int threads, const Data& d) {
  convt_layer* layer = nullptr;
  check(convt_layer_create(s.F, s.K, &layer), "create");
  check(convt_layer_set_int(layer, CONVT_PARAM_STRIDES, s.S), "strides");
  check(convt_layer_set_int(layer, CONVT_PARAM_DILATION_RATE, s.D), "dilation");
  check(convt_layer_set_int(layer, CONVT_PARAM_GROUPS, s.G), "groups");
  check(convt_layer_set_int(layer, CONVT_PARAM_USE_BIAS, 0), "use_bias");
  check(convt_layer_set_string(layer, CONVT_PARAM_PADDING, s.padding.c_str()), "padding");
  if (s.padding == "explicit") {
    check(convt_layer_set_int(layer, CONVT_PARAM_PAD_BEGIN, s.pad_begin), "pad_begin");
    check(convt_layer_set_int(layer, CONVT_PARAM_PAD_END, s.pad_end), "pad_end");
    check(convt_layer_set_int(layer, CONVT_PARAM_OUTPUT_PADDING, s.op), "output_padding");
  }
  check(convt_layer_set_int(layer, CONVT_PARAM_DATA_FORMAT,
                            ncw ? CONVT_CHANNELS_FIRST : CONVT_CHANNELS_LAST),
        "data_format");
  check(convt_layer_set_int(layer, CONVT_PARAM_NUM_THREADS, threads), "num_threads");
  check(convt_layer_set_weights_f32(layer, s.C, CONVT_LAYOUT_IOW, d.w_iow.data(),
                                    static_cast<int64_t>(d.w_iow.size()), nullptr, 0),
        "set_weights");
  return layer;
}

Data make_data(const Shape& s) {
  Data d;
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  d.x_nwc.resize(static_cast<size_t>(s.N * s.L * s.C));
  for (float& v : d.x_nwc) v = u(rng);
  d.x_ncw.resize(d.x_nwc.size());
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t i = 0; i < s.L; ++i)
      for (int64_t c = 0; c < s.C; ++c)
        d.x_ncw[static_cast<size_t>((n * s.C + c) * s.L + i)] =
            d.x_nwc[static_cast<size_t>((n * s.L + i) * s.C + c)];
  d.w_iow.resize(static_cast<size_t>(s.C * (s.F / s.G) * s.K));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.C / s.G * s.K));
  for (float& v : d.w_iow) v = u(rng) * scale;
  // The library's output shape and crop (by the layer's own rules), then the reference.
  Data probe_only;
  convt_layer* layer = nullptr;
  probe_only.w_iow = d.w_iow;
  layer = make_layer(s, false, 1, probe_only);
  int64_t shape[3];
  check(convt_layer_output_shape(layer, s.N, s.L, shape), "output_shape");
  convt_layer_destroy(layer);
  d.out_steps = shape[1];
  const int64_t k_eff = s.D * (s.K - 1) + 1, full = (s.L - 1) * s.S + k_eff;
  if (s.padding == "explicit") {
    d.crop = s.pad_begin;
  } else if (s.padding == "same") {
    d.crop = std::max<int64_t>(full - d.out_steps, 0) / 2;
  }
  // Direct loop in float64: y[n][j][o] = sum over c in o's group, t, i*S + t*D == j + crop.
  const int64_t Fg = s.F / s.G, Cg = s.C / s.G, Lo = d.out_steps;
  d.y_ref_nwc.assign(static_cast<size_t>(s.N * Lo * s.F), 0.0);
  std::vector<double> wrow(static_cast<size_t>(Fg));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t i = 0; i < s.L; ++i)
      for (int64_t c = 0; c < s.C; ++c) {
        const double xv = d.x_nwc[static_cast<size_t>((n * s.L + i) * s.C + c)];
        const int64_t g = c / Cg;
        for (int64_t t = 0; t < s.K; ++t) {
          const int64_t j = i * s.S + t * s.D - d.crop;
          if (j < 0 || j >= Lo) continue;
          double* y = &d.y_ref_nwc[static_cast<size_t>((n * Lo + j) * s.F + g * Fg)];
          const float* w = &d.w_iow[static_cast<size_t>(c * Fg * s.K + t)];
          for (int64_t o = 0; o < Fg; ++o) y[o] += xv * w[o * s.K];
        }
      }
  return d;
}

// Max |y - ref| / (max |ref|): a relative error over the whole output.
double rel_error(const Shape& s, const Data& d, const float* y, bool ncw) {
  double err = 0, scale = 0;
  const int64_t Lo = d.out_steps;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t j = 0; j < Lo; ++j)
      for (int64_t o = 0; o < s.F; ++o) {
        const double r = d.y_ref_nwc[static_cast<size_t>((n * Lo + j) * s.F + o)];
        const double v = ncw ? y[(n * s.F + o) * Lo + j] : y[(n * Lo + j) * s.F + o];
        err = std::max(err, std::abs(v - r));
        scale = std::max(scale, std::abs(r));
      }
  return err / std::max(scale, 1e-30);
}

struct Row {
  std::string shape, format, contender;
  int threads = 1;
  Timing t;
  double gflops = 0, vs_onednn = 0, vs_sgemm = 0, rel_err = -1;
  int64_t workspace = 0;
  double memcpy_ms = 0;  // tiny-channel shapes: memcpy of the input + output bytes
};

// memcpy of `bytes` (one thread): the bandwidth tiny-channel shapes are held to.
Timing time_memcpy(int64_t bytes, int reps) {
  std::vector<char> src(static_cast<size_t>(bytes), 1), dst(static_cast<size_t>(bytes));
  return time_it([&] { std::memcpy(dst.data(), src.data(), src.size()); }, reps);
}

// ---- contenders -----------------------------------------------------------------------------
Row run_libconvt(const Shape& s, const Data& d, bool ncw, int threads, int reps) {
  convt_layer* layer = make_layer(s, ncw, threads, d);
  std::vector<float> y(static_cast<size_t>(s.N * s.F * d.out_steps));
  const std::vector<float>& x = ncw ? d.x_ncw : d.x_nwc;
  Row r;
  r.contender = "libconvt";
  r.t = time_it(
      [&] {
        check(convt_layer_forward_f32(layer, x.data(), static_cast<int64_t>(x.size()), s.N, s.L,
                                      y.data(), static_cast<int64_t>(y.size()), d.out_steps),
              "forward");
      },
      reps);
  r.rel_err = rel_error(s, d, y.data(), ncw);
  int64_t ws = 0;
  if (convt_layer_workspace_size(layer, s.N, s.L, d.out_steps, &ws) == CONVT_OK) r.workspace = ws;
  convt_layer_destroy(layer);
  return r;
}

// cols (N*L x K*F/G) = X (N*L x C/G) * W (C/G x K*F/G) per group, one call each (G calls for
// grouped shapes), with OpenBLAS's own threads.
Row run_sgemm(const Shape& s, const Data& d, bool ncw, int threads, int reps) {
  const int64_t Cg = s.C / s.G, M = s.K * (s.F / s.G), rows = s.N * s.L;
  std::vector<float> w(static_cast<size_t>(s.G * Cg * M), 0.5f);
  std::vector<float> cols(static_cast<size_t>(rows * M));
  const std::vector<float>& x = ncw ? d.x_ncw : d.x_nwc;
  omp_set_num_threads(threads);
  Row r;
  r.contender = "sgemm";
  r.t = time_it(
      [&] {
        for (int64_t g = 0; g < s.G; ++g) {
          if (ncw && s.N == 1) {  // X^T: (C x L) stored, read transposed
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(rows),
                        static_cast<int>(M), static_cast<int>(Cg), 1.0f, x.data() + g * Cg * s.L,
                        static_cast<int>(s.L), w.data() + g * Cg * M, static_cast<int>(M), 0.0f,
                        cols.data(), static_cast<int>(M));
          } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
                        static_cast<int>(M), static_cast<int>(Cg), 1.0f, x.data() + g * Cg,
                        static_cast<int>(s.C), w.data() + g * Cg * M, static_cast<int>(M), 0.0f,
                        cols.data(), static_cast<int>(M));
          }
        }
      },
      reps);
  omp_set_num_threads(1);
  r.workspace = static_cast<int64_t>(cols.size() * sizeof(float));
  return r;
}

#ifdef CONVT_BENCH_ONEDNN
Row run_onednn(const Shape& s, const Data& d, bool ncw, int threads, int reps) {
  using namespace dnnl;
  omp_set_num_threads(threads);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const int64_t Fg = s.F / s.G, Cg = s.C / s.G;
  const auto fmt = ncw ? memory::format_tag::ncw : memory::format_tag::nwc;
  memory::desc src_md({s.N, s.C, s.L}, memory::data_type::f32, fmt);
  memory::desc dst_md({s.N, s.F, d.out_steps}, memory::data_type::f32, fmt);
  // oneDNN deconvolution weights: (G,) OC, IC, KW with W[o][c][t] = W_iow[c][o][t].
  const bool grouped = s.G > 1;
  memory::dims wdims = grouped ? memory::dims{s.G, Fg, Cg, s.K} : memory::dims{s.F, s.C, s.K};
  memory::desc w_any(wdims, memory::data_type::f32, memory::format_tag::any);
  memory::desc w_user(wdims, memory::data_type::f32,
                      grouped ? memory::format_tag::goiw : memory::format_tag::oiw);
  const int64_t full = (s.L - 1) * s.S + s.D * (s.K - 1) + 1;
  const int64_t pad_r = full - d.crop - d.out_steps;
  deconvolution_forward::desc desc(prop_kind::forward_inference, algorithm::deconvolution_direct,
                                   src_md, w_any, dst_md, {s.S}, {s.D - 1}, {d.crop}, {pad_r});
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  deconvolution_forward::primitive_desc pd(desc, attr, eng);
  std::vector<float> w_goiw(d.w_iow.size());
  for (int64_t c = 0; c < s.C; ++c)
    for (int64_t o = 0; o < Fg; ++o)
      for (int64_t t = 0; t < s.K; ++t) {
        const int64_t g = c / Cg;
        w_goiw[static_cast<size_t>(((g * Fg + o) * Cg + c % Cg) * s.K + t)] =
            d.w_iow[static_cast<size_t>((c * Fg + o) * s.K + t)];
      }
  memory w_user_mem(w_user, eng, w_goiw.data());
  memory w_mem(pd.weights_desc(), eng);
  reorder(w_user_mem, w_mem).execute(strm, w_user_mem, w_mem);
  const std::vector<float>& x = ncw ? d.x_ncw : d.x_nwc;
  std::vector<float> y(static_cast<size_t>(s.N * s.F * d.out_steps));
  memory src_mem(pd.src_desc(), eng, const_cast<float*>(x.data()));
  memory dst_mem(pd.dst_desc(), eng, y.data());
  memory scratch(pd.scratchpad_desc(), eng);
  deconvolution_forward prim(pd);
  Row r;
  r.contender = "onednn";
  r.t = time_it(
      [&] {
        prim.execute(strm, {{DNNL_ARG_SRC, src_mem},
                            {DNNL_ARG_WEIGHTS, w_mem},
                            {DNNL_ARG_DST, dst_mem},
                            {DNNL_ARG_SCRATCHPAD, scratch}});
        strm.wait();
      },
      reps);
  omp_set_num_threads(1);
  r.rel_err = rel_error(s, d, y.data(), ncw);
  r.workspace = static_cast<int64_t>(pd.scratchpad_desc().get_size());
  return r;
}
#endif

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

}  // namespace

int main(int argc, char** argv) {
  std::string suite = "../shared/bench/suite.json", json_path, only;
  std::vector<int> thread_counts = {1, 2};
  std::vector<std::string> formats = {"nwc", "ncw"};
  int reps = 5;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    auto next = [&]() -> std::string {
      if (a + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++a];
    };
    if (arg == "--suite")
      suite = next();
    else if (arg == "--json")
      json_path = next();
    else if (arg == "--shape")
      only = next();
    else if (arg == "--reps")
      reps = std::max(5, std::atoi(next().c_str()));
    else if (arg == "--formats")
      formats = split(next());
    else if (arg == "--threads") {
      thread_counts.clear();
      for (const auto& t : split(next())) thread_counts.push_back(std::atoi(t.c_str()));
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  omp_set_num_threads(1);
  const auto shapes = load_suite(suite);
#ifdef CONVT_BENCH_ONEDNN
  const bool have_onednn = true;
#else
  const bool have_onednn = false;
#endif
  std::printf("machine: %s, %d cores; libconvt %s; OpenBLAS %s; oneDNN %s\n", cpu_model().c_str(),
              omp_get_num_procs(), convt_version_string(), openblas_get_config(),
              have_onednn ? "yes" : "not built");
  std::printf("%-26s %-3s %2s %-9s %10s %21s %8s %8s %8s %12s %9s\n", "shape", "fmt", "th",
              "contender", "median ms", "(min - max)", "GFLOP/s", "vs dnnl", "vs sgemm",
              "workspace B", "rel err");
  std::vector<Row> rows;
  for (const Shape& s : shapes) {
    if (!only.empty() && s.name != only) continue;
    const Data d = make_data(s);
    for (const std::string& f : formats) {
      const bool ncw = f == "ncw";
      for (int th : thread_counts) {
        std::vector<Row> group;
        group.push_back(run_libconvt(s, d, ncw, th, reps));
        group.push_back(run_sgemm(s, d, ncw, th, reps));
#ifdef CONVT_BENCH_ONEDNN
        group.push_back(run_onednn(s, d, ncw, th, reps));
#endif
        double t_dnnl = 0, t_sgemm = 0;
        for (const Row& r : group) {
          if (r.contender == "onednn") t_dnnl = r.t.median_ms;
          if (r.contender == "sgemm") t_sgemm = r.t.median_ms;
        }
        // Tiny-channel shapes (C*F <= 64) are held to half of memcpy's bandwidth for the bytes
        // that must move: libconvt's time at most twice a memcpy of input + output.
        const int64_t moved =
            static_cast<int64_t>(sizeof(float)) * s.N * (s.L * s.C + d.out_steps * s.F);
        if (s.C * s.F <= 64) {
          const double t_copy = time_memcpy(moved, reps).median_ms;
          group.front().memcpy_ms = t_copy;
          std::printf(
              "%-26s %-3s %2d bytes moved %.1f MB: libconvt %.1f GB/s, memcpy %.1f GB/s, "
              "ratio %.2f (target >= 0.5)\n",
              s.name.c_str(), f.c_str(), th, moved / 1e6, moved / (group.front().t.median_ms * 1e6),
              moved / (t_copy * 1e6), t_copy / group.front().t.median_ms);
        }
        for (Row& r : group) {
          r.shape = s.name;
          r.format = f;
          r.threads = th;
          r.gflops = s.flops() / (r.t.median_ms * 1e6);
          r.vs_onednn = t_dnnl > 0 ? t_dnnl / r.t.median_ms : 0;
          r.vs_sgemm = t_sgemm / r.t.median_ms;
          char err[16] = "-";
          if (r.rel_err >= 0) std::snprintf(err, sizeof err, "%.1e", r.rel_err);
          std::printf(
              "%-26s %-3s %2d %-9s %10.3f   (%8.3f - %8.3f) %8.1f %8.2f %8.2f %12lld %9s%s\n",
              r.shape.c_str(), f.c_str(), th, r.contender.c_str(), r.t.median_ms, r.t.min_ms,
              r.t.max_ms, r.gflops, r.vs_onednn, r.vs_sgemm, static_cast<long long>(r.workspace),
              err, r.rel_err > 1e-4 ? "  MISMATCH" : "");
          std::fflush(stdout);
          rows.push_back(r);
        }
      }
    }
  }
  // Geometric means of libconvt's ratios, per format and thread count.
  std::map<std::string, std::pair<double, int>> geo_dnnl, geo_gf;
  bool mismatch = false;
  for (const Row& r : rows) {
    mismatch |= r.rel_err > 1e-4;
    const std::string key = r.contender + " " + r.format + " " + std::to_string(r.threads) + "t";
    geo_gf[key].first += std::log(r.gflops);
    geo_gf[key].second += 1;
    if (r.contender == "libconvt" && r.vs_onednn > 0) {
      geo_dnnl[key].first += std::log(r.vs_onednn);
      geo_dnnl[key].second += 1;
    }
  }
  for (const auto& [k, v] : geo_gf) {
    std::printf("geomean %-22s %7.1f GFLOP/s", k.c_str(), std::exp(v.first / v.second));
    if (geo_dnnl.count(k)) {
      std::printf("   %.2fx oneDNN", std::exp(geo_dnnl[k].first / geo_dnnl[k].second));
    }
    std::printf("\n");
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << "{\"machine\": \"" << cpu_model() << "\", \"results\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << "  {\"shape\": \"" << r.shape << "\", \"format\": \"" << r.format
          << "\", \"threads\": " << r.threads << ", \"contender\": \"" << r.contender
          << "\", \"median_ms\": " << r.t.median_ms << ", \"min_ms\": " << r.t.min_ms
          << ", \"max_ms\": " << r.t.max_ms << ", \"reps\": " << r.t.reps
          << ", \"gflops\": " << r.gflops << ", \"vs_onednn\": " << r.vs_onednn
          << ", \"vs_sgemm\": " << r.vs_sgemm << ", \"workspace_bytes\": " << r.workspace
          << ", \"rel_err\": " << r.rel_err;
      if (r.memcpy_ms > 0) out << ", \"memcpy_ms\": " << r.memcpy_ms;
      out << "}" << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    out << "]}\n";
  }
  if (mismatch) {
    std::printf("MISMATCH: a contender's output differs from the float64 reference by > 1e-4\n");
    return 1;
  }
  return 0;
}
