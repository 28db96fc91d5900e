// Shared by the benchmark programs (sq_bench.cu, sq_sweep.cu), each a single translation unit:
// errors, the shape file, filled operands, the timer (events around runs queued behind a
// blocking kernel, isolated and back to back, methods interleaved in rounds) and sustained runs with
// NVML's energy counter (--energy).
#pragma once

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "report.hpp"  // Timing, Energy

namespace sqbench {

// The program named in errors and warnings.
inline const char* g_tool = "bench";

// ------------------------------------------------------------------ timing tunables
constexpr int kWarmupRuns = 3;
constexpr int kEstimateRuns = 4;                    // runs timed to size the measurement
constexpr int kMinRuns = 15;
constexpr int kBatchRuns = 32;                      // runs queued behind one blocking kernel
constexpr int kB2bMinRuns = 20;                     // back-to-back runs between one event pair
constexpr int kB2bMaxRuns = 64;                     //   (at most; bounds the queued launches)
constexpr int kB2bMinBatches = 5;                   // back-to-back batches, median over them
constexpr int kB2bMaxBatches = 15;
constexpr int kRounds = 4;                          // interleaved rounds of the methods of a shape
constexpr uint64_t kBlockerTimeoutNs = 2000000000;  // the blocker gives up after 2 s

// -------------------------------------------------------------------- errors
[[noreturn]] inline void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "%s: error: ", g_tool);
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(1);
}

#define CK_CUDA(call)                                                                     \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess)                                                                \
      die("%s:%d: %s: %s (%s)", __FILE__, __LINE__, #call, cudaGetErrorName(e_),          \
          cudaGetErrorString(e_));                                                        \
  } while (0)

// ------------------------------------------------------------------ operands
constexpr double kRotationL2Multiple = 2.0;         // one rotation of buffers > this x L2
constexpr int kMaxCopies = 64;

// Copies of a working set of set_bytes that, taken in turn, exceed kRotationL2Multiple x L2.
inline int rotation_copies(double set_bytes, size_t l2_bytes) {
  return static_cast<int>(
      std::clamp(std::ceil(kRotationL2Multiple * double(l2_bytes) / set_bytes), 1.0, double(kMaxCopies)));
}

__host__ __device__ inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Full-range int8 (-128..127), a different stream per seed.
static __global__ void fill_s8(int8_t* p, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x)
    p[i] = static_cast<int8_t>(mix64(seed ^ (i * 0xd1b54a32d192ed03ull)) >> 56);
}

// Holds the stream until the host sets *flag (or the timeout passes, which it reports).
static __global__ void blocker(const volatile int* flag, uint64_t timeout_ns, volatile int* timed_out) {
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  while (*flag == 0) {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    if (now - start > timeout_ns) {
      *timed_out = 1;
      return;
    }
  }
}

// ---------------------------------------------------------------- utilities
inline double median(std::vector<double> v) {
  if (v.empty()) die("median of no samples");
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

// -------------------------------------------------------------------- shapes
struct Shape {
  std::string tag;
  int64_t m, n, k;
};

inline std::vector<Shape> read_shapes(const std::string& path) {
  std::ifstream f(path);
  if (!f) die("cannot open shape file '%s'", path.c_str());
  std::vector<Shape> shapes;
  std::string line;
  int lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (lineno == 1 && line.rfind("tag", 0) == 0) continue;
    const auto cols = split(line, ',');
    if (cols.size() != 4) die("%s:%d: expected tag,m,n,k: '%s'", path.c_str(), lineno, line.c_str());
    Shape s;
    s.tag = cols[0];
    char* end = nullptr;
    int64_t* dims[3] = {&s.m, &s.n, &s.k};
    for (int i = 0; i < 3; ++i) {
      *dims[i] = std::strtoll(cols[i + 1].c_str(), &end, 10);
      if (*end != '\0' || *dims[i] <= 0)
        die("%s:%d: bad dimension '%s'", path.c_str(), lineno, cols[i + 1].c_str());
    }
    shapes.push_back(s);
  }
  if (shapes.empty()) die("no shapes in '%s'", path.c_str());
  return shapes;
}

