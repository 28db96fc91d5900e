// SQ_OP_SCALE_ACCUMULATORS on the GPU (see scale_accumulators.hpp): out[m,n] = the linears' epilogue
// (epilogue.cuh scale_acc<T>) on acc[m,n], with the row scale per token (row_scale[m]) or per tensor
// (row_scale[0], read when the kernel runs), the column scale weight_scale[n] and the optional bias[n].
// Bandwidth-bound: tiles of one row's columns, each thread kVecsPerThread vectors of four columns
// (16-byte loads of acc, the matching vector loads of the column scale and bias and stores of out) where
// every base and stride allows, element by element otherwise; a grid-stride loop over the tiles.
#include "scale_accumulators.hpp"

#include <cstdint>
#include <cstring>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "epilogue.cuh"
#include "launch.hpp"

namespace sq {
namespace kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kCols = 4;          // columns per vector: one 16-byte load of int32 accumulators
constexpr int kVecsPerThread = 2;  // vectors a thread loads before it computes
constexpr int64_t kTileCols = int64_t{kThreads} * kCols * kVecsPerThread;
constexpr int64_t kMaxGridCtas = int64_t{1} << 20;  // beyond: the grid-stride loop takes more tiles per CTA
constexpr int kVecBytes = 16;

__device__ __forceinline__ void wait_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// N elements of T at p (aligned to min(16, N * sizeof(T))) in 16-byte or smaller accesses.
template <typename T, int N>
__device__ __forceinline__ void load_n(const T* p, T (&out)[N]) {
  constexpr int kBytes = N * static_cast<int>(sizeof(T));
  if constexpr (kBytes >= kVecBytes) {
#pragma unroll
    for (int c = 0; c < kBytes / kVecBytes; ++c) {
      const uint4 w = reinterpret_cast<const uint4*>(p)[c];
      memcpy(reinterpret_cast<unsigned char*>(out) + c * kVecBytes, &w, kVecBytes);
    }
  } else {
    static_assert(kBytes == 8, "4 columns of a 16-bit type");
    const uint2 w = *reinterpret_cast<const uint2*>(p);
    memcpy(out, &w, kBytes);
  }
}
template <typename T, int N>
__device__ __forceinline__ void store_n(T* p, const T (&in)[N]) {
  constexpr int kBytes = N * static_cast<int>(sizeof(T));
  if constexpr (kBytes >= kVecBytes) {
#pragma unroll
    for (int c = 0; c < kBytes / kVecBytes; ++c) {
      uint4 w;
      memcpy(&w, reinterpret_cast<const unsigned char*>(in) + c * kVecBytes, kVecBytes);
      reinterpret_cast<uint4*>(p)[c] = w;
    }
  } else {
    static_assert(kBytes == 8, "4 columns of a 16-bit type");
    uint2 w;
    memcpy(&w, in, kBytes);
    *reinterpret_cast<uint2*>(p) = w;
  }
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads) scale_accumulators_kernel(const ScaleAccumulatorsParams p, int64_t tiles_per_row) {
  using E = Epi<T>;
  using C = typename E::C;
  const T* row_scale = static_cast<const T*>(p.row_scale);
  const T* ws = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = bias != nullptr;
  const int64_t tiles = static_cast<int64_t>(p.m) * tiles_per_row;
  wait_previous_grid();  // before any global memory access (programmatic)
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t row = tile / tiles_per_row;
    const int64_t c0 = (tile - row * tiles_per_row) * kTileCols;
    const int32_t* acc = p.acc + row * p.ld_acc;
    T* out = static_cast<T*>(p.out) + row * p.ld_out;
    const C rs = E::to_c(row_scale[p.row_scale_per_tensor ? 0 : row]);
    if constexpr (kVector) {
      int4 a[kVecsPerThread];
      int64_t col[kVecsPerThread];
#pragma unroll
      for (int v = 0; v < kVecsPerThread; ++v) {
        col[v] = c0 + (int64_t{v} * kThreads + threadIdx.x) * kCols;
        if (col[v] + kCols <= p.n) a[v] = *reinterpret_cast<const int4*>(acc + col[v]);
      }
#pragma unroll
      for (int v = 0; v < kVecsPerThread; ++v) {
        if (col[v] >= p.n) continue;
        if (col[v] + kCols <= p.n) {
          T w[kCols], b[kCols], o[kCols];
          load_n<T, kCols>(ws + col[v], w);
          if (has_bias) load_n<T, kCols>(bias + col[v], b);
          const int32_t av[kCols] = {a[v].x, a[v].y, a[v].z, a[v].w};
#pragma unroll
          for (int j = 0; j < kCols; ++j)
            o[j] = scale_acc<T>(av[j], rs, E::to_c(w[j]), has_bias, has_bias ? E::to_c(b[j]) : C(0));
          store_n<T, kCols>(out + col[v], o);
        } else {
          for (int64_t c = col[v]; c < p.n; ++c)  // the last, partial vector
            out[c] = scale_acc<T>(acc[c], rs, E::to_c(ws[c]), has_bias, has_bias ? E::to_c(bias[c]) : C(0));
        }
      }
    } else {
      for (int64_t c = c0 + threadIdx.x; c < c0 + kTileCols && c < p.n; c += kThreads)
        out[c] = scale_acc<T>(acc[c], rs, E::to_c(ws[c]), has_bias, has_bias ? E::to_c(bias[c]) : C(0));
    }
  }
}

