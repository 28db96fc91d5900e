// sq_bench: times libsmoothquant's W8A8 linear against cuBLASLt int8 on the shape set.
//
// For every shape (tag,m,n,k of bench/shapes.csv) and output dtype T (f32, bf16, f64;
// scale_dtype = out_dtype = T) it measures, in one process and on the same buffers:
//   sq_us               sq_plan_run, SQ_OP_SMOOTHQUANT_LINEAR, SQ_PREFERENCE_FASTEST
//   cublaslt_int32_us   cublasLtMatmul int8 TN -> int32 (fastest of the heuristic's top algorithms;
//                       measured once per shape, the same number on every dtype's row)
//   cublaslt_scaled_us  the same matmul followed by a separate scale kernel (what a user writes
//                       without this library): out = ((T)acc * rs[m]) * ws[n]
//   sq_dynamic_us       sq_plan_run, SQ_OP_QUANTIZED_LINEAR, bf16 x -> bf16 out (bf16 rows only)
//   f64_vs_f32          f64 rows: f32 sq_us / f64 sq_us at the same shape (f64 throughput / f32's)
//   read_us             a plain streaming read of the act and weight bytes (read_kernel), measured
//                       once per shape: what any kernel needs just to read its inputs, timed the
//                       same way (the reference for the bandwidth-bound rows)
//   read_dep_us         the same read as a dependent of the run before it (sm_90, M <= 64 only):
//                       launched as a programmatic dependent, it waits for the previous kernel
//                       (griddepcontrol.wait) before it reads, as a layer that reads the previous
//                       layer's output must; back to back, what a chain of such kernels costs
// Every method is timed two ways (class Timer, one helper for all of them):
//   *_us      isolated: CUDA events around every run, runs queued behind a blocking kernel (so
//             host launch gaps are not timed), warm-up first, median over runs; includes each
//             run's launch latency on the GPU
//   *_b2b_us  back to back: events around R >= 20 consecutive runs (cuBLASLt + scale: matmul
//             then scale kernel per run), batches queued behind the blocking kernel, median
//             over batches of time / R; the GPU overlaps each launch with the previous run, as
//             layers of a model (or a CUDA graph) run
// The library, cuBLASLt + scale and the dynamic plan of one shape and dtype are timed in
// interleaved rounds (Timer::measure), so clock drift does not favour whichever runs first.
// Buffers rotate so one rotation exceeds 2x the L2 cache; consecutive runs (within and across
// batches) take the next buffer set. Every timed result is also checked: sampled elements
// against the host reference of the numerics contract (src/numerics.hpp), and the whole output
// of the library against cuBLASLt + scale kernel, bit for bit (outputs poisoned with a NaN
// pattern first).
//
// With --energy, rows whose runs take at least kEnergyMinRunUs also get a sustained measurement: sq,
// cuBLASLt int32 and cuBLASLt + scale each run back to back for about kEnergyWindowMs of GPU time per
// round (kEnergyRounds rounds, the order reversed every other round), with NVML's energy counter
// (libnvidia-ml.so.1, loaded at run time) read before and after each window: GPU time and energy per
// run, means over the rounds (*_sustained_us, *_mj in the JSON). At the power limit the time of a
// sustained run is its energy over the limit, which decides the large-M rows.
//
// Usage: sq_bench [shapes.csv] [--filter TAG[,TAG..]] [--m M[,M..]] [--dtypes f32,bf16,f64]
//                 [--quick] [--json PATH] [--no-dynamic] [--energy]
// JSON goes to --json, else $OUT/<gpu>.json when OUT is set, else bench/results/<gpu>.json.
// Exit status: 0 all good, 1 an error (message on stderr), 3 a result check failed.

#include <cublasLt.h>
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.cuh"
#include "epilogue.cuh"
#include "host/numerics.hpp"
#include "smoothquant/smoothquant.h"

namespace {

using namespace sqbench;

// ------------------------------------------------------------------ tunables
constexpr int kHeuristicAlgos = 8;                  // cuBLASLt algorithms asked for and tried
constexpr size_t kLtWorkspaceBytes = size_t{64} << 20;
constexpr int kAlgoTrialRuns = 10;                  // runs per cuBLASLt algorithm when choosing
constexpr double kTargetMs = 60.0;                  // measured GPU time per method and shape
constexpr int kMaxRuns = 300;
constexpr double kQuickTargetMs = 15.0;
constexpr int kQuickMaxRuns = 60;
constexpr size_t kCopyBwBytes = size_t{1} << 30;    // D2D copy size for the bandwidth ceiling
constexpr int kCopyBwRuns = 10;
constexpr int kHostRunCalls = 2000;                 // host cost of sq_plan_run: calls timed
constexpr int kHostRunSyncEvery = 64;               // drain the stream every this many calls
constexpr int kRandomSamples = 24;                  // sampled output elements checked on the host
constexpr int kThreads = 256;
constexpr int kScaleVec = 4;                        // elements per thread step in the scale kernel
constexpr int kMaxGridY = 65535;
constexpr int kMaxFillBlocks = 8192;
constexpr uint8_t kPoisonOut = 0xFF;                // NaN pattern in f32, bf16 and f64
constexpr uint8_t kPoisonRef = 0xFE;                // another pattern: two unwritten outputs differ
constexpr double kF64TargetRatio = 0.8;             // f64 throughput target, relative to f32
constexpr int kDecodeMaxM = 16;                     // decode rows of the back-to-back summary
constexpr int kReadSummaryMaxM = 64;                // rows of the summary against the plain read
constexpr double kDecodeFloorTarget = 0.6;          // issue 4: M <= 16 at >= 60% of the floor
constexpr double kSmallMFloorRatio = 1.11;          // issue 5: M <= 64 within 1.11x of the floor
constexpr int kReadThreads = 512;                   // read_kernel: threads per block,
constexpr int kReadBlocksPerSm = 4;                 // blocks per SM (2048 threads: full occupancy)
constexpr int kReadUnroll = 4;                      // and 16-byte loads in flight per thread
constexpr uint32_t kReadSinkMagic = 0x9e3779b9u;    // read_kernel stores only on this xor value
constexpr int kPdlMinSm = 90;                       // programmatic dependent launch: sm_90 and later
constexpr double kWeightScaleLo = 1.0e-3, kWeightScaleHi = 2.0e-2;
constexpr double kActScaleLo = 5.0e-3, kActScaleHi = 5.0e-2;
constexpr float kXMagLo = 0.05f, kXMagHi = 8.0f;   // per-row magnitude of the dynamic input
const int64_t kQuickMs[] = {1, 16, 128, 1024, 8192};
const int64_t kQuickSquares[] = {4096, 8192};

// -------------------------------------------------------------------- errors (die, CK_CUDA: bench_common.cuh)
#define CK_LT(call)                                                                       \
  do {                                                                                    \
    cublasStatus_t s_ = (call);                                                           \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                      \
      die("%s:%d: %s: cublasStatus %d", __FILE__, __LINE__, #call, static_cast<int>(s_)); \
  } while (0)

#define CK_SQ(call)                                                                       \
  do {                                                                                    \
    sq_status s_ = (call);                                                                \
    if (s_ != SQ_STATUS_SUCCESS)                                                          \
      die("%s:%d: %s: %s: %s", __FILE__, __LINE__, #call, sq_status_string(s_),           \
          sq_last_error_message());                                                       \
  } while (0)

// ------------------------------------------------------------------ kernels

// Uniform in [0, 1) from the top 24 bits of a hash.
__host__ __device__ inline float unit_float(uint64_t h) {
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}


// bf16 x [rows, cols]: uniform in (-mag_row, mag_row), mag_row random per row.
__global__ void fill_x_bf16(__nv_bfloat16* p, int64_t rows, int64_t cols, uint64_t seed) {
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    const uint64_t row = i / static_cast<size_t>(cols);
    const float mag = kXMagLo + unit_float(mix64(seed + row)) * (kXMagHi - kXMagLo);
    const float u = unit_float(mix64(seed ^ (i * 0xd1b54a32d192ed03ull)));
    p[i] = __float2bfloat16_rn((2.0f * u - 1.0f) * mag);
  }
}

// The reference for the fixed cost of one timed run: a launch that does nothing.
__global__ void empty_kernel() {}

// Median host CPU time (us) of `call` (a function that enqueues work on s): kHostRunCalls calls, each
// timed with the host clock, the stream drained every kHostRunSyncEvery calls.
template <typename F>
double host_cost_us(cudaStream_t s, F call) {
  std::vector<double> us;
  us.reserve(kHostRunCalls);
  for (int i = 0; i < kHostRunCalls; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    const auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if ((i + 1) % kHostRunSyncEvery == 0) CK_CUDA(cudaStreamSynchronize(s));
  }
  CK_CUDA(cudaStreamSynchronize(s));
  return median(us);
}

// Host CPU time of the cheapest launch there is, the one sq_plan_run makes minus the library's own
// work: the driver's cuLaunchKernelEx (entry point, context-independent kernel handle) of an empty
// kernel with one launch attribute (programmatic stream serialization). NAN where the driver lacks it.
double host_launch_us(cudaStream_t s) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
  constexpr unsigned kDriverApiVersion = 12000;
  cudaKernel_t k = nullptr;
  if (cudaGetDriverEntryPointByVersion("cuLaunchKernelEx", &fn, kDriverApiVersion, cudaEnableDefault, &q) !=
          cudaSuccess ||
      q != cudaDriverEntryPointSuccess || cudaGetKernel(&k, reinterpret_cast<const void*>(&empty_kernel)) != cudaSuccess) {
    cudaGetLastError();
    return NAN;
  }
  const auto launch_ex = reinterpret_cast<PFN_cuLaunchKernelEx_v11060>(fn);
  CUlaunchAttribute attr[1];
  attr[0].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
  attr[0].value.programmaticStreamSerializationAllowed = 1;
  CUlaunchConfig cfg = {};
  cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
  cfg.blockDimX = cfg.blockDimY = cfg.blockDimZ = 1;
  cfg.hStream = reinterpret_cast<CUstream>(s);
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return host_cost_us(s, [&] {
    if (launch_ex(&cfg, reinterpret_cast<CUfunction>(k), nullptr, nullptr) != CUDA_SUCCESS) die("cuLaunchKernelEx of the empty kernel failed");
  });
}

