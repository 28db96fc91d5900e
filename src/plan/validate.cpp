// Validation of descriptors and run arguments (see validate.hpp). Every check names the bad value.
#include "plan/validate.hpp"

#include <climits>
#include <cmath>

#include "base/abi_structs.hpp"
#include "base/dtype.hpp"
#include "base/error.hpp"
#include "plan/plan.hpp"
#include "kernel_params.hpp"  // kOperandAlign*, kOutRowAlign

namespace sq {

namespace {

constexpr int64_t kMaxDim = INT32_MAX;  // kernels index rows/cols in int32
constexpr size_t kVectorAlign = 16;
constexpr uint32_t kKnownFlags = SQ_PLAN_WEIGHT_ZERO_POINT | SQ_PLAN_ACT_ZERO_POINT | SQ_PLAN_PER_TENSOR_ACT_SCALE;
// The accumulation bound of the contract: sum_k |a - za| * |w - zw| <= 2^31 - 1.
constexpr int64_t kAccumulatorMax = INT32_MAX;
// The operand ranges of the max_k formula: 128 for an S8 operand without zero points, else 255.
constexpr int32_t kSymmetricS8Range = 128;
constexpr int32_t kFullRange = 255;

constexpr uint32_t bit(RunField f) { return 1u << f; }

const char* op_name(sq_op op) {
  switch (op) {
    case SQ_OP_SMOOTHQUANT_LINEAR: return "SQ_OP_SMOOTHQUANT_LINEAR";
    case SQ_OP_QUANTIZED_LINEAR: return "SQ_OP_QUANTIZED_LINEAR";
    case SQ_OP_QUANTIZE_STATIC: return "SQ_OP_QUANTIZE_STATIC";
    case SQ_OP_QUANTIZE_DYNAMIC: return "SQ_OP_QUANTIZE_DYNAMIC";
    case SQ_OP_SCALED_LINEAR: return "SQ_OP_SCALED_LINEAR";
    case SQ_OP_RMSNORM_QUANTIZE: return "SQ_OP_RMSNORM_QUANTIZE";
    case SQ_OP_SILU_MUL_QUANTIZE: return "SQ_OP_SILU_MUL_QUANTIZE";
    case SQ_OP_SCALE_ACCUMULATORS: return "SQ_OP_SCALE_ACCUMULATORS";
    default: return "unknown op";
  }
}

const char* mode_name(sq_quant_mode m) {
  switch (m) {
    case SQ_QUANT_DEFAULT: return "SQ_QUANT_DEFAULT";
    case SQ_QUANT_STATIC: return "SQ_QUANT_STATIC";
    case SQ_QUANT_DYNAMIC: return "SQ_QUANT_DYNAMIC";
    case SQ_QUANT_DYNAMIC_ASYMMETRIC: return "SQ_QUANT_DYNAMIC_ASYMMETRIC";
    case SQ_QUANT_ABSMAX: return "SQ_QUANT_ABSMAX";
    case SQ_QUANT_FROM_ABSMAX: return "SQ_QUANT_FROM_ABSMAX";
    default: return "unknown";
  }
}

bool linear_op(sq_op op) {
  return op == SQ_OP_SMOOTHQUANT_LINEAR || op == SQ_OP_QUANTIZED_LINEAR || op == SQ_OP_SCALED_LINEAR;
}
bool fused_op(sq_op op) { return op == SQ_OP_RMSNORM_QUANTIZE || op == SQ_OP_SILU_MUL_QUANTIZE; }

// The quantizer's mode of a validated descriptor (the op's own for 0).
sq_quant_mode resolved_mode(const sq_plan_desc& d) {
  if (d.quant_mode != SQ_QUANT_DEFAULT) return d.quant_mode;
  return d.op == SQ_OP_QUANTIZE_STATIC ? SQ_QUANT_STATIC : SQ_QUANT_DYNAMIC;
}

// The q dtype of a validated descriptor's quantizer.
sq_dtype q_dtype(const sq_plan_desc& d) {
  if (d.op == SQ_OP_QUANTIZED_LINEAR) return d.quant_dtype == SQ_DTYPE_INVALID ? SQ_DTYPE_S8 : d.quant_dtype;
  return d.out_dtype;
}

int32_t int8_min(sq_dtype d) { return d == SQ_DTYPE_U8 ? 0 : -128; }
int32_t int8_max(sq_dtype d) { return d == SQ_DTYPE_U8 ? 255 : 127; }

// ------------------------------------------------------------------------- descriptor pieces
sq_status check_n(const sq_plan_desc& d) {
  if (d.n < 1 || d.n > kMaxDim)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->n is %lld: must be in 1..%lld", (long long)d.n,
                (long long)kMaxDim);
  return SQ_STATUS_SUCCESS;
}

sq_status check_no_n(const sq_plan_desc& d) {
  if (d.n != 0)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->n is %lld: %s has no N, set it to 0", (long long)d.n,
                d.op == SQ_OP_QUANTIZE_STATIC || d.op == SQ_OP_QUANTIZE_DYNAMIC ? "quantize ops" : op_name(d.op));
  if (d.weight_dtype != SQ_DTYPE_INVALID)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->weight_dtype is %s: %s takes no weight, set 0",
                dtype_name(d.weight_dtype),
                d.op == SQ_OP_QUANTIZE_STATIC || d.op == SQ_OP_QUANTIZE_DYNAMIC ? "quantize ops" : op_name(d.op));
  return SQ_STATUS_SUCCESS;
}

sq_status check_float_out_and_scale(const sq_plan_desc& d) {
  if (!is_float(d.out_dtype))
    return fail(SQ_STATUS_NOT_SUPPORTED, "desc->out_dtype is %s (%d): expected F32, F64, F16 or BF16%s",
                dtype_name(d.out_dtype), d.out_dtype,
                d.op == SQ_OP_SMOOTHQUANT_LINEAR ? " (or S32 with scale_dtype 0: accumulator only)" : "");
  if (d.scale_dtype != d.out_dtype)
    return fail(SQ_STATUS_NOT_SUPPORTED,
                "desc->scale_dtype (%s) must equal desc->out_dtype (%s): scales, scratch and output share T",
                dtype_name(d.scale_dtype), dtype_name(d.out_dtype));
  return SQ_STATUS_SUCCESS;
}

