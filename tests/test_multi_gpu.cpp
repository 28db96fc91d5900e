// The plan's device rules on two real GPUs (issue 23), for every op (0.1 ops in "[multi]", the 0.2
// ops also in "[ops02]"):
//   - a stream of another GPU is SQ_STATUS_WRONG_DEVICE, and nothing is written;
//   - a plan selected on GPU 1 runs from a thread whose current device is 0 (the main thread, a new
//     thread, a captured graph): the run switches to the plan's device and back, and the results
//     equal the host reference plan's bit for bit;
//   - two plans on two GPUs at once, selected and run from two threads, and from one thread that
//     alternates between them;
//   - sq_plan_can_implement refuses a pointer of another device in every operand (WRONG_DEVICE,
//     with peer access enabled too) and accepts managed memory.
// Own main: with fewer than two CUDA GPUs it says why and exits 77 (ctest: skipped, never passed).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "run_arg_fields.hpp"
#include "test_util.hpp"

using namespace sqt;

namespace {

// ------------------------------------------------------------------------------------ helpers
// Harness errors are exceptions (Catch2 v2 assertions are for the main thread only; worker threads
// catch these and hand the message back).
void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}
#define CUDA_OK(x) cuda_check((x), #x)

int current_device() {
  int d = -1;
  CUDA_OK(cudaGetDevice(&d));
  return d;
}

// Makes `device` current for a scope.
class OnDevice {
 public:
  explicit OnDevice(int device) : previous_(current_device()) { CUDA_OK(cudaSetDevice(device)); }
  ~OnDevice() { cudaSetDevice(previous_); }
  OnDevice(const OnDevice&) = delete;
  OnDevice& operator=(const OnDevice&) = delete;

 private:
  int previous_;
};

// One operand of a run: the sq_run_args field it goes in (named as the library's messages name it),
// its contents (inputs) or size (outputs: poisoned before each run).
struct Operand {
  std::string field;
  std::vector<unsigned char> data;
  bool output = false;
};

struct OpCase {
  std::string name;
  sq_plan_desc desc;
  int64_t m = 0;
  std::vector<Operand> operands;
};


std::vector<unsigned char> bytes(const Buf& b) { return b.bytes; }
std::vector<unsigned char> s8(size_t n) {
  const std::vector<int8_t> v = random_s8(n);
  return std::vector<unsigned char>(reinterpret_cast<const unsigned char*>(v.data()),
                                    reinterpret_cast<const unsigned char*>(v.data()) + n);
}
std::vector<unsigned char> s32(size_t n, int32_t lo, int32_t hi) {
  std::uniform_int_distribution<int32_t> d(lo, hi);
  std::vector<unsigned char> v(n * 4);
  for (size_t i = 0; i < n; ++i) {
    const int32_t x = d(rng());
    std::memcpy(&v[i * 4], &x, 4);
  }
  return v;
}
std::vector<unsigned char> zeros(size_t n) { return std::vector<unsigned char>(n); }

Operand in(const char* f, std::vector<unsigned char> d) { return Operand{f, std::move(d), false}; }
Operand out(const char* f, size_t n) { return Operand{f, zeros(n), true}; }

sq_plan_desc desc_of(sq_op op) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = op;
  return d;
}

// ----------------------------------------------------------------------------------- the cases
constexpr int64_t kM = 37, kN = 300, kK = 512;

