// The launch glue every kernel family shares (host side): a run's Dtype to its element type, the four
// dtypes a prepare covers, and the select-time setup of one kernel instantiation.
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

// f(TypeTag<T>{}) with T the element type of d.
template <typename F>
cudaError_t for_dtype(Dtype d, F&& f) {
  switch (d) {
    case Dtype::F32: return f(TypeTag<float>{});
    case Dtype::F64: return f(TypeTag<double>{});
    case Dtype::F16: return f(TypeTag<__half>{});
    case Dtype::BF16: return f(TypeTag<__nv_bfloat16>{});
  }
  return cudaErrorInvalidValue;
}

// f for each of the four dtypes (F32, F64, F16, BF16), stopping at the first failure.
template <typename F>
cudaError_t for_each_dtype(F&& f) {
  for (Dtype d : {Dtype::F32, Dtype::F64, Dtype::F16, Dtype::BF16}) {
    const cudaError_t e = for_dtype(d, f);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
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
