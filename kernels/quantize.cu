// GPU activation quantizers: SQ_OP_QUANTIZE_STATIC (per tensor) and SQ_OP_QUANTIZE_DYNAMIC (per
// token), bit for bit the formulas of the NUMERICS CONTRACT (include/smoothquant/smoothquant.h) and
// src/host_quantize.cpp: IEEE divisions (__fdiv_rn / __ddiv_rn) in the compute type C (f64 for f64
// input, else f32), round half to even, saturation to [-128, 127], NaN -> 0.
//
// One CTA per row. The CTA size follows K (one warp for short rows). Each thread handles vectors of
// 16 bytes of x when the row bases, strides and q allow it, else single elements. The dynamic kernel
// keeps the row's smoothed values v in shared memory between the abs-max pass and the quantize pass,
// so x is read from memory once (rows longer than the cache re-read x in the second pass). The
// abs-max is a max, so its value does not depend on the reduction order; NaN is tracked as a flag
// (fmax drops NaN) and a NaN row stores the canonical quiet NaN of S, as the host kernel does.
//
// The dynamic kernel lets the next kernel on the stream be scheduled once its CTAs have read x
// (griddepcontrol.launch_dependents, sm_90+). This only matters to a kernel launched as a
// programmatic dependent (the decode linear of the dynamic plan): such a kernel may start its
// independent work (weight loads) early and must execute griddepcontrol.wait, which still waits
// for this grid's completion and memory flush, before it reads q or the scales. A kernel launched
// without that attribute waits for this grid's completion as always.
#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernel_api.hpp"

