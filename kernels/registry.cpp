// The catalogue of every kernel variant (see registry.hpp).
#include "registry.hpp"

namespace sq {
namespace kernels {

VariantSpan variants_of(Family family) {
  switch (family) {
    case Family::kDecode: return decode_variants();
    case Family::kSm80: return sm80_variants();
    case Family::kSm90Wgmma: return sm90_wgmma_variants();
    case Family::kSm90SplitK: return sm90_splitk_variants();
  }
  return {};
}

std::array<VariantSpan, 4> all_variants() {
  return {decode_variants(), sm80_variants(), sm90_wgmma_variants(), sm90_splitk_variants()};
}

cudaError_t prepare_variants(VariantSpan variants) {
  // Variants that share a prepare stand next to each other in their family's list.
  cudaError_t (*previous)() = nullptr;
  for (const KernelVariant& v : variants) {
    if (v.prepare == previous) continue;
    const cudaError_t e = v.prepare();
    if (e != cudaSuccess) return e;
    previous = v.prepare;
  }
  return cudaSuccess;
}

}  // namespace kernels
}  // namespace sq
