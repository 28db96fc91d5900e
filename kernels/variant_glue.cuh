// The launch glue every kernel family shares (host side): the instantiation of a kernel template for a
// run's dtype (and, for the linears, its operand types), the instantiations a prepare covers, and the
// select-time setup of one instantiation.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernel_params.hpp"
#include "launch.hpp"

namespace sq {
namespace kernels {

template <typename T>
struct TypeTag {
  using type = T;
};

// The instantiation pick(TypeTag<T>{}) returns (a KernelRef) for T the element type of d; none for an
// unknown d.
template <typename Pick>
KernelRef kernel_for(Dtype d, Pick&& pick) {
  switch (d) {
    case Dtype::F32: return pick(TypeTag<float>{});
    case Dtype::F64: return pick(TypeTag<double>{});
    case Dtype::F16: return pick(TypeTag<__half>{});
    case Dtype::BF16: return pick(TypeTag<__nv_bfloat16>{});
  }
  return {};
}

// f(TypeTag<T>{}) for each element type T (F32, F64, F16, BF16), stopping at the first failure.
template <typename F>
cudaError_t for_each_dtype(F&& f) {
  cudaError_t e = f(TypeTag<float>{});
  if (e == cudaSuccess) e = f(TypeTag<double>{});
  if (e == cudaSuccess) e = f(TypeTag<__half>{});
  if (e == cudaSuccess) e = f(TypeTag<__nv_bfloat16>{});
  return e;
}

// The MMA operand types of a linear kernel instantiation: act (A of the GEMM) and weight, each S8 or U8.
template <Dtype A, Dtype W>
struct OperandTag {
  static constexpr Dtype kAct = A;
  static constexpr Dtype kWeight = W;
};

// The linear kernel instantiation for a run: pick(TypeTag<T>{}, OperandTag<A, W>{}) for T the element type
// of p.dtype (S32: float, the instantiation the accumulator-only output runs in) and the operand types
// (p.act_type, p.weight_type); none (launches nothing) for any other value.
template <typename Pick>
KernelRef kernel_for(const LinearParams& p, Pick&& pick) {
  const Dtype t = p.dtype == Dtype::S32 ? Dtype::F32 : p.dtype;
  const Dtype a = p.act_type, w = p.weight_type;
  return kernel_for(t, [&](auto tt) -> KernelRef {
    if (a == Dtype::S8 && w == Dtype::S8) return pick(tt, OperandTag<Dtype::S8, Dtype::S8>{});
    if (a == Dtype::S8 && w == Dtype::U8) return pick(tt, OperandTag<Dtype::S8, Dtype::U8>{});
    if (a == Dtype::U8 && w == Dtype::S8) return pick(tt, OperandTag<Dtype::U8, Dtype::S8>{});
    if (a == Dtype::U8 && w == Dtype::U8) return pick(tt, OperandTag<Dtype::U8, Dtype::U8>{});
    return {};
  });
}

// f(TypeTag<T>{}, OperandTag<A, W>{}) for every element type and operand pair a linear kernel is
// instantiated for, stopping at the first failure: what a linear variant's prepare covers.
template <typename F>
cudaError_t for_each_instance(F&& f) {
  return for_each_dtype([&](auto t) -> cudaError_t {
    cudaError_t e = f(t, OperandTag<Dtype::S8, Dtype::S8>{});
    if (e == cudaSuccess) e = f(t, OperandTag<Dtype::S8, Dtype::U8>{});
    if (e == cudaSuccess) e = f(t, OperandTag<Dtype::U8, Dtype::S8>{});
    if (e == cudaSuccess) e = f(t, OperandTag<Dtype::U8, Dtype::U8>{});
    return e;
  });
}

// Dynamic shared memory a kernel gets without opting in.
constexpr unsigned kDefaultDynamicSmem = 48 * 1024;

// At plan select: opts Kernel in to smem bytes of dynamic shared memory where that is more than the
// default, then resolves its launch handle (launch.hpp).
template <auto Kernel>
cudaError_t prepare_kernel(unsigned smem) {
  if (smem > kDefaultDynamicSmem) {
    const cudaError_t e = cudaFuncSetAttribute(reinterpret_cast<const void*>(Kernel),
                                               cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (e != cudaSuccess) return e;
  }
  return prepare_launch<Kernel>();
}

}  // namespace kernels
}  // namespace sq
