// sq_prof: runs one plan (SQ_PREFERENCE_FASTEST) a few times on random operands, for a profiler to pick the
// launches of one run (bench/profile-limiters.sh: ncu --launch-skip (runs - 1) * launches --launch-count launches).
// usage: sq_prof [OP] M N K f32|bf16|f64 [runs, default 3; 0: none]; prints the kernel the plan reports and the
// launches of one run, counted from a CUDA graph of one captured run (a capture launches nothing, so a profiler
// counts only the runs; the staging copy of K % 16 != 0 operands is one more launch [D-stage-unaligned]).
// OP (default static):
//   static        SQ_OP_SMOOTHQUANT_LINEAR, s8 x s8, out T
//   asym          the same with u8 act (per-tensor zero point) and u8 weight (per-channel zero points), the
//                 act row sums and weight sums given (issue 19's sq_asym)
//   dynamic       SQ_OP_QUANTIZED_LINEAR, x of T, SQ_QUANT_DYNAMIC, s8 weight
//   dynamic-asym  the same with SQ_QUANT_DYNAMIC_ASYMMETRIC, u8 q and u8 weight with zero points
//                 (issue 19's sq_dynamic_asym)
//   rmsnorm       SQ_OP_RMSNORM_QUANTIZE of x [M, K] of T with a residual and residual_out, SQ_QUANT_DYNAMIC
//                 (issue 20's norm_quant; N ignored)
//   silu          SQ_OP_SILU_MUL_QUANTIZE of x [M, 2K] of T, SQ_QUANT_DYNAMIC (issue 20's silu_quant; N
//                 ignored)
#include <cuda_runtime_api.h>
#include <smoothquant/smoothquant.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kDefaultRuns = 3;
constexpr double kActScale = 0.01;
constexpr double kEps = 1e-5;  // Llama 3's rms_norm_eps, as the benchmark's norm_quant
constexpr int32_t kActZeroPoint = 128;  // mid-range u8 zero point (issue 19's static rows)
constexpr uint32_t kLcgMul = 1664525u, kLcgAdd = 1013904223u, kSeed = 12345u;
constexpr int kByteShift = 24;
constexpr float kUnit = 1.0f / 16777216.0f;  // 2^-24: 24 random bits to [0, 1)
constexpr int kBf16Shift = 16;               // bf16 = the top half of an f32

struct Op {
  const char* name;
  sq_op op;
  bool u8;       // u8 operands with zero points
  bool float_x;  // the input is x of T (quantized by the plan)
};
constexpr Op kOps[] = {
    {"static", SQ_OP_SMOOTHQUANT_LINEAR, false, false},
    {"asym", SQ_OP_SMOOTHQUANT_LINEAR, true, false},
    {"dynamic", SQ_OP_QUANTIZED_LINEAR, false, true},
    {"dynamic-asym", SQ_OP_QUANTIZED_LINEAR, true, true},
    {"rmsnorm", SQ_OP_RMSNORM_QUANTIZE, false, true},
    {"silu", SQ_OP_SILU_MUL_QUANTIZE, false, true},
};

int die(const char* what) {
  std::fprintf(stderr, "sq_prof: %s: %s\n", what, sq_last_error_message());
  return 1;
}

// The kernel launches of one run: the kernel nodes of a graph captured from it (runs are capturable); -1 on
// failure.
int launches_of_one_run(sq_plan plan, void* workspace, size_t ws_bytes, const sq_run_args& r) {
  cudaStream_t stream = nullptr;
  if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) return -1;
  cudaGraph_t graph = nullptr;
  int kernels = -1;
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
    const sq_status st = sq_plan_run(plan, reinterpret_cast<sq_stream>(stream), workspace, ws_bytes, &r);
    if (cudaStreamEndCapture(stream, &graph) == cudaSuccess && st == SQ_STATUS_SUCCESS) {
      size_t count = 0;
      if (cudaGraphGetNodes(graph, nullptr, &count) == cudaSuccess) {
        std::vector<cudaGraphNode_t> nodes(count);
        if (cudaGraphGetNodes(graph, nodes.data(), &count) == cudaSuccess) {
          kernels = 0;
          for (cudaGraphNode_t node : nodes) {
            cudaGraphNodeType type;
            if (cudaGraphNodeGetType(node, &type) == cudaSuccess && type == cudaGraphNodeTypeKernel) ++kernels;
          }
        }
      }
    }
  }
  if (graph != nullptr) cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  return kernels;
}