std::vector<OpCase> cases_01() {
  std::vector<OpCase> v;
  {
    OpCase c{"SMOOTHQUANT_LINEAR bf16 + bias", linear_desc(SQ_DTYPE_BF16, kN, kK, 64, 0.0123), kM, {}};
    c.operands = {in("act", s8(kM * kK)), in("weight", s8(kN * kK)),
                  in("weight_scale", bytes(random_scales(SQ_DTYPE_BF16, kN))),
                  in("bias", bytes(random_values(SQ_DTYPE_BF16, kN, -4, 4))), out("act_scale_scratch", kM * 2),
                  out("out", kM * kN * 2)};
    v.push_back(c);
  }
  {
    sq_plan_desc d = desc_of(SQ_OP_QUANTIZED_LINEAR);
    d.act_dtype = SQ_DTYPE_F32;
    d.weight_dtype = SQ_DTYPE_S8;
    d.scale_dtype = d.out_dtype = SQ_DTYPE_F32;
    d.n = kN;
    d.k = kK;
    d.max_m = 64;
    OpCase c{"QUANTIZED_LINEAR f32 (workspace)", d, kM, {}};
    c.operands = {in("act", bytes(random_values(SQ_DTYPE_F32, kM * kK, -3, 3))), in("weight", s8(kN * kK)),
                  in("weight_scale", bytes(random_scales(SQ_DTYPE_F32, kN))), out("act_scale_scratch", kM * 4),
                  out("out", kM * kN * 4)};
    v.push_back(c);
  }
  {
    OpCase c{"QUANTIZE_DYNAMIC f16 -> s8, f32 scales", quantize_desc(SQ_OP_QUANTIZE_DYNAMIC, SQ_DTYPE_F16, SQ_DTYPE_F32, 1000, 64, 0),
             kM, {}};
    c.operands = {in("act", bytes(random_values(SQ_DTYPE_F16, kM * 1000, -8, 8))), out("out", kM * 1000),
                  out("act_scale_scratch", kM * 4)};
    v.push_back(c);
  }
  {
    OpCase c{"QUANTIZE_STATIC bf16 -> s8", quantize_desc(SQ_OP_QUANTIZE_STATIC, SQ_DTYPE_BF16, SQ_DTYPE_INVALID, 1000, 64, 0.05),
             kM, {}};
    c.operands = {in("act", bytes(random_values(SQ_DTYPE_BF16, kM * 1000, -8, 8))), out("out", kM * 1000)};
    v.push_back(c);
  }
  return v;
}