bool aligned(const void* ptr, int64_t a) { return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(a) == 0; }

template <typename T>
cudaError_t launch_typed(const ScaleAccumulatorsParams& p, cudaStream_t stream) {
  const int64_t vec_bytes = kCols * static_cast<int64_t>(sizeof(T)) < kVecBytes ? kCols * static_cast<int64_t>(sizeof(T)) : kVecBytes;
  const bool vector = aligned(p.acc, kVecBytes) && p.ld_acc % kCols == 0 && aligned(p.out, vec_bytes) &&
                      p.ld_out % kCols == 0 && aligned(p.weight_scale, vec_bytes) &&
                      (p.bias == nullptr || aligned(p.bias, vec_bytes));
  const int64_t tiles_per_row = (static_cast<int64_t>(p.n) + kTileCols - 1) / kTileCols;
  const int64_t tiles = static_cast<int64_t>(p.m) * tiles_per_row;
  LaunchConfig cfg;
  cfg.grid = static_cast<unsigned>(tiles < kMaxGridCtas ? tiles : kMaxGridCtas);
  cfg.block = kThreads;
  cfg.stream = stream;
  cfg.programmatic = p.programmatic;
  return vector ? launch<&scale_accumulators_kernel<T, true>>(cfg, p, tiles_per_row)
                : launch<&scale_accumulators_kernel<T, false>>(cfg, p, tiles_per_row);
}

template <typename T>
cudaError_t prepare_typed() {
  cudaError_t e = prepare_launch<&scale_accumulators_kernel<T, true>>();
  if (e != cudaSuccess) return e;
  return prepare_launch<&scale_accumulators_kernel<T, false>>();
}

}  // namespace

cudaError_t scale_accumulators_prepare() {
  cudaError_t e;
  if ((e = prepare_typed<float>()) != cudaSuccess) return e;
  if ((e = prepare_typed<double>()) != cudaSuccess) return e;
  if ((e = prepare_typed<__half>()) != cudaSuccess) return e;
  return prepare_typed<__nv_bfloat16>();
}

cudaError_t launch_scale_accumulators(const ScaleAccumulatorsParams& p, cudaStream_t stream) {
  switch (p.dtype) {
    case Dtype::F32: return launch_typed<float>(p, stream);
    case Dtype::F64: return launch_typed<double>(p, stream);
    case Dtype::F16: return launch_typed<__half>(p, stream);
    case Dtype::BF16: return launch_typed<__nv_bfloat16>(p, stream);
    default: break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace kernels
}  // namespace sq
