// sq_bench: times libsmoothquant's W8A8 linear against what users would run instead, on two shape sets:
// bench/shapes.csv (the main set) and bench/shapes_heldout.csv (shapes no dispatch rule was fitted to,
// reported separately). bench/README.md describes the method, the options and every JSON field.
//
// For every shape (tag,m,n,k) and output dtype T (f32, bf16, f64; scale_dtype = out_dtype = T) it times,
// in one process and on the same rotated buffers, the methods of method.cuh (one file per family):
//   sq, sq_dynamic                      the library (static plan; dynamic plan on bf16 rows)
//   cublaslt_int32, cublaslt_scaled     cuBLASLt int8 -> int32, and + a separate scale kernel
//   read, read_dep                      a plain and a dependent streaming read of the inputs
//   cublaslt_fp8_fast, cublaslt_fp8,    the peers: fp8 e4m3 with per-token x per-channel scales (fast
//   cublaslt_bf16                       accumulation on / off) and bf16 dense, bf16 out
//   sq_asym, sq_dynamic_asym            u8 operands with zero points (issue 19), beside sq and sq_dynamic
//   norm_quant, silu_quant, sq_chain,   the engine ops (issue 20): fused RMSNorm / SiLU-mul + quantize against
//   chain_bf16                          their bandwidth floor; RMSNORM_QUANTIZE -> SCALED_LINEAR beside
//                                       sq_dynamic and the bf16 cuBLASLt layer
// each two ways (bench_common.cuh's Timer::measure: isolated and back to back, the methods of a row
// interleaved in rounds; the peers once per shape after its rows, interleaved with the library set up again
// on bf16), and checks the library's outputs bit for bit (host reference on sampled elements, cuBLASLt +
// scale on every element) and the peers' for sanity. With --energy, rows whose runs
// take at least kEnergyMinRunUs also get sustained runs with NVML's energy counter.
//
// Usage: sq_bench [shapes.csv] [--heldout PATH | --no-heldout] [--heldout-full] [--heldout-dtypes LIST]
//                 [--filter TAG[,TAG..]] [--m M[,M..]] [--dtypes f32,bf16,f64] [--quick] [--json PATH]
//                 [--no-dynamic] [--no-peers] [--no-asym | --asym-all] [--no-engine] [--energy]
//                 [--sq-workspace full|none]
// JSON goes to --json, else $OUT/<gpu>.json when OUT is set, else bench/results/<gpu>.json.
// Exit status: 0 all good, 1 an error (message on stderr), 3 a result check failed.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "method.cuh"

