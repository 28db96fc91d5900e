// Resource failures as statuses (issue 18): a host thread that cannot start, a host allocation that
// fails. Each call runs with the n-th thread start (or allocation) failing, for every n up to the
// number the call makes: it returns SUCCESS with the right answer, or a status and a message with
// nothing the caller owns written and nothing leaked; the plan stays usable and destroyable.
// This program links the library's object files (see tests/CMakeLists.txt) and fault_inject.cpp.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "fault_inject.hpp"
#include "test_util.hpp"

using namespace sqt;

namespace {

// Bytes of every caller buffer of one run, to compare before and after.
struct Snapshot {
  std::vector<std::vector<unsigned char>> bytes;
  std::vector<std::pair<const void*, size_t>> where;
  void add(const void* p, size_t n) { where.emplace_back(p, n); }
  void take() {
    bytes.clear();
    for (auto& w : where) {
      const auto* b = static_cast<const unsigned char*>(w.first);
      bytes.emplace_back(b, b + w.second);
    }
  }
  bool unchanged() const {
    for (size_t i = 0; i < where.size(); ++i)
      if (std::memcmp(where[i].first, bytes[i].data(), where[i].second) != 0) return false;
    return true;
  }
};

// A linear (SMOOTHQUANT or QUANTIZED) large enough for the host kernels to use several threads.
struct Linear {
  sq_op op;
  int64_t m = 64, n = 512, k = 1024;
  std::vector<int8_t> act, w;
  Buf x, ws, scratch, out;
  Linear(sq_op o, sq_dtype t) : op(o) {
    act = random_s8(static_cast<size_t>(m * k));
    w = random_s8(static_cast<size_t>(n * k));
    x = random_values(SQ_DTYPE_F32, static_cast<size_t>(m * k), -3.0, 3.0);
    ws = random_scales(t, static_cast<size_t>(n));
    scratch = Buf(t, static_cast<size_t>(m));
    out = Buf(t, static_cast<size_t>(m * n));
  }
  sq_plan_desc desc(unsigned threads) const {
    sq_plan_desc d = linear_desc(ws.dtype, n, k, m, 0.03);
    if (op == SQ_OP_QUANTIZED_LINEAR) {
      d.op = op;
      d.act_dtype = SQ_DTYPE_F32;
      d.act_scale = 0;
    }
    d.host_threads = threads;
    return d;
  }
  sq_run_args args() {
    sq_run_args a = run_args();
    a.m = m;
    a.act = op == SQ_OP_QUANTIZED_LINEAR ? x.data() : static_cast<const void*>(act.data());
    a.weight = w.data();
    a.weight_scale = ws.data();
    a.act_scale_scratch = scratch.data();
    a.out = out.data();
    return a;
  }
};

sq_plan select_ok(const sq_plan_desc& d) {
  sq_plan p = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
  return p;
}

}  // namespace

// Issue 18, finding 2: the host linear kernel's second worker failing to start ended in
// std::terminate (joinable std::threads unwinding); the first failing returned INTERNAL_ERROR after
// act_scale_scratch was written. Now the calling thread does the columns of every worker that did not
// start, and the run succeeds with the same bits.
TEST_CASE("issue 18: host linear worker threads that cannot start: the calling thread does their work",
          "[faults]") {
  for (sq_op op : {SQ_OP_SMOOTHQUANT_LINEAR, SQ_OP_QUANTIZED_LINEAR}) {
    for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_BF16}) {
      CAPTURE(op, t);
      Linear L(op, t);
      sq_plan one = select_ok(L.desc(1)), four = select_ok(L.desc(4));
      size_t ws_bytes = 0;
      REQUIRE(sq_plan_workspace_size(four, &ws_bytes) == SQ_STATUS_SUCCESS);
      HostWorkspace ws(ws_bytes);
      sq_run_args a = L.args();
      REQUIRE(sq_plan_run(one, nullptr, ws.data(), ws_bytes, &a) == SQ_STATUS_SUCCESS);
      const Buf ref = L.out, ref_scratch = L.scratch;
      // How many threads a clean run starts.
      faults::arm(-1, -1);
      REQUIRE(sq_plan_run(four, nullptr, ws.data(), ws_bytes, &a) == SQ_STATUS_SUCCESS);
      const long starts = faults::disarm().threads;
      REQUIRE(starts >= 2);  // the shape is big enough for the threads this test is about
      for (long fail_at = 0; fail_at <= starts; ++fail_at) {
        CAPTURE(fail_at);
        L.out.poison();
        L.scratch.poison();
        faults::arm(fail_at, -1);
        const sq_status st = sq_plan_run(four, nullptr, ws.data(), ws_bytes, &a);
        const faults::Counts c = faults::disarm();
        CHECK(c.thread_failed == (fail_at < starts));
        REQUIRE(st == SQ_STATUS_SUCCESS);
        CHECK(first_bit_difference(L.out, ref) == -1);
        CHECK(first_bit_difference(L.scratch, ref_scratch) == -1);
      }
      CHECK(sq_plan_destroy(one) == SQ_STATUS_SUCCESS);
      CHECK(sq_plan_destroy(four) == SQ_STATUS_SUCCESS);
    }
  }
}

