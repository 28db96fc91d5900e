// sq_sweep: times every built variant of a Hopper kernel family on the benchmark's shapes, beside
// the dispatch's choice, to fit or check the dispatch's cost models (src/dispatch/) on a GPU.
// It links the kernel objects (kernels/ and the dispatch) directly, below the plan and the C ABI.
//
//   sq_sweep [shapes.csv] [--family split|persistent|decode] [--m M[,M..]] [--dtypes bf16,f32,f64,f16]
//            [--filter TAG[,TAG..]] [--energy]
//
// For each distinct N x K of the shape set (tags filtered), each M and dtype: every variant's
// isolated and back-to-back medians in microseconds (split-K variants only where their CTA count
// is between half and twice the SMs), the decode kernel the dispatch would take at that M (split
// family, M <= 64), the dispatch's choice (in the split and decode families timed too when it is of
// another family), and the fastest back to back. The decode family: every decode variant whose token tiles hold M, and the dispatch's
// choice. Timing as in sq_bench
// (bench_common.cuh's Timer: runs queued behind a blocking kernel, operands rotated past twice the
// L2, the variants of a line interleaved in rounds). Outputs are not checked here
// (tests/test_gpu_variants.cpp checks every variant bit for bit).
// --energy: then every variant of a line whose runs take at least kEnergyMinRunUs again, sustained
// (bench_common.cuh measure_energy: about a second each, twice, NVML's energy counter): time and
// energy per run, and the variant with the least energy. At the power limit (large M) that is closer
// to a long run than the interleaved timing above, whose variants share the GPU's throttling; still
// check a dispatch change with sq_bench --energy, the library's own path (bench/NOTES.md v0.1.9: the
// two disagreed about the ping-pong kernel on one shape).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.cuh"
#include "dispatch/launch_plan.hpp"
#include "registry.hpp"
#include "variants_adapter.cuh"

namespace {

using namespace sqbench;
using sq::kernels::Dtype;
using sq::kernels::KernelVariant;
using sq::kernels::LinearParams;

constexpr double kSweepTargetMs = 20.0;  // measured GPU time per variant and line (each way)
constexpr int kSweepMaxRuns = 100;
constexpr int kFillThreads = 256;
constexpr int kFillBlocks = 1024;
constexpr uint64_t kFillSeed = 12345;

size_t dtype_bytes(Dtype d) { return d == Dtype::F64 ? 8 : d == Dtype::F32 ? 4 : 2; }
// 2^-6 in each dtype (exact in all four): the scales, so that the outputs carry values as in use.
constexpr uint64_t kScaleBitsF64 = 0x3F90000000000000ull;
constexpr uint32_t kScaleBitsF32 = 0x3C800000u;
constexpr uint16_t kScaleBitsBf16 = 0x3C80u;
constexpr uint16_t kScaleBitsF16 = 0x2400u;
uint64_t scale_bits(Dtype d) {
  return d == Dtype::F64    ? kScaleBitsF64
         : d == Dtype::F32  ? kScaleBitsF32
         : d == Dtype::BF16 ? kScaleBitsBf16
                            : kScaleBitsF16;
}
const char* dtype_name(Dtype d) {
  return d == Dtype::BF16 ? "bf16" : d == Dtype::F16 ? "f16" : d == Dtype::F32 ? "f32" : "f64";
}

// One line's operands on the device: rotated act + weight sets, scales (2^-6 each, so that the outputs
// carry values as in use rather than zeros) and one output.
class Operands {
 public:
  Operands(int m, int n, int k, Dtype dt, size_t l2_bytes, cudaStream_t stream) : stream_(stream) {
    a_bytes_ = static_cast<size_t>(m) * k;
    set_bytes_ = (a_bytes_ + static_cast<size_t>(n) * k + 255) / 256 * 256;
    sets_ = rotation_copies(double(set_bytes_), l2_bytes);
    CK_CUDA(cudaMalloc(&pool_, set_bytes_ * sets_));
    fill_s8<<<kFillBlocks, kFillThreads, 0, stream>>>(static_cast<int8_t*>(pool_), set_bytes_ * sets_, kFillSeed);
    CK_CUDA(cudaGetLastError());
    const size_t es = dtype_bytes(dt), count = static_cast<size_t>(n) + m;
    std::vector<unsigned char> host(count * es);
    const uint64_t bits = scale_bits(dt);
    for (size_t i = 0; i < count; ++i) std::memcpy(&host[i * es], &bits, es);  // little-endian: the low es bytes
    CK_CUDA(cudaMalloc(&scales_, count * es));
    CK_CUDA(cudaMemcpyAsync(scales_, host.data(), count * es, cudaMemcpyHostToDevice, stream));
    CK_CUDA(cudaMalloc(&out_, static_cast<size_t>(m) * n * dtype_bytes(dt)));
    CK_CUDA(cudaStreamSynchronize(stream));
    p_.m = m;
    p_.n = n;
    p_.k = k;
    p_.ld_act = k;
    p_.ld_weight = k;
    p_.weight_scale = scales_;
    p_.row_scale = static_cast<char*>(scales_) + static_cast<size_t>(n) * es;
    p_.out = out_;
    p_.ld_out = n;
    p_.dtype = dt;
    p_.act_type = sq::kernels::Dtype::S8;  // symmetric s8 x s8, as the 0.1 plans
    p_.weight_type = sq::kernels::Dtype::S8;
    p_.programmatic = true;  // as the static plan on sm_90
  }
  ~Operands() {
    cudaFree(out_);
    cudaFree(scales_);
    cudaFree(pool_);
  }
  Operands(const Operands&) = delete;
  Operands& operator=(const Operands&) = delete;

