// Reading and writing the caller's ABI structs, whose struct_size may be smaller or larger than this
// library's sizeof (the growth rule of smoothquant.h).
#pragma once

#include <cstddef>

#include "smoothquant/smoothquant.h"

namespace sq {

// Reads a caller struct of at least `min_size` bytes whose struct_size may be larger (the unknown tail
// must be zero); copies min(struct_size, out_size) bytes into out, the rest zeroed.
sq_status read_struct(const void* in, size_t min_size, size_t out_size, void* out, const char* what);

// read_struct for the input structs that grew (sq_plan_desc, sq_run_args): a struct_size below this
// library's must also end at a field boundary (a multiple of 8, as every sizeof of them is), so that no
// field is read in part (half a pointer would be a wild one).
sq_status read_grown_struct(const void* in, size_t min_size, size_t out_size, void* out, const char* what);

// Writes `size` bytes of `src` into a caller output struct whose struct_size (>= min_size) is read
// first; bytes beyond what the library knows are zeroed; struct_size stays the caller's.
sq_status write_struct(void* dst, const void* src, size_t size, size_t min_size, const char* what);

}  // namespace sq
