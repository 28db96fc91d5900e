// The one table of the public element types: name, size, whether a float, and the kernels' Dtype.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel_params.hpp"
#include "smoothquant/smoothquant.h"

namespace sq {

struct DtypeInfo {
  sq_dtype dtype;
  const char* name;  // as error messages spell it
  size_t size;       // bytes of one element; 0 for INVALID
  bool is_float;     // F16, BF16, F32 or F64: a kernels::Dtype of the same value
};

// Indexed by the sq_dtype value.
inline constexpr DtypeInfo kDtypes[] = {
    {SQ_DTYPE_INVALID, "INVALID", 0, false}, {SQ_DTYPE_S8, "S8", 1, false},  {SQ_DTYPE_S32, "S32", 4, false},
    {SQ_DTYPE_F16, "F16", 2, true},          {SQ_DTYPE_BF16, "BF16", 2, true}, {SQ_DTYPE_F32, "F32", 4, true},
    {SQ_DTYPE_F64, "F64", 8, true},          {SQ_DTYPE_U8, "U8", 1, false},
};
inline constexpr DtypeInfo kUnknownDtype = {SQ_DTYPE_INVALID, "unknown", 0, false};

constexpr const DtypeInfo& dtype_info(sq_dtype d) {
  return d >= 0 && static_cast<size_t>(d) < sizeof(kDtypes) / sizeof(kDtypes[0]) ? kDtypes[d] : kUnknownDtype;
}
constexpr const char* dtype_name(sq_dtype d) { return dtype_info(d).name; }
constexpr size_t dtype_size(sq_dtype d) { return dtype_info(d).size; }
constexpr bool is_float(sq_dtype d) { return dtype_info(d).is_float; }
// S8 or U8: a quantized (GEMM operand or q) dtype.
constexpr bool is_int8(sq_dtype d) { return d == SQ_DTYPE_S8 || d == SQ_DTYPE_U8; }
// The kernels' Dtype of a public dtype other than INVALID (the values are equal).
constexpr kernels::Dtype kernel_dtype(sq_dtype d) { return static_cast<kernels::Dtype>(d); }

constexpr bool dtypes_indexed_by_value() {
  for (size_t i = 0; i < sizeof(kDtypes) / sizeof(kDtypes[0]); ++i)
    if (static_cast<size_t>(kDtypes[i].dtype) != i) return false;
  return true;
}
static_assert(dtypes_indexed_by_value(), "kDtypes is indexed by the sq_dtype value");
static_assert(static_cast<int>(kernels::Dtype::F16) == SQ_DTYPE_F16 &&
                  static_cast<int>(kernels::Dtype::BF16) == SQ_DTYPE_BF16 &&
                  static_cast<int>(kernels::Dtype::F32) == SQ_DTYPE_F32 &&
                  static_cast<int>(kernels::Dtype::F64) == SQ_DTYPE_F64 &&
                  static_cast<int>(kernels::Dtype::S8) == SQ_DTYPE_S8 &&
                  static_cast<int>(kernels::Dtype::S32) == SQ_DTYPE_S32 &&
                  static_cast<int>(kernels::Dtype::U8) == SQ_DTYPE_U8,
              "kernels::Dtype values are the public ones");

// Whether p is aligned to `bytes` (an element size or a vector width).
inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace sq
