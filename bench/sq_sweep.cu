// sq_sweep: times every built variant of a Hopper kernel family on the benchmark's shapes, beside
// the dispatch's choice, to fit or check the dispatch's cost models (src/dispatch_sm90.cpp) on a GPU.
// It links the kernel objects (kernels/ and the dispatch) directly, below the plan and the C ABI.
//
//   sq_sweep [shapes.csv] [--family split|persistent] [--m M[,M..]] [--dtypes bf16,f32,f64,f16]
//            [--filter TAG[,TAG..]]
//
// For each distinct N x K of the shape set (tags filtered), each M and dtype, one line: every
// variant's time as isolated/back-to-back medians in microseconds (split-K variants only where their
// CTA count is between half and twice the SMs), the decode kernel the dispatch would take at that M
// (split family, M <= 64), and the dispatch's choice; then the fastest back to back. Timing as in
// sq_bench: CUDA events, runs queued behind a blocking kernel, operands rotated past twice the L2.
// Outputs are not checked here (tests/test_gpu_variants.cpp checks every variant bit for bit).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "families.hpp"
#include "sm90_splitk.hpp"
#include "sm90_wgmma.hpp"

namespace {

using sq::kernels::Dtype;
using sq::kernels::KernelVariant;
using sq::kernels::LinearParams;

#define CK(x)                                                                                            \
  do {                                                                                                   \
    const cudaError_t e_ = (x);                                                                          \
    if (e_ != cudaSuccess) {                                                                             \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, #x); \
      std::exit(2);                                                                                      \
    }                                                                                                    \
  } while (0)

constexpr int kIsolatedRuns = 20;   // single runs per isolated median
constexpr int kB2bRuns = 32;        // runs per back-to-back batch
constexpr int kB2bBatches = 7;      // batches per back-to-back median (after one warm-up batch)
constexpr int kWarmupRuns = 3;
constexpr size_t kRotateBytes = size_t{120} << 20;  // operand sets rotated past 2x the 50 MB L2
constexpr unsigned long long kBlockerTimeoutNs = 2000000000ull;
constexpr int kSplitTileK = 128;
constexpr int kMinKBlocksPerSplit = 4;

// Holds the stream until the host has queued a batch (so host launch gaps are not timed).
__global__ void blocker(volatile int* flag, unsigned long long timeout_ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (*flag == 0 && t - t0 < timeout_ns);
}

__global__ void fill_bytes(uint8_t* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint64_t z = (i + seed) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    p[i] = static_cast<uint8_t>(z ^ (z >> 31));
  }
}

size_t dtype_bytes(Dtype d) { return d == Dtype::F64 ? 8 : d == Dtype::F32 ? 4 : 2; }