sq_status check_int8_operands(const sq_plan_desc& d) {
  if (!is_int8(d.act_dtype))
    return fail(SQ_STATUS_NOT_SUPPORTED, "desc->act_dtype is %s (%d): %s takes S8 or U8 activations",
                dtype_name(d.act_dtype), d.act_dtype, op_name(d.op));
  return SQ_STATUS_SUCCESS;
}

sq_status check_weight(const sq_plan_desc& d) {
  if (!is_int8(d.weight_dtype))
    return fail(SQ_STATUS_NOT_SUPPORTED, "desc->weight_dtype is %s (%d): expected S8 or U8",
                dtype_name(d.weight_dtype), d.weight_dtype);
  return SQ_STATUS_SUCCESS;
}

sq_status check_float_input(const sq_plan_desc& d, bool f64_allowed) {
  const bool ok = is_float(d.act_dtype) && (f64_allowed || d.act_dtype != SQ_DTYPE_F64);
  if (!ok)
    return fail(SQ_STATUS_NOT_SUPPORTED, "desc->act_dtype is %s (%d): %s takes %s input", dtype_name(d.act_dtype),
                d.act_dtype, op_name(d.op), f64_allowed ? "F32, F64, F16 or BF16" : "F16, BF16 or F32 (math in f32)");
  return SQ_STATUS_SUCCESS;
}

sq_status check_act_scale(double s, bool f32_compute) {
  if (!(std::isfinite(s) && s > 0.0))
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->act_scale is %g: must be finite and > 0", s);
  if (f32_compute) {
    const float c = static_cast<float>(s);
    if (!(std::isfinite(c) && c > 0.0f))
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->act_scale is %g: rounds to %g in f32, the compute type", s,
                  static_cast<double>(c));
  }
  return SQ_STATUS_SUCCESS;
}

sq_status check_zero_point_range(const sq_plan_desc& d, sq_dtype of, const char* whose) {
  if (d.act_zero_point < int8_min(of) || d.act_zero_point > int8_max(of))
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->act_zero_point is %d: outside the range of %s %s [%d, %d]",
                d.act_zero_point, whose, dtype_name(of), int8_min(of), int8_max(of));
  return SQ_STATUS_SUCCESS;
}

sq_status check_no_zero_point(const sq_plan_desc& d, const char* why) {
  if (d.act_zero_point != 0)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->act_zero_point is %d: %s takes no static zero point (%s); set 0",
                d.act_zero_point, op_name(d.op), why);
  return SQ_STATUS_SUCCESS;
}

sq_status check_flags(const sq_plan_desc& d, uint32_t allowed) {
  const uint32_t extra = d.flags & ~allowed;
  if (extra != 0)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->flags is 0x%x: %s does not take flag(s) 0x%x (it takes 0x%x: WEIGHT_ZERO_POINT 0x1 on the "
                "linears, ACT_ZERO_POINT 0x2 on SCALED_LINEAR, PER_TENSOR_ACT_SCALE 0x4 on SCALED_LINEAR and "
                "SCALE_ACCUMULATORS)",
                d.flags, op_name(d.op), extra, allowed);
  return SQ_STATUS_SUCCESS;
}

sq_status check_no_mode(const sq_plan_desc& d) {
  if (d.quant_mode != SQ_QUANT_DEFAULT)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->quant_mode is %s (%d): %s has no quantizer; set 0",
                mode_name(d.quant_mode), d.quant_mode, op_name(d.op));
  return SQ_STATUS_SUCCESS;
}

sq_status check_no_quant_dtype(const sq_plan_desc& d) {
  if (d.quant_dtype != SQ_DTYPE_INVALID)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->quant_dtype is %s (%d): only SQ_OP_QUANTIZED_LINEAR reads it (%s); set 0",
                dtype_name(d.quant_dtype), d.quant_dtype,
                linear_op(d.op) || d.op == SQ_OP_SCALE_ACCUMULATORS ? "this op quantizes nothing"
                                                                    : "the quantize and fused ops write out_dtype");
  return SQ_STATUS_SUCCESS;
}

sq_status check_no_eps(const sq_plan_desc& d) {
  if (d.eps != 0.0)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->eps is %g: only SQ_OP_RMSNORM_QUANTIZE takes eps; set 0", d.eps);
  return SQ_STATUS_SUCCESS;
}

// Where a linear's max_k comes from: the operand ranges of the contract's formula and why.
struct KLimit {
  int32_t a, w;  // 128 or 255
  const char* a_why;
  const char* w_why;
};

KLimit k_limit(const sq_plan_desc& d) {
  KLimit l{kSymmetricS8Range, kSymmetricS8Range, "S8 activations without a zero point", "S8 weight without zero points"};
  switch (d.op) {
    case SQ_OP_SMOOTHQUANT_LINEAR:
      if (d.act_dtype != SQ_DTYPE_S8) l = {kFullRange, l.w, "U8 activations", l.w_why};
      else if (d.act_zero_point != 0) l = {kFullRange, l.w, "S8 activations with desc->act_zero_point", l.w_why};
      break;
    case SQ_OP_QUANTIZED_LINEAR:
      if (resolved_mode(d) == SQ_QUANT_DYNAMIC_ASYMMETRIC || q_dtype(d) != SQ_DTYPE_S8)
        l = {kFullRange, l.w, "asymmetric per-token q with zero points", l.w_why};
      else
        l.a_why = "symmetric S8 q";
      break;
    default:
      if (d.act_dtype != SQ_DTYPE_S8) l = {kFullRange, l.w, "U8 activations", l.w_why};
      else if ((d.flags & SQ_PLAN_ACT_ZERO_POINT) != 0) l = {kFullRange, l.w, "SQ_PLAN_ACT_ZERO_POINT", l.w_why};
      break;
  }
  if (d.weight_dtype != SQ_DTYPE_S8) {
    l.w = kFullRange;
    l.w_why = "U8 weight";
  } else if ((d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) != 0) {
    l.w = kFullRange;
    l.w_why = "SQ_PLAN_WEIGHT_ZERO_POINT";
  }
  return l;
}

