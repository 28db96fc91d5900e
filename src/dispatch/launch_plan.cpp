// The launch plan (see launch_plan.hpp): the one place that decides what a run launches and how.
#include "dispatch/launch_plan.hpp"

#include <algorithm>

#include "dispatch/cost_model.hpp"
#include "quantize.hpp"
#include "registry.hpp"

namespace sq {

namespace {

// Devices that run the kernels' sm_90 images, whose code waits for a programmatic dependency
// (griddepcontrol) and launches clusters; other GPUs run sm_80 images or JIT-compile compute_80 PTX.
constexpr int32_t kSm90ImageSm = 90;
// The decode linear follows the dynamic quantizer as a programmatic dependent up to the largest
// M x K measured [D-quant-overlap].
constexpr int64_t kQuantizerOverlapMaxMK = 16 * 28672;

bool has_linear(Op op) { return op == Op::kStaticLinear || op == Op::kDynamicLinear; }
bool has_quantizer(Op op) { return op != Op::kStaticLinear; }
bool dynamic_quantizer(Op op) { return op == Op::kDynamicLinear || op == Op::kDynamicQuantize; }

// The dynamic quantizer splits a long row over a cluster when there are few rows: one CTA per
// kQuantizeCtaBytes of the row, at most kQuantizeMaxRowSplits, while every CTA fits one wave of one CTA
// per SM [D-quant-row-split].
int32_t quantizer_row_splits(const PlanFacts& f, int64_t m) {
  if (!dynamic_quantizer(f.op) || f.device.sm != kSm90ImageSm) return 1;
  const int64_t row_bytes = f.k * static_cast<int64_t>(f.x_bytes);
  int64_t splits = std::min<int64_t>(kernels::kQuantizeMaxRowSplits, ceil_div(row_bytes, kernels::kQuantizeCtaBytes));
  while (splits > 1 && m * splits > f.device.num_sms) --splits;
  return static_cast<int32_t>(std::max<int64_t>(splits, 1));
}

}  // namespace

LaunchPlan plan_launch(const PlanFacts& f, int64_t m, bool aligned16) {
  LaunchPlan plan{};
  const bool sm90_image = f.device.sm == kSm90ImageSm;
  if (has_quantizer(f.op)) {
    plan.quantizer.name = dynamic_quantizer(f.op) ? kernels::kQuantizeDynamicName : kernels::kQuantizeStaticName;
    plan.quantizer.row_splits = quantizer_row_splits(f, m);
    // The dynamic quantizer starts as its predecessor drains [D-quant-pdl].
    plan.quantizer.programmatic = dynamic_quantizer(f.op) && sm90_image;
  }
  if (has_linear(f.op)) {
    const LinearShape s{m, f.n, f.k, f.out_bytes, aligned16};
    const kernels::KernelVariant& v =
        f.family == GpuFamily::kHopper ? sm90_choose(s, f.device) : sm80_choose(s, f.device);
    plan.linear.variant = &v;
    // The static plan's linear starts as whatever precedes it drains [D-linear-pdl]; after the dynamic
    // quantizer only a decode kernel of the smallest token bucket does, up to kQuantizerOverlapMaxMK.
    bool programmatic = sm90_image && v.honours_programmatic;
    if (f.op == Op::kDynamicLinear)
      programmatic = programmatic && v.family == kernels::Family::kDecode &&
                     v.max_m == kernels::decode_variants()[0].max_m && m * f.k <= kQuantizerOverlapMaxMK;
    plan.linear.programmatic = programmatic;
  }
  return plan;
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
  if (has_quantizer(f.op)) return kernels::quantize_prepare();
  return cudaSuccess;
}

}  // namespace sq
