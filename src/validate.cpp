// Validation of descriptors and run arguments. Every check names the bad value.
#include <climits>
#include <cmath>
#include <cstring>

#include "error.hpp"
#include "plan.hpp"

namespace sq {

namespace {
constexpr size_t kMaxStructSize = SQ_MAX_STRUCT_SIZE;  // larger struct_size values are garbage (the header)
constexpr int64_t kMaxDim = INT32_MAX;   // kernels index rows/cols in int32
constexpr uintptr_t kVectorAlign = 16;

bool is_float(sq_dtype d) {
  return d == SQ_DTYPE_F16 || d == SQ_DTYPE_BF16 || d == SQ_DTYPE_F32 || d == SQ_DTYPE_F64;
}
bool aligned(const void* p, size_t a) { return (reinterpret_cast<uintptr_t>(p) % a) == 0; }
}  // namespace

const char* dtype_name(sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_S8: return "S8";
    case SQ_DTYPE_S32: return "S32";
    case SQ_DTYPE_F16: return "F16";
    case SQ_DTYPE_BF16: return "BF16";
    case SQ_DTYPE_F32: return "F32";
    case SQ_DTYPE_F64: return "F64";
    case SQ_DTYPE_INVALID: return "INVALID";
    default: return "unknown";
  }
}

size_t dtype_size(sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_S8: return 1;
    case SQ_DTYPE_F16:
    case SQ_DTYPE_BF16: return 2;
    case SQ_DTYPE_S32:
    case SQ_DTYPE_F32: return 4;
    case SQ_DTYPE_F64: return 8;
    default: return 0;
  }
}

sq_status read_struct(const void* in, size_t min_size, size_t out_size, void* out, const char* what) {
  if (in == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s is NULL", what);
  uint32_t size;
  std::memcpy(&size, in, sizeof(size));
  if (size < min_size)
    return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s->struct_size is %u, expected at least %zu (sizeof)",
                what, size, min_size);
  if (size > kMaxStructSize)
    return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s->struct_size is %u: not a size this library knows (max %zu)",
                what, size, kMaxStructSize);
  const unsigned char* bytes = static_cast<const unsigned char*>(in);
  for (size_t i = out_size; i < size; ++i) {
    if (bytes[i] != 0)
      return fail(SQ_STATUS_INVALID_STRUCT_SIZE,
                  "%s->struct_size is %u but this library knows only %zu bytes, and byte %zu of the "
                  "unknown tail is non-zero (a newer field is set)",
                  what, size, out_size, i);
  }
  std::memset(out, 0, out_size);
  std::memcpy(out, in, size < out_size ? size : out_size);
  return SQ_STATUS_SUCCESS;
}

sq_status write_struct(void* dst, const void* src, size_t size, size_t min_size, const char* what) {
  if (dst == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s is NULL", what);
  uint32_t caller;
  std::memcpy(&caller, dst, sizeof(caller));
  if (caller < min_size)
    return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s->struct_size is %u, expected at least %zu (sizeof)",
                what, caller, min_size);
  if (caller > kMaxStructSize)
    return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s->struct_size is %u: not a size this library knows (max %zu)",
                what, caller, kMaxStructSize);
  unsigned char* out = static_cast<unsigned char*>(dst);
  const size_t n = caller < size ? caller : size;
  std::memcpy(out + sizeof(uint32_t), static_cast<const unsigned char*>(src) + sizeof(uint32_t),
              n - sizeof(uint32_t));
  if (caller > n) std::memset(out + n, 0, caller - n);
  return SQ_STATUS_SUCCESS;  // struct_size stays the caller's
}

