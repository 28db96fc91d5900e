// The C ABI surface: versions, statuses, messages, struct sizes, handles, and every class of
// bad input, checking the status, the message and that nothing the caller owns was written.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <cmath>
#include <limits>
#include <thread>

#include "op_harness.hpp"
#include "test_util.hpp"

using namespace sqt;

namespace {

bool gpu_present() {
  int n = 0;
  const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  cudaGetLastError();
  return ok;
}

// A small host linear problem with every buffer poisoned-able and a valid args block.
struct Problem {
  int64_t m = 5, n = 7, k = 33;
  std::vector<int8_t> act = random_s8(static_cast<size_t>(m * k));
  std::vector<int8_t> w = random_s8(static_cast<size_t>(n * k));
  Buf ws = random_scales(SQ_DTYPE_F32, static_cast<size_t>(n));
  Buf scratch = Buf(SQ_DTYPE_F32, static_cast<size_t>(m));
  Buf out = Buf(SQ_DTYPE_F32, static_cast<size_t>(m * n));
  sq_plan plan = nullptr;
  Problem() {
    sq_plan_desc d = linear_desc(SQ_DTYPE_F32, n, k, 8, 0.05);
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
    scratch.poison();
    out.poison();
  }
  ~Problem() { sq_plan_destroy(plan); }
  sq_run_args args() {
    sq_run_args a = run_args();
    a.m = m;
    a.act = act.data();
    a.weight = w.data();
    a.weight_scale = ws.data();
    a.act_scale_scratch = scratch.data();
    a.out = out.data();
    return a;
  }
  bool untouched() const {
    for (unsigned char c : out.bytes) if (c != 0xFF) return false;
    for (unsigned char c : scratch.bytes) if (c != 0xFF) return false;
    return true;
  }
};

void expect_fail(sq_status got, sq_status want, const char* needle) {
  CHECK(std::string(sq_status_string(got)) == sq_status_string(want));
  CHECK_THAT(last_error(), Catch::Contains(needle));
}

}  // namespace

TEST_CASE("version and status strings", "[api]") {
  CHECK(sq_version() == SQ_VERSION_NUMBER);
  CHECK(std::string(sq_version_string()) ==
        std::to_string(SQ_VERSION_MAJOR) + "." + std::to_string(SQ_VERSION_MINOR) + "." +
            std::to_string(SQ_VERSION_PATCH));
  for (sq_status s = SQ_STATUS_SUCCESS; s <= SQ_STATUS_INTERNAL_ERROR; ++s) {
    const std::string name = sq_status_string(s);
    CHECK(name.rfind("SQ_STATUS_", 0) == 0);
    CHECK(name != "SQ_STATUS_UNKNOWN");
  }
  CHECK(std::string(sq_status_string(999)) == "SQ_STATUS_UNKNOWN");
  CHECK(std::string(sq_status_string(-1)) == "SQ_STATUS_UNKNOWN");
}

TEST_CASE("last error message is thread-local and cleared by success", "[api]") {
  sq_plan p = nullptr;
  CHECK(sq_plan_select(nullptr, nullptr, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK_THAT(last_error(), Catch::Contains("desc is NULL"));
  std::string other = "unset";
  std::thread([&] { other = sq_last_error_message(); }).join();
  CHECK(other.empty());
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, 4, 4, 4, 1.0);
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
  CHECK(last_error().empty());
  CHECK(p != nullptr);
  CHECK(sq_plan_destroy(p) == SQ_STATUS_SUCCESS);
}

TEST_CASE("descriptor validation names the bad value", "[api]") {
  sq_plan p = reinterpret_cast<sq_plan>(0x1);  // must stay untouched on failure
  const sq_plan sentinel = p;
  auto select = [&](sq_plan_desc d) { return sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p); };
  const sq_plan_desc good = linear_desc(SQ_DTYPE_F32, 16, 32, 8, 0.5);

  sq_plan_desc d = good;
  d.struct_size = 8;
  expect_fail(select(d), SQ_STATUS_INVALID_STRUCT_SIZE, "struct_size is 8");
  d = good;
  d.op = 42;
  expect_fail(select(d), SQ_STATUS_INVALID_ARGUMENT, "desc->op is 42");
  d = good;
  d.n = 0;
  expect_fail(select(d), SQ_STATUS_INVALID_ARGUMENT, "desc->n is 0");
  d = good;
  d.k = -3;
  expect_fail(select(d), SQ_STATUS_INVALID_ARGUMENT, "desc->k is -3");
  d = good;
  d.k = SQ_MAX_K + 1;
  expect_fail(select(d), SQ_STATUS_INVALID_ARGUMENT, "SQ_MAX_K");
  d = good;
  d.max_m = 0;
  expect_fail(select(d), SQ_STATUS_INVALID_ARGUMENT, "desc->max_m is 0");
  d = good;
  d.out_dtype = SQ_DTYPE_S32;
  d.scale_dtype = SQ_DTYPE_S32;
  expect_fail(select(d), SQ_STATUS_NOT_SUPPORTED, "out_dtype is S32");
  d = good;
  d.scale_dtype = SQ_DTYPE_F64;
  expect_fail(select(d), SQ_STATUS_NOT_SUPPORTED, "share T");
  d = good;
  d.weight_dtype = SQ_DTYPE_F16;
  expect_fail(select(d), SQ_STATUS_NOT_SUPPORTED, "weight_dtype is F16");
  d = good;
  d.act_dtype = SQ_DTYPE_F32;
  expect_fail(select(d), SQ_STATUS_NOT_SUPPORTED, "act_dtype is F32");
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    d = good;
    d.act_scale = bad;
    expect_fail(select(d), SQ_STATUS_INVALID_ARGUMENT, "act_scale");
  }
  d = good;
  d.reserved = 1;
  expect_fail(select(d), SQ_STATUS_INVALID_ARGUMENT, "reserved");
  expect_fail(sq_plan_select(nullptr, &good, 17, &p), SQ_STATUS_INVALID_ARGUMENT, "preference is 17");
  expect_fail(sq_plan_select(nullptr, &good, SQ_PREFERENCE_HOST_REFERENCE, nullptr), SQ_STATUS_INVALID_ARGUMENT,
              "plan (the output) is NULL");
  CHECK(p == sentinel);
}

