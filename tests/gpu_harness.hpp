// The plan-level harness of tests/op_harness.hpp on the GPU: a case's operands in device memory.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gpu_util.hpp"
#include "op_harness.hpp"

namespace sqt {

// A case's operands (tests/op_harness.hpp) in device memory of the current device, one cudaMalloc each,
// and a workspace of `ws` bytes: the same layout as HostPlaced, so that a GPU plan's outputs compare with
// the host plan's byte for byte.
class DevPlaced {
 public:
  DevPlaced(const OpCase& c, size_t ws) : c_(c) {
    args_ = case_args(c);
    for (const Operand& o : c.operands) {
      void* p = nullptr;
      CUDA_REQUIRE(cudaMalloc(&p, std::max<size_t>(o.data.size(), 1)));
      ptrs_.push_back(p);
      set_arg(args_, o.field, p);
    }
    for (const auto& al : c.aliases) set_arg(args_, al.first, ptr(al.second));
    ws_bytes_ = ws;
    if (ws > 0) CUDA_REQUIRE(cudaMalloc(&ws_, ws));
    reset();
  }
  ~DevPlaced() {
    for (void* p : ptrs_) cudaFree(p);
    if (ws_) cudaFree(ws_);
  }
  DevPlaced(const DevPlaced&) = delete;
  DevPlaced& operator=(const DevPlaced&) = delete;

  sq_run_args& args() { return args_; }
  void* workspace() const { return ws_; }
  size_t workspace_bytes() const { return ws_bytes_; }
  void* ptr(const std::string& field) const {
    for (size_t i = 0; i < ptrs_.size(); ++i)
      if (c_.operands[i].field == field) return ptrs_[i];
    FAIL("no operand " << field);
    return nullptr;
  }
  // Inputs (and in-place outputs) hold their data; outputs and the workspace are poisoned (0xFF); on
  // `stream` when given (graph replays), else now.
  void reset(cudaStream_t stream = nullptr, bool async = false) {
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      const Operand& o = c_.operands[i];
      if (async) {
        if (o.init) CUDA_REQUIRE(cudaMemcpyAsync(ptrs_[i], o.data.data(), o.data.size(), cudaMemcpyHostToDevice, stream));
        else CUDA_REQUIRE(cudaMemsetAsync(ptrs_[i], 0xFF, o.data.size(), stream));
      } else {
        if (o.init) CUDA_REQUIRE(cudaMemcpy(ptrs_[i], o.data.data(), o.data.size(), cudaMemcpyHostToDevice));
        else CUDA_REQUIRE(cudaMemset(ptrs_[i], 0xFF, o.data.size()));
      }
    }
    if (ws_) {
      if (async) CUDA_REQUIRE(cudaMemsetAsync(ws_, 0xFF, ws_bytes_, stream));
      else CUDA_REQUIRE(cudaMemset(ws_, 0xFF, ws_bytes_));
    }
    // cudaMemset and a pageable cudaMemcpy may still be running on the legacy stream when they return, and
    // a non-blocking stream does not wait for it: finish them before anything runs on such a stream.
    if (async) CUDA_REQUIRE(cudaStreamSynchronize(stream));
    else CUDA_REQUIRE(cudaDeviceSynchronize());
  }
  // Replaces an input's bytes on the device (e.g. a new scale before a graph replay).
  void upload(const std::string& field, const std::vector<unsigned char>& data) {
    CUDA_REQUIRE(cudaMemcpy(ptr(field), data.data(), data.size(), cudaMemcpyHostToDevice));
    CUDA_REQUIRE(cudaDeviceSynchronize());  // as reset(): done before a non-blocking stream runs
  }
  std::vector<std::vector<unsigned char>> outputs() const {
    std::vector<std::vector<unsigned char>> v;
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      if (!c_.operands[i].output) continue;
      std::vector<unsigned char> b(c_.operands[i].data.size());
      CUDA_REQUIRE(cudaMemcpy(b.data(), ptrs_[i], b.size(), cudaMemcpyDeviceToHost));
      v.push_back(std::move(b));
    }
    return v;
  }
  sq_status run(sq_plan p, cudaStream_t s) {
    return sq_plan_run(p, reinterpret_cast<sq_stream>(s), ws_, ws_bytes_, &args_);
  }

 private:
  const OpCase& c_;
  sq_run_args args_;
  std::vector<void*> ptrs_;
  void* ws_ = nullptr;
  size_t ws_bytes_ = 0;
};

}  // namespace sqt
