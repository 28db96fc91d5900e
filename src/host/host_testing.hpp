// Test hooks of the host kernels (linked by the tests that link the kernel objects; hidden in the .so).
#pragma once

namespace sq {
namespace host {

// true: host_linear uses its portable dot products even on a CPU with AVX-512 VNNI (so that the tests
// check both paths on such a machine); false (the default): the best path the CPU has.
void use_portable_dot_products_for_testing(bool on);

// Whether host_linear can use its AVX-512 VNNI dot products on this CPU.
bool vnni_dot_products_available();

}  // namespace host
}  // namespace sq
