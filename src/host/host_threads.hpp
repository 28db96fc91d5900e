// How every host kernel spreads its work over threads, and why it never fails doing so.
// The work [0, units) is cut in `shares` contiguous shares; share s (s >= 1) runs on a worker thread,
// share 0 and every share whose worker could not start (std::system_error: a thread or pids limit, no
// memory for a stack; std::bad_alloc for its state) run on the calling thread. The pool's storage is
// the only allocation and is made before any share runs (no memory: everything on the calling
// thread). So a kernel that allocates nothing else never throws, never calls std::terminate and never
// leaves caller memory half-written; and each output element is computed by exactly one share, with
// the same operations whichever thread runs it (the bits do not depend on the threads).
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace sq {
namespace host {

// The shares for `units` units of `work_per_unit` each, on at most `threads` threads (0 counts as
// 1), no share smaller than min_work_per_share.
inline int64_t share_count(int64_t units, int64_t work_per_unit, unsigned threads, int64_t min_work_per_share) {
  if (units <= 1) return 1;
  // In double: units * work_per_unit may exceed int64 (it is a count, not an index).
  const double by_work = static_cast<double>(units) * static_cast<double>(std::max<int64_t>(1, work_per_unit)) /
                         static_cast<double>(min_work_per_share);
  int64_t n = std::min<int64_t>(static_cast<int64_t>(std::max(threads, 1u)), units);
  if (by_work < static_cast<double>(n)) n = static_cast<int64_t>(by_work);
  return std::max<int64_t>(1, n);
}

// Runs body(begin, end) over the shares of [0, units) as described above; returns when all are done.
// body must not throw.
template <typename Body>
void run_shares(int64_t units, int64_t shares, const Body& body) {
  if (units <= 0) return;
  shares = std::max<int64_t>(1, std::min(shares, units));
  std::vector<std::thread> pool;
  if (shares > 1) {
    try {
      pool.reserve(static_cast<size_t>(shares - 1));
    } catch (...) {
      shares = 1;  // no memory for the pool: the calling thread does everything
    }
  }
  auto range = [units, shares](int64_t s, int64_t* begin, int64_t* end) {  // after the last change of shares
    *begin = units * s / shares;
    *end = units * (s + 1) / shares;
  };
  int64_t started = 1;  // shares [1, started) run on workers
  try {
    for (; started < shares; ++started) {
      int64_t b, e;
      range(started, &b, &e);
      pool.emplace_back([&body, b, e] { body(b, e); });  // reserved: no reallocation, nothing added on throw
    }
  } catch (...) {
    // Worker `started` could not start: its share and the later ones run below.
  }
  for (int64_t s = 0; s < shares; ++s) {
    if (s >= 1 && s < started) continue;
    int64_t b, e;
    range(s, &b, &e);
    body(b, e);
  }
  for (auto& t : pool) t.join();
}

}  // namespace host
}  // namespace sq
