// See fault_inject.hpp. pthread_create is defined here (the program's definition interposes on every
// caller, libstdc++'s std::thread and the library included); it forwards to the sanitizer's interceptor
// when one is linked (ASan/TSan builds) and to the C library's otherwise. operator new/delete are the
// standard replaceable ones.
#include "fault_inject.hpp"

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <new>

extern "C" int __interceptor_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*)
    __attribute__((weak));

namespace sqt {
namespace faults {
namespace {
thread_local bool t_armed = false;
thread_local long t_thread_at = -1, t_alloc_at = -1;
thread_local Counts t_counts;

bool fail_alloc() {
  if (!t_armed) return false;
  const long i = t_counts.allocs++;
  if (i == t_alloc_at) {
    t_counts.alloc_failed = true;
    return true;
  }
  return false;
}
}  // namespace

void arm(long fail_thread_at, long fail_alloc_at) {
  t_counts = Counts{};
  t_thread_at = fail_thread_at;
  t_alloc_at = fail_alloc_at;
  t_armed = true;
}

Counts disarm() {
  t_armed = false;
  return t_counts;
}

// Every allocation carries a 16-byte header saying whether it was made while armed, so that
// live_armed() counts what an armed call left allocated (on any thread's delete).
constexpr std::size_t kHeader = 16;
constexpr uint64_t kArmedTag = 0x41524d4544414c4cull, kPlainTag = 0x504c41494e414c4cull;
std::atomic<long> g_live_armed{0};

void release(void* p) {
  if (p == nullptr) return;
  unsigned char* base = static_cast<unsigned char*>(p) - kHeader;
  uint64_t tag;
  std::memcpy(&tag, base, sizeof(tag));
  if (tag == kArmedTag) g_live_armed.fetch_sub(1);
  std::free(base);
}

long live_armed() { return g_live_armed.load(); }

bool fail_thread() {
  if (!t_armed) return false;
  const long i = t_counts.threads++;
  if (i == t_thread_at) {
    t_counts.thread_failed = true;
    return true;
  }
  return false;
}

void* alloc(std::size_t n, bool nothrow) {
  if (fail_alloc()) {
    if (nothrow) return nullptr;
    throw std::bad_alloc();
  }
  unsigned char* base = static_cast<unsigned char*>(std::malloc(n + kHeader));
  if (base == nullptr) {
    if (nothrow) return nullptr;
    throw std::bad_alloc();
  }
  const uint64_t tag = t_armed ? kArmedTag : kPlainTag;
  if (t_armed) g_live_armed.fetch_add(1);
  std::memcpy(base, &tag, sizeof(tag));
  return base + kHeader;
}

}  // namespace faults
}  // namespace sqt

using sqt::faults::alloc;
using sqt::faults::release;

extern "C" int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  if (sqt::faults::fail_thread()) return EAGAIN;
  if (__interceptor_pthread_create != nullptr) return __interceptor_pthread_create(t, attr, fn, arg);
  using Fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_create"));
  return real(t, attr, fn, arg);
}

void* operator new(std::size_t n) { return alloc(n, false); }
void* operator new[](std::size_t n) { return alloc(n, false); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try { return alloc(n, true); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try { return alloc(n, true); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
