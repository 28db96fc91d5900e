// Shared pieces of the Hopper kernels (sm_90a only): the tile constants common to the persistent
// (sm90_wgmma.cu) and split-K cluster (sm90_splitk.cu) kernels, the PTX wrappers (mbarrier, TMA,
// wgmma, cluster), the wgmma instructions, the stage ring both kernels' pipelines run on (its
// positions: sm90_order.hpp), the variant-name builder and the host-side tensor map encoding.
// Included by the two kernels, sm90_epilogue.cuh and the building-block tests (tests/sm90_blocks.cu).
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "driver_api.hpp"
#include "kernel_params.hpp"
#include "sm90_order.hpp"

namespace sq {
namespace kernels {
namespace sm90 {

// ------------------------------------------------------------------ tile configuration
constexpr int kTileM = 128;                // rows of a CTA tile (two consumer warpgroups of 64)
constexpr int kTileK = 128;                // bytes (= int8 elements) of K per stage: one 128B swizzle row
constexpr int kWgmmaM = 64;                // rows of one wgmma
constexpr int kWgmmaK = 32;                // K of one s8 wgmma
constexpr int kKSteps = kTileK / kWgmmaK;  // wgmmas per stage per warpgroup
constexpr int kWarpgroupThreads = 128;
constexpr int kConsumerWarpgroups = kTileM / kWgmmaM;
constexpr int kThreads = kWarpgroupThreads * (1 + kConsumerWarpgroups);  // producer WG + consumers
constexpr int kProducerRegs = 40;          // setmaxnreg.dec for the producer warpgroup
constexpr int kConsumerRegs = 232;         // setmaxnreg.inc for the consumer warpgroups
constexpr int kSwizzleAtomBytes = 1024;    // 8 rows x 128 bytes: the 128B-swizzle atom
constexpr int kSmemAlign = kSwizzleAtomBytes;
constexpr int kMaxDynamicSmem = 227 * 1024;

static_assert(kTileK == 128, "the 128-byte swizzle needs 128-byte tile rows");
static_assert(kProducerRegs * kWarpgroupThreads + kConsumerRegs * kWarpgroupThreads * kConsumerWarpgroups <= 65536,
              "register file");

// BN: tile columns; STAGES: pipeline depth; TM: tile rows (kTileM, or kWgmmaM for the split-K
// kernel's one-warpgroup tiles at M <= 64).
template <int BN, int STAGES, int TM = kTileM>
struct TileConfig {
  static constexpr int kTileRows = TM;
  static constexpr int kTileN = BN;
  static constexpr int kStages = STAGES;
  static constexpr int kABytes = TM * kTileK;
  static constexpr int kBBytes = BN * kTileK;
  static constexpr int kStageBytes = kABytes + kBBytes;
  static constexpr int kBarrierBytes = 2 * STAGES * 8;
  static constexpr int kSmemBytes = STAGES * kStageBytes + kBarrierBytes + kSmemAlign;
  static_assert(kSmemBytes <= kMaxDynamicSmem, "shared memory");
  static_assert(BN <= 256 && BN % 16 == 0, "wgmma N / TMA box");
  static_assert(TM % kWgmmaM == 0 && TM <= kTileM, "whole wgmma row blocks, at most the consumer warpgroups'");
};
constexpr int kConsumerThreads = kWarpgroupThreads * kConsumerWarpgroups;
constexpr int kConsumerBarrier = 1;  // named barrier of the consumer warpgroups (0 is __syncthreads)

// ------------------------------------------------------------------ PTX wrappers
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}

__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(bar)), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_u32(bar)) : "memory");
}

__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  const uint32_t addr = smem_u32(bar);
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(addr), "r"(parity)
        : "memory");
  } while (!done);
}

__device__ __forceinline__ void tma_prefetch_desc(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// 2D TMA load of one box at (c0 = k, c1 = row) into shared memory, completing on `bar`.
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, uint64_t* bar, int32_t c0,
                                            int32_t c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];" ::"r"(
          smem_u32(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1)
      : "memory");
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

