// The engine of the GPU activation quantizers (quantize.hpp): one kernel template for every Producer
// (plain x, RMSNorm, SiLU-and-multiply) and every QuantMode, bit for bit the NUMERICS CONTRACT of
// include/smoothquant/smoothquant.h. Included by quantize.cu (kPlain), quantize_rmsnorm.cu and
// quantize_silu_mul.cu (one translation unit per producer: they compile in parallel).
//
// Units and layout. A row of k elements is cut into units: 16-byte vectors of x (the vector path, when
// every base and stride allows it; the last unit may be partial) or single elements. A row belongs to
// one CTA, or to `splits` CTAs of one thread-block cluster (sm_90 image): the units are grouped by
// `period` (kRmsNorm: the units of 2048 elements, so unit g of every period feeds the same lanes of the
// sum of squares; else the whole row is one period), and rank r of the cluster owns the groups
// [period * r / splits, period * (r + 1) / splits) of every period. Every element belongs to one CTA
// and, within it, to one thread, the same in every pass; so residual_out, which may alias x or
// residual, is written only by the thread that read that element, after it read it.
//
// Passes. The modes that need the whole row before quantizing (kDynamic, kDynamicAsym, kAbsmax, and
// every kRmsNorm mode for the sum of squares) keep the CTA's share in shared memory between passes
// (`cached`: x read from memory once); a share too large re-reads x from memory in each pass and
// recomputes v (kRmsNorm then writes residual_out only in its last pass, so x and residual are never
// read after they were overwritten). kStatic and kFromAbsmax on kPlain / kSiluMul quantize in one pass.
//
// Reductions (all independent of the CTA size, the split and the device):
//   - the abs-max / min / max of v: exact maxima and minima of the non-NaN values, started at +0 and
//     updated only by strict comparisons (so never -0), plus a NaN flag; the CTAs of a split row
//     exchange their partials through distributed shared memory and each combines them in rank order;
//   - the RMSNorm sum of squares in the contract's fixed order: lane j of the 2048 lanes adds
//     h[j + 2048 i]^2 in increasing i (the thread that owns lane j's group adds them from the cached
//     share, or as it loads them), then the pairwise tree s = 1024 .. 1 over the 2048 lane sums, which a
//     split row's CTAs first gather from their owners (distributed shared memory); every CTA of the row
//     computes the same tree;
//   - act_sums: an integer sum modulo 2^32.
// A split row's rank 0 stores the row's scale, zero point, absmax and sum.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernel_params.hpp"
#include "launch.hpp"
#include "quantize.hpp"
#include "quantize_layout.hpp"
#include "sq_math.hpp"