// The reference for the bandwidth-bound rows: a streaming read of the a16 16-byte vectors at a,
// then the b16 at b (a linear's act and weight), kReadUnroll independent loads in flight per
// thread (grid-stride), L1 bypassed, L2 fetching 256-byte blocks (as the decode kernels' loads).
// It folds what it reads into one xor per thread and stores it only when that equals
// kReadSinkMagic, so no load can be dropped and almost nothing is written.
// On sm_90 it allows the next kernel of the stream to launch at once (programmatic dependent
// launch: the launch sets programmatic stream serialization; no run reads what another writes), so
// back to back its runs overlap their launches as far as the hardware lets any kernel. The
// dependent instantiation (kDependent) instead waits for the kernel before it to complete before
// it reads (griddepcontrol.wait) and does not let the next one start early, as the library's
// decode kernels: back to back, a chain of dependent reads.
__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}
__device__ __forceinline__ uint32_t read_span(const uint4* p, size_t n16, size_t first, size_t stride) {
  uint32_t x = 0;
  size_t i = first;
  for (; i + (kReadUnroll - 1) * stride < n16; i += kReadUnroll * stride) {
    uint4 v[kReadUnroll];
#pragma unroll
    for (int u = 0; u < kReadUnroll; ++u) v[u] = ld_stream(p + i + u * stride);
#pragma unroll
    for (int u = 0; u < kReadUnroll; ++u) x ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = ld_stream(p + i);
    x ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  return x;
}
template <bool kDependent>
__global__ void __launch_bounds__(kReadThreads) read_kernel(const uint4* a, size_t a16, const uint4* b, size_t b16,
                                                             uint32_t* sink) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (kDependent) asm volatile("griddepcontrol.wait;" ::: "memory");
  else asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
  const size_t first = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const uint32_t x = read_span(a, a16, first, stride) ^ read_span(b, b16, first, stride);
  if (x == kReadSinkMagic) sink[0] = x;
}

// The user's separate scale kernel after cuBLASLt: out[m,n] = ((T)acc * rs[m]) * ws[n], the
// contract's epilogue (kernels/epilogue.cuh). Vector path: N % kScaleVec == 0.
template <typename T>
struct alignas(sizeof(T) * kScaleVec) VecT {
  T v[kScaleVec];
};

template <typename T>
__global__ void scale_acc_vec(const int32_t* __restrict__ acc, const T* __restrict__ rs,
                              const T* __restrict__ ws, T* __restrict__ out, int64_t m_rows,
                              int64_t n_cols) {
  using E = sq::kernels::Epi<T>;
  const int64_t nvec = n_cols / kScaleVec;
  for (int64_t m = blockIdx.y; m < m_rows; m += gridDim.y) {
    const typename E::C r = E::to_c(rs[m]);
    for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < nvec;
         j += int64_t{gridDim.x} * blockDim.x) {
      const int4 a = *reinterpret_cast<const int4*>(acc + m * n_cols + j * kScaleVec);
      const VecT<T> w = *reinterpret_cast<const VecT<T>*>(ws + j * kScaleVec);
      VecT<T> o;
      o.v[0] = sq::kernels::scale_acc<T>(a.x, r, E::to_c(w.v[0]), false, 0);
      o.v[1] = sq::kernels::scale_acc<T>(a.y, r, E::to_c(w.v[1]), false, 0);
      o.v[2] = sq::kernels::scale_acc<T>(a.z, r, E::to_c(w.v[2]), false, 0);
      o.v[3] = sq::kernels::scale_acc<T>(a.w, r, E::to_c(w.v[3]), false, 0);
      *reinterpret_cast<VecT<T>*>(out + m * n_cols + j * kScaleVec) = o;
    }
  }
}
static_assert(kScaleVec == 4, "scale_acc_vec unrolls 4 elements (one int4 of acc)");

template <typename T>
__global__ void scale_acc_scalar(const int32_t* __restrict__ acc, const T* __restrict__ rs,
                                 const T* __restrict__ ws, T* __restrict__ out, int64_t m_rows,
                                 int64_t n_cols) {
  using E = sq::kernels::Epi<T>;
  for (int64_t m = blockIdx.y; m < m_rows; m += gridDim.y) {
    const typename E::C r = E::to_c(rs[m]);
    for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < n_cols;
         j += int64_t{gridDim.x} * blockDim.x)
      out[m * n_cols + j] = sq::kernels::scale_acc<T>(acc[m * n_cols + j], r, E::to_c(ws[j]), false, 0);
  }
}

// Counts elements whose bits differ; remembers the first such index.
template <typename U>
__global__ void count_diff(const U* a, const U* b, size_t n, unsigned long long* count,
                           unsigned long long* first) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    if (a[i] != b[i]) {
      atomicAdd(count, 1ull);
      atomicMin(first, static_cast<unsigned long long>(i));
    }
  }
}

unsigned grid_for(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(blocks, kMaxFillBlocks)));
}

// The separate scale kernel on `stream`: out[M,N] = ((T)acc * rs[m]) * ws[n], all in T.
template <typename T>
void launch_scale(const int32_t* acc, const void* rs, const void* ws, void* out, int64_t M,
                  int64_t N, cudaStream_t stream) {
  const bool vec = N % kScaleVec == 0;
  const int64_t cols = vec ? N / kScaleVec : N;
  const dim3 grid(static_cast<unsigned>(std::max<int64_t>(
                      1, std::min<int64_t>((cols + kThreads - 1) / kThreads, kMaxFillBlocks))),
                  static_cast<unsigned>(std::min<int64_t>(M, kMaxGridY)));
  const T* r = static_cast<const T*>(rs);
  const T* w = static_cast<const T*>(ws);
  T* o = static_cast<T*>(out);
  if (vec) scale_acc_vec<T><<<grid, kThreads, 0, stream>>>(acc, r, w, o, M, N);
  else scale_acc_scalar<T><<<grid, kThreads, 0, stream>>>(acc, r, w, o, M, N);
  CK_CUDA(cudaGetLastError());
}

// ------------------------------------------------------------- output dtypes
// Every output dtype T (scale_dtype = out_dtype = T) is one row of kOutDescs; the bench code
// is the same for all of them.
enum class OutType { F32, BF16, F64 };

// The host mirror (src/numerics.hpp) of the device element type T.
template <typename T> struct HostOf { using type = T; };
template <> struct HostOf<__nv_bfloat16> { using type = sq::num::bf16; };

// The contract's epilogue on the host, bits zero-extended: ((C)acc * (C)(T)rs) * (C)(T)ws -> T.
template <typename H>
uint64_t host_ref_bits(int32_t acc, double rs, double ws) {
  using E = sq::num::Epi<H>;
  const H y = sq::num::scale_acc<H>(acc, E::to_c(E::from_double(rs)), E::to_c(E::from_double(ws)),
                                    false, typename E::C{0});
  uint64_t bits = 0;
  std::memcpy(&bits, &y, sizeof y);
  return bits;
}

