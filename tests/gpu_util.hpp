// Helpers shared by the GPU tests: a checked CUDA call, an owning device buffer, the sm_90 check and
// the eager/graph replay.
#pragma once

#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>

#define CUDA_REQUIRE(x) REQUIRE((x) == cudaSuccess)

namespace sqt {

struct DevBuf {
  void* p = nullptr;
  size_t bytes = 0;
  explicit DevBuf(size_t b) : bytes(b) { CUDA_REQUIRE(cudaMalloc(&p, std::max<size_t>(b, 1))); }
  ~DevBuf() { cudaFree(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  void upload(const void* src, size_t n, size_t offset = 0) {
    CUDA_REQUIRE(cudaMemcpy(static_cast<char*>(p) + offset, src, n, cudaMemcpyHostToDevice));
    CUDA_REQUIRE(cudaDeviceSynchronize());  // a non-blocking stream does not wait for the legacy stream's copy
  }
  void download(void* dst, size_t n) const { CUDA_REQUIRE(cudaMemcpy(dst, p, n, cudaMemcpyDeviceToHost)); }
  void poison() {  // NaN in every float dtype; finished before a non-blocking stream runs
    CUDA_REQUIRE(cudaMemset(p, 0xFF, bytes));
    CUDA_REQUIRE(cudaDeviceSynchronize());
  }
};

// Whether the current device is an sm_90 GPU (the Hopper family's device).
inline bool is_sm90() {
  int dev = 0, major = 0, minor = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  return major == 9 && minor == 0;
}

// The current device's SM count.
inline int num_sms() {
  int dev = 0, sms = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  return sms;
}

// Runs enqueue() (work queued on s) three times, eagerly or as one captured CUDA graph replayed,
// with poison() before and check() after each run (once s has drained).
template <typename Enqueue, typename Poison, typename Check>
void run_three_times(cudaStream_t s, bool graph, Enqueue enqueue, Poison poison, Check check) {
  cudaGraph_t g = nullptr;
  cudaGraphExec_t exec = nullptr;
  if (graph) {
    CUDA_REQUIRE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    enqueue();
    CUDA_REQUIRE(cudaStreamEndCapture(s, &g));
    CUDA_REQUIRE(cudaGraphInstantiate(&exec, g, 0));
  }
  for (int rep = 0; rep < 3; ++rep) {
    poison();
    if (graph) {
      CUDA_REQUIRE(cudaGraphLaunch(exec, s));
    } else {
      enqueue();
    }
    CUDA_REQUIRE(cudaStreamSynchronize(s));
    CUDA_REQUIRE(cudaGetLastError());
    check();
  }
  if (graph) {
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(g);
  }
}

}  // namespace sqt