namespace sq {
namespace kernels {
namespace qrows {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMaxWarps = kMaxThreads / kWarp;
// Two CTAs of the largest size per SM (at most 64 registers a thread): bytes in flight while the other
// CTA reduces.
constexpr int kMinCtasPerSm = 2;

// Canonical quiet NaN bit patterns (the contract's, for scales and absmax).
constexpr uint32_t kCanonicalNanF32 = 0x7fc00000u;
constexpr unsigned long long kCanonicalNanF64 = 0x7ff8000000000000ull;
constexpr unsigned short kCanonicalNanF16 = 0x7e00u;
constexpr unsigned short kCanonicalNanBF16 = 0x7fc0u;
// q ranges, and the symmetric scale's divisor (amax / 127).
constexpr int32_t kS8Min = -128, kS8Max = 127, kU8Min = 0, kU8Max = 255;
constexpr int32_t kSymmetricLevels = 127;

// ------------------------------------------------------------------ element types and arithmetic
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

// (X)h, one round to nearest even (residual_out).
template <typename X> struct Out;
template <> struct Out<float> {
  __device__ static __forceinline__ float from(float v) { return v; }
};
template <> struct Out<__half> {
  __device__ static __forceinline__ __half from(float v) { return __float2half_rn(v); }
};
template <> struct Out<__nv_bfloat16> {
  __device__ static __forceinline__ __nv_bfloat16 from(float v) { return __float2bfloat16_rn(v); }
};

// (C)v for a value of type S (smoothing factors): exact widening or one round to nearest even.
template <typename C, typename S> struct Cast {
  __device__ static __forceinline__ C get(S v) { return static_cast<C>(In<S>::get(v)); }
};
template <> struct Cast<float, double> {
  __device__ static __forceinline__ float get(double v) { return __double2float_rn(v); }
};

__device__ __forceinline__ float add_c(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_c(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub_c(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_c(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float div_c(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_c(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float abs_c(float a) { return fabsf(a); }
__device__ __forceinline__ double abs_c(double a) { return fabs(a); }
// max of a and b; a NaN operand is dropped.
__device__ __forceinline__ float max_c(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double max_c(double a, double b) { return fmax(a, b); }
__device__ __forceinline__ bool is_nan(float a) { return a != a; }
__device__ __forceinline__ bool is_nan(double a) { return a != a; }
// rne(t) as an int32, saturated to the int32 range (the conversion saturates); NaN -> 0 (explicitly).
__device__ __forceinline__ int32_t rne_int(float t) { return is_nan(t) ? 0 : __float2int_rn(t); }
__device__ __forceinline__ int32_t rne_int(double t) { return is_nan(t) ? 0 : __double2int_rn(t); }
template <typename C> __device__ __forceinline__ C c_from_bits(uint64_t b);
template <> __device__ __forceinline__ float c_from_bits<float>(uint64_t b) {
  return __uint_as_float(static_cast<uint32_t>(b));
}
template <> __device__ __forceinline__ double c_from_bits<double>(uint64_t b) {
  return __longlong_as_double(static_cast<long long>(b));
}
template <typename C> __device__ __forceinline__ C canonical_nan();
template <> __device__ __forceinline__ float canonical_nan<float>() { return __uint_as_float(kCanonicalNanF32); }
template <> __device__ __forceinline__ double canonical_nan<double>() {
  return __longlong_as_double(static_cast<long long>(kCanonicalNanF64));
}

// The row's quantizer in integer form: q = clamp(rne(v / scale), lo, hi) + zp, where lo = qmin - zp and
// hi = qmax - zp, equals the contract's sat_Q(rne(v / scale) + za) (an integer rne(t) beyond the range
// saturates either way); a NaN v gives zp (the contract's STATIC rule; DYNAMIC rows holding a NaN never
// quantize).
template <typename C>
__device__ __forceinline__ int32_t quantize_one(C v, C scale, int32_t lo, int32_t hi, int32_t zp) {
  const int32_t n = rne_int(div_c(v, scale));
  return min(max(n, lo), hi) + zp;
}

// (S)value stored at scale_out[row] when `store` (NaN row -> the canonical quiet NaN of S); returns
// (C)(S)value.
template <typename C>
__device__ C store_scale(void* scale_out, Dtype s, int64_t row, C value, bool nan, bool store) {
  switch (s) {
    case Dtype::F32: {
      float v;
      if constexpr (sizeof(C) == 8) v = __double2float_rn(value); else v = value;
      if (nan) v = __uint_as_float(kCanonicalNanF32);
      if (store) static_cast<float*>(scale_out)[row] = v;
      return static_cast<C>(v);
    }
    case Dtype::F64: {
      double v = static_cast<double>(value);
      if (nan) v = __longlong_as_double(static_cast<long long>(kCanonicalNanF64));
      if (store) static_cast<double*>(scale_out)[row] = v;
      return static_cast<C>(v);  // C = f32: exact (value was f32)
    }
    case Dtype::F16: {
      __half v;
      if constexpr (sizeof(C) == 8) v = __double2half(value); else v = __float2half_rn(value);
      if (nan) v = __ushort_as_half(kCanonicalNanF16);
      if (store) static_cast<__half*>(scale_out)[row] = v;
      return static_cast<C>(__half2float(v));
    }
    case Dtype::BF16: {
      __nv_bfloat16 v;
      if constexpr (sizeof(C) == 8) v = __double2bfloat16(value); else v = __float2bfloat16_rn(value);
      if (nan) v = __ushort_as_bfloat16(kCanonicalNanBF16);
      if (store) static_cast<__nv_bfloat16*>(scale_out)[row] = v;
      return static_cast<C>(__bfloat162float(v));
    }
    default: break;
  }
  return C(0);
}

template <typename C> __device__ __forceinline__ bool usable_scale(C s) { return isfinite(s) && s > C(0); }

// ------------------------------------------------------------------ memory access
template <int kBytes> struct Word;
template <> struct Word<1> { using T = uint8_t; };
template <> struct Word<2> { using T = uint16_t; };
template <> struct Word<4> { using T = uint32_t; };
template <> struct Word<8> { using T = uint2; };
template <> struct Word<16> { using T = uint4; };

// out[0..N) = p[0..N) in one access of N * sizeof(T) bytes (up to 16; 16-byte accesses beyond); p is
// aligned to min(16, N * sizeof(T)).
template <typename T, int N>
__device__ __forceinline__ void load_vec(const T* p, T (&out)[N]) {
  constexpr int kBytes = N * static_cast<int>(sizeof(T));
  if constexpr (kBytes <= kVecBytes) {
    const auto w = *reinterpret_cast<const typename Word<kBytes>::T*>(p);
    memcpy(out, &w, kBytes);
  } else {
    static_assert(kBytes % kVecBytes == 0, "whole 16-byte words");
#pragma unroll
    for (int c = 0; c < kBytes / kVecBytes; ++c) {
      const uint4 w = reinterpret_cast<const uint4*>(p)[c];
      memcpy(reinterpret_cast<unsigned char*>(out) + c * kVecBytes, &w, kVecBytes);
    }
  }
}
template <typename T, int N>
__device__ __forceinline__ void store_vec(T* p, const T (&in)[N]) {
  constexpr int kBytes = N * static_cast<int>(sizeof(T));
  static_assert(kBytes <= kVecBytes, "one access");
  typename Word<kBytes>::T w;
  memcpy(&w, in, kBytes);
  *reinterpret_cast<typename Word<kBytes>::T*>(p) = w;
}
// A unit of cnt (1..N) elements: one vector access when whole; else element by element (the loaded
// elements past cnt repeat p[0] and are never used).
template <typename T, int N>
__device__ __forceinline__ void load_part(const T* p, int cnt, T (&out)[N]) {
  if (cnt == N) {
    load_vec<T, N>(p, out);
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j) out[j] = p[j < cnt ? j : 0];
  }
}
template <typename T, int N>
__device__ __forceinline__ void store_part(T* p, int cnt, const T (&in)[N]) {
  if (cnt == N) {
    store_vec<T, N>(p, in);
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j)
      if (j < cnt) p[j] = in[j];
  }
}

// (C) of N elements of an array of dtype d from index i (smoothing factors: any float dtype).
template <typename C, typename S, int N>
__device__ __forceinline__ void load_cast(const void* base, int64_t i, int cnt, C (&out)[N]) {
  S s[N];
  load_part<S, N>(static_cast<const S*>(base) + i, cnt, s);
#pragma unroll
  for (int j = 0; j < N; ++j) out[j] = Cast<C, S>::get(s[j]);
}
template <typename C, int N>
__device__ __forceinline__ void load_as(const void* base, Dtype d, int64_t i, int cnt, C (&out)[N]) {
  switch (d) {
    case Dtype::F32: load_cast<C, float, N>(base, i, cnt, out); return;
    case Dtype::F64: load_cast<C, double, N>(base, i, cnt, out); return;
    case Dtype::F16: load_cast<C, __half, N>(base, i, cnt, out); return;
    case Dtype::BF16: load_cast<C, __nv_bfloat16, N>(base, i, cnt, out); return;
    default: break;
  }
#pragma unroll
  for (int j = 0; j < N; ++j) out[j] = C(1);  // unreachable: src/ validated the dtype
}

// f(j) for the first cnt of N elements (the whole unrolled loop for a whole unit).
template <int N, typename F>
__device__ __forceinline__ void for_first(int cnt, F&& f) {
  if (cnt == N) {
#pragma unroll
    for (int j = 0; j < N; ++j) f(j);
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j)
      if (j < cnt) f(j);  // unrolled: the arrays f indexes stay in registers
  }
}

// ------------------------------------------------------------------ PDL and clusters
// Allows the dependent grid to be scheduled now; no-op before sm_90.
__device__ __forceinline__ void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// Waits until the previous grid on the stream (when this grid is its programmatic dependent) has
// completed and its memory is visible; returns at once otherwise. No-op before sm_90, where src/ never
// sets overlap_previous.
__device__ __forceinline__ void wait_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Every thread of every CTA of the cluster executes each cluster_sync: arrive.release orders this
// thread's earlier memory accesses (its shared-memory writes and its reads of peers) before any peer's
// wait.acquire returns. Only called on split rows (sm_90 image; src/ splits nowhere else).
__device__ __forceinline__ void cluster_sync() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
  asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
#else
  __trap();
#endif
}
__device__ __forceinline__ uint32_t cluster_rank() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
#else
  __trap();
  return 0;
#endif
}
// The generic address of `p` (this CTA's shared memory) in the shared memory of cluster CTA `rank`.
template <typename T>
__device__ __forceinline__ const volatile T* peer(const T* p, uint32_t rank) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  uint64_t a;
  asm volatile("mapa.u64 %0, %1, %2;" : "=l"(a) : "l"(reinterpret_cast<uint64_t>(p)), "r"(rank));
  return reinterpret_cast<const volatile T*>(a);
#else
  __trap();
  return p;
#endif
}

// One unit: vector (or element) index vi, its cache slot, its element count, its first lane.
struct Unit {
  int64_t vi;
  int32_t slot;
  int32_t cnt;
  int32_t lane;
};

// A CTA's cache: slot s holds a unit's kN values of C in planes of 16 bytes (plane c of slot s at
// (c * slots + s) * 16 bytes), so that consecutive threads touch consecutive 16-byte words.
template <typename C, int kN>
struct Cache {
  static constexpr int kPer = kN * static_cast<int>(sizeof(C)) >= kVecBytes ? kVecBytes / static_cast<int>(sizeof(C)) : kN;
  static constexpr int kPlanes = kN / kPer;
  C* base;
  int32_t slots;
  __device__ __forceinline__ void put(int32_t s, const C (&v)[kN]) const {
#pragma unroll
    for (int c = 0; c < kPlanes; ++c) {
      C part[kPer];
#pragma unroll
      for (int j = 0; j < kPer; ++j) part[j] = v[c * kPer + j];
      store_vec<C, kPer>(base + (c * slots + s) * kPer, part);
    }
  }
  __device__ __forceinline__ void get(int32_t s, C (&v)[kN]) const {
#pragma unroll
    for (int c = 0; c < kPlanes; ++c) {
      C part[kPer];
      load_vec<C, kPer>(base + (c * slots + s) * kPer, part);
#pragma unroll
      for (int j = 0; j < kPer; ++j) v[c * kPer + j] = part[j];
    }
  }
};

// ------------------------------------------------------------------ the producers
template <Producer P, typename X, bool kVector>
struct Rows {
  using C = typename In<X>::C;
  static constexpr int kN = kVector ? kVecBytes / static_cast<int>(sizeof(X)) : 1;
  static constexpr bool kRms = P == Producer::kRmsNorm;
  static constexpr bool kSilu = P == Producer::kSiluMul;
  static_assert(!(kRms || kSilu) || std::is_same<C, float>::value, "the fused producers compute in f32");
  // Whether a thread loads its next unit before computing the one it holds: not for kSiluMul, whose
  // math on one unit keeps the registers busy (holding the next unit's loads meanwhile spills).
  static constexpr bool kLoadAhead = !kSilu;

  // What a unit loads from x (and residual): plain: a = x; kSiluMul: a = gate, b = up; kRmsNorm: a = x,
  // b = residual.
  struct Raw {
    X a[kN];
    X b[(kRms || kSilu) ? kN : 1];
  };

  const QuantizeParams& p;
  const X* x;
  const X* res;
  X* res_out;
  uint8_t* q;

  __device__ Unit unit(const Walker& w) const {
    const int64_t vi = w.vi();
    const int64_t left = static_cast<int64_t>(p.k) - vi * kN;
    return Unit{vi, w.slot(), static_cast<int32_t>(left < kN ? left : kN), (w.g0 + w.off) * kN};
  }

  __device__ __forceinline__ void load(const Unit& u, Raw& r) const {
    const int64_t e = u.vi * kN;
    load_part<X, kN>(x + e, u.cnt, r.a);
    if constexpr (kSilu) load_part<X, kN>(x + p.k + e, u.cnt, r.b);
    if constexpr (kRms) {
      if (res != nullptr) load_part<X, kN>(res + e, u.cnt, r.b);
    }
  }

  __device__ __forceinline__ void smooth(const Unit& u, C (&v)[kN]) const {
    if (p.smooth == nullptr) return;
    C s[kN];
    load_as<C, kN>(p.smooth, p.smooth_dtype, u.vi * kN, u.cnt, s);
#pragma unroll
    for (int j = 0; j < kN; ++j) v[j] = div_c(v[j], s[j]);
  }

  // kPlain: v = x (/ smooth); kSiluMul: v = silu(g) * u (/ smooth); kRmsNorm: h = x (+ residual), stored
  // to residual_out (as X) when write_res.
  __device__ __forceinline__ void first(const Unit& u, const Raw& r, C (&v)[kN], bool write_res) const {
    if constexpr (kRms) {
#pragma unroll
      for (int j = 0; j < kN; ++j) v[j] = In<X>::get(r.a[j]);
      if (res != nullptr) {
#pragma unroll
        for (int j = 0; j < kN; ++j) v[j] = math::add(v[j], In<X>::get(r.b[j]));
      }
      if (write_res && res_out != nullptr) {
        X o[kN];
#pragma unroll
        for (int j = 0; j < kN; ++j) o[j] = Out<X>::from(v[j]);
        store_part<X, kN>(res_out + u.vi * kN, u.cnt, o);
      }
    } else if constexpr (kSilu) {
#pragma unroll
      for (int j = 0; j < kN; ++j) v[j] = math::mul(math::silu(In<X>::get(r.a[j])), In<X>::get(r.b[j]));
      smooth(u, v);
    } else {
#pragma unroll
      for (int j = 0; j < kN; ++j) v[j] = In<X>::get(r.a[j]);
      smooth(u, v);
    }
  }

  // kRmsNorm: v = (h * r) * norm_weight (/ smooth), in place.
  __device__ __forceinline__ void normed(const Unit& u, float rr, C (&hv)[kN]) const {
    X w[kN];
    load_part<X, kN>(static_cast<const X*>(p.norm_weight) + u.vi * kN, u.cnt, w);
#pragma unroll
    for (int j = 0; j < kN; ++j) hv[j] = math::mul(math::mul(hv[j], rr), In<X>::get(w[j]));
    smooth(u, hv);
  }
};

// f(unit, raw) for each unit of w, two at a time: both loaded before either is computed (kLoadAhead).
template <typename Rw, typename F>
__device__ __forceinline__ void each_loaded(const Rw& rw, Walker w, F&& f) {
  while (w.valid()) {
    const Unit a = rw.unit(w);
    w.next();
    const bool two = w.valid();
    Unit b = a;
    if (two) {
      b = rw.unit(w);
      w.next();
    }
    typename Rw::Raw ra, rb;
    rw.load(a, ra);
    if (two && Rw::kLoadAhead) rw.load(b, rb);
    f(a, ra);
    if (two && !Rw::kLoadAhead) rw.load(b, rb);
    if (two) f(b, rb);
  }
}
// f(unit) for each unit of w.
template <typename Rw, typename F>
__device__ __forceinline__ void each_unit(const Rw& rw, Walker w, F&& f) {
  for (; w.valid(); w.next()) f(rw.unit(w));
}

// ------------------------------------------------------------------ reductions
template <typename C>
struct Stats {
  C lo, hi;  // asymmetric: min(+0, min v), max(+0, max v); symmetric: hi = max |v|
  bool nan;
  template <int N>
  __device__ __forceinline__ void add(const C (&v)[N], int cnt, bool asym) {
    if (asym) {
      for_first<N>(cnt, [&](int j) {
        nan |= is_nan(v[j]);
        lo = v[j] < lo ? v[j] : lo;
        hi = v[j] > hi ? v[j] : hi;
      });
    } else {
      for_first<N>(cnt, [&](int j) {
        nan |= is_nan(v[j]);
        hi = max_c(hi, abs_c(v[j]));  // a NaN operand is dropped; |v| is never -0
      });
    }
  }
  __device__ __forceinline__ void merge(C olo, C ohi, bool onan) {
    lo = olo < lo ? olo : lo;
    hi = ohi > hi ? ohi : hi;
    nan |= onan;
  }
};

// Shared memory of the CTA's reductions and of the row's quantizer (every CTA of a split row publishes
// its cta_* fields to the others).
template <typename C>
struct Exchange {
  C warp_lo[kMaxWarps], warp_hi[kMaxWarps];
  int warp_nan[kMaxWarps];
  uint32_t warp_sum[kMaxWarps];
  C cta_lo, cta_hi;
  int cta_nan;
  uint32_t cta_sum;
  float r;             // kRmsNorm: the reciprocal
  C scale;             // the row's quantizer
  int32_t zp, lo, hi;  // q = clamp(rne(v / scale), lo, hi) + zp
  int valid;           // 0: q = 0 (no finite positive scale)
};

// The row's stats (min, max, NaN) in thread 0 of every CTA of the row; every thread calls it.
template <typename C>
__device__ Stats<C> reduce_stats(Stats<C> s, Exchange<C>& ex, int32_t splits) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o /= 2)
    s.merge(__shfl_xor_sync(kFullMask, s.lo, o), __shfl_xor_sync(kFullMask, s.hi, o), false);
  s.nan = __any_sync(kFullMask, s.nan) != 0;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (lane == 0) {
    ex.warp_lo[warp] = s.lo;
    ex.warp_hi[warp] = s.hi;
    ex.warp_nan[warp] = s.nan ? 1 : 0;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x) / kWarp; ++w) s.merge(ex.warp_lo[w], ex.warp_hi[w], ex.warp_nan[w] != 0);
    ex.cta_lo = s.lo;
    ex.cta_hi = s.hi;
    ex.cta_nan = s.nan ? 1 : 0;
  }
  if (splits > 1) {
    cluster_sync();
    if (threadIdx.x == 0) {
      s = Stats<C>{*peer(&ex.cta_lo, 0), *peer(&ex.cta_hi, 0), *peer(&ex.cta_nan, 0) != 0};
      for (int r = 1; r < splits; ++r) s.merge(*peer(&ex.cta_lo, r), *peer(&ex.cta_hi, r), *peer(&ex.cta_nan, r) != 0);
    }
  }
  return s;
}