struct OutDesc {
  OutType type;
  const char* name;  // --dtypes value, table and JSON out_dtype
  size_t size;       // bytes per element
  sq_dtype sq;
  uint64_t (*bits_of)(double v);                              // bits of (T)v, zero-extended
  uint64_t (*ref_bits)(int32_t acc, double rs, double ws);    // host reference of one output
  void (*scale)(const int32_t*, const void*, const void*, void*, int64_t, int64_t, cudaStream_t);
};

template <typename T>
constexpr OutDesc make_out_desc(OutType type, const char* name, sq_dtype d) {
  using H = typename HostOf<T>::type;
  static_assert(sizeof(H) == sizeof(T), "host mirror and device type differ in size");
  return {type, name, sizeof(T), d, &sq::num::bits_of_double_as<H>, &host_ref_bits<H>,
          &launch_scale<T>};
}

// In the order the dtypes of one shape run (f32 first: f64 rows compare with it).
const OutDesc kOutDescs[] = {
    make_out_desc<float>(OutType::F32, "f32", SQ_DTYPE_F32),
    make_out_desc<__nv_bfloat16>(OutType::BF16, "bf16", SQ_DTYPE_BF16),
    make_out_desc<double>(OutType::F64, "f64", SQ_DTYPE_F64),
};

const OutDesc& out_desc(OutType t) {
  for (const OutDesc& d : kOutDescs)
    if (d.type == t) return d;
  die("output dtype %d has no descriptor", static_cast<int>(t));
}
const char* out_name(OutType t) { return out_desc(t).name; }

// n elements of (T)v[i], as the device stores them (the low bytes of the bits, little-endian).
std::vector<unsigned char> pack_as(const OutDesc& d, const std::vector<double>& v) {
  std::vector<unsigned char> bytes(v.size() * d.size);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint64_t b = d.bits_of(v[i]);
    std::memcpy(bytes.data() + i * d.size, &b, d.size);
  }
  return bytes;
}

// The bits of one stored element of `size` bytes, zero-extended.
uint64_t bits_at(const unsigned char* p, size_t size) {
  uint64_t b = 0;
  std::memcpy(&b, p, size);
  return b;
}

// ---------------------------------------------------------------- utilities

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

std::string json_num(double v, int prec = 3) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

// A table cell: the value, or "-" where there is none (NaN).
std::string cell(double v, int width, int prec) {
  char b[64];
  if (std::isfinite(v)) std::snprintf(b, sizeof b, "%*.*f", width, prec, v);
  else std::snprintf(b, sizeof b, "%*s", width, "-");
  return b;
}

std::string json_str(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    r += c;
  }
  return r + "\"";
}



// ------------------------------------------------------------ device buffers
struct DevBuf {
  void* p = nullptr;
  DevBuf() = default;
  explicit DevBuf(size_t bytes) { CK_CUDA(cudaMalloc(&p, std::max<size_t>(bytes, 1))); }
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  DevBuf(DevBuf&& o) noexcept : p(o.p) { o.p = nullptr; }
  DevBuf& operator=(DevBuf&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  DevBuf(const DevBuf&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(p); }
};


// ------------------------------------------------------------------- results
struct Row {
  Shape s;
  OutType out;
  // Isolated and back-to-back timings (NaN where the method did not run).
  Timing sq, lt_int32, lt_scaled, dyn, read, read_dep;
  Energy sq_e, lt_int32_e, lt_scaled_e;
  double floor_us = NAN, dyn_floor_us = NAN;
  double f64_vs_f32 = NAN;  // f64 rows: f32 sq_us / f64 sq_us of the same shape
  std::string kernel, dyn_kernel, lt_note;
  int lt_algos_tried = 0;
  int copies = 0;
  std::string check = "ok";
};

struct Options {
  std::string shapes_path = "bench/shapes.csv";
  std::vector<std::string> filters;
  std::vector<int64_t> ms;
  std::vector<OutType> outs = {OutType::F32, OutType::BF16, OutType::F64};  // kOutDescs order
  bool quick = false;
  bool dynamic = true;
  bool energy = false;
  std::string json_path;
};

[[noreturn]] void usage(const char* argv0, int code) {
  std::printf(
      "usage: %s [shapes.csv] [--filter TAG[,TAG..]] [--m M[,M..]] [--dtypes f32,bf16,f64]\n"
      "          [--quick] [--json PATH] [--no-dynamic] [--energy]\n"
      "  shapes.csv   tag,m,n,k per line (default bench/shapes.csv)\n"
      "  --filter     keep shapes whose tag contains one of these substrings\n"
      "  --m          keep shapes with one of these M\n"
      "  --dtypes     output dtypes to measure (default f32,bf16,f64; they run in that order)\n"
      "  --quick      M in {1,16,128,1024,8192} and squares 4096/8192, fewer runs\n"
      "  --json       output path (default $OUT/<gpu>.json, else bench/results/<gpu>.json)\n"
      "  --no-dynamic skip the dynamic plan (SQ_OP_QUANTIZED_LINEAR, bf16 rows)\n"
      "  --energy     also time sq, cuBLASLt and cuBLASLt + scale sustained (about 1 s each, twice)\n"
      "               with NVML's energy counter, on rows whose runs take >= 100 us\n",
      argv0);
  std::exit(code);
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
      const auto names = split(next(), ',');
      std::string known;
      for (const OutDesc& d : kOutDescs) known += std::string(known.empty() ? "" : ", ") + d.name;
      for (const auto& v : names)
        if (std::none_of(std::begin(kOutDescs), std::end(kOutDescs),
                         [&](const OutDesc& d) { return v == d.name; }))
          die("bad --dtypes value '%s' (%s)", v.c_str(), known.c_str());
      if (names.empty()) die("--dtypes is empty");
      o.outs.clear();  // each named dtype once, in kOutDescs order
      for (const OutDesc& d : kOutDescs)
        if (std::find(names.begin(), names.end(), d.name) != names.end()) o.outs.push_back(d.type);
    } else if (a == "--quick") o.quick = true;
    else if (a == "--no-dynamic") o.dynamic = false;
    else if (a == "--energy") o.energy = true;
    else if (a == "--json") o.json_path = next();
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
      return std::find(std::begin(kQuickSquares), std::end(kQuickSquares), s.m) !=
             std::end(kQuickSquares);
    return std::find(std::begin(kQuickMs), std::end(kQuickMs), s.m) != std::end(kQuickMs);
  }
  return true;
}

// ---------------------------------------------------------------- the bench
struct Context {
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  DevBuf lt_ws;
  DevBuf diff;  // [0] count, [1] first index
  DevBuf sink;  // read_kernel's store
  int num_sms = 0;
  int sm = 0;  // compute capability, major * 10 + minor
  size_t l2_bytes = 0;
  double copy_tbps = NAN;
  double target_ms = kTargetMs;
  int max_runs = kMaxRuns;
  double host_run_us = NAN;
  double host_launch_us = NAN;  // the bare launch (host_launch_us()), measured beside host_run_us
  std::string host_run_shape;
  Timing empty;  // an empty kernel timed as every method is: the fixed cost of one run
  Nvml nvml;     // --energy: opened in main
  bool energy = false;  // --energy and NVML opened
  double power_limit_w = NAN;
  int failures = 0;
};

double measure_copy_tbps(Context& c, Timer& timer) {
  DevBuf src(kCopyBwBytes), dst(kCopyBwBytes);
  CK_CUDA(cudaMemsetAsync(src.p, 1, kCopyBwBytes, c.stream));
  auto launch = [&](int) {
    CK_CUDA(cudaMemcpyAsync(dst.p, src.p, kCopyBwBytes, cudaMemcpyDeviceToDevice, c.stream));
  };
  for (int i = 0; i < kWarmupRuns; ++i) launch(i);
  CK_CUDA(cudaStreamSynchronize(c.stream));
  const double us = median(timer.time(kCopyBwRuns, launch));
  return 2.0 * static_cast<double>(kCopyBwBytes) / (us * 1e-6) / 1e12;
}

