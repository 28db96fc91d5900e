// Tensor-parallel W8A8 decoder MLP over NCCL, bit-identical to one GPU (issue 23).
//
// One Llama-style MLP, y = down(silu(gate(x)) * up(x)) + bias, with int8 weights (per-channel
// scales) and int8 activations (per-token scales), across R GPUs, one process per GPU:
//
//   gate, up: column parallel. Rank r holds rows [r*I/R, (r+1)*I/R) of gate and of up (weights and
//             their per-channel scales), stacked as one [2*I/R, H] weight: [gate_r; up_r], so its
//             output is [M, 2*I/R] = gate columns then up columns, the layout SILU_MUL_QUANTIZE reads.
//             x is replicated; no communication.
//   down:     row parallel. Rank r holds columns [r*I/R, (r+1)*I/R) of down's [H, I] weight and the
//             full H-long per-channel scales (and bias).
//
// Two ways to run down (besides the single-GPU reference, computed on rank 0's GPU):
//
//   exact:  SILU_MUL_QUANTIZE (SQ_QUANT_ABSMAX) on the rank's I/R slice -> per-token abs-max [M] f32
//           -> ncclAllReduce MAX of those M values (as uint32 bit patterns: see below)
//           -> SILU_MUL_QUANTIZE (SQ_QUANT_FROM_ABSMAX): the same per-token scale on every rank, q slice
//           -> SMOOTHQUANT_LINEAR with out_dtype S32 on the K slice: exact int32 partial sums [M, H]
//           -> ncclAllReduce SUM ncclInt32 (exact, in any order)
//           -> SCALE_ACCUMULATORS: the epilogue once (per-token scales, full weight scales, bias)
//           Its output equals the single-GPU chain (SILU_MUL_QUANTIZE dynamic on the whole I, then
//           SCALED_LINEAR) bit for bit, for any R and any NCCL algorithm or protocol.
//   engine: what vLLM / TensorRT-LLM do: SILU_MUL_QUANTIZE dynamic on the rank's slice (its own
//           per-token scales), SCALED_LINEAR with T partial outputs (bias on rank 0 only), ncclAllReduce
//           SUM in T. Its error against the single-GPU result is printed.
//
// NaN and the MAX all-reduce: NCCL's float max is fmaxf, which drops NaN, so a NaN abs-max on one
// rank would vanish. Abs-maxima are +0, positive, +Inf or NaN; ordered as uint32 bit patterns they
// order exactly as floats, with every NaN (either sign) above +Inf. So the all-reduce is ncclMax on
// ncclUint32 over the f32 bits: exact, order-free and NaN-propagating, as the contract's
// "NaN-propagating element-wise max" asks.
//
// Modes:
//   --ranks R        (default 1) NCCL, R processes forked by this program, rank r on GPU r; the
//                    NCCL unique id goes from rank 0 to the others through pipes (no MPI). Timings.
//   --simulate LIST  one process, R virtual ranks (for each R in LIST) on GPU 0, no NCCL: the
//                    all-reduces are done on the host (the same integer max and sum; the engine
//                    path's T sum in rank order). Checks the bit-identity for R the machine cannot
//                    host, on the real kernels of each shard shape; times rank 0's share of the work.
//   --host           with --simulate: the library's host reference kernels, no GPU at all.
//
// NCCL_NVLS_ENABLE=0 is set by this program (the GPU machines require NVLink multicast off).
// Exit status: 0 all checks passed; 1 a check failed or a call failed (with a message); 77 skipped
// (no GPU, fewer GPUs than ranks, built without NCCL, or a library without the 0.2 ops), the reason
// printed on a line starting with "SKIPPED:".
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#ifdef SQ_TP_HAVE_NCCL
#include <nccl.h>
#endif

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "smoothquant/smoothquant.h"