// Thread 0 of each CTA: the row's quantizer into ex (and, on rank 0, the row's scale, zero point or
// absmax stored), per the contract's quant_mode. s: the row's stats (the modes that have them).
template <typename C>
__device__ void set_quantizer(const QuantizeParams& p, int64_t row, bool store, const Stats<C>& s, Exchange<C>& ex) {
  const bool u8 = p.q_type == Dtype::U8;
  const int32_t qmin = u8 ? kU8Min : kS8Min, qmax = u8 ? kU8Max : kS8Max;
  const bool put = store && p.scale_out != nullptr;
  C scale = C(1);
  int32_t zp = 0;
  bool valid = true;
  switch (p.mode) {
    case QuantMode::kStatic:
      scale = c_from_bits<C>(p.static_scale_bits);
      zp = p.static_zp;
      break;
    case QuantMode::kDynamic:
      scale = store_scale<C>(p.scale_out, p.scale_dtype, row, div_c(s.hi, C(kSymmetricLevels)), s.nan, put);
      valid = usable_scale(scale);
      break;
    case QuantMode::kFromAbsmax: {
      const C amax = static_cast<const C*>(p.absmax)[row];
      scale = store_scale<C>(p.scale_out, p.scale_dtype, row, div_c(amax, C(kSymmetricLevels)), is_nan(amax), put);
      valid = usable_scale(scale);
      break;
    }
    case QuantMode::kDynamicAsym: {
      scale = store_scale<C>(p.scale_out, p.scale_dtype, row, div_c(sub_c(s.hi, s.lo), C(qmax - qmin)), s.nan, put);
      valid = usable_scale(scale);
      // za = sat_Q(rne(qmin - lo / scale)); lo / scale is finite here.
      if (valid) zp = min(max(rne_int(sub_c(C(qmin), div_c(s.lo, scale))), qmin), qmax);
      if (store && p.zp_out != nullptr) static_cast<uint8_t*>(p.zp_out)[row] = static_cast<uint8_t>(zp);
      break;
    }
    case QuantMode::kAbsmax:
      if (store && p.absmax != nullptr) static_cast<C*>(p.absmax)[row] = s.nan ? canonical_nan<C>() : s.hi;
      valid = false;
      break;
  }
  ex.scale = scale;
  ex.zp = zp;
  ex.lo = qmin - zp;
  ex.hi = qmax - zp;
  ex.valid = valid ? 1 : 0;
}