// ---------------------------------------------------------------- the timer
// Every batch: a blocking kernel holds the stream while the host enqueues the batch's runs; then
// the host releases it and the runs execute back to back, so host enqueue speed never limits
// what the GPU does. Two ways to time a batch:
//   isolated      an event pair around each run (up to kBatchRuns per batch): each run's own
//                 time, its launch latency on the GPU included (~4 us event to event even for
//                 an empty kernel), median over runs
//   back to back  one event pair around R consecutive runs: time / R, the GPU front end
//                 overlapping each launch with the previous run as in a model's layer sequence
//                 (or a CUDA graph), median over batches
// Runs are numbered by a counter that goes on across calls (and methods), so consecutive runs
// always take the next rotated buffer set (launch(i) uses set i % copies). Results: report.hpp's Timing.
class Timer {
 public:
  explicit Timer(cudaStream_t s) : stream_(s), events_(2 * kBatchRuns) {
    CK_CUDA(cudaHostAlloc(&flags_, 2 * sizeof(int), cudaHostAllocMapped));
    CK_CUDA(cudaHostGetDevicePointer(reinterpret_cast<void**>(&flags_dev_), flags_, 0));
    flags_[0] = flags_[1] = 0;
    for (auto& e : events_) CK_CUDA(cudaEventCreate(&e));
  }
  ~Timer() {
    for (auto& e : events_) cudaEventDestroy(e);
    cudaFreeHost(flags_);
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Microseconds of each of `runs` isolated runs; launch(i) enqueues run i on the stream.
  template <typename F>
  std::vector<double> time(int runs, F&& launch) {
    std::vector<double> us;
    us.reserve(runs);
    for (int done = 0; done < runs;) {
      const int b = std::min(kBatchRuns, runs - done);
      hold();
      for (int j = 0; j < b; ++j) {
        CK_CUDA(cudaEventRecord(events_[2 * j], stream_));
        launch(take());
        CK_CUDA(cudaEventRecord(events_[2 * j + 1], stream_));
      }
      release();
      for (int j = 0; j < b; ++j) us.push_back(elapsed_us(2 * j));
      done += b;
    }
    check_blocker();
    return us;
  }

  // Microseconds per run of each of `batches` batches of `per_batch` back-to-back runs.
  template <typename F>
  std::vector<double> time_b2b(int batches, int per_batch, F&& launch) {
    std::vector<double> us;
    us.reserve(batches);
    for (int b = 0; b < batches; ++b) {
      hold();
      CK_CUDA(cudaEventRecord(events_[0], stream_));
      for (int j = 0; j < per_batch; ++j) launch(take());
      CK_CUDA(cudaEventRecord(events_[1], stream_));
      release();
      us.push_back(elapsed_us(0) / per_batch);
    }
    check_blocker();
    return us;
  }

  // Several methods' timings, interleaved so that they share the GPU's thermal and clock state
  // (at large M the H100's clocks drift by several percent over a shape's measurement; methods
  // timed one after the other would see different clocks). Each method: warm-up, a short
  // estimate, enough isolated runs for about target_ms (at most max_runs), then back-to-back
  // batches sized from its isolated median for about target_ms more (at least kB2bMinBatches
  // batches of kB2bMinRuns runs). The runs of every method are cut into kRounds rounds; round r
  // times the methods in order (r even) or in reverse order (r odd). Medians over all rounds.
  std::vector<Timing> measure(const std::vector<std::function<void(int)>>& launches, double target_ms,
                              int max_runs) {
    const size_t nm = launches.size();
    std::vector<int> runs(nm), per_batch(nm), batches(nm);
    std::vector<std::vector<double>> iso(nm), b2b(nm);
    for (size_t i = 0; i < nm; ++i) {
      for (int w = 0; w < kWarmupRuns; ++w) launches[i](take());
      CK_CUDA(cudaStreamSynchronize(stream_));
      const double est = median(time(kEstimateRuns, launches[i]));
      runs[i] = static_cast<int>(
          std::clamp(target_ms * 1000.0 / std::max(est, 1e-3), double(kMinRuns), double(max_runs)));
    }
    auto each_round = [&](auto&& body) {
      for (int r = 0; r < kRounds; ++r)
        for (size_t j = 0; j < nm; ++j) body(r % 2 == 0 ? j : nm - 1 - j);
    };
    each_round([&](size_t i) {
      const std::vector<double> us = time((runs[i] + kRounds - 1) / kRounds, launches[i]);
      iso[i].insert(iso[i].end(), us.begin(), us.end());
    });
    std::vector<Timing> t(nm);
    for (size_t i = 0; i < nm; ++i) {
      t[i].iso_us = median(iso[i]);
      const double budget_us = target_ms * 1000.0, run_us = std::max(t[i].iso_us, 1e-3);
      const double runs_wanted = budget_us / run_us;  // back-to-back runs in the budget
      per_batch[i] = static_cast<int>(std::clamp(std::round(runs_wanted / kB2bMaxBatches),
                                                 double(kB2bMinRuns), double(kB2bMaxRuns)));
      batches[i] = static_cast<int>(std::clamp(std::round(runs_wanted / per_batch[i]),
                                               double(kB2bMinBatches), double(kB2bMaxBatches)));
    }
    each_round([&](size_t i) {
      const std::vector<double> us = time_b2b((batches[i] + kRounds - 1) / kRounds, per_batch[i], launches[i]);
      b2b[i].insert(b2b[i].end(), us.begin(), us.end());
    });
    for (size_t i = 0; i < nm; ++i) t[i].b2b_us = median(b2b[i]);
    return t;
  }
  Timing measure(const std::function<void(int)>& launch, double target_ms, int max_runs) {
    return measure(std::vector<std::function<void(int)>>{launch}, target_ms, max_runs)[0];
  }

 private:
  // Queues the blocking kernel: what is enqueued next waits for release().
  void hold() {
    __atomic_store_n(&flags_[0], 0, __ATOMIC_SEQ_CST);
    if (use_blocker_) {
      blocker<<<1, 1, 0, stream_>>>(flags_dev_, kBlockerTimeoutNs, flags_dev_ + 1);
      CK_CUDA(cudaGetLastError());
    }
  }
  // Lets the batch run and waits for it.
  void release() {
    __atomic_store_n(&flags_[0], 1, __ATOMIC_SEQ_CST);
    CK_CUDA(cudaStreamSynchronize(stream_));
  }
  double elapsed_us(int first_event) {
    float ms = 0;
    CK_CUDA(cudaEventElapsedTime(&ms, events_[first_event], events_[first_event + 1]));
    return 1000.0 * ms;
  }
  void check_blocker() {
    if (__atomic_load_n(&flags_[1], __ATOMIC_SEQ_CST)) {
      // Something in a run waited for the stream: queueing behind a blocker cannot work.
      std::fprintf(stderr, "%s: warning: the blocking kernel timed out (a run waits for "
                           "the stream?); from now on timings may include launch gaps\n", g_tool);
      flags_[1] = 0;
      use_blocker_ = false;
    }
  }
  int take() {  // the next run's number
    const int i = next_;
    next_ = next_ == INT_MAX ? 0 : next_ + 1;  // never negative: i % copies indexes buffers
    return i;
  }

  cudaStream_t stream_;
  std::vector<cudaEvent_t> events_;
  int* flags_ = nullptr;      // [0] release, [1] timed out (host view)
  int* flags_dev_ = nullptr;  // device view of the same memory
  bool use_blocker_ = true;
  int next_ = 0;  // the next run's number (see above)
};

// ------------------------------------------------------------------ sustained energy
constexpr double kEnergyWindowMs = 1000.0;          // GPU time per method and round
constexpr int kEnergyRounds = 2;
constexpr int kEnergyMinRuns = 20;
constexpr double kEnergyDefaultRunUs = 100.0;       // sizes the window when est_us is unknown
constexpr double kEnergyMinRunUs = 100.0;           // --energy: shorter runs are skipped (counter resolution)

// NVML's energy counter through libnvidia-ml.so.1 loaded at run time (only for --energy: the
// benchmarks link no NVML). The device is found by the CUDA device's PCI bus id.
class Nvml {
 public:
  // False (with the reason in why()) when the library, a symbol or the device is missing.
  bool open(int cuda_device) {
    lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib_ == nullptr) return fail("cannot load libnvidia-ml.so.1");
    using Init = int (*)();
    using ByBusId = int (*)(const char*, void**);
    const auto init = reinterpret_cast<Init>(dlsym(lib_, "nvmlInit_v2"));
    const auto by_bus = reinterpret_cast<ByBusId>(dlsym(lib_, "nvmlDeviceGetHandleByPciBusId_v2"));
    energy_ = reinterpret_cast<EnergyFn>(dlsym(lib_, "nvmlDeviceGetTotalEnergyConsumption"));
    limit_ = reinterpret_cast<LimitFn>(dlsym(lib_, "nvmlDeviceGetEnforcedPowerLimit"));
    if (!init || !by_bus || !energy_ || !limit_) return fail("NVML lacks a needed function");
    char bus[32] = {};
    if (cudaDeviceGetPCIBusId(bus, sizeof bus, cuda_device) != cudaSuccess) return fail("no PCI bus id");
    if (init() != 0 || by_bus(bus, &dev_) != 0) return fail("NVML does not know the device");
    unsigned long long mj = 0;
    if (!energy_mj(&mj)) return fail("the device has no energy counter");
    return true;
  }
  bool energy_mj(unsigned long long* mj) const { return energy_ != nullptr && energy_(dev_, mj) == 0; }
  double power_limit_w() const {
    unsigned mw = 0;
    return limit_ != nullptr && limit_(dev_, &mw) == 0 ? mw / 1000.0 : NAN;
  }
  const std::string& why() const { return why_; }