  // Run i of variant v, on rotated set i.
  void launch(const KernelVariant& v, int sms, int i) {
    const int8_t* base = static_cast<const int8_t*>(pool_) + static_cast<size_t>(i % sets_) * set_bytes_;
    p_.act = base;
    p_.weight = base + a_bytes_;
    CK_CUDA(v.launch(p_, sms, stream_));
  }

 private:
  cudaStream_t stream_;
  size_t a_bytes_ = 0, set_bytes_ = 0;
  int sets_ = 1;
  void* pool_ = nullptr;
  void* scales_ = nullptr;
  void* out_ = nullptr;
  LinearParams p_{};
};

struct Options {
  std::string shapes_path = "bench/shapes.csv";
  std::string family = "split";
  std::vector<int> ms;
  std::vector<Dtype> dtypes = {Dtype::BF16};
  std::vector<std::string> filter;
  bool energy = false;
};

[[noreturn]] void usage(const char* argv0) {
  die("usage: %s [shapes.csv] [--family split|persistent|decode] [--m M[,M..]] [--dtypes bf16,f32,f64,f16]"
      " [--filter TAG[,TAG..]] [--energy]",
      argv0);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--family" && has_value) {
      o.family = argv[++i];
    } else if (a == "--m" && has_value) {
      for (const std::string& v : split(argv[++i], ',')) o.ms.push_back(std::atoi(v.c_str()));
    } else if (a == "--dtypes" && has_value) {
      o.dtypes.clear();
      for (const std::string& v : split(argv[++i], ',')) {
        if (v == "bf16") o.dtypes.push_back(Dtype::BF16);
        else if (v == "f16") o.dtypes.push_back(Dtype::F16);
        else if (v == "f32") o.dtypes.push_back(Dtype::F32);
        else if (v == "f64") o.dtypes.push_back(Dtype::F64);
        else usage(argv[0]);
      }
    } else if (a == "--filter" && has_value) {
      o.filter = split(argv[++i], ',');
    } else if (a == "--energy") {
      o.energy = true;
    } else if (!a.empty() && a[0] != '-') {
      o.shapes_path = a;
    } else {
      usage(argv[0]);
    }
  }
  if (o.family != "split" && o.family != "persistent" && o.family != "decode") usage(argv[0]);
  if (o.ms.empty())
    o.ms = o.family == "split"    ? std::vector<int>{32, 64}
           : o.family == "decode" ? std::vector<int>{1, 16, 32, 64}
                                  : std::vector<int>{128, 256, 512, 1024};
  for (int m : o.ms)
    if (m < 1) usage(argv[0]);
  return o;
}

// The facts of a static plan of the Hopper family on this device.
sq::PlanFacts hopper_facts(int n, int k, int sms, Dtype dt) {
  return sq::PlanFacts{sq::Op::kStaticLinear, sq::GpuFamily::kHopper, sq::device_facts(90, sms), n, k,
                       static_cast<int32_t>(dtype_bytes(dt)), 1};
}

// Appends v to vs unless vs holds it already.
void add_once(std::vector<const KernelVariant*>& vs, const KernelVariant* v) {
  if (v != nullptr && std::find(vs.begin(), vs.end(), v) == vs.end()) vs.push_back(v);
}

