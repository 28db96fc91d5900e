// The launch glue every kernel family shares (host side): the instantiation of a kernel template for a
// run's dtype, the four dtypes a prepare covers, and the select-time setup of one instantiation.
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
