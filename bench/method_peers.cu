// The peers users would pick instead of this library (issue 22), through cuBLASLt, on the same shape's
// operands converted (method.cuh), bf16 out, timed once per shape after its rows, interleaved with the
// library on bf16 (Scope::kPeer):
//   cublaslt_fp8_fast  e4m3 act [M,K] x e4m3 weight [N,K], per-token x per-channel f32 scales
//                      (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F on A and B), f32 compute with fast
//                      accumulation (CUBLASLT_MATMUL_DESC_FAST_ACCUM = 1), bf16 out: torch._scaled_mm
//                      rowwise with use_fast_accum=True
//   cublaslt_fp8       the same without fast accumulation (use_fast_accum=False)
//   cublaslt_bf16      bf16 act x bf16 weight (the int8 values times their scales), f32 compute, bf16 out:
//                      F.linear in bf16
// The same bf16 GEMM is also chain_bf16 (issue 20): timed on sq_chain's rows (chain_row) in their row group, beside
// the decode-step chain (method_engine.cu) and sq_dynamic: the bf16 layer an engine would run instead.
// Each is the fastest of cuBLASLt's heuristic's top algorithms, or null with <key>_note where cuBLASLt
// offers none (e.g. an fp8 K that is not a multiple of 16, or a GPU before sm_89). Their check is a
// sanity check, not the contract: sampled outputs against a double-precision reference of the same
// converted operands, <key>_rel_err = ||out - ref|| / ||ref|| over the samples (warned above kPeerTolerance,
// never a failure).
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "lt_gemm.cuh"

namespace sqbench {
namespace {

constexpr double kPeerTolerance = 5e-2;  // fp8 fast accumulation over K = 28672 stays well under this

double bf16_bits_to_double(uint16_t b) { return double(contract::bf16_to_float(b)); }
double fp8_to_double(uint8_t b) {
  __nv_fp8_e4m3 v;
  v.__x = b;
  return double(static_cast<float>(v));
}

class LtPeer final : public Method {
 public:
  enum class Kind { kFp8Fast, kFp8, kBf16, kChainBf16 };

  LtPeer(Env& env, Kind kind)
      : Method(key_of(kind), kind == Kind::kChainBf16 ? Scope::kRow : Scope::kPeer, kind != Kind::kChainBf16,
               {key_of(kind) + "_algos_tried", key_of(kind) + "_note", key_of(kind) + "_rel_err"}),
        env_(env), kind_(kind), gemm_(env) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    ops_ = &ops;
    rel_err_ = NAN;
    if (row == nullptr) return false;
    if (kind_ == Kind::kChainBf16 ? !chain_row(env_, ops, *row) : !row->peer_row) return false;
    if (kind_ != Kind::kChainBf16 && !env_.peers) {
      note_ = "not measured (--no-peers)";
      return false;
    }
    const Shape& s = ops.shape();
    const bool fp8 = kind_ == Kind::kFp8Fast || kind_ == Kind::kFp8;
    LtGemm::Spec spec{fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, false};
    spec.fast_accum = kind_ == Kind::kFp8Fast;
    if (fp8) {
      spec.a_scale = ops.weight_scale_f32();
      spec.b_scale = ops.token_scale_f32();
    }
    const bool ok = gemm_.prepare(spec, s.m, s.n, s.k, [&ops, fp8](int i) {
      const int j = ops.set(i);
      return fp8 ? LtOperands{ops.weight_fp8(j), ops.act_fp8(j), ops.out(j)}
                 : LtOperands{ops.weight_bf16(j), ops.act_bf16(j), ops.out(j)};
    });
    note_ = gemm_.note();
    return ok;
  }
  void run(int i) override { gemm_.run(i); }
  // A sanity check: poisoned output, one run on set 0, sampled elements against a double reference.
  void check(CheckContext& cc) override {
    const Shape& s = ops_->shape();
    cc.sq_out = nullptr;  // out(0) is overwritten here
    CK_CUDA(cudaMemsetAsync(ops_->out(0), kPoisonOut, 2 * ops_->mn(), env_.stream));
    gemm_.run(0);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    double err2 = 0.0, ref2 = 0.0;
    for (const auto& [m, n] : ops_->samples()) {
      double ref = 0.0;
      if (kind_ == Kind::kBf16 || kind_ == Kind::kChainBf16) {
        const std::vector<uint16_t> a = ops_->act_bf16_row(m), w = ops_->weight_bf16_row(n);
        for (int64_t k = 0; k < s.k; ++k) ref += bf16_bits_to_double(a[k]) * bf16_bits_to_double(w[k]);
      } else {
        const std::vector<uint8_t> a = ops_->act_fp8_row(m), w = ops_->weight_fp8_row(n);
        for (int64_t k = 0; k < s.k; ++k) ref += fp8_to_double(a[k]) * fp8_to_double(w[k]);
        ref *= double(float(ops_->token_scale()[m])) * double(float(ops_->weight_scale()[n]));
      }
      uint16_t got = 0;
      copy_to_host(env_.stream, &got, static_cast<const char*>(ops_->out(0)) + (size_t(m) * s.n + n) * 2, 1);
      const double g = bf16_bits_to_double(got);
      err2 += (g - ref) * (g - ref);
      ref2 += ref * ref;
    }
    rel_err_ = ref2 > 0 ? std::sqrt(err2 / ref2) : (err2 > 0 ? INFINITY : 0.0);
    if (!(rel_err_ <= kPeerTolerance))  // NaN (an unwritten or NaN output) too
      std::fprintf(stderr, "PEER CHECK %s %s m=%lld n=%lld k=%lld: relative error %.3g over the sampled outputs "
                   "(tolerance %.3g; reported, not a failure)\n", key().c_str(), s.tag.c_str(), (long long)s.m,
                   (long long)s.n, (long long)s.k, rel_err_, kPeerTolerance);
  }
  void fields(Cell& cell) const override {
    cell.set(key() + "_algos_tried", ops_ != nullptr && gemm_.algos_tried() > 0 ? std::to_string(gemm_.algos_tried())
                                                                                 : "0");
    cell.set(key() + "_note", note_.empty() ? "null" : json_str(note_));
    cell.set(key() + "_rel_err", std::isfinite(rel_err_) ? json_num(rel_err_, 6) : "null");
  }
  void teardown() override {
    gemm_.reset();
    note_.clear();
    rel_err_ = NAN;
  }

 private:
  static std::string key_of(Kind k) {
    return k == Kind::kFp8Fast ? keys::kFp8Fast : k == Kind::kFp8 ? keys::kFp8 : k == Kind::kBf16 ? keys::kBf16
                                                                                              : "chain_bf16";
  }

  Env& env_;
  Kind kind_;
  LtGemm gemm_;
  ShapeOperands* ops_ = nullptr;
  std::string note_;
  double rel_err_ = NAN;
};

}  // namespace

std::unique_ptr<Method> make_cublaslt_fp8(Env& env, bool fast_accum) {
  return std::make_unique<LtPeer>(env, fast_accum ? LtPeer::Kind::kFp8Fast : LtPeer::Kind::kFp8);
}
std::unique_ptr<Method> make_cublaslt_bf16(Env& env) { return std::make_unique<LtPeer>(env, LtPeer::Kind::kBf16); }
std::unique_ptr<Method> make_chain_bf16(Env& env) { return std::make_unique<LtPeer>(env, LtPeer::Kind::kChainBf16); }

}  // namespace sqbench