// Bitwise comparison of two device arrays of n elements of `elem` bytes; mismatch count.
unsigned long long device_diff(Context& c, const void* a, const void* b, size_t n, size_t elem,
                               unsigned long long* first) {
  const unsigned long long init[2] = {0, ~0ull};
  CK_CUDA(cudaMemcpyAsync(c.diff.p, init, sizeof init, cudaMemcpyHostToDevice, c.stream));
  auto* cnt = c.diff.as<unsigned long long>();
  switch (elem) {
    case 8:
      count_diff<uint64_t><<<grid_for(n), kThreads, 0, c.stream>>>(
          static_cast<const uint64_t*>(a), static_cast<const uint64_t*>(b), n, cnt, cnt + 1);
      break;
    case 4:
      count_diff<uint32_t><<<grid_for(n), kThreads, 0, c.stream>>>(
          static_cast<const uint32_t*>(a), static_cast<const uint32_t*>(b), n, cnt, cnt + 1);
      break;
    case 2:
      count_diff<uint16_t><<<grid_for(n), kThreads, 0, c.stream>>>(
          static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b), n, cnt, cnt + 1);
      break;
    default: die("device_diff: no comparison for %zu-byte elements", elem);
  }
  CK_CUDA(cudaGetLastError());
  unsigned long long out[2];
  CK_CUDA(cudaMemcpyAsync(out, c.diff.p, sizeof out, cudaMemcpyDeviceToHost, c.stream));
  CK_CUDA(cudaStreamSynchronize(c.stream));
  *first = out[1];
  return out[0];
}

