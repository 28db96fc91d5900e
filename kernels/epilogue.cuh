// The scale epilogue of the numerics contract (include/smoothquant/smoothquant.h), the zero-point
// correction of the accumulators and the S32 output mode, shared by every GPU kernel family. Explicit _rn
// intrinsics: never contracted to FMA.
#pragma once

#include <cstdint>
#include <type_traits>
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

// The row scale of row m in compute type: row_scale[m] (row_scale[0] with row_scale_per_tensor, read
// when the kernel runs), or the static scale.
template <typename T>
__device__ __forceinline__ typename Epi<T>::C row_scale_of(const LinearParams& p, int32_t m) {
  if (p.row_scale != nullptr) return Epi<T>::to_c(static_cast<const T*>(p.row_scale)[p.row_scale_per_tensor ? 0 : m]);
  return Epi<T>::to_c(Epi<T>::from_bits(p.static_scale_bits));
}

// ------------------------------------------------------------------ output modes
// Dtype::S32 (accumulator only) runs in the F32 instantiation: the kernel checks p.dtype at run time and
// takes a second, compile-time copy of its epilogue that stores the int32 bits through the f32 store
// paths (they move 4-byte words exactly) and reads no scale, bias or scratch.
template <typename T>
__device__ __forceinline__ bool accumulator_only(const LinearParams& p) {
  if constexpr (std::is_same<T, float>::value) return p.dtype == Dtype::S32;
  return false;
}

// Calls body(std::true_type{}) for the scaled epilogue of the contract, or body(std::false_type{}) for
// the S32 output (T = float only), so that each epilogue is compiled once per mode, without a per-element
// test on the scaled path.
template <typename T, typename Body>
__device__ __forceinline__ void with_output_mode(const LinearParams& p, Body&& body) {
  if constexpr (std::is_same<T, float>::value) {
    if (p.dtype == Dtype::S32) {
      body(std::false_type{});
      return;
    }
  }
  body(std::true_type{});
}

// The output element of acc in mode kScaled: scale_acc, or (S32 output, T = float) the int32's bits.
template <typename T, bool kScaled>
__device__ __forceinline__ T output_of(int32_t acc, typename Epi<T>::C row, typename Epi<T>::C col, bool has_bias,
                                       typename Epi<T>::C bias) {
  if constexpr (kScaled) {
    return scale_acc<T>(acc, row, col, has_bias, bias);
  } else {
    static_assert(std::is_same<T, float>::value, "the S32 output runs in the f32 instantiation");
    return __int_as_float(acc);
  }
}

// ------------------------------------------------------------------ zero points
// The element type of an operand dtype (S8 or U8): the MMA's operand and its zero point.
template <Dtype D>
using OperandElem = typename std::conditional<D == Dtype::U8, uint8_t, int8_t>::type;

// kernel_params.hpp's correction, acc - zw[n] * (Sa[m] - k * za[m]) - za[m] * Sw[n], split into a row part
// and a column part, each negated once so that an element costs two integer multiply-adds. uint32
// arithmetic: the terms wrap modulo 2^32 (no signed-overflow UB); the contract's max_k keeps the final
// sum in int32 range.
struct RowZeroPoint {
  uint32_t neg_za;   // -za[m]
  uint32_t neg_rza;  // -(Sa[m] - k * za[m])
};
struct ColZeroPoint {
  uint32_t zw;  // zw[n]
  uint32_t sw;  // Sw[n]
};

// The row part of row m (m < p.m): za from act_zp[m] or act_zp_value, Sa from act_sums (0 where absent:
// then zw is 0 for every column).
template <Dtype A>
__device__ __forceinline__ RowZeroPoint row_zero_point(const LinearParams& p, int32_t m) {
  const uint32_t za = p.act_zp != nullptr
                          ? static_cast<uint32_t>(static_cast<int32_t>(static_cast<const OperandElem<A>*>(p.act_zp)[m]))
                          : static_cast<uint32_t>(p.act_zp_value);
  const uint32_t sa = p.act_sums != nullptr ? static_cast<uint32_t>(p.act_sums[m]) : 0u;
  return {0u - za, 0u - (sa - static_cast<uint32_t>(p.k) * za)};
}

// The column part of column n (n < p.n): zw from weight_zp (0 where absent), Sw from weight_sums (0 where
// absent: then za is 0 for every row).
template <Dtype W>
__device__ __forceinline__ ColZeroPoint col_zero_point(const LinearParams& p, int32_t n) {
  const uint32_t zw = p.weight_zp != nullptr
                          ? static_cast<uint32_t>(static_cast<int32_t>(static_cast<const OperandElem<W>*>(p.weight_zp)[n]))
                          : 0u;
  const uint32_t sw = p.weight_sums != nullptr ? static_cast<uint32_t>(p.weight_sums[n]) : 0u;
  return {zw, sw};
}

// The zero-point corrected accumulator (the formula above; every family calls this one).
__device__ __forceinline__ int32_t apply_zero_points(int32_t acc, RowZeroPoint r, ColZeroPoint c) {
  return static_cast<int32_t>(static_cast<uint32_t>(acc) + c.zw * r.neg_rza + r.neg_za * c.sw);
}

}  // namespace kernels
}  // namespace sq