// The contract's sum of squares from the 2048 lane sums (every thread of the CTA calls it, after the lane
// sums are written and the CTA synchronized); the result in thread 0.
__device__ __forceinline__ float rms_tree(float* lanes) {
  const int t = threadIdx.x, n = blockDim.x;
  for (int s = kLanes / 2; s > kWarp; s /= 2) {
    for (int j = t; j < s; j += n) lanes[j] = math::add(lanes[j], lanes[j + s]);
    __syncthreads();
  }
  float v = 0.0f;
  if (t < kWarp) {
    v = math::add(lanes[t], lanes[t + kWarp]);
#pragma unroll
    for (int s = kWarp / 2; s > 0; s /= 2) v = math::add(v, __shfl_down_sync(kFullMask, v, s));
  }
  return v;
}

// The row's sum of q (modulo 2^32) stored by rank 0; every thread calls it.
template <typename C>
__device__ void reduce_sum(uint32_t sum, Exchange<C>& ex, int32_t splits, int64_t rank, int32_t* out) {
  sum = __reduce_add_sync(kFullMask, sum);
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (lane == 0) ex.warp_sum[warp] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x) / kWarp; ++w) sum += ex.warp_sum[w];
    ex.cta_sum = sum;
  }
  if (splits > 1) {
    cluster_sync();
    if (threadIdx.x == 0 && rank == 0) {
      sum = 0;
      for (int r = 0; r < splits; ++r) sum += *peer(&ex.cta_sum, r);
    }
  }
  if (threadIdx.x == 0 && rank == 0) *out = static_cast<int32_t>(sum);
}