TEST_CASE("structs can grow: a larger struct_size with a zero tail is accepted, a set tail is not", "[api]") {
  struct Bigger {
    sq_plan_desc d;
    uint64_t future_field;
  } big;
  std::memset(&big, 0, sizeof(big));
  big.d = linear_desc(SQ_DTYPE_F32, 4, 4, 4, 1.0);
  big.d.struct_size = sizeof(big);
  sq_plan p = nullptr;
  REQUIRE(sq_plan_select(nullptr, &big.d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
  sq_plan_destroy(p);
  big.future_field = 7;
  p = nullptr;
  expect_fail(sq_plan_select(nullptr, &big.d, SQ_PREFERENCE_HOST_REFERENCE, &p), SQ_STATUS_INVALID_STRUCT_SIZE,
              "non-zero");
  CHECK(p == nullptr);
  big.d.struct_size = 1u << 20;
  expect_fail(sq_plan_select(nullptr, &big.d, SQ_PREFERENCE_HOST_REFERENCE, &p), SQ_STATUS_INVALID_STRUCT_SIZE,
              "not a size this library knows");
}

TEST_CASE("plan queries: workspace, precision guarantee, info, kernel name", "[api]") {
  Problem pr;
  size_t bytes = 123;
  REQUIRE(sq_plan_workspace_size(pr.plan, &bytes) == SQ_STATUS_SUCCESS);
  CHECK(bytes == 0);
  sq_precision_guarantee g;
  std::memset(&g, 0xAB, sizeof(g));
  g.struct_size = sizeof(g);
  REQUIRE(sq_plan_precision_guarantee(pr.plan, &g) == SQ_STATUS_SUCCESS);
  CHECK(g.struct_size == sizeof(g));
  CHECK(g.bit_exact_with_host == 1);
  CHECK(g.deterministic == 1);
  CHECK(g.exact_accumulation == 1);
  CHECK(g.accumulate_dtype == SQ_DTYPE_S32);
  CHECK(g.epilogue_dtype == SQ_DTYPE_F32);
  CHECK(g.max_k == SQ_MAX_K);
  g.struct_size = 4;
  CHECK(sq_plan_precision_guarantee(pr.plan, &g) == SQ_STATUS_INVALID_STRUCT_SIZE);
  sq_plan_info info;
  std::memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  REQUIRE(sq_plan_get_info(pr.plan, &info) == SQ_STATUS_SUCCESS);
  CHECK(info.family == SQ_KERNEL_FAMILY_HOST);
  CHECK(info.op == SQ_OP_SMOOTHQUANT_LINEAR);
  CHECK(info.device == -1);
  CHECK(info.n == pr.n);
  CHECK(info.k == pr.k);
  CHECK(info.max_m == 8);
  const char* name = nullptr;
  REQUIRE(sq_plan_kernel_name(pr.plan, 3, &name) == SQ_STATUS_SUCCESS);
  CHECK(std::string(name) == "host_reference");
  expect_fail(sq_plan_kernel_name(pr.plan, 9, &name), SQ_STATUS_INVALID_ARGUMENT, "m is 9");
  expect_fail(sq_plan_workspace_size(pr.plan, nullptr), SQ_STATUS_INVALID_ARGUMENT, "bytes is NULL");
}

TEST_CASE("run-argument validation: status, message, and nothing written", "[api]") {
  Problem pr;
  struct Case {
    const char* what;
    void (*edit)(sq_run_args&, Problem&);
    sq_status want;
    const char* needle;
  };
  const Case cases[] = {
      {"m = 0", [](sq_run_args& a, Problem&) { a.m = 0; }, SQ_STATUS_INVALID_ARGUMENT, "args->m is 0"},
      {"m > max_m", [](sq_run_args& a, Problem&) { a.m = 9; }, SQ_STATUS_INVALID_ARGUMENT, "args->m is 9"},
      {"m < 0", [](sq_run_args& a, Problem&) { a.m = -1; }, SQ_STATUS_INVALID_ARGUMENT, "args->m is -1"},
      {"null act", [](sq_run_args& a, Problem&) { a.act = nullptr; }, SQ_STATUS_INVALID_ARGUMENT, "args->act is NULL"},
      {"null weight", [](sq_run_args& a, Problem&) { a.weight = nullptr; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->weight is NULL"},
      {"null weight_scale", [](sq_run_args& a, Problem&) { a.weight_scale = nullptr; }, SQ_STATUS_INVALID_ARGUMENT,
       "weight_scale is NULL"},
      {"null scratch", [](sq_run_args& a, Problem&) { a.act_scale_scratch = nullptr; }, SQ_STATUS_INVALID_ARGUMENT,
       "act_scale_scratch is NULL"},
      {"null out", [](sq_run_args& a, Problem&) { a.out = nullptr; }, SQ_STATUS_INVALID_ARGUMENT, "args->out is NULL"},
      {"ld_act < k", [](sq_run_args& a, Problem&) { a.ld_act = 5; }, SQ_STATUS_INVALID_ARGUMENT, "ld_act is 5"},
      {"ld_weight < k", [](sq_run_args& a, Problem&) { a.ld_weight = 32; }, SQ_STATUS_INVALID_ARGUMENT,
       "ld_weight is 32"},
      {"ld_out < n", [](sq_run_args& a, Problem&) { a.ld_out = 6; }, SQ_STATUS_INVALID_ARGUMENT, "ld_out is 6"},
      {"negative ld", [](sq_run_args& a, Problem&) { a.ld_out = -7; }, SQ_STATUS_INVALID_ARGUMENT, "ld_out is -7"},
      {"misaligned out", [](sq_run_args& a, Problem& p) { a.out = p.out.bytes.data() + 1; }, SQ_STATUS_MISALIGNED,
       "args->out"},
      {"misaligned scale", [](sq_run_args& a, Problem& p) { a.weight_scale = p.ws.bytes.data() + 2; },
       SQ_STATUS_MISALIGNED, "weight_scale"},
      {"smooth on static linear", [](sq_run_args& a, Problem& p) { a.smooth = p.ws.data(); },
       SQ_STATUS_INVALID_ARGUMENT, "smooth"},
      {"struct_size 0", [](sq_run_args& a, Problem&) { a.struct_size = 0; }, SQ_STATUS_INVALID_STRUCT_SIZE,
       "struct_size is 0"},
      {"reserved", [](sq_run_args& a, Problem&) { a.reserved = 3; }, SQ_STATUS_INVALID_ARGUMENT, "reserved"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    sq_run_args a = pr.args();
    c.edit(a, pr);
    expect_fail(sq_plan_can_implement(pr.plan, &a), c.want, c.needle);
    expect_fail(sq_plan_run(pr.plan, nullptr, nullptr, 0, &a), c.want, c.needle);
    CHECK(pr.untouched());
  }
  expect_fail(sq_plan_run(pr.plan, nullptr, nullptr, 0, nullptr), SQ_STATUS_INVALID_ARGUMENT, "args is NULL");
  sq_run_args a = pr.args();
  REQUIRE(sq_plan_can_implement(pr.plan, &a) == SQ_STATUS_SUCCESS);
  CHECK(pr.untouched());
  REQUIRE(sq_plan_run(pr.plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  CHECK_FALSE(pr.untouched());
}

TEST_CASE("destroyed, foreign and null plans are INVALID_HANDLE, never a crash", "[api]") {
  sq_plan_desc d = linear_desc(SQ_DTYPE_F64, 3, 3, 3, 2.0);
  sq_plan p = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_destroy(p) == SQ_STATUS_SUCCESS);
  size_t bytes = 0;
  expect_fail(sq_plan_workspace_size(p, &bytes), SQ_STATUS_INVALID_HANDLE, "not a live plan");
  expect_fail(sq_plan_destroy(p), SQ_STATUS_INVALID_HANDLE, "already destroyed or foreign");
  sq_run_args a = run_args();
  expect_fail(sq_plan_run(p, nullptr, nullptr, 0, &a), SQ_STATUS_INVALID_HANDLE, "not a live plan");
  int not_a_plan = 0;
  expect_fail(sq_plan_run(reinterpret_cast<sq_plan>(&not_a_plan), nullptr, nullptr, 0, &a), SQ_STATUS_INVALID_HANDLE,
              "not a live plan");
  expect_fail(sq_plan_can_implement(nullptr, &a), SQ_STATUS_INVALID_HANDLE, "plan is NULL");
  CHECK(sq_plan_destroy(nullptr) == SQ_STATUS_SUCCESS);
}

TEST_CASE("GPU preferences fail clearly without a GPU and never fall back to the host", "[api]") {
  if (gpu_present()) {
    WARN("a GPU is present: the no-GPU path is not exercised here (the GPU suite covers selection)");
    return;
  }
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, 8, 8, 8, 1.0);
  for (sq_preference pref : {SQ_PREFERENCE_FASTEST, SQ_PREFERENCE_GPU_PORTABLE, SQ_PREFERENCE_GPU_HOPPER}) {
    sq_plan p = nullptr;
    expect_fail(sq_plan_select(nullptr, &d, pref, &p), SQ_STATUS_NO_DEVICE, "no usable CUDA GPU");
    CHECK(p == nullptr);
  }
}

TEST_CASE("threads: many threads run one plan at once and select/destroy concurrently", "[api]") {
  const int64_t M = 16, N = 96, K = 200;
  sq_plan_desc d = linear_desc(SQ_DTYPE_BF16, N, K, M, 0.031);
  d.host_threads = 1;
  sq_plan plan = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
  auto act = random_s8(M * K), w = random_s8(N * K);
  Buf ws = random_scales(SQ_DTYPE_BF16, N);
  Buf ref(SQ_DTYPE_BF16, M * N), ref_scratch(SQ_DTYPE_BF16, M);
  sq_run_args a = run_args();
  a.m = M;
  a.act = act.data();
  a.weight = w.data();
  a.weight_scale = ws.data();
  a.act_scale_scratch = ref_scratch.data();
  a.out = ref.data();
  REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  constexpr int kThreads = 8;
  std::vector<Buf> outs(kThreads, Buf(SQ_DTYPE_BF16, M * N)), scr(kThreads, Buf(SQ_DTYPE_BF16, M));
  std::vector<sq_status> st(kThreads, -1), st2(kThreads, -1);
  std::vector<std::thread> th;
  for (int t = 0; t < kThreads; ++t) {
    th.emplace_back([&, t] {
      sq_run_args b = a;
      b.out = outs[t].data();
      b.act_scale_scratch = scr[t].data();
      outs[t].poison();
      st[t] = sq_plan_run(plan, nullptr, nullptr, 0, &b);
      sq_plan mine = nullptr;
      st2[t] = sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &mine);
      if (st2[t] == SQ_STATUS_SUCCESS) st2[t] = sq_plan_destroy(mine);
    });
  }
  for (auto& x : th) x.join();
  for (int t = 0; t < kThreads; ++t) {
    CHECK(st[t] == SQ_STATUS_SUCCESS);
    CHECK(st2[t] == SQ_STATUS_SUCCESS);
    CHECK(first_bit_difference(outs[t], ref) == -1);
  }
  sq_plan_destroy(plan);
}

// =====================================================================================================
// The 0.2 ABI: zero points, U8, the new ops and quant modes, flags, eps, max_k, grown structs.
// Tests tagged [run02] run the 0.2 host kernels (src/host/); the rest are validation only.
// =====================================================================================================

namespace {

// A descriptor edit, the status it must fail with and a piece of the message.
struct DescCase {
  const char* what;
  sq_plan_desc desc;
  sq_status want;
  const char* needle;
};

sq_plan_desc sq_linear(sq_dtype act, sq_dtype w, int64_t k, int32_t za = 0, uint32_t flags = 0) {
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, 16, k, 8, 0.5);
  d.act_dtype = act;
  d.weight_dtype = w;
  d.act_zero_point = za;
  d.flags = flags;
  return d;
}
sq_plan_desc scaled_linear(sq_dtype act, sq_dtype w, int64_t k, uint32_t flags = 0) {
  sq_plan_desc d = blank_desc(SQ_OP_SCALED_LINEAR);
  d.act_dtype = act;
  d.weight_dtype = w;
  d.scale_dtype = d.out_dtype = SQ_DTYPE_BF16;
  d.n = 16;
  d.k = k;
  d.max_m = 8;
  d.flags = flags;
  return d;
}
sq_plan_desc quantized_linear(sq_quant_mode mode, sq_dtype q, int64_t k, uint32_t flags = 0) {
  sq_plan_desc d = blank_desc(SQ_OP_QUANTIZED_LINEAR);
  d.act_dtype = SQ_DTYPE_F16;
  d.weight_dtype = SQ_DTYPE_S8;
  d.scale_dtype = d.out_dtype = SQ_DTYPE_F16;
  d.n = 16;
  d.k = k;
  d.max_m = 8;
  d.quant_mode = mode;
  d.quant_dtype = q;
  d.flags = flags;
  return d;
}
sq_plan_desc quantizer(sq_op op, sq_quant_mode mode, sq_dtype q = SQ_DTYPE_S8, sq_dtype x = SQ_DTYPE_BF16) {
  sq_plan_desc d = blank_desc(op);
  d.act_dtype = x;
  d.out_dtype = q;
  d.scale_dtype = SQ_DTYPE_F32;
  d.k = 64;
  d.max_m = 8;
  d.quant_mode = mode;
  const sq_quant_mode resolved = mode != SQ_QUANT_DEFAULT ? mode : op == SQ_OP_QUANTIZE_STATIC ? SQ_QUANT_STATIC : SQ_QUANT_DYNAMIC;
  if (resolved == SQ_QUANT_STATIC) d.act_scale = 0.05;
  if (op == SQ_OP_RMSNORM_QUANTIZE) d.eps = 1e-6;
  return d;
}
sq_plan_desc scale_acc(uint32_t flags = 0) {
  sq_plan_desc d = blank_desc(SQ_OP_SCALE_ACCUMULATORS);
  d.act_dtype = SQ_DTYPE_S32;
  d.scale_dtype = d.out_dtype = SQ_DTYPE_F32;
  d.n = 16;
  d.max_m = 8;
  d.flags = flags;
  return d;
}

template <typename F>
sq_plan_desc edit(sq_plan_desc d, F f) {
  f(d);
  return d;
}

sq_status select_host(const sq_plan_desc& d, sq_plan* p) { return sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, p); }

}  // namespace

TEST_CASE("0.2 descriptors: every valid op and mode selects", "[api][v02]") {
  const sq_plan_desc good[] = {
      sq_linear(SQ_DTYPE_U8, SQ_DTYPE_U8, 100, 255, SQ_PLAN_WEIGHT_ZERO_POINT),
      sq_linear(SQ_DTYPE_S8, SQ_DTYPE_U8, 100, -128),
      edit(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 100), [](sq_plan_desc& d) { d.out_dtype = SQ_DTYPE_S32; d.scale_dtype = 0; d.act_scale = 0; }),
      edit(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 100), [](sq_plan_desc& d) { d.out_dtype = SQ_DTYPE_S32; d.scale_dtype = 0; d.act_scale = -7; }),
      quantized_linear(SQ_QUANT_DEFAULT, 0, 100),
      quantized_linear(SQ_QUANT_DYNAMIC, SQ_DTYPE_S8, 100, SQ_PLAN_WEIGHT_ZERO_POINT),
      quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8, 100),
      quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_S8, 100, SQ_PLAN_WEIGHT_ZERO_POINT),
      scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 100),
      scaled_linear(SQ_DTYPE_U8, SQ_DTYPE_S8, 100, SQ_PLAN_ACT_ZERO_POINT | SQ_PLAN_WEIGHT_ZERO_POINT | SQ_PLAN_PER_TENSOR_ACT_SCALE),
      edit(quantizer(SQ_OP_QUANTIZE_STATIC, SQ_QUANT_DEFAULT, SQ_DTYPE_U8), [](sq_plan_desc& d) { d.act_zero_point = 255; }),
      edit(quantizer(SQ_OP_QUANTIZE_STATIC, SQ_QUANT_STATIC, SQ_DTYPE_S8), [](sq_plan_desc& d) { d.act_zero_point = -128; }),
      quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_DEFAULT),
      quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8),
      quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_ABSMAX),
      quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_FROM_ABSMAX, SQ_DTYPE_S8, SQ_DTYPE_F64),
      quantizer(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_DEFAULT),
      edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_STATIC, SQ_DTYPE_U8, SQ_DTYPE_F16), [](sq_plan_desc& d) { d.act_zero_point = 128; }),
      quantizer(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_S8, SQ_DTYPE_F32),
      quantizer(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_ABSMAX),
      quantizer(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_FROM_ABSMAX),
      quantizer(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8),
      scale_acc(),
      scale_acc(SQ_PLAN_PER_TENSOR_ACT_SCALE),
      edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_DYNAMIC), [](sq_plan_desc& d) { d.eps = 1e-40; }),  // > 0 as f32 (subnormal)
  };
  for (const sq_plan_desc& d : good) {
    CAPTURE(d.op, d.act_dtype, d.weight_dtype, d.out_dtype, d.quant_mode, d.quant_dtype, d.flags, d.act_zero_point);
    sq_plan p = nullptr;
    const sq_status st = select_host(d, &p);
    INFO(last_error());
    CHECK(st == SQ_STATUS_SUCCESS);
    sq_plan_destroy(p);
  }
}