// The 0.2 ops, with every 0.2 pointer field somewhere (act_scale, weight_zero_point, weight_sums,
// act_zero_point, act_sums, absmax, residual, residual_out, norm_weight).
std::vector<OpCase> cases_02() {
  std::vector<OpCase> v;
  {
    sq_plan_desc d = desc_of(SQ_OP_SCALED_LINEAR);
    d.act_dtype = d.weight_dtype = SQ_DTYPE_S8;
    d.scale_dtype = d.out_dtype = SQ_DTYPE_BF16;
    d.n = kN;
    d.k = kK;
    d.max_m = 64;
    OpCase c{"SCALED_LINEAR bf16 + bias", d, kM, {}};
    c.operands = {in("act", s8(kM * kK)), in("act_scale", bytes(random_scales(SQ_DTYPE_BF16, kM))),
                  in("weight", s8(kN * kK)), in("weight_scale", bytes(random_scales(SQ_DTYPE_BF16, kN))),
                  in("bias", bytes(random_values(SQ_DTYPE_BF16, kN, -4, 4))), out("out", kM * kN * 2)};
    v.push_back(c);
  }
  {
    sq_plan_desc d = desc_of(SQ_OP_SCALED_LINEAR);
    d.act_dtype = d.weight_dtype = SQ_DTYPE_S8;
    d.scale_dtype = d.out_dtype = SQ_DTYPE_F32;
    d.n = kN;
    d.k = kK;
    d.max_m = 64;
    d.flags = SQ_PLAN_ACT_ZERO_POINT | SQ_PLAN_WEIGHT_ZERO_POINT;
    OpCase c{"SCALED_LINEAR f32 with activation and weight zero points", d, kM, {}};
    const std::vector<unsigned char> w = s8(kN * kK);
    std::vector<unsigned char> sums(kN * 4);
    for (int64_t n = 0; n < kN; ++n) {
      int32_t s = 0;
      for (int64_t k = 0; k < kK; ++k) s += static_cast<int8_t>(w[n * kK + k]);
      std::memcpy(&sums[n * 4], &s, 4);
    }
    c.operands = {in("act", s8(kM * kK)), in("act_scale", bytes(random_scales(SQ_DTYPE_F32, kM))),
                  in("act_zero_point", s8(kM)), in("weight", w), in("weight_scale", bytes(random_scales(SQ_DTYPE_F32, kN))),
                  in("weight_zero_point", s8(kN)), in("weight_sums", sums), out("out", kM * kN * 4)};
    v.push_back(c);
  }
  {
    sq_plan_desc d = desc_of(SQ_OP_SMOOTHQUANT_LINEAR);
    d.act_dtype = d.weight_dtype = SQ_DTYPE_S8;
    d.out_dtype = SQ_DTYPE_S32;
    d.n = kN;
    d.k = kK;
    d.max_m = 64;
    OpCase c{"SMOOTHQUANT_LINEAR S32 out (accumulator only)", d, kM, {}};
    c.operands = {in("act", s8(kM * kK)), in("weight", s8(kN * kK)), out("out", kM * kN * 4)};
    v.push_back(c);
  }
  {
    sq_plan_desc d = desc_of(SQ_OP_SCALE_ACCUMULATORS);
    d.act_dtype = SQ_DTYPE_S32;
    d.scale_dtype = d.out_dtype = SQ_DTYPE_F32;
    d.n = kN;
    d.max_m = 64;
    OpCase c{"SCALE_ACCUMULATORS f32 + bias", d, kM, {}};
    c.operands = {in("act", s32(kM * kN, -(1 << 24), 1 << 24)), in("act_scale", bytes(random_scales(SQ_DTYPE_F32, kM))),
                  in("weight_scale", bytes(random_scales(SQ_DTYPE_F32, kN))),
                  in("bias", bytes(random_values(SQ_DTYPE_F32, kN, -4, 4))), out("out", kM * kN * 4)};
    v.push_back(c);
  }
  const int64_t ks = 1000;  // SiLU-mul: x [M, 2K]
  {
    sq_plan_desc d = desc_of(SQ_OP_SILU_MUL_QUANTIZE);
    d.act_dtype = SQ_DTYPE_BF16;
    d.out_dtype = SQ_DTYPE_S8;
    d.scale_dtype = SQ_DTYPE_BF16;
    d.k = ks;
    d.max_m = 64;
    d.quant_mode = SQ_QUANT_ABSMAX;
    OpCase c{"SILU_MUL_QUANTIZE abs-max only", d, kM, {}};
    c.operands = {in("act", bytes(random_values(SQ_DTYPE_BF16, kM * 2 * ks, -6, 6))), out("absmax", kM * 4)};
    v.push_back(c);
    d.quant_mode = SQ_QUANT_FROM_ABSMAX;
    OpCase f{"SILU_MUL_QUANTIZE from abs-max, with act_sums", d, kM, {}};
    f.operands = {in("act", bytes(random_values(SQ_DTYPE_BF16, kM * 2 * ks, -6, 6))),
                  in("absmax", bytes(random_values(SQ_DTYPE_F32, kM, 1, 20))), out("out", kM * ks),
                  out("act_scale_scratch", kM * 2), out("act_sums", kM * 4)};
    v.push_back(f);
  }
  {
    sq_plan_desc d = desc_of(SQ_OP_RMSNORM_QUANTIZE);
    d.act_dtype = SQ_DTYPE_F16;
    d.out_dtype = SQ_DTYPE_S8;
    d.scale_dtype = SQ_DTYPE_F32;
    d.k = 1024;
    d.max_m = 64;
    d.eps = 1e-6;
    OpCase c{"RMSNORM_QUANTIZE f16 with residual, dynamic", d, kM, {}};
    c.operands = {in("act", bytes(random_values(SQ_DTYPE_F16, kM * 1024, -4, 4))),
                  in("residual", bytes(random_values(SQ_DTYPE_F16, kM * 1024, -4, 4))),
                  in("norm_weight", bytes(random_values(SQ_DTYPE_F16, 1024, 0.5, 1.5))), out("residual_out", kM * 1024 * 2),
                  out("out", kM * 1024), out("act_scale_scratch", kM * 4)};
    v.push_back(c);
  }
  return v;
}

// ------------------------------------------------------------------------- operands in memory
// A case's operands in one place: host memory (device -1), device memory of `device`, or (managed)
// managed memory. Also the plan's workspace there.
class Placed {
 public:
  Placed(const OpCase& c, int device, size_t workspace_bytes, bool managed = false) : device_(device) {
    for (const Operand& o : c.operands) ptrs_.push_back(alloc(o.data.size(), managed));
    if (workspace_bytes > 0) ws_ = alloc(workspace_bytes + 16, managed);
    ws_bytes_ = workspace_bytes;
    for (size_t i = 0; i < c.operands.size(); ++i)
      if (!c.operands[i].output) upload(i, c.operands[i].data);
    for (size_t i = 0; i < c.operands.size(); ++i) sizes_.push_back(c.operands[i].data.size());
    for (const Operand& o : c.operands) fields_.push_back(o.field);
    for (const Operand& o : c.operands) outputs_.push_back(o.output);
    args_ = run_args();
    args_.m = c.m;
    for (size_t i = 0; i < ptrs_.size(); ++i) set_arg(args_, fields_[i], ptrs_[i]);
  }
  ~Placed() {
    for (void* p : owned_) {
      if (device_ < 0) std::free(p);
      else cudaFree(p);
    }
  }
  Placed(const Placed&) = delete;
  Placed& operator=(const Placed&) = delete;