namespace {

// ------------------------------------------------------------------------------------------ errors
int g_rank = -1;  // this process's rank (NCCL mode), for messages

[[noreturn]] void die(int line, const char* fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (g_rank >= 0)
    std::fprintf(stderr, "[rank %d] tp_mlp.cpp:%d: %s\n", g_rank, line, msg);
  else
    std::fprintf(stderr, "tp_mlp.cpp:%d: %s\n", line, msg);
  std::fflush(stdout);
  std::fflush(stderr);
  std::exit(1);
}

#define CHECK_CUDA(call)                                                                              \
  do {                                                                                                \
    const cudaError_t e_ = (call);                                                                    \
    if (e_ != cudaSuccess) die(__LINE__, "%s failed: %s (%s)", #call, cudaGetErrorName(e_), cudaGetErrorString(e_)); \
  } while (0)

#define CHECK_SQ(call)                                                                                \
  do {                                                                                                \
    const sq_status s_ = (call);                                                                      \
    if (s_ != SQ_STATUS_SUCCESS) {                                                                    \
      const std::string m_ = sq_last_error_message(); /* read before any other sq_ call */           \
      die(__LINE__, "%s failed: %s: %s", #call, sq_status_string(s_), m_.c_str());                   \
    }                                                                                                 \
  } while (0)

#ifdef SQ_TP_HAVE_NCCL
#define CHECK_NCCL(call)                                                                              \
  do {                                                                                                \
    const ncclResult_t r_ = (call);                                                                   \
    if (r_ != ncclSuccess) die(__LINE__, "%s failed: %s (%s)", #call, ncclGetErrorString(r_), ncclGetLastError(nullptr)); \
  } while (0)
#endif

constexpr int kSkip = 77;

[[noreturn]] void skip(const char* fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  std::printf("SKIPPED: %s\n", msg);
  std::fflush(stdout);
  std::exit(kSkip);
}

// ------------------------------------------------------------------------------------------- dtypes
size_t dsize(sq_dtype t) {
  switch (t) {
    case SQ_DTYPE_S8: case SQ_DTYPE_U8: return 1;
    case SQ_DTYPE_F16: case SQ_DTYPE_BF16: return 2;
    case SQ_DTYPE_S32: case SQ_DTYPE_F32: return 4;
    case SQ_DTYPE_F64: return 8;
    default: return 0;
  }
}

const char* dname(sq_dtype t) {
  switch (t) {
    case SQ_DTYPE_F16: return "f16";
    case SQ_DTYPE_BF16: return "bf16";
    case SQ_DTYPE_F32: return "f32";
    default: return "?";
  }
}

// Element i of an array of T (f16, bf16 or f32), as a double (exact).
double get_t(sq_dtype t, const void* base, size_t i) {
  const unsigned char* p = static_cast<const unsigned char*>(base) + i * dsize(t);
  switch (t) {
    case SQ_DTYPE_F32: { float v; std::memcpy(&v, p, 4); return v; }
    case SQ_DTYPE_F16: { __half v; std::memcpy(&v, p, 2); return __half2float(v); }
    case SQ_DTYPE_BF16: { __nv_bfloat16 v; std::memcpy(&v, p, 2); return __bfloat162float(v); }
    default: return NAN;
  }
}

// Stores the float v into element i of an array of T, rounded once (RNE).
void set_t(sq_dtype t, void* base, size_t i, float v) {
  unsigned char* p = static_cast<unsigned char*>(base) + i * dsize(t);
  switch (t) {
    case SQ_DTYPE_F32: std::memcpy(p, &v, 4); break;
    case SQ_DTYPE_F16: { const __half h = __float2half_rn(v); std::memcpy(p, &h, 2); break; }
    case SQ_DTYPE_BF16: { const __nv_bfloat16 h = __float2bfloat16_rn(v); std::memcpy(p, &h, 2); break; }
    default: break;
  }
}

// ------------------------------------------------------------------------------------------ options
struct Config {
  int ranks = 1;               // NCCL mode: processes / GPUs
  std::vector<int> simulate;   // non-empty: simulate mode, these R
  bool host = false;           // simulate on the host reference kernels
  int64_t hidden = 4096, inter = 14336;  // Llama-3-8B
  std::vector<int64_t> ms = {1, 16, 128, 1024};
  int reps = 50, warmup = 5;
  bool timing = true;
  sq_dtype t = SQ_DTYPE_BF16;  // x, gate/up output, scales, y
  bool bias = true;
  bool nan_token = false;      // x[0, 0] = NaN: token 0's row is NaN all the way (the NaN rules end to end)
  uint64_t seed = 2026;
  int timeout_s = 900;
};

void usage() {
  std::printf(
      "usage: sq_tp_mlp [--ranks R | --simulate R1,R2,... [--host]] [--small] [--hidden H] [--inter I]\n"
      "                 [--m M1,M2,...] [--reps N] [--warmup N] [--no-time] [--dtype bf16|f16|f32]\n"
      "                 [--no-bias] [--nan-token] [--seed S] [--timeout SECONDS]\n"
      "  --ranks R       NCCL tensor parallelism over R GPUs, one forked process per GPU (default 1)\n"
      "  --simulate LIST R virtual ranks for each R in LIST, in one process on GPU 0, all-reduces on the host\n"
      "  --host          with --simulate: the host reference kernels (no GPU)\n"
      "  --small         hidden 256, intermediate 768, M 1,5,33 (the host test's shapes)\n"
      "  --nan-token     x[0,0] = NaN: token 0 is NaN through the whole MLP on both paths and on one GPU\n"
      "  defaults: hidden 4096, intermediate 14336 (Llama-3-8B), M 1,16,128,1024, bf16, bias, 50 reps\n");
}

std::vector<int64_t> parse_list(const char* s) {
  std::vector<int64_t> v;
  const char* p = s;
  while (*p) {
    char* end = nullptr;
    const long long x = std::strtoll(p, &end, 10);
    if (end == p || x < 1) die(__LINE__, "bad list '%s': expected positive integers separated by commas", s);
    v.push_back(x);
    p = *end == ',' ? end + 1 : end;
    if (*end != ',' && *end != '\0') die(__LINE__, "bad list '%s'", s);
  }
  if (v.empty()) die(__LINE__, "empty list");
  return v;
}

Config parse(int argc, char** argv) {
  Config c;
  bool small = false, m_given = false, shape_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) die(__LINE__, "%s needs a value", a.c_str());
      return argv[++i];
    };
    if (a == "--ranks") c.ranks = static_cast<int>(parse_list(next())[0]);
    else if (a == "--simulate") { for (int64_t r : parse_list(next())) c.simulate.push_back(static_cast<int>(r)); }
    else if (a == "--host") c.host = true;
    else if (a == "--small") small = true;
    else if (a == "--hidden") { c.hidden = parse_list(next())[0]; shape_given = true; }
    else if (a == "--inter") { c.inter = parse_list(next())[0]; shape_given = true; }
    else if (a == "--m") { c.ms = parse_list(next()); m_given = true; }
    else if (a == "--reps") c.reps = static_cast<int>(parse_list(next())[0]);
    else if (a == "--warmup") c.warmup = std::atoi(next());
    else if (a == "--no-time") c.timing = false;
    else if (a == "--no-bias") c.bias = false;
    else if (a == "--nan-token") c.nan_token = true;
    else if (a == "--seed") c.seed = std::strtoull(next(), nullptr, 0);
    else if (a == "--timeout") c.timeout_s = static_cast<int>(parse_list(next())[0]);
    else if (a == "--dtype") {
      const std::string d = next();
      if (d == "bf16") c.t = SQ_DTYPE_BF16;
      else if (d == "f16") c.t = SQ_DTYPE_F16;
      else if (d == "f32") c.t = SQ_DTYPE_F32;
      else die(__LINE__, "--dtype %s: expected bf16, f16 or f32", d.c_str());
    } else if (a == "--help" || a == "-h") { usage(); std::exit(0); }
    else { usage(); die(__LINE__, "unknown argument '%s'", a.c_str()); }
  }
  if (c.host && !shape_given) small = true;  // the host reference kernels: small shapes unless told
  if (small) {
    if (!shape_given) { c.hidden = 256; c.inter = 768; }
    if (!m_given) c.ms = {1, 5, 33};
  }
  if (c.host && c.simulate.empty()) die(__LINE__, "--host needs --simulate (NCCL runs on GPUs)");
  if (c.host) c.timing = false;  // the host reference kernels are not what anyone deploys
  const std::vector<int> rs = c.simulate.empty() ? std::vector<int>{c.ranks} : c.simulate;
  for (int r : rs)
    if (c.inter % r != 0)
      die(__LINE__, "the intermediate size %lld is not divisible by R = %d", (long long)c.inter, r);
  return c;
}

// ------------------------------------------------------------------------------ memory and plans
// Where the work runs: a GPU (device, stream) or the host reference kernels (host = true).
struct Ctx {
  bool host = false;
  int device = 0;
  cudaStream_t stream = nullptr;
};

// An owning buffer in the context's memory space (device memory, or 64-byte aligned host memory).
class Mem {
 public:
  Mem() = default;
  Mem(const Ctx& c, size_t bytes) : host_(c.host), bytes_(bytes) {
    const size_t b = std::max<size_t>(bytes, 64);
    if (host_) {
      p_ = std::aligned_alloc(64, (b + 63) / 64 * 64);
      if (p_ == nullptr) die(__LINE__, "out of host memory (%zu bytes)", b);
    } else {
      CHECK_CUDA(cudaMalloc(&p_, b));
    }
  }
  Mem(const Mem&) = delete;
  Mem& operator=(const Mem&) = delete;
  Mem(Mem&& o) noexcept { *this = std::move(o); }
  Mem& operator=(Mem&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    std::swap(host_, o.host_);
    return *this;
  }
  ~Mem() {
    if (p_ == nullptr) return;
    if (host_) std::free(p_);
    else cudaFree(p_);  // teardown: an error here has nothing left to spoil
  }
  void* p() const { return p_; }
  size_t bytes() const { return bytes_; }
  // Copies in (stream-ordered, then waits: setup only, never in a timed region).
  void upload(const Ctx& c, const void* src, size_t n) {
    if (n > bytes_) die(__LINE__, "upload of %zu bytes into a buffer of %zu", n, bytes_);
    if (host_) { std::memcpy(p_, src, n); return; }
    CHECK_CUDA(cudaMemcpyAsync(p_, src, n, cudaMemcpyHostToDevice, c.stream));
    CHECK_CUDA(cudaStreamSynchronize(c.stream));
  }
  void download(const Ctx& c, void* dst, size_t n) const {
    if (n > bytes_) die(__LINE__, "download of %zu bytes from a buffer of %zu", n, bytes_);
    if (host_) { std::memcpy(dst, p_, n); return; }
    CHECK_CUDA(cudaMemcpyAsync(dst, p_, n, cudaMemcpyDeviceToHost, c.stream));
    CHECK_CUDA(cudaStreamSynchronize(c.stream));
  }
  // 0xFF bytes: NaN in every float dtype, -1 in int8/int32. Stale results cannot pass a check.
  void poison(const Ctx& c) {
    if (host_) std::memset(p_, 0xFF, bytes_);
    else CHECK_CUDA(cudaMemsetAsync(p_, 0xFF, bytes_, c.stream));
  }

 private:
  void* p_ = nullptr;
  bool host_ = false;
  size_t bytes_ = 0;
};

sq_plan_desc desc_of(sq_op op) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = op;
  return d;
}

sq_run_args args_of(int64_t m) {
  sq_run_args a;
  std::memset(&a, 0, sizeof(a));
  a.struct_size = sizeof(a);
  a.m = m;
  return a;
}

// The descriptors this program uses (each as the header's op list describes it).
// x [M,K] of t -> per-token dynamic int8 -> linear, out [M,N] of t.
sq_plan_desc quantized_linear_desc(sq_dtype t, int64_t n, int64_t k, int64_t max_m) {
  sq_plan_desc d = desc_of(SQ_OP_QUANTIZED_LINEAR);
  d.act_dtype = t;
  d.weight_dtype = SQ_DTYPE_S8;
  d.scale_dtype = t;
  d.out_dtype = t;
  d.n = n;
  d.k = k;
  d.max_m = max_m;
  return d;  // quant_mode 0: SQ_QUANT_DYNAMIC, quant_dtype 0: S8
}
// x [M, 2K] of t (gate then up) -> silu(gate) * up -> the quantizer of `mode`.
sq_plan_desc silu_mul_desc(sq_dtype t, int64_t k, int64_t max_m, sq_quant_mode mode) {
  sq_plan_desc d = desc_of(SQ_OP_SILU_MUL_QUANTIZE);
  d.act_dtype = t;
  d.out_dtype = SQ_DTYPE_S8;
  d.scale_dtype = t;  // the per-token scales feed SCALED_LINEAR / SCALE_ACCUMULATORS: [M] of T
  d.k = k;
  d.max_m = max_m;
  d.quant_mode = mode;
  return d;
}
// int8 [M,K] x int8 [N,K] -> exact int32 [M,N] (accumulator only).
sq_plan_desc s32_linear_desc(int64_t n, int64_t k, int64_t max_m) {
  sq_plan_desc d = desc_of(SQ_OP_SMOOTHQUANT_LINEAR);
  d.act_dtype = SQ_DTYPE_S8;
  d.weight_dtype = SQ_DTYPE_S8;
  d.out_dtype = SQ_DTYPE_S32;  // scale_dtype 0, act_scale ignored
  d.n = n;
  d.k = k;
  d.max_m = max_m;
  return d;
}
// The epilogue on given int32 [M,N] accumulators.
sq_plan_desc scale_acc_desc(sq_dtype t, int64_t n, int64_t max_m) {
  sq_plan_desc d = desc_of(SQ_OP_SCALE_ACCUMULATORS);
  d.act_dtype = SQ_DTYPE_S32;
  d.scale_dtype = t;
  d.out_dtype = t;
  d.n = n;
  d.max_m = max_m;  // k = 0
  return d;
}
// int8 [M,K] with the caller's per-token scales x int8 [N,K] -> [M,N] of t.
sq_plan_desc scaled_linear_desc(sq_dtype t, int64_t n, int64_t k, int64_t max_m) {
  sq_plan_desc d = desc_of(SQ_OP_SCALED_LINEAR);
  d.act_dtype = SQ_DTYPE_S8;
  d.weight_dtype = SQ_DTYPE_S8;
  d.scale_dtype = t;
  d.out_dtype = t;
  d.n = n;
  d.k = k;
  d.max_m = max_m;
  return d;
}