TEST_CASE("0.2 descriptors: every bad value gets its status and names its field, the plan untouched", "[api][v02]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const DescCase cases[] = {
      // zero points outside their dtype's range
      {"S8 za 128", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, 128), SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is 128"},
      {"S8 za -129", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, -129), SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is -129"},
      {"U8 za -1", sq_linear(SQ_DTYPE_U8, SQ_DTYPE_S8, 64, -1), SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is -1"},
      {"U8 za 256", sq_linear(SQ_DTYPE_U8, SQ_DTYPE_S8, 64, 256), SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is 256"},
      {"static U8 q zp -1", edit(quantizer(SQ_OP_QUANTIZE_STATIC, SQ_QUANT_DEFAULT, SQ_DTYPE_U8), [](sq_plan_desc& d) { d.act_zero_point = -1; }),
       SQ_STATUS_INVALID_ARGUMENT, "outside the range of out_dtype U8"},
      {"static S8 q zp 200", edit(quantizer(SQ_OP_QUANTIZE_STATIC, SQ_QUANT_DEFAULT), [](sq_plan_desc& d) { d.act_zero_point = 200; }),
       SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is 200"},
      {"fused static U8 zp 300", edit(quantizer(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_STATIC, SQ_DTYPE_U8), [](sq_plan_desc& d) { d.act_zero_point = 300; }),
       SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is 300"},
      // a zero point given to a plan that cannot take it
      {"za on QUANTIZE_DYNAMIC", edit(quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC), [](sq_plan_desc& d) { d.act_zero_point = 3; }),
       SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is 3"},
      {"za on QUANTIZED_LINEAR", edit(quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8, 64), [](sq_plan_desc& d) { d.act_zero_point = 5; }),
       SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is 5"},
      {"za on SCALED_LINEAR", edit(scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, SQ_PLAN_ACT_ZERO_POINT), [](sq_plan_desc& d) { d.act_zero_point = 1; }),
       SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is 1"},
      {"za on dynamic RMSNorm", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_DYNAMIC), [](sq_plan_desc& d) { d.act_zero_point = -2; }),
       SQ_STATUS_INVALID_ARGUMENT, "act_zero_point is -2"},
      {"za on SCALE_ACCUMULATORS", edit(scale_acc(), [](sq_plan_desc& d) { d.act_zero_point = 9; }), SQ_STATUS_INVALID_ARGUMENT,
       "act_zero_point is 9"},
      // K above the plan's max_k, with the limit in the message
      {"S8 x S8 K", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_MAX_K + 1), SQ_STATUS_INVALID_ARGUMENT, "SQ_MAX_K (131071)"},
      {"S8 x U8 K", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_U8, 65794), SQ_STATUS_INVALID_ARGUMENT, "max_k 65793"},
      {"U8 x S8 K", sq_linear(SQ_DTYPE_U8, SQ_DTYPE_S8, 65794), SQ_STATUS_INVALID_ARGUMENT, "max_k 65793"},
      {"S8 za x S8 K", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 65794, 1), SQ_STATUS_INVALID_ARGUMENT, "max_k 65793"},
      {"S8 x S8 zw K", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 65794, 0, SQ_PLAN_WEIGHT_ZERO_POINT), SQ_STATUS_INVALID_ARGUMENT,
       "SQ_PLAN_WEIGHT_ZERO_POINT"},
      {"U8 x U8 K", sq_linear(SQ_DTYPE_U8, SQ_DTYPE_U8, 33026), SQ_STATUS_INVALID_ARGUMENT, "max_k 33025"},
      {"scaled za zw K", scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 33026, SQ_PLAN_ACT_ZERO_POINT | SQ_PLAN_WEIGHT_ZERO_POINT),
       SQ_STATUS_INVALID_ARGUMENT, "max_k 33025"},
      {"scaled per-token za K", scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 65794, SQ_PLAN_ACT_ZERO_POINT), SQ_STATUS_INVALID_ARGUMENT,
       "SQ_PLAN_ACT_ZERO_POINT"},
      {"quantized asym K", quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_S8, 65794), SQ_STATUS_INVALID_ARGUMENT,
       "max_k 65793"},
      {"quantized asym zw K", quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8, 33026, SQ_PLAN_WEIGHT_ZERO_POINT),
       SQ_STATUS_INVALID_ARGUMENT, "max_k 33025"},
      {"quantized zw K", quantized_linear(SQ_QUANT_DYNAMIC, 0, 65794, SQ_PLAN_WEIGHT_ZERO_POINT), SQ_STATUS_INVALID_ARGUMENT,
       "max_k 65793"},
      // eps
      {"eps 0", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [](sq_plan_desc& d) { d.eps = 0; }), SQ_STATUS_INVALID_ARGUMENT, "desc->eps is 0"},
      {"eps < 0", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [](sq_plan_desc& d) { d.eps = -1e-6; }), SQ_STATUS_INVALID_ARGUMENT, "desc->eps is -1e-06"},
      {"eps -0", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [](sq_plan_desc& d) { d.eps = -0.0; }), SQ_STATUS_INVALID_ARGUMENT, "desc->eps"},
      {"eps NaN", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [&](sq_plan_desc& d) { d.eps = nan; }), SQ_STATUS_INVALID_ARGUMENT, "desc->eps is nan"},
      {"eps Inf", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [&](sq_plan_desc& d) { d.eps = inf; }), SQ_STATUS_INVALID_ARGUMENT, "desc->eps is inf"},
      {"eps underflows in f32", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [](sq_plan_desc& d) { d.eps = 1e-50; }),
       SQ_STATUS_INVALID_ARGUMENT, "rounds to 0 in f32"},
      {"eps overflows in f32", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [](sq_plan_desc& d) { d.eps = 1e39; }),
       SQ_STATUS_INVALID_ARGUMENT, "rounds to inf in f32"},
      {"eps on SILU_MUL", edit(quantizer(SQ_OP_SILU_MUL_QUANTIZE, 0), [](sq_plan_desc& d) { d.eps = 1e-6; }), SQ_STATUS_INVALID_ARGUMENT,
       "only SQ_OP_RMSNORM_QUANTIZE takes eps"},
      {"eps on a linear", edit(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), [](sq_plan_desc& d) { d.eps = 1e-6; }), SQ_STATUS_INVALID_ARGUMENT,
       "desc->eps"},
      // flags
      {"unknown flag", edit(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), [](sq_plan_desc& d) { d.flags = 0x8; }), SQ_STATUS_INVALID_ARGUMENT,
       "unknown bit(s) 0x8"},
      {"high flag", edit(scale_acc(), [](sq_plan_desc& d) { d.flags = 0x80000004u; }), SQ_STATUS_INVALID_ARGUMENT, "unknown bit(s) 0x80000000"},
      {"per-tensor on SMOOTHQUANT", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, 0, SQ_PLAN_PER_TENSOR_ACT_SCALE), SQ_STATUS_INVALID_ARGUMENT,
       "does not take flag(s) 0x4"},
      {"act zp flag on SMOOTHQUANT", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, 0, SQ_PLAN_ACT_ZERO_POINT), SQ_STATUS_INVALID_ARGUMENT,
       "does not take flag(s) 0x2"},
      {"weight zp flag on a quantizer", edit(quantizer(SQ_OP_QUANTIZE_DYNAMIC, 0), [](sq_plan_desc& d) { d.flags = SQ_PLAN_WEIGHT_ZERO_POINT; }),
       SQ_STATUS_INVALID_ARGUMENT, "desc->flags is 0x1"},
      {"weight zp flag on SCALE_ACCUMULATORS", scale_acc(SQ_PLAN_WEIGHT_ZERO_POINT), SQ_STATUS_INVALID_ARGUMENT, "desc->flags is 0x1"},
      // quant modes
      {"quant_mode 6", edit(quantizer(SQ_OP_QUANTIZE_DYNAMIC, 0), [](sq_plan_desc& d) { d.quant_mode = 6; }), SQ_STATUS_INVALID_ARGUMENT,
       "quant_mode is 6"},
      {"quant_mode -1", edit(quantizer(SQ_OP_QUANTIZE_DYNAMIC, 0), [](sq_plan_desc& d) { d.quant_mode = -1; }), SQ_STATUS_INVALID_ARGUMENT,
       "quant_mode is -1"},
      {"STATIC on QUANTIZE_DYNAMIC", quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_STATIC), SQ_STATUS_INVALID_ARGUMENT,
       "quant_mode is SQ_QUANT_STATIC"},
      {"DYNAMIC on QUANTIZE_STATIC", edit(quantizer(SQ_OP_QUANTIZE_STATIC, SQ_QUANT_DYNAMIC), [](sq_plan_desc& d) { d.act_scale = 0.1; }),
       SQ_STATUS_INVALID_ARGUMENT, "quant_mode is SQ_QUANT_DYNAMIC"},
      {"ABSMAX on QUANTIZED_LINEAR", quantized_linear(SQ_QUANT_ABSMAX, 0, 64), SQ_STATUS_INVALID_ARGUMENT, "quant_mode is SQ_QUANT_ABSMAX"},
      {"a mode on SMOOTHQUANT", edit(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), [](sq_plan_desc& d) { d.quant_mode = SQ_QUANT_DYNAMIC; }),
       SQ_STATUS_INVALID_ARGUMENT, "has no quantizer"},
      {"a mode on SCALE_ACCUMULATORS", edit(scale_acc(), [](sq_plan_desc& d) { d.quant_mode = SQ_QUANT_STATIC; }), SQ_STATUS_INVALID_ARGUMENT,
       "has no quantizer"},
      // quant dtypes and q
      {"U8 q with DYNAMIC", quantized_linear(SQ_QUANT_DYNAMIC, SQ_DTYPE_U8, 64), SQ_STATUS_NOT_SUPPORTED, "quant_dtype is U8"},
      {"F32 q", quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_F32, 64), SQ_STATUS_NOT_SUPPORTED, "quant_dtype is F32"},
      {"quant_dtype on a quantizer", edit(quantizer(SQ_OP_QUANTIZE_DYNAMIC, 0), [](sq_plan_desc& d) { d.quant_dtype = SQ_DTYPE_S8; }),
       SQ_STATUS_INVALID_ARGUMENT, "quant_dtype is S8"},
      {"U8 out with DYNAMIC", quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_DYNAMIC, SQ_DTYPE_U8), SQ_STATUS_NOT_SUPPORTED, "out_dtype is U8"},
      {"U8 out with FROM_ABSMAX", quantizer(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_FROM_ABSMAX, SQ_DTYPE_U8), SQ_STATUS_NOT_SUPPORTED,
       "out_dtype is U8"},
      {"S32 q", quantizer(SQ_OP_RMSNORM_QUANTIZE, 0, SQ_DTYPE_S32), SQ_STATUS_NOT_SUPPORTED, "out_dtype is S32"},
      // dtypes and shapes of the new ops
      {"S32 out with a scale dtype", edit(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), [](sq_plan_desc& d) { d.out_dtype = SQ_DTYPE_S32; }),
       SQ_STATUS_NOT_SUPPORTED, "scale_dtype is F32 (5) but out_dtype is S32"},
      {"S32 out on SCALED_LINEAR", edit(scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), [](sq_plan_desc& d) { d.out_dtype = SQ_DTYPE_S32; d.scale_dtype = 0; }),
       SQ_STATUS_NOT_SUPPORTED, "out_dtype is S32"},
      {"U8 weight F16 act", edit(sq_linear(SQ_DTYPE_F16, SQ_DTYPE_U8, 64), [](sq_plan_desc&) {}), SQ_STATUS_NOT_SUPPORTED, "act_dtype is F16"},
      {"S32 weight", sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S32, 64), SQ_STATUS_NOT_SUPPORTED, "weight_dtype is S32"},
      {"act_scale on SCALED_LINEAR", edit(scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), [](sq_plan_desc& d) { d.act_scale = 0.5; }),
       SQ_STATUS_INVALID_ARGUMENT, "act_scale is 0.5"},
      {"act_scale on SCALE_ACCUMULATORS", edit(scale_acc(), [](sq_plan_desc& d) { d.act_scale = 2; }), SQ_STATUS_INVALID_ARGUMENT, "act_scale is 2"},
      {"K on SCALE_ACCUMULATORS", edit(scale_acc(), [](sq_plan_desc& d) { d.k = 5; }), SQ_STATUS_INVALID_ARGUMENT, "desc->k is 5"},
      {"S8 SCALE_ACCUMULATORS", edit(scale_acc(), [](sq_plan_desc& d) { d.act_dtype = SQ_DTYPE_S8; }), SQ_STATUS_NOT_SUPPORTED, "act_dtype is S8"},
      {"weight on SCALE_ACCUMULATORS", edit(scale_acc(), [](sq_plan_desc& d) { d.weight_dtype = SQ_DTYPE_S8; }), SQ_STATUS_INVALID_ARGUMENT,
       "weight_dtype is S8"},
      {"N 0 on SCALE_ACCUMULATORS", edit(scale_acc(), [](sq_plan_desc& d) { d.n = 0; }), SQ_STATUS_INVALID_ARGUMENT, "desc->n is 0"},
      {"F64 RMSNorm", quantizer(SQ_OP_RMSNORM_QUANTIZE, 0, SQ_DTYPE_S8, SQ_DTYPE_F64), SQ_STATUS_NOT_SUPPORTED, "act_dtype is F64"},
      {"N on RMSNorm", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), [](sq_plan_desc& d) { d.n = 4; }), SQ_STATUS_INVALID_ARGUMENT, "desc->n is 4"},
      {"SiLU-mul K past 2^30", edit(quantizer(SQ_OP_SILU_MUL_QUANTIZE, 0), [](sq_plan_desc& d) { d.k = 1073741824; }),
       SQ_STATUS_INVALID_ARGUMENT, "desc->k is 1073741824"},
      {"fused without scale dtype", edit(quantizer(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_STATIC), [](sq_plan_desc& d) { d.scale_dtype = 0; }),
       SQ_STATUS_NOT_SUPPORTED, "scale_dtype is INVALID"},
      {"fused static scale underflows f32", edit(quantizer(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_STATIC), [](sq_plan_desc& d) { d.act_scale = 1e-60; }),
       SQ_STATUS_INVALID_ARGUMENT, "rounds to 0 in f32"},
      {"op 0", blank_desc(0), SQ_STATUS_INVALID_ARGUMENT, "desc->op is 0"},
      {"op 9", edit(scale_acc(), [](sq_plan_desc& d) { d.op = 9; }), SQ_STATUS_INVALID_ARGUMENT, "desc->op is 9"},
  };
  for (const DescCase& c : cases) {
    INFO(c.what);
    sq_plan p = reinterpret_cast<sq_plan>(0x1);
    expect_fail(select_host(c.desc, &p), c.want, c.needle);
    CHECK(p == reinterpret_cast<sq_plan>(0x1));
  }
}

TEST_CASE("max_k: 131071, 65793 and 33025 by operand ranges; guarantees of every op", "[api][v02]") {
  struct K {
    sq_plan_desc d;
    int64_t max_k;
  };
  const K ks[] = {
      {sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), 131071},
      {sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, 0, SQ_PLAN_WEIGHT_ZERO_POINT), 65793},
      {sq_linear(SQ_DTYPE_S8, SQ_DTYPE_U8, 64), 65793},
      {sq_linear(SQ_DTYPE_U8, SQ_DTYPE_S8, 64), 65793},
      {sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, -3), 65793},
      {sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, 7, SQ_PLAN_WEIGHT_ZERO_POINT), 33025},
      {sq_linear(SQ_DTYPE_U8, SQ_DTYPE_U8, 64), 33025},
      {sq_linear(SQ_DTYPE_U8, SQ_DTYPE_S8, 64, 0, SQ_PLAN_WEIGHT_ZERO_POINT), 33025},
      {edit(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64), [](sq_plan_desc& d) { d.out_dtype = SQ_DTYPE_S32; d.scale_dtype = 0; }), 131071},
      {quantized_linear(SQ_QUANT_DYNAMIC, 0, 64), 131071},
      {quantized_linear(SQ_QUANT_DYNAMIC, 0, 64, SQ_PLAN_WEIGHT_ZERO_POINT), 65793},
      {quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_S8, 64), 65793},
      {quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8, 64, SQ_PLAN_WEIGHT_ZERO_POINT), 33025},
      {scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, SQ_PLAN_PER_TENSOR_ACT_SCALE), 131071},
      {scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, SQ_PLAN_ACT_ZERO_POINT), 65793},
      {scaled_linear(SQ_DTYPE_U8, SQ_DTYPE_U8, 64), 33025},
      {scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, SQ_PLAN_ACT_ZERO_POINT | SQ_PLAN_WEIGHT_ZERO_POINT), 33025},
      {quantizer(SQ_OP_QUANTIZE_STATIC, 0), 0},
      {quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_ABSMAX), 0},
      {quantizer(SQ_OP_RMSNORM_QUANTIZE, 0), 0},
      {quantizer(SQ_OP_SILU_MUL_QUANTIZE, 0), 0},
      {scale_acc(), 0},
  };
  for (const K& k : ks) {
    CAPTURE(k.d.op, k.d.act_dtype, k.d.weight_dtype, k.d.act_zero_point, k.d.flags, k.d.quant_mode, k.max_k);
    sq_plan p = nullptr;
    REQUIRE(select_host(k.d, &p) == SQ_STATUS_SUCCESS);
    sq_precision_guarantee g;
    std::memset(&g, 0xAB, sizeof(g));
    g.struct_size = sizeof(g);
    REQUIRE(sq_plan_precision_guarantee(p, &g) == SQ_STATUS_SUCCESS);
    CHECK(g.max_k == k.max_k);
    CHECK(g.bit_exact_with_host == 1);
    CHECK(g.deterministic == 1);
    const bool linear = k.max_k > 0;
    CHECK(g.exact_accumulation == (linear ? 1u : 0u));
    CHECK(g.accumulate_dtype == (linear ? SQ_DTYPE_S32 : SQ_DTYPE_INVALID));
    CHECK(g.epilogue_dtype == SQ_DTYPE_F32);  // no F64 T or input among these
    sq_plan_destroy(p);
    // The limit itself is accepted, one more is not (for the linears).
    if (linear) {
      sq_plan_desc at = k.d;
      at.k = k.max_k;
      REQUIRE(select_host(at, &p) == SQ_STATUS_SUCCESS);
      sq_plan_destroy(p);
      at.k = k.max_k + 1;
      expect_fail(select_host(at, &p), SQ_STATUS_INVALID_ARGUMENT, ("desc->k is " + std::to_string(k.max_k + 1)).c_str());
      CHECK_THAT(last_error(), Catch::Contains(std::to_string(k.max_k)));
    }
  }
  // The epilogue dtype: F64 T, F64 quantizer input.
  sq_plan p = nullptr;
  sq_plan_desc d64 = scale_acc();
  d64.scale_dtype = d64.out_dtype = SQ_DTYPE_F64;
  REQUIRE(select_host(d64, &p) == SQ_STATUS_SUCCESS);
  sq_precision_guarantee g;
  std::memset(&g, 0, sizeof(g));
  g.struct_size = sizeof(g);
  REQUIRE(sq_plan_precision_guarantee(p, &g) == SQ_STATUS_SUCCESS);
  CHECK(g.epilogue_dtype == SQ_DTYPE_F64);
  sq_plan_destroy(p);
  REQUIRE(select_host(quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_FROM_ABSMAX, SQ_DTYPE_S8, SQ_DTYPE_F64), &p) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_precision_guarantee(p, &g) == SQ_STATUS_SUCCESS);
  CHECK(g.epilogue_dtype == SQ_DTYPE_F64);
  sq_plan_destroy(p);
}