  const sq_run_args& args() const { return args_; }
  void* workspace() const { return ws_; }
  size_t workspace_bytes() const { return ws_bytes_; }
  size_t size() const { return ptrs_.size(); }
  const std::string& field(size_t i) const { return fields_[i]; }
  size_t bytes(size_t i) const { return sizes_[i]; }

  // Outputs to 0xFF (NaN in every float dtype), on `stream` (of this placement's device) or now.
  void poison(cudaStream_t stream = nullptr) {
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      if (!outputs_[i]) continue;
      if (device_ < 0) {
        std::memset(ptrs_[i], 0xFF, sizes_[i]);
      } else {
        OnDevice on(device_);
        if (stream) CUDA_OK(cudaMemsetAsync(ptrs_[i], 0xFF, sizes_[i], stream));
        else CUDA_OK(cudaMemset(ptrs_[i], 0xFF, sizes_[i]));
      }
    }
    if (device_ >= 0 && stream == nullptr) {
      OnDevice on(device_);
      CUDA_OK(cudaDeviceSynchronize());
    }
  }
  // The outputs, in operand order (callers synchronize the stream first).
  std::vector<std::vector<unsigned char>> outputs() const {
    std::vector<std::vector<unsigned char>> v;
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      if (!outputs_[i]) continue;
      std::vector<unsigned char> b(sizes_[i]);
      if (device_ < 0) {
        std::memcpy(b.data(), ptrs_[i], b.size());
      } else {
        OnDevice on(device_);
        CUDA_OK(cudaMemcpy(b.data(), ptrs_[i], b.size(), cudaMemcpyDeviceToHost));
      }
      v.push_back(std::move(b));
    }
    return v;
  }
  std::vector<std::string> output_names() const {
    std::vector<std::string> v;
    for (size_t i = 0; i < ptrs_.size(); ++i)
      if (outputs_[i]) v.push_back(fields_[i]);
    return v;
  }

 private:
  void* alloc(size_t n, bool managed) {
    void* p = nullptr;
    const size_t b = std::max<size_t>(n, 16);
    if (device_ < 0) {
      p = std::aligned_alloc(64, (b + 63) / 64 * 64);
      if (!p) throw std::runtime_error("out of host memory");
    } else {
      OnDevice on(device_);
      if (managed) CUDA_OK(cudaMallocManaged(&p, b));
      else CUDA_OK(cudaMalloc(&p, b));
    }
    owned_.push_back(p);
    return p;
  }
  void upload(size_t i, const std::vector<unsigned char>& d) {
    if (device_ < 0) {
      std::memcpy(ptrs_[i], d.data(), d.size());
    } else {
      OnDevice on(device_);
      CUDA_OK(cudaMemcpy(ptrs_[i], d.data(), d.size(), cudaMemcpyHostToDevice));
    }
  }

  int device_;
  std::vector<void*> ptrs_, owned_;
  std::vector<size_t> sizes_;
  std::vector<std::string> fields_;
  std::vector<bool> outputs_;
  void* ws_ = nullptr;
  size_t ws_bytes_ = 0;
  sq_run_args args_;
};

std::string sq_error(sq_status st, const char* what) {
  return std::string(what) + ": " + sq_status_string(st) + ": " + sq_last_error_message();
}

// A plan on the stream's device (FASTEST), or the host reference plan (stream ignored).
sq_plan select(const OpCase& c, cudaStream_t stream, sq_preference pref = SQ_PREFERENCE_FASTEST) {
  sq_plan p = nullptr;
  const sq_status st = sq_plan_select(reinterpret_cast<sq_stream>(stream), &c.desc, pref, &p);
  if (st != SQ_STATUS_SUCCESS) throw std::runtime_error(sq_error(st, ("sq_plan_select(" + c.name + ")").c_str()));
  return p;
}