// Copies on `stream` (the benchmark's non-blocking stream), then waits for it.
template <typename T>
void copy_to_host(cudaStream_t stream, T* dst, const void* src, size_t count) {
  CK_CUDA(cudaMemcpyAsync(dst, src, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
  CK_CUDA(cudaStreamSynchronize(stream));
}

// Sampled (m, n) positions: the four corners and random ones.
std::vector<std::pair<int64_t, int64_t>> sample_positions(const Shape& s, uint64_t seed) {
  std::vector<std::pair<int64_t, int64_t>> p = {
      {0, 0}, {0, s.n - 1}, {s.m - 1, 0}, {s.m - 1, s.n - 1}};
  std::mt19937_64 rng(seed);
  for (int i = 0; i < kRandomSamples; ++i)
    p.push_back({static_cast<int64_t>(rng() % static_cast<uint64_t>(s.m)),
                 static_cast<int64_t>(rng() % static_cast<uint64_t>(s.n))});
  return p;
}

int32_t host_dot(const std::vector<int8_t>& a, const std::vector<int8_t>& w) {
  int64_t acc = 0;
  for (size_t i = 0; i < a.size(); ++i) acc += int64_t{a[i]} * int64_t{w[i]};
  if (acc > INT32_MAX || acc < INT32_MIN) die("host reference: int32 overflow (K too large)");
  return static_cast<int32_t>(acc);
}

// SQ_OP_QUANTIZE_DYNAMIC of one bf16 row, no smoothing, S = bf16 (C = f32), per the contract:
// returns scale = (bf16)(amax / 127) and fills q.
sq::num::bf16 host_quantize_row_bf16(const std::vector<uint16_t>& x, std::vector<int8_t>& q) {
  float amax = 0.0f;
  bool nan = false;
  for (auto b : x) {
    const float v = sq::num::to_float(sq::num::bf16{b});
    nan = nan || std::isnan(v);
    amax = std::max(amax, std::fabs(v));
  }
  const sq::num::bf16 scale = sq::num::to_bf16(nan ? static_cast<double>(NAN)
                                                   : static_cast<double>(amax / 127.0f));
  const float sc = sq::num::to_float(scale);
  q.assign(x.size(), 0);
  if (std::isfinite(sc) && sc > 0.0f)
    for (size_t i = 0; i < x.size(); ++i)
      q[i] = sq::num::sat_rne_s8(sq::num::to_float(sq::num::bf16{x[i]}) / sc);
  return scale;
}

void run_shape(Context& c, Timer& timer, const Options& opt, const Shape& s,
               std::vector<Row>& rows, bool first_shape) {
  const int64_t M = s.m, N = s.n, K = s.k;
  const size_t MK = size_t(M) * size_t(K), NK = size_t(N) * size_t(K), MN = size_t(M) * size_t(N);
  const uint64_t seed = mix64(std::hash<std::string>{}(s.tag) ^ mix64(M) ^ mix64(N * 31 + K));

  // Output element sizes of the dtypes measured: buffers hold the largest (f64: 8 bytes).
  size_t min_osz = sizeof(int32_t), max_osz = 0;  // cuBLASLt int32 is timed too
  for (OutType ot : opt.outs) {
    min_osz = std::min(min_osz, out_desc(ot).size);
    max_osz = std::max(max_osz, out_desc(ot).size);
  }
  // Copies: the smallest working set of any timed method (act + weight + its output: 2 bytes
  // per element for bf16, 4 for int32 and f32, 8 for f64) times the copy count exceeds
  // kRotationL2Multiple x L2.
  const int copies = rotation_copies(double(MK + NK + min_osz * MN), c.l2_bytes);

  std::vector<DevBuf> act, wgt, out, acc, x;
  for (int i = 0; i < copies; ++i) {
    act.emplace_back(MK);
    wgt.emplace_back(NK);
    out.emplace_back(max_osz * MN);
    acc.emplace_back(sizeof(int32_t) * MN);
    if (opt.dynamic) x.emplace_back(2 * MK);
    fill_s8<<<grid_for(MK), kThreads, 0, c.stream>>>(act[i].as<int8_t>(), MK, seed + 2 * i);
    fill_s8<<<grid_for(NK), kThreads, 0, c.stream>>>(wgt[i].as<int8_t>(), NK, seed + 2 * i + 1);
    if (opt.dynamic)
      fill_x_bf16<<<grid_for(MK), kThreads, 0, c.stream>>>(x[i].as<__nv_bfloat16>(), M, K,
                                                             seed ^ 0x5bd1e995ull * (i + 1));
    CK_CUDA(cudaGetLastError());
  }
  DevBuf ref(max_osz * MN), scratch(max_osz * std::max<int64_t>(M, 1));

  // Scales: random positive doubles; each dtype's buffers hold (T)value, and the host reference
  // rounds the same doubles to T (OutDesc::bits_of, OutDesc::ref_bits).
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> wdist(kWeightScaleLo, kWeightScaleHi);
  std::uniform_real_distribution<double> adist(kActScaleLo, kActScaleHi);
  const double act_scale = adist(rng);
  std::vector<double> ws(N);
  for (double& w : ws) w = wdist(rng);
  const std::vector<double> rs(M, act_scale);  // the scale kernel's row scales: (T)act_scale

  // Host rows for the sampled reference check (copy 0).
  const auto pos = sample_positions(s, seed ^ 0xabcdefull);
  auto act_row = [&](int64_t m) {
    std::vector<int8_t> r(K);
    copy_to_host(c.stream, r.data(), act[0].as<int8_t>() + m * K, K);
    return r;
  };
  auto wgt_row = [&](int64_t n) {
    std::vector<int8_t> r(K);
    copy_to_host(c.stream, r.data(), wgt[0].as<int8_t>() + n * K, K);
    return r;
  };

  // ---- cuBLASLt int8 TN, int32 out. Column-major view: D[N,M] = W^T(op T of [K,N]) * act[K,M].
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  CK_LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32I, CUDA_R_32I));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  CK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  CK_LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  CK_LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_8I, K, N, K));
  CK_LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8I, K, M, K));
  CK_LT(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32I, N, M, N));
  CK_LT(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws_bytes = kLtWorkspaceBytes;
  CK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &ws_bytes, sizeof ws_bytes));
  cublasLtMatmulHeuristicResult_t heur[kHeuristicAlgos];
  int nheur = 0;
  const cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(c.lt, op, la, lb, lc, lc, pref,
                                                           kHeuristicAlgos, heur, &nheur);
  const int32_t alpha = 1, beta = 0;
  auto lt_call = [&](const cublasLtMatmulAlgo_t* algo, int i) {
    const int j = i % copies;
    return cublasLtMatmul(c.lt, op, &alpha, wgt[j].p, la, act[j].p, lb, &beta, acc[j].p, lc,
                          acc[j].p, lc, algo, c.lt_ws.p, kLtWorkspaceBytes, c.stream);
  };
  const cublasLtMatmulAlgo_t* best = nullptr;
  auto lt_launch = [&](int i) { CK_LT(lt_call(best, i)); };  // run i with the chosen algorithm
  Timing lt_int32;
  std::string lt_note;
  int tried = 0;
  if (hs != CUBLAS_STATUS_SUCCESS || nheur == 0) {
    lt_note = "unsupported (heuristic status " + std::to_string(int(hs)) + ", " +
              std::to_string(nheur) + " algorithms)";
  } else {
    double best_us = INFINITY;
    for (int a = 0; a < nheur; ++a) {
      if (heur[a].state != CUBLAS_STATUS_SUCCESS || heur[a].workspaceSize > kLtWorkspaceBytes)
        continue;
      if (lt_call(&heur[a].algo, 0) != CUBLAS_STATUS_SUCCESS) continue;
      CK_CUDA(cudaStreamSynchronize(c.stream));
      ++tried;
      const double us = median(timer.time(kAlgoTrialRuns, [&](int i) { CK_LT(lt_call(&heur[a].algo, i)); }));
      if (us < best_us) {
        best_us = us;
        best = &heur[a].algo;
      }
    }
    if (!best) lt_note = "unsupported (no heuristic algorithm ran)";
    else
      lt_int32 = timer.measure(lt_launch, c.target_ms, c.max_runs);
  }

  // ---- the plain read of act + weight (read_kernel), once per shape; the dependent read too on
  // sm_90 at M <= kReadSummaryMaxM
  auto launch_read = [&](auto kernel, int i) {
    const int j = i % copies;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = c.sm >= kPdlMinSm ? 1 : 0;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(c.num_sms * kReadBlocksPerSm));
    cfg.blockDim = dim3(kReadThreads);
    cfg.stream = c.stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    CK_CUDA(cudaLaunchKernelEx(&cfg, kernel, act[j].as<const uint4>(), static_cast<size_t>(MK) / 16,
                               wgt[j].as<const uint4>(), static_cast<size_t>(NK) / 16, c.sink.as<uint32_t>()));
  };
  const Timing read = timer.measure([&](int i) { launch_read(read_kernel<false>, i); }, c.target_ms, c.max_runs);
  Timing read_dep;
  if (c.sm >= kPdlMinSm && M <= kReadSummaryMaxM)
    read_dep = timer.measure([&](int i) { launch_read(read_kernel<true>, i); }, c.target_ms, c.max_runs);

  const size_t first_row = rows.size();  // this shape's rows start here
  for (OutType ot : opt.outs) {
    const OutDesc& od = out_desc(ot);
    Row row;
    row.s = s;
    row.out = ot;
    row.copies = copies;
    row.lt_int32 = lt_int32;
    row.read = read;
    row.read_dep = read_dep;
    row.lt_note = lt_note;
    row.lt_algos_tried = tried;
    const size_t osz = od.size;
    // This dtype's weight scales [N] and row scales [M], in T.
    DevBuf d_ws(osz * N), d_rs(osz * M);
    {
      const auto ws_bytes_t = pack_as(od, ws), rs_bytes_t = pack_as(od, rs);
      CK_CUDA(cudaMemcpyAsync(d_ws.p, ws_bytes_t.data(), ws_bytes_t.size(), cudaMemcpyHostToDevice, c.stream));
      CK_CUDA(cudaMemcpyAsync(d_rs.p, rs_bytes_t.data(), rs_bytes_t.size(), cudaMemcpyHostToDevice, c.stream));
      CK_CUDA(cudaStreamSynchronize(c.stream));
    }
    row.floor_us = double(MK + NK + osz * (N + M) + osz * MN) / (c.copy_tbps * 1e12) * 1e6;

    // ---- libsmoothquant, static plan
    sq_plan_desc desc;
    std::memset(&desc, 0, sizeof desc);
    desc.struct_size = sizeof desc;
    desc.op = SQ_OP_SMOOTHQUANT_LINEAR;
    desc.act_dtype = SQ_DTYPE_S8;
    desc.weight_dtype = SQ_DTYPE_S8;
    desc.scale_dtype = od.sq;
    desc.out_dtype = od.sq;
    desc.n = N;
    desc.k = K;
    desc.max_m = M;
    desc.act_scale = act_scale;
    sq_plan plan = nullptr;
    CK_SQ(sq_plan_select(reinterpret_cast<sq_stream>(c.stream), &desc, SQ_PREFERENCE_FASTEST, &plan));
    const char* kname = nullptr;
    CK_SQ(sq_plan_kernel_name(plan, M, &kname));
    row.kernel = kname;
    auto sq_args = [&](int i) {
      const int j = i % copies;
      sq_run_args a;
      std::memset(&a, 0, sizeof a);
      a.struct_size = sizeof a;
      a.m = M;
      a.act = act[j].p;
      a.weight = wgt[j].p;
      a.weight_scale = d_ws.p;
      a.act_scale_scratch = scratch.p;
      a.out = out[j].p;
      return a;
    };
    auto sq_launch = [&](int i) {
      const sq_run_args a = sq_args(i);
      CK_SQ(sq_plan_run(plan, reinterpret_cast<sq_stream>(c.stream), nullptr, 0, &a));
    };

    // ---- cuBLASLt + the separate scale kernel
    auto scale_launch = [&](int j) {  // j < 0: into ref, from acc[0]
      od.scale(acc[j < 0 ? 0 : j].as<int32_t>(), d_rs.p, d_ws.p, j < 0 ? ref.p : out[j].p, M, N,
               c.stream);
    };
    auto lt_scaled_launch = [&](int i) {
      lt_launch(i);
      scale_launch(i % copies);
    };

    // ---- libsmoothquant, dynamic plan (bf16 x -> per-token int8 -> bf16 out), bf16 rows only
    const bool with_dyn = opt.dynamic && ot == OutType::BF16;
    sq_plan dplan = nullptr;
    size_t wsb = 0;
    DevBuf work;
    if (with_dyn) {
      sq_plan_desc dd;
      std::memset(&dd, 0, sizeof dd);
      dd.struct_size = sizeof dd;
      dd.op = SQ_OP_QUANTIZED_LINEAR;
      dd.act_dtype = SQ_DTYPE_BF16;
      dd.weight_dtype = SQ_DTYPE_S8;
      dd.scale_dtype = SQ_DTYPE_BF16;
      dd.out_dtype = SQ_DTYPE_BF16;
      dd.n = N;
      dd.k = K;
      dd.max_m = M;
      CK_SQ(sq_plan_select(reinterpret_cast<sq_stream>(c.stream), &dd, SQ_PREFERENCE_FASTEST, &dplan));
      const char* dname = nullptr;
      CK_SQ(sq_plan_kernel_name(dplan, M, &dname));
      row.dyn_kernel = dname;
      CK_SQ(sq_plan_workspace_size(dplan, &wsb));
      work = DevBuf(wsb);
    }
    auto dyn_launch = [&](int i) {
      sq_run_args a = sq_args(i);  // weight_scale is bf16: the dynamic plan runs on bf16 rows only
      a.act = x[i % copies].p;
      CK_SQ(sq_plan_run(dplan, reinterpret_cast<sq_stream>(c.stream), wsb ? work.p : nullptr, wsb, &a));
    };

    // ---- the timings: the library, cuBLASLt + scale and the dynamic plan, interleaved
    {
      std::vector<std::function<void(int)>> methods = {sq_launch};
      if (best) methods.push_back(lt_scaled_launch);
      if (with_dyn) methods.push_back(dyn_launch);
      const std::vector<Timing> t = timer.measure(methods, c.target_ms, c.max_runs);
      size_t next = 0;
      row.sq = t[next++];
      if (best) row.lt_scaled = t[next++];
      if (with_dyn) row.dyn = t[next++];
    }
    if (c.energy && best && row.sq.b2b_us >= kEnergyMinRunUs) {
      const std::vector<Energy> e = measure_energy(
          c.nvml, c.stream, {sq_launch, lt_launch, lt_scaled_launch},
          {row.sq.b2b_us, row.lt_int32.b2b_us, row.lt_scaled.b2b_us});
      row.sq_e = e[0];
      row.lt_int32_e = e[1];
      row.lt_scaled_e = e[2];
    }

    // ---- checks: poisoned outputs, one run each, sampled host reference, full comparison
    CK_CUDA(cudaMemsetAsync(out[0].p, kPoisonOut, osz * MN, c.stream));
    CK_CUDA(cudaMemsetAsync(ref.p, kPoisonRef, osz * MN, c.stream));
    CK_CUDA(cudaMemsetAsync(scratch.p, kPoisonOut, osz * M, c.stream));
    sq_launch(0);
    if (best) {
      CK_LT(lt_call(best, 0));
      scale_launch(-1);
    }
    CK_CUDA(cudaStreamSynchronize(c.stream));
    int bad = 0;
    for (const auto& [m, n] : pos) {
      const int32_t dot = host_dot(act_row(m), wgt_row(n));
      const uint64_t want = od.ref_bits(dot, act_scale, ws[n]);
      unsigned char g[sizeof(uint64_t)];
      copy_to_host(c.stream, g, static_cast<const char*>(out[0].p) + (size_t(m) * N + n) * osz, osz);
      const uint64_t got = bits_at(g, osz);
      if (want != got) {
        if (bad++ < 3)
          std::fprintf(stderr, "CHECK FAIL %s m=%lld n=%lld k=%lld %s: out[%lld,%lld] = 0x%llx, "
                       "host reference 0x%llx\n", s.tag.c_str(), (long long)M, (long long)N,
                       (long long)K, od.name, (long long)m, (long long)n,
                       (unsigned long long)got, (unsigned long long)want);
      }
    }
    {  // the fused scratch fill: every row holds (T)act_scale
      std::vector<unsigned char> h(osz * M);
      copy_to_host(c.stream, h.data(), scratch.p, h.size());
      const uint64_t want = od.bits_of(act_scale);
      int64_t wrong = 0;
      for (int64_t m = 0; m < M; ++m) wrong += bits_at(h.data() + m * osz, osz) != want;
      if (wrong) {
        ++bad;
        std::fprintf(stderr, "CHECK FAIL %s m=%lld %s: %lld act_scale_scratch entries are not "
                     "(T)act_scale\n", s.tag.c_str(), (long long)M, out_name(ot), (long long)wrong);
      }
    }
    if (best) {
      unsigned long long first = 0;
      const unsigned long long nd = device_diff(c, out[0].p, ref.p, MN, osz, &first);
      if (nd) {
        ++bad;
        std::fprintf(stderr, "CHECK FAIL %s m=%lld n=%lld k=%lld %s: %llu of %zu outputs differ "
                     "from cuBLASLt + scale (first at [%llu,%llu])\n", s.tag.c_str(), (long long)M,
                     (long long)N, (long long)K, out_name(ot), nd, MN, first / N, first % N);
      }
      row.check = "ok";
    } else {
      row.check = "ok (sampled only)";
    }
    if (bad) {
      row.check = "FAIL";
      ++c.failures;
    }

    // ---- host cost of one sq_plan_run call (once, on the first shape's first dtype)
    if (first_shape && std::isnan(c.host_run_us)) {
      const sq_run_args a = sq_args(0);
      c.host_run_us = host_cost_us(c.stream, [&] {
        CK_SQ(sq_plan_run(plan, reinterpret_cast<sq_stream>(c.stream), nullptr, 0, &a));
      });
      c.host_launch_us = host_launch_us(c.stream);
      c.host_run_shape = s.tag + " m=" + std::to_string(M) + " n=" + std::to_string(N) +
                         " k=" + std::to_string(K) + " " + out_name(ot);
    }
    CK_SQ(sq_plan_destroy(plan));

    // ---- the dynamic plan's checks
    if (with_dyn) {
      row.dyn_floor_us = double(2 * MK + NK + 2 * (N + M) + 2 * MN) / (c.copy_tbps * 1e12) * 1e6;

      // check sampled outputs and the per-token scales against the contract on the host
      CK_CUDA(cudaMemsetAsync(out[0].p, kPoisonOut, 2 * MN, c.stream));
      CK_CUDA(cudaMemsetAsync(scratch.p, kPoisonOut, 2 * M, c.stream));
      dyn_launch(0);
      CK_CUDA(cudaStreamSynchronize(c.stream));
      int dbad = 0;
      for (const auto& [m, n] : pos) {
        std::vector<uint16_t> xr(K);
        copy_to_host(c.stream, xr.data(), x[0].as<uint16_t>() + m * K, K);
        std::vector<int8_t> q;
        const sq::num::bf16 sc = host_quantize_row_bf16(xr, q);
        const float scf = sq::num::to_float(sc);
        const int32_t dot = host_dot(q, wgt_row(n));
        const uint64_t want = od.ref_bits(dot, static_cast<double>(scf), ws[n]);
        uint16_t got = 0, got_scale = 0;
        copy_to_host(c.stream, &got, static_cast<const char*>(out[0].p) + (size_t(m) * N + n) * 2, 1);
        copy_to_host(c.stream, &got_scale, static_cast<const char*>(scratch.p) + size_t(m) * 2, 1);
        if (want != got || sc.bits != got_scale) {
          if (dbad++ < 3)
            std::fprintf(stderr, "CHECK FAIL dynamic %s m=%lld n=%lld k=%lld: out[%lld,%lld] = "
                         "0x%x (want 0x%llx), scale[%lld] = 0x%x (want 0x%x)\n", s.tag.c_str(),
                         (long long)M, (long long)N, (long long)K, (long long)m, (long long)n,
                         got, (unsigned long long)want, (long long)m, got_scale, sc.bits);
        }
      }
      {  // every output written (no poison left)
        DevBuf poison(2 * MN);
        CK_CUDA(cudaMemsetAsync(poison.p, kPoisonOut, 2 * MN, c.stream));
        unsigned long long first = 0;
        const unsigned long long same = MN - device_diff(c, out[0].p, poison.p, MN, 2, &first);
        if (same) {
          ++dbad;
          std::fprintf(stderr, "CHECK FAIL dynamic %s m=%lld: %llu outputs still hold the poison\n",
                       s.tag.c_str(), (long long)M, same);
        }
      }
      if (dbad) {
        row.check = "FAIL";
        ++c.failures;
      }
      CK_SQ(sq_plan_destroy(dplan));
    }
    // f64 throughput relative to f32 (f32 runs first: opt.outs is in kOutDescs order)
    if (ot == OutType::F64)
      for (size_t r = first_row; r < rows.size(); ++r)
        if (rows[r].out == OutType::F32) row.f64_vs_f32 = rows[r].sq.iso_us / row.sq.iso_us;
    rows.push_back(row);

    const double tops = 2.0 * double(M) * double(N) * double(K) / (row.sq.iso_us * 1e-6) / 1e12;
    std::printf("%-18s %6lld %6lld %6lld %-4s | sq %9.2f us %7.1f TOPS %5.1f%% floor | "
                "lt32 %s lt+s %s  x%s | b2b sq %s lt+s %s  x%s | dyn %s | %s | %s%s%s%s%s\n",
                s.tag.c_str(), (long long)M, (long long)N, (long long)K, out_name(ot), row.sq.iso_us,
                tops, 100.0 * row.floor_us / row.sq.iso_us, cell(row.lt_int32.iso_us, 9, 2).c_str(),
                cell(row.lt_scaled.iso_us, 9, 2).c_str(),
                cell(row.lt_scaled.iso_us / row.sq.iso_us, 5, 2).c_str(),
                cell(row.sq.b2b_us, 9, 2).c_str(), cell(row.lt_scaled.b2b_us, 9, 2).c_str(),
                cell(row.lt_scaled.b2b_us / row.sq.b2b_us, 5, 2).c_str(),
                cell(row.dyn.iso_us, 9, 2).c_str(), row.kernel.c_str(), row.check.c_str(),
                std::isfinite(row.f64_vs_f32) ? " | f64/f32 " : "",
                std::isfinite(row.f64_vs_f32) ? cell(row.f64_vs_f32, 4, 2).c_str() : "",
                row.lt_note.empty() ? "" : " | cuBLASLt ", row.lt_note.c_str());
    std::fflush(stdout);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(op);
}