TEST_CASE("workspace sizes of the 0.2 plans; kernel names and info of the host plans", "[api][v02]") {
  struct W {
    sq_plan_desc d;
    size_t bytes;
    const char* kernel;
  };
  // K = 33 -> q rows of 48 bytes; max_m = 8: q 384 -> 512, zero points 8 -> 256, sums 32 -> 256.
  auto m8 = [](sq_plan_desc d) {
    d.k = d.op == SQ_OP_SCALE_ACCUMULATORS ? 0 : 33;
    d.max_m = 8;
    return d;
  };
  const W ws[] = {
      {m8(quantized_linear(SQ_QUANT_DYNAMIC, 0, 33)), 512, "host_reference"},
      {m8(quantized_linear(SQ_QUANT_DYNAMIC, 0, 33, SQ_PLAN_WEIGHT_ZERO_POINT)), 512 + 256, "host_reference"},
      {m8(quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8, 33)), 512 + 256, "host_reference"},
      {m8(quantized_linear(SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_U8, 33, SQ_PLAN_WEIGHT_ZERO_POINT)), 512 + 256 + 256,
       "host_reference"},
      {m8(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 33)), 0, "host_reference"},
      {m8(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 33, 4)), 0, "host_reference"},
      {m8(sq_linear(SQ_DTYPE_S8, SQ_DTYPE_U8, 33, 0, SQ_PLAN_WEIGHT_ZERO_POINT)), 256, "host_reference"},
      {m8(scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 33, SQ_PLAN_ACT_ZERO_POINT)), 0, "host_reference"},
      {m8(scaled_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 33, SQ_PLAN_WEIGHT_ZERO_POINT)), 256, "host_reference"},
      {m8(quantizer(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC)), 0, "host_quantize"},
      {m8(quantizer(SQ_OP_QUANTIZE_STATIC, 0)), 0, "host_quantize"},
      {m8(quantizer(SQ_OP_RMSNORM_QUANTIZE, 0)), 0, "host_quantize"},
      {m8(quantizer(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_ABSMAX)), 0, "host_quantize"},
      {m8(scale_acc()), 0, "host_scale_accumulators"},
  };
  for (const W& w : ws) {
    CAPTURE(w.d.op, w.d.quant_mode, w.d.flags, w.bytes);
    sq_plan p = nullptr;
    REQUIRE(select_host(w.d, &p) == SQ_STATUS_SUCCESS);
    size_t bytes = 1;
    REQUIRE(sq_plan_workspace_size(p, &bytes) == SQ_STATUS_SUCCESS);
    CHECK(bytes == w.bytes);
    const char* name = nullptr;
    REQUIRE(sq_plan_kernel_name(p, 8, &name) == SQ_STATUS_SUCCESS);
    CHECK(std::string(name) == w.kernel);
    sq_plan_info info;
    std::memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    REQUIRE(sq_plan_get_info(p, &info) == SQ_STATUS_SUCCESS);
    CHECK(info.op == w.d.op);
    CHECK(info.n == w.d.n);
    CHECK(info.k == w.d.k);
    sq_plan_destroy(p);
  }
  // A larger max_m: 100 rows of sums = 400 bytes -> 512.
  sq_plan_desc d = sq_linear(SQ_DTYPE_S8, SQ_DTYPE_S8, 64, 0, SQ_PLAN_WEIGHT_ZERO_POINT);
  d.max_m = 100;
  sq_plan p = nullptr;
  REQUIRE(select_host(d, &p) == SQ_STATUS_SUCCESS);
  size_t bytes = 0;
  REQUIRE(sq_plan_workspace_size(p, &bytes) == SQ_STATUS_SUCCESS);
  CHECK(bytes == 512);
  sq_plan_destroy(p);
}

