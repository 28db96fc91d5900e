// Helpers shared by the GPU tests: a checked CUDA call and an owning device buffer.
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
  }
  void download(void* dst, size_t n) const { CUDA_REQUIRE(cudaMemcpy(dst, p, n, cudaMemcpyDeviceToHost)); }
  void poison() { CUDA_REQUIRE(cudaMemset(p, 0xFF, bytes)); }  // NaN in every float dtype
};

}  // namespace sqt
