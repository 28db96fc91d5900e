// The row-sums pre-pass (quantize.hpp): sums[r] = sum_k a[r, k] of an S8 or U8 matrix, exact (an
// integer sum modulo 2^32, which is exact wherever the linear's max_k holds). One CTA per row; 16-byte
// loads where the base and stride allow, each summed with four dp4a against ones; a warp and CTA
// reduction of integers (any order gives the same sum).
#include <cstdint>

#include <cuda_runtime.h>

#include "launch.hpp"
#include "quantize.hpp"

namespace sq {
namespace kernels {
namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMinThreads = kWarp;
constexpr int kMaxThreads = 512;
constexpr int kMaxWarps = kMaxThreads / kWarp;
constexpr int kVecBytes = 16;
constexpr int kLoadsInFlight = 4;  // 16-byte loads a thread issues before it sums them
constexpr uint32_t kOnes = 0x01010101u;  // dp4a against ones: the sum of four bytes

__device__ __forceinline__ void wait_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// The sum of the four bytes of w (signed or unsigned) added to acc.
template <bool kUnsigned>
__device__ __forceinline__ uint32_t add_bytes(uint32_t w, uint32_t acc) {
  if constexpr (kUnsigned) return __dp4a(w, kOnes, acc);
  else return static_cast<uint32_t>(__dp4a(static_cast<int>(w), static_cast<int>(kOnes), static_cast<int>(acc)));
}

template <bool kUnsigned, bool kVector>
__global__ void __launch_bounds__(kMaxThreads) row_sums_kernel(const RowSumsParams p) {
  __shared__ uint32_t warp_sum[kMaxWarps];
  const int64_t row = blockIdx.x;
  const uint8_t* a = reinterpret_cast<const uint8_t*>(p.a) + row * p.ld_a;
  wait_previous_grid();  // before any global memory access (programmatic)
  uint32_t acc = 0;
  int64_t tail = 0;
  if constexpr (kVector) {
    const int64_t nvec = p.k / kVecBytes;
#pragma unroll kLoadsInFlight
    for (int64_t v = threadIdx.x; v < nvec; v += blockDim.x) {
      const uint4 w = reinterpret_cast<const uint4*>(a)[v];
      acc = add_bytes<kUnsigned>(w.x, acc);
      acc = add_bytes<kUnsigned>(w.y, acc);
      acc = add_bytes<kUnsigned>(w.z, acc);
      acc = add_bytes<kUnsigned>(w.w, acc);
    }
    tail = nvec * kVecBytes;
  }
  for (int64_t i = tail + threadIdx.x; i < p.k; i += blockDim.x)
    acc += kUnsigned ? uint32_t{a[i]} : static_cast<uint32_t>(int32_t{static_cast<int8_t>(a[i])});
  allow_dependent_launch();
  acc = __reduce_add_sync(kFullMask, acc);
  if (threadIdx.x % kWarp == 0) warp_sum[threadIdx.x / kWarp] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x) / kWarp; ++w) acc += warp_sum[w];
    p.sums[row] = static_cast<int32_t>(acc);
  }
}

template <bool kUnsigned>
cudaError_t launch_typed(const RowSumsParams& p, cudaStream_t stream) {
  const bool vector = reinterpret_cast<uintptr_t>(p.a) % kVecBytes == 0 && p.ld_a % kVecBytes == 0;
  const int64_t units = vector ? (p.k + kVecBytes - 1) / kVecBytes : p.k;
  int64_t t = (units + kWarp - 1) / kWarp * kWarp;
  t = t < kMinThreads ? kMinThreads : (t > kMaxThreads ? kMaxThreads : t);
  LaunchConfig cfg;
  cfg.grid = static_cast<unsigned>(p.m);
  cfg.block = static_cast<unsigned>(t);
  cfg.stream = stream;
  cfg.programmatic = p.programmatic;
  return vector ? launch<&row_sums_kernel<kUnsigned, true>>(cfg, p) : launch<&row_sums_kernel<kUnsigned, false>>(cfg, p);
}

}  // namespace

cudaError_t row_sums_prepare() {
  cudaError_t e;
  if ((e = prepare_launch<&row_sums_kernel<false, true>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&row_sums_kernel<false, false>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&row_sums_kernel<true, true>>()) != cudaSuccess) return e;
  return prepare_launch<&row_sums_kernel<true, false>>();
}

cudaError_t launch_row_sums(const RowSumsParams& p, cudaStream_t stream) {
  switch (p.a_type) {
    case Dtype::S8: return launch_typed<false>(p, stream);
    case Dtype::U8: return launch_typed<true>(p, stream);
    default: break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace kernels
}  // namespace sq
