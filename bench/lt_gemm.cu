// LtGemm (lt_gemm.cuh): one cuBLASLt GEMM with the algorithm chosen by trial.
#include "lt_gemm.cuh"

namespace sqbench {

LtContext::LtContext() {
  CK_LT(cublasLtCreate(&handle));
  workspace = DevBuf(kLtWorkspaceBytes);
}

LtContext::~LtContext() { cublasLtDestroy(handle); }

std::shared_ptr<LtContext> LtContext::get() {
  static std::weak_ptr<LtContext> shared;
  std::shared_ptr<LtContext> c = shared.lock();
  if (!c) {
    c = std::make_shared<LtContext>();
    shared = c;
  }
  return c;
}

void LtGemm::reset() {
  if (pref_) cublasLtMatmulPreferenceDestroy(pref_);
  if (la_) cublasLtMatrixLayoutDestroy(la_);
  if (lb_) cublasLtMatrixLayoutDestroy(lb_);
  if (lc_) cublasLtMatrixLayoutDestroy(lc_);
  if (op_) cublasLtMatmulDescDestroy(op_);
  pref_ = nullptr;
  la_ = lb_ = lc_ = nullptr;
  op_ = nullptr;
  best_ = nullptr;
  operands_ = nullptr;
  tried_ = 0;
  note_.clear();
}

cublasStatus_t LtGemm::call(const cublasLtMatmulAlgo_t* algo, const LtOperands& o) {
  const int32_t ialpha = 1, ibeta = 0;
  const float falpha = 1.0f, fbeta = 0.0f;
  const void* alpha = int_scalars_ ? static_cast<const void*>(&ialpha) : static_cast<const void*>(&falpha);
  const void* beta = int_scalars_ ? static_cast<const void*>(&ibeta) : static_cast<const void*>(&fbeta);
  return cublasLtMatmul(ctx_->handle, op_, alpha, o.a, la_, o.b, lb_, beta, o.d, lc_, o.d, lc_, algo,
                        ctx_->workspace.p, kLtWorkspaceBytes, env_.stream);
}

bool LtGemm::prepare(const Spec& spec, int64_t m, int64_t n, int64_t k, std::function<LtOperands(int)> operands) {
  reset();
  if (!ctx_) ctx_ = LtContext::get();
  operands_ = std::move(operands);
  int_scalars_ = spec.int_scalars;
  // Column-major view: D[N,M] = W^T (op T of [K,N]) * act[K,M].
  CK_LT(cublasLtMatmulDescCreate(&op_, spec.compute, spec.int_scalars ? CUDA_R_32I : CUDA_R_32F));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  CK_LT(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  CK_LT(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  if (spec.fast_accum) {
    const int8_t on = 1;
    CK_LT(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &on, sizeof on));
  }
  if (spec.a_scale != nullptr || spec.b_scale != nullptr) {
    // Per-row of A (our N) and per-column of B (our M) f32 scales: out = (a_scale[n] * b_scale[m]) * dot.
    const int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
    const cublasStatus_t s1 = cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode);
    const cublasStatus_t s2 = cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode);
    if (s1 != CUBLAS_STATUS_SUCCESS || s2 != CUBLAS_STATUS_SUCCESS) {
      note_ = "unsupported (this cuBLASLt has no outer-vector scale mode: status " + std::to_string(int(s1)) + ")";
      return false;
    }
    CK_LT(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &spec.a_scale, sizeof spec.a_scale));
    CK_LT(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &spec.b_scale, sizeof spec.b_scale));
  }
  CK_LT(cublasLtMatrixLayoutCreate(&la_, spec.ab, k, n, k));
  CK_LT(cublasLtMatrixLayoutCreate(&lb_, spec.ab, k, m, k));
  CK_LT(cublasLtMatrixLayoutCreate(&lc_, spec.cd, n, m, n));
  CK_LT(cublasLtMatmulPreferenceCreate(&pref_));
  const uint64_t ws_bytes = kLtWorkspaceBytes;
  CK_LT(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                             sizeof ws_bytes));
  int nheur = 0;
  const cublasStatus_t hs =
      cublasLtMatmulAlgoGetHeuristic(ctx_->handle, op_, la_, lb_, lc_, lc_, pref_, kHeuristicAlgos, heur_, &nheur);
  if (hs != CUBLAS_STATUS_SUCCESS || nheur == 0) {
    note_ = "unsupported (heuristic status " + std::to_string(int(hs)) + ", " + std::to_string(nheur) +
            " algorithms)";
    return false;
  }
  double best_us = INFINITY;
  for (int a = 0; a < nheur; ++a) {
    if (heur_[a].state != CUBLAS_STATUS_SUCCESS || heur_[a].workspaceSize > kLtWorkspaceBytes) continue;
    if (call(&heur_[a].algo, operands_(0)) != CUBLAS_STATUS_SUCCESS) continue;
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    ++tried_;
    const double us = median(env_.timer->time(kAlgoTrialRuns, [&](int i) { CK_LT(call(&heur_[a].algo, operands_(i))); }));
    if (us < best_us) {
      best_us = us;
      best_ = &heur_[a].algo;
    }
  }
  if (!best_) note_ = "unsupported (no heuristic algorithm ran)";
  return best_ != nullptr;
}

}  // namespace sqbench