__device__ __forceinline__ uint32_t cluster_ctarank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ uint32_t cluster_nctarank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(r));
  return r;
}
// Every thread of every CTA of the cluster arrives; release/acquire orders shared-memory accesses.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;" ::: "memory");
}
// Programmatic dependent launch (sm_90). launch_dependents (the split-K kernels) lets the next
// kernel on the stream, when it was launched as a programmatic dependent of this grid, be scheduled
// once every CTA of this grid has executed it (its CTAs then take the SMs that this grid's CTAs free
// as they finish); wait (both Hopper kernels) returns once the grid that this one was launched as a
// programmatic dependent of has completed and its memory is visible (at once for a grid launched
// without the attribute).
__device__ __forceinline__ void grid_launch_dependents() {
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}
__device__ __forceinline__ void grid_wait_previous() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
// Barrier of the consumer warpgroups only (not .aligned: lanes may arrive from divergent spins).
__device__ __forceinline__ void consumer_sync() {
  asm volatile("barrier.sync %0, %1;" ::"n"(kConsumerBarrier), "n"(kConsumerThreads) : "memory");
}
// The address of shared-memory byte `addr` of cluster CTA `rank`.
__device__ __forceinline__ uint32_t map_cluster(uint32_t addr, uint32_t rank) {
  uint32_t r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}
__device__ __forceinline__ void ld_cluster_v2(uint32_t addr, int32_t (&v)[2]) {
  asm volatile("ld.shared::cluster.v2.s32 {%0, %1}, [%2];" : "=r"(v[0]), "=r"(v[1]) : "r"(addr) : "memory");
}
__device__ __forceinline__ void ld_cluster_v4(uint32_t addr, int32_t (&v)[4]) {
  asm volatile("ld.shared::cluster.v4.s32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v[0]), "=r"(v[1]), "=r"(v[2]), "=r"(v[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void st_shared_v2(uint32_t addr, int32_t a, int32_t b) {
  asm volatile("st.shared.v2.s32 [%0], {%1, %2};" ::"r"(addr), "r"(a), "r"(b) : "memory");
}

template <int R>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(R));
}
template <int R>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(R));
}

// The producer warpgroup's entry: hands registers to the consumers; returns the warp's index in it.
__device__ __forceinline__ int enter_producer() {
  setmaxnreg_dec<kProducerRegs>();
  return threadIdx.x / 32;
}
// Whether this lane of producer warp 0 is the one that issues the TMA loads (lane 0); that lane first
// prefetches both tensor-map descriptors.
__device__ __forceinline__ bool tma_issuer(const CUtensorMap* map_a, const CUtensorMap* map_b, int lane) {
  if (lane != 0) return false;
  tma_prefetch_desc(map_a);
  tma_prefetch_desc(map_b);
  return true;
}

// wgmma shared-memory matrix descriptor for a K-major tile with 128-byte swizzle: rows of
// 128 bytes, 8-row atoms 1024 bytes apart (stride byte offset); the leading byte offset is
// unused for this layout. The tile base must be 1024-byte aligned (base offset 0).
constexpr uint64_t kDescLayoutSwizzle128 = 1;
constexpr uint64_t kDescLeadingByteOffset = 1;  // ignored for swizzled K-major layouts
constexpr uint64_t kDescStrideByteOffset = kSwizzleAtomBytes >> 4;
__device__ __forceinline__ uint64_t make_desc_sw128(uint32_t smem_addr) {
  return static_cast<uint64_t>((smem_addr & 0x3FFFF) >> 4) | (kDescLeadingByteOffset << 16) |
         (kDescStrideByteOffset << 32) | (kDescLayoutSwizzle128 << 62);
}
// Descriptor start-address units per K step of 32 bytes.
constexpr uint64_t kDescKStep = kWgmmaK >> 4;

// wgmma.mma_async m64nNk32 s32.<A type>.<B type> (each s8 or u8), A (the activations) and B (the weight)
// from shared memory. accumulate == 0 overwrites d. Without .satfinite the s32 accumulation wraps modulo
// 2^32 (PTX ISA, wgmma.mma_async: "the accumulated value is wrapped"); the plans' max_k keeps every exact
// sum in range.
template <int N> struct Wgmma;

