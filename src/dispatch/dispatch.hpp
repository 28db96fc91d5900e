// The dispatch's choosers: each kernel family's choice for a shape, over the variant registry
// (kernels/registry.hpp). The launch plan (launch_plan.hpp) asks them.
#pragma once

#include <cstdint>

#include "dispatch/facts.hpp"
#include "variant.hpp"

namespace sq {

// Small-M (decode) kernels, used by both GPU families; nullptr when no decode kernel takes the shape.
const kernels::KernelVariant* decode_choose(const LinearShape& s, const DeviceFacts& d);

// The portable family (mma.sync, sm_80+): small M goes to the decode kernels.
const kernels::KernelVariant& sm80_choose(const LinearShape& s, const DeviceFacts& d);

// The Hopper family (sm_90a): the portable family's choice for operands under 16-byte alignment, the
// decode kernels for small M, else a split-K or persistent wgmma kernel.
const kernels::KernelVariant& sm90_choose(const LinearShape& s, const DeviceFacts& d);

// Builds the choosers' views of the registry (once per process; a run then only reads them). Called at
// plan select so that no run pays for it; a chooser called first builds them itself.
void build_dispatch_views();

// Whether split-K variant v gives each CTA of its cluster enough K blocks of s for the dispatch to
// consider it (a split of one always does); bench/sq_sweep filters its split-K candidates by it too.
bool split_k_blocks_suffice(const kernels::KernelVariant& v, const LinearShape& s);

}  // namespace sq
