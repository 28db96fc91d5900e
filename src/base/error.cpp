// Status and the thread-local last-error message (see error.hpp).
#include "base/error.hpp"

#include <cstdarg>
#include <cstdio>

namespace sq {
namespace {
thread_local char g_message[512] = "";
}

sq_status fail(sq_status status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(g_message, sizeof(g_message), fmt, ap);
  va_end(ap);
  return status;
}

sq_status ok() {
  g_message[0] = '\0';
  return SQ_STATUS_SUCCESS;
}

const char* last_message() { return g_message; }

}  // namespace sq