// One shape's rotated operands, scales and output on the device, and the timing machinery.
class Bench {
 public:
  Bench(int m, int n, int k, Dtype dt, int sms) : sms_(sms) {
    const size_t a_bytes = static_cast<size_t>(m) * k, w_bytes = static_cast<size_t>(n) * k;
    set_bytes_ = (a_bytes + w_bytes + 255) / 256 * 256;
    sets_ = static_cast<int>(std::max<size_t>(2, kRotateBytes / set_bytes_ + 1));
    CK(cudaMalloc(&pool_, set_bytes_ * sets_));
    fill_bytes<<<1024, 256>>>(static_cast<uint8_t*>(pool_), set_bytes_ * sets_, 12345);
    CK(cudaGetLastError());
    CK(cudaMalloc(&scales_, (static_cast<size_t>(n) + m) * 8));
    CK(cudaMemset(scales_, 0, (static_cast<size_t>(n) + m) * 8));  // values do not change the timing
    CK(cudaMalloc(&out_, static_cast<size_t>(m) * n * dtype_bytes(dt)));
    CK(cudaHostAlloc(&flag_host_, sizeof(int), cudaHostAllocMapped));
    CK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&flag_dev_), flag_host_, 0));
    for (cudaEvent_t& e : events_) CK(cudaEventCreate(&e));
    CK(cudaDeviceSynchronize());
    p_.m = m;
    p_.n = n;
    p_.k = k;
    p_.ld_act = k;
    p_.ld_weight = k;
    p_.weight_scale = scales_;
    p_.row_scale = static_cast<char*>(scales_) + static_cast<size_t>(n) * 8;
    p_.out = out_;
    p_.ld_out = n;
    p_.dtype = dt;
    p_.programmatic = true;  // as the static plan on sm_90 (only the decode kernels use it)
    a_bytes_ = a_bytes;
  }
  ~Bench() {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    cudaFreeHost(flag_host_);
    cudaFree(out_);
    cudaFree(scales_);
    cudaFree(pool_);
  }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  // {isolated median, back-to-back median} in microseconds.
  std::pair<double, double> time(const KernelVariant& v) {
    for (int i = 0; i < kWarmupRuns; ++i) launch(v);
    std::vector<float> iso, b2b;
    hold();
    for (int i = 0; i < kIsolatedRuns; ++i) {
      CK(cudaEventRecord(events_[2 * i]));
      launch(v);
      CK(cudaEventRecord(events_[2 * i + 1]));
    }
    release();
    for (int i = 0; i < kIsolatedRuns; ++i) {
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, events_[2 * i], events_[2 * i + 1]));
      iso.push_back(ms * 1e3f);
    }
    for (int b = 0; b <= kB2bBatches; ++b) {
      hold();
      CK(cudaEventRecord(events_[0]));
      for (int i = 0; i < kB2bRuns; ++i) launch(v);
      CK(cudaEventRecord(events_[1]));
      release();
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, events_[0], events_[1]));
      if (b > 0) b2b.push_back(ms * 1e3f / kB2bRuns);
    }
    return {median(iso), median(b2b)};
  }

 private:
  static double median(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  void launch(const KernelVariant& v) {
    const uint8_t* base = static_cast<const uint8_t*>(pool_) + static_cast<size_t>(next_) * set_bytes_;
    next_ = (next_ + 1) % sets_;
    p_.act = reinterpret_cast<const int8_t*>(base);
    p_.weight = reinterpret_cast<const int8_t*>(base + a_bytes_);
    CK(v.launch(p_, sms_, nullptr));
  }
  void hold() {
    __atomic_store_n(flag_host_, 0, __ATOMIC_SEQ_CST);
    blocker<<<1, 1>>>(flag_dev_, kBlockerTimeoutNs);
    CK(cudaGetLastError());
  }
  void release() {
    __atomic_store_n(flag_host_, 1, __ATOMIC_SEQ_CST);
    CK(cudaDeviceSynchronize());
  }

  int sms_;
  size_t set_bytes_ = 0, a_bytes_ = 0;
  int sets_ = 0, next_ = 0;
  void* pool_ = nullptr;
  void* scales_ = nullptr;
  void* out_ = nullptr;
  int* flag_host_ = nullptr;
  int* flag_dev_ = nullptr;
  cudaEvent_t events_[2 * kIsolatedRuns];
  LinearParams p_{};
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [shapes.csv] [--family split|persistent] [--m M[,M..]] [--dtypes bf16,f32,f64,f16]"
               " [--filter TAG[,TAG..]]\n",
               argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string csv = "bench/shapes.csv", family = "split";
  std::vector<int> ms;
  std::vector<Dtype> dtypes = {Dtype::BF16};
  std::vector<std::string> filter;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--family" && has_value) {
      family = argv[++i];
    } else if (a == "--m" && has_value) {
      for (const std::string& v : split_list(argv[++i])) ms.push_back(std::atoi(v.c_str()));
    } else if (a == "--dtypes" && has_value) {
      dtypes.clear();
      for (const std::string& v : split_list(argv[++i])) {
        if (v == "bf16") dtypes.push_back(Dtype::BF16);
        else if (v == "f16") dtypes.push_back(Dtype::F16);
        else if (v == "f32") dtypes.push_back(Dtype::F32);
        else if (v == "f64") dtypes.push_back(Dtype::F64);
        else usage(argv[0]);
      }
    } else if (a == "--filter" && has_value) {
      filter = split_list(argv[++i]);
    } else if (!a.empty() && a[0] != '-') {
      csv = a;
    } else {
      usage(argv[0]);
    }
  }
  if (family != "split" && family != "persistent") usage(argv[0]);
  if (ms.empty()) ms = family == "split" ? std::vector<int>{32, 64} : std::vector<int>{128, 256, 512, 1024};
  for (int m : ms)
    if (m < 1) usage(argv[0]);

  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("sq_sweep: no usable CUDA GPU\n");
    return 1;
  }
  int dev = 0, sms = 0, major = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  if (major != 9) {
    std::printf("sq_sweep: the Hopper variants need an sm_90 GPU\n");
    return 1;
  }
  CK(sq::sm90_prepare());

  // Distinct N x K of the shape set, in file order.
  std::ifstream in(csv);
  if (!in) {
    std::fprintf(stderr, "sq_sweep: cannot read %s\n", csv.c_str());
    return 2;
  }
  std::vector<std::pair<int, int>> nks;
  std::set<std::pair<int, int>> seen;
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> f = split_list(line);
    if (f.size() != 4 || f[0] == "tag") continue;
    if (!filter.empty() && std::find(filter.begin(), filter.end(), f[0]) == filter.end()) continue;
    const std::pair<int, int> nk{std::atoi(f[2].c_str()), std::atoi(f[3].c_str())};
    if (seen.insert(nk).second) nks.push_back(nk);
  }

  std::printf("sq_sweep: family %s, %d SMs; us isolated/back-to-back\n", family.c_str(), sms);
  for (const auto& nk : nks) {
    for (int m : ms) {
      for (Dtype dt : dtypes) {
        const int n = nk.first, k = nk.second;
        Bench bench(m, n, k, dt, sms);
        const sq::LinearShape shape{m, n, k, sms, 90, true};
        std::vector<std::pair<std::string, const KernelVariant*>> runs;
        if (family == "split") {
          const int64_t k_blocks = (k + kSplitTileK - 1) / kSplitTileK;
          for (const sq::kernels::SplitKVariant& v : sq::kernels::kSm90SplitKVariants) {
            const int64_t ctas = ((m + v.tile_m - 1) / v.tile_m) * ((n + v.tile_n - 1) / v.tile_n) * v.split;
            if (ctas < sms / 2 || ctas > 2 * sms || (v.split > 1 && k_blocks < v.split * kMinKBlocksPerSplit)) continue;
            runs.emplace_back(v.variant->name, v.variant);
          }
          if (const KernelVariant* d = sq::decode_choose(shape)) runs.emplace_back(d->name, d);
        } else {
          for (const sq::kernels::PersistentVariant& v : sq::kernels::kSm90PersistentVariants)
            runs.emplace_back(v.variant->name, v.variant);
        }
        const KernelVariant& choice = sq::sm90_choose(shape);
        std::printf("M=%d N=%d K=%d %s: dispatch %s\n", m, n, k,
                    dt == Dtype::BF16 ? "bf16" : dt == Dtype::F16 ? "f16" : dt == Dtype::F32 ? "f32" : "f64",
                    choice.name);
        std::string best;
        double best_us = 0;
        for (const auto& r : runs) {
          const std::pair<double, double> t = bench.time(*r.second);
          std::printf("  %-40s %9.2f %9.2f%s\n", r.first.c_str(), t.first, t.second,
                      r.second == &choice ? "  (dispatch)" : "");
          if (best.empty() || t.second < best_us) {
            best = r.first;
            best_us = t.second;
          }
        }
        std::printf("  fastest back to back: %s %.2f us\n", best.c_str(), best_us);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