// K of a linear against the plan's max_k; the message says the limit and where it comes from.
sq_status check_linear_k(const sq_plan_desc& d) {
  if (d.k < 1) return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->k is %lld: must be >= 1", (long long)d.k);
  const int64_t max_k = plan_max_k(d);
  if (d.k <= max_k) return SQ_STATUS_SUCCESS;
  if (max_k == SQ_MAX_K)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->k is %lld: larger than SQ_MAX_K (%d), past which the int32 accumulation could "
                "overflow (128*128*K >= 2^31)",
                (long long)d.k, SQ_MAX_K);
  const KLimit l = k_limit(d);
  return fail(SQ_STATUS_INVALID_ARGUMENT,
              "desc->k is %lld: larger than this plan's max_k %lld = floor((2^31-1) / (%d * %d)), past which the "
              "int32 accumulation could overflow (activation differences up to %d: %s; weight differences up to "
              "%d: %s)",
              (long long)d.k, (long long)max_k, l.a, l.w, l.a, l.a_why, l.w, l.w_why);
}

// -------------------------------------------------------------------------------- per op
sq_status check_smoothquant_linear(const sq_plan_desc& d) {
  SQ_TRY(check_int8_operands(d));
  SQ_TRY(check_weight(d));
  SQ_TRY(check_n(d));
  if (d.out_dtype == SQ_DTYPE_S32) {
    if (d.scale_dtype != SQ_DTYPE_INVALID)
      return fail(SQ_STATUS_NOT_SUPPORTED,
                  "desc->scale_dtype is %s (%d) but out_dtype is S32 (accumulator only), which applies no "
                  "scales: set scale_dtype to 0",
                  dtype_name(d.scale_dtype), d.scale_dtype);
  } else {
    SQ_TRY(check_float_out_and_scale(d));
    SQ_TRY(check_act_scale(d.act_scale, false));
  }
  SQ_TRY(check_zero_point_range(d, d.act_dtype, "act_dtype"));
  SQ_TRY(check_no_mode(d));
  SQ_TRY(check_no_quant_dtype(d));
  SQ_TRY(check_flags(d, SQ_PLAN_WEIGHT_ZERO_POINT));
  SQ_TRY(check_no_eps(d));
  return check_linear_k(d);
}

sq_status check_quantized_linear(const sq_plan_desc& d) {
  SQ_TRY(check_float_input(d, true));
  SQ_TRY(check_weight(d));
  SQ_TRY(check_n(d));
  SQ_TRY(check_float_out_and_scale(d));
  const sq_quant_mode mode = resolved_mode(d);
  if (mode != SQ_QUANT_DYNAMIC && mode != SQ_QUANT_DYNAMIC_ASYMMETRIC)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->quant_mode is %s (%d): SQ_OP_QUANTIZED_LINEAR quantizes per token: SQ_QUANT_DYNAMIC "
                "(default) or SQ_QUANT_DYNAMIC_ASYMMETRIC",
                mode_name(d.quant_mode), d.quant_mode);
  if (d.quant_dtype != SQ_DTYPE_INVALID && !is_int8(d.quant_dtype))
    return fail(SQ_STATUS_NOT_SUPPORTED, "desc->quant_dtype is %s (%d): expected 0 (S8), S8 or U8",
                dtype_name(d.quant_dtype), d.quant_dtype);
  if (d.quant_dtype == SQ_DTYPE_U8 && mode != SQ_QUANT_DYNAMIC_ASYMMETRIC)
    return fail(SQ_STATUS_NOT_SUPPORTED,
                "desc->quant_dtype is U8: the symmetric quantizer (SQ_QUANT_DYNAMIC) writes S8; U8 needs "
                "SQ_QUANT_DYNAMIC_ASYMMETRIC");
  SQ_TRY(check_no_zero_point(d, "its quantizer finds per-token zero points with SQ_QUANT_DYNAMIC_ASYMMETRIC"));
  SQ_TRY(check_flags(d, SQ_PLAN_WEIGHT_ZERO_POINT));
  SQ_TRY(check_no_eps(d));
  return check_linear_k(d);
}

sq_status check_scaled_linear(const sq_plan_desc& d) {
  SQ_TRY(check_int8_operands(d));
  SQ_TRY(check_weight(d));
  SQ_TRY(check_n(d));
  SQ_TRY(check_float_out_and_scale(d));
  if (d.act_scale != 0.0)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->act_scale is %g: SQ_OP_SCALED_LINEAR takes its activation scales from args->act_scale; set 0",
                d.act_scale);
  SQ_TRY(check_no_zero_point(d, "per-token zero points come in args->act_zero_point with SQ_PLAN_ACT_ZERO_POINT"));
  SQ_TRY(check_no_mode(d));
  SQ_TRY(check_no_quant_dtype(d));
  SQ_TRY(check_flags(d, kKnownFlags));
  SQ_TRY(check_no_eps(d));
  return check_linear_k(d);
}

sq_status check_scale_accumulators(const sq_plan_desc& d) {
  if (d.act_dtype != SQ_DTYPE_S32)
    return fail(SQ_STATUS_NOT_SUPPORTED,
                "desc->act_dtype is %s (%d): SQ_OP_SCALE_ACCUMULATORS takes S32 accumulators", dtype_name(d.act_dtype),
                d.act_dtype);
  if (d.weight_dtype != SQ_DTYPE_INVALID)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->weight_dtype is %s: SQ_OP_SCALE_ACCUMULATORS takes no weight, set 0",
                dtype_name(d.weight_dtype));
  SQ_TRY(check_n(d));
  if (d.k != 0)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->k is %lld: SQ_OP_SCALE_ACCUMULATORS has no K (its input is [M, N] accumulators); set 0",
                (long long)d.k);
  SQ_TRY(check_float_out_and_scale(d));
  if (d.act_scale != 0.0)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->act_scale is %g: SQ_OP_SCALE_ACCUMULATORS takes its row scales from args->act_scale; set 0",
                d.act_scale);
  SQ_TRY(check_no_zero_point(d, "its accumulators are already exact sums"));
  SQ_TRY(check_no_mode(d));
  SQ_TRY(check_no_quant_dtype(d));
  SQ_TRY(check_flags(d, SQ_PLAN_PER_TENSOR_ACT_SCALE));
  return check_no_eps(d);
}

