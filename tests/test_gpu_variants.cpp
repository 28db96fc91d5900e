// GPU tests of kernels/ below the plan: every variant of the registry (kernels/registry.hpp), the
// decode and portable ones on any GPU the library runs on, the Hopper ones (split-K and persistent) on
// sm_90, not only the ones the dispatch picks for the shapes of test_gpu_linear.cpp, launched directly
// with kernels::LinearParams and compared bit for bit with an oracle of the numerics contract written
// here (int64 sums of (a - za) * (w - zw), then the epilogue of test_util.hpp): every operand pair (S8 or
// U8 each), zero points off, per tensor, per row, per column and both, T in {f32, f64, f16, bf16} and the
// S32 accumulator output, static, per-row and per-tensor row scales, poisoned outputs. This program links
// the kernel objects themselves (their symbols are hidden in libsmoothquant.so).
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gpu_util.hpp"
#include "registry.hpp"
#include "stage_rows.hpp"
#include "test_util.hpp"

using namespace sqt;
namespace kernels = sq::kernels;
using kernels::Dtype;

namespace {

using Variants = std::vector<const kernels::KernelVariant*>;

// ---------------------------------------------------------------- operands
constexpr int kRandomBytes = -1;  // Operands fill: random bytes

const char* operand_name(Dtype t) { return t == Dtype::U8 ? "u8" : "s8"; }
int32_t value_of(Dtype t, uint8_t byte) { return t == Dtype::U8 ? byte : static_cast<int8_t>(byte); }
int32_t lowest(Dtype t) { return t == Dtype::U8 ? 0 : -128; }
int32_t highest(Dtype t) { return t == Dtype::U8 ? 255 : 127; }
uint8_t byte_of(int32_t v) { return static_cast<uint8_t>(v & 0xFF); }  // S8 or U8 value -> its byte

std::vector<uint8_t> random_bytes(size_t n) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(rng()));
  return v;
}

int32_t random_in(int32_t lo, int32_t hi) { return std::uniform_int_distribution<int32_t>(lo, hi)(rng()); }

// One shape's operand bytes on the host and the device, act [m, k] and weight [n, k] with row strides
// k + pad, each `offset` bytes past the start of its allocation (8: bases 8-byte but not 16-byte aligned);
// each case reads them as S8 or U8.
struct Operands {
  int64_t m, n, k, lda, ldw, offset;
  std::vector<uint8_t> act, w;
  DevBuf d_act, d_w;
  Operands(int64_t m_, int64_t n_, int64_t k_, int64_t pad, std::vector<uint8_t> act_, std::vector<uint8_t> w_,
           int64_t offset_ = 0)
      : m(m_), n(n_), k(k_), lda(k_ + pad), ldw(k_ + pad), offset(offset_), act(std::move(act_)), w(std::move(w_)),
        d_act(act.size() + static_cast<size_t>(offset)), d_w(w.size() + static_cast<size_t>(offset)) {
    REQUIRE(act.size() == static_cast<size_t>(m * lda));
    REQUIRE(w.size() == static_cast<size_t>(n * ldw));
    d_act.upload(act.data(), act.size(), static_cast<size_t>(offset));
    d_w.upload(w.data(), w.size(), static_cast<size_t>(offset));
  }
  // Random bytes, or every byte `fill_act` / `fill_w`.
  Operands(int64_t m_, int64_t n_, int64_t k_, int64_t pad, int fill_act = kRandomBytes, int fill_w = kRandomBytes,
           int64_t offset_ = 0)
      : Operands(m_, n_, k_, pad, bytes(m_ * (k_ + pad), fill_act), bytes(n_ * (k_ + pad), fill_w), offset_) {}
  // A shape {m, n, k, pad[, offset]} of the case lists, random bytes.
  explicit Operands(const std::vector<int64_t>& s)
      : Operands(s[0], s[1], s[2], s[3], kRandomBytes, kRandomBytes, s.size() > 4 ? s[4] : 0) {}
  const int8_t* act_ptr() const { return static_cast<const int8_t*>(d_act.p) + offset; }
  const int8_t* weight_ptr() const { return static_cast<const int8_t*>(d_w.p) + offset; }
  // The operand alignment of this layout (LinearShape::operand_align): what K, both bases and both strides meet.
  int32_t align() const {
    for (int32_t a : {kernels::kOperandAlign16, kernels::kOperandAlign8})
      if (k % a == 0 && lda % a == 0 && ldw % a == 0 && offset % a == 0) return a;  // allocations: 256-byte aligned
    return kernels::kOperandAlign1;
  }
  static std::vector<uint8_t> bytes(int64_t count, int fill) {
    return fill == kRandomBytes ? random_bytes(static_cast<size_t>(count))
                                : std::vector<uint8_t>(static_cast<size_t>(count), static_cast<uint8_t>(fill));
  }
};