TEST_CASE("grown structs: 0.1 sizes read the new fields as zero, 4096 with a zero tail is accepted, 4097 is not",
          "[api][v02]") {
  // A 0.1 caller's descriptor and run arguments: whatever lies past the 0.1 sizes is not read.
  struct Full {
    sq_plan_desc d;
    unsigned char tail[64];
  };
  Problem pr;
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, pr.n, pr.k, 8, 0.05);
  for (uint32_t size : {SQ_PLAN_DESC_SIZE_0_1, SQ_PLAN_DESC_SIZE_0_1 + 8, static_cast<uint32_t>(sizeof(sq_plan_desc))}) {
    CAPTURE(size);
    Full f;
    std::memset(&f, 0x5A, sizeof(f));  // garbage past the caller's size
    std::memcpy(&f.d, &d, size);
    f.d.struct_size = size;
    if (size > SQ_PLAN_DESC_SIZE_0_1) std::memset(reinterpret_cast<unsigned char*>(&f.d) + SQ_PLAN_DESC_SIZE_0_1, 0,
                                                  size - SQ_PLAN_DESC_SIZE_0_1);
    sq_plan p = nullptr;
    REQUIRE(sq_plan_select(nullptr, &f.d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
    sq_precision_guarantee g;
    std::memset(&g, 0, sizeof(g));
    g.struct_size = sizeof(g);
    REQUIRE(sq_plan_precision_guarantee(p, &g) == SQ_STATUS_SUCCESS);
    CHECK(g.max_k == SQ_MAX_K);  // the new fields (flags, zero point) read as zero
    // Run with a 0.1-size args struct (garbage past 96 bytes) and with the full one: the same bits.
    struct FullArgs {
      sq_run_args a;
      unsigned char tail[64];
    } fa;
    std::memset(&fa, 0x5A, sizeof(fa));
    const sq_run_args full = pr.args();
    std::memcpy(&fa.a, &full, SQ_RUN_ARGS_SIZE_0_1);
    fa.a.struct_size = SQ_RUN_ARGS_SIZE_0_1;
    REQUIRE(sq_plan_can_implement(p, &fa.a) == SQ_STATUS_SUCCESS);
    REQUIRE(sq_plan_run(p, nullptr, nullptr, 0, &fa.a) == SQ_STATUS_SUCCESS);
    const Buf out01 = pr.out, scratch01 = pr.scratch;
    pr.out.poison();
    pr.scratch.poison();
    REQUIRE(sq_plan_run(p, nullptr, nullptr, 0, &full) == SQ_STATUS_SUCCESS);
    CHECK(first_bit_difference(out01, pr.out) == -1);
    CHECK(first_bit_difference(scratch01, pr.scratch) == -1);
    pr.out.poison();
    pr.scratch.poison();
    sq_plan_destroy(p);
  }
  // Between the 0.1 size and this library's, a size that ends inside a field is refused (half a pointer
  // would be read); a size at a field boundary is not.
  {
    sq_plan p = nullptr;
    sq_plan_desc cut = d;
    cut.struct_size = SQ_PLAN_DESC_SIZE_0_1 + 12;  // 76: not a size any compiler gives the struct
    expect_fail(select_host(cut, &p), SQ_STATUS_INVALID_STRUCT_SIZE, "struct_size is 76");
    cut.struct_size = SQ_PLAN_DESC_SIZE_0_1 + 20;  // 84: half of eps
    expect_fail(select_host(cut, &p), SQ_STATUS_INVALID_STRUCT_SIZE, "field boundary");
    cut.struct_size = SQ_PLAN_DESC_SIZE_0_1 + 16;  // 80: up to flags
    REQUIRE(select_host(cut, &p) == SQ_STATUS_SUCCESS);
    sq_plan_destroy(p);
    sq_run_args half = pr.args();
    half.struct_size = SQ_RUN_ARGS_SIZE_0_1 + 4;  // half of act_scale
    expect_fail(sq_plan_run(pr.plan, nullptr, nullptr, 0, &half), SQ_STATUS_INVALID_STRUCT_SIZE, "struct_size is 100");
    half.struct_size = SQ_RUN_ARGS_SIZE_0_1 + 8;  // act_scale whole (NULL)
    CHECK(sq_plan_can_implement(pr.plan, &half) == SQ_STATUS_SUCCESS);
    CHECK(pr.untouched());
  }
  // Below the 0.1 sizes.
  sq_plan p = nullptr;
  sq_plan_desc small = d;
  small.struct_size = SQ_PLAN_DESC_SIZE_0_1 - 1;
  expect_fail(select_host(small, &p), SQ_STATUS_INVALID_STRUCT_SIZE, "struct_size is 63");
  sq_run_args a = pr.args();
  a.struct_size = SQ_RUN_ARGS_SIZE_0_1 - 1;
  expect_fail(sq_plan_run(pr.plan, nullptr, nullptr, 0, &a), SQ_STATUS_INVALID_STRUCT_SIZE, "struct_size is 95");
  CHECK(pr.untouched());
  // SQ_MAX_STRUCT_SIZE: 4096 with a zero tail is a future struct; 4097 is garbage.
  static unsigned char big[SQ_MAX_STRUCT_SIZE + 8];
  std::memset(big, 0, sizeof(big));
  std::memcpy(big, &d, sizeof(d));
  auto* bd = reinterpret_cast<sq_plan_desc*>(big);
  bd->struct_size = SQ_MAX_STRUCT_SIZE;
  REQUIRE(sq_plan_select(nullptr, bd, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
  sq_plan_destroy(p);
  bd->struct_size = SQ_MAX_STRUCT_SIZE + 1;
  expect_fail(sq_plan_select(nullptr, bd, SQ_PREFERENCE_HOST_REFERENCE, &p), SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  std::memset(big, 0, sizeof(big));
  std::memcpy(big, &a, sizeof(a));
  auto* ba = reinterpret_cast<sq_run_args*>(big);
  *ba = pr.args();
  ba->struct_size = SQ_MAX_STRUCT_SIZE;
  REQUIRE(sq_plan_can_implement(pr.plan, ba) == SQ_STATUS_SUCCESS);
  big[SQ_MAX_STRUCT_SIZE - 1] = 1;  // the last byte of the unknown tail
  expect_fail(sq_plan_can_implement(pr.plan, ba), SQ_STATUS_INVALID_STRUCT_SIZE, "byte 4095");
  big[SQ_MAX_STRUCT_SIZE - 1] = 0;
  ba->struct_size = SQ_MAX_STRUCT_SIZE + 1;
  expect_fail(sq_plan_run(pr.plan, nullptr, nullptr, 0, ba), SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  CHECK(pr.untouched());
  // Output structs of 4096 bytes: filled up to what the library knows, the rest zeroed.
  std::memset(big, 0xCD, sizeof(big));
  auto* bg = reinterpret_cast<sq_precision_guarantee*>(big);
  bg->struct_size = SQ_MAX_STRUCT_SIZE;
  REQUIRE(sq_plan_precision_guarantee(pr.plan, bg) == SQ_STATUS_SUCCESS);
  CHECK(bg->struct_size == SQ_MAX_STRUCT_SIZE);
  CHECK(bg->max_k == SQ_MAX_K);
  for (size_t i = sizeof(sq_precision_guarantee); i < SQ_MAX_STRUCT_SIZE; ++i) REQUIRE(big[i] == 0);
  CHECK(big[SQ_MAX_STRUCT_SIZE] == 0xCD);
  bg->struct_size = SQ_MAX_STRUCT_SIZE + 1;
  expect_fail(sq_plan_precision_guarantee(pr.plan, bg), SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  auto* bi = reinterpret_cast<sq_plan_info*>(big);
  bi->struct_size = SQ_MAX_STRUCT_SIZE + 1;
  expect_fail(sq_plan_get_info(pr.plan, bi), SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
}

namespace {

// A valid small case of a 0.2 op or mode with every field it may take, and which of them may be left out.
struct RunCase {
  OpCase c;
  std::vector<std::string> optional;  // fields of c a run may leave NULL
  std::vector<std::string> extra_ok;  // fields c leaves NULL that a run may set (unread)
};

std::vector<RunCase> run_cases() {
  std::vector<RunCase> v;
  const int64_t M = 5, N = 7, K = 33;
  {
    LinearSpec s;
    s.act = SQ_DTYPE_S8;
    s.weight = SQ_DTYPE_U8;
    s.m = M, s.n = N, s.k = K, s.max_m = 8;
    s.bias = true;
    s.act_zero_point = 3;
    s.weight_zero_points = true;
    s.act_sums = true;
    v.push_back({make_linear(s), {"bias", "weight_zero_point", "act_sums"}, {}});
    s.act = SQ_DTYPE_U8;
    s.weight = SQ_DTYPE_S8;
    s.t = SQ_DTYPE_S32;
    s.act_zero_point = 0;
    v.push_back({make_linear(s), {"weight_zero_point", "act_sums", "weight_sums"}, {}});
  }
  {
    LinearSpec s;
    s.op = SQ_OP_QUANTIZED_LINEAR;
    s.act = SQ_DTYPE_BF16;
    s.t = SQ_DTYPE_BF16;
    s.m = M, s.n = N, s.k = K, s.max_m = 8;
    s.bias = true;
    s.weight_zero_points = true;
    s.mode = SQ_QUANT_DYNAMIC_ASYMMETRIC;
    s.q = SQ_DTYPE_U8;
    v.push_back({make_linear(s), {"bias", "smooth", "weight_zero_point"}, {}});
    s.mode = SQ_QUANT_DEFAULT;
    s.q = SQ_DTYPE_INVALID;
    s.act = SQ_DTYPE_F64;
    s.t = SQ_DTYPE_F64;
    v.push_back({make_linear(s), {"bias", "smooth", "weight_zero_point", "weight_sums"}, {}});
  }
  {
    LinearSpec s;
    s.op = SQ_OP_SCALED_LINEAR;
    s.t = SQ_DTYPE_F16;
    s.m = M, s.n = N, s.k = K, s.max_m = 8;
    s.bias = true;
    s.act_zero_points = true;
    s.weight_zero_points = true;
    s.act_sums = true;
    v.push_back({make_linear(s), {"bias", "act_zero_point", "weight_zero_point", "act_sums"}, {}});
    LinearSpec p;
    p.op = SQ_OP_SCALED_LINEAR;
    p.act = SQ_DTYPE_U8;
    p.t = SQ_DTYPE_F32;
    p.per_tensor = true;
    p.m = M, p.n = N, p.k = K, p.max_m = 8;
    p.bias = true;
    p.act_sums = true;
    OpCase c = make_linear(p);
    c.operands.push_back(input("weight_sums", int32_bytes(std::vector<int32_t>(N, 1))));
    v.push_back({c, {"bias", "act_sums", "weight_sums"}, {}});
  }
  v.push_back({make_scale_accumulators(SQ_DTYPE_BF16, M, N, true, false), {"bias"}, {}});
  v.push_back({make_scale_accumulators(SQ_DTYPE_F64, M, N, true, true, 3, 2), {"bias"}, {}});
  {
    QuantSpec s;
    s.op = SQ_OP_QUANTIZE_STATIC;
    s.x = SQ_DTYPE_F16;
    s.q = SQ_DTYPE_U8;
    s.zero_point = 128;
    s.m = M, s.k = K, s.max_m = 8;
    s.smooth = true;
    s.act_sums = true;
    v.push_back({make_quantizer(s), {"smooth", "act_sums"}, {"act_scale_scratch"}});
    s.op = SQ_OP_QUANTIZE_DYNAMIC;
    s.zero_point = 0;
    s.mode = SQ_QUANT_DYNAMIC_ASYMMETRIC;
    s.s = SQ_DTYPE_BF16;
    v.push_back({make_quantizer(s), {"smooth", "act_sums"}, {}});
    s.mode = SQ_QUANT_ABSMAX;
    s.q = SQ_DTYPE_S8;
    s.act_sums = false;
    v.push_back({make_quantizer(s), {"smooth"}, {}});
    s.mode = SQ_QUANT_FROM_ABSMAX;
    s.x = SQ_DTYPE_F64;
    s.s = SQ_DTYPE_F64;
    s.act_sums = true;
    v.push_back({make_quantizer(s), {"smooth", "act_sums"}, {}});
  }
  {
    QuantSpec s;
    s.op = SQ_OP_RMSNORM_QUANTIZE;
    s.x = SQ_DTYPE_BF16;
    s.m = M, s.k = K, s.max_m = 8;
    s.smooth = true;
    s.act_sums = true;
    s.residual = true;
    s.residual_out = ResidualOut::kSeparate;
    v.push_back({make_quantizer(s), {"smooth", "act_sums", "residual", "residual_out"}, {}});
    s.mode = SQ_QUANT_DYNAMIC_ASYMMETRIC;
    s.q = SQ_DTYPE_U8;
    s.x = SQ_DTYPE_F32;
    s.s = SQ_DTYPE_F16;
    v.push_back({make_quantizer(s), {"smooth", "act_sums", "residual", "residual_out"}, {}});
    s.mode = SQ_QUANT_STATIC;
    s.zero_point = 17;
    v.push_back({make_quantizer(s), {"smooth", "act_sums", "residual", "residual_out"}, {}});
  }
  {
    QuantSpec s;
    s.op = SQ_OP_SILU_MUL_QUANTIZE;
    s.x = SQ_DTYPE_F16;
    s.q = SQ_DTYPE_U8;
    s.mode = SQ_QUANT_STATIC;
    s.zero_point = 100;
    s.m = M, s.k = K, s.max_m = 8;
    s.smooth = true;
    s.act_sums = true;
    v.push_back({make_quantizer(s), {"smooth", "act_sums"}, {}});
    s.mode = SQ_QUANT_ABSMAX;
    s.q = SQ_DTYPE_S8;
    s.act_sums = false;
    s.pad_x = 3;
    v.push_back({make_quantizer(s), {"smooth"}, {}});
  }
  return v;
}

// The element size (alignment) of a field, as the header gives each array's dtype.
size_t elem_size(const sq_plan_desc& d, const std::string& f) {
  if (f == "act" || f == "residual" || f == "residual_out" || f == "norm_weight") return dtype_size(d.act_dtype);
  if (f == "weight_scale" || f == "bias" || f == "act_scale" || f == "smooth" || f == "act_scale_scratch")
    return dtype_size(d.scale_dtype);
  if (f == "out") return dtype_size(d.out_dtype);
  if (f == "weight_sums" || f == "act_sums") return 4;
  if (f == "absmax") return d.act_dtype == SQ_DTYPE_F64 ? 8 : 4;
  return 1;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Checks a failing call: its status, its message, and that no caller byte changed.
void expect_refused(sq_plan plan, HostPlaced& h, const sq_run_args& a, sq_status want, const std::string& needle,
                    const std::vector<unsigned char>& extra_buf = {}) {
  const std::vector<unsigned char> before = h.snapshot();
  expect_fail(sq_plan_can_implement(plan, &a), want, needle.c_str());
  expect_fail(sq_plan_run(plan, nullptr, h.workspace(), h.workspace_bytes(), &a), want, needle.c_str());
  CHECK(h.snapshot() == before);
  (void)extra_buf;
}

}  // namespace

TEST_CASE("0.2 run arguments: every field required, optional or refused per op and mode, aligned, nothing written",
          "[api][v02]") {
  // A spare 64-byte aligned buffer to pass where a field must be NULL (never written: the call fails).
  alignas(64) static unsigned char spare[4096];
  std::memset(spare, 0x3C, sizeof(spare));
  const std::vector<unsigned char> spare_before(spare, spare + sizeof(spare));
  for (const RunCase& rc : run_cases()) {
    const OpCase& c = rc.c;
    INFO("case: " << c.name);
    sq_plan plan = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
    HostPlaced h(c, workspace_size_of(plan));
    const sq_run_args good = h.args();
    {
      const sq_status st = sq_plan_can_implement(plan, &good);
      INFO(last_error());
      REQUIRE(st == SQ_STATUS_SUCCESS);
    }
    for (const char* field : kArgFields) {
      const std::string f = field;
      INFO("field " << f);
      sq_run_args a = good;
      if (c.has(f)) {
        set_arg(a, f, nullptr);
        for (const auto& al : c.aliases)
          if (al.second == f) set_arg(a, al.first, nullptr);
        if (contains(rc.optional, f)) {
          const sq_status st = sq_plan_can_implement(plan, &a);
          INFO(last_error());
          CHECK(st == SQ_STATUS_SUCCESS);
        } else {
          expect_refused(plan, h, a, SQ_STATUS_INVALID_ARGUMENT, "args->" + f + " is NULL");
        }
        // Misaligned by one byte where the element is wider.
        if (elem_size(c.desc, f) > 1) {
          a = good;
          set_arg(a, f, static_cast<unsigned char*>(h.ptr(f)) + 1);
          expect_refused(plan, h, a, SQ_STATUS_MISALIGNED, "args->" + f);
        }
      } else if (get_arg(good, f) == nullptr) {
        set_arg(a, f, spare);
        if (contains(rc.extra_ok, f)) {
          CHECK(sq_plan_can_implement(plan, &a) == SQ_STATUS_SUCCESS);
        } else {
          expect_refused(plan, h, a, SQ_STATUS_INVALID_ARGUMENT, "args->" + f + " is set");
        }
      }
    }
    CHECK(std::vector<unsigned char>(spare, spare + sizeof(spare)) == spare_before);
    sq_plan_destroy(plan);
  }
}

TEST_CASE("0.2 run arguments: zero points a plan cannot take, missing weight sums, workspace only where needed",
          "[api][v02]") {
  const int64_t M = 4, N = 6, K = 40;
  // weight_zero_point on a plan without SQ_PLAN_WEIGHT_ZERO_POINT; per-token za without SQ_PLAN_ACT_ZERO_POINT.
  for (sq_op op : {SQ_OP_SMOOTHQUANT_LINEAR, SQ_OP_SCALED_LINEAR, SQ_OP_QUANTIZED_LINEAR}) {
    LinearSpec s;
    s.op = op;
    if (op == SQ_OP_QUANTIZED_LINEAR) s.act = SQ_DTYPE_F32;
    s.m = M, s.n = N, s.k = K;
    const OpCase c = make_linear(s);
    INFO(c.name);
    sq_plan plan = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
    HostPlaced h(c, workspace_size_of(plan));
    std::vector<unsigned char> zp(N, 1);
    sq_run_args a = h.args();
    a.weight_zero_point = zp.data();
    expect_refused(plan, h, a, SQ_STATUS_INVALID_ARGUMENT, "without SQ_PLAN_WEIGHT_ZERO_POINT");
    a = h.args();
    a.act_zero_point = zp.data();
    expect_refused(plan, h, a, SQ_STATUS_INVALID_ARGUMENT,
                   op == SQ_OP_SCALED_LINEAR ? "without SQ_PLAN_ACT_ZERO_POINT" : "args->act_zero_point is set");
    sq_plan_destroy(plan);
  }
  // Missing weight sums: a static za, per-token za (SCALED_LINEAR), the asymmetric quantizer; the message
  // names sq_weight_sums.
  {
    LinearSpec s;
    s.m = M, s.n = N, s.k = K;
    s.act_zero_point = -7;
    LinearSpec t = s;
    t.op = SQ_OP_SCALED_LINEAR;
    t.act_zero_point = 0;
    t.act_zero_points = true;
    LinearSpec q = s;
    q.op = SQ_OP_QUANTIZED_LINEAR;
    q.act = SQ_DTYPE_F16;
    q.t = SQ_DTYPE_F16;
    q.act_zero_point = 0;
    q.mode = SQ_QUANT_DYNAMIC_ASYMMETRIC;
    for (const LinearSpec& spec : {s, t, q}) {
      const OpCase c = make_linear(spec);
      INFO(c.name);
      sq_plan plan = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
      HostPlaced h(c, workspace_size_of(plan));
      sq_run_args a = h.args();
      REQUIRE(sq_plan_can_implement(plan, &a) == SQ_STATUS_SUCCESS);
      a.weight_sums = nullptr;
      expect_refused(plan, h, a, SQ_STATUS_INVALID_ARGUMENT, "sq_weight_sums");
      CHECK_THAT(last_error(), Catch::Contains("args->weight_sums is NULL"));
      sq_plan_destroy(plan);
    }
  }
  // The zero-point linears need a workspace only for runs that pass weight_zero_point without act_sums.
  {
    LinearSpec s;
    s.m = M, s.n = N, s.k = K;
    s.weight_zero_points = true;
    const OpCase c = make_linear(s);
    sq_plan plan = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
    const size_t ws = workspace_size_of(plan);
    REQUIRE(ws == 256);
    HostPlaced h(c, ws);
    sq_run_args a = h.args();
    const std::vector<unsigned char> before = h.snapshot();
    expect_fail(sq_plan_run(plan, nullptr, nullptr, 0, &a), SQ_STATUS_INSUFFICIENT_WORKSPACE, "without act_sums");
    expect_fail(sq_plan_run(plan, nullptr, h.workspace(), ws - 1, &a), SQ_STATUS_INSUFFICIENT_WORKSPACE, "workspace_bytes is 255");
    expect_fail(sq_plan_run(plan, nullptr, static_cast<char*>(h.workspace()) + 8, ws, &a), SQ_STATUS_MISALIGNED, "16-byte");
    CHECK(h.snapshot() == before);
    sq_plan_destroy(plan);
  }
}

TEST_CASE("0.2 run arguments: leading dimensions and their overflow, SiLU-mul's 2K rows, accumulator rows", "[api][v02]") {
  const int64_t M = 5, K = 33, N = 7;
  QuantSpec r;
  r.op = SQ_OP_RMSNORM_QUANTIZE;
  r.x = SQ_DTYPE_F16;
  r.m = M, r.k = K;
  r.residual = true;
  r.residual_out = ResidualOut::kSeparate;
  const OpCase rms = make_quantizer(r);
  QuantSpec sm;
  sm.op = SQ_OP_SILU_MUL_QUANTIZE;
  sm.m = M, sm.k = K;
  const OpCase silu = make_quantizer(sm);
  const OpCase acc = make_scale_accumulators(SQ_DTYPE_F32, M, N, false, false);
  struct Edit {
    const OpCase* c;
    const char* what;
    void (*edit)(sq_run_args&);
    sq_status want;
    const char* needle;
  };
  const Edit edits[] = {
      {&rms, "ld_residual < K", [](sq_run_args& a) { a.ld_residual = 32; }, SQ_STATUS_INVALID_ARGUMENT, "args->ld_residual is 32"},
      {&rms, "ld_residual_out < K", [](sq_run_args& a) { a.ld_residual_out = -1; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_residual_out is -1"},
      {&rms, "ld_residual without residual", [](sq_run_args& a) { a.residual = nullptr; a.ld_residual = 40; },
       SQ_STATUS_INVALID_ARGUMENT, "args->ld_residual is 40 but args->residual is NULL"},
      {&rms, "ld_residual_out without residual_out", [](sq_run_args& a) { a.residual_out = nullptr; a.ld_residual_out = 40; },
       SQ_STATUS_INVALID_ARGUMENT, "args->ld_residual_out is 40 but args->residual_out is NULL"},
      {&rms, "ld_residual overflows", [](sq_run_args& a) { a.ld_residual = INT64_MAX / 4; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_residual (2305843009213693951) times m (5) overflows"},
      {&rms, "ld_residual_out overflows", [](sq_run_args& a) { a.ld_residual_out = INT64_MAX / 4; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_residual_out (2305843009213693951) times m (5) overflows"},
      {&rms, "ld_act (x) overflows", [](sq_run_args& a) { a.ld_act = INT64_MAX / 4; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_act (2305843009213693951) times m"},
      {&rms, "ld_out (q) overflows", [](sq_run_args& a) { a.ld_out = INT64_MAX / 4; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_out (2305843009213693951) times m"},
      {&silu, "SiLU-mul ld_act < 2K", [](sq_run_args& a) { a.ld_act = 65; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_act is 65: smaller than the row (66 elements)"},
      {&silu, "SiLU-mul ld_act overflows", [](sq_run_args& a) { a.ld_act = INT64_MAX / 4; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_act (2305843009213693951) times m (5) overflows"},
      {&acc, "accumulators ld_act < N", [](sq_run_args& a) { a.ld_act = 6; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_act is 6: smaller than the row (7 elements)"},
      {&acc, "accumulators ld_act overflows", [](sq_run_args& a) { a.ld_act = INT64_MAX / 4; }, SQ_STATUS_INVALID_ARGUMENT,
       "args->ld_act (2305843009213693951) times m (5) overflows"},
      {&acc, "accumulators ld_out < N", [](sq_run_args& a) { a.ld_out = 3; }, SQ_STATUS_INVALID_ARGUMENT, "args->ld_out is 3"},
  };
  for (const Edit& e : edits) {
    INFO(e.what);
    sq_plan plan = select_plan(*e.c, SQ_PREFERENCE_HOST_REFERENCE);
    HostPlaced h(*e.c, workspace_size_of(plan));
    sq_run_args a = h.args();
    REQUIRE(sq_plan_can_implement(plan, &a) == SQ_STATUS_SUCCESS);
    e.edit(a);
    expect_refused(plan, h, a, e.want, e.needle);
    sq_plan_destroy(plan);
  }
  // SiLU-mul: ld_act 0 means 2K, and exactly 2K is accepted.
  sq_plan plan = select_plan(silu, SQ_PREFERENCE_HOST_REFERENCE);
  HostPlaced h(silu, 0);
  sq_run_args a = h.args();
  a.ld_act = 2 * K;
  CHECK(sq_plan_can_implement(plan, &a) == SQ_STATUS_SUCCESS);
  sq_plan_destroy(plan);
}

TEST_CASE("RMSNORM_QUANTIZE aliasing: residual_out exactly residual or x is in place, any other overlap is refused",
          "[api][v02]") {
  const int64_t M = 4, K = 40;  // f16 rows of 80 bytes
  sq_plan_desc d = quantizer(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_DYNAMIC, SQ_DTYPE_S8, SQ_DTYPE_F16);
  d.k = K;
  d.max_m = M;
  sq_plan plan = nullptr;
  REQUIRE(select_host(d, &plan) == SQ_STATUS_SUCCESS);
  // One arena holding every array, so that overlaps can be arranged; each array 64-byte aligned.
  const size_t row = K * 2, big = 2 * M * row;  // room for a doubled stride
  alignas(64) static unsigned char arena[8 * 1024];
  std::memset(arena, 0x11, sizeof(arena));
  unsigned char* x = arena;
  unsigned char* res = arena + big;
  unsigned char* rout = arena + 2 * big;
  unsigned char* gamma = arena + 3 * big;  // 1920
  unsigned char* q = arena + 2200;
  unsigned char* scale = arena + 3000;
  sq_run_args a = run_args();
  a.m = M;
  a.act = x;
  a.residual = res;
  a.residual_out = rout;
  a.norm_weight = gamma;
  a.out = q;
  a.act_scale_scratch = scale;
  REQUIRE(sq_plan_can_implement(plan, &a) == SQ_STATUS_SUCCESS);
  const std::vector<unsigned char> before(arena, arena + sizeof(arena));
  auto ok = [&](sq_run_args b) {
    const sq_status st = sq_plan_can_implement(plan, &b);
    INFO(last_error());
    CHECK(st == SQ_STATUS_SUCCESS);
  };
  auto refused = [&](sq_run_args b, const char* needle) {
    expect_fail(sq_plan_can_implement(plan, &b), SQ_STATUS_INVALID_ARGUMENT, needle);
    expect_fail(sq_plan_run(plan, nullptr, nullptr, 0, &b), SQ_STATUS_INVALID_ARGUMENT, needle);
    CHECK(std::vector<unsigned char>(arena, arena + sizeof(arena)) == before);
  };
  sq_run_args b = a;
  SECTION("in place") {
    b.residual_out = res;  // exactly residual
    ok(b);
    b.residual_out = x;  // exactly x
    ok(b);
    b.residual = x;  // residual is x too (h = 2x)
    ok(b);
    b = a;
    b.residual_out = x;
    b.ld_act = 2 * K;
    b.ld_residual_out = 2 * K;  // the same leading dimension, given explicitly
    ok(b);
    b.ld_act = 0;
    b.ld_residual_out = K;  // 0 and K are the same (packed)
    ok(b);
    b = a;
    b.residual = nullptr;
    b.residual_out = x;  // in place without a residual: h = x
    ok(b);
  }
  SECTION("partial overlaps") {
    b.residual_out = res + 2;  // residual shifted by one element
    refused(b, "args->residual_out");
    b = a;
    b.residual_out = res;
    b.ld_residual_out = 2 * K;  // same pointer, another leading dimension
    refused(b, "another leading dimension");
    b = a;
    b.residual_out = x + row;  // x from its second row
    refused(b, "overlaps args->act");
    b = a;
    b.residual_out = gamma - (M * row) + 16;  // its end runs into gamma
    refused(b, "overlaps args->norm_weight");
    b = a;
    b.residual_out = q;  // the q output
    refused(b, "overlaps args->out");
    b = a;
    b.residual_out = scale - M * row + 4;  // ends inside the scales
    refused(b, "overlaps args->act_scale_scratch");
    b = a;
    b.residual = x + row;  // residual and x share rows
    refused(b, "args->residual");
    b = a;
    b.residual = x;
    b.ld_residual = 2 * K;  // the same pointer, another leading dimension: a partial overlap
    b.ld_act = K;
    refused(b, "overlaps args->act");
  }
  SECTION("disjoint interleavings that share a byte range are refused (ranges, not elements)") {
    b.ld_act = 2 * K;
    b.residual = x + row;  // x's odd rows
    b.ld_residual = 2 * K;
    refused(b, "args->residual");
  }
  sq_plan_destroy(plan);
}

// ------------------------------------------------------------------------------------------------
// [run02]: runs of the 0.2 ops on the host plan, checking the plan's wiring (which buffer goes to which
// kernel parameter) against the contract: an independent int64 oracle for the linears, and identities
// the contract states for the rest. They need the 0.2 host kernels (src/host/).
// ------------------------------------------------------------------------------------------------
namespace {

// Runs a case on the host plan; returns its outputs (REQUIREs success).
std::vector<std::vector<unsigned char>> run_host(const OpCase& c, HostPlaced* placed = nullptr) {
  sq_plan plan = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
  HostPlaced own(c, workspace_size_of(plan));
  HostPlaced& h = placed ? *placed : own;
  const sq_status st = h.run(plan);
  INFO(c.name << ": " << last_error());
  REQUIRE(st == SQ_STATUS_SUCCESS);
  sq_plan_destroy(plan);
  return h.outputs();
}

// The contract's value of a linear case, from the oracle: out (and the scratch of SMOOTHQUANT_LINEAR).
void check_linear_against_oracle(const OpCase& c) {
  INFO(c.name);
  const sq_plan_desc& d = c.desc;
  const int64_t M = c.m, N = d.n, K = d.k;
  const int64_t lda = c.ld_act ? c.ld_act : K, ldw = c.ld_weight ? c.ld_weight : K, ldo = c.ld_out ? c.ld_out : N;
  std::vector<int32_t> za, zw;
  if (d.op == SQ_OP_SMOOTHQUANT_LINEAR && d.act_zero_point != 0) za.assign(static_cast<size_t>(M), d.act_zero_point);
  if (c.has("act_zero_point")) {
    const auto& z = c.operand("act_zero_point").data;
    for (int64_t m = 0; m < M; ++m) za.push_back(int8_at(z.data(), d.act_dtype, m));
  }
  if (c.has("weight_zero_point")) {
    const auto& z = c.operand("weight_zero_point").data;
    for (int64_t n = 0; n < N; ++n) zw.push_back(int8_at(z.data(), d.weight_dtype, n));
  }
  const std::vector<int32_t> acc = oracle_acc_zp(M, N, K, c.operand("act").data.data(), d.act_dtype, lda,
                                                 c.operand("weight").data.data(), d.weight_dtype, ldw, za, zw);
  sq_plan plan = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
  const size_t ws = workspace_size_of(plan);
  HostPlaced hw(c, ws);
  const sq_status st = hw.run(plan);
  INFO(last_error());
  REQUIRE(st == SQ_STATUS_SUCCESS);
  sq_plan_destroy(plan);
  const std::vector<unsigned char> got = hw.bytes("out");
  if (d.out_dtype == SQ_DTYPE_S32) {
    std::vector<unsigned char> want(got.size(), 0xFF);
    for (int64_t m = 0; m < M; ++m) std::memcpy(&want[static_cast<size_t>(m * ldo) * 4], &acc[static_cast<size_t>(m * N)], N * 4);
    CHECK(got == want);
    return;
  }
  const sq_dtype t = d.out_dtype;
  Buf ws_buf(t, N), row(t, M), want(t, M * ldo);
  ws_buf.bytes = c.operand("weight_scale").data;
  Buf bias;
  if (c.has("bias")) {
    bias = Buf(t, N);
    bias.bytes = c.operand("bias").data;
  }
  if (d.op == SQ_OP_SMOOTHQUANT_LINEAR) {
    for (int64_t m = 0; m < M; ++m) row.set(m, d.act_scale);  // (T)act_scale, one rounding
  } else {
    Buf scales(t, d.flags & SQ_PLAN_PER_TENSOR_ACT_SCALE ? 1 : M);
    scales.bytes = c.operand("act_scale").data;
    for (int64_t m = 0; m < M; ++m) std::memcpy(row.at(m), scales.at(scales.count() == 1 ? 0 : m), dtype_size(t));
  }
  want.poison();
  oracle_epilogue(M, N, acc, ws_buf, c.has("bias") ? &bias : nullptr, row, want, ldo);
  Buf g(t, M * ldo);
  g.bytes = got;
  const int64_t diff = first_bit_difference(g, want);
  INFO("first difference at element " << diff);
  CHECK(diff == -1);
  if (d.op == SQ_OP_SMOOTHQUANT_LINEAR) {
    const std::vector<unsigned char> scratch = hw.bytes("act_scale_scratch");
    CHECK(std::memcmp(scratch.data(), row.data(), static_cast<size_t>(M) * dtype_size(t)) == 0);
    for (size_t b = static_cast<size_t>(M) * dtype_size(t); b < scratch.size(); ++b) CHECK(scratch[b] == 0xFF);
  }
}

}  // namespace

TEST_CASE("0.2 linears on the host plan equal the int64 oracle: dtype pairs, zero points, S32, caller scales",
          "[api][run02]") {
  const sq_dtype pairs[][2] = {{SQ_DTYPE_S8, SQ_DTYPE_S8}, {SQ_DTYPE_S8, SQ_DTYPE_U8}, {SQ_DTYPE_U8, SQ_DTYPE_S8},
                               {SQ_DTYPE_U8, SQ_DTYPE_U8}};
  for (const auto& p : pairs) {
    for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_BF16, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_S32}) {
      LinearSpec s;
      s.act = p[0];
      s.weight = p[1];
      s.t = t;
      s.m = 6, s.n = 9, s.k = 37;
      s.bias = t != SQ_DTYPE_S32;
      check_linear_against_oracle(make_linear(s));
      s.act_zero_point = p[0] == SQ_DTYPE_U8 ? 200 : -77;  // a static za
      check_linear_against_oracle(make_linear(s));
      s.weight_zero_points = true;  // and zw: the pre-pass finds the row sums
      s.pad_act = 3, s.pad_w = 5, s.pad_out = 2;
      check_linear_against_oracle(make_linear(s));
      s.act_sums = true;  // the caller's row sums
      check_linear_against_oracle(make_linear(s));
      if (t == SQ_DTYPE_S32) continue;
      LinearSpec c = s;  // SCALED_LINEAR: per-token and per-tensor scales, per-token za
      c.op = SQ_OP_SCALED_LINEAR;
      c.act_zero_point = 0;
      for (bool per_tensor : {false, true})
        for (bool za : {false, true})
          for (bool sums : {false, true}) {
            c.per_tensor = per_tensor;
            c.act_zero_points = za;
            c.act_sums = sums;
            check_linear_against_oracle(make_linear(c));
          }
    }
  }
}

TEST_CASE("0.2 linears at the accumulation limit: extreme operands and zero points at max_k", "[api][run02]") {
  struct X {
    sq_dtype a, w;
    bool za, zw;
    int64_t k;
  };
  for (const X& x : {X{SQ_DTYPE_S8, SQ_DTYPE_S8, false, false, 131071}, X{SQ_DTYPE_S8, SQ_DTYPE_S8, false, true, 65793},
                     X{SQ_DTYPE_U8, SQ_DTYPE_S8, false, false, 65793}, X{SQ_DTYPE_U8, SQ_DTYPE_U8, false, false, 33025},
                     X{SQ_DTYPE_S8, SQ_DTYPE_S8, true, true, 33025}, X{SQ_DTYPE_U8, SQ_DTYPE_U8, true, true, 33025}}) {
    for (int extreme : {1, -1}) {
      LinearSpec s;
      s.op = SQ_OP_SCALED_LINEAR;
      s.act = x.a;
      s.weight = x.w;
      s.t = SQ_DTYPE_F64;
      s.m = 2, s.n = 3, s.k = x.k;
      s.act_zero_points = x.za;
      s.weight_zero_points = x.zw;
      s.extreme = extreme;
      check_linear_against_oracle(make_linear(s));
    }
  }
}

TEST_CASE("tensor parallelism through the plans: S32 partials on K slices, summed, then SCALE_ACCUMULATORS, equal "
          "SCALED_LINEAR on the whole K",
          "[api][run02]") {
  const int64_t M = 7, N = 11, K = 96;
  for (bool zp : {false, true}) {
    for (int slices : {2, 3}) {
      CAPTURE(zp, slices);
      LinearSpec whole;
      whole.op = SQ_OP_SCALED_LINEAR;
      whole.t = SQ_DTYPE_BF16;
      whole.weight = SQ_DTYPE_U8;
      whole.m = M, whole.n = N, whole.k = K;
      whole.bias = true;
      whole.weight_zero_points = zp;
      const OpCase w = make_linear(whole);
      const auto want = run_host(w);
      // The slices: act and weight columns [k0, k1) through the leading dimensions.
      std::vector<int32_t> sum(static_cast<size_t>(M * N), 0);
      const auto& act = w.operand("act").data;
      const auto& wt = w.operand("weight").data;
      for (int s = 0; s < slices; ++s) {
        const int64_t k0 = K * s / slices, k1 = K * (s + 1) / slices, ks = k1 - k0;
        OpCase c;
        c.name = "slice " + std::to_string(s);
        c.desc = blank_desc(SQ_OP_SMOOTHQUANT_LINEAR);
        c.desc.act_dtype = SQ_DTYPE_S8;
        c.desc.weight_dtype = SQ_DTYPE_U8;
        c.desc.out_dtype = SQ_DTYPE_S32;
        c.desc.n = N;
        c.desc.k = ks;
        c.desc.max_m = M;
        if (zp) c.desc.flags = SQ_PLAN_WEIGHT_ZERO_POINT;
        c.m = M;
        std::vector<unsigned char> a(static_cast<size_t>(M * ks)), b(static_cast<size_t>(N * ks));
        for (int64_t m = 0; m < M; ++m) std::memcpy(&a[m * ks], &act[m * K + k0], ks);
        for (int64_t n = 0; n < N; ++n) std::memcpy(&b[n * ks], &wt[n * K + k0], ks);
        c.operands = {input("act", a), input("weight", b)};
        if (zp) {
          c.operands.push_back(input("weight_zero_point", w.operand("weight_zero_point").data));
          c.operands.push_back(input("weight_sums", int32_bytes(row_sums_of(b.data(), SQ_DTYPE_U8, N, ks, ks))));
        }
        c.operands.push_back(output("out", static_cast<size_t>(M * N) * 4));
        const std::vector<int32_t> part = int32_values(run_host(c)[0]);
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
      }
      OpCase e = make_scale_accumulators(SQ_DTYPE_BF16, M, N, true, false);
      e.operands[0].data = int32_bytes(sum);
      // The same scales, weight scales and bias as the whole linear.
      for (Operand& o : e.operands)
        if (o.field == "act_scale" || o.field == "weight_scale" || o.field == "bias") o.data = w.operand(o.field).data;
      CHECK(first_mismatch(e, run_host(e), {want.back()}) == "");
    }
  }
}

TEST_CASE("a U8 weight with zero point 128 equals the S8 weight with its top bit flipped, through the plan",
          "[api][run02]") {
  LinearSpec s;
  s.t = SQ_DTYPE_F32;
  s.m = 5, s.n = 13, s.k = 70;
  s.bias = true;
  const OpCase signed_case = make_linear(s);
  OpCase u = signed_case;
  u.desc.weight_dtype = SQ_DTYPE_U8;
  u.desc.flags = SQ_PLAN_WEIGHT_ZERO_POINT;
  for (Operand& o : u.operands)
    if (o.field == "weight")
      for (auto& b : o.data) b ^= 0x80;
  const std::vector<unsigned char> uw = u.operand("weight").data;  // a copy: push_back below reallocates
  u.operands.push_back(input("weight_zero_point", std::vector<unsigned char>(static_cast<size_t>(s.n), 128)));
  u.operands.push_back(input("weight_sums", int32_bytes(row_sums_of(uw.data(), SQ_DTYPE_U8, s.n, s.k, s.k))));
  CHECK(first_mismatch(signed_case, run_host(u), run_host(signed_case)) == "");
}

TEST_CASE("QUANTIZED_LINEAR equals its quantizer then SCALED_LINEAR with the quantizer's scales and zero points",
          "[api][run02]") {
  const int64_t M = 6, N = 10, K = 50;
  for (sq_quant_mode mode : {SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC}) {
    for (sq_dtype q : {SQ_DTYPE_S8, SQ_DTYPE_U8}) {
      if (mode == SQ_QUANT_DYNAMIC && q == SQ_DTYPE_U8) continue;
      for (bool zw : {false, true}) {
        CAPTURE(mode, q, zw);
        LinearSpec s;
        s.op = SQ_OP_QUANTIZED_LINEAR;
        s.act = SQ_DTYPE_F16;
        s.t = SQ_DTYPE_F16;
        s.m = M, s.n = N, s.k = K;
        s.bias = true;
        s.mode = mode;
        s.q = q;
        s.weight_zero_points = zw;
        const OpCase whole = make_linear(s);
        const auto want = run_host(whole);  // scratch, out
        // The quantizer alone (QUANTIZE_DYNAMIC: same x, smooth, scale dtype T, q dtype).
        OpCase qc;
        qc.name = "quantizer";
        qc.desc = blank_desc(SQ_OP_QUANTIZE_DYNAMIC);
        qc.desc.act_dtype = SQ_DTYPE_F16;
        qc.desc.scale_dtype = SQ_DTYPE_F16;
        qc.desc.out_dtype = q;
        qc.desc.k = K;
        qc.desc.max_m = M;
        qc.desc.quant_mode = mode;
        qc.m = M;
        qc.operands = {input("act", whole.operand("act").data), input("smooth", whole.operand("smooth").data),
                       output("out", static_cast<size_t>(M * K)), output("act_scale_scratch", static_cast<size_t>(M) * 2)};
        if (mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) qc.operands.push_back(output("act_zero_point", static_cast<size_t>(M)));
        const auto qo = run_host(qc);
        // Then the linear with the caller's scales and zero points.
        OpCase lc;
        lc.name = "scaled linear";
        lc.desc = whole.desc;
        lc.desc.op = SQ_OP_SCALED_LINEAR;
        lc.desc.act_dtype = q;
        lc.desc.quant_mode = 0;
        lc.desc.quant_dtype = 0;
        if (mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) lc.desc.flags |= SQ_PLAN_ACT_ZERO_POINT;
        lc.m = M;
        lc.operands = {input("act", qo[0]), input("act_scale", qo[1]), input("weight", whole.operand("weight").data),
                       input("weight_scale", whole.operand("weight_scale").data), input("bias", whole.operand("bias").data)};
        if (mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) lc.operands.push_back(input("act_zero_point", qo[2]));
        if (zw) lc.operands.push_back(input("weight_zero_point", whole.operand("weight_zero_point").data));
        if (whole.has("weight_sums")) lc.operands.push_back(input("weight_sums", whole.operand("weight_sums").data));
        lc.operands.push_back(output("out", static_cast<size_t>(M * N) * 2));
        const auto lo = run_host(lc);
        CHECK(std::memcmp(want[0].data(), qo[1].data(), static_cast<size_t>(M) * 2) == 0);  // the scratch: the scales
        CHECK(want[1] == lo[0]);
      }
    }
  }
}

TEST_CASE("ABSMAX then FROM_ABSMAX equals DYNAMIC, on whole rows and on K slices with a max of the slices' abs-max",
          "[api][run02]") {
  for (sq_op op : {SQ_OP_QUANTIZE_DYNAMIC, SQ_OP_RMSNORM_QUANTIZE, SQ_OP_SILU_MUL_QUANTIZE}) {
    QuantSpec s;
    s.op = op;
    s.x = SQ_DTYPE_BF16;
    s.s = SQ_DTYPE_F32;
    s.m = 9, s.k = 200;
    s.smooth = true;
    s.act_sums = true;
    const OpCase dyn = make_quantizer(s);  // act, [norm_weight], smooth, out, scratch, act_sums
    const auto want = run_host(dyn);
    OpCase ab = dyn;
    ab.desc.quant_mode = SQ_QUANT_ABSMAX;
    ab.operands.erase(std::remove_if(ab.operands.begin(), ab.operands.end(), [](const Operand& o) { return o.output; }),
                      ab.operands.end());
    ab.operands.push_back(output("absmax", static_cast<size_t>(s.m) * 4));
    const auto amax = run_host(ab);
    OpCase from = dyn;
    from.desc.quant_mode = SQ_QUANT_FROM_ABSMAX;
    from.operands.insert(from.operands.begin() + 1, input("absmax", amax[0]));
    CHECK(first_mismatch(from, run_host(from), want) == "");
  }
  // K slices of a plain row (the tensor-parallel recipe): per-slice abs-max, their max (as unsigned bits),
  // then FROM_ABSMAX on each slice gives the whole row's scales and q.
  QuantSpec s;
  s.x = SQ_DTYPE_F32;
  s.m = 5, s.k = 90;
  const OpCase whole = make_quantizer(s);
  const auto want = run_host(whole);
  const auto& x = whole.operand("act").data;
  const int64_t K = s.k, M = s.m, slices = 3;
  std::vector<uint32_t> amax(static_cast<size_t>(M), 0);
  for (int64_t i = 0; i < slices; ++i) {
    QuantSpec p = s;
    p.k = K / slices;
    p.mode = SQ_QUANT_ABSMAX;
    OpCase c = make_quantizer(p);
    std::vector<unsigned char> xs(static_cast<size_t>(M * p.k) * 4);
    for (int64_t m = 0; m < M; ++m) std::memcpy(&xs[m * p.k * 4], &x[(m * K + i * p.k) * 4], p.k * 4);
    c.operands[0].data = xs;
    const auto a = run_host(c)[0];
    for (int64_t m = 0; m < M; ++m) {
      uint32_t v;
      std::memcpy(&v, &a[m * 4], 4);
      amax[m] = std::max(amax[m], v);
    }
  }
  std::vector<unsigned char> amax_bytes(static_cast<size_t>(M) * 4);
  std::memcpy(amax_bytes.data(), amax.data(), amax_bytes.size());
  for (int64_t i = 0; i < slices; ++i) {
    QuantSpec p = s;
    p.k = K / slices;
    p.mode = SQ_QUANT_FROM_ABSMAX;
    OpCase c = make_quantizer(p);
    std::vector<unsigned char> xs(static_cast<size_t>(M * p.k) * 4);
    for (int64_t m = 0; m < M; ++m) std::memcpy(&xs[m * p.k * 4], &x[(m * K + i * p.k) * 4], p.k * 4);
    c.operands[0].data = xs;
    c.operands[1].data = amax_bytes;
    const auto got = run_host(c);  // out, scratch
    for (int64_t m = 0; m < M; ++m) CHECK(std::memcmp(&got[0][m * p.k], &want[0][m * K + i * p.k], p.k) == 0);
    CHECK(got[1] == want[1]);
  }
}

TEST_CASE("RMSNORM_QUANTIZE in place (residual_out = residual, = x) equals a separate residual_out", "[api][run02]") {
  for (sq_quant_mode mode : {SQ_QUANT_DYNAMIC, SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC_ASYMMETRIC}) {
    QuantSpec s;
    s.op = SQ_OP_RMSNORM_QUANTIZE;
    s.x = SQ_DTYPE_F16;
    s.q = mode == SQ_QUANT_DYNAMIC ? SQ_DTYPE_S8 : SQ_DTYPE_U8;
    s.mode = mode;
    s.zero_point = 3;
    s.m = 6, s.k = 300;
    s.residual = true;
    s.act_sums = true;
    s.pad_residual = 4;
    s.residual_out = ResidualOut::kSeparate;
    const OpCase sep = make_quantizer(s);
    const auto want = run_host(sep);  // residual_out, out, [scratch, zp], act_sums
    for (ResidualOut r : {ResidualOut::kInPlaceResidual, ResidualOut::kInPlaceX}) {
      CAPTURE(mode, static_cast<int>(r));
      QuantSpec t = s;
      t.residual_out = r;
      OpCase c = make_quantizer(t);
      c.operands = sep.operands;  // the same data
      c.operands.erase(std::remove_if(c.operands.begin(), c.operands.end(),
                                      [](const Operand& o) { return o.field == "residual_out"; }),
                       c.operands.end());
      for (Operand& o : c.operands)
        if ((r == ResidualOut::kInPlaceResidual && o.field == "residual") || (r == ResidualOut::kInPlaceX && o.field == "act"))
          o.output = true;
      c.aliases = {{"residual_out", r == ResidualOut::kInPlaceResidual ? "residual" : "act"}};
      c.ld_residual_out = r == ResidualOut::kInPlaceResidual ? c.ld_residual : c.ld_act;
      const auto got = run_host(c);  // [act or residual], out, ...
      // h: rows of K f16 in a stride of ld (the in-place buffer) against the packed residual_out.
      const int64_t ld = r == ResidualOut::kInPlaceResidual ? s.k + s.pad_residual : s.k;
      for (int64_t m = 0; m < s.m; ++m) CHECK(std::memcmp(&got[0][m * ld * 2], &want[0][m * s.k * 2], s.k * 2) == 0);
      for (size_t i = 1; i < want.size(); ++i) CHECK(got[i] == want[i]);
    }
  }
}

TEST_CASE("act_sums written by every quantizer that writes q equal the row sums of q", "[api][run02]") {
  for (sq_op op : {SQ_OP_QUANTIZE_STATIC, SQ_OP_QUANTIZE_DYNAMIC, SQ_OP_RMSNORM_QUANTIZE, SQ_OP_SILU_MUL_QUANTIZE}) {
    for (sq_quant_mode mode : {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_FROM_ABSMAX}) {
      if ((op == SQ_OP_QUANTIZE_STATIC && mode != SQ_QUANT_STATIC) || (op == SQ_OP_QUANTIZE_DYNAMIC && mode == SQ_QUANT_STATIC))
        continue;
      QuantSpec s;
      s.op = op;
      s.mode = mode;
      s.q = mode == SQ_QUANT_DYNAMIC_ASYMMETRIC || mode == SQ_QUANT_STATIC ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
      s.zero_point = 99;
      s.m = 7, s.k = 129;
      s.pad_out = 5;
      s.act_sums = true;
      const OpCase c = make_quantizer(s);
      INFO(c.name);
      const auto out = run_host(c);
      const std::vector<int32_t> want = row_sums_of(out[0].data(), s.q, s.m, s.k, s.k + s.pad_out);
      CHECK(int32_values(out.back()) == want);
    }
  }
}

TEST_CASE("zero-point linears: a run with act_sums needs no workspace; without, the pre-pass gives the same bits",
          "[api][run02]") {
  LinearSpec s;
  s.op = SQ_OP_SCALED_LINEAR;
  s.t = SQ_DTYPE_F32;
  s.m = 4, s.n = 8, s.k = 64;
  s.weight_zero_points = true;
  s.act_zero_points = true;
  s.act_sums = true;
  const OpCase c = make_linear(s);
  sq_plan plan = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
  HostPlaced h(c, 0);
  REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &h.args()) == SQ_STATUS_SUCCESS);
  const auto with_sums = h.outputs();
  HostPlaced w(c, workspace_size_of(plan));
  w.args().act_sums = nullptr;
  REQUIRE(w.run(plan) == SQ_STATUS_SUCCESS);
  CHECK(w.outputs() == with_sums);
  sq_plan_destroy(plan);
}

// Issue 18, finding 1: a weight row stride whose product with N overflows was accepted, and the host
// kernel then read (n - 1) * ld_weight bytes past the weight (signed overflow, SIGSEGV). can_implement
// is asked first, so that before the fix the test fails instead of crashing.
TEST_CASE("issue 18: ld_weight times n that overflows is INVALID_ARGUMENT, nothing written", "[api]") {
  const int64_t n = 4, k = 16, m = 2;
  for (sq_op op : {SQ_OP_SMOOTHQUANT_LINEAR, SQ_OP_QUANTIZED_LINEAR}) {
    CAPTURE(op);
    sq_plan_desc d = linear_desc(SQ_DTYPE_F32, n, k, m, 0.5);
    if (op == SQ_OP_QUANTIZED_LINEAR) {
      d.op = op;
      d.act_dtype = SQ_DTYPE_F32;
      d.act_scale = 0;
    }
    sq_plan plan = nullptr;
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
    size_t ws_bytes = 0;
    REQUIRE(sq_plan_workspace_size(plan, &ws_bytes) == SQ_STATUS_SUCCESS);
    HostWorkspace ws(ws_bytes);
    std::vector<unsigned char> act(static_cast<size_t>(m * k) * 4, 0x11), w(static_cast<size_t>(k), 0x22);
    Buf wscale = random_scales(SQ_DTYPE_F32, n), scratch(SQ_DTYPE_F32, m), out(SQ_DTYPE_F32, m * n);
    scratch.poison();
    out.poison();
    for (int64_t ld : {std::numeric_limits<int64_t>::max() / 2, std::numeric_limits<int64_t>::max(),
                       std::numeric_limits<int64_t>::max() / 8 / (n - 1) + 1, int64_t{1} << 62}) {
      CAPTURE(ld);
      sq_run_args a = run_args();
      a.m = m;
      a.act = act.data();
      a.weight = w.data();
      a.ld_weight = ld;
      a.weight_scale = wscale.data();
      a.act_scale_scratch = scratch.data();
      a.out = out.data();
      REQUIRE(sq_plan_can_implement(plan, &a) == SQ_STATUS_INVALID_ARGUMENT);
      CHECK_THAT(last_error(), Catch::Contains("ld_weight"));
      REQUIRE(sq_plan_run(plan, nullptr, ws.data(), ws_bytes, &a) == SQ_STATUS_INVALID_ARGUMENT);
      CHECK_THAT(last_error(), Catch::Contains("ld_weight"));
      for (unsigned char c : out.bytes) REQUIRE(c == 0xFF);
      for (unsigned char c : scratch.bytes) REQUIRE(c == 0xFF);
    }
    // One weight row: any stride addresses only its first row (k bytes), so it is valid.
    sq_plan_destroy(plan);
  }
}

// Issue 18, finding 3: the header says SQ_MAX_STRUCT_SIZE (4096) is the largest struct_size any call
// accepts (with a zero tail for input structs), and that the quantize ops take n = 0.
TEST_CASE("issue 18: struct_size SQ_MAX_STRUCT_SIZE is accepted with a zero tail, one more is not", "[api]") {
  STATIC_REQUIRE(SQ_MAX_STRUCT_SIZE == 4096);
  std::vector<unsigned char> big(SQ_MAX_STRUCT_SIZE + 1, 0);
  // Input: the descriptor.
  const sq_plan_desc good = linear_desc(SQ_DTYPE_F32, 4, 8, 2, 0.5);
  std::memcpy(big.data(), &good, sizeof(good));
  auto set_size = [&](uint32_t s) { std::memcpy(big.data(), &s, sizeof(s)); };
  sq_plan p = nullptr;
  set_size(SQ_MAX_STRUCT_SIZE);
  REQUIRE(sq_plan_select(nullptr, reinterpret_cast<const sq_plan_desc*>(big.data()), SQ_PREFERENCE_HOST_REFERENCE,
                         &p) == SQ_STATUS_SUCCESS);
  sq_plan q = nullptr;
  set_size(SQ_MAX_STRUCT_SIZE + 1);
  expect_fail(sq_plan_select(nullptr, reinterpret_cast<const sq_plan_desc*>(big.data()),
                             SQ_PREFERENCE_HOST_REFERENCE, &q),
              SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  CHECK(q == nullptr);
  // Input: the run arguments.
  std::vector<int8_t> act(16, 1), w(32, 2);
  Buf ws = random_scales(SQ_DTYPE_F32, 4), scratch(SQ_DTYPE_F32, 2), out(SQ_DTYPE_F32, 8);
  sq_run_args a = run_args();
  a.m = 2;
  a.act = act.data();
  a.weight = w.data();
  a.weight_scale = ws.data();
  a.act_scale_scratch = scratch.data();
  a.out = out.data();
  std::fill(big.begin(), big.end(), 0);
  std::memcpy(big.data(), &a, sizeof(a));
  set_size(SQ_MAX_STRUCT_SIZE);
  const auto* args = reinterpret_cast<const sq_run_args*>(big.data());
  CHECK(sq_plan_can_implement(p, args) == SQ_STATUS_SUCCESS);
  CHECK(sq_plan_run(p, nullptr, nullptr, 0, args) == SQ_STATUS_SUCCESS);
  set_size(SQ_MAX_STRUCT_SIZE + 1);
  out.poison();
  scratch.poison();
  expect_fail(sq_plan_can_implement(p, args), SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  expect_fail(sq_plan_run(p, nullptr, nullptr, 0, args), SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  for (unsigned char c : out.bytes) CHECK(c == 0xFF);
  // Output structs: filled up to what the library knows, the rest of the caller's size zeroed.
  std::fill(big.begin(), big.end(), 0xAB);
  set_size(SQ_MAX_STRUCT_SIZE);
  REQUIRE(sq_plan_get_info(p, reinterpret_cast<sq_plan_info*>(big.data())) == SQ_STATUS_SUCCESS);
  CHECK(reinterpret_cast<sq_plan_info*>(big.data())->n == 4);
  for (size_t i = sizeof(sq_plan_info); i < SQ_MAX_STRUCT_SIZE; ++i) REQUIRE(big[i] == 0);
  CHECK(big[SQ_MAX_STRUCT_SIZE] == 0xAB);
  std::fill(big.begin(), big.end(), 0xAB);
  set_size(SQ_MAX_STRUCT_SIZE);
  REQUIRE(sq_plan_precision_guarantee(p, reinterpret_cast<sq_precision_guarantee*>(big.data())) ==
          SQ_STATUS_SUCCESS);
  for (size_t i = sizeof(sq_precision_guarantee); i < SQ_MAX_STRUCT_SIZE; ++i) REQUIRE(big[i] == 0);
  std::fill(big.begin(), big.end(), 0xAB);
  set_size(SQ_MAX_STRUCT_SIZE + 1);
  const std::vector<unsigned char> before = big;
  expect_fail(sq_plan_get_info(p, reinterpret_cast<sq_plan_info*>(big.data())), SQ_STATUS_INVALID_STRUCT_SIZE,
              "4097");
  expect_fail(sq_plan_precision_guarantee(p, reinterpret_cast<sq_precision_guarantee*>(big.data())),
              SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  CHECK(big == before);
  // The offline helpers' matrix view.
  std::vector<float> wf(8, 0.5f), smooth(8, 0.f), absmax(8, 1.0f);
  sq_matrix_view v;
  std::memset(&v, 0, sizeof(v));
  v.struct_size = sizeof(v);
  v.dtype = SQ_DTYPE_F32;
  v.rows = 1;
  v.cols = 8;
  v.data = wf.data();
  std::fill(big.begin(), big.end(), 0);
  std::memcpy(big.data(), &v, sizeof(v));
  set_size(SQ_MAX_STRUCT_SIZE);
  CHECK(sq_smooth_factors(8, absmax.data(), reinterpret_cast<const sq_matrix_view*>(big.data()), 1, 0.5f,
                          smooth.data()) == SQ_STATUS_SUCCESS);
  set_size(SQ_MAX_STRUCT_SIZE + 1);
  std::fill(smooth.begin(), smooth.end(), -1.0f);
  expect_fail(sq_smooth_factors(8, absmax.data(), reinterpret_cast<const sq_matrix_view*>(big.data()), 1, 0.5f,
                                smooth.data()),
              SQ_STATUS_INVALID_STRUCT_SIZE, "4097");
  for (float f : smooth) CHECK(f == -1.0f);
  sq_plan_destroy(p);
}

TEST_CASE("issue 18: the quantize ops take n = 0 (the header's word); another n is INVALID_ARGUMENT", "[api]") {
  for (sq_op op : {SQ_OP_QUANTIZE_STATIC, SQ_OP_QUANTIZE_DYNAMIC}) {
    sq_plan_desc d = quantize_desc(op, SQ_DTYPE_F32, SQ_DTYPE_F32, 16, 4, 0.1);
    sq_plan p = nullptr;
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
    sq_plan_destroy(p);
    for (int64_t n : {int64_t{1}, int64_t{16}, int64_t{-1}, std::numeric_limits<int64_t>::max()}) {
      d.n = n;
      sq_plan q = nullptr;
      expect_fail(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &q), SQ_STATUS_INVALID_ARGUMENT,
                  "desc->n");
      CHECK(q == nullptr);
    }
  }
}