// The quantizers: QUANTIZE_STATIC, QUANTIZE_DYNAMIC, RMSNORM_QUANTIZE, SILU_MUL_QUANTIZE.
sq_status check_quantizer(const sq_plan_desc& d) {
  const bool fused = fused_op(d.op);
  SQ_TRY(check_float_input(d, !fused));
  SQ_TRY(check_no_n(d));
  const int64_t max_k = d.op == SQ_OP_SILU_MUL_QUANTIZE ? kMaxDim / 2 : kMaxDim;  // SiLU-mul rows hold 2K
  if (d.k < 1 || d.k > max_k)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->k is %lld: must be in 1..%lld%s", (long long)d.k,
                (long long)max_k, d.op == SQ_OP_SILU_MUL_QUANTIZE ? " (x rows hold 2K elements)" : "");
  if (!is_int8(d.out_dtype))
    return fail(SQ_STATUS_NOT_SUPPORTED, "desc->out_dtype is %s (%d): quantize ops write S8 or U8",
                dtype_name(d.out_dtype), d.out_dtype);
  const bool scale_optional = d.op == SQ_OP_QUANTIZE_STATIC;
  if (!is_float(d.scale_dtype) && !(scale_optional && d.scale_dtype == SQ_DTYPE_INVALID))
    return fail(SQ_STATUS_NOT_SUPPORTED, "desc->scale_dtype is %s (%d): expected F32, F64, F16 or BF16%s",
                dtype_name(d.scale_dtype), d.scale_dtype, scale_optional ? " (or 0 without smooth)" : "");
  // Which modes the op takes.
  const sq_quant_mode mode = resolved_mode(d);
  bool mode_ok;
  const char* modes;
  if (d.op == SQ_OP_QUANTIZE_STATIC) {
    mode_ok = mode == SQ_QUANT_STATIC;
    modes = "SQ_QUANT_STATIC (or 0); the per-token modes are SQ_OP_QUANTIZE_DYNAMIC's";
  } else if (d.op == SQ_OP_QUANTIZE_DYNAMIC) {
    mode_ok = mode != SQ_QUANT_STATIC;
    modes = "SQ_QUANT_DYNAMIC (or 0), DYNAMIC_ASYMMETRIC, ABSMAX or FROM_ABSMAX; SQ_QUANT_STATIC is "
            "SQ_OP_QUANTIZE_STATIC's";
  } else {
    mode_ok = true;
    modes = "";
  }
  if (!mode_ok)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->quant_mode is %s (%d): %s takes %s", mode_name(d.quant_mode),
                d.quant_mode, op_name(d.op), modes);
  // Q: U8 only where the quantizer has a zero point.
  if (d.out_dtype == SQ_DTYPE_U8 && mode != SQ_QUANT_STATIC && mode != SQ_QUANT_DYNAMIC_ASYMMETRIC)
    return fail(SQ_STATUS_NOT_SUPPORTED,
                "desc->out_dtype is U8 but quant_mode %s writes symmetric S8 q; U8 needs SQ_QUANT_STATIC or "
                "SQ_QUANT_DYNAMIC_ASYMMETRIC",
                mode_name(mode));
  if (mode == SQ_QUANT_STATIC) {
    SQ_TRY(check_act_scale(d.act_scale, d.act_dtype != SQ_DTYPE_F64));
    SQ_TRY(check_zero_point_range(d, d.out_dtype, "out_dtype"));
  } else {
    SQ_TRY(check_no_zero_point(d, "only SQ_QUANT_STATIC takes one"));
  }
  SQ_TRY(check_no_quant_dtype(d));
  SQ_TRY(check_flags(d, 0));
  if (d.op == SQ_OP_RMSNORM_QUANTIZE) {
    if (!(std::isfinite(d.eps) && d.eps > 0.0))
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->eps is %g: must be finite and > 0", d.eps);
    const float e = static_cast<float>(d.eps);
    if (!(std::isfinite(e) && e > 0.0f))
      return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->eps is %g: rounds to %g in f32, the compute type; must be > 0",
                  d.eps, static_cast<double>(e));
    return SQ_STATUS_SUCCESS;
  }
  return check_no_eps(d);
}

}  // namespace

const char* run_field_name(RunField f) {
  static constexpr const char* kNames[kRunFieldCount] = {
      "act",          "weight",         "weight_scale", "bias",
      "smooth",       "act_scale_scratch", "out",       "act_scale",
      "weight_zero_point", "weight_sums", "act_zero_point", "act_sums",
      "absmax",       "residual",       "residual_out", "norm_weight"};
  return f < kRunFieldCount ? kNames[f] : "?";
}

int64_t plan_max_k(const sq_plan_desc& d) {
  if (!linear_op(d.op)) return 0;
  const KLimit l = k_limit(d);
  const int64_t k = kAccumulatorMax / (static_cast<int64_t>(l.a) * l.w);
  return k < SQ_MAX_K ? k : SQ_MAX_K;
}

sq_status validate_desc(const sq_plan_desc* in, sq_plan_desc* d) {
  sq_status st = read_grown_struct(in, SQ_PLAN_DESC_SIZE_0_1, sizeof(sq_plan_desc), d, "desc");
  if (st != SQ_STATUS_SUCCESS) return st;
  d->struct_size = sizeof(sq_plan_desc);
  if (d->reserved != 0) return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->reserved must be 0 (got %u)", d->reserved);
  if (d->op < SQ_OP_SMOOTHQUANT_LINEAR || d->op > SQ_OP_SCALE_ACCUMULATORS)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->op is %d: expected SQ_OP_SMOOTHQUANT_LINEAR (1), SQ_OP_QUANTIZED_LINEAR (2), "
                "SQ_OP_QUANTIZE_STATIC (3), SQ_OP_QUANTIZE_DYNAMIC (4), SQ_OP_SCALED_LINEAR (5), "
                "SQ_OP_RMSNORM_QUANTIZE (6), SQ_OP_SILU_MUL_QUANTIZE (7) or SQ_OP_SCALE_ACCUMULATORS (8)",
                d->op);
  if (d->max_m < 1 || d->max_m > kMaxDim)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "desc->max_m is %lld: must be in 1..%lld", (long long)d->max_m,
                (long long)kMaxDim);
  if ((d->flags & ~kKnownFlags) != 0)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->flags is 0x%x: unknown bit(s) 0x%x (known: SQ_PLAN_WEIGHT_ZERO_POINT 0x1, "
                "SQ_PLAN_ACT_ZERO_POINT 0x2, SQ_PLAN_PER_TENSOR_ACT_SCALE 0x4)",
                d->flags, d->flags & ~kKnownFlags);
  if (d->quant_mode < SQ_QUANT_DEFAULT || d->quant_mode > SQ_QUANT_FROM_ABSMAX)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "desc->quant_mode is %d: not an SQ_QUANT_* value (0 DEFAULT, 1 STATIC, 2 DYNAMIC, "
                "3 DYNAMIC_ASYMMETRIC, 4 ABSMAX, 5 FROM_ABSMAX)",
                d->quant_mode);
  switch (d->op) {
    case SQ_OP_SMOOTHQUANT_LINEAR: return check_smoothquant_linear(*d);
    case SQ_OP_QUANTIZED_LINEAR: return check_quantized_linear(*d);
    case SQ_OP_SCALED_LINEAR: return check_scaled_linear(*d);
    case SQ_OP_SCALE_ACCUMULATORS: return check_scale_accumulators(*d);
    default: return check_quantizer(*d);
  }
}