void write_json(const std::string& path, const cudaDeviceProp& prop, const Context& c,
                const Options& opt, const std::vector<Row>& rows) {
  std::ostringstream j;
  j << "{\n  \"device\": " << json_str(prop.name) << ",\n"
    << "  \"sm\": " << prop.major * 10 + prop.minor << ",\n"
    << "  \"num_sms\": " << c.num_sms << ",\n"
    << "  \"l2_bytes\": " << c.l2_bytes << ",\n"
    << "  \"library_version\": " << json_str(sq_version_string()) << ",\n"
    << "  \"copy_tbps\": " << json_num(c.copy_tbps, 4) << ",\n"
    << "  \"host_run_us\": " << json_num(c.host_run_us, 3) << ",\n"
    << "  \"host_launch_us\": " << json_num(c.host_launch_us, 3) << ",\n"
    << "  \"empty_kernel_us\": " << json_num(c.empty.iso_us, 3) << ",\n"
    << "  \"empty_kernel_b2b_us\": " << json_num(c.empty.b2b_us, 3) << ",\n"
    << "  \"host_run_shape\": " << json_str(c.host_run_shape) << ",\n"
    << "  \"quick\": " << (opt.quick ? "true" : "false") << ",\n"
    << "  \"power_limit_w\": " << json_num(c.power_limit_w, 1) << ",\n"
    << "  \"timing\": \"*_us: median of CUDA-event-timed isolated runs queued behind a blocking "
       "kernel; *_b2b_us: median over batches of (event-timed " << kB2bMinRuns << ".."
    << kB2bMaxRuns << " consecutive runs) / runs, batches queued behind a blocking kernel; "
       "buffers rotated past 2x L2; sq, cublaslt_scaled and sq_dynamic of a row timed in " << kRounds << " interleaved rounds\",\n"
    << "  \"rows\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const double ops = 2.0 * double(r.s.m) * double(r.s.n) * double(r.s.k);
    j << (i ? ",\n" : "\n") << "    {\"tag\": " << json_str(r.s.tag) << ", \"m\": " << r.s.m
      << ", \"n\": " << r.s.n << ", \"k\": " << r.s.k << ", \"out_dtype\": " << json_str(out_name(r.out))
      << ", \"sq_us\": " << json_num(r.sq.iso_us)
      << ", \"sq_tops\": " << json_num(ops / (r.sq.iso_us * 1e6), 2)
      << ", \"cublaslt_int32_us\": " << json_num(r.lt_int32.iso_us)
      << ", \"cublaslt_scaled_us\": " << json_num(r.lt_scaled.iso_us)
      << ", \"sq_dynamic_us\": " << json_num(r.dyn.iso_us)
      << ", \"sq_b2b_us\": " << json_num(r.sq.b2b_us)
      << ", \"cublaslt_int32_b2b_us\": " << json_num(r.lt_int32.b2b_us)
      << ", \"cublaslt_scaled_b2b_us\": " << json_num(r.lt_scaled.b2b_us)
      << ", \"sq_dynamic_b2b_us\": " << json_num(r.dyn.b2b_us)
      << ", \"read_us\": " << json_num(r.read.iso_us)
      << ", \"read_b2b_us\": " << json_num(r.read.b2b_us)
      << ", \"read_dep_us\": " << json_num(r.read_dep.iso_us)
      << ", \"read_dep_b2b_us\": " << json_num(r.read_dep.b2b_us)
      << ", \"sq_sustained_us\": " << json_num(r.sq_e.us) << ", \"sq_mj\": " << json_num(r.sq_e.mj, 1)
      << ", \"cublaslt_int32_sustained_us\": " << json_num(r.lt_int32_e.us)
      << ", \"cublaslt_int32_mj\": " << json_num(r.lt_int32_e.mj, 1)
      << ", \"cublaslt_scaled_sustained_us\": " << json_num(r.lt_scaled_e.us)
      << ", \"cublaslt_scaled_mj\": " << json_num(r.lt_scaled_e.mj, 1)
      << ", \"floor_us\": " << json_num(r.floor_us)
      << ", \"dynamic_floor_us\": " << json_num(r.dyn_floor_us)
      << ", \"f64_vs_f32\": " << json_num(r.f64_vs_f32, 3)
      << ", \"kernel\": " << json_str(r.kernel)
      << ", \"dynamic_kernel\": " << (r.dyn_kernel.empty() ? "null" : json_str(r.dyn_kernel))
      << ", \"cublaslt_algos_tried\": " << r.lt_algos_tried
      << ", \"cublaslt_note\": " << (r.lt_note.empty() ? "null" : json_str(r.lt_note))
      << ", \"copies\": " << r.copies << ", \"check\": " << json_str(r.check) << "}";
  }
  j << "\n  ]\n}\n";
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) die("cannot create directory '%s': %s", p.parent_path().c_str(), ec.message().c_str());
  }
  std::ofstream f(path, std::ios::trunc);
  if (!f) die("cannot write '%s'", path.c_str());
  f << j.str();
  if (!f.flush()) die("cannot write '%s'", path.c_str());
}