size_t workspace_of(sq_plan p) {
  size_t b = 0;
  const sq_status st = sq_plan_workspace_size(p, &b);
  if (st != SQ_STATUS_SUCCESS) throw std::runtime_error(sq_error(st, "sq_plan_workspace_size"));
  return b;
}

int plan_device(sq_plan p) {
  sq_plan_info info;
  std::memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  const sq_status st = sq_plan_get_info(p, &info);
  if (st != SQ_STATUS_SUCCESS) throw std::runtime_error(sq_error(st, "sq_plan_get_info"));
  return info.device;
}

sq_status run(sq_plan p, cudaStream_t s, const Placed& at) {
  return sq_plan_run(p, reinterpret_cast<sq_stream>(s), at.workspace(), at.workspace_bytes(), &at.args());
}

// The host reference plan's outputs for a case.
std::vector<std::vector<unsigned char>> host_result(const OpCase& c) {
  sq_plan p = select(c, nullptr, SQ_PREFERENCE_HOST_REFERENCE);
  std::vector<std::vector<unsigned char>> r;
  {
    Placed h(c, -1, workspace_of(p));
    h.poison();
    const sq_status st = run(p, nullptr, h);
    if (st != SQ_STATUS_SUCCESS) {
      const std::string m = sq_error(st, "host reference run");
      sq_plan_destroy(p);
      throw std::runtime_error(m);
    }
    r = h.outputs();
  }
  sq_plan_destroy(p);
  return r;
}

// "" when `got` equals `want` bit for bit, else where they first differ.
std::string mismatch(const Placed& at, const std::vector<std::vector<unsigned char>>& got,
                     const std::vector<std::vector<unsigned char>>& want) {
  const std::vector<std::string> names = at.output_names();
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    size_t b = 0;
    while (b < want[i].size() && got[i][b] == want[i][b]) ++b;
    return "output " + names[i] + " differs from the host reference plan's first at byte " + std::to_string(b);
  }
  return "";
}

bool all_poison(const std::vector<std::vector<unsigned char>>& outs) {
  for (const auto& o : outs)
    for (unsigned char b : o)
      if (b != 0xFF) return false;
  return true;
}

// A non-blocking stream on each of devices 0 and 1 (created with that device current).
struct TwoStreams {
  cudaStream_t s[2] = {nullptr, nullptr};
  TwoStreams() {
    for (int d = 0; d < 2; ++d) {
      OnDevice on(d);
      CUDA_OK(cudaStreamCreateWithFlags(&s[d], cudaStreamNonBlocking));
    }
  }
  ~TwoStreams() {
    for (int d = 0; d < 2; ++d) {
      OnDevice on(d);
      cudaStreamDestroy(s[d]);
    }
  }
};

// A plan selected from `stream` (of device `device`) and the case's operands on that device.
struct GpuCase {
  sq_plan plan;
  Placed at;
  GpuCase(const OpCase& c, cudaStream_t stream, int device)
      : plan(select(c, stream)), at(c, device, workspace_of(plan)) {}
  ~GpuCase() { sq_plan_destroy(plan); }
  GpuCase(const GpuCase&) = delete;
  GpuCase& operator=(const GpuCase&) = delete;
};

// ------------------------------------------------------------------------------------ checks
void check_wrong_stream(const OpCase& c) {
  INFO("case: " << c.name);
  TwoStreams st;
  CUDA_OK(cudaSetDevice(0));
  GpuCase g1(c, st.s[1], 1);  // selected from device 0 through a stream of device 1
  REQUIRE(plan_device(g1.plan) == 1);
  REQUIRE(current_device() == 0);
  g1.at.poison();
  for (int cur : {0, 1}) {
    CUDA_OK(cudaSetDevice(cur));
    INFO("current device " << cur);
    REQUIRE(run(g1.plan, st.s[0], g1.at) == SQ_STATUS_WRONG_DEVICE);
    CHECK_THAT(last_error(), Catch::Contains("device 0") && Catch::Contains("device 1"));
    REQUIRE(current_device() == cur);
  }
  // NULL is the current device's default stream: device 0's is another GPU's stream.
  CUDA_OK(cudaSetDevice(0));
  REQUIRE(run(g1.plan, nullptr, g1.at) == SQ_STATUS_WRONG_DEVICE);
  {
    OnDevice on(1);
    CUDA_OK(cudaDeviceSynchronize());
  }
  REQUIRE(all_poison(g1.at.outputs()));  // refused runs wrote nothing
  // With device 1 current, NULL is device 1's default stream: it runs, and right.
  const auto want = host_result(c);
  CUDA_OK(cudaSetDevice(1));
  REQUIRE(run(g1.plan, nullptr, g1.at) == SQ_STATUS_SUCCESS);
  CUDA_OK(cudaDeviceSynchronize());
  REQUIRE(mismatch(g1.at, g1.at.outputs(), want) == "");
  // And the converse: a plan of device 0, a stream of device 1.
  CUDA_OK(cudaSetDevice(0));
  GpuCase g0(c, st.s[0], 0);
  REQUIRE(plan_device(g0.plan) == 0);
  g0.at.poison();
  REQUIRE(run(g0.plan, st.s[1], g0.at) == SQ_STATUS_WRONG_DEVICE);
  CUDA_OK(cudaDeviceSynchronize());
  REQUIRE(all_poison(g0.at.outputs()));
}