// ---------------------------------------------------------------- zero points and the oracle's sums
enum class Zp {
  kOff,          // zero_points false
  kTensorZa,     // act_zp_value (weight_sums given, act_sums not)
  kRowZa,        // act_zp [m] (weight_sums given, act_sums not)
  kZw,           // weight_zp [n] (act_sums given, weight_sums not)
  kRowZaZw,      // act_zp [m] and weight_zp [n] (both sums)
  kTensorZaZw,   // act_zp_value and weight_zp [n] (both sums)
};
constexpr Zp kEveryZp[] = {Zp::kOff, Zp::kTensorZa, Zp::kRowZa, Zp::kZw, Zp::kRowZaZw, Zp::kTensorZaZw};
const char* zp_name(Zp z) {
  switch (z) {
    case Zp::kOff: return "off";
    case Zp::kTensorZa: return "za per tensor";
    case Zp::kRowZa: return "za per row";
    case Zp::kZw: return "zw";
    case Zp::kRowZaZw: return "za per row + zw";
    case Zp::kTensorZaZw: return "za per tensor + zw";
  }
  return "?";
}
bool has_za(Zp z) { return z != Zp::kOff && z != Zp::kZw; }
bool za_per_row(Zp z) { return z == Zp::kRowZa || z == Zp::kRowZaZw; }
bool has_zw(Zp z) { return z == Zp::kZw || z == Zp::kRowZaZw || z == Zp::kTensorZaZw; }
constexpr int32_t kRandomZp = std::numeric_limits<int32_t>::min();  // a random zero point in range

// One operand pair and zero-point configuration of a shape: the zero points, the row and column sums a
// caller passes (kernel_params.hpp: only those the formula needs), the oracle's accumulators
// acc[m*N+n] = sum_k (a - za[m]) * (w - zw[n]) (int64, checked to fit int32), and the device vectors.
struct Asym {
  Dtype at, wt;
  Zp zp;
  int32_t za_tensor = 0;
  std::vector<int32_t> za, zw;  // per row / per column, 0 where none
  std::vector<uint8_t> za_bytes, zw_bytes;
  std::vector<int32_t> act_sums, weight_sums;
  std::vector<int32_t> acc;
  DevBuf d_za, d_zw, d_act_sums, d_weight_sums;

  // za_value / zw_value: every row's / column's zero point, or kRandomZp (each drawn in its type's range).
  Asym(const Operands& o, Dtype at_, Dtype wt_, Zp zp_, int32_t za_value = kRandomZp, int32_t zw_value = kRandomZp)
      : at(at_), wt(wt_), zp(zp_), za(static_cast<size_t>(o.m), 0), zw(static_cast<size_t>(o.n), 0),
        za_bytes(static_cast<size_t>(o.m)), zw_bytes(static_cast<size_t>(o.n)),
        act_sums(static_cast<size_t>(o.m)), weight_sums(static_cast<size_t>(o.n)),
        d_za(static_cast<size_t>(o.m)), d_zw(static_cast<size_t>(o.n)),
        d_act_sums(static_cast<size_t>(o.m) * sizeof(int32_t)), d_weight_sums(static_cast<size_t>(o.n) * sizeof(int32_t)) {
    auto pick = [](Dtype t, int32_t v) { return v == kRandomZp ? random_in(lowest(t), highest(t)) : v; };
    if (has_za(zp)) {
      za_tensor = pick(at, za_value);
      for (auto& z : za) z = za_per_row(zp) ? pick(at, za_value) : za_tensor;
    }
    if (has_zw(zp))
      for (auto& z : zw) z = pick(wt, zw_value);
    for (size_t i = 0; i < za.size(); ++i) za_bytes[i] = byte_of(za[i]);
    for (size_t i = 0; i < zw.size(); ++i) zw_bytes[i] = byte_of(zw[i]);
    // The raw sums the caller passes: Sa[m] = sum_k a[m,k], Sw[n] = sum_k w[n,k].
    for (int64_t r = 0; r < o.m; ++r) {
      int64_t s = 0;
      for (int64_t c = 0; c < o.k; ++c) s += value_of(at, o.act[static_cast<size_t>(r * o.lda + c)]);
      act_sums[static_cast<size_t>(r)] = static_cast<int32_t>(s);
    }
    for (int64_t r = 0; r < o.n; ++r) {
      int64_t s = 0;
      for (int64_t c = 0; c < o.k; ++c) s += value_of(wt, o.w[static_cast<size_t>(r * o.ldw + c)]);
      weight_sums[static_cast<size_t>(r)] = static_cast<int32_t>(s);
    }
    d_za.upload(za_bytes.data(), za_bytes.size());
    d_zw.upload(zw_bytes.data(), zw_bytes.size());
    d_act_sums.upload(act_sums.data(), act_sums.size() * sizeof(int32_t));
    d_weight_sums.upload(weight_sums.data(), weight_sums.size() * sizeof(int32_t));
    acc = oracle(o);
  }

