// GPU tests of kernels/ below the plan: every variant of the registry (kernels/registry.hpp), the
// decode and portable ones on any GPU the library runs on, the Hopper ones (split-K and persistent) on
// sm_90, not only the ones the dispatch picks for the shapes of test_gpu_linear.cpp, launched directly
// with kernels::LinearParams and compared bit for bit with the oracle of test_util.hpp. This program
// links the kernel objects themselves (their symbols are hidden in libsmoothquant.so).
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_util.hpp"
#include "registry.hpp"
#include "test_util.hpp"

using namespace sqt;
namespace kernels = sq::kernels;

namespace {

// How a case passes the scales and lays out out.
enum class Mode {
  kPlain,         // no bias, the static act scale (and the fused scratch fill), packed out rows
  kRowScales,     // bias, one act scale per row from memory, out rows padded (vector stores)
  kScalarStores,  // bias, the static act scale and fill, out rows of N + 5 elements from an odd
                  // element offset: only element stores are aligned
};
constexpr int64_t kRowPad = 8;      // kRowScales: out row padding (elements)
constexpr int64_t kOddRowPad = 5;   // kScalarStores: out row padding (elements)
constexpr int64_t kGuardRows = 3;   // poisoned rows past M that must stay untouched
constexpr int64_t kScratchGuard = 64;

kernels::Dtype kernel_dtype(sq_dtype t) { return static_cast<kernels::Dtype>(t); }

// One shape's operands on the host and the device (row strides lda / ldw), and the oracle's
// accumulators (once per shape; the epilogue runs per dtype and mode).
struct Operands {
  int64_t m, n, k, lda, ldw;
  std::vector<int8_t> act, w;
  std::vector<int32_t> acc;
  DevBuf d_act, d_w;
  Operands(int64_t m_, int64_t n_, int64_t k_, int64_t pad)
      : m(m_), n(n_), k(k_), lda(k_ + pad), ldw(k_ + pad), act(random_s8(static_cast<size_t>(m_ * lda))),
        w(random_s8(static_cast<size_t>(n_ * ldw))), acc(oracle_acc(m, n, k, act.data(), lda, w.data(), ldw)),
        d_act(act.size()), d_w(w.size()) {
    d_act.upload(act.data(), act.size());
    d_w.upload(w.data(), w.size());
  }
};

// Every variant in `variants` on one shape, dtype and mode against the oracle: every output element
// bit for bit, nothing written outside the output rows, the scratch filled exactly where it should be.
void check_variants(const std::vector<const kernels::KernelVariant*>& variants, Operands& o, sq_dtype t, Mode mode) {
  const bool has_bias = mode != Mode::kPlain;
  const bool row_scales = mode == Mode::kRowScales;
  const int64_t ldo = o.n + (mode == Mode::kRowScales ? kRowPad : mode == Mode::kScalarStores ? kOddRowPad : 0);
  const int64_t out_offset = mode == Mode::kScalarStores ? 1 : 0;
  const size_t out_count = static_cast<size_t>((o.m + kGuardRows) * ldo + out_offset);
  const size_t es = dtype_size(t);

  const Buf wscale = random_scales(t, static_cast<size_t>(o.n));
  const Buf bias = random_values(t, static_cast<size_t>(o.n), -4.0, 4.0);
  const Buf row_scale = random_scales(t, static_cast<size_t>(o.m));
  Buf static_scale = random_scales(t, 1);
  Buf oracle_scales(t, static_cast<size_t>(o.m));
  for (int64_t r = 0; r < o.m; ++r) {
    const void* scale = row_scales ? row_scale.at(static_cast<size_t>(r)) : static_scale.data();
    std::memcpy(oracle_scales.at(static_cast<size_t>(r)), scale, es);
  }
  Buf ref(t, out_count);
  ref.poison();
  Buf ref_view(t, static_cast<size_t>(o.m * ldo));
  oracle_epilogue(o.m, o.n, o.acc, wscale, has_bias ? &bias : nullptr, oracle_scales, ref_view, ldo);
  for (int64_t r = 0; r < o.m; ++r)
    std::memcpy(ref.at(static_cast<size_t>(out_offset + r * ldo)), ref_view.at(static_cast<size_t>(r * ldo)),
                static_cast<size_t>(o.n) * es);

  DevBuf d_ws(wscale.bytes.size()), d_bias(bias.bytes.size()), d_rs(row_scale.bytes.size()),
      d_scratch((static_cast<size_t>(o.m) + kScratchGuard) * es), d_out(out_count * es);
  d_ws.upload(wscale.data(), wscale.bytes.size());
  d_bias.upload(bias.data(), bias.bytes.size());
  d_rs.upload(row_scale.data(), row_scale.bytes.size());
  kernels::LinearParams p{};
  p.m = static_cast<int32_t>(o.m);
  p.n = static_cast<int32_t>(o.n);
  p.k = static_cast<int32_t>(o.k);
  p.act = static_cast<const int8_t*>(o.d_act.p);
  p.ld_act = o.lda;
  p.weight = static_cast<const int8_t*>(o.d_w.p);
  p.ld_weight = o.ldw;
  p.weight_scale = d_ws.p;
  p.bias = has_bias ? d_bias.p : nullptr;
  p.row_scale = row_scales ? d_rs.p : nullptr;
  std::memcpy(&p.static_scale_bits, static_scale.data(), es);
  p.row_scale_out = row_scales ? nullptr : d_scratch.p;
  p.out = static_cast<char*>(d_out.p) + out_offset * es;
  p.ld_out = ldo;
  p.dtype = kernel_dtype(t);
  // One mode also sets programmatic, as the static plan does on sm_90: the split-K variants then
  // launch as programmatic dependents, wait in the kernel and let the next launch start early.
  p.programmatic = mode == Mode::kScalarStores;

  for (const kernels::KernelVariant* v : variants) {
    CAPTURE(v->name, o.m, o.n, o.k, o.lda, dtype_str(t), static_cast<int>(mode));
    d_out.poison();
    d_scratch.poison();
    CUDA_REQUIRE(v->launch(p, num_sms(), nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    Buf got(t, out_count), scratch(t, static_cast<size_t>(o.m) + kScratchGuard);
    d_out.download(got.data(), got.bytes.size());
    d_scratch.download(scratch.data(), scratch.bytes.size());
    CHECK(first_bit_difference(got, ref) == -1);
    Buf want_scratch(t, scratch.count());
    want_scratch.poison();
    if (!row_scales)
      for (int64_t r = 0; r < o.m; ++r) std::memcpy(want_scratch.at(static_cast<size_t>(r)), static_scale.data(), es);
    CHECK(first_bit_difference(scratch, want_scratch) == -1);
  }
}

void check_shapes(const std::vector<const kernels::KernelVariant*>& variants,
                  const std::vector<std::vector<int64_t>>& shapes) {
  for (const std::vector<int64_t>& s : shapes) {  // {m, n, k, row padding of act and weight}
    Operands o(s[0], s[1], s[2], s[3]);
    for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16})
      for (Mode mode : {Mode::kPlain, Mode::kRowScales, Mode::kScalarStores}) check_variants(variants, o, t, mode);
  }
}

// Prepares every variant of `family` and returns it; an empty list (with a warning) where the current
// GPU is not one the family runs on.
std::vector<const kernels::KernelVariant*> prepared(kernels::Family family) {
  const kernels::VariantSpan span = kernels::variants_of(family);
  REQUIRE(span.size() > 0);
  const bool hopper = span[0].min_sm == 90;
  if (hopper && !is_sm90()) {
    WARN("not an sm_90 GPU: the Hopper variants are not exercised");
    return {};
  }
  REQUIRE(kernels::prepare_variants(span) == cudaSuccess);
  std::vector<const kernels::KernelVariant*> v;
  for (const kernels::KernelVariant& entry : span) v.push_back(&entry);
  return v;
}

}  // namespace