sq_status validate_desc(const sq_plan_desc* in, sq_plan_desc* d) {
  sq_status st = read_struct(in, sizeof(sq_plan_desc), sizeof(sq_plan_desc), d, "desc");
  if (st != SQ_STATUS_SUCCESS) return st;
  d->struct_size = sizeof(sq_plan_desc);
  if (d->reserved != 0) return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->reserved must be 0 (got %u)", d->reserved);
  // The 0.2 fields this build does not implement yet (the header is ahead of the code) are refused,
  // never silently ignored: a quant mode other than the op's own, Q other than S8, a zero point, flags, eps.
  {
    const sq_quant_mode own = d->op == SQ_OP_QUANTIZE_STATIC ? SQ_QUANT_STATIC : SQ_QUANT_DYNAMIC;
    const bool quant_ok = d->quant_mode == SQ_QUANT_DEFAULT ||
                          (d->quant_mode == own && (d->op == SQ_OP_QUANTIZED_LINEAR || d->op == SQ_OP_QUANTIZE_STATIC ||
                                                    d->op == SQ_OP_QUANTIZE_DYNAMIC));
    const bool qdt_ok = d->quant_dtype == 0 || (d->quant_dtype == SQ_DTYPE_S8 && d->op == SQ_OP_QUANTIZED_LINEAR);
    if (!quant_ok || !qdt_ok || d->act_zero_point != 0 || d->flags != 0 || d->eps != 0.0)
      return fail(SQ_STATUS_NOT_SUPPORTED,
                  "desc: quant_mode %d, quant_dtype %d, act_zero_point %d, flags 0x%x, eps %g: this build does not "
                  "implement these 0.2 settings yet (0 is the default of each)",
                  d->quant_mode, d->quant_dtype, d->act_zero_point, d->flags, d->eps);
  }
  const bool linear = d->op == SQ_OP_SMOOTHQUANT_LINEAR || d->op == SQ_OP_QUANTIZED_LINEAR;
  const bool quantize = d->op == SQ_OP_QUANTIZE_STATIC || d->op == SQ_OP_QUANTIZE_DYNAMIC;
  if (!linear && !quantize)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->op is %d: expected SQ_OP_SMOOTHQUANT_LINEAR (1), SQ_OP_QUANTIZED_LINEAR (2), "
                "SQ_OP_QUANTIZE_STATIC (3) or SQ_OP_QUANTIZE_DYNAMIC (4)",
                d->op);
  if (d->max_m < 1 || d->max_m > kMaxDim)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->max_m is %lld: must be in 1..%lld", (long long)d->max_m,
                (long long)kMaxDim);
  if (d->k < 1) return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->k is %lld: must be >= 1", (long long)d->k);
  if (linear) {
    if (d->k > SQ_MAX_K)
      return fail(SQ_STATUS_INVALID_ARGUMENT,
                  "desc->k is %lld: larger than SQ_MAX_K (%d), past which the int32 accumulation could "
                  "overflow (128*128*K >= 2^31)",
                  (long long)d->k, SQ_MAX_K);
    if (d->n < 1 || d->n > kMaxDim)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->n is %lld: must be in 1..%lld", (long long)d->n,
                  (long long)kMaxDim);
    if (d->weight_dtype != SQ_DTYPE_S8)
      return fail(SQ_STATUS_NOT_SUPPORTED, "desc->weight_dtype is %s (%d): only S8 weights are supported",
                  dtype_name(d->weight_dtype), d->weight_dtype);
    if (!is_float(d->out_dtype))
      return fail(SQ_STATUS_NOT_SUPPORTED, "desc->out_dtype is %s (%d): expected F32, F64, F16 or BF16",
                  dtype_name(d->out_dtype), d->out_dtype);
    if (d->scale_dtype != d->out_dtype)
      return fail(SQ_STATUS_NOT_SUPPORTED,
                  "desc->scale_dtype (%s) must equal desc->out_dtype (%s): scales, scratch and output share T",
                  dtype_name(d->scale_dtype), dtype_name(d->out_dtype));
    if (d->op == SQ_OP_SMOOTHQUANT_LINEAR) {
      if (d->act_dtype != SQ_DTYPE_S8)
        return fail(SQ_STATUS_NOT_SUPPORTED,
                    "desc->act_dtype is %s (%d): SQ_OP_SMOOTHQUANT_LINEAR takes S8 activations",
                    dtype_name(d->act_dtype), d->act_dtype);
      if (!(std::isfinite(d->act_scale) && d->act_scale > 0.0))
        return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->act_scale is %g: must be finite and > 0", d->act_scale);
    } else {
      if (!is_float(d->act_dtype))
        return fail(SQ_STATUS_NOT_SUPPORTED,
                    "desc->act_dtype is %s (%d): SQ_OP_QUANTIZED_LINEAR takes F32, F64, F16 or BF16 input",
                    dtype_name(d->act_dtype), d->act_dtype);
    }
  } else {
    if (d->k > kMaxDim)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->k is %lld: must be <= %lld", (long long)d->k,
                  (long long)kMaxDim);
    if (d->n != 0)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->n is %lld: quantize ops have no N, set it to 0",
                  (long long)d->n);
    if (d->weight_dtype != SQ_DTYPE_INVALID)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->weight_dtype is %s: quantize ops take no weight, set 0",
                  dtype_name(d->weight_dtype));
    if (!is_float(d->act_dtype))
      return fail(SQ_STATUS_NOT_SUPPORTED, "desc->act_dtype is %s (%d): expected F32, F64, F16 or BF16",
                  dtype_name(d->act_dtype), d->act_dtype);
    if (d->out_dtype != SQ_DTYPE_S8)
      return fail(SQ_STATUS_NOT_SUPPORTED, "desc->out_dtype is %s (%d): quantize ops write S8",
                  dtype_name(d->out_dtype), d->out_dtype);
    const bool scale_optional = d->op == SQ_OP_QUANTIZE_STATIC;
    if (!is_float(d->scale_dtype) && !(scale_optional && d->scale_dtype == SQ_DTYPE_INVALID))
      return fail(SQ_STATUS_NOT_SUPPORTED, "desc->scale_dtype is %s (%d): expected F32, F64, F16 or BF16%s",
                  dtype_name(d->scale_dtype), d->scale_dtype, scale_optional ? " (or 0 without smooth)" : "");
    if (d->op == SQ_OP_QUANTIZE_STATIC && !(std::isfinite(d->act_scale) && d->act_scale > 0.0))
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->act_scale is %g: must be finite and > 0", d->act_scale);
  }
  if (d->op == SQ_OP_QUANTIZE_STATIC && d->act_dtype != SQ_DTYPE_F64) {
    const float c = static_cast<float>(d->act_scale);
    if (!(std::isfinite(c) && c > 0.0f))
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->act_scale is %g: rounds to %g in f32, the compute type",
                  d->act_scale, static_cast<double>(c));
  }
  return SQ_STATUS_SUCCESS;
}

