// The staging copy (see stage_rows.hpp): every destination row of both matrices is cut into 16-byte
// chunks; consecutive threads take consecutive chunks (coalesced stores), and each thread loads
// kChunksPerThread chunks before it stores any, so that enough loads are in flight to stream at the copy
// bandwidth [D-stage-unaligned]. A chunk whose source bytes lie inside the source row is read as the one
// or two aligned 16-byte words that cover it and shifted into place (any source alignment); the few
// chunks at a row's ends (where the covering words would reach outside the row) and the chunk holding
// column k are read byte by byte, with zeros past k.
#include "stage_rows.hpp"

#include <cstdint>

#include <cuda_runtime.h>

#include "launch.hpp"

namespace sq {
namespace kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kChunkBytes = 16;       // one 16-byte store
constexpr int kChunksPerThread = 4;   // chunks a thread loads before it stores
constexpr int kMinCtasPerSm = 4;      // the launch bound: registers for 4 CTAs of kThreads on an SM
constexpr int64_t kTileChunks = int64_t{kThreads} * kChunksPerThread;
constexpr int64_t kMaxGridCtas = int64_t{1} << 20;  // beyond: the grid-stride loop takes more tiles per CTA
constexpr int kWordBytes = 4;

static_assert(kChunkBytes == kStageColAlign, "one chunk per kStageColAlign columns");
static_assert(kStageStrideAlign % kChunkBytes == 0, "staged rows hold whole chunks");

__device__ __forceinline__ void wait_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// The 16 bytes that start `off` (0..15) bytes into the 32 bytes lo:hi (little-endian words).
__device__ __forceinline__ uint4 shift_bytes(const uint4 lo, const uint4 hi, const unsigned off) {
  const uint32_t u[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
  const unsigned q = off / kWordBytes;                 // whole words to skip
  const unsigned sh = (off % kWordBytes) * 8;          // then bits
  uint32_t v[5];
#pragma unroll
  for (int j = 0; j < 5; ++j) v[j] = q == 0 ? u[j] : q == 1 ? u[j + 1] : q == 2 ? u[j + 2] : u[j + 3];
  uint4 r;
  r.x = __funnelshift_r(v[0], v[1], sh);
  r.y = __funnelshift_r(v[1], v[2], sh);
  r.z = __funnelshift_r(v[2], v[3], sh);
  r.w = __funnelshift_r(v[3], v[4], sh);
  return r;
}

// The bytes src[0..w) (w <= 16) then zeros, read one byte at a time.
__device__ __forceinline__ uint4 load_bytes(const int8_t* src, const int w) {
  uint32_t word[4] = {0, 0, 0, 0};
#pragma unroll
  for (int i = 0; i < kChunkBytes; ++i)
    if (i < w) word[i / kWordBytes] |= uint32_t{static_cast<uint8_t>(src[i])} << ((i % kWordBytes) * 8);
  return make_uint4(word[0], word[1], word[2], word[3]);
}

struct Chunk {
  const int8_t* src;  // the chunk's first source byte
  int8_t* dst;        // its 16-byte aligned destination
  int w;              // source bytes in it (0: none, past the matrices)
  // Where all 16 bytes lie inside the source row: the aligned word that holds the first, and the first's
  // offset in it (the next word is read too when it is not 0); nullptr: read byte by byte.
  const uint4* words;
  unsigned off;
};

// Chunk `local` of the tile that starts at chunk col0 of row row0: its place and how to read it.
__device__ __forceinline__ Chunk locate(const StageParams& p, int64_t row0, int64_t col0, int64_t local,
                                        int64_t chunks_per_row, int64_t rows) {
  Chunk c{nullptr, nullptr, 0, nullptr, 0};
  // col0 + local < chunks_per_row + kTileChunks, far below 2^32: a 32-bit division.
  const uint32_t idx = static_cast<uint32_t>(col0 + local);
  const uint32_t per_row = static_cast<uint32_t>(chunks_per_row);
  const int64_t row = row0 + idx / per_row;
  if (row >= rows) return c;
  const int64_t col = int64_t{idx % per_row} * kChunkBytes;
  const bool first = row < p.matrix[0].rows;
  const StageMatrix& mat = first ? p.matrix[0] : p.matrix[1];
  const int64_t r = first ? row : row - p.matrix[0].rows;
  const int8_t* src_row = mat.src + r * mat.ld_src;
  c.src = src_row + col;
  c.dst = mat.dst + r * mat.ld_dst + col;
  c.w = static_cast<int>(p.k - col < kChunkBytes ? p.k - col : kChunkBytes);
  const uintptr_t a = reinterpret_cast<uintptr_t>(c.src);
  const uintptr_t lo = a & ~uintptr_t{kChunkBytes - 1};
  const uintptr_t hi = lo + (a == lo ? kChunkBytes : 2 * kChunkBytes);
  if (lo >= reinterpret_cast<uintptr_t>(src_row) && hi <= reinterpret_cast<uintptr_t>(src_row) + p.k) {
    c.words = reinterpret_cast<const uint4*>(lo);
    c.off = static_cast<unsigned>(a - lo);
  }
  return c;
}

__global__ void __launch_bounds__(kThreads, kMinCtasPerSm) stage_rows_kernel(const StageParams p) {
  const int64_t chunks_per_row = p.k_pad / kChunkBytes;
  const int64_t rows = int64_t{p.matrix[0].rows} + p.matrix[1].rows;
  const int64_t tiles = (rows * chunks_per_row + kTileChunks - 1) / kTileChunks;
  wait_previous_grid();  // before any global memory access (programmatic)
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t first = tile * kTileChunks;
    const int64_t row0 = first / chunks_per_row;
    const int64_t col0 = first - row0 * chunks_per_row;
    Chunk c[kChunksPerThread];
    uint4 lo[kChunksPerThread], hi[kChunksPerThread];
#pragma unroll
    for (int j = 0; j < kChunksPerThread; ++j) {
      c[j] = locate(p, row0, col0, int64_t{j} * kThreads + threadIdx.x, chunks_per_row, rows);
      lo[j] = hi[j] = make_uint4(0, 0, 0, 0);
      if (c[j].words != nullptr) {
        lo[j] = __ldg(c[j].words);
        if (c[j].off != 0) hi[j] = __ldg(c[j].words + 1);
      }
    }
#pragma unroll
    for (int j = 0; j < kChunksPerThread; ++j) {
      if (c[j].dst == nullptr) continue;
      const uint4 v = c[j].words != nullptr ? shift_bytes(lo[j], hi[j], c[j].off) : load_bytes(c[j].src, c[j].w);
      *reinterpret_cast<uint4*>(c[j].dst) = v;
    }
  }
}

}  // namespace

cudaError_t stage_rows_prepare() { return prepare_launch<&stage_rows_kernel>(); }

cudaError_t launch_stage_rows(const StageParams& p, cudaStream_t stream) {
  const int64_t rows = int64_t{p.matrix[0].rows} + p.matrix[1].rows;
  const int64_t chunks = rows * (p.k_pad / kChunkBytes);
  const int64_t tiles = (chunks + kTileChunks - 1) / kTileChunks;
  if (tiles == 0) return cudaSuccess;
  LaunchConfig cfg;
  cfg.grid = static_cast<unsigned>(tiles < kMaxGridCtas ? tiles : kMaxGridCtas);
  cfg.block = kThreads;
  cfg.stream = stream;
  cfg.programmatic = p.programmatic;
  return launch<&stage_rows_kernel>(cfg, p);
}

}  // namespace kernels
}  // namespace sq