RunRules run_rules(const sq_plan_desc& d) {
  RunRules r{};
  const sq_quant_mode mode = resolved_mode(d);
  const size_t t = dtype_size(d.scale_dtype);  // T or S (0 where none)
  uint32_t req = bit(kFieldAct), opt = 0;
  r.act_row = d.k;
  r.out_row = d.k;
  // Element sizes as alignments (1: none; a dtype of 0 size only belongs to a field the plan refuses).
  auto al = [](size_t bytes) { return static_cast<uint8_t>(bytes > 1 ? bytes : 1); };
  for (uint8_t& a : r.align) a = 1;
  r.align[kFieldAct] = al(dtype_size(d.act_dtype));
  r.align[kFieldOut] = al(dtype_size(d.out_dtype));
  r.align[kFieldWeightScale] = r.align[kFieldBias] = r.align[kFieldActScale] = al(t);
  r.align[kFieldSmooth] = r.align[kFieldActScaleScratch] = al(t);
  r.align[kFieldWeightSums] = r.align[kFieldActSums] = al(sizeof(int32_t));
  r.align[kFieldAbsmax] = al(d.act_dtype == SQ_DTYPE_F64 ? sizeof(double) : sizeof(float));
  r.align[kFieldResidual] = r.align[kFieldResidualOut] = r.align[kFieldNormWeight] = al(dtype_size(d.act_dtype));
  const uint32_t weight_zp = (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) ? bit(kFieldWeightZeroPoint) : 0;
  switch (d.op) {
    case SQ_OP_SMOOTHQUANT_LINEAR:
      r.out_row = d.n;
      req |= bit(kFieldWeight) | bit(kFieldOut);
      if (d.out_dtype != SQ_DTYPE_S32) {
        req |= bit(kFieldWeightScale) | bit(kFieldActScaleScratch);
        opt |= bit(kFieldBias);
      }
      opt |= weight_zp | bit(kFieldWeightSums) | bit(kFieldActSums);
      if (d.act_zero_point != 0) req |= bit(kFieldWeightSums);
      break;
    case SQ_OP_QUANTIZED_LINEAR:
      r.out_row = d.n;
      req |= bit(kFieldWeight) | bit(kFieldWeightScale) | bit(kFieldActScaleScratch) | bit(kFieldOut);
      opt |= bit(kFieldBias) | bit(kFieldSmooth) | weight_zp | bit(kFieldWeightSums);
      if (mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) req |= bit(kFieldWeightSums);
      break;
    case SQ_OP_SCALED_LINEAR:
      r.out_row = d.n;
      req |= bit(kFieldActScale) | bit(kFieldWeight) | bit(kFieldWeightScale) | bit(kFieldOut);
      opt |= bit(kFieldBias) | weight_zp | bit(kFieldWeightSums) | bit(kFieldActSums);
      if (d.flags & SQ_PLAN_ACT_ZERO_POINT) {
        opt |= bit(kFieldActZeroPoint);
        r.weight_sums_with_act_zp = true;
      }
      break;
    case SQ_OP_SCALE_ACCUMULATORS:
      r.act_row = d.n;
      r.out_row = d.n;
      req |= bit(kFieldActScale) | bit(kFieldWeightScale) | bit(kFieldOut);
      opt |= bit(kFieldBias);
      break;
    default: {  // the quantizers
      if (d.op == SQ_OP_SILU_MUL_QUANTIZE) r.act_row = 2 * d.k;
      if (d.op == SQ_OP_RMSNORM_QUANTIZE) {
        req |= bit(kFieldNormWeight);
        opt |= bit(kFieldResidual) | bit(kFieldResidualOut);
      }
      if (d.op != SQ_OP_QUANTIZE_STATIC || d.scale_dtype != SQ_DTYPE_INVALID) opt |= bit(kFieldSmooth);
      switch (mode) {
        case SQ_QUANT_STATIC:
          req |= bit(kFieldOut);
          // 0.1's QUANTIZE_STATIC ignored act_scale_scratch: still accepted there, unread and unchecked.
          if (d.op == SQ_OP_QUANTIZE_STATIC) {
            opt |= bit(kFieldActScaleScratch);
            r.align[kFieldActScaleScratch] = 1;
          }
          break;
        case SQ_QUANT_DYNAMIC_ASYMMETRIC:
          req |= bit(kFieldOut) | bit(kFieldActScaleScratch) | bit(kFieldActZeroPoint);
          break;
        case SQ_QUANT_ABSMAX: req |= bit(kFieldAbsmax); break;
        case SQ_QUANT_FROM_ABSMAX: req |= bit(kFieldOut) | bit(kFieldActScaleScratch) | bit(kFieldAbsmax); break;
        default: req |= bit(kFieldOut) | bit(kFieldActScaleScratch); break;
      }
      if (mode != SQ_QUANT_ABSMAX) opt |= bit(kFieldActSums);
      break;
    }
  }
  r.required = req;
  r.allowed = req | opt;
  r.requires_since02 = (req >> kFirstFieldSince02) != 0;
  return r;
}

namespace {

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

// Whether `rows` rows of stride `ld` stay addressable: the kernels index every [rows, ld] array in
// int64 elements of up to 8 bytes (issue 18: every such array is checked).
// A row stride a tensor map can hold (the Hopper fast paths): below 2^40 bytes. Larger strides are valid
// where they span one row (m = 1 or n = 1) and take the unaligned path.
constexpr int64_t kMaxTmaStride = int64_t{1} << 40;

sq_status span_ok(int64_t ld, int64_t rows, const char* ld_name, const char* rows_name) {
  constexpr int64_t kLimit = INT64_MAX / 8;
  int64_t elements;  // ld * rows <= kLimit, i.e. ld <= kLimit / rows, without a division per run
  if (rows >= 1 && (__builtin_mul_overflow(ld, rows, &elements) || elements > kLimit))
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->%s (%lld) times %s (%lld) overflows", ld_name, (long long)ld,
                rows_name, (long long)rows);
  return SQ_STATUS_SUCCESS;
}