TEST_CASE("every decode variant (each token bucket, 16- and 32-row CTAs) equals the oracle", "[variants]") {
  // Per variant: M = 1, a partial token tile, its largest M; N not a multiple of the CTA rows; K from
  // one 16-byte piece to many iterations with a partial last chunk; strided rows.
  for (const kernels::KernelVariant* v : prepared(kernels::Family::kDecode)) {
    const int64_t max_m = v->max_m;
    check_shapes({v},
                 {{1, 1000, 4096, 0}, {max_m - 3, 77, 16, 32}, {max_m, 300, 2000, 48}, {max_m / 2 + 1, 530, 20480, 0}});
  }
}

TEST_CASE("every portable variant (large, medium, generic) equals the oracle", "[variants]") {
  // M = 1 to several tiles, N and K edges of every tile; the generic variant also on K and row strides
  // that are not multiples of 16 (the others need aligned16).
  std::vector<const kernels::KernelVariant*> aligned, any;
  for (const kernels::KernelVariant* v : prepared(kernels::Family::kSm80))
    (v->needs_aligned16 ? aligned : any).push_back(v);
  REQUIRE(!any.empty());
  const std::vector<std::vector<int64_t>> shapes = {{1, 1000, 4096, 0}, {129, 300, 2000, 48}, {300, 700, 1040, 16}};
  check_shapes(aligned, shapes);
  check_shapes(any, shapes);
  check_shapes(any, {{1, 1000, 4097, 0}, {65, 257, 77, 3}, {200, 130, 1000, 5}});
}

TEST_CASE("every Hopper split-K variant (both tile heights, every width and split) equals the oracle", "[variants]") {
  // M = 1..200 (one 64-row tile, one 128-row tile, two of each), N not a multiple of any width, K
  // from one block to many turns of the deepest ring; strided rows.
  check_shapes(prepared(kernels::Family::kSm90SplitK),
               {{1, 1000, 4096, 0}, {17, 1000, 48, 32}, {33, 136, 16, 0}, {64, 520, 20480, 0}, {65, 520, 272, 16},
                {129, 300, 2000, 48}, {200, 1000, 48, 16}});
}

TEST_CASE("every Hopper persistent variant (every tile width, both schedules) equals the oracle", "[variants]") {
  // One row to several tiles per CTA (2048 x 2300: more tiles than SMs at every width; 2500 x 2600:
  // about 3 tiles of 128 x 128 per CTA, so each ping-pong warpgroup takes turns over several tiles,
  // 2 K blocks each, the ring wrapping at other places every tile), N edges of every width, K of one
  // block to 64 blocks; strided rows.
  check_shapes(prepared(kernels::Family::kSm90Wgmma),
               {{1, 1000, 4096, 0}, {129, 1000, 2000, 48}, {300, 4000, 1040, 0}, {257, 900, 8192, 16},
                {2048, 2300, 64, 0}, {2500, 2600, 208, 0}});
}
