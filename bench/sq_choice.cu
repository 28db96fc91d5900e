// sq_choice: is the plan's choice within 5% of the fastest built variant (issue 22, on shapes no rule was
// fitted to)? For each row (tag,m,n,k of a shape file; default bench/shapes_heldout.csv) and output dtype,
// every built variant that can run the shape (variants_adapter.cuh, the one place that knows the kernel
// tables) is launched directly on rotated operands, beside the variant the plan chooses:
//   1. screening: each candidate warmed up and timed kEstimateRuns isolated runs; candidates slower than
//      --screen (default 1.5) x the fastest estimate are not timed further (the plan's choice always is):
//      a variant 50% behind in four runs is not the fastest of the row
//   2. the rest timed by bench_common.cuh's Timer::measure (isolated and back to back, interleaved in
//      rounds, operands rotated past 2x L2), kTargetMs each way
//   3. choice / fastest, back to back (the ratio the 5% target is read on) and isolated
// Outputs are not checked here (tests/test_gpu_variants.cpp checks every variant bit for bit).
// --plan-only: no GPU; prints this build's choice for every row as CSV (tag,m,n,k,out,choice) on the device
// facts given (--sms, --sm; default the H100's 132 and 90), for report.py --replay: a dispatch change
// replayed on an earlier run's measured variant times.
//
//   sq_choice [shapes.csv] [--dtypes bf16[,f32,f64,f16]] [--m M[,M..]] [--filter TAG[,TAG..]]
//             [--screen X] [--json PATH] [--plan-only [--sms N] [--sm S]]
// Exit status 0 (misses are results, not errors), 1 on an error.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.cuh"
#include "report.hpp"
#include "variants_adapter.cuh"

namespace {

using namespace sqbench;
using variants::Dtype;
using variants::KernelVariant;

constexpr double kTargetMs = 15.0;  // measured GPU time per variant and row (each way), as --quick
constexpr int kMaxRuns = 60;
constexpr double kWithin = 1.05;        // the target: choice <= 1.05 x the fastest
constexpr double kDefaultScreen = 1.5;  // screening: drop candidates slower than this x the fastest estimate
const char* const kDefaultShapes = "bench/shapes_heldout.csv";
constexpr int kDefaultSms = 132;  // --plan-only's device: the H100 SXM
constexpr int kDefaultSm = 90;

struct Options {
  std::string shapes_path = kDefaultShapes;
  std::vector<Dtype> dtypes = {Dtype::BF16};
  std::vector<int64_t> ms;
  std::vector<std::string> filter;
  double screen = kDefaultScreen;
  std::string json_path;
  bool plan_only = false;
  int sms = kDefaultSms;
  int sm = kDefaultSm;
};

const char* dtype_name(Dtype d) {
  return d == Dtype::BF16 ? "bf16" : d == Dtype::F16 ? "f16" : d == Dtype::F32 ? "f32" : "f64";
}

[[noreturn]] void usage(const char* argv0) {
  die("usage: %s [shapes.csv] [--dtypes bf16[,f32,f64,f16]] [--m M[,M..]] [--filter TAG[,TAG..]] [--screen X] "
      "[--json PATH] [--plan-only [--sms N] [--sm S]]", argv0);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--dtypes" && has_value) {
      o.dtypes.clear();
      for (const std::string& v : split(argv[++i], ',')) {
        if (v == "bf16") o.dtypes.push_back(Dtype::BF16);
        else if (v == "f16") o.dtypes.push_back(Dtype::F16);
        else if (v == "f32") o.dtypes.push_back(Dtype::F32);
        else if (v == "f64") o.dtypes.push_back(Dtype::F64);
        else usage(argv[0]);
      }
    } else if (a == "--m" && has_value) {
      for (const std::string& v : split(argv[++i], ',')) o.ms.push_back(std::atoll(v.c_str()));
    } else if (a == "--filter" && has_value) {
      o.filter = split(argv[++i], ',');
    } else if (a == "--screen" && has_value) {
      o.screen = std::atof(argv[++i]);
      if (!(o.screen >= 1.0)) usage(argv[0]);
    } else if (a == "--json" && has_value) {
      o.json_path = argv[++i];
    } else if (a == "--plan-only") {
      o.plan_only = true;
    } else if (a == "--sms" && has_value) {
      o.sms = std::atoi(argv[++i]);
      if (o.sms < 1) usage(argv[0]);
    } else if (a == "--sm" && has_value) {
      o.sm = std::atoi(argv[++i]);
      if (o.sm < 90) usage(argv[0]);
    } else if (!a.empty() && a[0] != '-') {
      o.shapes_path = a;
    } else {
      usage(argv[0]);
    }
  }
  if (o.dtypes.empty()) usage(argv[0]);
  return o;
}