namespace {

using namespace sqbench;

// ------------------------------------------------------------------ tunables
constexpr double kTargetMs = 60.0;  // measured GPU time per method and shape (each way)
constexpr int kMaxRuns = 300;
constexpr double kQuickTargetMs = 15.0;  // --quick, and the held-out set unless --heldout-full
constexpr int kQuickMaxRuns = 60;
constexpr size_t kCopyBwBytes = size_t{1} << 30;  // D2D copy size for the bandwidth ceiling
constexpr int kCopyBwRuns = 10;
const int64_t kQuickMs[] = {1, 16, 128, 1024, 8192};
const int64_t kQuickSquares[] = {4096, 8192};
const char* const kDefaultShapes = "bench/shapes.csv";
const char* const kHeldoutFile = "shapes_heldout.csv";  // beside the main shape file
const OutType kHeldoutOuts[] = {OutType::F32, OutType::BF16};

// One shape set: its rows' dtypes and timing.
struct ShapeSet {
  std::string name;  // the JSON rows' "set"
  std::string path;
  std::vector<Shape> shapes;
  std::vector<OutType> outs;
  double target_ms;
  int max_runs;
};

struct Options {
  std::string shapes_path = kDefaultShapes;
  std::string heldout_path;  // empty: kHeldoutFile beside shapes_path, when present
  bool heldout = true;
  bool heldout_full = false;
  std::vector<OutType> heldout_outs;  // empty: kHeldoutOuts that --dtypes keeps
  std::vector<std::string> filters;
  std::vector<int64_t> ms;
  std::vector<OutType> outs = {OutType::F32, OutType::BF16, OutType::F64};  // kOutDescs order
  bool outs_given = false;
  bool quick = false;
  bool dynamic = true;
  bool peers = true;
  bool asym = true;
  bool asym_all = false;
  bool engine = true;
  bool sq_workspace = true;  // --sq-workspace none: the sq method runs without its workspace
  bool energy = false;
  std::string json_path;
  std::string schema_path;  // --write-schema: the fields of this build, no GPU
};

[[noreturn]] void usage(const char* argv0, int code) {
  std::printf(
      "usage: %s [shapes.csv] [--heldout PATH | --no-heldout] [--heldout-full] [--heldout-dtypes LIST]\n"
      "          [--filter TAG[,TAG..]] [--m M[,M..]] [--dtypes f32,bf16,f64] [--quick] [--json PATH]\n"
      "          [--no-dynamic] [--no-peers] [--no-asym | --asym-all] [--no-engine] [--energy]\n"
      "          [--sq-workspace full|none]\n"
      "  shapes.csv       tag,m,n,k per line (default %s)\n"
      "  --heldout PATH   the held-out shape set (default: %s beside shapes.csv, when present),\n"
      "                   timed after the main set and reported separately\n"
      "  --no-heldout     the main set only\n"
      "  --heldout-full   time the held-out set as the main set (default: --quick timing for it)\n"
      "  --heldout-dtypes output dtypes of the held-out rows (default f32,bf16, those --dtypes keeps)\n"
      "  --filter         keep shapes whose tag contains one of these substrings (both sets)\n"
      "  --m              keep shapes with one of these M (both sets)\n"
      "  --dtypes         output dtypes to measure (default f32,bf16,f64; they run in that order)\n"
      "  --quick          M in {1,16,128,1024,8192} and squares 4096/8192, fewer runs\n"
      "  --json           output path (default $OUT/<gpu>.json, else bench/results/<gpu>.json)\n"
      "  --no-dynamic     skip the dynamic plan (SQ_OP_QUANTIZED_LINEAR, bf16 rows)\n"
      "  --no-peers       skip the peers (cuBLASLt fp8 rowwise with and without fast accumulation, bf16)\n"
      "  --no-asym        skip the asymmetric methods (u8 operands with zero points: sq_asym, sq_dynamic_asym)\n"
      "  --asym-all       the asymmetric methods on every row of both sets (default: sq_asym on the main set's\n"
      "                   f32 and bf16 rows, sq_dynamic_asym on its bf16 rows)\n"
      "  --no-engine      skip the engine methods (norm_quant, silu_quant, sq_chain, chain_bf16)\n"
      "  --sq-workspace   the workspace the sq method gives sq_plan_run: full (default: sq_plan_workspace_size\n"
      "                   bytes, so K %% 16 != 0 rows stage their operands where that pays) or none (they read\n"
      "                   them in place; the kernel column still names what a run with the whole workspace takes)\n"
      "  --energy         also time sq, cuBLASLt, cuBLASLt + scale and the peers sustained (about 1 s each,\n"
      "                   twice) with NVML's energy counter, on rows whose runs take >= 100 us\n"
      "  --write-schema PATH  write a JSON of this build's fields (one made-up row per dtype, no GPU) and exit\n",
      argv0, kDefaultShapes, kHeldoutFile);
  std::exit(code);
}

std::vector<OutType> parse_dtypes(const std::string& flag, const std::string& list) {
  const auto names = split(list, ',');
  std::string known;
  for (const OutDesc& d : kOutDescs) known += std::string(known.empty() ? "" : ", ") + d.name;
  for (const auto& v : names)
    if (std::none_of(std::begin(kOutDescs), std::end(kOutDescs), [&](const OutDesc& d) { return v == d.name; }))
      die("bad %s value '%s' (%s)", flag.c_str(), v.c_str(), known.c_str());
  if (names.empty()) die("%s is empty", flag.c_str());
  std::vector<OutType> outs;  // each named dtype once, in kOutDescs order
  for (const OutDesc& d : kOutDescs)
    if (std::find(names.begin(), names.end(), d.name) != names.end()) outs.push_back(d.type);
  return outs;
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_path = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("%s needs a value", a.c_str());
      return argv[++i];
    };
    if (a == "--help" || a == "-h") usage(argv[0], 0);
    else if (a == "--filter") o.filters = split(next(), ',');
    else if (a == "--m") {
      for (const auto& v : split(next(), ',')) {
        char* end = nullptr;
        const long long m = std::strtoll(v.c_str(), &end, 10);
        if (*end != '\0' || m <= 0) die("bad --m value '%s'", v.c_str());
        o.ms.push_back(m);
      }
    } else if (a == "--dtypes") {
      o.outs = parse_dtypes(a, next());
      o.outs_given = true;
    } else if (a == "--heldout") o.heldout_path = next();
    else if (a == "--no-heldout") o.heldout = false;
    else if (a == "--heldout-full") o.heldout_full = true;
    else if (a == "--heldout-dtypes") o.heldout_outs = parse_dtypes(a, next());
    else if (a == "--quick") o.quick = true;
    else if (a == "--no-dynamic") o.dynamic = false;
    else if (a == "--no-peers") o.peers = false;
    else if (a == "--no-asym") o.asym = false;
    else if (a == "--asym-all") o.asym_all = true;
    else if (a == "--no-engine") o.engine = false;
    else if (a == "--sq-workspace") {
      const std::string v = next();
      if (v != "full" && v != "none") die("bad --sq-workspace value '%s' (full, none)", v.c_str());
      o.sq_workspace = v == "full";
    }
    else if (a == "--energy") o.energy = true;
    else if (a == "--json") o.json_path = next();
    else if (a == "--write-schema") o.schema_path = next();
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "sq_bench: unknown option '%s'\n", a.c_str());
      usage(argv[0], 1);
    } else if (!have_path) {
      o.shapes_path = a;
      have_path = true;
    } else die("unexpected argument '%s'", a.c_str());
  }
  return o;
}