namespace {

sq_status need(const void* p, const char* name) {
  if (p == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "args->%s is NULL", name);
  return SQ_STATUS_SUCCESS;
}

sq_status stride(int64_t given, int64_t row, const char* name, int64_t* out) {
  if (given == 0) {
    *out = row;
    return SQ_STATUS_SUCCESS;
  }
  if (given < row)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->%s is %lld: smaller than the row (%lld elements); 0 means packed",
                name, (long long)given, (long long)row);
  *out = given;
  return SQ_STATUS_SUCCESS;
}

sq_status elem_aligned(const void* p, sq_dtype d, const char* name) {
  const size_t a = dtype_size(d);
  if (p != nullptr && a > 1 && !aligned(p, a))
    return fail(SQ_STATUS_MISALIGNED, "args->%s (%p) is not aligned to its element size (%zu bytes, %s)", name, p, a,
                dtype_name(d));
  return SQ_STATUS_SUCCESS;
}

// Whether `rows` rows of stride `ld` stay addressable: the kernels index every [rows, ld] array in
// int64 elements of up to 8 bytes (issue 18: every such array is checked, ld_weight * n included).
sq_status span_ok(int64_t ld, int64_t rows, const char* ld_name, const char* rows_name) {
  constexpr int64_t kLimit = INT64_MAX / 8;
  if (rows >= 1 && ld > kLimit / rows)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->%s (%lld) times %s (%lld) overflows", ld_name, (long long)ld,
                rows_name, (long long)rows);
  return SQ_STATUS_SUCCESS;
}

}  // namespace

#define SQ_TRY(expr)                                   \
  do {                                                 \
    sq_status sq_try_status_ = (expr);                 \
    if (sq_try_status_ != SQ_STATUS_SUCCESS) return sq_try_status_; \
  } while (0)