// A plan and its own workspace (sq_plan_workspace_size bytes; most plans need none).
class Plan {
 public:
  Plan() = default;
  Plan(const Ctx& c, const sq_plan_desc& d, const char* what) : what_(what) {
    const sq_preference pref = c.host ? SQ_PREFERENCE_HOST_REFERENCE : SQ_PREFERENCE_FASTEST;
    const sq_status st = sq_plan_select(reinterpret_cast<sq_stream>(c.stream), &d, pref, &p_);
    if (st != SQ_STATUS_SUCCESS) {
      const std::string m = sq_last_error_message();
      die(__LINE__, "sq_plan_select(%s) failed: %s: %s", what, sq_status_string(st), m.c_str());
    }
    size_t ws = 0;
    CHECK_SQ(sq_plan_workspace_size(p_, &ws));
    if (ws > 0) ws_ = Mem(c, ws);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  Plan(Plan&& o) noexcept { *this = std::move(o); }
  Plan& operator=(Plan&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(ws_, o.ws_);
    std::swap(what_, o.what_);
    return *this;
  }
  ~Plan() { sq_plan_destroy(p_); }
  void run(const Ctx& c, const sq_run_args& a) const {
    const sq_status st =
        sq_plan_run(p_, reinterpret_cast<sq_stream>(c.stream), ws_.bytes() ? ws_.p() : nullptr, ws_.bytes(), &a);
    if (st != SQ_STATUS_SUCCESS) {
      const std::string m = sq_last_error_message();
      die(__LINE__, "sq_plan_run(%s, m = %lld) failed: %s: %s", what_, (long long)a.m, sq_status_string(st), m.c_str());
    }
  }
  std::string kernel(int64_t m) const {
    const char* name = nullptr;
    return sq_plan_kernel_name(p_, m, &name) == SQ_STATUS_SUCCESS && name ? name : "?";
  }
  sq_plan get() const { return p_; }

 private:
  sq_plan p_ = nullptr;
  Mem ws_;
  const char* what_ = "";
};

// Whether this libsmoothquant provides the 0.2 ops the program needs: one small host plan of each
// kind. A library from before the ops (the header is ahead of the implementation) is a skip, not a
// failure; once these select, every later failure is a real one.
void require_02_ops(sq_dtype t) {
  struct Probe {
    const char* what;
    sq_plan_desc d;
  };
  const Probe probes[] = {
      {"SQ_OP_SILU_MUL_QUANTIZE with SQ_QUANT_ABSMAX", silu_mul_desc(t, 16, 4, SQ_QUANT_ABSMAX)},
      {"SQ_OP_SILU_MUL_QUANTIZE with SQ_QUANT_FROM_ABSMAX", silu_mul_desc(t, 16, 4, SQ_QUANT_FROM_ABSMAX)},
      {"SQ_OP_SILU_MUL_QUANTIZE with SQ_QUANT_DYNAMIC", silu_mul_desc(t, 16, 4, SQ_QUANT_DYNAMIC)},
      {"SQ_OP_SMOOTHQUANT_LINEAR with out_dtype SQ_DTYPE_S32", s32_linear_desc(16, 16, 4)},
      {"SQ_OP_SCALE_ACCUMULATORS", scale_acc_desc(t, 16, 4)},
      {"SQ_OP_SCALED_LINEAR", scaled_linear_desc(t, 16, 16, 4)},
  };
  for (const Probe& p : probes) {
    sq_plan plan = nullptr;
    const sq_status st = sq_plan_select(nullptr, &p.d, SQ_PREFERENCE_HOST_REFERENCE, &plan);
    if (st != SQ_STATUS_SUCCESS) {
      const std::string m = sq_last_error_message();
      skip("this libsmoothquant (%s) does not provide %s (%s dtype) yet: sq_plan_select: %s: %s", sq_version_string(),
           p.what, dname(t), sq_status_string(st), m.c_str());
    }
    sq_plan_destroy(plan);
  }
}

// ------------------------------------------------------------------------------- weights and inputs
// Counter-based random numbers: value i of stream s is a pure function of (seed, s, i), so any
// process or thread regenerates any part of any tensor identically. Uniform in [-1, 1), never all 0.
inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline double uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  const uint64_t h = splitmix64(seed ^ splitmix64(stream * 0x632be59bd9b4e019ull + i));
  return static_cast<double>(h >> 11) * 0x1.0p-52 - 1.0;
}

enum Stream : uint64_t { kGate = 1, kUp = 2, kDown = 3, kX = 4, kBias = 5 };
constexpr double kWeightAmp = 0.05;  // weights uniform in [-0.05, 0.05): about Llama's spread
constexpr double kXAmp = 2.0;
constexpr double kBiasAmp = 0.5;

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body) {
  const int64_t threads =
      std::max<int64_t>(1, std::min<int64_t>({8, static_cast<int64_t>(std::thread::hardware_concurrency()), n}));
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { body(n * t / threads, n * (t + 1) / threads); });
  for (std::thread& th : pool) th.join();
}

// rows x cols f32 weights of `stream`, quantized per output channel by the library's offline helper
// (sq_quantize_weight_per_channel: int8 rows, one scale of T per row), in blocks of rows.
void make_weight(uint64_t seed, uint64_t stream, int64_t rows, int64_t cols, sq_dtype t, int8_t* q, void* scales) {
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    constexpr int64_t kBlock = 64;
    std::vector<float> w(static_cast<size_t>(kBlock * cols));
    for (int64_t b = r0; b < r1; b += kBlock) {
      const int64_t nb = std::min(kBlock, r1 - b);
      for (int64_t i = 0; i < nb * cols; ++i)
        w[static_cast<size_t>(i)] =
            static_cast<float>(kWeightAmp * uniform(seed, stream, static_cast<uint64_t>(b * cols + i)));
      sq_matrix_view v;
      std::memset(&v, 0, sizeof(v));
      v.struct_size = sizeof(v);
      v.dtype = SQ_DTYPE_F32;
      v.rows = nb;
      v.cols = cols;
      v.data = w.data();
      CHECK_SQ(sq_quantize_weight_per_channel(&v, q + b * cols, 0, t,
                                              static_cast<unsigned char*>(scales) + b * dsize(t)));
    }
  });
}

// The whole model on the host: what one GPU holds, and what the shards are cut from.
struct Model {
  int64_t H = 0, I = 0, max_m = 0;
  sq_dtype t = SQ_DTYPE_INVALID;
  std::vector<int8_t> wgu;          // [2I, H]: gate rows, then up rows
  std::vector<unsigned char> sgu;   // [2I] of T
  std::vector<int8_t> wd;           // [H, I]
  std::vector<unsigned char> sd;    // [H] of T
  std::vector<unsigned char> bias;  // [H] of T
  std::vector<unsigned char> x;     // [max_m, H] of T
};

Model make_model(const Config& c) {
  Model m;
  m.H = c.hidden;
  m.I = c.inter;
  m.t = c.t;
  m.max_m = *std::max_element(c.ms.begin(), c.ms.end());
  const size_t ts = dsize(c.t);
  m.wgu.resize(static_cast<size_t>(2 * m.I * m.H));
  m.sgu.resize(static_cast<size_t>(2 * m.I) * ts);
  m.wd.resize(static_cast<size_t>(m.H * m.I));
  m.sd.resize(static_cast<size_t>(m.H) * ts);
  m.bias.resize(static_cast<size_t>(m.H) * ts);
  m.x.resize(static_cast<size_t>(m.max_m * m.H) * ts);
  make_weight(c.seed, kGate, m.I, m.H, c.t, m.wgu.data(), m.sgu.data());
  make_weight(c.seed, kUp, m.I, m.H, c.t, m.wgu.data() + m.I * m.H, m.sgu.data() + m.I * ts);
  make_weight(c.seed, kDown, m.H, m.I, c.t, m.wd.data(), m.sd.data());
  for (int64_t n = 0; n < m.H; ++n)
    set_t(c.t, m.bias.data(), static_cast<size_t>(n), static_cast<float>(kBiasAmp * uniform(c.seed, kBias, n)));
  for (int64_t i = 0; i < m.max_m * m.H; ++i)
    set_t(c.t, m.x.data(), static_cast<size_t>(i), static_cast<float>(kXAmp * uniform(c.seed, kX, i)));
  if (c.nan_token) set_t(c.t, m.x.data(), 0, NAN);
  return m;
}

