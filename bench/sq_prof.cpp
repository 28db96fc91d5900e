// sq_prof: runs one SQ_OP_SMOOTHQUANT_LINEAR plan (SQ_PREFERENCE_FASTEST) a few times on random operands,
// for a profiler to pick one run (bench/profile-limiters.sh: ncu --launch-skip 2 --launch-count 1).
// usage: sq_prof M N K f32|bf16|f64 [runs, default 3]; prints the kernel the plan chose.
#include <cuda_runtime_api.h>
#include <smoothquant/smoothquant.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr int kDefaultRuns = 3;
constexpr double kActScale = 0.01;
constexpr uint32_t kLcgMul = 1664525u, kLcgAdd = 1013904223u, kSeed = 12345u;
constexpr int kByteShift = 24;

int die(const char* what) {
  std::fprintf(stderr, "sq_prof: %s: %s\n", what, sq_last_error_message());
  return 1;
}

// Uniform random bytes (int8 over the full range) into device memory.
bool upload_random(void* dst, size_t bytes, uint32_t seed) {
  std::vector<uint8_t> h(bytes);
  for (uint8_t& b : h) {
    seed = seed * kLcgMul + kLcgAdd;
    b = static_cast<uint8_t>(seed >> kByteShift);
  }
  return cudaMemcpy(dst, h.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess;
}

// Positive scales around 2^-6 in T (a constant bit pattern of the dtype: 0x3c.. is ~2^-6 for f32/bf16).
bool upload_scales(void* dst, size_t count, sq_dtype t) {
  const size_t es = t == SQ_DTYPE_F64 ? 8 : (t == SQ_DTYPE_F32 ? 4 : 2);
  std::vector<uint8_t> h(count * es);
  for (size_t i = 0; i < count; ++i) {
    if (t == SQ_DTYPE_F64) { const double v = 0.015625; std::memcpy(&h[i * es], &v, es); }
    else if (t == SQ_DTYPE_F32) { const float v = 0.015625f; std::memcpy(&h[i * es], &v, es); }
    else { const uint16_t v = 0x3c80; std::memcpy(&h[i * es], &v, es); }  // bf16 2^-6
  }
  return cudaMemcpy(dst, h.data(), h.size(), cudaMemcpyHostToDevice) == cudaSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: sq_prof M N K f32|bf16|f64 [runs]\n");
    return 2;
  }
  const int64_t m = std::atoll(argv[1]), n = std::atoll(argv[2]), k = std::atoll(argv[3]);
  const sq_dtype t = std::strcmp(argv[4], "bf16") == 0 ? SQ_DTYPE_BF16
                     : std::strcmp(argv[4], "f64") == 0 ? SQ_DTYPE_F64 : SQ_DTYPE_F32;
  const int runs = argc > 5 ? std::atoi(argv[5]) : kDefaultRuns;
  const size_t es = t == SQ_DTYPE_F64 ? 8 : (t == SQ_DTYPE_F32 ? 4 : 2);
  sq_plan_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.op = SQ_OP_SMOOTHQUANT_LINEAR;
  d.act_dtype = d.weight_dtype = SQ_DTYPE_S8;
  d.scale_dtype = d.out_dtype = t;
  d.n = n;
  d.k = k;
  d.max_m = m;
  d.act_scale = kActScale;
  sq_plan plan = nullptr;
  if (sq_plan_select(nullptr, &d, SQ_PREFERENCE_FASTEST, &plan) != SQ_STATUS_SUCCESS) return die("sq_plan_select");
  void *act = nullptr, *w = nullptr, *ws = nullptr, *out = nullptr, *scratch = nullptr;
  if (cudaMalloc(&act, m * k) != cudaSuccess || cudaMalloc(&w, n * k) != cudaSuccess ||
      cudaMalloc(&ws, n * es) != cudaSuccess || cudaMalloc(&out, m * n * es) != cudaSuccess ||
      cudaMalloc(&scratch, m * es) != cudaSuccess || !upload_random(act, m * k, kSeed) ||
      !upload_random(w, n * k, kSeed + 1) || !upload_scales(ws, n, t)) {
    std::fprintf(stderr, "sq_prof: device allocation or upload failed\n");
    return 1;
  }
  sq_run_args r;
  std::memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.m = m;
  r.act = act;
  r.weight = w;
  r.weight_scale = ws;
  r.act_scale_scratch = scratch;
  r.out = out;
  const char* kernel = "";
  if (sq_plan_kernel_name(plan, m, &kernel) != SQ_STATUS_SUCCESS) return die("sq_plan_kernel_name");
  for (int i = 0; i < runs; ++i)
    if (sq_plan_run(plan, nullptr, nullptr, 0, &r) != SQ_STATUS_SUCCESS) return die("sq_plan_run");
  if (cudaDeviceSynchronize() != cudaSuccess) {
    std::fprintf(stderr, "sq_prof: the runs failed\n");
    return 1;
  }
  std::printf("%lld %lld %lld %s -> %s\n", static_cast<long long>(m), static_cast<long long>(n),
              static_cast<long long>(k), argv[4], kernel);
  sq_plan_destroy(plan);
  return 0;
}