sq_status validate_run_args(const sq_plan_st& plan, const sq_run_args* in, ResolvedArgs* r) {
  sq_run_args a;
  SQ_TRY(read_struct(in, sizeof(sq_run_args), sizeof(sq_run_args), &a, "args"));
  const sq_plan_desc& d = plan.desc;
  if (a.reserved != 0) return fail(SQ_STATUS_INVALID_ARGUMENT, "args->reserved must be 0 (got %u)", a.reserved);
  // The 0.2 arrays this build does not implement yet: refused, never silently ignored (act_sums, for
  // one, is an output of the quantizers that a caller would otherwise find unwritten).
  if (a.act_scale != nullptr || a.weight_zero_point != nullptr || a.weight_sums != nullptr ||
      a.act_zero_point != nullptr || a.act_sums != nullptr || a.absmax != nullptr || a.residual != nullptr ||
      a.ld_residual != 0 || a.residual_out != nullptr || a.ld_residual_out != 0 || a.norm_weight != nullptr)
    return fail(SQ_STATUS_NOT_SUPPORTED,
                "args: act_scale, weight_zero_point, weight_sums, act_zero_point, act_sums, absmax, residual, "
                "residual_out and norm_weight (and their strides) must be NULL/0: this build does not implement "
                "these 0.2 arguments yet");
  if (a.m < 1 || a.m > d.max_m)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->m is %lld: must be in 1..max_m (%lld)", (long long)a.m,
                (long long)d.max_m);
  r->m = a.m;
  const bool linear = d.op == SQ_OP_SMOOTHQUANT_LINEAR || d.op == SQ_OP_QUANTIZED_LINEAR;
  SQ_TRY(need(a.act, "act"));
  SQ_TRY(need(a.out, "out"));
  SQ_TRY(stride(a.ld_act, d.k, "ld_act", &r->ld_act));
  SQ_TRY(elem_aligned(a.act, d.act_dtype, "act"));
  if (linear) {
    SQ_TRY(need(a.weight, "weight"));
    SQ_TRY(need(a.weight_scale, "weight_scale"));
    SQ_TRY(need(a.act_scale_scratch, "act_scale_scratch"));
    SQ_TRY(stride(a.ld_weight, d.k, "ld_weight", &r->ld_weight));
    SQ_TRY(stride(a.ld_out, d.n, "ld_out", &r->ld_out));
    SQ_TRY(elem_aligned(a.weight_scale, d.scale_dtype, "weight_scale"));
    SQ_TRY(elem_aligned(a.bias, d.scale_dtype, "bias"));
    SQ_TRY(elem_aligned(a.act_scale_scratch, d.scale_dtype, "act_scale_scratch"));
    SQ_TRY(elem_aligned(a.out, d.out_dtype, "out"));
    if (d.op == SQ_OP_SMOOTHQUANT_LINEAR && a.smooth != nullptr)
      return fail(SQ_STATUS_INVALID_ARGUMENT,
                  "args->smooth is set, but SQ_OP_SMOOTHQUANT_LINEAR takes already smoothed int8 activations");
    if (d.op == SQ_OP_QUANTIZED_LINEAR) SQ_TRY(elem_aligned(a.smooth, d.scale_dtype, "smooth"));
  } else {
    r->ld_weight = 0;
    if (a.weight != nullptr || a.weight_scale != nullptr || a.bias != nullptr)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "args->weight/weight_scale/bias are set, but quantize ops take none");
    SQ_TRY(stride(a.ld_out, d.k, "ld_out", &r->ld_out));
    if (a.smooth != nullptr && d.scale_dtype == SQ_DTYPE_INVALID)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "args->smooth is set but desc->scale_dtype is 0 (its dtype is unknown)");
    SQ_TRY(elem_aligned(a.smooth, d.scale_dtype, "smooth"));
    if (d.op == SQ_OP_QUANTIZE_DYNAMIC) {
      SQ_TRY(need(a.act_scale_scratch, "act_scale_scratch"));
      SQ_TRY(elem_aligned(a.act_scale_scratch, d.scale_dtype, "act_scale_scratch"));
    }
  }
  // Row strides times rows must stay addressable: every [rows, ld] array.
  SQ_TRY(span_ok(r->ld_act, a.m, "ld_act", "m"));
  SQ_TRY(span_ok(r->ld_out, a.m, "ld_out", "m"));
  if (linear) SQ_TRY(span_ok(r->ld_weight, d.n, "ld_weight", "n"));
  r->aligned16 = false;
  // The fast paths' tensor maps (TMA) hold a row stride below 2^40 bytes; a larger one is valid where
  // it spans one row (m = 1 or n = 1) and takes the unaligned path (int64 address arithmetic).
  const int64_t kMaxTmaStride = int64_t{1} << 40;
  if (d.op == SQ_OP_SMOOTHQUANT_LINEAR) {
    r->aligned16 = d.k % 16 == 0 && r->ld_act % 16 == 0 && r->ld_weight % 16 == 0 &&
                   r->ld_act < kMaxTmaStride && r->ld_weight < kMaxTmaStride &&
                   aligned(a.act, kVectorAlign) && aligned(a.weight, kVectorAlign);
  } else if (d.op == SQ_OP_QUANTIZED_LINEAR) {
    // q lives in the workspace with a padded, 16-byte aligned row stride.
    r->aligned16 = d.k % 16 == 0 && r->ld_weight % 16 == 0 && r->ld_weight < kMaxTmaStride &&
                   aligned(a.weight, kVectorAlign);
  }
  return SQ_STATUS_SUCCESS;
}

sq_status validate_workspace(const sq_plan_st& plan, const void* workspace, size_t bytes) {
  if (plan.workspace_bytes == 0) return SQ_STATUS_SUCCESS;
  if (workspace == nullptr)
    return fail(SQ_STATUS_INSUFFICIENT_WORKSPACE, "workspace is NULL but the plan needs %zu bytes",
                plan.workspace_bytes);
  if (bytes < plan.workspace_bytes)
    return fail(SQ_STATUS_INSUFFICIENT_WORKSPACE, "workspace_bytes is %zu but the plan needs %zu", bytes,
                plan.workspace_bytes);
  if (!aligned(workspace, kVectorAlign))
    return fail(SQ_STATUS_MISALIGNED, "workspace (%p) must be 16-byte aligned", workspace);
  return SQ_STATUS_SUCCESS;
}

}  // namespace sq
