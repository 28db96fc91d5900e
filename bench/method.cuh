// sq_bench's timed methods: one small interface (Method) over shared operands (ShapeOperands: rotated
// buffers, scales, host rows for the checks), the shared timer (bench_common.cuh: Timer::measure) and
// the shared report (report.hpp). sq_bench.cu's shape loop only sets methods up, times them, checks
// them and collects their cells; each method lives in its family's file (operands.cu: ShapeOperands):
//   method_sq.cu        sq (static plan), sq_dynamic (dynamic plan)
//   method_cublaslt.cu  cublaslt_int32 (raw int32 GEMM), cublaslt_scaled (+ the separate scale kernel)
//   method_peers.cu     cublaslt_fp8_fast, cublaslt_fp8 (e4m3, per-token x per-channel scales), cublaslt_bf16
//                       (Scope::kPeer: after the shape's rows, interleaved with the library again)
//   method_read.cu      read, read_dep (reference reads), and the empty kernel
//   method_asym.cu      sq_asym (u8 act with a per-tensor zero point, u8 weight with per-channel zero points),
//                       sq_dynamic_asym (asymmetric per-token u8 activations): issue 19
//   method_engine.cu    norm_quant, silu_quant (the fused quantizers against their bandwidth floor), sq_chain
//                       (RMSNORM_QUANTIZE -> SCALED_LINEAR): issue 20; chain_bf16 (method_peers.cu) beside it
// Adding a method: a class derived from Method in its family's file (or a new file), a make_* factory
// declared below, one line in sq_bench.cu's make_methods(), and its fields in bench/README.md; the shape
// loop, the timer and the report do not change.
#pragma once

#include <cuda_runtime.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.cuh"
#include "contract.cuh"
#include "report.hpp"
#include "smoothquant/smoothquant.h"

namespace sqbench {

using contract::OutType;

#define CK_SQ(call)                                                                       \
  do {                                                                                    \
    sq_status s_ = (call);                                                                \
    if (s_ != SQ_STATUS_SUCCESS)                                                          \
      die("%s:%d: %s: %s: %s", __FILE__, __LINE__, #call, sq_status_string(s_),           \
          sq_last_error_message());                                                       \
  } while (0)

// ------------------------------------------------------------------ constants shared by methods
constexpr int kThreads = 256;
constexpr int kMaxFillBlocks = 8192;
constexpr uint8_t kPoisonOut = 0xFF;  // NaN pattern in f32, bf16 and f64
constexpr uint8_t kPoisonRef = 0xFE;  // another pattern: two unwritten outputs differ
constexpr int kRandomSamples = 24;    // sampled output elements checked on the host (plus 4 corners)
constexpr int kPdlMinSm = 90;         // programmatic dependent launch: sm_90 and later

inline unsigned grid_for(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(blocks, kMaxFillBlocks)));
}

// ------------------------------------------------------------------ device buffers
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

// ------------------------------------------------------------------ output dtypes
// Every output dtype T (scale_dtype = out_dtype = T) is one row of kOutDescs; the bench code is the
// same for all of them.
struct OutDesc {
  OutType type;
  const char* name;  // --dtypes value, table and JSON out_dtype
  size_t size;       // bytes per element
  sq_dtype sq;
};
// In the order the dtypes of one shape run (f32 first: f64 rows compare with it).
inline constexpr OutDesc kOutDescs[] = {
    {OutType::F32, "f32", 4, SQ_DTYPE_F32},
    {OutType::BF16, "bf16", 2, SQ_DTYPE_BF16},
    {OutType::F64, "f64", 8, SQ_DTYPE_F64},
};
inline const OutDesc& out_desc(OutType t) {
  for (const OutDesc& d : kOutDescs)
    if (d.type == t) return d;
  die("output dtype %d has no descriptor", static_cast<int>(t));
}

// The bits of one stored element of `size` bytes, zero-extended.
inline uint64_t bits_at(const unsigned char* p, size_t size) {
  uint64_t b = 0;
  std::memcpy(&b, p, size);
  return b;
}