// The message of a required field that is NULL (the start always "args-><field> is NULL").
sq_status missing(const sq_plan_st& plan, RunField f) {
  const sq_plan_desc& d = plan.desc;
  const sq_quant_mode mode = resolved_mode(d);
  switch (f) {
    case kFieldWeightSums:
      return fail(SQ_STATUS_INVALID_ARGUMENT,
                  "args->weight_sums is NULL: %s with activation zero points needs the weight's column sums "
                  "(computed once per weight by sq_weight_sums)",
                  op_name(d.op));
    case kFieldActZeroPoint:
      return fail(SQ_STATUS_INVALID_ARGUMENT,
                  "args->act_zero_point is NULL: SQ_QUANT_DYNAMIC_ASYMMETRIC writes the per-token zero points "
                  "there ([M] of %s)",
                  dtype_name(d.out_dtype));
    case kFieldAbsmax:
      return fail(SQ_STATUS_INVALID_ARGUMENT, "args->absmax is NULL: %s %s the per-token abs-max there ([M] of %s)",
                  mode_name(mode), mode == SQ_QUANT_ABSMAX ? "writes" : "reads",
                  d.act_dtype == SQ_DTYPE_F64 ? "F64" : "F32");
    case kFieldActScale:
      return fail(SQ_STATUS_INVALID_ARGUMENT,
                  "args->act_scale is NULL: %s reads the activation scales there (%s of %s)", op_name(d.op),
                  (d.flags & SQ_PLAN_PER_TENSOR_ACT_SCALE) ? "[1]" : "[M]", dtype_name(d.scale_dtype));
    case kFieldNormWeight:
      return fail(SQ_STATUS_INVALID_ARGUMENT, "args->norm_weight is NULL: SQ_OP_RMSNORM_QUANTIZE needs gamma [K] of %s",
                  dtype_name(d.act_dtype));
    default: return fail(SQ_STATUS_INVALID_ARGUMENT, "args->%s is NULL", run_field_name(f));
  }
}

// The message of a field the plan does not take (the start always "args-><field> is set").
sq_status forbidden(const sq_plan_st& plan, RunField f, const void* p) {
  const sq_plan_desc& d = plan.desc;
  const sq_quant_mode mode = resolved_mode(d);
  const char* name = run_field_name(f);
  const bool quantize01 = d.op == SQ_OP_QUANTIZE_STATIC || d.op == SQ_OP_QUANTIZE_DYNAMIC;
  if (f == kFieldWeightZeroPoint && linear_op(d.op))
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->weight_zero_point is set (%p), but the plan was selected without SQ_PLAN_WEIGHT_ZERO_POINT "
                "in desc->flags (the flag lowers its max_k); select with it",
                p);
  if (f == kFieldActZeroPoint && d.op == SQ_OP_SCALED_LINEAR)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->act_zero_point is set (%p), but the plan was selected without SQ_PLAN_ACT_ZERO_POINT in "
                "desc->flags (the flag lowers its max_k); select with it",
                p);
  if (f == kFieldSmooth && d.op == SQ_OP_SMOOTHQUANT_LINEAR)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->smooth is set, but SQ_OP_SMOOTHQUANT_LINEAR takes already smoothed int8 activations");
  if (f == kFieldSmooth && d.scale_dtype == SQ_DTYPE_INVALID)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->smooth is set but desc->scale_dtype is 0 (its dtype is unknown)");
  if (quantize01 && (f == kFieldWeight || f == kFieldWeightScale || f == kFieldBias))
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->%s is set, but quantize ops take no weight, weight_scale or bias",
                name);
  if (d.op == SQ_OP_SMOOTHQUANT_LINEAR && d.out_dtype == SQ_DTYPE_S32 &&
      (f == kFieldWeightScale || f == kFieldBias || f == kFieldActScaleScratch))
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->%s is set (%p), but an accumulator-only plan (out_dtype S32) applies no scales and no bias "
                "and writes no act_scale_scratch; set it to NULL",
                name, p);
  if (mode == SQ_QUANT_ABSMAX && !linear_op(d.op) && (f == kFieldOut || f == kFieldActScaleScratch || f == kFieldActSums))
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->%s is set (%p), but SQ_QUANT_ABSMAX writes only args->absmax (out, act_scale_scratch and "
                "act_sums must be NULL)",
                name, p);
  if (f == kFieldActSums && d.op == SQ_OP_QUANTIZED_LINEAR)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->act_sums is set (%p), but SQ_OP_QUANTIZED_LINEAR keeps its quantizer's row sums in the "
                "workspace; set it to NULL",
                p);
  if (f == kFieldActZeroPoint && d.op == SQ_OP_QUANTIZED_LINEAR)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->act_zero_point is set (%p), but SQ_OP_QUANTIZED_LINEAR keeps its quantizer's zero points in "
                "the workspace; set it to NULL",
                p);
  if (f == kFieldActZeroPoint)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->act_zero_point is set (%p), but %s with quant_mode %s has no per-token zero points (only "
                "SCALED_LINEAR with SQ_PLAN_ACT_ZERO_POINT reads them, only SQ_QUANT_DYNAMIC_ASYMMETRIC writes them)",
                p, op_name(d.op), linear_op(d.op) || d.op == SQ_OP_SCALE_ACCUMULATORS ? "-" : mode_name(mode));
  if (f == kFieldActScaleScratch && (d.op == SQ_OP_SCALED_LINEAR || d.op == SQ_OP_SCALE_ACCUMULATORS))
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->act_scale_scratch is set (%p), but %s reads its scales from args->act_scale and writes no "
                "scratch; set it to NULL",
                p, op_name(d.op));
  if (f == kFieldActScaleScratch && mode == SQ_QUANT_STATIC)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->act_scale_scratch is set (%p), but the static quantizer writes no scales; set it to NULL", p);
  if (f == kFieldAbsmax)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->absmax is set (%p), but only SQ_QUANT_ABSMAX and SQ_QUANT_FROM_ABSMAX use it (this plan: %s%s%s)",
                p, op_name(d.op), linear_op(d.op) || d.op == SQ_OP_SCALE_ACCUMULATORS ? "" : ", ",
                linear_op(d.op) || d.op == SQ_OP_SCALE_ACCUMULATORS ? "" : mode_name(mode));
  return fail(SQ_STATUS_INVALID_ARGUMENT, "args->%s is set (%p), but %s does not take it; set it to NULL", name, p,
              op_name(d.op));
}