// ------------------------------------------------------------------ the kernel
// Grid: m * splits CTAs (splits > 1: clusters of splits CTAs, one per row, blockIdx.x = row * splits +
// rank). Dynamic shared memory: [kRmsNorm: the 2048 lane sums; split rows: and this CTA's own lane sums]
// [the cache when L.cached].
template <Producer P, typename X, bool kVector>
__global__ void __launch_bounds__(kMaxThreads, kMinCtasPerSm) quantize_rows_kernel(const QuantizeParams p, const RowLayout L) {
  using Rw = Rows<P, X, kVector>;
  using C = typename Rw::C;
  constexpr int kN = Rw::kN;
  constexpr bool kRms = Rw::kRms;
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ Exchange<C> ex;

  const int32_t splits = L.splits;
  const int64_t row = blockIdx.x / static_cast<uint32_t>(splits);
  const int64_t rank = splits > 1 ? cluster_rank() : 0;
  const Groups groups = rank_groups(L.period, rank, splits);
  const int32_t g0 = groups.g0, gr = groups.gr;
  const bool store = rank == 0;  // the row's scale, zero point, absmax and sum
  const QuantMode mode = p.mode;
  const bool stats_mode = mode == QuantMode::kDynamic || mode == QuantMode::kDynamicAsym || mode == QuantMode::kAbsmax;
  const bool asym = mode == QuantMode::kDynamicAsym;

  const Rw rw{p,
              static_cast<const X*>(p.x) + row * p.ld_x,
              kRms && p.residual != nullptr ? static_cast<const X*>(p.residual) + row * p.ld_residual : nullptr,
              kRms && p.residual_out != nullptr ? static_cast<X*>(p.residual_out) + row * p.ld_residual_out : nullptr,
              mode == QuantMode::kAbsmax ? nullptr : reinterpret_cast<uint8_t*>(p.q) + row * p.ld_q};
  const Cache<C, kN> cache{reinterpret_cast<C*>(smem + L.cache_offset), static_cast<int32_t>(L.slots)};
  float* const lanes = reinterpret_cast<float*>(smem);                 // kRmsNorm: the row's 2048 lane sums
  float* const own = splits > 1 ? lanes + kLanes : lanes;              // kRmsNorm: this CTA's lane sums
  const Walker walk(L, groups, static_cast<int32_t>(threadIdx.x), static_cast<int32_t>(blockDim.x));

  wait_previous_grid();  // before any global memory access (overlap_previous)

  Stats<C> st{C(0), C(0), false};
  float rr = 0.0f;  // kRmsNorm: the reciprocal r of the row
  // Where the quantize pass finds v: 0 recomputed from x, 1 the cache (v), 2 the cache (h, kRmsNorm).
  int source = 0;

  if constexpr (kRms) {
    // Pass 1: h = x (+ residual); the lane sums of h^2 in the fixed order.
    if (L.cached) {
      each_loaded(rw, walk, [&](const Unit& u, const typename Rw::Raw& r) {
        C h[kN];
        rw.first(u, r, h, true);  // every read of this element is done: residual_out may alias it
        cache.put(u.slot, h);
      });
      allow_dependent_launch();
      __syncthreads();
      // Thread t adds the squares of the groups t, t + T, ... over the periods in increasing order.
      for (int32_t off = threadIdx.x; off < gr; off += blockDim.x) {
        float acc[kN];
#pragma unroll
        for (int j = 0; j < kN; ++j) acc[j] = 0.0f;
        for (int32_t i = 0; i < static_cast<int32_t>(L.periods); ++i) {
          const int64_t vi = static_cast<int64_t>(i) * L.period + g0 + off;
          if (vi >= L.nvec) break;
          const int64_t left = static_cast<int64_t>(p.k) - vi * kN;
          C h[kN];
          cache.get(i * static_cast<int32_t>(L.cap) + off, h);
          for_first<kN>(left < kN ? static_cast<int>(left) : kN, [&](int j) { acc[j] = math::add(acc[j], math::mul(h[j], h[j])); });
        }
#pragma unroll
        for (int j = 0; j < kN; ++j) own[(g0 + off) * kN + j] = acc[j];
      }
      source = 2;
    } else {
      // Thread t owns the groups it loads (owner walk) and adds their squares as it loads them.
      for (int32_t off = threadIdx.x; off < gr; off += blockDim.x)
#pragma unroll
        for (int j = 0; j < kN; ++j) own[(g0 + off) * kN + j] = 0.0f;
      each_loaded(rw, walk, [&](const Unit& u, const typename Rw::Raw& r) {
        C h[kN];
        rw.first(u, r, h, false);  // residual_out is written in the last pass that reads x
        for_first<kN>(u.cnt, [&](int j) { own[u.lane + j] = math::add(own[u.lane + j], math::mul(h[j], h[j])); });
      });
      allow_dependent_launch();
    }
    if (splits > 1) {
      cluster_sync();
      // Gather the 2048 lane sums from the CTAs that own them (lane j: group j / kN).
      for (int j = threadIdx.x; j < kLanes; j += blockDim.x) {
        lanes[j] = *peer(&own[j], group_owner(j / kN, static_cast<int32_t>(L.period), splits));
      }
    }
    __syncthreads();
    const float ss = rms_tree(lanes);
    if (threadIdx.x == 0) ex.r = math::rms_reciprocal(ss, p.k, p.eps);
    __syncthreads();
    rr = ex.r;

    if (stats_mode) {
      // Pass 2: v = (h * r) * w (/ smooth), its stats.
      const bool keep = mode != QuantMode::kAbsmax;
      if (L.cached) {
        each_unit(rw, walk, [&](const Unit& u) {
          C v[kN];
          cache.get(u.slot, v);
          rw.normed(u, rr, v);
          if (keep) cache.put(u.slot, v);
          st.add(v, u.cnt, asym);
        });
        source = 1;
      } else {
        const bool last = !keep;  // kAbsmax: no quantize pass follows
        each_loaded(rw, walk, [&](const Unit& u, const typename Rw::Raw& r) {
          C v[kN];
          rw.first(u, r, v, last);
          rw.normed(u, rr, v);
          st.add(v, u.cnt, asym);
        });
      }
    }
  } else {
    if (stats_mode) {
      // Pass 1: v and its stats (cached when it fits).
      each_loaded(rw, walk, [&](const Unit& u, const typename Rw::Raw& r) {
        C v[kN];
        rw.first(u, r, v, false);
        if (L.cached) cache.put(u.slot, v);
        st.add(v, u.cnt, asym);
      });
      allow_dependent_launch();
      source = L.cached ? 1 : 0;
    }
  }

  if (stats_mode) st = reduce_stats(st, ex, splits);
  if (threadIdx.x == 0) set_quantizer(p, row, store, st, ex);
  __syncthreads();

  if (mode != QuantMode::kAbsmax) {
    // The quantize pass.
    const C scale = ex.scale;
    const int32_t zp = ex.zp, lo = ex.lo, hi = ex.hi;
    const bool valid = ex.valid != 0;
    const bool want_sum = p.sums_out != nullptr;
    uint32_t sum = 0;  // modulo 2^32
    auto quantize = [&](const Unit& u, const C (&v)[kN]) {
      uint8_t qb[kN];
      if (valid) {
        int32_t qv[kN];
#pragma unroll
        for (int j = 0; j < kN; ++j) {
          qv[j] = quantize_one(v[j], scale, lo, hi, zp);  // in Q's range: S8 or U8 as an int
          qb[j] = static_cast<uint8_t>(qv[j]);
        }
        if (want_sum) for_first<kN>(u.cnt, [&](int j) { sum += static_cast<uint32_t>(qv[j]); });
      } else {
#pragma unroll
        for (int j = 0; j < kN; ++j) qb[j] = 0;
      }
      store_part<uint8_t, kN>(rw.q + u.vi * kN, u.cnt, qb);
    };
    if (source == 0) {
      each_loaded(rw, walk, [&](const Unit& u, const typename Rw::Raw& r) {
        C v[kN];
        rw.first(u, r, v, true);
        if constexpr (kRms) rw.normed(u, rr, v);
        quantize(u, v);
      });
      if (!stats_mode && !kRms) allow_dependent_launch();
    } else {
      each_unit(rw, walk, [&](const Unit& u) {
        C v[kN];
        cache.get(u.slot, v);
        if constexpr (kRms) {
          if (source == 2) rw.normed(u, rr, v);
        }
        quantize(u, v);
      });
    }
    if (want_sum) reduce_sum(sum, ex, splits, rank, p.sums_out + row);
  }
  if (splits > 1) cluster_sync();  // no CTA leaves while a peer may still read its shared memory
}

