// Driver API entry points without linking libcuda: looked up through the runtime
// (cudaGetDriverEntryPointByVersion), the ABI of CUDA 12.0. nullptr where the driver lacks one.
#pragma once

#include <cuda_runtime_api.h>

namespace sq {
namespace kernels {

constexpr unsigned kDriverApiVersion = 12000;  // the entry points' ABI as of CUDA 12.0

template <typename F>
F driver_entry_point(const char* name) {
  void* f = nullptr;
  cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
  if (cudaGetDriverEntryPointByVersion(name, &f, kDriverApiVersion, cudaEnableDefault, &q) != cudaSuccess ||
      q != cudaDriverEntryPointSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return reinterpret_cast<F>(f);
}

}  // namespace kernels
}  // namespace sq