// The operand text of the accumulator fragment, in blocks of 16 registers: the register list of
// the instruction (SQ_WGMMA_REGS_<blocks>) and the matching in/out operands (SQ_WGMMA_OPS_<blocks>).
#define SQ_WGMMA_R0 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15"
#define SQ_WGMMA_R1 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define SQ_WGMMA_R2 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47"
#define SQ_WGMMA_R3 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define SQ_WGMMA_R4 "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79"
#define SQ_WGMMA_R5 "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
#define SQ_WGMMA_R6 "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111"
#define SQ_WGMMA_R7 "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
#define SQ_WGMMA_REGS_2 SQ_WGMMA_R0 ", " SQ_WGMMA_R1
#define SQ_WGMMA_REGS_3 SQ_WGMMA_REGS_2 ", " SQ_WGMMA_R2
#define SQ_WGMMA_REGS_4 SQ_WGMMA_REGS_3 ", " SQ_WGMMA_R3
#define SQ_WGMMA_REGS_5 SQ_WGMMA_REGS_4 ", " SQ_WGMMA_R4
#define SQ_WGMMA_REGS_6 SQ_WGMMA_REGS_5 ", " SQ_WGMMA_R5
#define SQ_WGMMA_REGS_7 SQ_WGMMA_REGS_6 ", " SQ_WGMMA_R6
#define SQ_WGMMA_REGS_8 SQ_WGMMA_REGS_7 ", " SQ_WGMMA_R7
#define SQ_WGMMA_O16(b)                                                                               \
  "+r"(d[(b)]), "+r"(d[(b) + 1]), "+r"(d[(b) + 2]), "+r"(d[(b) + 3]), "+r"(d[(b) + 4]), "+r"(d[(b) + 5]), \
      "+r"(d[(b) + 6]), "+r"(d[(b) + 7]), "+r"(d[(b) + 8]), "+r"(d[(b) + 9]), "+r"(d[(b) + 10]),          \
      "+r"(d[(b) + 11]), "+r"(d[(b) + 12]), "+r"(d[(b) + 13]), "+r"(d[(b) + 14]), "+r"(d[(b) + 15])
#define SQ_WGMMA_OPS_2 SQ_WGMMA_O16(0), SQ_WGMMA_O16(16)
#define SQ_WGMMA_OPS_3 SQ_WGMMA_OPS_2, SQ_WGMMA_O16(32)
#define SQ_WGMMA_OPS_4 SQ_WGMMA_OPS_3, SQ_WGMMA_O16(48)
#define SQ_WGMMA_OPS_5 SQ_WGMMA_OPS_4, SQ_WGMMA_O16(64)
#define SQ_WGMMA_OPS_6 SQ_WGMMA_OPS_5, SQ_WGMMA_O16(80)
#define SQ_WGMMA_OPS_7 SQ_WGMMA_OPS_6, SQ_WGMMA_O16(96)
#define SQ_WGMMA_OPS_8 SQ_WGMMA_OPS_7, SQ_WGMMA_O16(112)

// One specialization: N / 2 = 16 * BLOCKS accumulator registers per thread (operands %0 ..), then the
// two descriptors and the scale-d flag, whose operand numbers DESC_A, DESC_B and SCALE_D follow them;
// mma<A, B> is the instruction of operand types A, B (SQ_WGMMA_ASM: one per pair).
#define SQ_WGMMA_ASM(N, BLOCKS, DESC_A, DESC_B, SCALE_D, TYPES)                                        \
  asm volatile(                                                                                      \
      "{\n.reg .pred p;\n"                                                                           \
      "setp.ne.b32 p, " SCALE_D ", 0;\n"                                                             \
      "wgmma.mma_async.sync.aligned.m64n" #N "k32.s32." TYPES " "                                    \
      "{" SQ_WGMMA_REGS_##BLOCKS "}, " DESC_A ", " DESC_B ", p;\n}\n"                                \
      : SQ_WGMMA_OPS_##BLOCKS                                                                        \
      : "l"(desc_a), "l"(desc_b), "r"(accumulate))