  // The contract's sum, term by term: the differences in int32, their products summed in int64.
  std::vector<int32_t> oracle(const Operands& o) const {
    const size_t k = static_cast<size_t>(o.k);
    std::vector<int32_t> a(static_cast<size_t>(o.m) * k), w(static_cast<size_t>(o.n) * k);
    for (int64_t r = 0; r < o.m; ++r)
      for (size_t c = 0; c < k; ++c)
        a[static_cast<size_t>(r) * k + c] = value_of(at, o.act[static_cast<size_t>(r * o.lda) + c]) - za[static_cast<size_t>(r)];
    for (int64_t r = 0; r < o.n; ++r)
      for (size_t c = 0; c < k; ++c)
        w[static_cast<size_t>(r) * k + c] = value_of(wt, o.w[static_cast<size_t>(r * o.ldw) + c]) - zw[static_cast<size_t>(r)];
    std::vector<int32_t> out(static_cast<size_t>(o.m * o.n));
    bool in_range = true;
    for (int64_t r = 0; r < o.m; ++r) {
      const int32_t* ar = &a[static_cast<size_t>(r) * k];
      for (int64_t c = 0; c < o.n; ++c) {
        const int32_t* wr = &w[static_cast<size_t>(c) * k];
        int64_t s = 0;
        for (size_t i = 0; i < k; ++i) s += static_cast<int64_t>(ar[i] * wr[i]);  // |product| <= 255 * 255
        in_range = in_range && s >= std::numeric_limits<int32_t>::min() && s <= std::numeric_limits<int32_t>::max();
        out[static_cast<size_t>(r * o.n + c)] = static_cast<int32_t>(s);
      }
    }
    REQUIRE(in_range);  // the contract's max_k: every exact sum fits int32
    return out;
  }

  // The zero-point fields of p: exactly what src/ passes for this configuration.
  void fill(kernels::LinearParams& p) const {
    p.act_type = at;
    p.weight_type = wt;
    p.zero_points = zp != Zp::kOff;
    p.act_zp = za_per_row(zp) ? d_za.p : nullptr;
    p.act_zp_value = has_za(zp) && !za_per_row(zp) ? za_tensor : 0;
    p.weight_zp = has_zw(zp) ? d_zw.p : nullptr;
    p.act_sums = has_zw(zp) ? static_cast<const int32_t*>(d_act_sums.p) : nullptr;
    p.weight_sums = has_za(zp) ? static_cast<const int32_t*>(d_weight_sums.p) : nullptr;
  }
};

// ---------------------------------------------------------------- outputs
// How a case passes the scales and lays out out.
enum class Mode {
  kPlain,         // no bias, the static act scale (and the fused scratch fill), packed out rows
  kRowScales,     // bias, one act scale per row from memory, out rows padded (vector stores)
  kScalarStores,  // bias, the static act scale and fill, out rows of N + 5 elements from an odd
                  // element offset: only element stores are aligned; programmatic set
  kPerTensor,     // bias, one act scale for every row from memory (row_scale_per_tensor), rows padded
};
constexpr Mode kEveryMode[] = {Mode::kPlain, Mode::kRowScales, Mode::kScalarStores, Mode::kPerTensor};
constexpr int64_t kRowPad = 8;      // kRowScales, kPerTensor: out row padding (elements)
constexpr int64_t kOddRowPad = 5;   // kScalarStores: out row padding (elements)
constexpr int64_t kGuardRows = 3;   // poisoned rows past M that must stay untouched
constexpr int64_t kScratchGuard = 64;
constexpr int kFloatPoison = 0xFF;  // NaN in every float dtype
constexpr int kS32Poison = 0xA5;    // 0xA5A5A5A5: an unlikely accumulator

// One output: T (or SQ_DTYPE_S32, the accumulator only: no scales, bias or scratch; kPlain or
// kScalarStores layouts) and the mode.
struct Out {
  sq_dtype t;
  Mode mode;
};
const char* out_name(sq_dtype t) { return t == SQ_DTYPE_S32 ? "s32" : dtype_str(t); }

// Index of the first differing element of two same-dtype buffers (bitwise), or -1.
int64_t first_difference(const Buf& a, const Buf& b) {
  REQUIRE(a.bytes.size() == b.bytes.size());
  if (std::memcmp(a.data(), b.data(), a.bytes.size()) == 0) return -1;
  return first_bit_difference(a, b);
}

