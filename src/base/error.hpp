// Status and the thread-local last-error message of every C entry point; no exception crosses.
#pragma once

#include <exception>
#include <new>

#include "smoothquant/smoothquant.h"

namespace sq {

// Records `status` with a printf-style message for sq_last_error_message(); returns status.
sq_status fail(sq_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Clears the message (a successful call); returns SQ_STATUS_SUCCESS.
sq_status ok();
// The calling thread's last message ("" after a success).
const char* last_message();

// Runs `body` (returning sq_status) so that no exception crosses the C boundary.
template <typename F>
sq_status guarded(const char* function, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(SQ_STATUS_OUT_OF_MEMORY, "%s: host allocation failed", function);
  } catch (const std::exception& e) {
    return fail(SQ_STATUS_INTERNAL_ERROR, "%s: internal error: %s", function, e.what());
  } catch (...) {
    return fail(SQ_STATUS_INTERNAL_ERROR, "%s: internal error (unknown exception)", function);
  }
}

}  // namespace sq

// Returns the status of `expr` from the enclosing function unless it is SQ_STATUS_SUCCESS.
#define SQ_TRY(expr)                                                \
  do {                                                              \
    const sq_status sq_try_status_ = (expr);                        \
    if (sq_try_status_ != SQ_STATUS_SUCCESS) return sq_try_status_; \
  } while (0)
