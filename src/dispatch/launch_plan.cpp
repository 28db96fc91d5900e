// The launch plan (see launch_plan.hpp): the one place that decides what a run launches and how.
#include "dispatch/launch_plan.hpp"

#include <algorithm>

#include "dispatch/cost_model.hpp"
#include "quantize.hpp"
#include "registry.hpp"
#include "scale_accumulators.hpp"
#include "stage_rows.hpp"

namespace sq {

namespace {

// Devices that run the kernels' sm_90 images, whose code waits for a programmatic dependency
// (griddepcontrol) and launches clusters; other GPUs run sm_80 images or JIT-compile compute_80 PTX.
constexpr int32_t kSm90ImageSm = 90;
// The decode linear follows the dynamic quantizer as a programmatic dependent up to the largest
// M x K measured [D-quant-overlap].
constexpr int64_t kQuantizerOverlapMaxMK = 16 * 28672;

// The staging copy's cost model, fitted on the H100 (77 rows of bench/shapes_fit_stage_rule.csv, 74 called
// right) [D-stage-unaligned]: the copy moves the act and weight rows in and out, and the aligned linear then
// reads the weight once, all at the measured copy bandwidth; the unstaged 8-byte tiles take a fixed time per
// K column for each wave of one tile per SM.
constexpr double kStageCopyBytesPerNs = 3000.0;  // 3.0 TB/s: stage_rows and the D2D copy, measured
constexpr double kUnstagedTileNsPerK = 8.1;      // the 64x128 "_a8" tile in one wave: 8.1-8.2 ns per K column

// The columns of the staged copies: K rounded up to kernels::kStageColAlign.
int64_t staged_k(int64_t k) { return ceil_div(k, int64_t{kernels::kStageColAlign}) * kernels::kStageColAlign; }

// Whether staging pays for shape `s` (operands not 16-byte aligned) against `unstaged`, its unstaged choice.
bool staging_pays(const LinearShape& s, const kernels::KernelVariant& unstaged, const DeviceFacts& d) {
  const double k = static_cast<double>(s.k);
  const double k_pad = static_cast<double>(staged_k(s.k));
  const double tiles = static_cast<double>(grid_tiles(s, unstaged));
  const double unstaged_ns = kUnstagedTileNsPerK * k * std::max(1.0, tiles / static_cast<double>(d.num_sms));
  const double bytes = 2.0 * static_cast<double>(s.n + s.m) * k + static_cast<double>(s.n) * k_pad;
  return bytes / kStageCopyBytesPerNs < unstaged_ns;
}

bool has_linear(Op op) { return op == Op::kStaticLinear || op == Op::kDynamicLinear || op == Op::kScaledLinear; }
bool has_quantizer(Op op) {
  return op == Op::kDynamicLinear || op == Op::kStaticQuantize || op == Op::kDynamicQuantize ||
         op == Op::kRmsNormQuantize || op == Op::kSiluMulQuantize;
}

// The quantizer's mode: the plan's, or the op's own.
QuantFact quant_mode(const PlanFacts& f) {
  if (f.quant != QuantFact::kOpDefault) return f.quant;
  return f.op == Op::kStaticQuantize ? QuantFact::kStatic : QuantFact::kDynamic;
}

// The name sq_plan_kernel_name reports for the quantizer: its producer, then its mode.
const char* quantizer_name(Op op, QuantFact mode) {
  static constexpr const char* kPlain[] = {nullptr,
                                           kernels::kQuantizeStaticName,
                                           kernels::kQuantizeDynamicName,
                                           "quantize_dynamic_asymmetric",
                                           "quantize_absmax",
                                           "quantize_from_absmax"};
  static constexpr const char* kRmsNorm[] = {nullptr,
                                             "rmsnorm_quantize_static",
                                             "rmsnorm_quantize_dynamic",
                                             "rmsnorm_quantize_dynamic_asymmetric",
                                             "rmsnorm_quantize_absmax",
                                             "rmsnorm_quantize_from_absmax"};
  static constexpr const char* kSiluMul[] = {nullptr,
                                             "silu_mul_quantize_static",
                                             "silu_mul_quantize_dynamic",
                                             "silu_mul_quantize_dynamic_asymmetric",
                                             "silu_mul_quantize_absmax",
                                             "silu_mul_quantize_from_absmax"};
  const auto i = static_cast<size_t>(mode);
  if (op == Op::kRmsNormQuantize) return kRmsNorm[i];
  if (op == Op::kSiluMulQuantize) return kSiluMul[i];
  return kPlain[i];
}

// The quantizer splits a long row over a cluster when there are few rows: one CTA per kQuantizeCtaBytes
// of the row, at most kQuantizeMaxRowSplits, while every CTA fits one wave of one CTA per SM
// [D-quant-row-split]. The plain symmetric per-token quantizer keeps exactly that rule (its clusters
// were measured). The 0.2 producers and modes take the same rule on the bytes of their row (both halves
// of a SiLU-mul row), and at least the split whose shares fit the kernel's row cache at any M, so that
// x is read from memory once (kernels::quantize_cache_row_splits) [D-quant-row-split-02]. Only on
// devices that run the sm_90 image (clusters).
kernels::Producer producer_of(Op op) {
  return op == Op::kRmsNormQuantize ? kernels::Producer::kRmsNorm
                                    : op == Op::kSiluMulQuantize ? kernels::Producer::kSiluMul : kernels::Producer::kPlain;
}

kernels::QuantMode kernel_mode(QuantFact mode) {
  switch (mode) {
    case QuantFact::kStatic: return kernels::QuantMode::kStatic;
    case QuantFact::kDynamicAsym: return kernels::QuantMode::kDynamicAsym;
    case QuantFact::kAbsmax: return kernels::QuantMode::kAbsmax;
    case QuantFact::kFromAbsmax: return kernels::QuantMode::kFromAbsmax;
    default: return kernels::QuantMode::kDynamic;
  }
}

// A dtype of x's element size (the row cache depends only on it).
kernels::Dtype dtype_of_size(int32_t bytes) {
  return bytes == 8 ? kernels::Dtype::F64 : bytes == 4 ? kernels::Dtype::F32 : kernels::Dtype::BF16;
}

int32_t quantizer_row_splits(const PlanFacts& f, QuantFact mode, int64_t m) {
  if (f.device.sm != kSm90ImageSm) return 1;
  const bool plain = f.op == Op::kDynamicLinear || f.op == Op::kDynamicQuantize;
  if (mode == QuantFact::kStatic && f.op == Op::kStaticQuantize) return 1;  // one CTA per row, as in 0.1
  const kernels::Producer producer = producer_of(f.op);
  const int64_t halves = producer == kernels::Producer::kSiluMul ? 2 : 1;
  const int64_t row_bytes = f.k * static_cast<int64_t>(f.x_bytes) * halves;
  int64_t splits = std::min<int64_t>(kernels::kQuantizeMaxRowSplits, ceil_div(row_bytes, kernels::kQuantizeCtaBytes));
  while (splits > 1 && m * splits > f.device.num_sms) --splits;
  splits = std::max<int64_t>(splits, 1);
  if (plain && mode == QuantFact::kDynamic) return static_cast<int32_t>(splits);
  const int32_t cache =
      kernels::quantize_cache_row_splits(producer, kernel_mode(mode), dtype_of_size(f.x_bytes), f.k);
  return static_cast<int32_t>(std::max<int64_t>(splits, cache));
}

}  // namespace

LaunchPlan plan_launch(const PlanFacts& f, const RunFacts& r) {
  LaunchPlan plan{};
  const int64_t m = r.m;
  const bool sm90_image = f.device.sm == kSm90ImageSm;
  if (has_quantizer(f.op)) {
    const QuantFact mode = quant_mode(f);
    plan.quantizer.name = quantizer_name(f.op, mode);
    plan.quantizer.row_splits = quantizer_row_splits(f, mode, m);
    // A per-token quantizer (every mode but STATIC, every producer) starts as its predecessor drains
    // [D-quant-pdl]; the static one does not (as in 0.1).
    plan.quantizer.programmatic = mode != QuantFact::kStatic && sm90_image;
  }
  // The pre-pass is the run's first kernel: like the static linear it starts as its predecessor drains
  // (it waits before it reads act).
  const bool pre_pass = r.row_sums_pass && f.weight_zero_point && (f.op == Op::kStaticLinear || f.op == Op::kScaledLinear);
  if (pre_pass) {
    plan.row_sums.name = kernels::kRowSumsName;
    plan.row_sums.programmatic = sm90_image;
  }
  if (has_linear(f.op)) {
    LinearShape s{m, f.n, f.k, f.out_bytes, r.operand_align, r.out_aligned};
    auto choose = [&](const LinearShape& shape) -> const kernels::KernelVariant& {
      return f.family == GpuFamily::kHopper ? sm90_choose(shape, f.device) : sm80_choose(shape, f.device);
    };
    const kernels::KernelVariant* chosen = &choose(s);
    // Operands that are not 16-byte aligned, above the decode kernels' M, with the staging area, on Hopper
    // where the copy pays (staging_pays): copied first, then the 16-byte choice over k_pad columns
    // [D-stage-unaligned]. The decode kernels stream the weight once, which the copy would triple.
    if (f.stage_unaligned && r.stage_room && r.operand_align < kernels::kOperandAlign16 &&
        f.family == GpuFamily::kHopper && chosen->family != kernels::Family::kDecode &&
        staging_pays(s, *chosen, f.device)) {
      plan.stage.name = kernels::kStageRowsName;
      plan.stage.k_pad = static_cast<int32_t>(staged_k(f.k));
      plan.stage.programmatic = sm90_image;  // the run's first kernel: it waits before it reads act
      s.k = plan.stage.k_pad;
      s.operand_align = kernels::kOperandAlign16;
      chosen = &choose(s);
    }
    const kernels::KernelVariant& v = *chosen;
    plan.linear.variant = &v;
    // The first linear of a run starts as whatever precedes it drains [D-linear-pdl]; after the dynamic
    // quantizer only a decode kernel of the smallest token bucket does, up to kQuantizerOverlapMaxMK;
    // after the row-sums pre-pass none does (not measured: the conservative choice).
    bool programmatic = sm90_image && v.honours_programmatic;
    if (f.op == Op::kDynamicLinear)
      programmatic = programmatic && v.family == kernels::Family::kDecode &&
                     v.max_m == kernels::decode_variants()[0].max_m && m * f.k <= kQuantizerOverlapMaxMK;
    if (pre_pass) programmatic = false;
    plan.linear.programmatic = programmatic;
  }
  if (f.op == Op::kScaleAccumulators) {
    // The run's only kernel: it starts as its predecessor drains (it waits before it reads anything).
    plan.scale_accumulators.name = kernels::kScaleAccumulatorsName;
    plan.scale_accumulators.programmatic = sm90_image;
  }
  return plan;
}

RunFacts packed_run(const PlanFacts& f, int64_t m) {
  const int32_t align = f.k % kernels::kOperandAlign16 == 0  ? kernels::kOperandAlign16
                        : f.k % kernels::kOperandAlign8 == 0 ? kernels::kOperandAlign8
                                                             : kernels::kOperandAlign1;
  const bool out_aligned = (f.n * f.out_bytes) % kernels::kOutRowAlign == 0;
  return RunFacts{m, align, out_aligned, false, true};
}

cudaError_t prepare_launches(const PlanFacts& f) {
  build_dispatch_views();
  if (has_linear(f.op)) {
    // The Hopper family also runs the portable kernels (unaligned) and both run the decode kernels.
    const bool hopper = f.family == GpuFamily::kHopper;
    cudaError_t e = kernels::prepare_variants(kernels::decode_variants());
    if (e == cudaSuccess) e = kernels::prepare_variants(kernels::sm80_variants());
    if (e == cudaSuccess && hopper) e = kernels::prepare_variants(kernels::sm90_wgmma_variants());
    if (e == cudaSuccess && hopper) e = kernels::prepare_variants(kernels::sm90_splitk_variants());
    if (e != cudaSuccess) return e;
  }
  // The quantizers and the row-sums pre-pass live in kernels/quantize.cu (one setup).
  if (has_quantizer(f.op) || f.weight_zero_point) {
    const cudaError_t e = kernels::quantize_prepare();
    if (e != cudaSuccess) return e;
  }
  if (f.stage_unaligned) {
    const cudaError_t e = kernels::stage_rows_prepare();
    if (e != cudaSuccess) return e;
  }
  if (f.op == Op::kScaleAccumulators) return kernels::scale_accumulators_prepare();
  return cudaSuccess;
}

}  // namespace sq