// ------------------------------------------------------------------ host side
inline bool aligned(const void* ptr, int64_t a) {
  return reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(a) == 0;
}

// Whether every array of the run allows the vector path for x of type X.
template <Producer P, typename X>
bool vector_path(const QuantizeParams& p) {
  constexpr int64_t kX = sizeof(X), kN = kVecBytes / sizeof(X);
  auto rows16 = [&](const void* base, int64_t ld) { return base == nullptr || (aligned(base, kVecBytes) && ld * kX % kVecBytes == 0); };
  bool ok = rows16(p.x, p.ld_x) && (p.smooth == nullptr || aligned(p.smooth, kVecBytes));
  if (p.mode != QuantMode::kAbsmax) ok = ok && aligned(p.q, kN) && p.ld_q % kN == 0;
  if constexpr (P == Producer::kSiluMul) ok = ok && int64_t{p.k} * kX % kVecBytes == 0;  // the up half's vectors
  if constexpr (P == Producer::kRmsNorm)
    ok = ok && rows16(p.residual, p.ld_residual) && rows16(p.residual_out, p.ld_residual_out) &&
         aligned(p.norm_weight, kVecBytes);
  return ok;
}

template <Producer P, typename X, bool kVector>
cudaError_t launch_typed(const QuantizeParams& p, cudaStream_t stream) {
  using C = typename In<X>::C;
  constexpr int kN = kVector ? kVecBytes / static_cast<int>(sizeof(X)) : 1;
  const int64_t splits = p.row_splits > 1 ? p.row_splits : 1;
  const LaunchShape s = make_shape(P, p.mode, p.k, kN, sizeof(C), splits, p.m);
  LaunchConfig cfg;
  cfg.grid = static_cast<unsigned>(static_cast<int64_t>(p.m) * splits);
  cfg.block = static_cast<unsigned>(s.threads);
  cfg.smem = static_cast<unsigned>(s.smem);
  cfg.stream = stream;
  cfg.programmatic = p.overlap_previous;
  cfg.cluster = static_cast<unsigned>(splits);
  return launch<&quantize_rows_kernel<P, X, kVector>>(cfg, p, s.layout);
}