namespace {

// One run configuration of the host plan, big enough for the host kernels' worker threads.
struct Config {
  const char* name;
  sq_op op;
  int64_t m, n, k;
  unsigned threads;
};
const Config kConfigs[] = {
    {"smoothquant_linear", SQ_OP_SMOOTHQUANT_LINEAR, 64, 512, 1024, 4},
    {"quantized_linear", SQ_OP_QUANTIZED_LINEAR, 64, 256, 4096, 4},
    {"quantize_dynamic", SQ_OP_QUANTIZE_DYNAMIC, 64, 0, 4096, 4},
    {"quantize_static", SQ_OP_QUANTIZE_STATIC, 64, 0, 4096, 4},
};

// Buffers and args of one configuration.
struct Run {
  Config c;
  Buf x, ws, scratch, out;
  std::vector<int8_t> act, w;
  sq_plan plan = nullptr;
  size_t ws_bytes = 0;
  explicit Run(const Config& cfg) : c(cfg) {
    const bool linear = c.op == SQ_OP_SMOOTHQUANT_LINEAR || c.op == SQ_OP_QUANTIZED_LINEAR;
    x = random_values(SQ_DTYPE_F32, static_cast<size_t>(c.m * c.k), -3.0, 3.0);
    act = random_s8(static_cast<size_t>(c.m * c.k));
    w = random_s8(static_cast<size_t>((linear ? c.n : 1) * c.k));
    ws = random_scales(SQ_DTYPE_F32, static_cast<size_t>(linear ? c.n : 1));
    scratch = Buf(SQ_DTYPE_F32, static_cast<size_t>(c.m));
    out = linear ? Buf(SQ_DTYPE_F32, static_cast<size_t>(c.m * c.n)) : Buf(SQ_DTYPE_S8, static_cast<size_t>(c.m * c.k));
    plan = select_ok(desc());
    REQUIRE(sq_plan_workspace_size(plan, &ws_bytes) == SQ_STATUS_SUCCESS);
  }
  ~Run() { sq_plan_destroy(plan); }
  sq_plan_desc desc() const {
    sq_plan_desc d = c.op == SQ_OP_SMOOTHQUANT_LINEAR || c.op == SQ_OP_QUANTIZED_LINEAR
                         ? linear_desc(SQ_DTYPE_F32, c.n, c.k, c.m, 0.03)
                         : quantize_desc(c.op, SQ_DTYPE_F32, SQ_DTYPE_F32, c.k, c.m, 0.03);
    if (c.op == SQ_OP_QUANTIZED_LINEAR) {
      d.op = c.op;
      d.act_dtype = SQ_DTYPE_F32;
      d.act_scale = 0;
    }
    d.host_threads = c.threads;
    return d;
  }
  sq_run_args args() {
    sq_run_args a = run_args();
    a.m = c.m;
    a.act = c.op == SQ_OP_SMOOTHQUANT_LINEAR ? static_cast<const void*>(act.data()) : x.data();
    if (c.op == SQ_OP_SMOOTHQUANT_LINEAR || c.op == SQ_OP_QUANTIZED_LINEAR) {
      a.weight = w.data();
      a.weight_scale = ws.data();
    }
    if (c.op != SQ_OP_QUANTIZE_STATIC) a.act_scale_scratch = scratch.data();
    a.out = out.data();
    return a;
  }
  sq_status run(HostWorkspace& wsp) {
    sq_run_args a = args();
    return sq_plan_run(plan, nullptr, wsp.data(), ws_bytes, &a);
  }
};

// The registry of live plans grows its table as plans are selected; grow it first, so that the
// allocations a select makes are the plan's own (the leak check counts what stays allocated).
void grow_registry() {
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, 4, 4, 1, 1.0);
  std::vector<sq_plan> plans(256);
  for (auto& p : plans) REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
  for (auto& p : plans) sq_plan_destroy(p);
}

}  // namespace

TEST_CASE("host allocation failures at select: OUT_OF_MEMORY, *plan untouched, nothing leaked", "[faults]") {
  grow_registry();
  for (const Config& c : kConfigs) {
    CAPTURE(c.name);
    Run r(c);  // (selects its own plan outside the armed calls)
    const sq_plan_desc d = r.desc();
    for (long n = 0;; ++n) {
      CAPTURE(n);
      sq_plan p = reinterpret_cast<sq_plan>(0x1);
      faults::arm(-1, n);
      const sq_status st = sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p);
      const faults::Counts cnt = faults::disarm();
      if (!cnt.alloc_failed) {  // past the last allocation: a clean select
        REQUIRE(st == SQ_STATUS_SUCCESS);
        CHECK(sq_plan_destroy(p) == SQ_STATUS_SUCCESS);
        CHECK(faults::live_armed() == 0);
        break;
      }
      REQUIRE(st == SQ_STATUS_OUT_OF_MEMORY);
      CHECK_THAT(last_error(), Catch::Contains("allocation failed"));
      CHECK(p == reinterpret_cast<sq_plan>(0x1));
      CHECK(faults::live_armed() == 0);  // the plan of a failed select is not leaked
    }
  }
}

