// The reference methods (method.cuh):
//   read      a plain streaming read of the shape's act + weight bytes (read_kernel), once per shape: what
//             any kernel needs just to read its inputs, timed as every method is
//   read_dep  the same read as a dependent of the run before it (sm_90, M <= kReadDepMaxM only): launched
//             as a programmatic dependent, it waits for the previous kernel (griddepcontrol.wait) before
//             it reads, as a layer that reads the previous layer's output must; back to back, what a
//             chain of such kernels costs
// and the empty kernel (the fixed cost inside every timed run) with the host cost of a bare launch.
#include <cuda.h>
#include <cudaTypedefs.h>

#include "method.cuh"

namespace sqbench {
namespace {

constexpr int kReadThreads = 512;                 // read_kernel: threads per block,
constexpr int kReadBlocksPerSm = 4;               // blocks per SM (2048 threads: full occupancy)
constexpr int kReadUnroll = 4;                    // and 16-byte loads in flight per thread
constexpr uint32_t kReadSinkMagic = 0x9e3779b9u;  // read_kernel stores only on this xor value
constexpr int64_t kReadDepMaxM = 64;              // the dependent read: rows with M <= this

// A streaming read of the a16 16-byte vectors at a, then the b16 at b (a linear's act and weight),
// kReadUnroll independent loads in flight per thread (grid-stride), L1 bypassed, L2 fetching 256-byte
// blocks (as the decode kernels' loads). It folds what it reads into one xor per thread and stores it
// only when that equals kReadSinkMagic, so no load can be dropped and almost nothing is written.
// On sm_90 it allows the next kernel of the stream to launch at once (programmatic dependent launch:
// the launch sets programmatic stream serialization; no run reads what another writes), so back to back
// its runs overlap their launches as far as the hardware lets any kernel. The dependent instantiation
// (kDependent) instead waits for the kernel before it to complete before it reads (griddepcontrol.wait)
// and does not let the next one start early, as the library's decode kernels: back to back, a chain of
// dependent reads.
__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}
__device__ __forceinline__ uint32_t read_span(const uint4* p, size_t n16, size_t first, size_t stride) {
  uint32_t x = 0;
  size_t i = first;
  for (; i + (kReadUnroll - 1) * stride < n16; i += kReadUnroll * stride) {
    uint4 v[kReadUnroll];
#pragma unroll
    for (int u = 0; u < kReadUnroll; ++u) v[u] = ld_stream(p + i + u * stride);
#pragma unroll
    for (int u = 0; u < kReadUnroll; ++u) x ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = ld_stream(p + i);
    x ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  return x;
}
template <bool kDependent>
__global__ void __launch_bounds__(kReadThreads) read_kernel(const uint4* a, size_t a16, const uint4* b, size_t b16,
                                                             uint32_t* sink) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (kDependent) asm volatile("griddepcontrol.wait;" ::: "memory");
  else asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
  const size_t first = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const uint32_t x = read_span(a, a16, first, stride) ^ read_span(b, b16, first, stride);
  if (x == kReadSinkMagic) sink[0] = x;
}

// The reference for the fixed cost of one timed run: a launch that does nothing.
__global__ void empty_kernel() {}

class Read final : public Method {
 public:
  Read(Env& env, bool dependent)
      : Method(dependent ? keys::kReadDep : keys::kRead, Scope::kShape, false, {}), env_(env),
        dependent_(dependent) {}

  bool setup(ShapeOperands& ops, const RowOperands*) override {
    ops_ = &ops;
    if (!sink_.p) sink_ = DevBuf(sizeof(uint32_t));
    return !dependent_ || (env_.sm >= kPdlMinSm && ops.shape().m <= kReadDepMaxM);
  }
  void run(int i) override {
    const int j = ops_->set(i);
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = env_.sm >= kPdlMinSm ? 1 : 0;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(env_.num_sms * kReadBlocksPerSm));
    cfg.blockDim = dim3(kReadThreads);
    cfg.stream = env_.stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    const uint4* a = reinterpret_cast<const uint4*>(ops_->act(j));
    const uint4* b = reinterpret_cast<const uint4*>(ops_->weight(j));
    uint32_t* sink = sink_.as<uint32_t>();
    if (dependent_) CK_CUDA(cudaLaunchKernelEx(&cfg, read_kernel<true>, a, ops_->mk() / 16, b, ops_->nk() / 16, sink));
    else CK_CUDA(cudaLaunchKernelEx(&cfg, read_kernel<false>, a, ops_->mk() / 16, b, ops_->nk() / 16, sink));
  }

 private:
  Env& env_;
  bool dependent_;
  DevBuf sink_;  // read_kernel's store
  ShapeOperands* ops_ = nullptr;
};

}  // namespace

std::unique_ptr<Method> make_read(Env& env, bool dependent) { return std::make_unique<Read>(env, dependent); }

void launch_empty(cudaStream_t s) {
  empty_kernel<<<1, 1, 0, s>>>();
  CK_CUDA(cudaGetLastError());
}

// Host CPU time of the cheapest launch there is, the one sq_plan_run makes minus the library's own
// work: the driver's cuLaunchKernelEx (entry point, context-independent kernel handle) of an empty
// kernel with one launch attribute (programmatic stream serialization). NAN where the driver lacks it.
double host_launch_us(cudaStream_t s) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
  constexpr unsigned kDriverApiVersion = 12000;
  cudaKernel_t k = nullptr;
  if (cudaGetDriverEntryPointByVersion("cuLaunchKernelEx", &fn, kDriverApiVersion, cudaEnableDefault, &q) !=
          cudaSuccess ||
      q != cudaDriverEntryPointSuccess ||
      cudaGetKernel(&k, reinterpret_cast<const void*>(&empty_kernel)) != cudaSuccess) {
    cudaGetLastError();
    return NAN;
  }
  const auto launch_ex = reinterpret_cast<PFN_cuLaunchKernelEx_v11060>(fn);
  CUlaunchAttribute attr[1];
  attr[0].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
  attr[0].value.programmaticStreamSerializationAllowed = 1;
  CUlaunchConfig cfg = {};
  cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
  cfg.blockDimX = cfg.blockDimY = cfg.blockDimZ = 1;
  cfg.hStream = reinterpret_cast<CUstream>(s);
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return host_cost_us(s, [&] {
    if (launch_ex(&cfg, reinterpret_cast<CUfunction>(k), nullptr, nullptr) != CUDA_SUCCESS)
      die("cuLaunchKernelEx of the empty kernel failed");
  });
}

}  // namespace sqbench
