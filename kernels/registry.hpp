// The catalogue of every kernel variant, by family: what the dispatch chooses from, the sweep tool
// times and the variant tests run. Each family lists its variants in the dispatch's order of
// preference (see the family headers).
#pragma once

#include <array>

#include "decode_mma.hpp"
#include "sm80_mma.hpp"
#include "sm90_splitk.hpp"
#include "sm90_wgmma.hpp"
#include "variant.hpp"

namespace sq {
namespace kernels {

// The span of one family.
VariantSpan variants_of(Family family);

// Every family, in Family order.
std::array<VariantSpan, 4> all_variants();

// Prepares every variant of `variants` (each distinct prepare once), on the current device.
cudaError_t prepare_variants(VariantSpan variants);

}  // namespace kernels
}  // namespace sq