TEST_CASE("host allocation and thread failures at run: the right bits, or a status with nothing written",
          "[faults]") {
  for (const Config& c : kConfigs) {
    CAPTURE(c.name);
    Run r(c);
    HostWorkspace wsp(r.ws_bytes);
    REQUIRE(r.run(wsp) == SQ_STATUS_SUCCESS);
    const Buf ref = r.out, ref_scratch = r.scratch;
    faults::arm(-1, -1);
    REQUIRE(r.run(wsp) == SQ_STATUS_SUCCESS);
    const faults::Counts clean = faults::disarm();
    INFO("a clean run starts " << clean.threads << " threads and makes " << clean.allocs << " allocations");
    // Every allocation failing in turn.
    for (long n = 0; n <= clean.allocs; ++n) {
      CAPTURE(n);
      r.out.poison();
      r.scratch.poison();
      const Buf out0 = r.out, scr0 = r.scratch;
      faults::arm(-1, n);
      const sq_status st = r.run(wsp);
      const faults::Counts cnt = faults::disarm();
      CHECK(cnt.alloc_failed == (n < clean.allocs));
      if (st == SQ_STATUS_SUCCESS) {
        CHECK(first_bit_difference(r.out, ref) == -1);
        if (c.op != SQ_OP_QUANTIZE_STATIC) CHECK(first_bit_difference(r.scratch, ref_scratch) == -1);
      } else {
        CHECK(st == SQ_STATUS_OUT_OF_MEMORY);
        CHECK_THAT(last_error(), Catch::Contains("allocation failed"));
        CHECK(first_bit_difference(r.out, out0) == -1);
        CHECK(first_bit_difference(r.scratch, scr0) == -1);
      }
      CHECK(faults::live_armed() == 0);
    }
    // Every thread start failing in turn: the calling thread does the work, the run succeeds.
    for (long n = 0; n <= clean.threads; ++n) {
      CAPTURE(n);
      r.out.poison();
      faults::arm(n, -1);
      const sq_status st = r.run(wsp);
      faults::disarm();
      REQUIRE(st == SQ_STATUS_SUCCESS);
      CHECK(first_bit_difference(r.out, ref) == -1);
      if (c.op != SQ_OP_QUANTIZE_STATIC) CHECK(first_bit_difference(r.scratch, ref_scratch) == -1);
    }
    // The plan is still usable, then destroyable (by ~Run).
    r.out.poison();
    REQUIRE(r.run(wsp) == SQ_STATUS_SUCCESS);
    CHECK(first_bit_difference(r.out, ref) == -1);
  }
}

TEST_CASE("host allocation failures in the offline helpers: OUT_OF_MEMORY, nothing written", "[faults]") {
  const int64_t k = 96, rows = 8;
  Buf wsrc = random_values(SQ_DTYPE_F32, rows * k, -3.0, 3.0);
  std::vector<float> absmax(k, 2.0f);
  sq_matrix_view v;
  std::memset(&v, 0, sizeof(v));
  v.struct_size = sizeof(v);
  v.dtype = SQ_DTYPE_F32;
  v.rows = rows;
  v.cols = k;
  v.data = wsrc.data();
  for (long n = 0;; ++n) {
    std::vector<float> s(k, -1.0f);
    faults::arm(-1, n);
    const sq_status st = sq_smooth_factors(k, absmax.data(), &v, 1, 0.5f, s.data());
    const faults::Counts cnt = faults::disarm();
    if (!cnt.alloc_failed) { REQUIRE(st == SQ_STATUS_SUCCESS); break; }
    CHECK(st == SQ_STATUS_OUT_OF_MEMORY);
    for (float f : s) CHECK(f == -1.0f);
    CHECK(faults::live_armed() == 0);
  }
  for (long n = 0;; ++n) {
    std::vector<int8_t> q(rows * k, 7);
    std::vector<float> scale(rows, -1.0f);
    faults::arm(-1, n);
    const sq_status st = sq_quantize_weight_per_channel(&v, q.data(), 0, SQ_DTYPE_F32, scale.data());
    const faults::Counts cnt = faults::disarm();
    if (!cnt.alloc_failed) { REQUIRE(st == SQ_STATUS_SUCCESS); break; }
    CHECK(st == SQ_STATUS_OUT_OF_MEMORY);
    for (int8_t x : q) CHECK(x == 7);
    for (float f : scale) CHECK(f == -1.0f);
    CHECK(faults::live_armed() == 0);
  }
}
