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