// [lo, hi) in bytes of `rows` rows of `cols` elements of `esize` bytes, `ld` apart (spans checked first, so
// the byte count fits); hi saturates at the top of the address space.
struct ByteRange {
  uintptr_t lo, hi;
};
ByteRange byte_range(const void* p, int64_t rows, int64_t ld, int64_t cols, size_t esize) {
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  const uint64_t bytes = (static_cast<uint64_t>(rows - 1) * static_cast<uint64_t>(ld) + static_cast<uint64_t>(cols)) *
                         static_cast<uint64_t>(esize);
  const uintptr_t hi = lo > UINTPTR_MAX - bytes ? UINTPTR_MAX : lo + static_cast<uintptr_t>(bytes);
  return {lo, hi};
}
bool overlap(const ByteRange& a, const ByteRange& b) { return a.lo < b.hi && b.lo < a.hi; }

// RMSNORM_QUANTIZE's aliasing rules: residual_out may be exactly residual or exactly x (same pointer and
// leading dimension); any other overlap of residual_out with another array, or a partial overlap of
// residual and x, is refused.
sq_status check_rmsnorm_aliasing(const sq_plan_st& plan, const RunRequest& r) {
  const sq_run_args& a = r.args;
  const sq_plan_desc& d = plan.desc;
  const int64_t m = r.m, k = d.k;
  const size_t xs = dtype_size(d.act_dtype);
  const ByteRange x = byte_range(a.act, m, r.ld_act, k, xs);
  if (a.residual != nullptr) {
    const ByteRange res = byte_range(a.residual, m, r.ld_residual, k, xs);
    const bool exact = a.residual == a.act && r.ld_residual == r.ld_act;
    if (!exact && overlap(res, x))
      return fail(SQ_STATUS_INVALID_ARGUMENT,
                  "args->residual (%p, ld_residual %lld) overlaps args->act (%p, ld_act %lld) partially; they may "
                  "only be the same array (same pointer and leading dimension) or disjoint",
                  a.residual, (long long)r.ld_residual, a.act, (long long)r.ld_act);
  }
  if (a.residual_out == nullptr) return SQ_STATUS_SUCCESS;
  const ByteRange out = byte_range(a.residual_out, m, r.ld_residual_out, k, xs);
  const size_t ss = dtype_size(d.scale_dtype);
  const size_t cs = d.act_dtype == SQ_DTYPE_F64 ? sizeof(double) : sizeof(float);
  struct Other {
    const void* p;
    ByteRange range;
    const char* name;
    bool exact;  // the same array as residual_out: allowed
  };
  const Other others[] = {
      {a.act, x, "act", a.residual_out == a.act && r.ld_residual_out == r.ld_act},
      {a.residual, byte_range(a.residual, m, r.ld_residual, k, xs), "residual",
       a.residual_out == a.residual && r.ld_residual_out == r.ld_residual},
      {a.norm_weight, byte_range(a.norm_weight, 1, k, k, xs), "norm_weight", false},
      {a.smooth, byte_range(a.smooth, 1, k, k, ss), "smooth", false},
      {a.out, byte_range(a.out, m, r.ld_out, k, 1), "out", false},
      {a.act_scale_scratch, byte_range(a.act_scale_scratch, 1, m, m, ss), "act_scale_scratch", false},
      {a.act_zero_point, byte_range(a.act_zero_point, 1, m, m, 1), "act_zero_point", false},
      {a.act_sums, byte_range(a.act_sums, 1, m, m, sizeof(int32_t)), "act_sums", false},
      {a.absmax, byte_range(a.absmax, 1, m, m, cs), "absmax", false},
  };
  for (const Other& o : others) {
    if (o.p == nullptr || o.exact || !overlap(out, o.range)) continue;
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->residual_out (%p, ld_residual_out %lld) overlaps args->%s (%p)%s; it may only be exactly "
                "residual or exactly act (same pointer and leading dimension: in place) or disjoint from every array",
                a.residual_out, (long long)r.ld_residual_out, o.name, o.p,
                o.p == a.act || o.p == a.residual ? " with another leading dimension or offset" : "");
  }
  return SQ_STATUS_SUCCESS;
}

}  // namespace