// --energy rows: sustained time and energy per run of each method, and the ratios to sq.
void print_energy(const std::vector<Row>& rows, const Context& c) {
  bool any = false;
  for (const Row& r : rows) any = any || std::isfinite(r.sq_e.mj);
  if (!any) return;
  std::printf("=== energy (--energy: sustained back-to-back runs, about %.0f ms per method x %d rounds; us "
              "and mJ per run, W = mJ / us; power limit %.0f W; x = method / sq) ===\n",
              kEnergyWindowMs, kEnergyRounds, c.power_limit_w);
  std::printf("%-18s %6s %6s %6s %-4s %9s %8s %5s | %9s %8s %5s | %9s %8s %5s | %6s %6s\n", "tag", "m", "n", "k",
              "out", "sq_us", "sq_mJ", "W", "lt32_us", "lt32_mJ", "W", "lt+s_us", "lt+s_mJ", "W", "x_us", "x_mJ");
  for (const Row& r : rows) {
    if (!std::isfinite(r.sq_e.mj)) continue;
    auto w = [](const Energy& e) { return 1000.0 * e.mj / e.us; };
    std::printf("%-18s %6lld %6lld %6lld %-4s %9.1f %8.1f %5.0f | %9.1f %8.1f %5.0f | %9.1f %8.1f %5.0f | %6.3f %6.3f\n",
                r.s.tag.c_str(), (long long)r.s.m, (long long)r.s.n, (long long)r.s.k, out_name(r.out), r.sq_e.us,
                r.sq_e.mj, w(r.sq_e), r.lt_int32_e.us, r.lt_int32_e.mj, w(r.lt_int32_e), r.lt_scaled_e.us,
                r.lt_scaled_e.mj, w(r.lt_scaled_e), r.lt_scaled_e.us / r.sq_e.us, r.lt_scaled_e.mj / r.sq_e.mj);
  }
}