namespace sq {
namespace kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kMinThreads = kWarp;   // CTA size for short rows: one warp
constexpr int kMaxThreads = 512;     // CTA size for long rows
constexpr int kVecBytes = 16;        // x loads: 16 bytes per thread where aligned
constexpr int kVecsPerThread = 2;    // target x vectors per thread before the CTA grows
constexpr int kMaxWarps = kMaxThreads / kWarp;
// Shared memory that caches a dynamic row's v (in C); above 48 KiB it needs the opt-in attribute,
// set once per device by quantize_prepare. 96 KiB fits every sm_80+ GPU (sm_86/89 allow 99 KiB).
constexpr int kRowCacheBytes = 96 * 1024;

// Canonical quiet NaN bit patterns of the scale dtypes (as src/host_quantize.cpp).
constexpr uint32_t kCanonicalNanF32 = 0x7fc00000u;
constexpr unsigned long long kCanonicalNanF64 = 0x7ff8000000000000ull;
constexpr unsigned short kCanonicalNanF16 = 0x7e00u;
constexpr unsigned short kCanonicalNanBF16 = 0x7fc0u;

// ------------------------------------------------------------------ element types
// In<X>: compute type C of input X, and the exact widening.
template <typename X> struct In;
template <> struct In<float> {
  using C = float;
  __device__ static __forceinline__ C get(float v) { return v; }
};
template <> struct In<double> {
  using C = double;
  __device__ static __forceinline__ C get(double v) { return v; }
};
template <> struct In<__half> {
  using C = float;
  __device__ static __forceinline__ C get(__half v) { return __half2float(v); }
};
template <> struct In<__nv_bfloat16> {
  using C = float;
  __device__ static __forceinline__ C get(__nv_bfloat16 v) { return __bfloat162float(v); }
};

// (C)v for a smoothing factor of type SM: exact widening or one round-to-nearest-even.
template <typename C, typename SM> struct Cast;
template <typename SM> struct Cast<float, SM> {
  __device__ static __forceinline__ float get(SM v) { return In<SM>::get(v); }
};
template <> struct Cast<float, double> {
  __device__ static __forceinline__ float get(double v) { return __double2float_rn(v); }
};
template <typename SM> struct Cast<double, SM> {
  __device__ static __forceinline__ double get(SM v) { return static_cast<double>(In<SM>::get(v)); }
};

__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float abs_c(float a) { return fabsf(a); }
__device__ __forceinline__ double abs_c(double a) { return fabs(a); }
__device__ __forceinline__ float max_c(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double max_c(double a, double b) { return fmax(a, b); }

// num::sat_rne_s8: NaN -> 0, >= 127 -> 127, <= -128 -> -128, else round half to even.
__device__ __forceinline__ int8_t sat_s8(float v) {
  if (v != v) return 0;
  if (v >= 127.0f) return 127;
  if (v <= -128.0f) return -128;
  return static_cast<int8_t>(__float2int_rn(v));
}
__device__ __forceinline__ int8_t sat_s8(double v) {
  if (v != v) return 0;
  if (v >= 127.0) return 127;
  if (v <= -128.0) return -128;
  return static_cast<int8_t>(__double2int_rn(v));
}

// SM = void: no smoothing.
template <typename C, typename SM>
__device__ __forceinline__ C smoothed(C x, const void* smooth, int64_t i) {
  if constexpr (std::is_void<SM>::value) {
    return x;
  } else {
    return div_rn(x, Cast<C, SM>::get(static_cast<const SM*>(smooth)[i]));
  }
}

// Stores (S)value at scale_out[row] (one rounding; NaN row -> canonical NaN); returns (C)(S)value.
template <typename C>
__device__ C store_scale(void* scale_out, Dtype s, int64_t row, C value, bool is_nan) {
  switch (s) {
    case Dtype::F32: {
      float v;
      if constexpr (sizeof(C) == 8) v = __double2float_rn(value); else v = value;
      if (is_nan) v = __uint_as_float(kCanonicalNanF32);
      static_cast<float*>(scale_out)[row] = v;
      return static_cast<C>(v);
    }
    case Dtype::F64: {
      double v = static_cast<double>(value);
      if (is_nan) v = __longlong_as_double(static_cast<long long>(kCanonicalNanF64));
      static_cast<double*>(scale_out)[row] = v;
      return static_cast<C>(v);  // C = f32: exact (value was f32)
    }
    case Dtype::F16: {
      __half v;
      if constexpr (sizeof(C) == 8) v = __double2half(value); else v = __float2half_rn(value);
      if (is_nan) v = __ushort_as_half(kCanonicalNanF16);
      static_cast<__half*>(scale_out)[row] = v;
      return static_cast<C>(__half2float(v));
    }
    case Dtype::BF16: {
      __nv_bfloat16 v;
      if constexpr (sizeof(C) == 8) v = __double2bfloat16(value); else v = __float2bfloat16_rn(value);
      if (is_nan) v = __ushort_as_bfloat16(kCanonicalNanBF16);
      static_cast<__nv_bfloat16*>(scale_out)[row] = v;
      return static_cast<C>(__bfloat162float(v));
    }
  }
  return C(0);
}

// ------------------------------------------------------------------ vector access
template <typename X> struct Vec {
  static constexpr int kN = kVecBytes / static_cast<int>(sizeof(X));
  // kN int8 results, stored with one store of kN bytes.
  using Q = typename std::conditional<kN == 8, uint2, typename std::conditional<kN == 4, uint32_t, uint16_t>::type>::type;
};

template <typename X>
__device__ __forceinline__ void load_vec(const X* p, X (&out)[Vec<X>::kN]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  memcpy(out, &raw, sizeof(raw));
}

template <typename X>
__device__ __forceinline__ void store_q(int8_t* p, const int8_t (&q)[Vec<X>::kN]) {
  typename Vec<X>::Q raw;
  memcpy(&raw, q, sizeof(raw));
  *reinterpret_cast<typename Vec<X>::Q*>(p) = raw;
}

// Visits every element of a row in a fixed per-thread order, with v = smoothed x:
// vector path: thread t takes vectors vi = t, t + blockDim, ... (f.vec(vi, nvec, v[kN]), elements
// vi * kN + j), then the tail elements i >= nvec * kN one by one (f.one(i, v)).
template <typename X, typename SM, bool kVector, typename F>
__device__ __forceinline__ void for_row(const X* x, const void* smooth, int32_t k, F&& f) {
  using C = typename In<X>::C;
  int64_t tail_begin = 0;
  if constexpr (kVector) {
    constexpr int kN = Vec<X>::kN;
    const int64_t nvec = k / kN;
    for (int64_t vi = threadIdx.x; vi < nvec; vi += blockDim.x) {
      X xs[kN];
      load_vec<X>(x + vi * kN, xs);
      C vs[kN];
#pragma unroll
      for (int j = 0; j < kN; ++j) vs[j] = smoothed<C, SM>(In<X>::get(xs[j]), smooth, vi * kN + j);
      f.vec(vi, nvec, vs);
    }
    tail_begin = nvec * kN;
  }
  for (int64_t i = tail_begin + threadIdx.x; i < k; i += blockDim.x)
    f.one(i, smoothed<C, SM>(In<X>::get(x[i]), smooth, i));
}

// ------------------------------------------------------------------ per-element passes
// Static: q = sat_s8(rne(v / scale)).
template <typename X>
struct StaticQ {
  using C = typename In<X>::C;
  static constexpr int kN = Vec<X>::kN;
  int8_t* q;
  C scale;
  __device__ void vec(int64_t vi, int64_t, const C (&v)[kN]) const {
    int8_t r[kN];
#pragma unroll
    for (int j = 0; j < kN; ++j) r[j] = sat_s8(div_rn(v[j], scale));
    store_q<X>(q + vi * kN, r);
  }
  __device__ void one(int64_t i, C v) const { q[i] = sat_s8(div_rn(v, scale)); }
};

// Dynamic pass 1: v cached, abs-max over the non-NaN values, NaN flag. Cache layout: element j of
// vector vi at j * nvec + vi (consecutive threads hit consecutive banks), tail element i at i.
template <typename X, bool kCache>
struct AbsMaxPass {
  using C = typename In<X>::C;
  static constexpr int kN = Vec<X>::kN;
  C* cache;
  C amax;
  bool nan;
  __device__ void add(int64_t slot, C v) {
    if (kCache) cache[slot] = v;
    if (v != v) nan = true;
    else amax = max_c(amax, abs_c(v));
  }
  __device__ void vec(int64_t vi, int64_t nvec, const C (&v)[kN]) {
#pragma unroll
    for (int j = 0; j < kN; ++j) add(j * nvec + vi, v[j]);
  }
  __device__ void one(int64_t i, C v) { add(i, v); }
};

// Dynamic pass 2: q = sat_s8(rne(v / scale)), or 0 for a row without a finite positive scale; v from
// the cache (the slots this thread wrote in pass 1) or as given.
template <typename X, bool kCache>
struct QuantizePass {
  using C = typename In<X>::C;
  static constexpr int kN = Vec<X>::kN;
  const C* cache;
  int8_t* q;
  C scale;
  bool valid;
  __device__ int8_t one_q(int64_t slot, C v) const {
    if (kCache) v = cache[slot];
    return valid ? sat_s8(div_rn(v, scale)) : int8_t(0);
  }
  __device__ void vec(int64_t vi, int64_t nvec, const C (&v)[kN]) const {
    int8_t r[kN];
#pragma unroll
    for (int j = 0; j < kN; ++j) r[j] = one_q(j * nvec + vi, v[j]);
    store_q<X>(q + vi * kN, r);
  }
  __device__ void one(int64_t i, C v) const { q[i] = one_q(i, v); }
};

// Allows the dependent grid (see the top of this file) to be scheduled now; no-op before sm_90.
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// ------------------------------------------------------------------ kernels
template <typename X, typename SM, bool kVector>
__global__ void __launch_bounds__(kMaxThreads) quantize_static_kernel(QuantizeParams p) {
  using C = typename In<X>::C;
  C scale;
  if constexpr (sizeof(C) == 8) scale = __longlong_as_double(static_cast<long long>(p.static_scale_bits));
  else scale = __uint_as_float(static_cast<uint32_t>(p.static_scale_bits));
  const int64_t row = blockIdx.x;
  const X* x = static_cast<const X*>(p.x) + row * p.ld_x;
  int8_t* q = p.q + row * p.ld_q;
  StaticQ<X> f{q, scale};
  for_row<X, SM, kVector>(x, p.smooth, p.k, f);
}

template <typename X, typename SM, bool kVector, bool kCache>
__global__ void __launch_bounds__(kMaxThreads) quantize_dynamic_kernel(QuantizeParams p) {
  using C = typename In<X>::C;
  constexpr int kN = Vec<X>::kN;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  C* cache = reinterpret_cast<C*>(smem_raw);
  __shared__ C warp_max[kMaxWarps];
  __shared__ C row_scale;

  const int64_t row = blockIdx.x;
  const X* x = static_cast<const X*>(p.x) + row * p.ld_x;
  int8_t* q = p.q + row * p.ld_q;

  // Pass 1: v = smoothed x (cached), abs-max over the non-NaN values, NaN flag. Cache layout: element
  // j of vector vi at j * nvec + vi (consecutive threads hit consecutive banks), tail element i at i.
  AbsMaxPass<X, kCache> pass1{cache, C(0), false};
  for_row<X, SM, kVector>(x, p.smooth, p.k, pass1);

  C amax = pass1.amax;
#pragma unroll
  for (int o = kWarp / 2; o > 0; o /= 2) amax = max_c(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (lane == 0) warp_max[warp] = amax;
  const bool row_nan = __syncthreads_or(pass1.nan ? 1 : 0) != 0;  // also the barrier for warp_max
  // x is read (the cached kernel does not read it again): the dependent's weight prefetch no
  // longer competes with this grid's loads. It starts once every CTA of this grid got here.
  allow_dependent_launch();
  if (threadIdx.x == 0) {
    C m = warp_max[0];
    const int warps = blockDim.x / kWarp;
    for (int w = 1; w < warps; ++w) m = max_c(m, warp_max[w]);
    row_scale = store_scale<C>(p.scale_out, p.scale_dtype, row, div_rn(m, C(127)), row_nan);
  }
  __syncthreads();
  const C scale = row_scale;
  const bool valid = isfinite(scale) && scale > C(0);

  // Pass 2: q = sat_s8(rne(v / scale)), or 0 for a row without a finite positive scale. Every
  // thread reads back only the cache entries it wrote itself (same visiting order).
  QuantizePass<X, kCache> pass2{cache, q, scale, valid};
  if (kCache) {
    // v comes from the cache: walk the same index pattern without touching x.
    if constexpr (kVector) {
      const int64_t nvec = p.k / kN;
      for (int64_t vi = threadIdx.x; vi < nvec; vi += blockDim.x) {
        C vs[kN];
#pragma unroll
        for (int j = 0; j < kN; ++j) vs[j] = C(0);
        pass2.vec(vi, nvec, vs);
      }
      for (int64_t i = nvec * kN + threadIdx.x; i < p.k; i += blockDim.x) pass2.one(i, C(0));
    } else {
      for (int64_t i = threadIdx.x; i < p.k; i += blockDim.x) pass2.one(i, C(0));
    }
  } else {
    for_row<X, SM, kVector>(x, p.smooth, p.k, pass2);
  }
}

// ------------------------------------------------------------------ dispatch
int threads_for(int32_t k, int vec_elems) {
  const int64_t units = (static_cast<int64_t>(k) + vec_elems - 1) / vec_elems;
  int64_t t = (units + kVecsPerThread - 1) / kVecsPerThread;
  t = (t + kWarp - 1) / kWarp * kWarp;
  if (t < kMinThreads) t = kMinThreads;
  if (t > kMaxThreads) t = kMaxThreads;
  return static_cast<int>(t);
}

bool aligned(const void* ptr, int64_t a) { return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(a) == 0; }

template <typename X, typename SM, bool kVector>
cudaError_t launch_typed(const QuantizeParams& p, cudaStream_t stream) {
  using C = typename In<X>::C;
  const int threads = threads_for(p.k, kVector ? Vec<X>::kN : 1);
  const dim3 grid(static_cast<unsigned>(p.m));
  if (!p.dynamic) {
    quantize_static_kernel<X, SM, kVector><<<grid, threads, 0, stream>>>(p);
  } else if (static_cast<int64_t>(p.k) * static_cast<int64_t>(sizeof(C)) <= kRowCacheBytes) {
    const size_t smem = static_cast<size_t>(p.k) * sizeof(C);
    quantize_dynamic_kernel<X, SM, kVector, true><<<grid, threads, smem, stream>>>(p);
  } else {
    quantize_dynamic_kernel<X, SM, kVector, false><<<grid, threads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

template <typename X, typename SM>
cudaError_t launch_smooth(const QuantizeParams& p, cudaStream_t stream) {
  constexpr int kN = Vec<X>::kN;
  const bool vector = aligned(p.x, kVecBytes) && (p.ld_x * static_cast<int64_t>(sizeof(X))) % kVecBytes == 0 &&
                      aligned(p.q, kN) && p.ld_q % kN == 0;
  return vector ? launch_typed<X, SM, true>(p, stream) : launch_typed<X, SM, false>(p, stream);
}

template <typename X>
cudaError_t launch_x(const QuantizeParams& p, cudaStream_t stream) {
  if (p.smooth == nullptr) return launch_smooth<X, void>(p, stream);
  switch (p.smooth_dtype) {
    case Dtype::F32: return launch_smooth<X, float>(p, stream);
    case Dtype::F64: return launch_smooth<X, double>(p, stream);
    case Dtype::F16: return launch_smooth<X, __half>(p, stream);
    case Dtype::BF16: return launch_smooth<X, __nv_bfloat16>(p, stream);
  }
  return cudaErrorInvalidValue;
}

// The opt-in shared memory of every cached dynamic instantiation.
template <typename X, typename SM>
cudaError_t prepare_smooth() {
  cudaError_t e = cudaFuncSetAttribute(quantize_dynamic_kernel<X, SM, true, true>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, kRowCacheBytes);
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(quantize_dynamic_kernel<X, SM, false, true>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, kRowCacheBytes);
}

template <typename X>
cudaError_t prepare_x() {
  cudaError_t e;
  if ((e = prepare_smooth<X, void>()) != cudaSuccess) return e;
  if ((e = prepare_smooth<X, float>()) != cudaSuccess) return e;
  if ((e = prepare_smooth<X, double>()) != cudaSuccess) return e;
  if ((e = prepare_smooth<X, __half>()) != cudaSuccess) return e;
  return prepare_smooth<X, __nv_bfloat16>();
}

}  // namespace

cudaError_t quantize_prepare() {
  cudaError_t e;
  if ((e = prepare_x<float>()) != cudaSuccess) return e;
  if ((e = prepare_x<double>()) != cudaSuccess) return e;
  if ((e = prepare_x<__half>()) != cudaSuccess) return e;
  return prepare_x<__nv_bfloat16>();
}

cudaError_t launch_quantize(const QuantizeParams& p, int32_t num_sms, cudaStream_t stream) {
  (void)num_sms;  // one CTA per row: the grid does not depend on the SM count
  switch (p.x_dtype) {
    case Dtype::F32: return launch_x<float>(p, stream);
    case Dtype::F64: return launch_x<double>(p, stream);
    case Dtype::F16: return launch_x<__half>(p, stream);
    case Dtype::BF16: return launch_x<__nv_bfloat16>(p, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace kernels
}  // namespace sq
