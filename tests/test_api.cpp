// The C ABI surface: versions, statuses, messages, struct sizes, handles, and every class of
// bad input, checking the status, the message and that nothing the caller owns was written.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <cmath>
#include <limits>
#include <thread>

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
