// How every kernel of the library is enqueued (host side, included by the kernel .cu files).
// One launch path for all families:
//   - prepare (plan select, on the plan's device) resolves each kernel instantiation's
//     context-independent handle once (cudaGetKernel), next to its cudaFuncSetAttribute calls;
//   - launch enqueues through the driver's cuLaunchKernelEx with that handle, which costs less CPU time
//     than the runtime's cudaLaunchKernelExC [D-launch-path]; where a handle or the driver entry point
//     is missing, or the driver refuses the launch, the runtime launch runs instead (same kernel, same
//     configuration: a refused launch enqueued nothing).
// The driver entry points come through driver_api.hpp: the library does not link libcuda.
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

// One kernel instantiation: its function and the slot of its launch handle.
struct KernelRef {
  const void* func = nullptr;
  std::atomic<void*>* slot = nullptr;
};

template <auto Kernel>
KernelRef kernel_ref() {
  return {reinterpret_cast<const void*>(Kernel), &KernelHandle<Kernel>::slot};
}

// launch(k, cfg, a, b, ...): the arguments are the kernel's parameters, of its exact types. A KernelRef
// without a function (no instantiation for the run's dtype) launches nothing: cudaErrorInvalidValue.
template <typename... Args>
cudaError_t launch(const KernelRef& k, const LaunchConfig& cfg, const Args&... args) {
  if (k.func == nullptr) return cudaErrorInvalidValue;
  void* a[] = {const_cast<void*>(static_cast<const void*>(&args))...};
  return launch_kernel(k.func, k.slot->load(std::memory_order_acquire), cfg, a);
}

// launch<&kernel<...>>(cfg, a, b, ...): the same for one instantiation named at compile time.
template <auto Kernel, typename... Args>
cudaError_t launch(const LaunchConfig& cfg, const Args&... args) {
  return launch(kernel_ref<Kernel>(), cfg, args...);
}

}  // namespace kernels
}  // namespace sq
