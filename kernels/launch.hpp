// How every kernel of the library is enqueued (host side, included by the kernel .cu files and by
// src/gpu.cpp). One launch path for all families:
//   - prepare (plan select, on the plan's device) resolves each kernel instantiation's
//     context-independent handle once (cudaGetKernel), next to its cudaFuncSetAttribute calls;
//   - launch enqueues through the driver's cuLaunchKernelEx with that handle, which costs less CPU
//     time than the runtime's cudaLaunchKernelExC (H100 machine, empty kernel with the programmatic
//     attribute, median of 6000 calls: 3.19-3.30 us against 3.43-3.47 us); where a handle or the
//     driver entry point is missing, or the driver refuses the launch, the runtime launch runs instead
//     (same kernel, same configuration: a refused launch enqueued nothing).
// The driver entry points come through cudaGetDriverEntryPointByVersion, as the tensor-map encoder's
// (sm90_common.cuh): the library does not link libcuda.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include <atomic>

namespace sq {
namespace kernels {

// One launch: a 1-D grid of 1-D CTAs.
struct LaunchConfig {
  unsigned grid = 1;            // CTAs
  unsigned block = 1;           // threads per CTA
  unsigned smem = 0;            // dynamic shared memory bytes per CTA
  cudaStream_t stream = nullptr;
  bool programmatic = false;    // programmatic stream serialization (a programmatic dependent launch)
  unsigned cluster = 1;         // CTAs per thread-block cluster; 1: no cluster attribute
};

// Resolves `func`'s handle into *slot (kept where it fails: the launch then takes the runtime path).
cudaError_t resolve_kernel(const void* func, std::atomic<void*>* slot);

// Enqueues `func` (handle: its resolved handle or nullptr) with the kernel's argument pointers.
cudaError_t launch_kernel(const void* func, void* handle, const LaunchConfig& cfg, void** args);

// The context current to the calling thread (nullptr if none or unknown) and whether `stream` belongs
// to `context` (false when the driver cannot say): src/gpu.cpp's cheap device check.
void* current_context();
bool stream_in_context(cudaStream_t stream, void* context);

// The handle slot of one kernel instantiation.
template <auto Kernel>
struct KernelHandle {
  static inline std::atomic<void*> slot{nullptr};
};

// Called by each family's prepare for every instantiation it may launch.
template <auto Kernel>
cudaError_t prepare_launch() {
  return resolve_kernel(reinterpret_cast<const void*>(Kernel), &KernelHandle<Kernel>::slot);
}

// launch<&kernel<...>>(cfg, a, b, ...): the arguments are the kernel's parameters, of its exact types.
template <auto Kernel, typename... Args>
cudaError_t launch(const LaunchConfig& cfg, const Args&... args) {
  void* a[] = {const_cast<void*>(static_cast<const void*>(&args))...};
  return launch_kernel(reinterpret_cast<const void*>(Kernel),
                       KernelHandle<Kernel>::slot.load(std::memory_order_acquire), cfg, a);
}

}  // namespace kernels
}  // namespace sq
