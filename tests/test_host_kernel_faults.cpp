// The host kernels under resource failures (issue 18): pthread_create and operator new are replaced in
// this program; armed, they fail the n-th thread start (EAGAIN) or the n-th allocation (std::bad_alloc).
// Every kernel must then still return normally, with exactly the bits of a single-threaded run (the
// calling thread does the shares whose worker did not start; no memory for the pool: all of them).
#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>

#include "host_kernel_run.hpp"

namespace {
std::atomic<int> g_thread_countdown{-1};  // -1: off; n >= 0: the n-th following start fails (0: the next)
std::atomic<int> g_alloc_countdown{-1};
std::atomic<int> g_threads_started{0};

bool take(std::atomic<int>& countdown) {
  int v = countdown.load();
  while (v >= 0) {
    if (countdown.compare_exchange_weak(v, v - 1)) return v == 0;
  }
  return false;
}
}  // namespace

extern "C" int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  using Real = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static Real real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "pthread_create"));
  if (take(g_thread_countdown)) return EAGAIN;
  ++g_threads_started;
  return real(t, attr, fn, arg);
}

void* operator new(size_t n) {
  if (take(g_alloc_countdown)) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// The matching deletes (malloc'd storage).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace sqk;

namespace {

struct Armed {
  Armed(int threads_after, int allocs_after) {
    g_thread_countdown = threads_after;
    g_alloc_countdown = allocs_after;
  }
  ~Armed() {
    g_thread_countdown = -1;
    g_alloc_countdown = -1;
  }
};

// The thread start that fails: the first, the second, the third of a run.
const int kFailingStart[] = {0, 1, 2};

}  // namespace

TEST_CASE("host kernels: a thread that cannot start or an allocation that fails changes nothing",
          "[host_kernels][faults]") {
  std::uniform_int_distribution<int> d(0, 255);
  // Linear: enough work for 4 shares.
  const int64_t m = 64, n = 512, k = 512;
  std::vector<uint8_t> a(static_cast<size_t>(m * k)), w(static_cast<size_t>(n * k));
  for (auto& b : a) b = static_cast<uint8_t>(d(sqt::rng()));
  for (auto& b : w) b = static_cast<uint8_t>(d(sqt::rng()));
  Buf ws = sqt::random_scales(SQ_DTYPE_F32, n);
  LinearIn lin;
  lin.m = m;
  lin.n = n;
  lin.k = k;
  lin.ops = sqo::Operands{SQ_DTYPE_U8, SQ_DTYPE_S8, a.data(), k, w.data(), k, {}, {}};
  lin.ops.za.assign(m, 77);
  lin.zero_points = true;
  lin.weight_scale = &ws;
  lin.fill_scratch = true;
  lin.ldo = n;
  const LinearRan lin_ref = run_linear(lin, 1);
  // Quantize: RMSNorm in place, 40 rows of 4096.
  Buf x = sqt::random_values(SQ_DTYPE_BF16, 40 * 4096, -2, 2), nw = sqt::random_values(SQ_DTYPE_BF16, 4096, 0.5, 1.5);
  Buf res = sqt::random_values(SQ_DTYPE_BF16, 40 * 4096, -1, 1);
  sqo::QuantIn q;
  q.producer = sqo::Producer::kRmsNorm;
  q.mode = sqo::Mode::kDynamicAsym;
  q.q_dtype = SQ_DTYPE_U8;
  q.m = 40;
  q.k = 4096;
  q.x = &x;
  q.ldx = 4096;
  q.residual = &res;
  q.ldr = 4096;
  q.norm_weight = &nw;
  q.eps = 1e-5;
  const QuantRan q_ref = run_quantize(q, {1, 0, ResOut::kIntoResidual, true});

  for (int nth : kFailingStart) {
    CAPTURE(nth);
    const int started_before = g_threads_started;
    LinearRan lr;
    QuantRan qr;
    {
      Armed armed(nth, -1);  // the test's own code starts no thread: the n-th start is the kernel's
      lr = run_linear(lin, 4);
    }
    CHECK(sqt::first_bit_difference(lr.out, lin_ref.out) == -1);
    CHECK(sqt::first_bit_difference(lr.scratch, lin_ref.scratch) == -1);
    {
      Armed armed(nth, -1);
      qr = run_quantize(q, {4, 0, ResOut::kIntoResidual, true});
    }
    CHECK(qr.q == q_ref.q);
    CHECK(qr.zp == q_ref.zp);
    CHECK(qr.sums == q_ref.sums);
    CHECK(sqt::first_bit_difference(qr.scale, q_ref.scale) == -1);
    CHECK(sqt::first_bit_difference(qr.residual_out, q_ref.residual_out) == -1);
    // The linear has 3 workers to start, the quantizer 1; the failing start is the last one attempted.
    CHECK(g_threads_started - started_before == std::min(nth, 3) + std::min(nth, 1));
  }
}

TEST_CASE("host kernels: allocation failures inside the kernels change nothing", "[host_kernels][faults]") {
  // The kernels' only allocations: the pool's storage and each std::thread's state. Fail the n-th one
  // counted from the kernel call itself (sq::host_* called directly, buffers made beforehand).
  const int64_t m = 48, n = 300, k = 1024;
  std::vector<int8_t> a(static_cast<size_t>(m * k), 3), w(static_cast<size_t>(n * k), -2);
  std::vector<float> ws(static_cast<size_t>(n), 0.5f), ref(static_cast<size_t>(m * n)), out(ref.size());
  kern::LinearParams p{};
  p.m = static_cast<int32_t>(m);
  p.n = static_cast<int32_t>(n);
  p.k = static_cast<int32_t>(k);
  p.act = a.data();
  p.ld_act = k;
  p.weight = w.data();
  p.ld_weight = k;
  p.weight_scale = ws.data();
  const float s = 0.25f;
  uint32_t bits;
  std::memcpy(&bits, &s, 4);
  p.static_scale_bits = bits;
  p.ld_out = n;
  p.dtype = kern::Dtype::F32;
  p.out = ref.data();
  sq::host_linear(p, 1);
  const int64_t rows = 1000;  // row sums: enough rows for several shares
  std::vector<int8_t> ra(static_cast<size_t>(rows * k), -7);
  std::vector<int32_t> sums_ref(static_cast<size_t>(rows)), sums(sums_ref.size());
  kern::RowSumsParams rp{};
  rp.m = static_cast<int32_t>(rows);
  rp.k = static_cast<int32_t>(k);
  rp.a = ra.data();
  rp.ld_a = k;
  rp.a_type = kern::Dtype::S8;
  rp.sums = sums_ref.data();
  sq::host_row_sums(rp, 1);
  for (int nth = 0; nth < 6; ++nth) {
    CAPTURE(nth);
    std::fill(out.begin(), out.end(), -1.0f);
    std::fill(sums.begin(), sums.end(), 0);
    p.out = out.data();
    rp.sums = sums.data();
    {
      Armed armed(-1, nth);
      sq::host_linear(p, 4);
    }
    CHECK(out == ref);
    {
      Armed armed(-1, nth);
      sq::host_row_sums(rp, 4);
    }
    CHECK(sums == sums_ref);
  }
}