sq_status validate_run_args(const sq_plan_st& plan, const sq_run_args* in, RunRequest* r) {
  sq_run_args& a = r->args;  // every other field of *r is set below (no zeroing of the whole request per run)
  const sq_status st = read_grown_struct(in, SQ_RUN_ARGS_SIZE_0_1, sizeof(sq_run_args), &a, "args");
  if (st != SQ_STATUS_SUCCESS) return st;
  a.struct_size = sizeof(sq_run_args);
  const sq_plan_desc& d = plan.desc;
  const RunRules& rules = plan.rules;
  if (a.reserved != 0) return fail(SQ_STATUS_INVALID_ARGUMENT, "args->reserved must be 0 (got %u)", a.reserved);
  if (a.m < 1 || a.m > d.max_m)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->m is %lld: must be in 1..max_m (%lld)", (long long)a.m,
                (long long)d.max_m);
  r->m = a.m;
  r->ld_weight = 0;
  r->ld_out = 0;
  r->ld_residual = 0;
  r->ld_residual_out = 0;
  r->stream = nullptr;
  r->workspace = nullptr;
  // Which pointers are given, against what the plan requires and allows, then their alignment. A run
  // that sets none of the 0.2 fields (a 0.1 op's, most runs) looks at the 0.1 fields only.
  const void* const ptrs[kRunFieldCount] = {a.act,          a.weight,         a.weight_scale,
                                            a.bias,         a.smooth,         a.act_scale_scratch,
                                            a.out,          a.act_scale,      a.weight_zero_point,
                                            a.weight_sums,  a.act_zero_point, a.act_sums,
                                            a.absmax,       a.residual,       a.residual_out,
                                            a.norm_weight};
  uintptr_t since02 = static_cast<uintptr_t>(a.ld_residual | a.ld_residual_out);
  for (int f = kFirstFieldSince02; f < kRunFieldCount; ++f) since02 |= reinterpret_cast<uintptr_t>(ptrs[f]);
  const int fields = since02 != 0 || rules.requires_since02 ? kRunFieldCount : kFirstFieldSince02;
  uint32_t present = 0;
  uint32_t misaligned = 0;
  for (int f = 0; f < fields; ++f) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(ptrs[f]);
    present |= static_cast<uint32_t>(p != 0) << f;
    misaligned |= static_cast<uint32_t>((p & (rules.align[f] - 1u)) != 0) << f;
  }
  uint32_t required = rules.required;
  if (rules.weight_sums_with_act_zp && a.act_zero_point != nullptr) required |= bit(kFieldWeightSums);
  if (const uint32_t absent = required & ~present) {
    for (int f = 0; f < kRunFieldCount; ++f)
      if (absent & (1u << f)) return missing(plan, static_cast<RunField>(f));
  }
  if (const uint32_t extra = present & ~rules.allowed) {
    for (int f = 0; f < kRunFieldCount; ++f)
      if (extra & (1u << f)) return forbidden(plan, static_cast<RunField>(f), ptrs[f]);
  }
  if (misaligned != 0) {
    for (int f = 0; f < kRunFieldCount; ++f)
      if (misaligned & (1u << f)) {
        const size_t e = rules.align[f];
        return fail(SQ_STATUS_MISALIGNED, "args->%s (%p) is not aligned to its element size (%zu bytes)",
                    run_field_name(static_cast<RunField>(f)), ptrs[f], e);
      }
  }
  // Strides, and every [rows, ld] array's extent.
  SQ_TRY(stride(a.ld_act, rules.act_row, "ld_act", &r->ld_act));
  SQ_TRY(span_ok(r->ld_act, a.m, "ld_act", "m"));
  if (a.out != nullptr) {
    SQ_TRY(stride(a.ld_out, rules.out_row, "ld_out", &r->ld_out));
    SQ_TRY(span_ok(r->ld_out, a.m, "ld_out", "m"));
  }
  if (a.weight != nullptr) {
    SQ_TRY(stride(a.ld_weight, d.k, "ld_weight", &r->ld_weight));
    SQ_TRY(span_ok(r->ld_weight, d.n, "ld_weight", "n"));
  }
  if (a.residual != nullptr) {
    SQ_TRY(stride(a.ld_residual, d.k, "ld_residual", &r->ld_residual));
    SQ_TRY(span_ok(r->ld_residual, a.m, "ld_residual", "m"));
  } else if (a.ld_residual != 0) {
    return fail(SQ_STATUS_INVALID_ARGUMENT, "args->ld_residual is %lld but args->residual is NULL; set it to 0",
                (long long)a.ld_residual);
  }
  if (a.residual_out != nullptr) {
    SQ_TRY(stride(a.ld_residual_out, d.k, "ld_residual_out", &r->ld_residual_out));
    SQ_TRY(span_ok(r->ld_residual_out, a.m, "ld_residual_out", "m"));
  } else if (a.ld_residual_out != 0) {
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "args->ld_residual_out is %lld but args->residual_out is NULL; set it to 0",
                (long long)a.ld_residual_out);
  }
  if (d.op == SQ_OP_RMSNORM_QUANTIZE && (a.residual != nullptr || a.residual_out != nullptr))
    SQ_TRY(check_rmsnorm_aliasing(plan, *r));
  r->operand_align = kernels::kOperandAlign1;
  r->out_aligned = aligned_to(a.out, kernels::kOutRowAlign) &&
                   (static_cast<uint64_t>(r->ld_out) * dtype_size(d.out_dtype)) % kernels::kOutRowAlign == 0;
  r->row_sums_pass = false;
  r->stage_room = false;
  const bool linear_on_act = d.op == SQ_OP_SMOOTHQUANT_LINEAR || d.op == SQ_OP_SCALED_LINEAR;
  if (linear_on_act || d.op == SQ_OP_QUANTIZED_LINEAR) {
    // Whether K, weight and (the caller's) act meet `align` bytes; QUANTIZED_LINEAR's q lives in the
    // workspace with a padded, 16-byte aligned row stride.
    auto meets = [&](int32_t align) {
      const bool act_ok = !linear_on_act || (r->ld_act % align == 0 && aligned_to(a.act, static_cast<size_t>(align)));
      return d.k % align == 0 && r->ld_weight % align == 0 && aligned_to(a.weight, static_cast<size_t>(align)) && act_ok;
    };
    const bool tma_strides = r->ld_weight < kMaxTmaStride && (!linear_on_act || r->ld_act < kMaxTmaStride);
    if (meets(kernels::kOperandAlign16) && tma_strides)
      r->operand_align = kernels::kOperandAlign16;
    else if (meets(kernels::kOperandAlign8))
      r->operand_align = kernels::kOperandAlign8;
    if (linear_on_act) r->row_sums_pass = a.weight_zero_point != nullptr && a.act_sums == nullptr;
  }
  return SQ_STATUS_SUCCESS;
}

sq_status validate_run(const sq_plan_st& plan, sq_stream stream, void* workspace, size_t workspace_bytes,
                       const sq_run_args* args, RunRequest* r) {
  const sq_status st = validate_run_args(plan, args, r);
  if (st != SQ_STATUS_SUCCESS) return st;
  // QUANTIZED_LINEAR always needs its workspace; the zero-point linears only for the row-sums pre-pass.
  if (plan.desc.op == SQ_OP_QUANTIZED_LINEAR || r->row_sums_pass) {
    const char* why = r->row_sums_pass ? " (this run passes weight_zero_point without act_sums: the activation row "
                                         "sums go to the workspace)"
                                       : "";
    if (workspace == nullptr)
      return fail(SQ_STATUS_INSUFFICIENT_WORKSPACE, "workspace is NULL but the plan needs %zu bytes%s",
                  plan.workspace_required, why);
    if (workspace_bytes < plan.workspace_required)
      return fail(SQ_STATUS_INSUFFICIENT_WORKSPACE, "workspace_bytes is %zu but the plan needs %zu%s", workspace_bytes,
                  plan.workspace_required, why);
    if (!aligned_to(workspace, kVectorAlign))
      return fail(SQ_STATUS_MISALIGNED, "workspace (%p) must be 16-byte aligned", workspace);
  }
  // The staging area is optional: a run given less (or none) runs on the operands where they are.
  r->stage_room = plan.workspace_bytes > plan.workspace_required && workspace != nullptr &&
                  workspace_bytes >= plan.workspace_bytes && aligned_to(workspace, kVectorAlign);
  r->stream = stream;
  r->workspace = workspace;
  return SQ_STATUS_SUCCESS;
}

}  // namespace sq