bool keep(const Options& o, const Shape& s) {
  if (!o.filters.empty() &&
      std::none_of(o.filters.begin(), o.filters.end(),
                   [&](const std::string& f) { return s.tag.find(f) != std::string::npos; }))
    return false;
  if (!o.ms.empty() && std::find(o.ms.begin(), o.ms.end(), s.m) == o.ms.end()) return false;
  if (o.quick) {
    if (s.tag == "square")
      return std::find(std::begin(kQuickSquares), std::end(kQuickSquares), s.m) != std::end(kQuickSquares);
    return std::find(std::begin(kQuickMs), std::end(kQuickMs), s.m) != std::end(kQuickMs);
  }
  return true;
}

// The main set and, when present and wanted, the held-out set.
std::vector<ShapeSet> shape_sets(const Options& o) {
  std::vector<ShapeSet> sets;
  const double target = o.quick ? kQuickTargetMs : kTargetMs;
  const int max_runs = o.quick ? kQuickMaxRuns : kMaxRuns;
  ShapeSet main_set{"main", o.shapes_path, {}, o.outs, target, max_runs};
  for (const Shape& s : read_shapes(o.shapes_path))
    if (keep(o, s)) main_set.shapes.push_back(s);
  sets.push_back(main_set);
  if (!o.heldout) return sets;
  std::string path = o.heldout_path;
  if (path.empty()) {
    path = (std::filesystem::path(o.shapes_path).parent_path() / kHeldoutFile).string();
    if (!std::filesystem::exists(path)) return sets;
  }
  ShapeSet held{"heldout", path, {}, {}, o.heldout_full ? target : kQuickTargetMs,
                o.heldout_full ? max_runs : kQuickMaxRuns};
  if (!o.heldout_outs.empty()) held.outs = o.heldout_outs;
  else
    for (OutType t : kHeldoutOuts)
      if (!o.outs_given || std::find(o.outs.begin(), o.outs.end(), t) != o.outs.end()) held.outs.push_back(t);
  for (const Shape& s : read_shapes(path))
    if (keep(o, s)) held.shapes.push_back(s);
  if (!held.outs.empty() && !held.shapes.empty()) sets.push_back(held);
  return sets;
}

std::string sanitize(const std::string& s) {
  std::string r;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (ok) r += c;
    else if (!r.empty() && r.back() != '_') r += '_';
  }
  while (!r.empty() && r.back() == '_') r.pop_back();
  return r.empty() ? std::string("unknown_gpu") : r;
}

// A table cell for the progress lines: the value, or "-" where there is none (NaN).
std::string cell(double v, int width, int prec) {
  char b[64];
  if (std::isfinite(v)) std::snprintf(b, sizeof b, "%*.*f", width, prec, v);
  else std::snprintf(b, sizeof b, "%*s", width, "-");
  return b;
}

// The registry: every method, in the order they are timed within a row, checked and written.
Methods make_methods(Env& env) {
  Methods m;
  m.push_back(make_sq_static(env));
  m.push_back(make_cublaslt_int32(env));
  Method& int32 = *m.back();
  m.push_back(make_cublaslt_scaled(env, int32));
  m.push_back(make_sq_dynamic(env));
  m.push_back(make_sq_asym(env));
  m.push_back(make_sq_dynamic_asym(env));
  m.push_back(make_norm_quant(env));
  m.push_back(make_silu_quant(env));
  m.push_back(make_sq_chain(env));
  m.push_back(make_chain_bf16(env));
  m.push_back(make_read(env, false));
  m.push_back(make_read(env, true));
  m.push_back(make_cublaslt_fp8(env, true));
  m.push_back(make_cublaslt_fp8(env, false));
  m.push_back(make_cublaslt_bf16(env));
  return m;
}

double measure_copy_tbps(Env& env) {
  DevBuf src(kCopyBwBytes), dst(kCopyBwBytes);
  CK_CUDA(cudaMemsetAsync(src.p, 1, kCopyBwBytes, env.stream));
  auto launch = [&](int) {
    CK_CUDA(cudaMemcpyAsync(dst.p, src.p, kCopyBwBytes, cudaMemcpyDeviceToDevice, env.stream));
  };
  for (int i = 0; i < kWarmupRuns; ++i) launch(i);
  CK_CUDA(cudaStreamSynchronize(env.stream));
  const double us = median(env.timer->time(kCopyBwRuns, launch));
  return 2.0 * static_cast<double>(kCopyBwBytes) / (us * 1e-6) / 1e12;
}

// n elements of (T)v[i], as the device stores them (the low bytes of the bits, little-endian).
std::vector<unsigned char> pack_as(const OutDesc& d, const std::vector<double>& v) {
  std::vector<unsigned char> bytes(v.size() * d.size);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint64_t b = contract::bits_of(d.type, v[i]);
    std::memcpy(bytes.data() + i * d.size, &b, d.size);
  }
  return bytes;
}