bool keep(const Options& o, const Shape& s) {
  if (!o.filter.empty() && std::none_of(o.filter.begin(), o.filter.end(), [&](const std::string& f) {
        return s.tag.find(f) != std::string::npos;
      }))
    return false;
  return o.ms.empty() || std::find(o.ms.begin(), o.ms.end(), s.m) != o.ms.end();
}

// The JSON so far (rewritten after every row, beside and renamed: a run stopped early keeps the rows done).
void write_json(const Options& opt, const char* device, int sm, int sms, int within, const std::string& rows) {
  const std::string tmp = opt.json_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "{\n  \"tool\": \"sq_choice\",\n  \"device\": " << json_str(device) << ",\n  \"sm\": " << sm
      << ",\n  \"num_sms\": " << sms << ",\n  \"shapes\": " << json_str(opt.shapes_path)
      << ",\n  \"within\": " << json_num(kWithin, 2) << ",\n  \"screen\": " << json_num(opt.screen, 2)
      << ",\n  \"target_ms\": " << json_num(kTargetMs, 1) << ",\n  \"rows_within\": " << within
      << ",\n  \"rows\": [" << rows << "\n  ]\n}\n";
    if (!f.flush()) die("cannot write '%s'", tmp.c_str());
  }
  if (std::rename(tmp.c_str(), opt.json_path.c_str()) != 0) die("cannot rename '%s'", tmp.c_str());
}

struct Timed {
  const KernelVariant* v;
  double estimate_us;  // screening: median of kEstimateRuns isolated runs
  Timing t;            // NaN when screened out
};

}  // namespace