// Rank r's shard of R: gate_up rows [gate_r; up_r] with their scales, down columns of slice r.
struct Shard {
  std::vector<int8_t> wgu;         // [2*I/R, H]
  std::vector<unsigned char> sgu;  // [2*I/R] of T
  std::vector<int8_t> wd;          // [H, I/R]
};

Shard make_shard(const Model& m, int r, int R) {
  const int64_t Ir = m.I / R, H = m.H;
  const size_t ts = dsize(m.t);
  Shard s;
  s.wgu.resize(static_cast<size_t>(2 * Ir * H));
  s.sgu.resize(static_cast<size_t>(2 * Ir) * ts);
  for (int half = 0; half < 2; ++half) {  // 0: gate, 1: up
    const int64_t src_row = half * m.I + r * Ir;
    std::memcpy(&s.wgu[static_cast<size_t>(half * Ir * H)], &m.wgu[static_cast<size_t>(src_row * H)],
                static_cast<size_t>(Ir * H));
    std::memcpy(&s.sgu[static_cast<size_t>(half * Ir) * ts], &m.sgu[static_cast<size_t>(src_row) * ts],
                static_cast<size_t>(Ir) * ts);
  }
  s.wd.resize(static_cast<size_t>(H * Ir));
  for (int64_t n = 0; n < H; ++n)
    std::memcpy(&s.wd[static_cast<size_t>(n * Ir)], &m.wd[static_cast<size_t>(n * m.I + r * Ir)],
                static_cast<size_t>(Ir));
  return s;
}

// ------------------------------------------------------------------------------ the single-GPU chain
// QUANTIZED_LINEAR (gate_up, [M, 2I]) -> SILU_MUL_QUANTIZE dynamic on the whole I -> SCALED_LINEAR.
struct Single {
  Ctx c;
  int64_t H, I;
  sq_dtype t;
  bool bias;
  Mem x, wgu, sgu, wd, sd, bd;
  Mem gu, xscale, q, ascale, y;
  Plan p_gu, p_silu, p_down;

  Single(const Ctx& ctx, const Model& m, bool with_bias)
      : c(ctx), H(m.H), I(m.I), t(m.t), bias(with_bias),
        x(c, m.x.size()), wgu(c, m.wgu.size()), sgu(c, m.sgu.size()), wd(c, m.wd.size()), sd(c, m.sd.size()),
        bd(c, m.bias.size()),
        gu(c, static_cast<size_t>(m.max_m * 2 * I) * dsize(t)), xscale(c, static_cast<size_t>(m.max_m) * dsize(t)),
        q(c, static_cast<size_t>(m.max_m * I)), ascale(c, static_cast<size_t>(m.max_m) * dsize(t)),
        y(c, static_cast<size_t>(m.max_m * H) * dsize(t)),
        p_gu(c, quantized_linear_desc(t, 2 * I, H, m.max_m), "single: gate_up QUANTIZED_LINEAR"),
        p_silu(c, silu_mul_desc(t, I, m.max_m, SQ_QUANT_DYNAMIC), "single: SILU_MUL_QUANTIZE dynamic"),
        p_down(c, scaled_linear_desc(t, H, I, m.max_m), "single: down SCALED_LINEAR") {
    x.upload(c, m.x.data(), m.x.size());
    wgu.upload(c, m.wgu.data(), m.wgu.size());
    sgu.upload(c, m.sgu.data(), m.sgu.size());
    wd.upload(c, m.wd.data(), m.wd.size());
    sd.upload(c, m.sd.data(), m.sd.size());
    bd.upload(c, m.bias.data(), m.bias.size());
  }
  void gate_up(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = x.p();
    a.weight = wgu.p();
    a.weight_scale = sgu.p();
    a.act_scale_scratch = xscale.p();
    a.out = gu.p();
    p_gu.run(c, a);
  }
  void silu(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = gu.p();
    a.out = q.p();
    a.act_scale_scratch = ascale.p();
    p_silu.run(c, a);
  }
  void down(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = q.p();
    a.act_scale = ascale.p();
    a.weight = wd.p();
    a.weight_scale = sd.p();
    a.bias = bias ? bd.p() : nullptr;
    a.out = y.p();
    p_down.run(c, a);
  }
  void step(int64_t m) const {
    gate_up(m);
    silu(m);
    down(m);
  }
  void poison() {
    gu.poison(c);
    q.poison(c);
    ascale.poison(c);
    y.poison(c);
  }
};

// ----------------------------------------------------------------------------------------- one rank
struct Rank {
  Ctx c;
  int r, R;
  int64_t H, Ir;
  sq_dtype t;
  bool bias;
  Mem x, wgu, sgu, wd, sd, bd;
  Mem gu, xscale;                  // gate_up output [M, 2*Ir] and x's per-token scales
  Mem amax, q, ascale, acc, y;     // exact path
  Mem qe, ascale_e, ye;            // engine path
  Plan p_gu, p_absmax, p_from, p_s32, p_epi, p_silu, p_scaled;

  Rank(const Ctx& ctx, const Model& m, const Shard& s, int rank, int ranks, bool with_bias)
      : c(ctx), r(rank), R(ranks), H(m.H), Ir(m.I / ranks), t(m.t), bias(with_bias),
        x(c, m.x.size()), wgu(c, s.wgu.size()), sgu(c, s.sgu.size()), wd(c, s.wd.size()), sd(c, m.sd.size()),
        bd(c, m.bias.size()),
        gu(c, static_cast<size_t>(m.max_m * 2 * Ir) * dsize(t)), xscale(c, static_cast<size_t>(m.max_m) * dsize(t)),
        amax(c, static_cast<size_t>(m.max_m) * 4), q(c, static_cast<size_t>(m.max_m * Ir)),
        ascale(c, static_cast<size_t>(m.max_m) * dsize(t)), acc(c, static_cast<size_t>(m.max_m * H) * 4),
        y(c, static_cast<size_t>(m.max_m * H) * dsize(t)),
        qe(c, static_cast<size_t>(m.max_m * Ir)), ascale_e(c, static_cast<size_t>(m.max_m) * dsize(t)),
        ye(c, static_cast<size_t>(m.max_m * H) * dsize(t)),
        p_gu(c, quantized_linear_desc(t, 2 * Ir, H, m.max_m), "rank: gate_up QUANTIZED_LINEAR"),
        p_absmax(c, silu_mul_desc(t, Ir, m.max_m, SQ_QUANT_ABSMAX), "rank: SILU_MUL_QUANTIZE abs-max"),
        p_from(c, silu_mul_desc(t, Ir, m.max_m, SQ_QUANT_FROM_ABSMAX), "rank: SILU_MUL_QUANTIZE from abs-max"),
        p_s32(c, s32_linear_desc(H, Ir, m.max_m), "rank: down SMOOTHQUANT_LINEAR S32"),
        p_epi(c, scale_acc_desc(t, H, m.max_m), "rank: SCALE_ACCUMULATORS"),
        p_silu(c, silu_mul_desc(t, Ir, m.max_m, SQ_QUANT_DYNAMIC), "rank: SILU_MUL_QUANTIZE dynamic (engine)"),
        p_scaled(c, scaled_linear_desc(t, H, Ir, m.max_m), "rank: down SCALED_LINEAR (engine)") {
    x.upload(c, m.x.data(), m.x.size());
    wgu.upload(c, s.wgu.data(), s.wgu.size());
    sgu.upload(c, s.sgu.data(), s.sgu.size());
    wd.upload(c, s.wd.data(), s.wd.size());
    sd.upload(c, m.sd.data(), m.sd.size());
    bd.upload(c, m.bias.data(), m.bias.size());
    // The int32 partials are summed over the whole I: the plan's max_k must cover I, not just I/R.
    sq_precision_guarantee g;
    std::memset(&g, 0, sizeof(g));
    g.struct_size = sizeof(g);
    CHECK_SQ(sq_plan_precision_guarantee(p_s32.get(), &g));
    if (g.max_k < m.I)
      die(__LINE__, "the S32 plan's max_k (%lld) is below the full K = %lld: the summed partials could overflow",
          (long long)g.max_k, (long long)m.I);
  }