void check_from_other_device(const OpCase& c) {
  INFO("case: " << c.name);
  const auto want = host_result(c);
  TwoStreams st;
  CUDA_OK(cudaSetDevice(0));
  GpuCase g(c, st.s[1], 1);
  REQUIRE(plan_device(g.plan) == 1);
  auto finish = [&](cudaStream_t s) {
    CUDA_OK(cudaStreamSynchronize(s));
    CUDA_OK(cudaGetLastError());
    return mismatch(g.at, g.at.outputs(), want);
  };
  // This thread, device 0 current (its context is current): the run switches to device 1 and back.
  g.at.poison();
  REQUIRE(run(g.plan, st.s[1], g.at) == SQ_STATUS_SUCCESS);
  REQUIRE(current_device() == 0);
  REQUIRE(finish(st.s[1]) == "");
  // A new thread that has made no CUDA call (no current context), and one that made device 0 current.
  for (bool set_first : {false, true}) {
    INFO("new thread" << (set_first ? ", cudaSetDevice(0) first" : ", no CUDA call before"));
    g.at.poison();
    sq_status status = SQ_STATUS_INTERNAL_ERROR;
    int after = -1;
    std::string err;
    std::thread([&] {
      try {
        if (set_first) CUDA_OK(cudaSetDevice(0));
        status = run(g.plan, st.s[1], g.at);
        if (status != SQ_STATUS_SUCCESS) err = last_error();
        after = current_device();
      } catch (const std::exception& e) {
        err = e.what();
      }
    }).join();
    INFO(err);
    REQUIRE(status == SQ_STATUS_SUCCESS);
    REQUIRE(after == 0);
    REQUIRE(finish(st.s[1]) == "");
  }
  // A plan selected with the NULL stream takes the current device: select it with device 1 current,
  // then run it from device 0.
  sq_plan p = nullptr;
  {
    OnDevice on(1);
    p = select(c, nullptr);
  }
  REQUIRE(plan_device(p) == 1);
  g.at.poison();
  const sq_status s2 = run(p, st.s[1], g.at);
  sq_plan_destroy(p);
  REQUIRE(s2 == SQ_STATUS_SUCCESS);
  REQUIRE(current_device() == 0);
  REQUIRE(finish(st.s[1]) == "");
}

// Capturing a stream of device 1 into a graph while device 0 is current: the run must be captured
// (the header: runs are capturable, and the stream is the plan's device's).
void check_capture_from_other_device(const OpCase& c) {
  INFO("case: " << c.name);
  const auto want = host_result(c);
  TwoStreams st;
  CUDA_OK(cudaSetDevice(0));
  GpuCase g(c, st.s[1], 1);
  g.at.poison();
  CUDA_OK(cudaStreamBeginCapture(st.s[1], cudaStreamCaptureModeThreadLocal));
  const sq_status status = run(g.plan, st.s[1], g.at);
  const std::string err = status == SQ_STATUS_SUCCESS ? "" : last_error();
  cudaGraph_t graph = nullptr;
  CUDA_OK(cudaStreamEndCapture(st.s[1], &graph));
  INFO(err);
  CHECK(current_device() == 0);
  if (status == SQ_STATUS_SUCCESS) {
    OnDevice on(1);
    cudaGraphExec_t exec = nullptr;
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    for (int rep = 0; rep < 2; ++rep) {
      g.at.poison(st.s[1]);
      CUDA_OK(cudaGraphLaunch(exec, st.s[1]));
      CUDA_OK(cudaStreamSynchronize(st.s[1]));
      CHECK(mismatch(g.at, g.at.outputs(), want) == "");
    }
    cudaGraphExecDestroy(exec);
  }
  cudaGraphDestroy(graph);
  REQUIRE(status == SQ_STATUS_SUCCESS);
}

