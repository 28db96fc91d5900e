// The 0.1 activation quantizers, kept for the cases they were tuned and measured on: the plain producer
// (x, optional smoothing) in SQ_QUANT_STATIC without a zero point and SQ_QUANT_DYNAMIC (symmetric), S8 q,
// no row sums (launch_quantize routes exactly those here, see symmetric_path; every other case runs the
// 0.2 engine of quantize_rows.cuh, whose plain symmetric path measured 7-10% slower through the dynamic
// plan [D-quant-engine]). Bit for bit the NUMERICS CONTRACT (include/smoothquant/smoothquant.h) and
// src/host/host_quantize.cpp: IEEE divisions (__fdiv_rn / __ddiv_rn) in the compute type C (f64 for f64
// input, else f32), round half to even, saturation to [-128, 127], NaN -> 0 (the zero point, 0 here).
//
// One CTA per row, or for the dynamic kernel QuantizeParams::row_splits CTAs per row (chosen by
// src/'s launch plan): then each row is one thread-block cluster (sm_90 image only) whose CTAs take even,
// contiguous shares of the row. The CTA size follows the share (one warp for short shares). Each
// thread handles vectors of 16 bytes of x when the row bases, strides and q allow it, else single
// elements. The dynamic kernel keeps its share's smoothed values v in shared memory between the
// abs-max pass and the quantize pass, so x is read from memory once (shares longer than the cache
// re-read x in the second pass). The abs-max is a max, so its value does not depend on the
// reduction order; NaN is tracked as a flag (fmax drops NaN) and a NaN row stores the canonical
// quiet NaN of S, as the host kernel does. A split row's CTAs exchange their partial abs-max and
// NaN flag through distributed shared memory; each CTA combines all partials in rank order, so
// every CTA computes the same scale, and rank 0 stores it.
//
// PDL: with QuantizeParams::overlap_previous the dynamic kernel is a programmatic dependent of the kernel
// before it (griddepcontrol.wait before it reads x or smooth or writes anything), and it lets the next
// kernel be scheduled once its CTAs have read x (griddepcontrol.launch_dependents, sm_90+); a dependent
// still waits (griddepcontrol.wait) for this grid's completion before it reads q or the scales.
#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "launch.hpp"
#include "quantize.hpp"
#include "quantize_rows.cuh"