// The asymmetric and engine methods of a row, when it has them: back-to-back times and ratios (issue 19: the
// asymmetric / the symmetric method; issue 20: the fused quantizer's % of the copy bandwidth, the chain / the
// dynamic plan and / the bf16 layer).
void print_new_methods(const Results& res, const Row& r) {
  std::string line;
  auto b2b = [&](const char* key) { return res.timing(r, key).b2b_us; };
  auto add = [&](const std::string& label, double us, double ratio_of) {
    if (!std::isfinite(us)) return;
    line += " | " + label + " " + cell(us, 0, 2) + " us";
    if (std::isfinite(ratio_of)) line += " x" + cell(us / ratio_of, 0, 3);
  };
  add("asym b2b", b2b("sq_asym"), b2b(keys::kSq));
  add("dyn-asym b2b", b2b("sq_dynamic_asym"), b2b(keys::kDynamic));
  add("chain b2b", b2b("sq_chain"), b2b(keys::kDynamic));
  if (std::isfinite(b2b("sq_chain")) && std::isfinite(b2b("chain_bf16")))
    line += " (bf16 layer " + cell(b2b("chain_bf16"), 0, 2) + " us, x" + cell(b2b("chain_bf16") / b2b("sq_chain"), 0, 2) +
            ")";
  for (const char* key : {"norm_quant", "silu_quant"}) {
    const int c = res.column(key);
    const double us = b2b(key);
    if (c < 0 || !std::isfinite(us)) continue;
    const double floor_us = std::atof(r.cells[c].get(std::string(key) + "_floor_us").c_str());
    line += " | " + std::string(key) + " b2b " + cell(us, 0, 2) + " us " + cell(100.0 * floor_us / us, 0, 1) +
            "% of copy bw";
  }
  if (!line.empty()) std::printf("%-18s %6lld %6lld %6lld %-4s |%s\n", r.tag.c_str(), (long long)r.m, (long long)r.n,
                                 (long long)r.k, r.out.c_str(), line.c_str() + 2);
}

void print_row(const Results& res, const Row& r) {
  const Timing sq = res.timing(r, keys::kSq), lt32 = res.timing(r, keys::kLtInt32);
  const Timing lts = res.timing(r, keys::kLtScaled), dyn = res.timing(r, keys::kDynamic);
  const int sqc = res.column(keys::kSq), ltc = res.column(keys::kLtInt32);
  const std::string kernel = sqc >= 0 ? r.cells[sqc].get("kernel") : "null";
  const std::string note = ltc >= 0 ? r.cells[ltc].get("cublaslt_note") : "null";
  const double tops = 2.0 * double(r.m) * double(r.n) * double(r.k) / (sq.iso_us * 1e-6) / 1e12;
  std::printf("%-18s %6lld %6lld %6lld %-4s | sq %9.2f us %7.1f TOPS %5.1f%% floor | "
              "lt32 %s lt+s %s  x%s | b2b sq %s lt+s %s  x%s | dyn %s | %s | %s%s%s%s%s\n",
              r.tag.c_str(), (long long)r.m, (long long)r.n, (long long)r.k, r.out.c_str(), sq.iso_us, tops,
              100.0 * r.floor_us / sq.iso_us, cell(lt32.iso_us, 9, 2).c_str(), cell(lts.iso_us, 9, 2).c_str(),
              cell(lts.iso_us / sq.iso_us, 5, 2).c_str(), cell(sq.b2b_us, 9, 2).c_str(),
              cell(lts.b2b_us, 9, 2).c_str(), cell(lts.b2b_us / sq.b2b_us, 5, 2).c_str(),
              cell(dyn.iso_us, 9, 2).c_str(), kernel.c_str(), r.check.c_str(),
              std::isfinite(r.f64_vs_f32) ? " | f64/f32 " : "",
              std::isfinite(r.f64_vs_f32) ? cell(r.f64_vs_f32, 4, 2).c_str() : "", note == "null" ? "" : " | cuBLASLt ",
              note == "null" ? "" : note.c_str());
  print_new_methods(res, r);
  std::fflush(stdout);
}

