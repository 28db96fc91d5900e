// Times host_linear (below the plan) on M x 4096 x 4096, f32 out: prints the best wall and CPU time of
// a few runs. Not a test. Usage: sq_host_linear_time [threads=2] [runs=3] [variant=0] [portable=0] [M=1024]
//   variant 0: s8 x s8, static scale (SMOOTHQUANT_LINEAR); 1: u8 x u8 with per-token za and per-channel zw.
//   portable 1: the portable dot products even where the CPU has AVX-512 VNNI.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "host/host_kernels.hpp"
#include "host/host_testing.hpp"

int main(int argc, char** argv) {
  const unsigned threads = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 2;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const int variant = argc > 3 ? std::atoi(argv[3]) : 0;
  const bool portable = argc > 4 && std::atoi(argv[4]) == 1;
  const int M = argc > 5 ? std::atoi(argv[5]) : 1024, N = 4096, K = 4096;
  std::mt19937 g(1);
  std::vector<int8_t> a(static_cast<size_t>(M) * K), w(static_cast<size_t>(N) * K);
  for (auto& x : a) x = static_cast<int8_t>(g());
  for (auto& x : w) x = static_cast<int8_t>(g());
  std::vector<float> ws(N, 0.01f), out(static_cast<size_t>(M) * N);
  std::vector<uint8_t> za(M, 3), zw(N, 130);
  std::vector<int32_t> sa(M, 0), sw(N, 0);
  sq::kernels::LinearParams p{};
  p.m = M;
  p.n = N;
  p.k = K;
  p.act = a.data();
  p.ld_act = K;
  p.weight = w.data();
  p.ld_weight = K;
  p.act_type = p.weight_type = variant == 1 ? sq::kernels::Dtype::U8 : sq::kernels::Dtype::S8;
  p.weight_scale = ws.data();
  const float s = 0.02f;
  uint32_t bits;
  std::memcpy(&bits, &s, 4);
  p.static_scale_bits = bits;
  if (variant == 1) {
    p.zero_points = true;
    p.act_zp = za.data();
    p.weight_zp = zw.data();
    p.act_sums = sa.data();
    p.weight_sums = sw.data();
  }
  p.out = out.data();
  p.ld_out = N;
  p.dtype = sq::kernels::Dtype::F32;
  sq::host::use_portable_dot_products_for_testing(portable);
  double best_wall = 1e30, best_cpu = 1e30;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    sq::host_linear(p, threads);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    if (wall < best_wall) best_wall = wall;
    if (cpu < best_cpu) best_cpu = cpu;
  }
  const bool vnni = sq::host::vnni_dot_products_available() && !portable;
  std::printf("host_linear %dx%dx%d variant %d, %u threads, %s dot products: best %.3f s wall (%.1f GMAC/s), "
              "best %.3f s CPU\n",
              M, N, K, variant, threads, vnni ? "AVX-512 VNNI" : "portable", best_wall,
              1e-9 * M * N * static_cast<double>(K) / best_wall, best_cpu);
}