#define SQ_WGMMA_SPECIALIZATION(N, BLOCKS, DESC_A, DESC_B, SCALE_D)                                    \
  template <> struct Wgmma<N> {                                                                      \
    static constexpr int kAccRegs = (N) / 2;                                                         \
    static_assert(kAccRegs == 16 * (BLOCKS), "16 accumulator registers per operand block");          \
    template <Dtype A, Dtype B>                                                                      \
    __device__ static __forceinline__ void mma(int32_t (&d)[kAccRegs], uint64_t desc_a, uint64_t desc_b, \
                                               int32_t accumulate) {                                 \
      static_assert((A == Dtype::S8 || A == Dtype::U8) && (B == Dtype::S8 || B == Dtype::U8), "8-bit"); \
      if constexpr (A == Dtype::S8 && B == Dtype::S8) {                                              \
        SQ_WGMMA_ASM(N, BLOCKS, DESC_A, DESC_B, SCALE_D, "s8.s8");                                   \
      } else if constexpr (A == Dtype::S8 && B == Dtype::U8) {                                       \
        SQ_WGMMA_ASM(N, BLOCKS, DESC_A, DESC_B, SCALE_D, "s8.u8");                                   \
      } else if constexpr (A == Dtype::U8 && B == Dtype::S8) {                                       \
        SQ_WGMMA_ASM(N, BLOCKS, DESC_A, DESC_B, SCALE_D, "u8.s8");                                   \
      } else {                                                                                       \
        SQ_WGMMA_ASM(N, BLOCKS, DESC_A, DESC_B, SCALE_D, "u8.u8");                                   \
      }                                                                                              \
    }                                                                                                \
  };

// The widths the kernels use: 64..224 for the split-K tiles, 96, 128, 160 and 256 for the persistent ones.
SQ_WGMMA_SPECIALIZATION(64, 2, "%32", "%33", "%34")
SQ_WGMMA_SPECIALIZATION(96, 3, "%48", "%49", "%50")
SQ_WGMMA_SPECIALIZATION(128, 4, "%64", "%65", "%66")
SQ_WGMMA_SPECIALIZATION(160, 5, "%80", "%81", "%82")
SQ_WGMMA_SPECIALIZATION(224, 7, "%112", "%113", "%114")
SQ_WGMMA_SPECIALIZATION(256, 8, "%128", "%129", "%130")

// ------------------------------------------------------------------ the stage ring
// The warp-specialized pipeline of both Hopper kernels: Cfg::kStages stages of one A tile
// (Cfg::kABytes) and one B tile (Cfg::kBBytes) in the dynamic shared memory, 1024-byte aligned:
// the A tiles, then the B tiles, then the full and empty mbarriers. The producer thread fills a
// stage with two TMA loads (full barrier: its one arrive carries the byte count); every consumer
// warp releases it (empty barrier: kConsumerWarpgroups * 4 arrivals) once its wgmmas have read it.

// Whether the first wgmma of a consumer's mainloop overwrites its accumulators (a new tile) or
// accumulates onto them (zeroed or holding a partial).
enum class Accumulate { kOverwriteFirst, kOnto };

template <typename Cfg>
struct StageRing {
  using Pos = RingPos<Cfg::kStages>;
  uint8_t* a;
  uint8_t* b;
  uint64_t* full;
  uint64_t* empty;