  // Both paths: gate_up on the replicated x (no communication), columns [gate_r | up_r].
  void gate_up(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = x.p();
    a.weight = wgu.p();
    a.weight_scale = sgu.p();
    a.act_scale_scratch = xscale.p();
    a.out = gu.p();
    p_gu.run(c, a);
  }
  // Exact path.
  void absmax(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = gu.p();
    a.absmax = amax.p();  // the only output
    p_absmax.run(c, a);
  }
  void from_absmax(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = gu.p();
    a.absmax = amax.p();  // input: the all-reduced maxima
    a.out = q.p();
    a.act_scale_scratch = ascale.p();
    p_from.run(c, a);
  }
  void down_s32(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = q.p();
    a.weight = wd.p();
    a.out = acc.p();
    p_s32.run(c, a);
  }
  void epilogue(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = acc.p();
    a.act_scale = ascale.p();
    a.weight_scale = sd.p();
    a.bias = bias ? bd.p() : nullptr;  // every rank holds the full sums: the bias is added once
    a.out = y.p();
    p_epi.run(c, a);
  }
  // Engine path.
  void silu_dynamic(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = gu.p();
    a.out = qe.p();
    a.act_scale_scratch = ascale_e.p();
    p_silu.run(c, a);
  }
  void down_scaled(int64_t m) const {
    sq_run_args a = args_of(m);
    a.act = qe.p();
    a.act_scale = ascale_e.p();
    a.weight = wd.p();
    a.weight_scale = sd.p();
    a.bias = bias && r == 0 ? bd.p() : nullptr;  // summed over ranks: rank 0 only
    a.out = ye.p();
    p_scaled.run(c, a);
  }
  void poison() {
    for (Mem* b : {&gu, &amax, &q, &ascale, &acc, &y, &qe, &ascale_e, &ye}) b->poison(c);
  }
};

// ------------------------------------------------------------------------------------ all-reduces
enum class Red { kMaxBitsU32, kSumS32, kSumT };

struct Comm {
  sq_dtype t = SQ_DTYPE_INVALID;
#ifdef SQ_TP_HAVE_NCCL
  ncclComm_t nccl = nullptr;  // NCCL mode: this process's one rank
  Mem bar;                    // one int32 for barriers
#endif

  // In place on every rank's buffer `buf` (count elements).
  void allreduce(const std::vector<Rank*>& ranks, Mem Rank::*buf, size_t count, Red red) const {
#ifdef SQ_TP_HAVE_NCCL
    if (nccl != nullptr) {
      Rank& rk = *ranks[0];
      void* p = (rk.*buf).p();
      ncclDataType_t type = ncclInt32;
      ncclRedOp_t op = ncclSum;
      switch (red) {
        case Red::kMaxBitsU32: type = ncclUint32; op = ncclMax; break;
        case Red::kSumS32: type = ncclInt32; op = ncclSum; break;
        case Red::kSumT:
          type = t == SQ_DTYPE_BF16 ? ncclBfloat16 : t == SQ_DTYPE_F16 ? ncclFloat16 : ncclFloat32;
          op = ncclSum;
          break;
      }
      CHECK_NCCL(ncclAllReduce(p, p, count, type, op, nccl, rk.c.stream));
      return;
    }
#endif
    simulate(ranks, buf, count, red);
  }

  // Simulated ranks in this process: gather to the host, reduce, copy back to every rank. The integer
  // reductions are those NCCL does (any order gives these bits); the T sum goes in rank order, each
  // addition in f32 rounded once to T (one of the orders NCCL may take).
  void simulate(const std::vector<Rank*>& ranks, Mem Rank::*buf, size_t count, Red red) const {
    const size_t es = red == Red::kSumT ? dsize(t) : 4;
    std::vector<unsigned char> sum(count * es), part(count * es);
    (ranks[0]->*buf).download(ranks[0]->c, sum.data(), sum.size());
    for (size_t r = 1; r < ranks.size(); ++r) {
      (ranks[r]->*buf).download(ranks[r]->c, part.data(), part.size());
      for (size_t i = 0; i < count; ++i) {
        if (red == Red::kSumT) {
          const float s = static_cast<float>(get_t(t, sum.data(), i)) + static_cast<float>(get_t(t, part.data(), i));
          set_t(t, sum.data(), i, s);
        } else {
          uint32_t a, b;
          std::memcpy(&a, &sum[i * 4], 4);
          std::memcpy(&b, &part[i * 4], 4);
          const uint32_t v = red == Red::kMaxBitsU32 ? std::max(a, b) : a + b;  // int32 sum modulo 2^32
          std::memcpy(&sum[i * 4], &v, 4);
        }
      }
    }
    for (Rank* rk : ranks) (rk->*buf).upload(rk->c, sum.data(), sum.size());
  }

  // All ranks reach this point and their streams drain (NCCL mode; a no-op when simulating).
  void barrier(const Rank& rk) const {
#ifdef SQ_TP_HAVE_NCCL
    if (nccl != nullptr) {
      CHECK_NCCL(ncclAllReduce(bar.p(), bar.p(), 1, ncclInt32, ncclSum, nccl, rk.c.stream));
      CHECK_CUDA(cudaStreamSynchronize(rk.c.stream));
      return;
    }
#endif
    if (!rk.c.host) CHECK_CUDA(cudaStreamSynchronize(rk.c.stream));
  }
};

// Marks between the steps of a timed region: records the next of a set of pre-created CUDA events on
// one stream, or does nothing (default).
struct Marks {
  const std::vector<cudaEvent_t>* events = nullptr;
  size_t* next = nullptr;
  cudaStream_t stream = nullptr;
  void operator()() const {
    if (events == nullptr) return;
    if (*next >= events->size()) die(__LINE__, "more marks than events (%zu)", events->size());
    CHECK_CUDA(cudaEventRecord((*events)[(*next)++], stream));
  }
};

// The exact path on every rank of `ranks` (one in NCCL mode, R when simulating).
void exact_step(const std::vector<Rank*>& ranks, const Comm& comm, int64_t m, const Marks& mark = {}) {
  for (Rank* rk : ranks) rk->gate_up(m);
  mark();
  for (Rank* rk : ranks) rk->absmax(m);
  mark();
  comm.allreduce(ranks, &Rank::amax, static_cast<size_t>(m), Red::kMaxBitsU32);
  mark();
  for (Rank* rk : ranks) rk->from_absmax(m);
  mark();
  for (Rank* rk : ranks) rk->down_s32(m);
  mark();
  comm.allreduce(ranks, &Rank::acc, static_cast<size_t>(m * ranks[0]->H), Red::kSumS32);
  mark();
  for (Rank* rk : ranks) rk->epilogue(m);
}
const char* const kExactSegments[] = {"gate_up", "abs-max", "AR max", "from abs-max", "down s32", "AR int32",
                                      "epilogue"};

void engine_step(const std::vector<Rank*>& ranks, const Comm& comm, int64_t m, const Marks& mark = {}) {
  for (Rank* rk : ranks) rk->gate_up(m);
  mark();
  for (Rank* rk : ranks) rk->silu_dynamic(m);
  mark();
  for (Rank* rk : ranks) rk->down_scaled(m);
  mark();
  comm.allreduce(ranks, &Rank::ye, static_cast<size_t>(m * ranks[0]->H), Red::kSumT);
}
const char* const kEngineSegments[] = {"gate_up", "silu dyn", "down", "AR sum"};

void single_step(const Single& s, int64_t m, const Marks& mark = {}) {
  s.gate_up(m);
  mark();
  s.silu(m);
  mark();
  s.down(m);
}
const char* const kSingleSegments[] = {"gate_up", "silu dyn", "down"};

// ------------------------------------------------------------------------------------- comparisons
struct Diff {
  size_t n = 0, identical = 0, nan_both = 0, nan_payload = 0, nan_one = 0;
  double max_abs = 0, num = 0, den = 0;
  // Every element bit-identical, except that two NaNs may differ in payload (the contract leaves the
  // payload of a NaN output unspecified).
  bool matches() const { return identical + nan_payload == n; }
  double rel() const { return den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0.0); }
};

Diff compare(sq_dtype t, const std::vector<unsigned char>& y, const std::vector<unsigned char>& ref, size_t n) {
  Diff d;
  d.n = n;
  const size_t ts = dsize(t);
  for (size_t i = 0; i < n; ++i) {
    const bool same = std::memcmp(&y[i * ts], &ref[i * ts], ts) == 0;
    if (same) ++d.identical;
    const double a = get_t(t, y.data(), i), b = get_t(t, ref.data(), i);
    if (std::isnan(a) || std::isnan(b)) {
      if (!(std::isnan(a) && std::isnan(b))) ++d.nan_one;
      else if (++d.nan_both, !same) ++d.nan_payload;
      continue;
    }
    const double e = std::fabs(a - b);
    d.max_abs = std::max(d.max_abs, e);
    d.num += e * e;
    d.den += b * b;
  }
  return d;
}