namespace sq {
namespace kernels {
namespace {

constexpr int kWarp = 32;
constexpr int kMinThreads = kWarp;   // CTA size for short rows: one warp
constexpr int kMaxThreads = 512;     // CTA size for long rows
constexpr int kVecBytes = 16;        // x loads: 16 bytes per thread where aligned
// Target x vectors per thread before the CTA grows [D-quant-vectors].
constexpr int kVecsPerThread = 1;
static_assert(kQuantizeCtaBytes == kVecBytes * kMaxThreads * kVecsPerThread, "quantize.hpp: bytes per CTA");
constexpr int kMaxWarps = kMaxThreads / kWarp;
// Shared memory that caches a dynamic row's (or share's) v (in C); above 48 KiB it needs the opt-in
// attribute, set once per device by quantize_prepare. 96 KiB fits every sm_80+ GPU (sm_86/89 allow 99 KiB).
constexpr int kRowCacheBytes = 96 * 1024;

// The int8 range of q, and the divisor of the dynamic scale (absmax / kS8Max).
constexpr int kS8Max = 127;
constexpr int kS8Min = -128;

// ------------------------------------------------------------------ element types
// The engine's (quantize_rows.cuh): the compute type of x, the exact widening of a smoothing factor, and
// the scale's one rounding to S with the canonical NaN.
using qrows::Cast;
using qrows::In;
using qrows::store_scale;
// IEEE division in C (__fdiv_rn / __ddiv_rn), |x| and the NaN-dropping max of the engine.
using qrows::abs_c;
using qrows::max_c;
template <typename C>
__device__ __forceinline__ C div_rn(C a, C b) {
  return qrows::div_c(a, b);
}

// num::sat_rne_s8: NaN -> 0, >= 127 -> 127, <= -128 -> -128, else round half to even.
__device__ __forceinline__ int8_t sat_s8(float v) {
  if (v != v) return 0;
  if (v >= static_cast<float>(kS8Max)) return kS8Max;
  if (v <= static_cast<float>(kS8Min)) return kS8Min;
  return static_cast<int8_t>(__float2int_rn(v));
}
__device__ __forceinline__ int8_t sat_s8(double v) {
  if (v != v) return 0;
  if (v >= static_cast<double>(kS8Max)) return kS8Max;
  if (v <= static_cast<double>(kS8Min)) return kS8Min;
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

// The part of a row one CTA handles: vectors [vec_begin, vec_end) (vector path; vector vi holds
// elements vi * kN .. vi * kN + kN - 1) and single elements [one_begin, one_end).
struct Share {
  int64_t vec_begin, vec_end, one_begin, one_end;
};

// Share `rank` of `splits` even, contiguous shares of a row of k elements. Vector path: the vectors
// split evenly, the last share also takes the tail elements past the last whole vector; scalar path:
// the elements split evenly. The largest share holds share_capacity elements (below).
template <typename X, bool kVector>
__device__ __forceinline__ Share share_of(int32_t k, int64_t rank, int64_t splits) {
  if constexpr (kVector) {
    constexpr int kN = Vec<X>::kN;
    const int64_t nvec = k / kN;
    const bool last = rank == splits - 1;
    return Share{nvec * rank / splits, nvec * (rank + 1) / splits, last ? nvec * kN : int64_t{k}, int64_t{k}};
  } else {
    return Share{0, 0, int64_t{k} * rank / splits, int64_t{k} * (rank + 1) / splits};
  }
}

// Elements of the largest share_of (host side: the CTA size and the cache size follow it).
int64_t share_capacity(int32_t k, int vec_elems, int64_t splits) {
  const int64_t nvec = k / vec_elems;
  return (nvec + splits - 1) / splits * vec_elems + (k - nvec * vec_elems);
}

// Visits every element of a share in a fixed per-thread order, with v = smoothed x (kLoad) or 0
// (!kLoad: the pass takes v from its cache): thread t takes the share's local vectors
// lv = t, t + blockDim, ... of nl (f.vec(vi, lv, nl, v[kN]), vi = vec_begin + lv), then the single
// elements one_begin + li, li = t, t + blockDim, ... (f.one(i, slot, v), slot = nl * kN + li). The
// slots of a share are 0 .. its element count - 1.
template <typename X, typename SM, bool kVector, bool kLoad, typename F>
__device__ __forceinline__ void for_share(const X* x, const void* smooth, const Share& s, F&& f) {
  using C = typename In<X>::C;
  int64_t one_slot = 0;
  if constexpr (kVector) {
    constexpr int kN = Vec<X>::kN;
    const int64_t nl = s.vec_end - s.vec_begin;
    for (int64_t lv = threadIdx.x; lv < nl; lv += blockDim.x) {
      const int64_t vi = s.vec_begin + lv;
      C vs[kN];
      if constexpr (kLoad) {
        X xs[kN];
        load_vec<X>(x + vi * kN, xs);
#pragma unroll
        for (int j = 0; j < kN; ++j) vs[j] = smoothed<C, SM>(In<X>::get(xs[j]), smooth, vi * kN + j);
      } else {
#pragma unroll
        for (int j = 0; j < kN; ++j) vs[j] = C(0);
      }
      f.vec(vi, lv, nl, vs);
    }
    one_slot = nl * kN;
  }
  const int64_t ones = s.one_end - s.one_begin;
  for (int64_t li = threadIdx.x; li < ones; li += blockDim.x) {
    const int64_t i = s.one_begin + li;
    f.one(i, one_slot + li, kLoad ? smoothed<C, SM>(In<X>::get(x[i]), smooth, i) : C(0));
  }
}

// ------------------------------------------------------------------ per-element passes
// Static: q = sat_s8(rne(v / scale)).
template <typename X>
struct StaticQ {
  using C = typename In<X>::C;
  static constexpr int kN = Vec<X>::kN;
  int8_t* q;
  C scale;
  __device__ void vec(int64_t vi, int64_t, int64_t, const C (&v)[kN]) const {
    int8_t r[kN];
#pragma unroll
    for (int j = 0; j < kN; ++j) r[j] = sat_s8(div_rn(v[j], scale));
    store_q<X>(q + vi * kN, r);
  }
  __device__ void one(int64_t i, int64_t, C v) const { q[i] = sat_s8(div_rn(v, scale)); }
};

// Dynamic pass 1: v cached, abs-max over the non-NaN values, NaN flag. Cache layout (slots of the
// share): element j of local vector lv at j * nl + lv (consecutive threads hit consecutive banks),
// single elements at their slot.
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
  __device__ void vec(int64_t, int64_t lv, int64_t nl, const C (&v)[kN]) {
#pragma unroll
    for (int j = 0; j < kN; ++j) add(j * nl + lv, v[j]);
  }
  __device__ void one(int64_t, int64_t slot, C v) { add(slot, v); }
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
  __device__ void vec(int64_t vi, int64_t lv, int64_t nl, const C (&v)[kN]) const {
    int8_t r[kN];
#pragma unroll
    for (int j = 0; j < kN; ++j) r[j] = one_q(j * nl + lv, v[j]);
    store_q<X>(q + vi * kN, r);
  }
  __device__ void one(int64_t i, int64_t slot, C v) const { q[i] = one_q(slot, v); }
};

// The programmatic-launch primitives of the engine (quantize_rows.cuh): no-ops before sm_90, where src/
// never sets overlap_previous.
using qrows::allow_dependent_launch;
using qrows::wait_previous_grid;

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
// Thread-block cluster primitives (sm_90): every thread of every CTA of the cluster executes each
// arrive and each wait, in pairs. arrive.release orders this thread's earlier memory accesses
// before the peers' wait.acquire returns.
__device__ __forceinline__ void cluster_arrive() { asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory"); }
__device__ __forceinline__ void cluster_wait() { asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory"); }
__device__ __forceinline__ uint32_t cluster_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
// The generic address of `p` (this CTA's shared memory) in the shared memory of cluster CTA `rank`.
template <typename T>
__device__ __forceinline__ const volatile T* peer_shared(const T* p, uint32_t rank) {
  uint64_t a;
  asm volatile("mapa.u64 %0, %1, %2;" : "=l"(a) : "l"(reinterpret_cast<uint64_t>(p)), "r"(rank));
  return reinterpret_cast<const volatile T*>(a);
}
#endif

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
  for_share<X, SM, kVector, true>(x, p.smooth, share_of<X, kVector>(p.k, 0, 1), f);
}

// Grid: m * splits CTAs, splits = max(1, p.row_splits); with splits > 1 launched as clusters of
// splits x 1 x 1 CTAs, one cluster per row (CTA blockIdx.x = row * splits + cluster rank).
template <typename X, typename SM, bool kVector, bool kCache>
__global__ void __launch_bounds__(kMaxThreads) quantize_dynamic_kernel(QuantizeParams p) {
  using C = typename In<X>::C;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  C* cache = reinterpret_cast<C*>(smem_raw);
  __shared__ C warp_max[kMaxWarps];
  __shared__ C cta_max;    // this CTA's partial abs-max (read by the cluster's CTAs)
  __shared__ int cta_nan;  // this CTA's partial NaN flag (read by the cluster's CTAs)
  __shared__ C row_scale;

  const int64_t splits = p.row_splits > 1 ? p.row_splits : 1;
  const int64_t row = blockIdx.x / splits;
  int64_t rank = 0;
  if (splits > 1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    rank = cluster_rank();
#else
    __trap();  // src/ splits rows only where this kernel's sm_90 image runs (no clusters here)
#endif
  }
  const X* x = static_cast<const X*>(p.x) + row * p.ld_x;
  int8_t* q = p.q + row * p.ld_q;
  const Share share = share_of<X, kVector>(p.k, rank, splits);
  wait_previous_grid();  // before any global memory access (overlap_previous)

  // Pass 1: v = smoothed x (cached), abs-max over the non-NaN values, NaN flag.
  AbsMaxPass<X, kCache> pass1{cache, C(0), false};
  for_share<X, SM, kVector, true>(x, p.smooth, share, pass1);

  C amax = pass1.amax;
#pragma unroll
  for (int o = kWarp / 2; o > 0; o /= 2) amax = max_c(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (lane == 0) warp_max[warp] = amax;
  const bool share_nan = __syncthreads_or(pass1.nan ? 1 : 0) != 0;  // also the barrier for warp_max
  // x is read (the cached kernel does not read it again): the dependent's weight prefetch no
  // longer competes with this grid's loads. It starts once every CTA of this grid got here.
  allow_dependent_launch();
  C row_max = C(0);  // thread 0: the row's abs-max and NaN flag
  bool row_nan = false;
  if (threadIdx.x == 0) {
    C m = warp_max[0];
    const int warps = blockDim.x / kWarp;
    for (int w = 1; w < warps; ++w) m = max_c(m, warp_max[w]);
    cta_max = m;
    cta_nan = share_nan ? 1 : 0;
    row_max = m;
    row_nan = share_nan;
  }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (splits > 1) {
    // Every CTA combines the cluster's partials in rank order (the max is exact, so all CTAs get
    // the same abs-max). The second arrive says this CTA is done reading its peers; the matching
    // wait at the end keeps every CTA's shared memory alive until all have read it.
    cluster_arrive();
    cluster_wait();
    if (threadIdx.x == 0) {
      row_max = *peer_shared(&cta_max, 0);
      int nan = *peer_shared(&cta_nan, 0);
      for (uint32_t r = 1; r < static_cast<uint32_t>(splits); ++r) {
        row_max = max_c(row_max, *peer_shared(&cta_max, r));
        nan |= *peer_shared(&cta_nan, r);
      }
      row_nan = nan != 0;
    }
    cluster_arrive();
  }
#endif
  if (threadIdx.x == 0)
    row_scale = store_scale<C>(p.scale_out, p.scale_dtype, row, div_rn(row_max, static_cast<C>(kS8Max)), row_nan, rank == 0);
  __syncthreads();
  const C scale = row_scale;
  const bool valid = isfinite(scale) && scale > C(0);

  // Pass 2: q = sat_s8(rne(v / scale)), or 0 for a row without a finite positive scale. Every
  // thread reads back only the cache entries it wrote itself (same visiting order).
  QuantizePass<X, kCache> pass2{cache, q, scale, valid};
  if (kCache) for_share<X, SM, kVector, false>(x, p.smooth, share, pass2);  // v from the cache
  else for_share<X, SM, kVector, true>(x, p.smooth, share, pass2);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (splits > 1) cluster_wait();
#endif
}

// ------------------------------------------------------------------ dispatch
// CTA size for a share of `elements` elements handled in units of vec_elems.
int threads_for(int64_t elements, int vec_elems) {
  const int64_t units = (elements + vec_elems - 1) / vec_elems;
  int64_t t = (units + kVecsPerThread - 1) / kVecsPerThread;
  t = (t + kWarp - 1) / kWarp * kWarp;
  if (t < kMinThreads) t = kMinThreads;
  if (t > kMaxThreads) t = kMaxThreads;
  return static_cast<int>(t);
}

bool aligned(const void* ptr, int64_t a) { return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(a) == 0; }

// Launches a dynamic kernel over m rows of `splits` CTAs each; splits > 1 as clusters of splits CTAs;
// p.overlap_previous: as a programmatic dependent of the previous kernel on the stream.
template <auto Kernel>
cudaError_t launch_rows(const QuantizeParams& p, int64_t splits, int threads, size_t smem, cudaStream_t stream) {
  LaunchConfig cfg;
  cfg.grid = static_cast<unsigned>(static_cast<int64_t>(p.m) * splits);
  cfg.block = static_cast<unsigned>(threads);
  cfg.smem = static_cast<unsigned>(smem);
  cfg.stream = stream;
  cfg.programmatic = p.overlap_previous;
  cfg.cluster = static_cast<unsigned>(splits);
  return launch<Kernel>(cfg, p);
}

template <typename X, typename SM, bool kVector>
cudaError_t launch_typed(const QuantizeParams& p, cudaStream_t stream) {
  using C = typename In<X>::C;
  const int vec_elems = kVector ? Vec<X>::kN : 1;
  if (p.mode == QuantMode::kStatic) {
    LaunchConfig cfg;
    cfg.grid = static_cast<unsigned>(p.m);
    cfg.block = static_cast<unsigned>(threads_for(p.k, vec_elems));
    cfg.stream = stream;
    return launch<&quantize_static_kernel<X, SM, kVector>>(cfg, p);
  }
  const int64_t splits = p.row_splits > 1 ? p.row_splits : 1;
  const int64_t share = share_capacity(p.k, vec_elems, splits);
  const int threads = threads_for(share, vec_elems);
  if (share * static_cast<int64_t>(sizeof(C)) <= kRowCacheBytes)
    return launch_rows<&quantize_dynamic_kernel<X, SM, kVector, true>>(p, splits, threads,
                                                                        static_cast<size_t>(share) * sizeof(C), stream);
  return launch_rows<&quantize_dynamic_kernel<X, SM, kVector, false>>(p, splits, threads, 0, stream);
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
    default: break;
  }
  return cudaErrorInvalidValue;
}

// The launch handles of every instantiation and the opt-in shared memory of every cached dynamic one.
template <typename X, typename SM>
cudaError_t prepare_smooth() {
  cudaError_t e;
  if ((e = prepare_launch<&quantize_static_kernel<X, SM, true>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&quantize_static_kernel<X, SM, false>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&quantize_dynamic_kernel<X, SM, true, false>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&quantize_dynamic_kernel<X, SM, false, false>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&quantize_dynamic_kernel<X, SM, true, true>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&quantize_dynamic_kernel<X, SM, false, true>>()) != cudaSuccess) return e;
  e = cudaFuncSetAttribute(quantize_dynamic_kernel<X, SM, true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           kRowCacheBytes);
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

bool symmetric_path(const QuantizeParams& p) {
  const bool mode_ok = (p.mode == QuantMode::kStatic && p.static_zp == 0) || p.mode == QuantMode::kDynamic;
  return p.producer == Producer::kPlain && mode_ok && p.q_type == Dtype::S8 && p.sums_out == nullptr;
}

cudaError_t quantize_symmetric_prepare() {
  cudaError_t e;
  if ((e = prepare_x<float>()) != cudaSuccess) return e;
  if ((e = prepare_x<double>()) != cudaSuccess) return e;
  if ((e = prepare_x<__half>()) != cudaSuccess) return e;
  return prepare_x<__nv_bfloat16>();
}

cudaError_t launch_quantize_symmetric(const QuantizeParams& p, cudaStream_t stream) {
  switch (p.x_dtype) {
    case Dtype::F32: return launch_x<float>(p, stream);
    case Dtype::F64: return launch_x<double>(p, stream);
    case Dtype::F16: return launch_x<__half>(p, stream);
    case Dtype::BF16: return launch_x<__nv_bfloat16>(p, stream);
    default: break;
  }
  return cudaErrorInvalidValue;
}

}  // namespace kernels
}  // namespace sq