 private:
  using EnergyFn = int (*)(void*, unsigned long long*);
  using LimitFn = int (*)(void*, unsigned*);
  bool fail(const char* why) {
    why_ = why;
    energy_ = nullptr;
    limit_ = nullptr;
    return false;
  }
  void* lib_ = nullptr;
  void* dev_ = nullptr;
  EnergyFn energy_ = nullptr;
  LimitFn limit_ = nullptr;
  std::string why_;
};

// Each method's runs back to back on `stream` for about kEnergyWindowMs of GPU time (sized from
// est_us, a time per run), kEnergyRounds rounds in alternating order; NVML's counter read before and
// after each window (the GPU idle at both reads: a sync before, the window's end event after). GPU
// time and energy per run, means over rounds; all NaN when the counter could not be read. At the power
// limit the sustained time per run is its energy over the limit, and methods interleaved in short
// batches (Timer::measure) share the throttling, so this is the figure to rank kernels by there (though
// sq_sweep's and sq_bench's disagree about one kernel on one shape: bench/NOTES.md v0.1.9).
inline std::vector<Energy> measure_energy(const Nvml& nvml, cudaStream_t stream,
                                          const std::vector<std::function<void(int)>>& launches,
                                          const std::vector<double>& est_us) {
  const size_t nm = launches.size();
  std::vector<Energy> e(nm, Energy{0.0, 0.0});
  cudaEvent_t e0, e1;
  CK_CUDA(cudaEventCreate(&e0));
  CK_CUDA(cudaEventCreate(&e1));
  int next = 0;  // run numbers go on across windows: each run takes the next buffer set
  bool ok = true;
  for (int r = 0; r < kEnergyRounds && ok; ++r) {
    for (size_t jj = 0; jj < nm && ok; ++jj) {
      const size_t j = r % 2 == 0 ? jj : nm - 1 - jj;
      const double est = std::isfinite(est_us[j]) && est_us[j] > 0 ? est_us[j] : kEnergyDefaultRunUs;
      const int runs = std::max(kEnergyMinRuns, static_cast<int>(kEnergyWindowMs * 1000.0 / est));
      CK_CUDA(cudaStreamSynchronize(stream));
      unsigned long long mj0 = 0, mj1 = 0;
      ok = nvml.energy_mj(&mj0);
      CK_CUDA(cudaEventRecord(e0, stream));
      for (int i = 0; i < runs; ++i) launches[j](next++);
      CK_CUDA(cudaEventRecord(e1, stream));
      CK_CUDA(cudaEventSynchronize(e1));
      ok = ok && nvml.energy_mj(&mj1) && mj1 >= mj0;
      float ms = 0;
      CK_CUDA(cudaEventElapsedTime(&ms, e0, e1));
      e[j].us += 1000.0 * ms / runs / kEnergyRounds;
      e[j].mj += double(mj1 - mj0) / runs / kEnergyRounds;
    }
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (!ok) std::fill(e.begin(), e.end(), Energy{});
  return e;
}

}  // namespace sqbench