uint64_t fnv1a(const std::vector<unsigned char>& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char b : v) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

std::vector<unsigned char> fetch(const Ctx& c, const Mem& b, size_t bytes) {
  std::vector<unsigned char> v(bytes);
  b.download(c, v.data(), bytes);
  return v;
}

// ---------------------------------------------------------------------------------------- timings
double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Timing {
  double total_us = NAN;
  std::vector<double> segment_us;  // medians of each segment
};

// Times step(marks) on `stream`: `warmup` untimed runs, then `reps` runs with an event before and after
// each (the total), then `reps` runs with events between the segments too (the breakdown). Nothing in
// the timed runs waits on the host; barrier() lines the ranks up before each series.
Timing time_step(cudaStream_t stream, int reps, int warmup, size_t segments,
                 const std::function<void(const Marks&)>& step, const std::function<void()>& barrier) {
  Timing tm;
  for (int i = 0; i < warmup; ++i) step(Marks{});
  barrier();
  std::vector<cudaEvent_t> ev(static_cast<size_t>(2 * reps));
  for (cudaEvent_t& e : ev) CHECK_CUDA(cudaEventCreate(&e));
  for (int i = 0; i < reps; ++i) {
    CHECK_CUDA(cudaEventRecord(ev[static_cast<size_t>(2 * i)], stream));
    step(Marks{});
    CHECK_CUDA(cudaEventRecord(ev[static_cast<size_t>(2 * i + 1)], stream));
  }
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> totals;
  for (int i = 0; i < reps; ++i) {
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, ev[static_cast<size_t>(2 * i)], ev[static_cast<size_t>(2 * i + 1)]));
    totals.push_back(1000.0 * ms);
  }
  tm.total_us = median(totals);
  for (cudaEvent_t e : ev) CHECK_CUDA(cudaEventDestroy(e));
  // The breakdown: the events between segments cost a little, so the total above is timed without them.
  barrier();
  const size_t per = segments + 1;
  std::vector<cudaEvent_t> marks(static_cast<size_t>(reps) * per);
  for (cudaEvent_t& e : marks) CHECK_CUDA(cudaEventCreate(&e));
  for (int i = 0; i < reps; ++i) {
    size_t next = static_cast<size_t>(i) * per;
    const Marks mk{&marks, &next, stream};
    mk();
    step(mk);
    mk();
    if (next != static_cast<size_t>(i + 1) * per)
      die(__LINE__, "expected %zu marks per step, got %zu", per, next - static_cast<size_t>(i) * per);
  }
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<std::vector<double>> seg(segments);
  for (int i = 0; i < reps; ++i)
    for (size_t s = 0; s < segments; ++s) {
      float ms = 0;
      const size_t b = static_cast<size_t>(i) * per + s;
      CHECK_CUDA(cudaEventElapsedTime(&ms, marks[b], marks[b + 1]));
      seg[s].push_back(1000.0 * ms);
    }
  for (cudaEvent_t e : marks) CHECK_CUDA(cudaEventDestroy(e));
  for (auto& s : seg) tm.segment_us.push_back(median(s));
  return tm;
}

std::string breakdown(const Timing& tm, const char* const* names) {
  std::string s;
  char buf[96];
  for (size_t i = 0; i < tm.segment_us.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%s%s %.1f", i ? ", " : "", names[i], tm.segment_us[i]);
    s += buf;
  }
  return s;
}

void print_header(const Config& c, const char* mode) {
  std::printf("libsmoothquant %s, tensor-parallel W8A8 MLP (%s): hidden %lld, intermediate %lld, %s, %s, seed %llu\n",
              sq_version_string(), mode, (long long)c.hidden, (long long)c.inter, dname(c.t),
              c.bias ? "bias on down" : "no bias", (unsigned long long)c.seed);
}

void print_check(int64_t m, const char* what, const Diff& d) {
  const bool exact = std::strcmp(what, "exact") == 0;
  char nan[96] = "";
  if (d.nan_both) std::snprintf(nan, sizeof(nan), " (%zu NaN in both)", d.nan_both);
  if (d.nan_payload) std::snprintf(nan, sizeof(nan), " (+%zu NaN with another payload)", d.nan_payload);
  if (d.nan_one) std::snprintf(nan, sizeof(nan), " (%zu NaN in only one of the two)", d.nan_one);
  std::printf("  M=%-5lld %-7s %s: %zu/%zu elements bit-identical to one GPU%s; max |diff| %.3g, rel. Frobenius %.3g\n",
              (long long)m, what, d.matches() ? "PASS" : (exact ? "FAIL" : "differs"), d.identical, d.n, nan, d.max_abs,
              d.rel());
}