// Every variant on one operand configuration and output against the oracle: every output element bit
// for bit, nothing written outside the output rows, the scratch filled exactly where it should be. Each
// variant's output is appended to *outputs when given.
void check(const Variants& variants, const Operands& o, const Asym& z, Out out, std::vector<Buf>* outputs = nullptr) {
  const sq_dtype t = out.t;
  const bool s32 = t == SQ_DTYPE_S32;
  const Mode mode = out.mode;
  REQUIRE((!s32 || mode == Mode::kPlain || mode == Mode::kScalarStores));
  const bool has_bias = !s32 && mode != Mode::kPlain;
  const bool scale_from_memory = mode == Mode::kRowScales || mode == Mode::kPerTensor;
  const bool fill = !s32 && !scale_from_memory;
  const int64_t ldo = o.n + (mode == Mode::kScalarStores ? kOddRowPad : mode == Mode::kPlain ? 0 : kRowPad);
  const int64_t out_offset = mode == Mode::kScalarStores ? 1 : 0;
  const size_t out_count = static_cast<size_t>((o.m + kGuardRows) * ldo + out_offset);
  const size_t es = dtype_size(t);
  const int poison = s32 ? kS32Poison : kFloatPoison;
  const sq_dtype scale_t = s32 ? SQ_DTYPE_F32 : t;  // unused for S32

  const Buf wscale = random_scales(scale_t, static_cast<size_t>(o.n));
  const Buf bias = random_values(scale_t, static_cast<size_t>(o.n), -4.0, 4.0);
  const Buf row_scale = random_scales(scale_t, mode == Mode::kPerTensor ? 1 : static_cast<size_t>(o.m));
  const Buf static_scale = random_scales(scale_t, 1);
  Buf ref(t, out_count);
  std::memset(ref.data(), poison, ref.bytes.size());
  if (s32) {
    for (int64_t r = 0; r < o.m; ++r)
      std::memcpy(ref.at(static_cast<size_t>(out_offset + r * ldo)), &z.acc[static_cast<size_t>(r * o.n)],
                  static_cast<size_t>(o.n) * es);
  } else {
    Buf oracle_scales(t, static_cast<size_t>(o.m));
    for (int64_t r = 0; r < o.m; ++r) {
      const void* scale = mode == Mode::kRowScales   ? row_scale.at(static_cast<size_t>(r))
                          : mode == Mode::kPerTensor ? row_scale.at(0)
                                                     : static_scale.data();
      std::memcpy(oracle_scales.at(static_cast<size_t>(r)), scale, es);
    }
    Buf ref_view(t, static_cast<size_t>(o.m * ldo));
    oracle_epilogue(o.m, o.n, z.acc, wscale, has_bias ? &bias : nullptr, oracle_scales, ref_view, ldo);
    for (int64_t r = 0; r < o.m; ++r)
      std::memcpy(ref.at(static_cast<size_t>(out_offset + r * ldo)), ref_view.at(static_cast<size_t>(r * ldo)),
                  static_cast<size_t>(o.n) * es);
  }

  DevBuf d_ws(wscale.bytes.size()), d_bias(bias.bytes.size()), d_rs(row_scale.bytes.size()),
      d_scratch((static_cast<size_t>(o.m) + kScratchGuard) * es), d_out(out_count * es);
  d_ws.upload(wscale.data(), wscale.bytes.size());
  d_bias.upload(bias.data(), bias.bytes.size());
  d_rs.upload(row_scale.data(), row_scale.bytes.size());
  kernels::LinearParams p{};
  p.m = static_cast<int32_t>(o.m);
  p.n = static_cast<int32_t>(o.n);
  p.k = static_cast<int32_t>(o.k);
  p.act = o.act_ptr();
  p.ld_act = o.lda;
  p.weight = o.weight_ptr();
  p.ld_weight = o.ldw;
  z.fill(p);
  p.weight_scale = s32 ? nullptr : d_ws.p;
  p.bias = has_bias ? d_bias.p : nullptr;
  p.row_scale = scale_from_memory ? d_rs.p : nullptr;
  p.row_scale_per_tensor = mode == Mode::kPerTensor;
  if (!s32) std::memcpy(&p.static_scale_bits, static_scale.data(), es);
  p.row_scale_out = fill ? d_scratch.p : nullptr;
  p.out = static_cast<char*>(d_out.p) + out_offset * es;
  p.ld_out = ldo;
  p.dtype = s32 ? Dtype::S32 : static_cast<Dtype>(t);
  // One mode also sets programmatic, as the static plan does on sm_90: the split-K variants then
  // launch as programmatic dependents, wait in the kernel and let the next launch start early.
  p.programmatic = mode == Mode::kScalarStores;

  Buf want_scratch(s32 ? SQ_DTYPE_F32 : t, static_cast<size_t>(o.m) + kScratchGuard);
  want_scratch.poison();
  if (fill)
    for (int64_t r = 0; r < o.m; ++r) std::memcpy(want_scratch.at(static_cast<size_t>(r)), static_scale.data(), es);
  for (const kernels::KernelVariant* v : variants) {
    CAPTURE(v->name, o.m, o.n, o.k, o.lda, o.offset, operand_name(z.at), operand_name(z.wt), zp_name(z.zp), out_name(t),
            static_cast<int>(mode));
    CUDA_REQUIRE(cudaMemset(d_out.p, poison, d_out.bytes));
    d_scratch.poison();
    CUDA_REQUIRE(v->launch(p, num_sms(), nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    Buf got(t, out_count), scratch(want_scratch.dtype, want_scratch.count());
    d_out.download(got.data(), got.bytes.size());
    d_scratch.download(scratch.data(), scratch.bytes.size());
    CHECK(first_difference(got, ref) == -1);
    CHECK(first_difference(scratch, want_scratch) == -1);
    if (outputs != nullptr) outputs->push_back(std::move(got));
  }
}

// ---------------------------------------------------------------- what the test cases run
constexpr Dtype kOperandTypes[] = {Dtype::S8, Dtype::U8};
constexpr sq_dtype kFloatTypes[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};
// The outputs of the asymmetric case every shape of the symmetric lists also runs.
const Out kAsymOnEveryShape[] = {{SQ_DTYPE_BF16, Mode::kRowScales},
                                 {SQ_DTYPE_F32, Mode::kPerTensor},
                                 {SQ_DTYPE_F64, Mode::kScalarStores},
                                 {SQ_DTYPE_S32, Mode::kPlain}};

// Per shape {m, n, k, row padding of act and weight[, base offset]}: symmetric s8 x s8 in every T and the three modes
// of 0.1 (the unchanged path), then u8 x u8 with per-row za and zw in kAsymOnEveryShape.
void check_shapes(const Variants& variants, const std::vector<std::vector<int64_t>>& shapes) {
  if (variants.empty()) return;
  for (const std::vector<int64_t>& s : shapes) {
    const Operands o(s);
    const Asym sym(o, Dtype::S8, Dtype::S8, Zp::kOff);
    for (sq_dtype t : kFloatTypes)
      for (Mode mode : {Mode::kPlain, Mode::kRowScales, Mode::kScalarStores}) check(variants, o, sym, {t, mode});
    const Asym asym(o, Dtype::U8, Dtype::U8, Zp::kRowZaZw);
    for (const Out& out : kAsymOnEveryShape) check(variants, o, asym, out);
  }
}

// Per shape: every operand pair x zero-point configuration x output type (four T and S32), the modes
// taking turns, so that every pair meets every configuration and every output, and every T every mode.
void check_matrix(const Variants& variants, const std::vector<std::vector<int64_t>>& shapes) {
  if (variants.empty()) return;
  for (const std::vector<int64_t>& s : shapes) {
    const Operands o(s);
    int turn = 0;  // one per configuration: T number i takes mode (turn + i) % 4
    for (Dtype at : kOperandTypes)
      for (Dtype wt : kOperandTypes)
        for (Zp zp : kEveryZp) {
          const Asym z(o, at, wt, zp);
          for (int i = 0; i < 4; ++i) check(variants, o, z, {kFloatTypes[i], kEveryMode[(turn + i) % 4]});
          check(variants, o, z, {SQ_DTYPE_S32, turn % 2 == 0 ? Mode::kPlain : Mode::kScalarStores});
          ++turn;
        }
  }
}

// Prepares every variant of `family` and returns it; an empty list (with a warning) where the current
// GPU is not one the family runs on.
Variants prepared(kernels::Family family) {
  const kernels::VariantSpan span = kernels::variants_of(family);
  REQUIRE(span.size() > 0);
  const bool hopper = span[0].min_sm == 90;
  if (hopper && !is_sm90()) {
    WARN("not an sm_90 GPU: the Hopper variants are not exercised");
    return {};
  }
  REQUIRE(kernels::prepare_variants(span) == cudaSuccess);
  Variants v;
  for (const kernels::KernelVariant& entry : span) v.push_back(&entry);
  return v;
}

// Every registered variant (those the GPU runs), for the cases over all families.
Variants every_variant() {
  Variants all;
  for (kernels::Family f : {kernels::Family::kDecode, kernels::Family::kSm80, kernels::Family::kSm90SplitK,
                            kernels::Family::kSm90Wgmma})
    for (const kernels::KernelVariant* v : prepared(f)) all.push_back(v);
  return all;
}

// The variants of `from` that take m rows and operands of alignment `align` (Operands::align).
Variants taking(const Variants& from, int64_t m, int32_t align) {
  Variants v;
  for (const kernels::KernelVariant* x : from)
    if (kernels::takes_m(*x, m) && kernels::takes_align(*x, align)) v.push_back(x);
  return v;
}

// Whether v reads operands of any alignment (the generic loader).
bool any_alignment(const kernels::KernelVariant* v) { return kernels::takes_align(*v, kernels::kOperandAlign1); }

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

TEST_CASE("every 8-byte-load decode variant on K % 16 == 8 with 8-byte (not 16-byte) aligned operands",
          "[variants][zero_points]") {
  // Tensor-parallel shards (K = 10944 / 8 = 1368) and the like: act and weight bases 8 bytes past a
  // 16-byte boundary, K % 16 == 8, so a lane's last 16-byte piece of a row is half inside K; packed rows
  // (ld = K, every other row 16-byte aligned) and rows padded by 16 (ld % 16 == 8). M across the token
  // buckets (every "_a8" variant that takes M); K = 8: one half piece only; K = 72: a whole chunk and a
  // half piece; K % 64 = 24, 40, 56 (K = 1368, 40, 1400): a chunk whose last lanes hold a half piece or
  // nothing inside K; N not a multiple of the 16-row CTAs. The kernels' row tiles and K windows: ld % 16
  // == 8 (even and odd rows in separate tiles, N not a multiple of their 32-row blocks), with the first
  // row 16-byte aligned (offset 0) or not; ld % 16 == 0 with every row 8 bytes past (offset 8, K window
  // shifted) or every row aligned (offset 0, only the tail split); K % 16 == 0 with ld % 16 == 8.
  constexpr int64_t kOffset8 = kernels::kOperandAlign8;  // bases 8-byte but not 16-byte aligned
  constexpr int64_t kPad16 = kernels::kOperandAlign16;   // keeps ld % 16 == 8
  constexpr int64_t kPad8 = kernels::kOperandAlign8;     // ld % 16 == 0 for K % 16 == 8, 8 for K % 16 == 0
  Variants a8;
  for (const kernels::KernelVariant* v : prepared(kernels::Family::kDecode))
    if (v->min_align == kernels::kOperandAlign8) a8.push_back(v);
  REQUIRE(a8.size() == 3);  // one per token bucket
  for (int64_t m : {1, 8, 17, 33, 64}) {
    const Variants v = taking(a8, m, kernels::kOperandAlign8);
    REQUIRE(!v.empty());
    const std::vector<std::vector<int64_t>> shapes = {
        {m, 2048, 1368, 0, kOffset8}, {m, 77, 8, kPad16, kOffset8}, {m, 300, 72, 0, kOffset8},
        {m, 530, 3592, kPad16, kOffset8}, {m, 61, 40, 0, kOffset8}, {m, 200, 1400, kPad16, kOffset8},
        {m, 45, 1368, 0, 0},           {m, 130, 1368, kPad8, kOffset8}, {m, 99, 3592, kPad8, 0},
        {m, 70, 32, kPad8, 0},         {m, 33, 96, kPad8, kOffset8}};
    for (const std::vector<int64_t>& s : shapes) REQUIRE(Operands(s).align() == kernels::kOperandAlign8);
    check_shapes(v, shapes);
    // Every operand pair x zero-point configuration x output.
    check_matrix(v, {{m, 130, 1032, 0, kOffset8}});
  }
}

TEST_CASE("every portable variant (large, medium, generic, the 8-byte loaders) equals the oracle", "[variants]") {
  // M = 1 to several tiles, N and K edges of every tile; the generic variant also on K and row strides
  // that are not multiples of 16 (the others need 16- or 8-byte aligned operands: below).
  Variants aligned, any;
  for (const kernels::KernelVariant* v : prepared(kernels::Family::kSm80)) (any_alignment(v) ? any : aligned).push_back(v);
  REQUIRE(!any.empty());
  const std::vector<std::vector<int64_t>> shapes = {{1, 1000, 4096, 0}, {129, 300, 2000, 48}, {300, 700, 1040, 16}};
  check_shapes(aligned, shapes);
  check_shapes(any, shapes);
  check_shapes(any, {{1, 1000, 4097, 0}, {65, 257, 77, 3}, {200, 130, 1000, 5}});
}

TEST_CASE("every portable 8-byte-load variant on K % 16 == 8 with 8-byte (not 16-byte) aligned operands",
          "[variants][zero_points]") {
  // The large and medium tiles filled by 8-byte cp.async [D-sm80-align8]: bases 8 bytes past a 16-byte
  // boundary, K % 16 == 8 (a 16-byte chunk of the tile half inside K at the row's end), packed rows (every
  // other row 16-byte aligned) and rows padded by 16 (ld % 16 == 8); K = 8: one piece; K = 72: a chunk and a
  // piece; M and N across tile edges.
  constexpr int64_t kOffset8 = kernels::kOperandAlign8;
  constexpr int64_t kPad16 = kernels::kOperandAlign16;
  Variants a8;
  for (const kernels::KernelVariant* v : prepared(kernels::Family::kSm80))
    if (v->min_align == kernels::kOperandAlign8) a8.push_back(v);
  REQUIRE(a8.size() == 2);
  const std::vector<std::vector<int64_t>> shapes = {{1, 2048, 1368, 0, kOffset8},
                                                    {65, 77, 8, kPad16, kOffset8},
                                                    {129, 300, 72, 0, kOffset8},
                                                    {300, 530, 3592, kPad16, kOffset8}};
  for (const std::vector<int64_t>& s : shapes) REQUIRE(Operands(s).align() == kernels::kOperandAlign8);
  check_shapes(a8, shapes);
  check_matrix(a8, {{129, 263, 1032, 0, kOffset8}});
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

TEST_CASE("every variant: every operand pair x zero-point configuration x output (four T and S32)",
          "[variants][zero_points]") {
  // Small shapes per family that still cross its M bucket / tile edges, odd N, partial K chunks and
  // blocks, strided rows.
  for (const kernels::KernelVariant* v : prepared(kernels::Family::kDecode)) {
    const int64_t max_m = v->max_m;
    check_matrix({v}, {{1, 130, 512, 0}, {max_m / 2 + 3, 72, 1040, 16}, {max_m, 201, 256, 0}});
  }
  Variants aligned, any;
  for (const kernels::KernelVariant* v : prepared(kernels::Family::kSm80)) (any_alignment(v) ? any : aligned).push_back(v);
  check_matrix(aligned, {{1, 300, 256, 0}, {129, 263, 1040, 16}});
  check_matrix(any, {{1, 300, 256, 0}, {129, 263, 1040, 16}, {70, 257, 77, 3}});
  check_matrix(prepared(kernels::Family::kSm90SplitK), {{17, 301, 1040, 0}, {65, 231, 272, 16}, {129, 136, 528, 0}});
  check_matrix(prepared(kernels::Family::kSm90Wgmma), {{1, 300, 256, 0}, {129, 1001, 1040, 16}, {300, 520, 400, 0}});
}

TEST_CASE("every variant at the zero-point plans' K limit (33025, u8 on both sides) with extreme values",
          "[variants][zero_points]") {
  // Every element and zero point at its extreme, so that every term of every sum is +-255 * 255 (or 0):
  // the sums reach +-255 * 255 * K, within 2^31 - 1 at K = 33025 (33024, the largest multiple of 16, for
  // the 16-byte aligned variants; 33016, the largest with K % 16 == 8, for the 8-byte-load decode
  // variants, which also run the 33024). Outputs: S32 (the exact accumulators) and f32.
  constexpr int64_t kMaxK = 33025;
  constexpr int64_t kMaxAlignedK = kMaxK / kernels::kOperandAlign16 * kernels::kOperandAlign16;
  constexpr int64_t kMaxAlign8K = kMaxAlignedK - kernels::kOperandAlign8;
  struct Extreme {
    Dtype at, wt;
    Zp zp;
    int act_byte, w_byte;
    int32_t za, zw;
  };
  const Extreme extremes[] = {
      {Dtype::U8, Dtype::U8, Zp::kOff, 255, 255, 0, 0},           // +255*255 per term, raw
      {Dtype::U8, Dtype::U8, Zp::kRowZaZw, 255, 255, 0, 0},       // zero points 0 given
      {Dtype::U8, Dtype::U8, Zp::kRowZaZw, 0, 0, 255, 255},       // +255*255 from the zero points alone
      {Dtype::U8, Dtype::U8, Zp::kRowZaZw, 255, 0, 0, 255},       // -255*255
      {Dtype::S8, Dtype::S8, Zp::kRowZaZw, 0x80, 127, 127, -128}, // (-128 - 127) * (127 + 128)
      {Dtype::S8, Dtype::S8, Zp::kOff, 0x80, 0x80, 0, 0},         // (-128) * (-128), raw
      {Dtype::S8, Dtype::U8, Zp::kTensorZaZw, 127, 0, -128, 255}, // (127 + 128) * (0 - 255)
      {Dtype::U8, Dtype::S8, Zp::kRowZaZw, 0, 0x80, 255, 127},    // (0 - 255) * (-128 - 127)
      {Dtype::U8, Dtype::U8, Zp::kRowZaZw, 0, 0, 0, 0},           // all zero
  };
  const Variants all = every_variant();
  for (int64_t k : {kMaxAlignedK, kMaxAlign8K, kMaxK}) {
    for (const Extreme& e : extremes) {
      const Operands o(13, 72, k, 0, e.act_byte, e.w_byte);
      const Asym z(o, e.at, e.wt, e.zp, e.za, e.zw);
      const Variants v = taking(all, o.m, o.align());
      check(v, o, z, {SQ_DTYPE_S32, Mode::kPlain});
      check(v, o, z, {SQ_DTYPE_F32, Mode::kRowScales});
    }
  }
}

TEST_CASE("a u8 weight with zero point 128 gives the bits of the s8 weight with its top bit flipped",
          "[variants][zero_points]") {
  // (w - 128) for w in [0, 255] is the s8 value of w ^ 0x80: both runs must store the same bits (and
  // the oracle's), with either activation type.
  const Variants all = every_variant();
  for (const std::vector<int64_t>& s : std::vector<std::vector<int64_t>>{{16, 200, 1040, 0}, {65, 330, 528, 16}}) {
    const int64_t m = s[0], n = s[1], k = s[2], pad = s[3];
    const std::vector<uint8_t> act = random_bytes(static_cast<size_t>(m * (k + pad)));
    std::vector<uint8_t> w = random_bytes(static_cast<size_t>(n * (k + pad)));
    std::vector<uint8_t> flipped(w);
    for (auto& b : flipped) b = static_cast<uint8_t>(b ^ 0x80);
    const Operands o_u8(m, n, k, pad, act, w), o_s8(m, n, k, pad, act, flipped);
    const Variants v = taking(all, m, o_u8.align());
    for (Dtype at : kOperandTypes) {
      const Asym with_zw(o_u8, at, Dtype::U8, Zp::kZw, kRandomZp, 128);
      const Asym plain(o_s8, at, Dtype::S8, Zp::kOff);
      REQUIRE(with_zw.acc == plain.acc);
      for (const Out& out : {Out{SQ_DTYPE_BF16, Mode::kRowScales}, Out{SQ_DTYPE_F32, Mode::kPlain},
                             Out{SQ_DTYPE_S32, Mode::kPlain}}) {
        // Both runs draw the same scales and bias.
        std::vector<Buf> got_zw, got_plain;
        const std::mt19937_64 draws = rng();
        check(v, o_u8, with_zw, out, &got_zw);
        rng() = draws;
        check(v, o_s8, plain, out, &got_plain);
        REQUIRE(got_zw.size() == got_plain.size());
        for (size_t i = 0; i < got_zw.size(); ++i) {
          CAPTURE(v[i]->name, operand_name(at), out_name(out.t));
          CHECK(first_difference(got_zw[i], got_plain[i]) == -1);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- the staging copy
namespace {

// One matrix of the staging copy: `rows` rows of k random bytes at row stride k + pad, `offset` bytes past
// its allocation's start (the allocation ends with the last row's k-th byte: a read past it is a fault
// compute-sanitizer names); its destination poisoned.
struct StageSide {
  int64_t rows, ld_src, offset;
  std::vector<uint8_t> src;
  DevBuf d_src, d_dst;
  StageSide(int64_t rows_, int64_t k, int64_t pad, int64_t offset_, int64_t ld_dst)
      : rows(rows_), ld_src(k + pad), offset(offset_), src(random_bytes(static_cast<size_t>((rows_ - 1) * (k + pad) + k))),
        d_src(src.size() + offset_), d_dst(static_cast<size_t>(rows_ * ld_dst)) {
    d_src.upload(src.data(), src.size(), static_cast<size_t>(offset_));
    d_dst.poison();
  }
  kernels::StageMatrix matrix(int64_t ld_dst) const {
    return {static_cast<const int8_t*>(d_src.p) + offset, ld_src, static_cast<int8_t*>(d_dst.p), ld_dst,
            static_cast<int32_t>(rows)};
  }
  // Columns [0, k) hold the source row, [k, k_pad) zeros, [k_pad, ld_dst) the poison.
  void check(int64_t k, int64_t k_pad, int64_t ld_dst) const {
    std::vector<uint8_t> got(static_cast<size_t>(rows * ld_dst));
    d_dst.download(got.data(), got.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < ld_dst; ++c) {
        const uint8_t want = c < k ? src[r * ld_src + c] : c < k_pad ? 0 : 0xFF;
        if (got[r * ld_dst + c] != want) {
          INFO("row " << r << " col " << c << ": got " << int(got[r * ld_dst + c]) << ", want " << int(want));
          REQUIRE(got[r * ld_dst + c] == want);
        }
      }
  }
};

}  // namespace

TEST_CASE("stage_rows copies rows of any alignment to the staging stride, zeros in [K, K_pad), nothing past",
          "[variants][stage]") {
  // [D-stage-unaligned] K of every residue mod 16 (and one multiple of 16), strides K + pad, bases at every
  // offset mod 16; the weight and the activations in one launch, or one matrix alone.
  REQUIRE(kernels::stage_rows_prepare() == cudaSuccess);
  const int64_t ks[] = {1, 7, 8, 15, 16, 17, 100, 1368, 3592, 4100};
  int i = 0;
  for (int64_t k : ks) {
    const int64_t k_pad = (k + kernels::kStageColAlign - 1) / kernels::kStageColAlign * kernels::kStageColAlign;
    const int64_t ld_dst =
        (k + kernels::kStageStrideAlign - 1) / kernels::kStageStrideAlign * kernels::kStageStrideAlign;
    for (int64_t rows_w : {1, 37, 300}) {
      const int64_t rows_a = (i % 3) * 65;  // 0: the weight alone
      const int64_t pad_w = i % 4 == 0 ? 0 : i % 7, pad_a = i % 5;
      const int64_t off_w = i % 16, off_a = (3 * i + 1) % 16;
      ++i;
      CAPTURE(k, rows_w, rows_a, pad_w, pad_a, off_w, off_a);
      StageSide w(rows_w, k, pad_w, off_w, ld_dst);
      std::unique_ptr<StageSide> a;
      if (rows_a > 0) a = std::make_unique<StageSide>(rows_a, k, pad_a, off_a, ld_dst);
      kernels::StageParams p{};
      p.matrix[0] = w.matrix(ld_dst);
      if (a) p.matrix[1] = a->matrix(ld_dst);
      p.k = static_cast<int32_t>(k);
      p.k_pad = static_cast<int32_t>(k_pad);
      p.programmatic = false;
      CUDA_REQUIRE(kernels::launch_stage_rows(p, nullptr));
      CUDA_REQUIRE(cudaDeviceSynchronize());
      w.check(k, k_pad, ld_dst);
      if (a) a->check(k, k_pad, ld_dst);
    }
  }
}