// The peers' line of a shape (after its rows' lines): back to back, and each / the library's anchor.
void print_peers(const Results& res, const Row& r) {
  const double base = r.sq_peer.b2b_us;
  std::printf("%-18s %6lld %6lld %6lld %-4s | peers b2b: sq %s", r.tag.c_str(), (long long)r.m, (long long)r.n,
              (long long)r.k, r.out.c_str(), cell(base, 0, 2).c_str());
  for (const char* key : {keys::kFp8Fast, keys::kFp8, keys::kBf16}) {
    const int c = res.column(key);
    const double us = res.timing(r, key).b2b_us;
    const std::string note = c >= 0 ? r.cells[c].get(std::string(key) + "_note") : "null";
    std::printf(" | %s %s x%s%s%s", key, cell(us, 0, 2).c_str(), cell(us / base, 0, 2).c_str(),
                note == "null" ? "" : " ", note == "null" ? "" : note.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);
}

// One dtype's weight scales [N] and row scales [M] ((T)act_scale), in T, on the device.
struct RowScales {
  DevBuf ws, rs;
  RowScales(Env& env, const ShapeOperands& ops, const OutDesc& od)
      : ws(od.size * ops.shape().n), rs(od.size * ops.shape().m) {
    const auto ws_t = pack_as(od, ops.weight_scale());
    const auto rs_t = pack_as(od, std::vector<double>(static_cast<size_t>(ops.shape().m), ops.act_scale()));
    CK_CUDA(cudaMemcpyAsync(ws.p, ws_t.data(), ws_t.size(), cudaMemcpyHostToDevice, env.stream));
    CK_CUDA(cudaMemcpyAsync(rs.p, rs_t.data(), rs_t.size(), cudaMemcpyHostToDevice, env.stream));
    CK_CUDA(cudaStreamSynchronize(env.stream));
  }
};

// What the steps of one shape share: its operands, the methods, the per-shape methods' cells.
struct ShapeRun {
  Env& env;
  Nvml* nvml;  // --energy, else nullptr
  const ShapeSet& set;
  ShapeOperands& ops;
  Methods& methods;
  Results& res;
  std::vector<Cell> shape_cells;  // the per-shape methods' cells (timings, fields), on every row
  std::vector<bool> shape_ready;  // per-shape methods that took the shape

  // Times the methods `which` interleaved (Timer::measure).
  std::vector<Timing> measure(const std::vector<Method*>& which) const {
    std::vector<std::function<void(int)>> launches;
    for (Method* m : which) launches.push_back([m](int k) { m->run(k); });
    return env.timer->measure(launches, set.target_ms, set.max_runs);
  }
  // --energy: sustained runs of `which` (est: their back-to-back times); all NaN without NVML.
  std::vector<Energy> sustain(const std::vector<Method*>& which, const std::vector<double>& est) const {
    if (nvml == nullptr) return std::vector<Energy>(which.size());
    std::vector<std::function<void(int)>> launches;
    for (Method* m : which) launches.push_back([m](int k) { m->run(k); });
    return measure_energy(*nvml, env.stream, launches, est);
  }
};

// The per-shape methods (Scope::kShape), each set up and timed alone.
void run_shape_methods(ShapeRun& sr) {
  const size_t nm = sr.methods.size();
  sr.shape_cells.assign(nm, Cell{});
  sr.shape_ready.assign(nm, false);
  for (size_t i = 0; i < nm; ++i) {
    Method& m = *sr.methods[i];
    if (m.scope() != Scope::kShape) continue;
    sr.shape_ready[i] = m.setup(sr.ops, nullptr);
    if (sr.shape_ready[i]) sr.shape_cells[i].t = sr.measure({&m})[0];
    m.fields(sr.shape_cells[i]);
  }
}

// One row: dtype T's methods (Scope::kRow) set up and timed interleaved, their sustained runs (--energy, when
// the library's take >= kEnergyMinRunUs, with the per-shape methods that have energy), the checks in registry
// order, the fields.
Row run_row(ShapeRun& sr, const OutDesc& od, bool peer_row) {
  const Shape& s = sr.ops.shape();
  const size_t nm = sr.methods.size();
  const int sq = sr.res.column(keys::kSq);
  const RowScales sc(sr.env, sr.ops, od);
  const RowOperands row{od, sc.ws.p, sc.rs.p, peer_row, sr.set.name == "main"};
  Row r;
  r.set = sr.set.name;
  r.tag = s.tag;
  r.m = s.m;
  r.n = s.n;
  r.k = s.k;
  r.out = od.name;
  r.copies = sr.ops.copies();
  r.cells = sr.shape_cells;
  r.floor_us = double(sr.ops.mk() + sr.ops.nk() + od.size * (s.n + s.m) + od.size * sr.ops.mn()) /
               (sr.env.copy_tbps * 1e12) * 1e6;
  std::vector<size_t> tried, active;
  std::vector<Method*> timed;
  for (size_t i = 0; i < nm; ++i)
    if (sr.methods[i]->scope() == Scope::kRow) {
      tried.push_back(i);
      if (sr.methods[i]->setup(sr.ops, &row)) {
        active.push_back(i);
        timed.push_back(sr.methods[i].get());
      }
    }
  if (!timed.empty()) {
    const std::vector<Timing> t = sr.measure(timed);
    for (size_t a = 0; a < active.size(); ++a) r.cells[active[a]].t = t[a];
  }
  std::vector<bool> ready = sr.shape_ready;
  for (size_t i : active) ready[i] = true;
  if (sr.nvml != nullptr && sq >= 0 && ready[sq] && r.cells[sq].t.b2b_us >= kEnergyMinRunUs) {
    std::vector<size_t> which;
    std::vector<Method*> ms;
    std::vector<double> est;
    for (size_t i = 0; i < nm; ++i)
      if (sr.methods[i]->column().energy && ready[i]) {
        which.push_back(i);
        ms.push_back(sr.methods[i].get());
        est.push_back(r.cells[i].t.b2b_us);
      }
    const std::vector<Energy> e = sr.sustain(ms, est);
    for (size_t w = 0; w < which.size(); ++w) r.cells[which[w]].e = e[w];
  }
  CheckContext cc{sr.ops, row};
  for (size_t i = 0; i < nm; ++i)
    if (ready[i]) sr.methods[i]->check(cc);
  r.check = cc.failures ? "FAIL" : cc.compared_full ? "ok" : "ok (sampled only)";
  sr.res.info.failures += cc.failures;
  for (size_t i : tried) {
    sr.methods[i]->fields(r.cells[i]);
    sr.methods[i]->teardown();
  }
  return r;
}

// The peers (Scope::kPeer) of a shape, after its rows: set up on the peer row's dtype and timed interleaved
// with the library set up again on that dtype (its timing: the peer row's sq_peer), their sustained runs
// with --energy, their sanity checks; their cells then go on every row of the shape (energy on the peer row
// only).
void run_peers(ShapeRun& sr, OutType peer_type, size_t first_row, size_t peer_row) {
  const size_t nm = sr.methods.size();
  const int sq = sr.res.column(keys::kSq);
  std::vector<size_t> tried, active;
  for (size_t i = 0; i < nm; ++i)
    if (sr.methods[i]->scope() == Scope::kPeer) tried.push_back(i);
  if (tried.empty() || sq < 0) return;
  const OutDesc& od = out_desc(peer_type);
  const RowScales sc(sr.env, sr.ops, od);
  const RowOperands row{od, sc.ws.p, sc.rs.p, true, sr.set.name == "main"};
  Row& pr = sr.res.rows[peer_row];
  for (size_t i : tried)
    if (sr.methods[i]->setup(sr.ops, &row)) active.push_back(i);
  Method& anchor = *sr.methods[sq];
  if (!active.empty() && anchor.setup(sr.ops, &row)) {
    std::vector<Method*> timed{&anchor};
    for (size_t i : active) timed.push_back(sr.methods[i].get());
    const std::vector<Timing> t = sr.measure(timed);
    pr.sq_peer = t[0];
    for (size_t a = 0; a < active.size(); ++a) pr.cells[active[a]].t = t[a + 1];
    if (sr.nvml != nullptr && pr.sq_peer.b2b_us >= kEnergyMinRunUs) {
      std::vector<double> est;
      for (const Timing& x : t) est.push_back(x.b2b_us);
      const std::vector<Energy> e = sr.sustain(timed, est);
      for (size_t a = 0; a < active.size(); ++a) pr.cells[active[a]].e = e[a + 1];
    }
    CheckContext cc{sr.ops, row};
    for (size_t i : active) sr.methods[i]->check(cc);
    sr.res.info.failures += cc.failures;  // the peers' checks report, they do not fail (method_peers.cu)
  }
  anchor.teardown();
  for (size_t i : tried) {
    sr.methods[i]->fields(pr.cells[i]);
    sr.methods[i]->teardown();
    for (size_t q = first_row; q < sr.res.rows.size(); ++q)
      if (q != peer_row) {
        sr.res.rows[q].cells[i] = pr.cells[i];
        sr.res.rows[q].cells[i].e = Energy{};
      }
  }
  if (!active.empty()) print_peers(sr.res, pr);
}

// One shape of a set: the per-shape methods, each dtype's row, the peers; rows appended to res.rows.
void run_shape(Env& env, Nvml* nvml, const ShapeSet& set, const Shape& s, Methods& methods, Results& res) {
  // Output element sizes: buffers hold the largest; the rotation counts the smallest of any timed method
  // (cuBLASLt int32: 4 bytes; the peers: bf16).
  size_t out_min = sizeof(int32_t), out_max = 2;
  for (OutType t : set.outs) {
    out_min = std::min(out_min, out_desc(t).size);
    out_max = std::max(out_max, out_desc(t).size);
  }
  if (env.peers) out_min = std::min<size_t>(out_min, 2);
  ShapeOperands ops(env, s, out_min, out_max);
  ShapeRun sr{env, nvml, set, ops, methods, res, {}, {}};
  run_shape_methods(sr);
  const bool has_bf16 = std::find(set.outs.begin(), set.outs.end(), OutType::BF16) != set.outs.end();
  const OutType peer_type = has_bf16 ? OutType::BF16 : set.outs.front();
  const size_t first_row = res.rows.size();
  size_t peer_row = first_row;
  for (OutType ot : set.outs) {
    if (ot == peer_type) peer_row = res.rows.size();
    Row r = run_row(sr, out_desc(ot), ot == peer_type);
    // f64 throughput relative to f32 (f32 runs first: set.outs is in kOutDescs order)
    if (ot == OutType::F64)
      for (size_t q = first_row; q < res.rows.size(); ++q)
        if (res.rows[q].out == out_desc(OutType::F32).name)
          r.f64_vs_f32 = res.timing(res.rows[q], keys::kSq).iso_us / res.timing(r, keys::kSq).iso_us;
    res.rows.push_back(std::move(r));
    print_row(res, res.rows.back());
  }
  run_peers(sr, peer_type, first_row, peer_row);
  for (const auto& m : methods)
    if (m->scope() == Scope::kShape) m->teardown();
}

std::string json_list(const std::vector<OutType>& outs) {
  std::string s = "[";
  for (OutType t : outs) s += (s.size() > 1 ? ", " : "") + json_str(out_desc(t).name);
  return s + "]";
}

// --write-schema: every method's fields on made-up rows (values from the column index: iso 10 (i + 1),
// b2b 8 (i + 1) us), for report.py's test of what this build writes (bench/CMakeLists.txt). No GPU.
int write_schema(const Options& opt) {
  Env env;
  Results res;
  Methods methods = make_methods(env);
  for (const auto& m : methods) res.columns.push_back(m->column());
  res.info.device = "schema (made-up rows, no GPU)";
  res.info.timing = "made up";
  res.info.extra.push_back({"peers", "true"});
  res.info.extra.push_back({"asym", "\"main f32 bf16\""});
  res.info.extra.push_back({"engine", "true"});
  res.info.extra.push_back({"sq_workspace", "\"full\""});
  // The run's own facts, as a real run writes them (values made up: there is no GPU here).
  res.info.extra.push_back({"shape_sets", "{\"main\": {\"path\": \"schema\", \"shapes\": 1}}"});
  res.info.extra.push_back({"cublaslt_version", "0"});
  res.info.extra.push_back({"cuda_runtime_version", "0"});
  res.info.extra.push_back({"cuda_driver_version", "0"});
  for (OutType t : opt.outs) {
    Row r;
    r.tag = "schema";
    r.m = 16;
    r.n = 4096;
    r.k = 4096;
    r.out = out_desc(t).name;
    r.floor_us = 5.0;
    r.copies = 1;
    r.cells.resize(methods.size());
    for (size_t i = 0; i < methods.size(); ++i) {
      r.cells[i].t = Timing{10.0 * double(i + 1), 8.0 * double(i + 1)};
      methods[i]->fields(r.cells[i]);
    }
    res.rows.push_back(r);
  }
  try {
    write_json(opt.schema_path, res);
  } catch (const std::exception& e) {
    die("%s", e.what());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  g_tool = "sq_bench";
  const Options opt = parse(argc, argv);
  if (!opt.schema_path.empty()) return write_schema(opt);
  const std::vector<ShapeSet> sets = shape_sets(opt);
  size_t total_shapes = 0;
  for (const ShapeSet& set : sets) total_shapes += set.shapes.size();
  if (total_shapes == 0) die("no shape of '%s' passes the filters", opt.shapes_path.c_str());

  Env env;
  CK_CUDA(cudaGetDevice(&env.device));
  cudaDeviceProp prop;
  CK_CUDA(cudaGetDeviceProperties(&prop, env.device));
  env.num_sms = prop.multiProcessorCount;
  env.sm = prop.major * 10 + prop.minor;
  env.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
  env.dynamic = opt.dynamic;
  env.peers = opt.peers;
  env.asym = opt.asym;
  env.asym_all = opt.asym_all;
  env.engine = opt.engine;
  env.sq_workspace = opt.sq_workspace;
  CK_CUDA(cudaStreamCreateWithFlags(&env.stream, cudaStreamNonBlocking));
  env.diff = DevBuf(2 * sizeof(unsigned long long));
  Nvml nvml;
  bool energy = false;
  if (opt.energy) {
    energy = nvml.open(env.device);
    if (!energy) std::fprintf(stderr, "sq_bench: --energy: %s; no energy measured\n", nvml.why().c_str());
  }

  std::string json = opt.json_path;
  if (json.empty()) {
    const char* out_dir = std::getenv("OUT");
    const std::string dir = out_dir && *out_dir ? std::string(out_dir) : std::string("bench/results");
    json = dir + "/" + sanitize(prop.name) + ".json";
  }

  int runtime_version = 0, driver_version = 0;
  CK_CUDA(cudaRuntimeGetVersion(&runtime_version));
  CK_CUDA(cudaDriverGetVersion(&driver_version));
  {
    Timer timer(env.stream);
    env.timer = &timer;
    Results res;
    Methods methods = make_methods(env);
    for (const auto& m : methods) res.columns.push_back(m->column());
    RunInfo& in = res.info;
    in.device = prop.name;
    in.sm = env.sm;
    in.num_sms = env.num_sms;
    in.l2_bytes = env.l2_bytes;
    in.library_version = sq_version_string();
    in.quick = opt.quick;
    in.power_limit_w = energy ? nvml.power_limit_w() : NAN;
    in.energy_window_ms = kEnergyWindowMs;
    in.energy_rounds = kEnergyRounds;
    {
      std::ostringstream t;
      t << "*_us: median of CUDA-event-timed isolated runs queued behind a blocking kernel; *_b2b_us: median over "
           "batches of (event-timed " << kB2bMinRuns << ".." << kB2bMaxRuns << " consecutive runs) / runs, batches "
           "queued behind a blocking kernel; buffers rotated past 2x L2; sq, cublaslt_scaled, sq_dynamic, sq_asym, "
           "sq_dynamic_asym, norm_quant, silu_quant, sq_chain and chain_bf16 of a row (those that take it) timed in "
           << kRounds << " interleaved rounds; the peers (cublaslt_fp8_fast, cublaslt_fp8, cublaslt_bf16) "
           "once per shape after its rows, interleaved with sq set up again on bf16 (else the first dtype): "
           "sq_peer_us, sq_peer_b2b_us on that row";
      in.timing = t.str();
    }
    std::string sets_json = "{";
    for (const ShapeSet& set : sets)
      sets_json += (sets_json.size() > 1 ? ", " : "") + json_str(set.name) + ": {\"path\": " + json_str(set.path) +
                   ", \"shapes\": " + std::to_string(set.shapes.size()) + ", \"dtypes\": " + json_list(set.outs) +
                   ", \"target_ms\": " + json_num(set.target_ms, 1) + ", \"max_runs\": " +
                   std::to_string(set.max_runs) + "}";
    in.extra.push_back({"shape_sets", sets_json + "}"});
    in.extra.push_back({"peers", opt.peers ? "true" : "false"});
    in.extra.push_back({"asym", opt.asym ? (opt.asym_all ? "\"all\"" : "\"main f32 bf16\"") : "false"});
    in.extra.push_back({"engine", opt.engine ? "true" : "false"});
    in.extra.push_back({"sq_workspace", opt.sq_workspace ? "\"full\"" : "\"none\""});
    in.extra.push_back({"cublaslt_version", std::to_string(cublasLtGetVersion())});
    in.extra.push_back({"cuda_runtime_version", std::to_string(runtime_version)});
    in.extra.push_back({"cuda_driver_version", std::to_string(driver_version)});

    env.copy_tbps = measure_copy_tbps(env);
    in.copy_tbps = env.copy_tbps;
    in.empty = timer.measure([&](int) { launch_empty(env.stream); }, sets[0].target_ms, sets[0].max_runs);
    std::printf("device %s (sm_%d%d, %d SMs, L2 %zu MB), libsmoothquant %s, cuBLASLt %zu\n", prop.name, prop.major,
                prop.minor, env.num_sms, env.l2_bytes >> 20, sq_version_string(), cublasLtGetVersion());
    std::printf("copy bandwidth (D2D, read + write): %.3f TB/s; %zu shapes x %zu dtypes%s\n", env.copy_tbps,
                sets[0].shapes.size(), sets[0].outs.size(), opt.quick ? " (quick)" : "");
    std::printf("empty kernel: %.2f us isolated, %.2f us back to back (the fixed cost in every timed run)\n",
                in.empty.iso_us, in.empty.b2b_us);
    for (const ShapeSet& set : sets) {
      if (set.name != "main")
        std::printf("=== %s set (%s): %zu shapes x %zu dtypes, %.0f ms per method and way ===\n", set.name.c_str(),
                    set.path.c_str(), set.shapes.size(), set.outs.size(), set.target_ms);
      for (const Shape& s : set.shapes) {
        run_shape(env, energy ? &nvml : nullptr, set, s, methods, res);
        in.host_run_us = env.host_run_us;
        in.host_launch_us = env.host_launch_us;
        in.host_run_shape = env.host_run_shape;
        try {
          write_json(json, res);
        } catch (const std::exception& e) {
          die("%s", e.what());
        }
      }
    }
    print_compact(stdout, res, "main", "compact");
    for (const ShapeSet& set : sets)
      if (set.name != "main")
        print_compact(stdout, res, set.name, "compact, " + set.name + " set (" + set.path + ")");
    std::printf("copy_tbps %.3f  host_run_us %.2f (%s; a bare launch %.2f)  empty kernel %.2f us isolated / "
                "%.2f us b2b  failures %d\n", in.copy_tbps, in.host_run_us, in.host_run_shape.c_str(),
                in.host_launch_us, in.empty.iso_us, in.empty.b2b_us, in.failures);
    print_energy(stdout, res);
    std::printf("json: %s\n", json.c_str());
    methods.clear();  // before the stream goes
    if (in.failures) {
      std::fprintf(stderr, "sq_bench: %d result check(s) FAILED\n", in.failures);
      CK_CUDA(cudaStreamDestroy(env.stream));
      return 3;
    }
  }
  CK_CUDA(cudaStreamDestroy(env.stream));
  return 0;
}