// Copies on `stream` (the benchmark's non-blocking stream), then waits for it.
template <typename T>
void copy_to_host(cudaStream_t stream, T* dst, const void* src, size_t count) {
  CK_CUDA(cudaMemcpyAsync(dst, src, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
  CK_CUDA(cudaStreamSynchronize(stream));
}

// ------------------------------------------------------------------ the process
// What every method may use: the stream, the device's facts, the run's options.
struct Env {
  cudaStream_t stream = nullptr;
  Timer* timer = nullptr;  // the one timer (its run counter rotates the buffers of every method)
  int device = 0;
  int sm = 0;  // compute capability, major * 10 + minor
  int num_sms = 0;
  size_t l2_bytes = 0;
  double copy_tbps = NAN;
  bool dynamic = true;  // the dynamic plan (--no-dynamic: off)
  bool peers = true;    // the peers (--no-peers: off)
  bool asym = true;     // the asymmetric methods (--no-asym: off) ...
  bool asym_all = false;  // ... on every row (--asym-all), else sq_asym on the main set's f32 and bf16 rows and
                          // sq_dynamic_asym on its bf16 rows
  bool engine = true;   // the engine methods: fused quantizers, the chain and its bf16 layer (--no-engine: off)
  bool sq_workspace = true;  // the sq method gives its plan's workspace (--sq-workspace none: off)
  // The host cost of one sq_plan_run call and of a bare launch (the sq method measures them once).
  double host_run_us = NAN, host_launch_us = NAN;
  std::string host_run_shape;
  DevBuf diff;  // device_diff's [count, first index]
};

// Bitwise comparison of two device arrays of n elements of `elem` bytes (2, 4 or 8) on env.stream;
// returns the mismatch count and the first mismatching index.
unsigned long long device_diff(Env& env, const void* a, const void* b, size_t n, size_t elem,
                               unsigned long long* first);

// Median host CPU time (us) of `call` (a function that enqueues work on s): kHostRunCalls calls, each
// timed with the host clock, the stream drained every kHostRunSyncEvery calls.
constexpr int kHostRunCalls = 2000;
constexpr int kHostRunSyncEvery = 64;
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

// ------------------------------------------------------------------ the operands of one shape
// Rotated copies of every operand a method reads or writes: run i uses set i % copies(), and one
// rotation of the smallest timed working set exceeds 2x the L2. The int8 operands, the outputs and the
// check buffers are made at construction; the other operands (int32 accumulators, the bf16 input of the
// dynamic plan, fp8 and bf16 copies of act and weight for the peers, f32 scale vectors) on a method's
// first request, filled from the same values. Host copies of single rows serve the sampled checks.
class ShapeOperands {
 public:
  // out_min_bytes / out_max_bytes: the smallest and largest output element of any timed method.
  ShapeOperands(Env& env, const Shape& s, size_t out_min_bytes, size_t out_max_bytes);
  ShapeOperands(const ShapeOperands&) = delete;
  ShapeOperands& operator=(const ShapeOperands&) = delete;

  Env& env() const { return env_; }
  const Shape& shape() const { return s_; }
  int copies() const { return copies_; }
  int set(int i) const { return i % copies_; }  // the buffer set of run i
  size_t mk() const { return size_t(s_.m) * size_t(s_.k); }
  size_t nk() const { return size_t(s_.n) * size_t(s_.k); }
  size_t mn() const { return size_t(s_.m) * size_t(s_.n); }

  // int8 act [M,K] and weight [N,K] (full-range random), output [M,N] (out_max_bytes per element).
  const int8_t* act(int j) const { return act_[j].as<const int8_t>(); }
  const int8_t* weight(int j) const { return wgt_[j].as<const int8_t>(); }
  void* out(int j) const { return out_[j].p; }
  void* ref() const { return ref_.p; }          // [M,N]: a second output for a check
  void* scratch() const { return scratch_.p; }  // [M] of the largest output type: act_scale_scratch

  // Made on first use, rotated like act and weight:
  int32_t* acc(int j);                      // int32 [M,N] (cuBLASLt's output)
  const void* x_bf16(int j);                // bf16 [M,K]: uniform in (-mag, mag), mag random per row
  const void* act_fp8(int j);               // e4m3 [M,K]: (e4m3)(act * kFp8Spread)
  const void* weight_fp8(int j);            // e4m3 [N,K]: (e4m3)(weight * kFp8Spread)
  const void* act_bf16(int j);              // bf16 [M,K]: (bf16)(act * token_scale[m])
  const void* weight_bf16(int j);           // bf16 [N,K]: (bf16)(weight * weight_scale[n])
  const float* token_scale_f32();           // [M] f32: token_scale (the peers' per-token scales)
  const float* weight_scale_f32();          // [N] f32: (float)weight_scale
  // The asymmetric methods read act and weight's bytes as u8 (the same random bytes: uniform in 0..255).
  int32_t* act_sums_u8(int j);              // [M] int32: sum_k (uint8)act[m,k] (as args->act_sums takes it)
  const int32_t* weight_sums_u8(int j);     // [N] int32: sum_k (uint8)weight[n,k]
  const uint8_t* weight_zp_u8();            // [N] u8: weight_zp() on the device

  // Host values: the static act_scale, the weight scales [N] and per-token scales [M] (doubles; each
  // dtype's buffers hold them rounded to T), and the sampled (m, n) positions of the checks.
  double act_scale() const { return act_scale_; }
  const std::vector<double>& weight_scale() const { return ws_; }
  const std::vector<double>& token_scale() const { return ts_; }
  const std::vector<std::pair<int64_t, int64_t>>& samples() const { return samples_; }
  // Zero points of the asymmetric methods: per output channel [N] (random u8), per tensor (random in 1..255).
  const std::vector<uint8_t>& weight_zp() const { return wzp_; }
  int act_zp() const { return act_zp_; }
  // Host copies of one row (set 0): int8 act/weight, bf16 x, fp8 (raw bytes), bf16 act/weight (bits).
  std::vector<int8_t> act_row(int64_t m) const;
  std::vector<int8_t> weight_row(int64_t n) const;
  std::vector<uint16_t> x_row(int64_t m);
  std::vector<uint8_t> act_fp8_row(int64_t m);
  std::vector<uint8_t> weight_fp8_row(int64_t n);
  std::vector<uint16_t> act_bf16_row(int64_t m);
  std::vector<uint16_t> weight_bf16_row(int64_t n);

 private:
  Env& env_;
  Shape s_;
  uint64_t seed_;
  int copies_;
  double act_scale_;
  std::vector<double> ws_, ts_;
  std::vector<std::pair<int64_t, int64_t>> samples_;
  std::vector<uint8_t> wzp_;
  int act_zp_ = 0;
  std::vector<DevBuf> act_, wgt_, out_;
  DevBuf ref_, scratch_;
  std::vector<DevBuf> acc_, x_, act_fp8_, wgt_fp8_, act_bf16_, wgt_bf16_, act_sums_, wgt_sums_;
  DevBuf ts_f32_, ws_f32_, wzp_dev_;
};

// The sampled positions of a shape as distinct rows and columns: sample s is (rows[at[s].first],
// cols[at[s].second]). The host-plan checks run the host reference kernel on these rows and columns only.
struct SampleIndex {
  std::vector<int64_t> rows, cols;
  std::vector<std::pair<size_t, size_t>> at;
};
SampleIndex sample_index(const ShapeOperands& ops);

// Host copies of rows `rows` of a device matrix of packed rows of row_bytes bytes, concatenated.
std::vector<unsigned char> gather_rows(cudaStream_t stream, const void* base, size_t row_bytes,
                                       const std::vector<int64_t>& rows);

// Runs one plan of `desc` on the host reference kernel (SQ_PREFERENCE_HOST_REFERENCE) on the host pointers of
// `args`, its workspace made here; dies with the library's message when select or run fails. The checks of
// the methods whose formula the benchmark does not mirror (the asymmetric quantizer, the fused ops) use it on
// the sampled rows and columns: the host kernel is the definition of right.
void run_host_plan(const sq_plan_desc& desc, sq_run_args args);

// The descriptor of a linear of shape s (N, K, max_m = M): act and weight dtypes, scales and output T; the
// methods add their act scale, zero points and quantizer mode.
inline sq_plan_desc linear_desc(sq_op op, sq_dtype act, sq_dtype weight, sq_dtype t, const Shape& s) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.op = op;
  d.act_dtype = act;
  d.weight_dtype = weight;
  d.scale_dtype = t;
  d.out_dtype = t;
  d.n = s.n;
  d.k = s.k;
  d.max_m = s.m;
  return d;
}

// Selects `d` on the benchmark's stream (SQ_PREFERENCE_FASTEST). False where the library refuses it: the
// message goes to *note (the method's <key>_note field) and a warning to stderr, and the method is not timed on
// that row (the methods of ops the library may not provide on every device or dtype).
bool select_or_note(Env& env, const sq_plan_desc& d, const std::string& key, const Shape& s, sq_plan* plan,
                    std::string* note);

// One row of a shape: an output dtype T and its T-typed scales (made by the shape loop).
struct RowOperands {
  const OutDesc& od;
  const void* weight_scale;  // [N] of T: (T)weight_scale
  const void* row_scale;     // [M] of T: (T)act_scale on every row (the scale kernel's row scales)
  bool peer_row;             // the peers' row (Scope::kPeer): their group's dtype
  bool main_set = true;      // a row of the main shape set (the engine methods take only those)
};

// The state of one row's checks (run after its timings, methods in registry order).
struct CheckContext {
  ShapeOperands& ops;
  const RowOperands& row;
  int failures = 0;              // checks that failed (each also printed on stderr)
  bool compared_full = false;    // the library's output was compared with cuBLASLt + scale on every element
  const void* sq_out = nullptr;  // the static plan's checked output, for the methods after it
};

// Every element of the [n] array `out` of `elem`-byte elements (2, 4 or 8) was written: none holds kPoisonOut's
// pattern (the array was poisoned before the checked run). A failure is counted in cc and printed.
void check_all_written(Env& env, CheckContext& cc, const char* what, const void* out, size_t n, size_t elem);

// ------------------------------------------------------------------ the interface
enum class Scope {
  kShape,  // timed once per shape, alone, before its rows; the value goes on every row
  kRow,    // timed on every row it takes, the row's methods interleaved (Timer::measure)
  kPeer,   // timed once per shape, after its rows, interleaved with the library set up again on the peer
           // row's dtype (bf16 if measured, else the first): the rows' own groups stay as they were; the
           // value goes on every row of the shape, the library's anchor timing on the peer row
};

// A method's constructor touches no GPU (sq_bench --write-schema builds them all without one).
class Method {
 public:
  Method(std::string key, Scope scope, bool energy, std::vector<std::string> extras)
      : column_{std::move(key), energy, std::move(extras)}, scope_(scope) {}
  virtual ~Method() = default;
  Method(const Method&) = delete;
  Method& operator=(const Method&) = delete;

  const Column& column() const { return column_; }
  const std::string& key() const { return column_.key; }
  Scope scope() const { return scope_; }

  // Prepares the method for a row of the shape (row == nullptr for Scope::kShape). False when it does
  // not take the row (the dtype, the device, an option, the library refusing): it is then not timed.
  virtual bool setup(ShapeOperands& ops, const RowOperands* row) = 0;
  // Enqueues run i on the stream, on buffer set ops.set(i). Only after setup returned true.
  virtual void run(int i) = 0;
  // After the timings: one run on poisoned outputs, compared with a reference. Failures go to cc.
  virtual void check(CheckContext& cc) { (void)cc; }
  // Its extra JSON fields (column().extras) for the row; also called when setup returned false.
  virtual void fields(Cell& cell) const { (void)cell; }
  // Frees what setup made; called after the row (or the shape) and before the next setup.
  virtual void teardown() {}

 private:
  Column column_;
  Scope scope_;
};

using Methods = std::vector<std::unique_ptr<Method>>;

// The methods, one factory each; sq_bench.cu's make_methods() registers them in the order they are timed
// (within a row), checked and written. Checks run in that order: sq publishes its output in
// CheckContext::sq_out, cublaslt_scaled compares with it, and any later check that writes the same
// buffer clears it first.
std::unique_ptr<Method> make_sq_static(Env& env);                   // method_sq.cu: "sq"
std::unique_ptr<Method> make_sq_dynamic(Env& env);                  // method_sq.cu: "sq_dynamic"
std::unique_ptr<Method> make_cublaslt_int32(Env& env);              // method_cublaslt.cu: "cublaslt_int32"
std::unique_ptr<Method> make_cublaslt_scaled(Env& env, Method& int32);  // "cublaslt_scaled", on int32's GEMM
std::unique_ptr<Method> make_read(Env& env, bool dependent);        // method_read.cu: "read", "read_dep"
std::unique_ptr<Method> make_cublaslt_fp8(Env& env, bool fast_accum);  // method_peers.cu: "cublaslt_fp8[_fast]"
std::unique_ptr<Method> make_cublaslt_bf16(Env& env);               // method_peers.cu: "cublaslt_bf16"
std::unique_ptr<Method> make_sq_asym(Env& env);                     // method_asym.cu: "sq_asym"
std::unique_ptr<Method> make_sq_dynamic_asym(Env& env);             // method_asym.cu: "sq_dynamic_asym"
std::unique_ptr<Method> make_norm_quant(Env& env);                  // method_engine.cu: "norm_quant"
std::unique_ptr<Method> make_silu_quant(Env& env);                  // method_engine.cu: "silu_quant"
std::unique_ptr<Method> make_sq_chain(Env& env);                    // method_engine.cu: "sq_chain"
std::unique_ptr<Method> make_chain_bf16(Env& env);                  // method_peers.cu: "chain_bf16"

// The rows of the decode-step chain (sq_chain) and of its bf16 layer (chain_bf16): bf16 out, the main set's
// model shapes (not the squares), M in kChainMs; not with --no-engine.
inline constexpr int64_t kChainMs[] = {1, 8, 16, 32, 64, 128, 256, 512, 1024};
bool chain_row(const Env& env, const ShapeOperands& ops, const RowOperands& row);

// The reference kernels (method_read.cu): an empty kernel (the fixed cost in every timed run), and the
// host time of a bare driver launch of it with the programmatic attribute (NaN where unavailable).
void launch_empty(cudaStream_t s);
double host_launch_us(cudaStream_t s);

}  // namespace sqbench