  __device__ __forceinline__ explicit StageRing(uint8_t* smem_raw)
      : a(reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(smem_raw) + (kSmemAlign - 1)) &
                                     ~static_cast<uintptr_t>(kSmemAlign - 1))),
        b(a + Cfg::kStages * Cfg::kABytes),
        full(reinterpret_cast<uint64_t*>(b + Cfg::kStages * Cfg::kBBytes)),
        empty(full + Cfg::kStages) {}

  // By thread 0; the CTA synchronizes (__syncthreads) before any other use. consumer_warps: the
  // warps that release each stage (every consumer warp, or one warpgroup's in the ping-pong kernel).
  __device__ __forceinline__ void init(uint32_t consumer_warps = kConsumerWarpgroups * 4) const {
    for (int s = 0; s < Cfg::kStages; ++s) {
      mbar_init(&full[s], 1);                  // the producer's arrive.expect_tx
      mbar_init(&empty[s], consumer_warps);  // one arrive per consuming warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }

  // Producer thread: waits until the stage at pos is free, then loads K block kb of the A rows
  // from a_row and of the B rows from b_row into it; advances pos.
  __device__ __forceinline__ void load(Pos& pos, const CUtensorMap* map_a, const CUtensorMap* map_b, int32_t kb,
                                       int32_t a_row, int32_t b_row) const {
    mbar_wait(&empty[pos.stage], pos.phase ^ 1);
    mbar_arrive_expect_tx(&full[pos.stage], Cfg::kStageBytes);
    tma_load_2d(a + pos.stage * Cfg::kABytes, map_a, &full[pos.stage], kb * kTileK, a_row);
    tma_load_2d(b + pos.stage * Cfg::kBBytes, map_b, &full[pos.stage], kb * kTileK, b_row);
    pos.advance();
  }

  // Consumer warpgroup: accumulates `blocks` consecutive stages into acc with the 64 rows of A at
  // byte a_offset of each A tile (one wgmma group kept in flight; a stage is released once the
  // next group is issued and it is done). A: whether the first wgmma overwrites acc or accumulates
  // onto it; TA, TB: the operand types of A and B. Advances pos.
  template <Accumulate A, int BN, Dtype TA, Dtype TB>
  __device__ __forceinline__ void mma_blocks(Pos& pos, uint32_t a_offset, int32_t blocks,
                                             int32_t (&acc)[Wgmma<BN>::kAccRegs], int lane) const {
    mma_row_blocks<A, BN, 1, TA, TB>(pos, a_offset, blocks,
                                     reinterpret_cast<int32_t(&)[1][Wgmma<BN>::kAccRegs]>(acc), lane);
  }

  // The same over kRowBlocks consecutive 64-row blocks of A from byte a_offset (acc[r]: rows
  // 64r..64r+63), every wgmma of a K step reading the same B.
  template <Accumulate A, int BN, int kRowBlocks, Dtype TA, Dtype TB>
  __device__ __forceinline__ void mma_row_blocks(Pos& pos, uint32_t a_offset, int32_t blocks,
                                                 int32_t (&acc)[kRowBlocks][Wgmma<BN>::kAccRegs], int lane) const {
    static_assert(kRowBlocks * kWgmmaM <= Cfg::kTileRows, "row blocks inside the A tile");
    const uint32_t a_base = smem_u32(a) + a_offset;
    const uint32_t b_base = smem_u32(b);
    int prev_stage = 0;
    for (int32_t i = 0; i < blocks; ++i) {
      mbar_wait(&full[pos.stage], pos.phase);
      const uint64_t db = make_desc_sw128(b_base + pos.stage * Cfg::kBBytes);
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
#pragma unroll
        for (int r = 0; r < kRowBlocks; ++r) {
          const uint64_t da = make_desc_sw128(a_base + pos.stage * Cfg::kABytes + r * kWgmmaM * kTileK);
          Wgmma<BN>::template mma<TA, TB>(acc[r], da + ks * kDescKStep, db + ks * kDescKStep,
                                          A == Accumulate::kOverwriteFirst ? (i | ks) != 0 : 1);
        }
      }
      wgmma_commit();
      wgmma_wait<1>();
      if (i > 0 && lane == 0) mbar_arrive(&empty[prev_stage]);
      prev_stage = pos.stage;
      pos.advance();
    }
    wgmma_wait<0>();
    if (blocks > 0 && lane == 0) mbar_arrive(&empty[prev_stage]);
  }

  // Consumer warpgroup without rows to compute: releases `blocks` stages as they land.
  __device__ __forceinline__ void release_blocks(Pos& pos, int32_t blocks, int lane) const {
    for (int32_t i = 0; i < blocks; ++i) {
      mbar_wait(&full[pos.stage], pos.phase);
      if (lane == 0) mbar_arrive(&empty[pos.stage]);
      pos.advance();
    }
  }
};