void print_compact(const std::vector<Row>& rows, const Context& c) {
  std::printf("=== compact (us; TOPS of sq; %%floor = floor_us/sq_us at %.2f TB/s; xLt = cuBLASLt "
              "time / sq time; f64/f32 = f32 sq_us / f64 sq_us, target >= %.2f; *_b2b: the same "
              "from back-to-back runs, b2b_us = sq_b2b_us; xRead = read_us / sq_us, the plain read "
              "of act + weight against sq) ===\n",
              c.copy_tbps, kF64TargetRatio);
  std::printf("%-18s %6s %6s %6s %-4s %9s %7s %6s %7s %7s %6s %9s %7s %9s %8s %9s %7s %s\n", "tag", "m",
              "n", "k", "out", "sq_us", "TOPS", "%floor", "xLt32", "xLt+s", "xRead", "b2b_us", "%fl_b2b",
              "xLt+s_b2b", "xRd_b2b", "dyn_us", "f64/f32", "check");
  const Row* worst = nullptr;  // the f64 row with the lowest f64/f32
  int f64_rows = 0, f64_below = 0;
  const Row* worst_decode = nullptr;  // the M <= kDecodeMaxM row with the lowest b2b %floor
  int lt_rows = 0, slower_iso = 0, slower_b2b = 0;  // rows where sq is slower than cuBLASLt+scale
  // M <= kReadSummaryMaxM: the range of read_us / sq_us (isolated, back to back)
  double rd_lo = INFINITY, rd_hi = -INFINITY, rd_b2b_lo = INFINITY, rd_b2b_hi = -INFINITY;
  // M <= kDecodeMaxM rows under kDecodeFloorTarget of the floor isolated, and of those the rows
  // where the plain read is under it too
  int decode_rows = 0, decode_below = 0, decode_read_below = 0;
  // M <= kReadSummaryMaxM, back to back: rows over kSmallMFloorRatio x the floor, and of those the rows
  // where the dependent read is over it too; the range of sq_b2b_us / read_dep_b2b_us
  int small_rows = 0, small_over = 0, small_dep_over = 0;
  double dep_lo = INFINITY, dep_hi = -INFINITY;
  for (const Row& r : rows) {
    const double tops = 2.0 * double(r.s.m) * double(r.s.n) * double(r.s.k) / (r.sq.iso_us * 1e6);
    std::printf("%-18s %6lld %6lld %6lld %-4s %s %s %s %s %s %s %s %s %s %s %s %s %s\n", r.s.tag.c_str(),
                (long long)r.s.m, (long long)r.s.n, (long long)r.s.k, out_name(r.out),
                cell(r.sq.iso_us, 9, 2).c_str(), cell(tops, 7, 1).c_str(),
                cell(100.0 * r.floor_us / r.sq.iso_us, 6, 1).c_str(),
                cell(r.lt_int32.iso_us / r.sq.iso_us, 7, 2).c_str(),
                cell(r.lt_scaled.iso_us / r.sq.iso_us, 7, 2).c_str(),
                cell(r.read.iso_us / r.sq.iso_us, 6, 2).c_str(),
                cell(r.sq.b2b_us, 9, 2).c_str(), cell(100.0 * r.floor_us / r.sq.b2b_us, 7, 1).c_str(),
                cell(r.lt_scaled.b2b_us / r.sq.b2b_us, 9, 2).c_str(),
                cell(r.read.b2b_us / r.sq.b2b_us, 8, 2).c_str(),
                cell(r.dyn.iso_us, 9, 2).c_str(),
                cell(r.f64_vs_f32, 7, 2).c_str(), r.check.c_str());
    if (std::isfinite(r.f64_vs_f32)) {
      ++f64_rows;
      f64_below += r.f64_vs_f32 < kF64TargetRatio;
      if (!worst || r.f64_vs_f32 < worst->f64_vs_f32) worst = &r;
    }
    const double fl_b2b = r.floor_us / r.sq.b2b_us;
    if (r.s.m <= kDecodeMaxM && std::isfinite(fl_b2b) &&
        (!worst_decode || fl_b2b < worst_decode->floor_us / worst_decode->sq.b2b_us))
      worst_decode = &r;
    if (r.s.m <= kReadSummaryMaxM && std::isfinite(r.read.iso_us)) {
      rd_lo = std::min(rd_lo, r.read.iso_us / r.sq.iso_us);
      rd_hi = std::max(rd_hi, r.read.iso_us / r.sq.iso_us);
      rd_b2b_lo = std::min(rd_b2b_lo, r.read.b2b_us / r.sq.b2b_us);
      rd_b2b_hi = std::max(rd_b2b_hi, r.read.b2b_us / r.sq.b2b_us);
    }
    if (r.s.m <= kReadSummaryMaxM && std::isfinite(r.read_dep.b2b_us) && std::isfinite(r.sq.b2b_us)) {
      ++small_rows;
      if (r.sq.b2b_us > kSmallMFloorRatio * r.floor_us) {
        ++small_over;
        small_dep_over += r.read_dep.b2b_us > kSmallMFloorRatio * r.floor_us;
      }
      dep_lo = std::min(dep_lo, r.sq.b2b_us / r.read_dep.b2b_us);
      dep_hi = std::max(dep_hi, r.sq.b2b_us / r.read_dep.b2b_us);
    }
    if (r.s.m <= kDecodeMaxM && std::isfinite(r.floor_us / r.sq.iso_us)) {
      ++decode_rows;
      if (r.floor_us / r.sq.iso_us < kDecodeFloorTarget) {
        ++decode_below;
        decode_read_below += r.floor_us / r.read.iso_us < kDecodeFloorTarget;
      }
    }
    if (std::isfinite(r.lt_scaled.iso_us)) {
      ++lt_rows;
      slower_iso += r.sq.iso_us > r.lt_scaled.iso_us;
      slower_b2b += r.sq.b2b_us > r.lt_scaled.b2b_us;
    }
  }
  if (worst)
    std::printf("f64/f32 throughput: lowest %.2f (%s m=%lld), %d of %d shapes below %.2f\n",
                worst->f64_vs_f32, worst->s.tag.c_str(), (long long)worst->s.m, f64_below,
                f64_rows, kF64TargetRatio);
  if (worst_decode)
    std::printf("back-to-back: M<=%d lowest %%floor %.1f (%s m=%lld %s), ", kDecodeMaxM,
                100.0 * worst_decode->floor_us / worst_decode->sq.b2b_us,
                worst_decode->s.tag.c_str(), (long long)worst_decode->s.m,
                out_name(worst_decode->out));
  else
    std::printf("back-to-back: M<=%d lowest %%floor - (no such rows), ", kDecodeMaxM);
  std::printf("shapes slower than cuBLASLt+scale: %d (isolated) / %d (b2b) of %d rows\n",
              slower_iso, slower_b2b, lt_rows);
  if (std::isfinite(rd_lo))
    std::printf("plain read / sq at M<=%d: %.2f-%.2f isolated, %.2f-%.2f b2b (1 = as fast as reading act + "
                "weight)\n", kReadSummaryMaxM, rd_lo, rd_hi, rd_b2b_lo, rd_b2b_hi);
  if (small_rows > 0)
    std::printf("back-to-back: M<=%d rows over %.2fx the floor: %d of %d (the dependent read itself is over it on %d "
                "of them); sq / dependent read %.2f-%.2f\n", kReadSummaryMaxM, kSmallMFloorRatio, small_over,
                small_rows, small_dep_over, dep_lo, dep_hi);
  if (decode_rows > 0)
    std::printf("isolated: M<=%d rows under %.0f%% of the floor: %d of %d (the plain read itself is under it on "
                "%d of them)\n", kDecodeMaxM, 100.0 * kDecodeFloorTarget, decode_below, decode_rows,
                decode_read_below);
  std::printf("copy_tbps %.3f  host_run_us %.2f (%s; a bare launch %.2f)  empty kernel %.2f us isolated / "
              "%.2f us b2b  failures %d\n", c.copy_tbps, c.host_run_us, c.host_run_shape.c_str(), c.host_launch_us,
              c.empty.iso_us, c.empty.b2b_us, c.failures);
  print_energy(rows, c);
}

}  // namespace

int main(int argc, char** argv) {
  g_tool = "sq_bench";
  const Options opt = parse(argc, argv);
  std::vector<Shape> shapes;
  for (const Shape& s : read_shapes(opt.shapes_path))
    if (keep(opt, s)) shapes.push_back(s);
  if (shapes.empty()) die("no shape of '%s' passes the filters", opt.shapes_path.c_str());

  int dev = 0;
  CK_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK_CUDA(cudaGetDeviceProperties(&prop, dev));
  Context c;
  c.num_sms = prop.multiProcessorCount;
  c.sm = prop.major * 10 + prop.minor;
  c.l2_bytes = static_cast<size_t>(prop.l2CacheSize);
  if (opt.quick) {
    c.target_ms = kQuickTargetMs;
    c.max_runs = kQuickMaxRuns;
  }
  CK_CUDA(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  CK_LT(cublasLtCreate(&c.lt));
  c.lt_ws = DevBuf(kLtWorkspaceBytes);
  c.diff = DevBuf(2 * sizeof(unsigned long long));
  c.sink = DevBuf(sizeof(uint32_t));
  if (opt.energy) {
    c.energy = c.nvml.open(dev);
    if (c.energy) c.power_limit_w = c.nvml.power_limit_w();
    else std::fprintf(stderr, "sq_bench: --energy: %s; no energy measured\n", c.nvml.why().c_str());
  }

  std::string json = opt.json_path;
  if (json.empty()) {
    const char* out_dir = std::getenv("OUT");
    const std::string dir = out_dir && *out_dir ? std::string(out_dir) : std::string("bench/results");
    json = dir + "/" + sanitize(prop.name) + ".json";
  }

  {
    Timer timer(c.stream);
    c.copy_tbps = measure_copy_tbps(c, timer);
    c.empty = timer.measure(
        [&](int) {
          empty_kernel<<<1, 1, 0, c.stream>>>();
          CK_CUDA(cudaGetLastError());
        },
        c.target_ms, c.max_runs);
    std::printf("device %s (sm_%d%d, %d SMs, L2 %zu MB), libsmoothquant %s\n", prop.name,
                prop.major, prop.minor, c.num_sms, c.l2_bytes >> 20, sq_version_string());
    std::printf("copy bandwidth (D2D, read + write): %.3f TB/s; %zu shapes x %zu dtypes%s\n",
                c.copy_tbps, shapes.size(), opt.outs.size(), opt.quick ? " (quick)" : "");
    std::printf("empty kernel: %.2f us isolated, %.2f us back to back (the fixed cost in every "
                "timed run)\n", c.empty.iso_us, c.empty.b2b_us);
    std::vector<Row> rows;
    for (size_t i = 0; i < shapes.size(); ++i) {
      run_shape(c, timer, opt, shapes[i], rows, i == 0);
      write_json(json, prop, c, opt, rows);
    }
    print_compact(rows, c);
    std::printf("json: %s\n", json.c_str());
  }
  cublasLtDestroy(c.lt);
  CK_CUDA(cudaStreamDestroy(c.stream));
  if (c.failures) {
    std::fprintf(stderr, "sq_bench: %d result check(s) FAILED\n", c.failures);
    return 3;
  }
  return 0;
}
