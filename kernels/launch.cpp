// The one launch path (see launch.hpp).
#include "launch.hpp"

#include <cudaTypedefs.h>

#include "driver_api.hpp"

namespace sq {
namespace kernels {
namespace {

constexpr unsigned kMaxLaunchAttributes = 2;  // programmatic serialization, cluster dimension

// cuLaunchKernelEx, looked up once.
PFN_cuLaunchKernelEx_v11060 launch_ex() {
  static const PFN_cuLaunchKernelEx_v11060 f = driver_entry_point<PFN_cuLaunchKernelEx_v11060>("cuLaunchKernelEx");
  return f;
}

// The launch attributes of c (programmatic stream serialization, cluster dimension) into attr, of the
// runtime's or the driver's attribute type (value: the attribute's value member); returns how many.
template <typename Attr, typename Id, typename Value>
unsigned fill_attributes(const LaunchConfig& c, Attr* attr, Id programmatic_id, Id cluster_id, Value value) {
  unsigned n = 0;
  if (c.programmatic) {
    attr[n].id = programmatic_id;
    value(attr[n]).programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  if (c.cluster > 1) {
    attr[n].id = cluster_id;
    value(attr[n]).clusterDim.x = c.cluster;
    value(attr[n]).clusterDim.y = 1;
    value(attr[n]).clusterDim.z = 1;
    ++n;
  }
  return n;
}

cudaError_t runtime_launch(const void* func, const LaunchConfig& c, void** args) {
  cudaLaunchAttribute attr[kMaxLaunchAttributes];
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(c.grid);
  cfg.blockDim = dim3(c.block);
  cfg.dynamicSmemBytes = c.smem;
  cfg.stream = c.stream;
  cfg.attrs = attr;
  cfg.numAttrs = fill_attributes(c, attr, cudaLaunchAttributeProgrammaticStreamSerialization,
                                 cudaLaunchAttributeClusterDimension,
                                 [](cudaLaunchAttribute& a) -> cudaLaunchAttributeValue& { return a.val; });
  return cudaLaunchKernelExC(&cfg, func, args);
}

}  // namespace

cudaError_t resolve_kernel(const void* func, std::atomic<void*>* slot) {
  if (slot->load(std::memory_order_acquire) != nullptr) return cudaSuccess;
  cudaKernel_t k = nullptr;
  const cudaError_t e = cudaGetKernel(&k, func);
  if (e != cudaSuccess) return e;
  slot->store(static_cast<void*>(k), std::memory_order_release);
  return cudaSuccess;
}

cudaError_t launch_kernel(const void* func, void* handle, const LaunchConfig& c, void** args) {
  const PFN_cuLaunchKernelEx_v11060 launch = launch_ex();
  if (handle != nullptr && launch != nullptr) {
    CUlaunchAttribute attr[kMaxLaunchAttributes];
    CUlaunchConfig cfg = {};
    cfg.gridDimX = c.grid;
    cfg.gridDimY = 1;
    cfg.gridDimZ = 1;
    cfg.blockDimX = c.block;
    cfg.blockDimY = 1;
    cfg.blockDimZ = 1;
    cfg.sharedMemBytes = c.smem;
    cfg.hStream = reinterpret_cast<CUstream>(c.stream);
    cfg.attrs = attr;
    cfg.numAttrs = fill_attributes(c, attr, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION,
                                   CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION,
                                   [](CUlaunchAttribute& a) -> CUlaunchAttributeValue& { return a.value; });
    // A CUkernel handle stands for the kernel in the current context (CUDA >= 12.0).
    if (launch(&cfg, reinterpret_cast<CUfunction>(handle), args, nullptr) == CUDA_SUCCESS) return cudaSuccess;
  }
  return runtime_launch(func, c, args);
}

}  // namespace kernels
}  // namespace sq