// The variants of a family timed for one line, then the dispatch's choice (`choice`).
std::vector<const KernelVariant*> candidates(const std::string& family, const sq::LinearShape& s,
                                             const sq::DeviceFacts& d, const KernelVariant* choice) {
  std::vector<const KernelVariant*> v;
  if (family == "split") {
    for (const KernelVariant& c : sq::kernels::sm90_splitk_variants()) {
      const int64_t ctas = ((s.m + c.tile_m - 1) / c.tile_m) * ((s.n + c.tile_n - 1) / c.tile_n) * c.split;
      if (ctas < d.num_sms / 2 || ctas > 2 * d.num_sms || !sq::split_k_blocks_suffice(c, s)) continue;
      v.push_back(&c);
    }
    add_once(v, sq::decode_choose(s, d));
  } else if (family == "decode") {
    for (const KernelVariant& c : sq::kernels::decode_variants())
      if (sq::kernels::takes_m(c, s.m)) v.push_back(&c);
  } else {
    for (const KernelVariant& c : sq::kernels::sm90_wgmma_variants()) v.push_back(&c);
  }
  if (family != "persistent") add_once(v, choice);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  g_tool = "sq_sweep";
  const Options opt = parse(argc, argv);

  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) die("no usable CUDA GPU");
  int dev = 0, sms = 0, major = 0, l2 = 0;
  CK_CUDA(cudaGetDevice(&dev));
  CK_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  CK_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  CK_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  if (major != 9) die("the Hopper variants need an sm_90 GPU (this one is sm_%d)", major * 10);
  CK_CUDA(sq::prepare_launches(hopper_facts(1, 1, sms, Dtype::BF16)));

  // Distinct N x K of the shape set, in file order.
  std::vector<std::pair<int, int>> nks;
  std::set<std::pair<int, int>> seen;
  for (const Shape& s : read_shapes(opt.shapes_path)) {
    if (!opt.filter.empty() && std::find(opt.filter.begin(), opt.filter.end(), s.tag) == opt.filter.end()) continue;
    const std::pair<int, int> nk{static_cast<int>(s.n), static_cast<int>(s.k)};
    if (seen.insert(nk).second) nks.push_back(nk);
  }

  Nvml nvml;
  const bool energy = opt.energy && nvml.open(dev);
  if (opt.energy && !energy) std::fprintf(stderr, "sq_sweep: --energy: %s; no energy measured\n", nvml.why().c_str());
  cudaStream_t stream;
  CK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  Timer timer(stream);
  std::printf("sq_sweep: family %s, %d SMs; us isolated / back to back\n", opt.family.c_str(), sms);
  for (const auto& nk : nks) {
    for (int m : opt.ms) {
      for (Dtype dt : opt.dtypes) {
        const int n = nk.first, k = nk.second;
        Operands ops(m, n, k, dt, static_cast<size_t>(l2), stream);
        // The plan's facts and choice for these operands (packed rows on allocation bases).
        const variants::Shape row = variants::shape_of(m, n, k, sms, 90, dt);
        const KernelVariant& choice = variants::plan_choice(row);
        const std::vector<const KernelVariant*> variants = candidates(opt.family, row.s, row.facts.device, &choice);
        std::vector<std::function<void(int)>> launches;
        for (const KernelVariant* v : variants) launches.push_back([&ops, v, sms](int i) { ops.launch(*v, sms, i); });
        const std::vector<Timing> t = timer.measure(launches, kSweepTargetMs, kSweepMaxRuns);
        std::printf("M=%d N=%d K=%d %s: dispatch %s\n", m, n, k, dtype_name(dt), choice.name);
        size_t best = 0;
        for (size_t i = 0; i < variants.size(); ++i) {
          std::printf("  %-40s %9.2f %9.2f%s\n", variants[i]->name, t[i].iso_us, t[i].b2b_us,
                      variants[i] == &choice ? "  (dispatch)" : "");
          if (t[i].b2b_us < t[best].b2b_us) best = i;
        }
        if (!variants.empty())
          std::printf("  fastest back to back: %s %.2f us\n", variants[best]->name, t[best].b2b_us);
        if (energy && !variants.empty() && t[best].b2b_us >= kEnergyMinRunUs) {
          std::vector<double> est;
          for (const Timing& ti : t) est.push_back(ti.b2b_us);
          const std::vector<Energy> e = measure_energy(nvml, stream, launches, est);
          size_t least = 0;
          for (size_t i = 0; i < variants.size(); ++i) {
            std::printf("  sustained %-30s %9.2f us %8.1f mJ %5.0f W%s\n", variants[i]->name, e[i].us, e[i].mj,
                        1000.0 * e[i].mj / e[i].us, variants[i] == &choice ? "  (dispatch)" : "");
            if (e[i].mj < e[least].mj) least = i;
          }
          std::printf("  least energy: %s %.1f mJ\n", variants[least]->name, e[least].mj);
        }
        std::fflush(stdout);
      }
    }
  }
  CK_CUDA(cudaStreamDestroy(stream));
  return 0;
}