int main(int argc, char** argv) {
  g_tool = "sq_choice";
  const Options opt = parse(argc, argv);
  std::vector<Shape> shapes;
  for (const Shape& s : read_shapes(opt.shapes_path))
    if (keep(opt, s)) shapes.push_back(s);
  if (shapes.empty()) die("no shape of '%s' passes the filters", opt.shapes_path.c_str());
  if (opt.plan_only) {
    std::printf("tag,m,n,k,out,choice\n");
    for (const Shape& s : shapes)
      for (Dtype dt : opt.dtypes)
        std::printf("%s,%lld,%lld,%lld,%s,%s\n", s.tag.c_str(), static_cast<long long>(s.m),
                    static_cast<long long>(s.n), static_cast<long long>(s.k), dtype_name(dt),
                    variants::plan_choice(variants::shape_of(s.m, s.n, s.k, opt.sms, opt.sm, dt)).name);
    return 0;
  }

  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) die("no usable CUDA GPU");
  int dev = 0, sms = 0, major = 0, minor = 0, l2 = 0;
  CK_CUDA(cudaGetDevice(&dev));
  CK_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  CK_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  CK_CUDA(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  CK_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  if (major != 9) die("the Hopper variants need an sm_90 GPU (this one is sm_%d%d)", major, minor);
  CK_CUDA(variants::prepare());
  cudaDeviceProp prop;
  CK_CUDA(cudaGetDeviceProperties(&prop, dev));

  cudaStream_t stream;
  CK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  Timer timer(stream);
  std::ostringstream rows_json;
  int rows = 0, within = 0;
  std::vector<std::string> misses;
  std::printf("sq_choice: %s, %d SMs; %s; us isolated / back to back; choice within %.2fx of the fastest back to "
              "back?\n", prop.name, sms, opt.shapes_path.c_str(), kWithin);
  for (const Shape& s : shapes) {
    for (Dtype dt : opt.dtypes) {
      const variants::Shape shape = variants::shape_of(s.m, s.n, s.k, sms, major * 10 + minor, dt);
      std::vector<const KernelVariant*> cands = variants::candidates(shape);
      const KernelVariant* choice = &variants::plan_choice(shape);
      if (std::find(cands.begin(), cands.end(), choice) == cands.end()) cands.push_back(choice);
      variants::VariantOperands ops(shape, dt, static_cast<size_t>(l2), variants::programmatic(shape), stream);
      // 1. screening
      std::vector<Timed> all;
      double best_est = INFINITY;
      for (const KernelVariant* v : cands) {
        auto launch = [&ops, v, sms](int i) { ops.launch(*v, sms, i); };
        for (int w = 0; w < kWarmupRuns; ++w) launch(w);
        CK_CUDA(cudaStreamSynchronize(stream));
        const double est = median(timer.time(kEstimateRuns, launch));
        all.push_back({v, est, Timing{}});
        best_est = std::min(best_est, est);
      }
      // 2. the survivors, interleaved
      std::vector<size_t> timed;
      std::vector<std::function<void(int)>> launches;
      for (size_t i = 0; i < all.size(); ++i)
        if (all[i].estimate_us <= opt.screen * best_est || all[i].v == choice) {
          timed.push_back(i);
          const KernelVariant* v = all[i].v;
          launches.push_back([&ops, v, sms](int k) { ops.launch(*v, sms, k); });
        }
      const std::vector<Timing> t = timer.measure(launches, kTargetMs, kMaxRuns);
      for (size_t j = 0; j < timed.size(); ++j) all[timed[j]].t = t[j];
      // 3. choice against the fastest
      const Timed* fastest_b2b = nullptr;
      const Timed* fastest_iso = nullptr;
      const Timed* chosen = nullptr;
      for (const Timed& x : all) {
        if (!std::isfinite(x.t.b2b_us)) continue;
        if (!fastest_b2b || x.t.b2b_us < fastest_b2b->t.b2b_us) fastest_b2b = &x;
        if (!fastest_iso || x.t.iso_us < fastest_iso->t.iso_us) fastest_iso = &x;
        if (x.v == choice) chosen = &x;
      }
      if (!chosen || !fastest_b2b || !fastest_iso) die("no timing for %s m=%lld", s.tag.c_str(), (long long)s.m);
      const double ratio_b2b = chosen->t.b2b_us / fastest_b2b->t.b2b_us;
      const double ratio_iso = chosen->t.iso_us / fastest_iso->t.iso_us;
      const bool ok = ratio_b2b <= kWithin;
      ++rows;
      within += ok;
      char line[512];
      std::snprintf(line, sizeof line, "%s m=%lld n=%lld k=%lld %s: %s %.2f/%.2f, fastest %s %.2f (x%.3f)",
                    s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, dtype_name(dt), choice->name,
                    chosen->t.iso_us, chosen->t.b2b_us, fastest_b2b->v->name, fastest_b2b->t.b2b_us, ratio_b2b);
      if (!ok) misses.push_back(line);
      std::printf("%-18s %6lld %6lld %6lld %-4s choice %-36s %9.2f %9.2f | fastest %-36s %9.2f | x%.3f b2b x%.3f iso "
                  "| %zu candidates, %zu timed%s\n", s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k,
                  dtype_name(dt), choice->name, chosen->t.iso_us, chosen->t.b2b_us, fastest_b2b->v->name,
                  fastest_b2b->t.b2b_us, ratio_b2b, ratio_iso, all.size(), timed.size(), ok ? "" : "  MISS");
      std::fflush(stdout);
      rows_json << (rows > 1 ? ",\n" : "\n") << "    {\"tag\": " << json_str(s.tag) << ", \"m\": " << s.m
                << ", \"n\": " << s.n << ", \"k\": " << s.k << ", \"out_dtype\": " << json_str(dtype_name(dt))
                << ", \"choice\": " << json_str(choice->name) << ", \"choice_us\": " << json_num(chosen->t.iso_us)
                << ", \"choice_b2b_us\": " << json_num(chosen->t.b2b_us)
                << ", \"fastest_b2b\": " << json_str(fastest_b2b->v->name)
                << ", \"fastest_b2b_us\": " << json_num(fastest_b2b->t.b2b_us)
                << ", \"fastest_iso\": " << json_str(fastest_iso->v->name)
                << ", \"fastest_us\": " << json_num(fastest_iso->t.iso_us)
                << ", \"ratio_b2b\": " << json_num(ratio_b2b, 4) << ", \"ratio_iso\": " << json_num(ratio_iso, 4)
                << ", \"within\": " << (ok ? "true" : "false") << ", \"variants\": [";
      for (size_t i = 0; i < all.size(); ++i)
        rows_json << (i ? ", " : "") << "{\"name\": " << json_str(all[i].v->name)
                  << ", \"estimate_us\": " << json_num(all[i].estimate_us) << ", \"us\": " << json_num(all[i].t.iso_us)
                  << ", \"b2b_us\": " << json_num(all[i].t.b2b_us) << "}";
      rows_json << "]}";
      if (!opt.json_path.empty()) write_json(opt, prop.name, major * 10 + minor, sms, within, rows_json.str());
    }
  }
  std::printf("plan's choice within %.2fx of the fastest built variant, back to back: %d of %d rows\n", kWithin,
              within, rows);
  for (const std::string& m : misses) std::printf("  miss: %s\n", m.c_str());
  if (!opt.json_path.empty()) std::printf("json: %s\n", opt.json_path.c_str());
  CK_CUDA(cudaStreamDestroy(stream));
  return 0;
}