// Two threads, one per GPU, each selecting its own plan and running it `reps` times, at the same time;
// then one thread alternating between a plan on each GPU with device 0 current.
void check_two_gpus_at_once(const OpCase& a, const OpCase& b) {
  INFO("cases: " << a.name << " on GPU 0, " << b.name << " on GPU 1");
  const OpCase* cs[2] = {&a, &b};
  const std::vector<std::vector<unsigned char>> want[2] = {host_result(a), host_result(b)};
  constexpr int kReps = 20;
  std::string err[2];
  std::atomic<int> ready{0};
  auto worker = [&](int d) {
    try {
      CUDA_OK(cudaSetDevice(d));
      cudaStream_t s;
      CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      {
        GpuCase g(*cs[d], s, d);
        if (plan_device(g.plan) != d) throw std::runtime_error("the plan is on device " + std::to_string(plan_device(g.plan)));
        ready.fetch_add(1);
        while (ready.load() < 2) std::this_thread::yield();  // both GPUs busy together
        for (int rep = 0; rep < kReps && err[d].empty(); ++rep) {
          g.at.poison(s);
          const sq_status st = run(g.plan, s, g.at);
          if (st != SQ_STATUS_SUCCESS) throw std::runtime_error(sq_error(st, "sq_plan_run"));
          CUDA_OK(cudaStreamSynchronize(s));
          err[d] = mismatch(g.at, g.at.outputs(), want[d]);
          if (!err[d].empty()) err[d] = "rep " + std::to_string(rep) + ": " + err[d];
        }
      }
      CUDA_OK(cudaStreamDestroy(s));
    } catch (const std::exception& e) {
      ready.fetch_add(1);
      err[d] = e.what();
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  CHECK(err[0] == "");
  CHECK(err[1] == "");
  // One thread, device 0 current, enqueuing on both GPUs back and forth.
  TwoStreams st;
  CUDA_OK(cudaSetDevice(0));
  GpuCase g0(a, st.s[0], 0), g1(b, st.s[1], 1);
  for (int rep = 0; rep < 5; ++rep) {
    g0.at.poison(st.s[0]);
    g1.at.poison(st.s[1]);
    REQUIRE(run(g1.plan, st.s[1], g1.at) == SQ_STATUS_SUCCESS);
    REQUIRE(run(g0.plan, st.s[0], g0.at) == SQ_STATUS_SUCCESS);
    REQUIRE(current_device() == 0);
    CUDA_OK(cudaStreamSynchronize(st.s[0]));
    CUDA_OK(cudaStreamSynchronize(st.s[1]));
    REQUIRE(mismatch(g0.at, g0.at.outputs(), want[0]) == "");
    REQUIRE(mismatch(g1.at, g1.at.outputs(), want[1]) == "");
  }
}

// Every operand, in turn, replaced by memory of the other device: WRONG_DEVICE, naming the operand.
void check_can_implement(const OpCase& c) {
  INFO("case: " << c.name);
  TwoStreams st;
  CUDA_OK(cudaSetDevice(0));
  for (int d : {1, 0}) {
    const int other = 1 - d;
    INFO("plan on device " << d);
    GpuCase g(c, st.s[d], d);
    REQUIRE(plan_device(g.plan) == d);
    REQUIRE(sq_plan_can_implement(g.plan, &g.at.args()) == SQ_STATUS_SUCCESS);
    Placed elsewhere(c, other, 0);
    Placed managed(c, d, 0, /*managed=*/true);
    for (size_t i = 0; i < g.at.size(); ++i) {
      const std::string& f = g.at.field(i);
      INFO("operand " << f);
      sq_run_args a = g.at.args();
      set_arg(a, f, const_cast<void*>(get_arg(elsewhere.args(), f)));  // the other device's buffer of this operand
      CHECK(sq_plan_can_implement(g.plan, &a) == SQ_STATUS_WRONG_DEVICE);
      CHECK_THAT(last_error(), Catch::Contains(f) && Catch::Contains("device " + std::to_string(other)));
      sq_run_args m = g.at.args();
      set_arg(m, f, const_cast<void*>(get_arg(managed.args(), f)));  // the same operand in managed memory: accepted
      CHECK(sq_plan_can_implement(g.plan, &m) == SQ_STATUS_SUCCESS);
    }
    // With peer access from the plan's device to the other, the other's memory is still not the plan's
    // device's memory: the header's rule does not bend.
    int can = 0;
    CUDA_OK(cudaDeviceCanAccessPeer(&can, d, other));
    if (can) {
      OnDevice on(d);
      const cudaError_t e = cudaDeviceEnablePeerAccess(other, 0);
      if (e == cudaErrorPeerAccessAlreadyEnabled) cudaGetLastError();
      else CUDA_OK(e);
      for (size_t i = 0; i < g.at.size(); ++i) {
        const std::string& f = g.at.field(i);
        INFO("operand " << f << ", peer access on");
        sq_run_args a = g.at.args();
        set_arg(a, f, const_cast<void*>(get_arg(elsewhere.args(), f)));
        CHECK(sq_plan_can_implement(g.plan, &a) == SQ_STATUS_WRONG_DEVICE);
      }
      CUDA_OK(cudaDeviceDisablePeerAccess(other));
    } else {
      WARN("no peer access between GPU " << d << " and GPU " << other << ": the peer case is not exercised");
    }
  }
}

template <typename F>
void for_each_case(const std::vector<OpCase>& cases, F f) {
  for (const OpCase& c : cases) {
    try {
      f(c);
    } catch (const std::runtime_error& e) {
      FAIL("case " << c.name << ": " << e.what());
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------- 0.1 ops
TEST_CASE("a stream of another GPU is WRONG_DEVICE and writes nothing", "[multi]") {
  for_each_case(cases_01(), check_wrong_stream);
}
TEST_CASE("a plan selected on GPU 1 runs from device 0 (this thread, new threads), bit-exact", "[multi]") {
  for_each_case(cases_01(), check_from_other_device);
}
TEST_CASE("two plans on two GPUs at once, from two threads and from one", "[multi]") {
  const std::vector<OpCase> c = cases_01();
  for (size_t i = 0; i < c.size(); ++i) {
    try {
      check_two_gpus_at_once(c[i], c[(i + 1) % c.size()]);
    } catch (const std::runtime_error& e) {
      FAIL(e.what());
    }
  }
}
TEST_CASE("can_implement refuses every operand of another device, accepts managed memory", "[multi]") {
  for_each_case(cases_01(), check_can_implement);
}
TEST_CASE("a run captured into a graph on GPU 1's stream while device 0 is current", "[multi][capture]") {
  for_each_case(cases_01(), check_capture_from_other_device);
}

// ---------------------------------------------------------------------------------- 0.2 ops
TEST_CASE("0.2 ops: a stream of another GPU is WRONG_DEVICE and writes nothing", "[multi][ops02]") {
  for_each_case(cases_02(), check_wrong_stream);
}
TEST_CASE("0.2 ops: a plan selected on GPU 1 runs from device 0, bit-exact", "[multi][ops02]") {
  for_each_case(cases_02(), check_from_other_device);
}
TEST_CASE("0.2 ops: two plans on two GPUs at once", "[multi][ops02]") {
  const std::vector<OpCase> c = cases_02();
  for (size_t i = 0; i < c.size(); ++i) {
    try {
      check_two_gpus_at_once(c[i], c[(i + 1) % c.size()]);
    } catch (const std::runtime_error& e) {
      FAIL(e.what());
    }
  }
}
TEST_CASE("0.2 ops: can_implement refuses every operand of another device (the 0.2 fields too)",
          "[multi][ops02]") {
  for_each_case(cases_02(), check_can_implement);
}

int main(int argc, char** argv) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n < 2) {
    std::printf("SKIPPED: the multi-GPU tests need two CUDA GPUs; this machine has %d (%s)\n",
                e == cudaSuccess ? n : 0, e == cudaSuccess ? "device count" : cudaGetErrorString(e));
    return 77;
  }
  for (int d = 0; d < 2; ++d) {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, d);
    std::printf("GPU %d: %s, sm_%d%d, %d SMs\n", d, prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  }
  return Catch::Session().run(argc, argv);
}
