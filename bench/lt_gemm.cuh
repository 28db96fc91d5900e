// One cuBLASLt GEMM as the benchmark runs every cuBLASLt method (int8 -> int32, fp8 with per-token x
// per-channel scales -> bf16, bf16 -> bf16): TN, row-major operands seen as column-major,
//   D[N,M] = op(A)[N,K] * B[K,M]   with A = weight [N,K] (transposed), B = act [M,K], D = out [M,N],
// the fastest of the heuristic's top kHeuristicAlgos algorithms (each tried kAlgoTrialRuns runs on the
// rotated buffers), or none with a note saying why.
#pragma once

#include <cublasLt.h>

#include <functional>
#include <memory>
#include <string>

#include "method.cuh"

namespace sqbench {

#define CK_LT(call)                                                                       \
  do {                                                                                    \
    cublasStatus_t s_ = (call);                                                           \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                      \
      die("%s:%d: %s: cublasStatus %d", __FILE__, __LINE__, #call, static_cast<int>(s_)); \
  } while (0)

constexpr int kHeuristicAlgos = 8;  // cuBLASLt algorithms asked for and tried
constexpr size_t kLtWorkspaceBytes = size_t{64} << 20;
constexpr int kAlgoTrialRuns = 10;  // runs per cuBLASLt algorithm when choosing

// The handle and workspace every cuBLASLt method shares (made by the first, freed with the last).
struct LtContext {
  cublasLtHandle_t handle = nullptr;
  DevBuf workspace;
  LtContext();
  ~LtContext();
  static std::shared_ptr<LtContext> get();
};

// The device pointers of one run.
struct LtOperands {
  const void* a;  // weight [N,K]
  const void* b;  // act [M,K]
  void* d;        // out [M,N]
};

class LtGemm {
 public:
  struct Spec {
    cudaDataType ab;                // A and B
    cudaDataType cd;                // C and D
    cublasComputeType_t compute;
    bool int_scalars;               // alpha = 1, beta = 0 as int32 (CUBLAS_COMPUTE_32I), else float
    bool fast_accum = false;        // CUBLASLT_MATMUL_DESC_FAST_ACCUM (fp8)
    const float* a_scale = nullptr;  // fp8: CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F of A ([N]) ...
    const float* b_scale = nullptr;  //      ... and of B ([M]); both or neither
  };

  explicit LtGemm(Env& env) : env_(env) {}
  ~LtGemm() { reset(); }
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // Describes the GEMM, asks the heuristic, tries its algorithms on operands(i) and keeps the fastest.
  // False when no algorithm ran (note() says why).
  bool prepare(const Spec& spec, int64_t m, int64_t n, int64_t k, std::function<LtOperands(int)> operands);
  // Run i with the chosen algorithm (prepare returned true).
  void run(int i) { CK_LT(call(best_, operands_(i))); }
  bool ready() const { return best_ != nullptr; }
  int algos_tried() const { return tried_; }
  const std::string& note() const { return note_; }
  void reset();  // frees the descriptors

 private:
  cublasStatus_t call(const cublasLtMatmulAlgo_t* algo, const LtOperands& o);

  Env& env_;
  std::shared_ptr<LtContext> ctx_;  // taken at the first prepare (constructing a method touches no GPU)
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, lc_ = nullptr;
  cublasLtMatmulPreference_t pref_ = nullptr;
  cublasLtMatmulHeuristicResult_t heur_[kHeuristicAlgos] = {};
  const cublasLtMatmulAlgo_t* best_ = nullptr;
  std::function<LtOperands(int)> operands_;
  bool int_scalars_ = true;
  int tried_ = 0;
  std::string note_;
};

}  // namespace sqbench
