// Reading and writing the caller's ABI structs (see abi_structs.hpp).
#include "base/abi_structs.hpp"

#include <cstdint>
#include <cstring>

#include "base/error.hpp"

namespace sq {

namespace {

constexpr size_t kMaxStructSize = SQ_MAX_STRUCT_SIZE;  // larger struct_size values are garbage (the header)

// The struct_size the caller wrote at the start of `s`, checked against min_size and kMaxStructSize.
sq_status caller_size(const void* s, size_t min_size, const char* what, uint32_t* size) {
  std::memcpy(size, s, sizeof(*size));
  if (*size < min_size)
    return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s->struct_size is %u, expected at least %zu (sizeof)", what, *size,
                min_size);
  if (*size > kMaxStructSize)
    return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s->struct_size is %u: not a size this library knows (max %zu)",
                what, *size, kMaxStructSize);
  return SQ_STATUS_SUCCESS;
}

}  // namespace

sq_status read_struct(const void* in, size_t min_size, size_t out_size, void* out, const char* what) {
  if (in == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s is NULL", what);
  uint32_t size;
  const sq_status st = caller_size(in, min_size, what, &size);
  if (st != SQ_STATUS_SUCCESS) return st;
  const unsigned char* bytes = static_cast<const unsigned char*>(in);
  for (size_t i = out_size; i < size; ++i) {
    if (bytes[i] != 0)
      return fail(SQ_STATUS_INVALID_STRUCT_SIZE,
                  "%s->struct_size is %u but this library knows only %zu bytes, and byte %zu of the "
                  "unknown tail is non-zero (a newer field is set)",
                  what, size, out_size, i);
  }
  // The caller's bytes, then zeros for the fields past its size (the common case only copies).
  if (size >= out_size) {
    std::memcpy(out, in, out_size);
  } else {
    std::memcpy(out, in, size);
    std::memset(static_cast<unsigned char*>(out) + size, 0, out_size - size);
  }
  return SQ_STATUS_SUCCESS;
}

sq_status read_grown_struct(const void* in, size_t min_size, size_t out_size, void* out, const char* what) {
  constexpr uint32_t kFieldGranule = 8;  // the structs' alignment: every field ends on it below out_size
  const sq_status st = read_struct(in, min_size, out_size, out, what);
  if (st != SQ_STATUS_SUCCESS) return st;
  uint32_t size;
  std::memcpy(&size, in, sizeof(size));
  if (size < out_size && size % kFieldGranule != 0)
    return fail(SQ_STATUS_INVALID_STRUCT_SIZE,
                "%s->struct_size is %u: between the 0.1 size (%zu) and this library's (%zu) it must end at a field "
                "boundary (a multiple of %u, as sizeof gives)",
                what, size, min_size, out_size, kFieldGranule);
  return SQ_STATUS_SUCCESS;
}

sq_status write_struct(void* dst, const void* src, size_t size, size_t min_size, const char* what) {
  if (dst == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s is NULL", what);
  uint32_t caller;
  SQ_TRY(caller_size(dst, min_size, what, &caller));
  unsigned char* out = static_cast<unsigned char*>(dst);
  const size_t n = caller < size ? caller : size;
  std::memcpy(out + sizeof(uint32_t), static_cast<const unsigned char*>(src) + sizeof(uint32_t),
              n - sizeof(uint32_t));
  if (caller > n) std::memset(out + n, 0, caller - n);
  return SQ_STATUS_SUCCESS;
}

}  // namespace sq