size_t dtype_bytes(sq_dtype t) { return t == SQ_DTYPE_F64 ? 8 : (t == SQ_DTYPE_F32 ? 4 : 2); }

uint32_t next(uint32_t* seed) { return *seed = *seed * kLcgMul + kLcgAdd; }

// Device memory of `bytes`, zeroed; nullptr on failure.
void* alloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes == 0 ? 1 : bytes) != cudaSuccess) return nullptr;
  return cudaMemset(p, 0, bytes == 0 ? 1 : bytes) == cudaSuccess ? p : nullptr;
}

// Uniform random bytes (the full int8 / uint8 range) into new device memory.
void* random_bytes(size_t bytes, uint32_t seed) {
  std::vector<uint8_t> h(bytes);
  for (uint8_t& b : h) b = static_cast<uint8_t>(next(&seed) >> kByteShift);
  void* p = alloc(bytes);
  return p && cudaMemcpy(p, h.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess ? p : nullptr;
}

// `count` values of T: uniform in [lo, lo + span) (finite, so the quantizers take their ordinary path).
void* random_values(size_t count, sq_dtype t, uint32_t seed, float lo, float span) {
  const size_t es = dtype_bytes(t);
  std::vector<uint8_t> h(count * es);
  for (size_t i = 0; i < count; ++i) {
    const float v = lo + span * static_cast<float>(next(&seed) >> (32 - 24)) * kUnit;
    if (t == SQ_DTYPE_F64) {
      const double d = v;
      std::memcpy(&h[i * es], &d, es);
    } else if (t == SQ_DTYPE_F32) {
      std::memcpy(&h[i * es], &v, es);
    } else {  // bf16: truncation of the f32 (any finite value will do)
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      const uint16_t b = static_cast<uint16_t>(bits >> kBf16Shift);
      std::memcpy(&h[i * es], &b, es);
    }
  }
  void* p = alloc(h.size());
  return p && cudaMemcpy(p, h.data(), h.size(), cudaMemcpyHostToDevice) == cudaSuccess ? p : nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int a = 1;
  const Op* op = &kOps[0];
  if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
    op = nullptr;
    for (const Op& o : kOps)
      if (std::strcmp(argv[1], o.name) == 0) op = &o;
    if (op == nullptr) {
      std::fprintf(stderr, "sq_prof: unknown op '%s'\n", argv[1]);
      return 2;
    }
    a = 2;
  }
  if (argc < a + 4) {
    std::fprintf(stderr, "usage: sq_prof [static|asym|dynamic|dynamic-asym|rmsnorm|silu] M N K f32|bf16|f64 [runs]\n");
    return 2;
  }
  const int64_t m = std::atoll(argv[a]), n = std::atoll(argv[a + 1]), k = std::atoll(argv[a + 2]);
  const char* tname = argv[a + 3];
  const sq_dtype t = std::strcmp(tname, "bf16") == 0  ? SQ_DTYPE_BF16
                     : std::strcmp(tname, "f64") == 0 ? SQ_DTYPE_F64
                                                      : SQ_DTYPE_F32;
  const int runs = argc > a + 4 ? std::atoi(argv[a + 4]) : kDefaultRuns;
  const size_t es = dtype_bytes(t);
  const bool linear = op->op == SQ_OP_SMOOTHQUANT_LINEAR || op->op == SQ_OP_QUANTIZED_LINEAR;
  const sq_dtype q8 = op->u8 ? SQ_DTYPE_U8 : SQ_DTYPE_S8;

  sq_plan_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.op = op->op;
  d.scale_dtype = t;
  d.max_m = m;
  if (linear) {
    d.act_dtype = op->float_x ? t : q8;
    d.weight_dtype = q8;
    d.out_dtype = t;
    d.n = n;
    d.k = k;
    if (op->u8) d.flags = SQ_PLAN_WEIGHT_ZERO_POINT;
    if (op->op == SQ_OP_SMOOTHQUANT_LINEAR) {
      d.act_scale = kActScale;
      if (op->u8) d.act_zero_point = kActZeroPoint;
    } else {
      d.quant_mode = op->u8 ? SQ_QUANT_DYNAMIC_ASYMMETRIC : SQ_QUANT_DYNAMIC;
      d.quant_dtype = q8;
    }
  } else {
    d.act_dtype = t;
    d.out_dtype = SQ_DTYPE_S8;
    d.k = k;
    d.quant_mode = SQ_QUANT_DYNAMIC;
    if (op->op == SQ_OP_RMSNORM_QUANTIZE) d.eps = kEps;
  }
  sq_plan plan = nullptr;
  if (sq_plan_select(nullptr, &d, SQ_PREFERENCE_FASTEST, &plan) != SQ_STATUS_SUCCESS) return die("sq_plan_select");
  size_t ws_bytes = 0;
  if (sq_plan_workspace_size(plan, &ws_bytes) != SQ_STATUS_SUCCESS) return die("sq_plan_workspace_size");

  sq_run_args r;
  std::memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.m = m;
  std::vector<void*> bufs;
  auto keep = [&](void* p) {
    bufs.push_back(p);
    return p;
  };
  const int64_t x_cols = op->op == SQ_OP_SILU_MUL_QUANTIZE ? 2 * k : k;
  if (op->float_x) {
    r.act = keep(random_values(static_cast<size_t>(m * x_cols), t, kSeed, -1.0f, 2.0f));
  } else {
    r.act = keep(random_bytes(static_cast<size_t>(m * k), kSeed));
  }
  r.act_scale_scratch = keep(alloc(static_cast<size_t>(m) * es));
  void* workspace = ws_bytes ? keep(alloc(ws_bytes)) : nullptr;
  if (linear) {
    r.weight = keep(random_bytes(static_cast<size_t>(n * k), kSeed + 1));
    r.weight_scale = keep(random_values(static_cast<size_t>(n), t, kSeed + 2, 0.01f, 0.01f));
    r.out = keep(alloc(static_cast<size_t>(m * n) * es));
    if (op->u8) {
      r.weight_zero_point = keep(random_bytes(static_cast<size_t>(n), kSeed + 3));
      r.weight_sums = static_cast<const int32_t*>(keep(random_bytes(static_cast<size_t>(n) * sizeof(int32_t), kSeed + 4)));
      if (op->op == SQ_OP_SMOOTHQUANT_LINEAR)  // the act row sums a quantizer would have written
        r.act_sums = static_cast<int32_t*>(keep(random_bytes(static_cast<size_t>(m) * sizeof(int32_t), kSeed + 5)));
    }
  } else {
    r.out = keep(alloc(static_cast<size_t>(m * k)));
    if (op->op == SQ_OP_RMSNORM_QUANTIZE) {
      r.norm_weight = keep(random_values(static_cast<size_t>(k), t, kSeed + 6, 0.5f, 1.0f));
      r.residual = keep(random_values(static_cast<size_t>(m * k), t, kSeed + 7, -1.0f, 2.0f));
      r.residual_out = keep(alloc(static_cast<size_t>(m * k) * es));
    }
  }
  for (void* p : bufs)
    if (p == nullptr) {
      std::fprintf(stderr, "sq_prof: device allocation or upload failed\n");
      return 1;
    }
  const char* kernel = "";
  if (sq_plan_kernel_name(plan, m, &kernel) != SQ_STATUS_SUCCESS) return die("sq_plan_kernel_name");
  const int launches = launches_of_one_run(plan, workspace, ws_bytes, r);
  if (launches < 0) {
    std::fprintf(stderr, "sq_prof: capturing one run failed\n");
    return 1;
  }
  for (int i = 0; i < runs; ++i)
    if (sq_plan_run(plan, nullptr, workspace, ws_bytes, &r) != SQ_STATUS_SUCCESS) return die("sq_plan_run");
  if (cudaDeviceSynchronize() != cudaSuccess) {
    std::fprintf(stderr, "sq_prof: the runs failed\n");
    return 1;
  }
  std::printf("%s %lld %lld %lld %s -> %s (launches %d)\n", op->name, static_cast<long long>(m),
              static_cast<long long>(n), static_cast<long long>(k), tname, kernel, launches);
  sq_plan_destroy(plan);
  for (void* p : bufs) cudaFree(p);
  return 0;
}
