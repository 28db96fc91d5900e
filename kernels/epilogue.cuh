// The scale epilogue of the numerics contract (include/smoothquant/smoothquant.h),
// shared by every GPU kernel family. Explicit _rn intrinsics: never contracted to FMA.
#pragma once

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernel_params.hpp"

namespace sq {
namespace kernels {

// Epi<T>: C is the compute type; to_c widens exactly; finish rounds once to T.
template <typename T> struct Epi;

template <> struct Epi<float> {
  using C = float;
  __device__ static __forceinline__ C to_c(float v) { return v; }
  __device__ static __forceinline__ C from_acc(int32_t a) { return __int2float_rn(a); }
  __device__ static __forceinline__ C mul(C a, C b) { return __fmul_rn(a, b); }
  __device__ static __forceinline__ C add(C a, C b) { return __fadd_rn(a, b); }
  __device__ static __forceinline__ float finish(C v) { return v; }
  __device__ static __forceinline__ float from_bits(uint64_t b) { return __uint_as_float(static_cast<uint32_t>(b)); }
};

template <> struct Epi<double> {
  using C = double;
  __device__ static __forceinline__ C to_c(double v) { return v; }
  __device__ static __forceinline__ C from_acc(int32_t a) { return __int2double_rn(a); }
  __device__ static __forceinline__ C mul(C a, C b) { return __dmul_rn(a, b); }
  __device__ static __forceinline__ C add(C a, C b) { return __dadd_rn(a, b); }
  __device__ static __forceinline__ double finish(C v) { return v; }
  __device__ static __forceinline__ double from_bits(uint64_t b) { return __longlong_as_double(static_cast<long long>(b)); }
};

template <> struct Epi<__half> {
  using C = float;
  __device__ static __forceinline__ C to_c(__half v) { return __half2float(v); }
  __device__ static __forceinline__ C from_acc(int32_t a) { return __int2float_rn(a); }
  __device__ static __forceinline__ C mul(C a, C b) { return __fmul_rn(a, b); }
  __device__ static __forceinline__ C add(C a, C b) { return __fadd_rn(a, b); }
  __device__ static __forceinline__ __half finish(C v) { return __float2half_rn(v); }
  __device__ static __forceinline__ __half from_bits(uint64_t b) {
    return __ushort_as_half(static_cast<unsigned short>(b));
  }
};

template <> struct Epi<__nv_bfloat16> {
  using C = float;
  __device__ static __forceinline__ C to_c(__nv_bfloat16 v) { return __bfloat162float(v); }
  __device__ static __forceinline__ C from_acc(int32_t a) { return __int2float_rn(a); }
  __device__ static __forceinline__ C mul(C a, C b) { return __fmul_rn(a, b); }
  __device__ static __forceinline__ C add(C a, C b) { return __fadd_rn(a, b); }
  __device__ static __forceinline__ __nv_bfloat16 finish(C v) { return __float2bfloat16_rn(v); }
  __device__ static __forceinline__ __nv_bfloat16 from_bits(uint64_t b) {
    return __ushort_as_bfloat16(static_cast<unsigned short>(b));
  }
};

// out = finish(((C)acc * row) * col [+ bias]); row/col/bias already widened to C.
template <typename T>
__device__ __forceinline__ T scale_acc(int32_t acc, typename Epi<T>::C row, typename Epi<T>::C col,
                                       bool has_bias, typename Epi<T>::C bias) {
  using E = Epi<T>;
  typename E::C y = E::mul(E::mul(E::from_acc(acc), row), col);
  if (has_bias) y = E::add(y, bias);
  return E::finish(y);
}

// The row scale of row m in compute type: the scratch value, or the static scale.
template <typename T>
__device__ __forceinline__ typename Epi<T>::C row_scale_of(const LinearParams& p, int32_t m) {
  if (p.row_scale != nullptr) return Epi<T>::to_c(static_cast<const T*>(p.row_scale)[m]);
  return Epi<T>::to_c(Epi<T>::from_bits(p.static_scale_bits));
}

}  // namespace kernels
}  // namespace sq
