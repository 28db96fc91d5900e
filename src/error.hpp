// Status and thread-local last-error message for every C entry point.
#pragma once

#include <exception>
#include <new>

#include "smoothquant/smoothquant.h"

namespace sq {

// Records `status` with a printf-style message for sq_last_error_message(); returns status.
sq_status fail(sq_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Clears the message (a successful call); returns SQ_STATUS_SUCCESS.
sq_status ok();

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
