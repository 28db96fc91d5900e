// A kernel variant: one compiled configuration of a kernel family, described by traits, so that the
// dispatch (src/dispatch/), the sweep tool and the tests treat every family the same way.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernel_params.hpp"

namespace sq {
namespace kernels {

// The kernel families (one .cu each).
enum class Family : uint8_t {
  kDecode,      // decode_mma.cu: small M, mma.sync, any sm_80+ GPU
  kSm80,        // sm80_mma.cu: the portable tiled GEMM, any sm_80+ GPU
  kSm90Wgmma,   // sm90_wgmma.cu: persistent wgmma + TMA, sm_90a
  kSm90SplitK,  // sm90_splitk.cu: split-K over thread-block clusters, wgmma + TMA, sm_90a
};

// How a variant's CTAs share the work.
enum class Schedule : uint8_t {
  kWarpSplitK,      // decode: each CTA owns weight rows and all of K, its warps split K
  kMultistage,      // sm80: cp.async ring of `stages`
  kRegisterStaged,  // sm80 generic: predicated loads through registers, double buffered
  kCooperative,     // sm90: both consumer warpgroups on each tile
  kPingPong,        // sm90: the consumer warpgroups take whole tiles in turn
  kClusterSplitK,   // sm90: one tile per cluster of `split` CTAs along K
};

// Every variant takes every operand pair (act and weight each S8 or U8), zero points, the S32 output and
// per-tensor row scales (LinearParams): none of them changes which variants may run a shape.
struct KernelVariant {
  const char* name;  // stable, e.g. "sm80_mma_128x256x64_s4"
  Family family;
  Schedule schedule;
  int32_t tile_m;       // output rows (tokens) of a CTA tile; decode: the rows its token tiles hold
  int32_t tile_n;       // output columns (weight rows) of a CTA tile
  int32_t tile_k;       // K bytes per pipeline stage (decode: per 16-byte-per-lane chunk of a warp)
  int32_t stages;       // pipeline depth (1: none)
  int32_t split;        // CTAs per cluster along K (split-K); 1 otherwise
  int32_t ctas_per_sm;  // resident CTAs per SM the variant is built for
  int32_t max_m;        // largest M it is meant for; 0: any
  int32_t min_sm;       // compute capability * 10
  // The operand alignment it needs (kOperandAlign*): a run whose K, act/weight bases and ld_act/ld_weight
  // are multiples of min_align bytes (LinearShape::operand_align >= min_align).
  int32_t min_align;
  // Out rows that are not 16-byte aligned (an odd N as ld_out, an offset out base): the largest out element
  // in bytes whose results the epilogue still stores as whole 32-byte sectors, through shared memory
  // (0: none; such rows then take one store per element) [D-out-staged].
  int32_t out_stage_max_bytes;
  // Launches as a programmatic dependent when LinearParams::programmatic is set (else ignores it).
  bool honours_programmatic;
  // Per-device setup once at plan select (cudaFuncSetAttribute, launch handles), on the plan's device.
  // Variants that share instantiations share this function.
  cudaError_t (*prepare)();
  // Enqueue on `stream`; no allocation, no synchronization. num_sms of the device.
  cudaError_t (*launch)(const LinearParams& p, int32_t num_sms, cudaStream_t stream);
};

// Whether v's loads can read operands aligned to operand_align bytes.
constexpr bool takes_align(const KernelVariant& v, int32_t operand_align) { return operand_align >= v.min_align; }

// Whether v stores out rows of out_bytes elements as whole sectors: rows 16-byte aligned, or staged by v.
constexpr bool stores_full_sectors(const KernelVariant& v, int32_t out_bytes, bool out_aligned) {
  return out_aligned || out_bytes <= v.out_stage_max_bytes;
}

// Whether v is meant for runs of m rows.
constexpr bool takes_m(const KernelVariant& v, int64_t m) { return v.max_m == 0 || m <= v.max_m; }

// The variants of one family: a constant array (C++17 has no std::span).
struct VariantSpan {
  const KernelVariant* first = nullptr;
  size_t count = 0;
  const KernelVariant* begin() const { return first; }
  const KernelVariant* end() const { return first + count; }
  size_t size() const { return count; }
  const KernelVariant& operator[](size_t i) const { return first[i]; }
};

}  // namespace kernels
}  // namespace sq
