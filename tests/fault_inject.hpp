// Fault injection for the host path (issue 18): this test program replaces pthread_create and the
// global operator new, so that the n-th thread start or allocation made by the armed thread fails.
// The program links the library's object files (not the .so), so the hidden CUDA test hook
// (sq::testing::fail_next_cuda_call) is reachable too. The replacements are inert until armed.
#pragma once

#include <cstdint>

namespace sqt {
namespace faults {

// Arms the calling thread: its n-th pthread_create (0 = the next) returns EAGAIN, and/or its n-th
// operator new throws std::bad_alloc (nothrow forms return nullptr); -1 leaves that kind alone.
void arm(long fail_thread_at, long fail_alloc_at);
// Disarms; returns how many thread starts and allocations the armed thread made (failed one included).
struct Counts {
  long threads = 0, allocs = 0;
  bool thread_failed = false, alloc_failed = false;
};
Counts disarm();
// How many allocations made while armed are still live (a leak check around a failed call).
long live_armed();

}  // namespace faults
}  // namespace sqt
