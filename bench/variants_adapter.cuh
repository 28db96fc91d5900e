// ADAPTER: sq_choice's only view of the kernel variants and of the plan's choice (src/ and kernels/
// internals): the variant registry (kernels/registry.hpp) and the launch plan (src/dispatch/launch_plan.hpp)
// the library runs.
//   prepare()          -> prepare every registered variant on the current device
//   candidates(s)      -> every registered variant that can run s correctly (min_sm, alignment, its M
//                         range, split-K blocks): the dispatch may still never pick it
//   plan_choice(s)     -> the variant of the launch plan of the static linear, and
//   programmatic(s)    -> that launch plan's programmatic flag
// VariantOperands launches a variant directly (LinearParams, below the plan and the C ABI), as
// bench/sq_sweep.cu does.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "bench_common.cuh"
#include "dispatch/dispatch.hpp"     // src/
#include "dispatch/launch_plan.hpp"  // src/
#include "registry.hpp"              // kernels/

namespace sqbench {
namespace variants {

using sq::kernels::Dtype;
using sq::kernels::KernelVariant;

inline size_t dtype_bytes(Dtype d) { return d == Dtype::F64 ? 8 : d == Dtype::F32 ? 4 : 2; }

// A row as the dispatch sees it: the shape (packed operands, ld = K, on 256-byte aligned buffers) and the
// facts of a Hopper plan of the static linear on this device.
struct Shape {
  sq::LinearShape s;
  sq::PlanFacts facts;
  int32_t sm;
};

inline Shape shape_of(int64_t m, int64_t n, int64_t k, int sms, int sm, Dtype dt) {
  const int32_t out_bytes = static_cast<int32_t>(dtype_bytes(dt));
  const sq::PlanFacts facts{sq::Op::kStaticLinear, sq::GpuFamily::kHopper, sq::device_facts(sm, sms), n, k,
                            out_bytes, 1};
  // Packed rows from allocation bases: the run the plan sees for them.
  const sq::RunFacts run = sq::packed_run(facts, m);
  return Shape{sq::LinearShape{m, n, k, out_bytes, run.operand_align, run.out_aligned}, facts, sm};
}

// Prepares every registered variant (function attributes, launch handles) on the current device.
inline cudaError_t prepare() {
  for (const sq::kernels::VariantSpan& family : sq::kernels::all_variants()) {
    const cudaError_t e = sq::kernels::prepare_variants(family);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// Every registered variant that can run shape s correctly (the dispatch may still never pick it).
inline std::vector<const KernelVariant*> candidates(const Shape& r) {
  std::vector<const KernelVariant*> v;
  for (const sq::kernels::VariantSpan& family : sq::kernels::all_variants()) {
    for (const KernelVariant& k : family) {
      if (k.min_sm > r.sm || !sq::kernels::takes_align(k, r.s.operand_align) || !sq::kernels::takes_m(k, r.s.m)) continue;
      if (k.family == sq::kernels::Family::kSm90SplitK && !sq::split_k_blocks_suffice(k, r.s)) continue;
      v.push_back(&k);
    }
  }
  return v;
}

// The launch plan of the static linear (SQ_PREFERENCE_FASTEST on sm_90) for s.
inline sq::LaunchPlan plan_of(const Shape& r) {
  return sq::plan_launch(r.facts, sq::RunFacts{r.s.m, r.s.operand_align, r.s.out_aligned, false});
}

// The variant the plan runs for s.
inline const KernelVariant& plan_choice(const Shape& r) { return *plan_of(r).linear.variant; }

// Whether the plan launches it as a programmatic dependent of the kernel before it.
inline bool programmatic(const Shape& r) { return plan_of(r).linear.programmatic; }

// One row's operands on the device: rotated act + weight sets (one rotation past 2x L2), scales of 2^-6
// (exact in every dtype, so the outputs carry values as in use) and one output, as bench/sq_sweep.cu.
class VariantOperands {
 public:
  VariantOperands(const Shape& r, Dtype dt, size_t l2_bytes, bool programmatic, cudaStream_t stream)
      : stream_(stream) {
    const sq::LinearShape& s = r.s;
    constexpr size_t kAlign = 256;
    constexpr int kFillThreads = 256, kFillBlocks = 1024;
    constexpr uint64_t kFillSeed = 12345;
    a_bytes_ = (static_cast<size_t>(s.m) * s.k + kAlign - 1) / kAlign * kAlign;
    set_bytes_ = (a_bytes_ + static_cast<size_t>(s.n) * s.k + kAlign - 1) / kAlign * kAlign;
    sets_ = rotation_copies(double(set_bytes_), l2_bytes);
    CK_CUDA(cudaMalloc(&pool_, set_bytes_ * sets_));
    fill_s8<<<kFillBlocks, kFillThreads, 0, stream>>>(static_cast<int8_t*>(pool_), set_bytes_ * sets_, kFillSeed);
    CK_CUDA(cudaGetLastError());
    const size_t es = dtype_bytes(dt), count = static_cast<size_t>(s.n) + s.m;
    const uint64_t bits = dt == Dtype::F64 ? 0x3F90000000000000ull
                          : dt == Dtype::F32 ? 0x3C800000ull
                          : dt == Dtype::BF16 ? 0x3C80ull
                                              : 0x2400ull;  // 2^-6 in f64, f32, bf16, f16
    std::vector<unsigned char> host(count * es);
    for (size_t i = 0; i < count; ++i) std::memcpy(&host[i * es], &bits, es);  // little-endian: the low es bytes
    CK_CUDA(cudaMalloc(&scales_, count * es));
    CK_CUDA(cudaMemcpyAsync(scales_, host.data(), count * es, cudaMemcpyHostToDevice, stream));
    CK_CUDA(cudaMalloc(&out_, static_cast<size_t>(s.m) * s.n * es));
    CK_CUDA(cudaStreamSynchronize(stream));
    p_ = {};
    p_.m = static_cast<int32_t>(s.m);
    p_.n = static_cast<int32_t>(s.n);
    p_.k = static_cast<int32_t>(s.k);
    p_.ld_act = s.k;
    p_.ld_weight = s.k;
    p_.weight_scale = scales_;
    p_.row_scale = static_cast<char*>(scales_) + static_cast<size_t>(s.n) * es;
    p_.out = out_;
    p_.ld_out = s.n;
    p_.dtype = dt;
    p_.act_type = sq::kernels::Dtype::S8;  // symmetric s8 x s8, as the 0.1 plans
    p_.weight_type = sq::kernels::Dtype::S8;
    p_.programmatic = programmatic;
  }
  ~VariantOperands() {
    cudaFree(out_);
    cudaFree(scales_);
    cudaFree(pool_);
  }
  VariantOperands(const VariantOperands&) = delete;
  VariantOperands& operator=(const VariantOperands&) = delete;

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
  sq::kernels::LinearParams p_{};
};

}  // namespace variants
}  // namespace sqbench
