// The cuBLASLt int8 methods (method.cuh):
//   cublaslt_int32   cublasLtMatmul int8 TN -> int32, CUBLAS_COMPUTE_32I: the fastest of the heuristic's
//                    top algorithms; timed once per shape (the same value on every dtype's row); null with
//                    cublaslt_note when cuBLASLt refuses the shape
//   cublaslt_scaled  the same GEMM followed by a separate scale kernel out = ((T)acc * rs[m]) * ws[n] in T
//                    (the contract's epilogue, contract.cuh): what a user writes without this library; its
//                    check compares the library's output with it on every element, bit for bit
#include "lt_gemm.cuh"

namespace sqbench {
namespace {

class LtInt32 final : public Method {
 public:
  explicit LtInt32(Env& env)
      : Method(keys::kLtInt32, Scope::kShape, true, {"cublaslt_algos_tried", "cublaslt_note"}), gemm_(env) {}

  bool setup(ShapeOperands& ops, const RowOperands*) override {
    const Shape& s = ops.shape();
    return gemm_.prepare({CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, true}, s.m, s.n, s.k, [&ops](int i) {
      const int j = ops.set(i);
      return LtOperands{ops.weight(j), ops.act(j), ops.acc(j)};
    });
  }
  void run(int i) override { gemm_.run(i); }
  void fields(Cell& cell) const override {
    cell.set("cublaslt_algos_tried", std::to_string(gemm_.algos_tried()));
    cell.set("cublaslt_note", gemm_.note().empty() ? "null" : json_str(gemm_.note()));
  }
  void teardown() override { gemm_.reset(); }
  bool ready() const { return gemm_.ready(); }

 private:
  LtGemm gemm_;
};

class LtScaled final : public Method {
 public:
  LtScaled(Env& env, LtInt32& gemm) : Method(keys::kLtScaled, Scope::kRow, true, {}), env_(env), gemm_(gemm) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    ops_ = &ops;
    row_ = row;
    return row != nullptr && gemm_.ready();
  }
  void run(int i) override {
    gemm_.run(i);
    scale(ops_->set(i), ops_->out(ops_->set(i)));
  }
  // Its output (GEMM and scale of set 0, into the second output buffer) against the library's.
  void check(CheckContext& cc) override {
    const size_t osz = row_->od.size, mn = ops_->mn();
    CK_CUDA(cudaMemsetAsync(ops_->ref(), kPoisonRef, osz * mn, env_.stream));
    gemm_.run(0);
    scale(0, ops_->ref());
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    if (cc.sq_out == nullptr) return;  // the library's output is not there to compare with
    unsigned long long first = 0;
    const unsigned long long nd = device_diff(env_, cc.sq_out, ops_->ref(), mn, osz, &first);
    cc.compared_full = true;
    if (nd) {
      ++cc.failures;
      const Shape& s = ops_->shape();
      std::fprintf(stderr, "CHECK FAIL %s m=%lld n=%lld k=%lld %s: %llu of %zu outputs differ from cuBLASLt + scale "
                   "(first at [%llu,%llu])\n", s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k,
                   row_->od.name, nd, mn, first / s.n, first % s.n);
    }
  }

 private:
  // The separate scale kernel: out = ((T)acc[j] * rs) * ws.
  void scale(int j, void* out) {
    const Shape& s = ops_->shape();
    contract::launch_scale(row_->od.type, ops_->acc(j), row_->row_scale, row_->weight_scale, out, s.m, s.n,
                           env_.stream);
  }

  Env& env_;
  LtInt32& gemm_;
  ShapeOperands* ops_ = nullptr;
  const RowOperands* row_ = nullptr;
};

}  // namespace

std::unique_ptr<Method> make_cublaslt_int32(Env& env) { return std::make_unique<LtInt32>(env); }

std::unique_ptr<Method> make_cublaslt_scaled(Env& env, Method& int32) {
  auto* g = dynamic_cast<LtInt32*>(&int32);
  if (g == nullptr) die("make_cublaslt_scaled: '%s' is not the cuBLASLt int32 method", int32.key().c_str());
  return std::make_unique<LtScaled>(env, *g);
}

}  // namespace sqbench