// ------------------------------------------------------------------ L1 prefetch of the epilogue's vectors
// prefetch.global.L1 of the 128-byte lines holding bytes [first, last], one line per thread of
// the `threads` that call it (ctid in [0, threads)).
constexpr int kL1LineBytes = 128;
__device__ __forceinline__ void prefetch_range_l1(const void* first, const void* last, int ctid, int threads) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(last);
  for (uintptr_t line = (reinterpret_cast<uintptr_t>(first) & ~static_cast<uintptr_t>(kL1LineBytes - 1)) +
                        static_cast<uintptr_t>(ctid) * kL1LineBytes;
       line <= end; line += static_cast<uintptr_t>(threads) * kL1LineBytes) {
    asm volatile("prefetch.global.L1 [%0];" ::"l"(line));
  }
}

// The zero-point vectors (kernel_params.hpp) of the tile at (row0, col0), rows x cols, that the run gives,
// into L1 before its mainloop (with p.zero_points), so that the epilogue's loads hit L1.
__device__ __forceinline__ void prefetch_tile_zero_points(const LinearParams& p, int32_t row0, int32_t rows,
                                                          int32_t col0, int32_t cols, int ctid, int threads) {
  const int32_t c_last = min(col0 + cols, p.n) - 1;
  const int32_t r_last = min(row0 + rows, p.m) - 1;
  if (p.weight_zp != nullptr) {
    const uint8_t* v = static_cast<const uint8_t*>(p.weight_zp);  // one byte per element (S8 or U8)
    prefetch_range_l1(v + col0, v + c_last, ctid, threads);
  }
  if (p.weight_sums != nullptr) prefetch_range_l1(p.weight_sums + col0, p.weight_sums + c_last, ctid, threads);
  if (p.act_zp != nullptr) {
    const uint8_t* v = static_cast<const uint8_t*>(p.act_zp);
    prefetch_range_l1(v + row0, v + r_last, ctid, threads);
  }
  if (p.act_sums != nullptr) prefetch_range_l1(p.act_sums + row0, p.act_sums + r_last, ctid, threads);
}

// ------------------------------------------------------------------ variant names
// A kernel variant's name, built at compile time from its tile constants.
struct VariantName {
  char text[48];
};
constexpr int append_text(char* dst, int at, const char* src) {
  while (*src != '\0') dst[at++] = *src++;
  return at;
}
constexpr int append_int(char* dst, int at, int v) {
  char digits[12] = {};
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) dst[at++] = digits[--n];
  return at;
}
// "<prefix><tile_m>x<tile_n>x<kTileK>_s<stages>", then "_c<split>" when split > 0.
constexpr VariantName tile_variant_name(const char* prefix, int tile_m, int tile_n, int stages, int split) {
  VariantName name{};
  int at = append_text(name.text, 0, prefix);
  at = append_int(name.text, at, tile_m);
  at = append_text(name.text, at, "x");
  at = append_int(name.text, at, tile_n);
  at = append_text(name.text, at, "x");
  at = append_int(name.text, at, kTileK);
  at = append_text(name.text, at, "_s");
  at = append_int(name.text, at, stages);
  if (split > 0) {
    at = append_text(name.text, at, "_c");
    at = append_int(name.text, at, split);
  }
  name.text[at] = '\0';
  return name;
}

// ------------------------------------------------------------------ host side
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn =
      driver_entry_point<PFN_cuTensorMapEncodeTiled_v12000>("cuTensorMapEncodeTiled");
  return fn;
}

// A K-major int8 matrix [rows, k] with row stride ld (bytes), boxes of box_rows x kTileK, 128B swizzle.
inline cudaError_t encode_kmajor(CUtensorMap* map, const int8_t* base, int64_t rows, int64_t k, int64_t ld,
                          uint32_t box_rows) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (encode == nullptr) return cudaErrorNotSupported;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(kTileK), box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult r = encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(base), dims, strides, box,
                            elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
}

}  // namespace sm90
}  // namespace kernels
}  // namespace sq