template <Producer P, typename X>
cudaError_t launch_rows(const QuantizeParams& p, cudaStream_t stream) {
  return vector_path<P, X>(p) ? launch_typed<P, X, true>(p, stream) : launch_typed<P, X, false>(p, stream);
}

// Launch handles and the shared-memory opt-in of both paths of one producer and x type.
template <Producer P, typename X>
cudaError_t prepare_rows() {
  cudaError_t e;
  if ((e = prepare_launch<&quantize_rows_kernel<P, X, true>>()) != cudaSuccess) return e;
  if ((e = prepare_launch<&quantize_rows_kernel<P, X, false>>()) != cudaSuccess) return e;
  e = cudaFuncSetAttribute(quantize_rows_kernel<P, X, true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(kQuantizeRowCacheBytes));
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(quantize_rows_kernel<P, X, false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(kQuantizeRowCacheBytes));
}

// The entry points of the fused producers' translation units (quantize_rmsnorm.cu, quantize_silu_mul.cu).
cudaError_t launch_rmsnorm(const QuantizeParams& p, cudaStream_t stream);
cudaError_t prepare_rmsnorm();
cudaError_t launch_silu_mul(const QuantizeParams& p, cudaStream_t stream);
cudaError_t prepare_silu_mul();

}  // namespace qrows
}  // namespace kernels
}  // namespace sq