// -------------------------------------------------------------------------------- simulate mode
int run_simulate(const Config& cfg) {
  Ctx c;
  c.host = cfg.host;
  if (!c.host) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0)
      skip("no usable CUDA GPU (%s); use --host to simulate on the host reference kernels",
           e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
    CHECK_CUDA(cudaSetDevice(0));
    CHECK_CUDA(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  }
  require_02_ops(cfg.t);
  char mode[128];
  std::snprintf(mode, sizeof(mode), "simulated ranks on %s, all-reduces on the host", c.host ? "the host reference kernels" : "GPU 0");
  print_header(cfg, mode);
  if (!c.host) {
    cudaDeviceProp prop{};
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    std::printf("GPU 0: %s\n", prop.name);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Model model = make_model(cfg);
  std::printf("weights generated and quantized in %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  Single single(c, model, cfg.bias);
  const size_t ts = dsize(cfg.t);
  // The single-GPU results, once per M.
  std::vector<std::vector<unsigned char>> refs;
  for (int64_t m : cfg.ms) {
    single.poison();
    single_step(single, m);
    refs.push_back(fetch(c, single.y, static_cast<size_t>(m * model.H) * ts));
  }
  bool ok = true;
  Comm comm;
  comm.t = cfg.t;
  for (int R : cfg.simulate) {
    std::printf("R = %d (slices of %lld)\n", R, (long long)(model.I / R));
    std::vector<std::unique_ptr<Rank>> owned;
    std::vector<Rank*> ranks;
    for (int r = 0; r < R; ++r) {
      owned.push_back(std::make_unique<Rank>(c, model, make_shard(model, r, R), r, R, cfg.bias));
      ranks.push_back(owned.back().get());
    }
    for (size_t mi = 0; mi < cfg.ms.size(); ++mi) {
      const int64_t m = cfg.ms[mi];
      const size_t n = static_cast<size_t>(m * model.H);
      for (Rank* rk : ranks) rk->poison();
      exact_step(ranks, comm, m);
      engine_step(ranks, comm, m);
      Diff worst_exact, engine0;
      for (Rank* rk : ranks) {
        const Diff d = compare(cfg.t, fetch(c, rk->y, n * ts), refs[mi], n);
        if (rk->r == 0 || !d.matches()) worst_exact = d;
        if (!d.matches()) ok = false;
        const Diff e = compare(cfg.t, fetch(c, rk->ye, n * ts), refs[mi], n);
        if (rk->r == 0) engine0 = e;
      }
      print_check(m, "exact", worst_exact);
      print_check(m, "engine", engine0);
      if (!c.host)
        std::printf("           kernels: gate_up %s, down s32 %s (single GPU: %s, %s)\n",
                    ranks[0]->p_gu.kernel(m).c_str(), ranks[0]->p_s32.kernel(m).c_str(), single.p_gu.kernel(m).c_str(),
                    single.p_down.kernel(m).c_str());
    }
    if (cfg.timing && !c.host) {
      // Rank 0's share of the compute at this R (no communication: the all-reduces are left out, and
      // from abs-max reads rank 0's own maxima), against the whole chain on one GPU.
      std::printf("  one GPU's compute per step at R = %d (rank 0's ops only, no all-reduce), median of %d, us:\n", R,
                  cfg.reps);
      Rank& r0 = *ranks[0];
      auto barrier = [&] { CHECK_CUDA(cudaStreamSynchronize(c.stream)); };
      for (int64_t m : cfg.ms) {
        const Timing ts1 = time_step(c.stream, cfg.reps, cfg.warmup, 3, [&](const Marks& mk) { single_step(single, m, mk); }, barrier);
        const Timing te = time_step(c.stream, cfg.reps, cfg.warmup, 5, [&](const Marks& mk) {
          r0.gate_up(m); mk(); r0.absmax(m); mk(); r0.from_absmax(m); mk(); r0.down_s32(m); mk(); r0.epilogue(m);
        }, barrier);
        const Timing tg = time_step(c.stream, cfg.reps, cfg.warmup, 3, [&](const Marks& mk) {
          r0.gate_up(m); mk(); r0.silu_dynamic(m); mk(); r0.down_scaled(m);
        }, barrier);
        std::printf("  M=%-5lld single GPU %8.1f | exact rank %8.1f (%.2fx) | engine rank %8.1f (%.2fx)\n",
                    (long long)m, ts1.total_us, te.total_us, ts1.total_us / te.total_us, tg.total_us,
                    ts1.total_us / tg.total_us);
      }
    }
  }
  std::printf("%s: the exact path is %sbit-identical to one GPU for R in {", ok ? "PASS" : "FAIL", ok ? "" : "NOT ");
  for (size_t i = 0; i < cfg.simulate.size(); ++i) std::printf("%s%d", i ? ", " : "", cfg.simulate[i]);
  std::printf("} and M in {");
  for (size_t i = 0; i < cfg.ms.size(); ++i) std::printf("%s%lld", i ? ", " : "", (long long)cfg.ms[i]);
  std::printf("}\n");
  if (c.stream) CHECK_CUDA(cudaStreamDestroy(c.stream));
  return ok ? 0 : 1;
}

// ------------------------------------------------------------------------------------- NCCL mode
#ifdef SQ_TP_HAVE_NCCL
void set_nvls_off() {
  const char* v = std::getenv("NCCL_NVLS_ENABLE");
  if (v != nullptr && std::strcmp(v, "0") != 0)
    std::fprintf(stderr, "note: NCCL_NVLS_ENABLE=%s overridden to 0 (NVLink multicast stays off)\n", v);
  setenv("NCCL_NVLS_ENABLE", "0", 1);
}

bool read_all(int fd, void* dst, size_t n) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool write_all(int fd, const void* src, size_t n) {
  auto* p = static_cast<const unsigned char*>(src);
  while (n > 0) {
    const ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// The abs-max all-reduce on this NCCL: four per-token maxima where only the last rank holds a NaN
// (0x7fc00000), +Inf, or a NaN with the sign bit set, reduced as ncclUint32 MAX (what the exact path
// does) and, for comparison, as ncclFloat32 MAX. Returns whether the uint32 MAX kept every NaN.
bool nan_max_check(const Comm& comm, const Ctx& c, int rank, int R) {
  const uint32_t kNaN = 0x7fc00000u, kNegNaN = 0xffc00000u, kInf = 0x7f800000u, kOne = 0x3f800000u;
  const bool last = rank == R - 1;
  const uint32_t mine[4] = {last ? kNaN : kOne, last ? kInf : kOne, last ? kNegNaN : kOne, kOne};
  const uint32_t want[4] = {kNaN, kInf, kNegNaN, kOne};
  uint32_t as_u32[4], as_f32[4];
  Mem b(c, 16);
  b.upload(c, mine, 16);
  CHECK_NCCL(ncclAllReduce(b.p(), b.p(), 4, ncclUint32, ncclMax, comm.nccl, c.stream));
  b.download(c, as_u32, 16);
  b.upload(c, mine, 16);
  CHECK_NCCL(ncclAllReduce(b.p(), b.p(), 4, ncclFloat32, ncclMax, comm.nccl, c.stream));
  b.download(c, as_f32, 16);
  const bool ok = std::memcmp(as_u32, want, 16) == 0;
  if (rank == 0)
    std::printf("abs-max all-reduce (one NaN, +Inf, -NaN on rank %d only): ncclUint32 MAX gives %08x %08x %08x %08x "
                "(%s); ncclFloat32 MAX would give %08x %08x %08x %08x\n",
                R - 1, as_u32[0], as_u32[1], as_u32[2], as_u32[3], ok ? "NaN kept, as wanted" : "WRONG", as_f32[0],
                as_f32[1], as_f32[2], as_f32[3]);
  return ok;
}

// One rank's process. Rank 0 decides whether to run (GPUs, library ops), makes the NCCL id and sends
// it down the pipes `id_out` (one per other rank); the others read it from `id_in` (EOF: rank 0 gave
// up, so this rank skips quietly).
int rank_main(const Config& cfg, int rank, int R, const std::vector<int>& id_out, int id_in) {
  g_rank = rank;
  set_nvls_off();
  ncclUniqueId id;
  if (rank == 0) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0)
      skip("no usable CUDA GPU (%s); the NCCL example needs one GPU per rank",
           e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
    if (n < R) skip("R = %d ranks need %d GPUs, this machine has %d", R, R, n);
    require_02_ops(cfg.t);
    CHECK_NCCL(ncclGetUniqueId(&id));
    for (int fd : id_out)
      if (!write_all(fd, &id, sizeof(id))) die(__LINE__, "sending the NCCL id to a rank failed: %s", std::strerror(errno));
    for (int fd : id_out) close(fd);
  } else {
    if (!read_all(id_in, &id, sizeof(id))) return kSkip;  // rank 0 skipped or failed: it says why
    close(id_in);
  }
  Ctx c;
  c.device = rank;
  CHECK_CUDA(cudaSetDevice(rank));
  CHECK_CUDA(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  Comm comm;
  comm.t = cfg.t;
  CHECK_NCCL(ncclCommInitRank(&comm.nccl, R, id, rank));
  comm.bar = Mem(c, 4);
  CHECK_CUDA(cudaMemsetAsync(comm.bar.p(), 0, 4, c.stream));
  if (rank == 0) {
    int v = 0;
    CHECK_NCCL(ncclGetVersion(&v));
    char mode[160];
    std::snprintf(mode, sizeof(mode), "NCCL %d, R = %d process%s", v, R, R > 1 ? "es" : "");
    print_header(cfg, mode);
    for (int d = 0; d < R; ++d) {
      cudaDeviceProp prop{};
      CHECK_CUDA(cudaGetDeviceProperties(&prop, d));
      std::printf("rank %d: GPU %d, %s\n", d, d, prop.name);
    }
    const char* algo = std::getenv("NCCL_ALGO");
    const char* proto = std::getenv("NCCL_PROTO");
    std::printf("NCCL_NVLS_ENABLE=0, NCCL_ALGO=%s, NCCL_PROTO=%s\n", algo ? algo : "(default)", proto ? proto : "(default)");
  }
  bool ok = nan_max_check(comm, c, rank, R);
  const auto t0 = std::chrono::steady_clock::now();
  const Model model = make_model(cfg);
  if (rank == 0)
    std::printf("weights generated and quantized in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  Rank rk(c, model, make_shard(model, rank, R), rank, R, cfg.bias);
  std::unique_ptr<Single> single;
  if (rank == 0) single = std::make_unique<Single>(c, model, cfg.bias);
  const std::vector<Rank*> ranks = {&rk};
  const size_t ts = dsize(cfg.t);
  const int64_t H = model.H;
  Mem hashes(c, static_cast<size_t>(2 * R) * 8), my_hash(c, 16);
  struct Row {
    int64_t m;
    Timing single, exact, engine;
    double exact_max_total = NAN, engine_max_total = NAN;
  };
  std::vector<Row> rows;
  if (rank == 0) std::printf("checks (rank 0's output against the single-GPU chain on GPU 0; all ranks compared by hash):\n");
  for (int64_t m : cfg.ms) {
    const size_t n = static_cast<size_t>(m * H);
    rk.poison();
    std::vector<unsigned char> ref;
    if (rank == 0) {
      single->poison();
      single_step(*single, m);
      ref = fetch(c, single->y, n * ts);
    }
    exact_step(ranks, comm, m);
    const std::vector<unsigned char> y = fetch(c, rk.y, n * ts);
    engine_step(ranks, comm, m);
    const std::vector<unsigned char> ye = fetch(c, rk.ye, n * ts);
    // Every rank must hold the same bits: gather a hash of each rank's two outputs.
    const uint64_t h[2] = {fnv1a(y), fnv1a(ye)};
    my_hash.upload(c, h, sizeof(h));
    CHECK_NCCL(ncclAllGather(my_hash.p(), hashes.p(), 2, ncclUint64, comm.nccl, c.stream));
    std::vector<uint64_t> all(static_cast<size_t>(2 * R));
    hashes.download(c, all.data(), all.size() * 8);
    if (rank == 0) {
      const Diff de = compare(cfg.t, y, ref, n), dg = compare(cfg.t, ye, ref, n);
      if (!de.matches()) ok = false;
      print_check(m, "exact", de);
      print_check(m, "engine", dg);
      bool same_exact = true, same_engine = true;
      for (int r = 1; r < R; ++r) {
        same_exact = same_exact && all[static_cast<size_t>(2 * r)] == all[0];
        same_engine = same_engine && all[static_cast<size_t>(2 * r + 1)] == all[1];
      }
      if (!same_exact) ok = false;
      if (R > 1)
        std::printf("           all %d ranks hold the same output: exact %s, engine %s\n", R, same_exact ? "yes" : "NO",
                    same_engine ? "yes" : "no");
      std::printf("           kernels: gate_up %s, down s32 %s, engine down %s (single GPU: %s, %s)\n",
                  rk.p_gu.kernel(m).c_str(), rk.p_s32.kernel(m).c_str(), rk.p_scaled.kernel(m).c_str(),
                  single->p_gu.kernel(m).c_str(), single->p_down.kernel(m).c_str());
    }
    if (!cfg.timing) continue;
    Row row;
    row.m = m;
    auto barrier = [&] { comm.barrier(rk); };
    barrier();
    if (rank == 0)
      row.single = time_step(c.stream, cfg.reps, cfg.warmup, 3, [&](const Marks& mk) { single_step(*single, m, mk); },
                             [&] { CHECK_CUDA(cudaStreamSynchronize(c.stream)); });
    barrier();
    row.exact = time_step(c.stream, cfg.reps, cfg.warmup, 7, [&](const Marks& mk) { exact_step(ranks, comm, m, mk); }, barrier);
    barrier();
    row.engine = time_step(c.stream, cfg.reps, cfg.warmup, 4, [&](const Marks& mk) { engine_step(ranks, comm, m, mk); }, barrier);
    // The slowest rank's totals.
    const double mine[2] = {row.exact.total_us, row.engine.total_us};
    Mem tin(c, 16), tall(c, static_cast<size_t>(2 * R) * 8);
    tin.upload(c, mine, sizeof(mine));
    CHECK_NCCL(ncclAllGather(tin.p(), tall.p(), 2, ncclFloat64, comm.nccl, c.stream));
    std::vector<double> t(static_cast<size_t>(2 * R));
    tall.download(c, t.data(), t.size() * 8);
    row.exact_max_total = row.engine_max_total = 0;
    for (int r = 0; r < R; ++r) {
      row.exact_max_total = std::max(row.exact_max_total, t[static_cast<size_t>(2 * r)]);
      row.engine_max_total = std::max(row.engine_max_total, t[static_cast<size_t>(2 * r + 1)]);
    }
    rows.push_back(row);
  }
  if (rank == 0 && cfg.timing) {
    std::printf("\ntime per MLP step, us (CUDA events on rank 0's stream, median of %d after %d warm-up; "
                "'slowest' = the slowest rank's median):\n", cfg.reps, cfg.warmup);
    std::printf("  %-6s %10s %10s %8s %10s %8s %14s %14s\n", "M", "single", "exact", "slowest", "engine", "slowest",
                "AR bytes exact", "AR bytes eng.");
    for (const Row& r : rows) {
      const long long exact_bytes = r.m * 4 + r.m * H * 4, engine_bytes = r.m * H * static_cast<long long>(ts);
      std::printf("  %-6lld %10.1f %10.1f %8.1f %10.1f %8.1f %14lld %14lld\n", (long long)r.m, r.single.total_us,
                  r.exact.total_us, r.exact_max_total, r.engine.total_us, r.engine_max_total, exact_bytes, engine_bytes);
    }
    std::printf("breakdown (medians of each segment, us):\n");
    for (const Row& r : rows) {
      std::printf("  M=%-5lld single: %s\n", (long long)r.m, breakdown(r.single, kSingleSegments).c_str());
      std::printf("           exact:  %s\n", breakdown(r.exact, kExactSegments).c_str());
      std::printf("           engine: %s\n", breakdown(r.engine, kEngineSegments).c_str());
    }
    std::printf("AR bytes: the all-reduce payload per rank (exact: M*4 abs-max + M*H*4 int32; engine: M*H*%zu); "
                "a ring moves 2(R-1)/R times that over each link\n", ts);
  }
  if (rank == 0)
    std::printf("%s: R = %d, the exact path is %sbit-identical to one GPU on every rank for M in {", ok ? "PASS" : "FAIL",
                R, ok ? "" : "NOT ");
  if (rank == 0) {
    for (size_t i = 0; i < cfg.ms.size(); ++i) std::printf("%s%lld", i ? ", " : "", (long long)cfg.ms[i]);
    std::printf("}\n");
  }
  std::fflush(stdout);
  // Every rank agrees on the verdict before tearing down (rank 0 knows it).
  int32_t verdict = ok ? 0 : 1;
  Mem v(c, 4);
  v.upload(c, &verdict, 4);
  CHECK_NCCL(ncclBroadcast(v.p(), v.p(), 1, ncclInt32, 0, comm.nccl, c.stream));
  v.download(c, &verdict, 4);
  CHECK_NCCL(ncclCommDestroy(comm.nccl));
  CHECK_CUDA(cudaStreamDestroy(c.stream));
  return verdict == 0 ? 0 : 1;
}

// Forks R rank processes and waits for them. This process makes no CUDA or NCCL call (a CUDA
// context does not survive fork). A failing rank takes the others down (they may wait in a
// collective forever otherwise); so does the timeout.
int launch(const Config& cfg) {
  set_nvls_off();  // inherited by the ranks (which set it again)
  const int R = cfg.ranks;
  std::vector<int> rd(static_cast<size_t>(R), -1), wr(static_cast<size_t>(R), -1);
  for (int r = 1; r < R; ++r) {
    int fds[2];
    if (pipe(fds) != 0) die(__LINE__, "pipe: %s", std::strerror(errno));
    rd[static_cast<size_t>(r)] = fds[0];
    wr[static_cast<size_t>(r)] = fds[1];
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids(static_cast<size_t>(R), -1);
  for (int r = 0; r < R; ++r) {
    const pid_t pid = fork();
    if (pid < 0) die(__LINE__, "fork: %s", std::strerror(errno));
    if (pid == 0) {
      std::vector<int> out;
      for (int q = 1; q < R; ++q) {
        if (q != r) close(rd[static_cast<size_t>(q)]);
        if (r == 0) out.push_back(wr[static_cast<size_t>(q)]);
        else close(wr[static_cast<size_t>(q)]);
      }
      const int rc = rank_main(cfg, r, R, out, r == 0 ? -1 : rd[static_cast<size_t>(r)]);
      std::fflush(stdout);
      std::fflush(stderr);
      std::exit(rc);
    }
    pids[static_cast<size_t>(r)] = pid;
  }
  for (int r = 1; r < R; ++r) {
    close(rd[static_cast<size_t>(r)]);
    close(wr[static_cast<size_t>(r)]);
  }
  std::vector<int> rc(static_cast<size_t>(R), -1);
  int alive = R;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg.timeout_s);
  auto kill_rest = [&](int sig) {
    for (int r = 0; r < R; ++r)
      if (rc[static_cast<size_t>(r)] < 0) kill(pids[static_cast<size_t>(r)], sig);
  };
  while (alive > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR) die(__LINE__, "waitpid: %s", std::strerror(errno));
    if (pid > 0) {
      const auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end()) continue;
      const int r = static_cast<int>(it - pids.begin());
      rc[static_cast<size_t>(r)] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
      --alive;
      const int code = rc[static_cast<size_t>(r)];
      if (code != 0 && code != kSkip && !killed) {
        if (!WIFEXITED(status))
          std::fprintf(stderr, "rank %d ended by signal %d; stopping the other ranks\n", r, WTERMSIG(status));
        else if (alive > 0)
          std::fprintf(stderr, "rank %d failed (exit %d); stopping the other ranks\n", r, code);
        kill_rest(SIGTERM);
        killed = true;
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "timeout after %d s: stopping the ranks\n", cfg.timeout_s);
      kill_rest(killed ? SIGKILL : SIGTERM);
      killed = true;
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool all_ok = true, skipped = rc[0] == kSkip;
  for (int r = 0; r < R; ++r) all_ok = all_ok && rc[static_cast<size_t>(r)] == 0;
  if (all_ok) return 0;
  if (skipped && !killed) return kSkip;
  for (int r = 0; r < R; ++r)
    if (rc[static_cast<size_t>(r)] != 0 && rc[static_cast<size_t>(r)] != kSkip)
      std::fprintf(stderr, "rank %d: exit %d\n", r, rc[static_cast<size_t>(r)]);
  return 1;
}
#endif  // SQ_TP_HAVE_NCCL

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Config cfg = parse(argc, argv);
  if (!cfg.simulate.empty()) return run_simulate(cfg);
#ifdef SQ_TP_HAVE_NCCL
  return launch(cfg);
#else
  skip("sq_tp_mlp was built without NCCL (configure with -DNCCL_ROOT=<dir with include/nccl.h and lib/libnccl.so.2>); "
       "--simulate works without it");
#endif
}
