#!/usr/bin/env bash
# Builds the library and the tensor-parallel example sq_tp_mlp (examples/tp_mlp.cpp) and runs it
# with the arguments given (sq_tp_mlp --help lists them):
#     bash examples/run-tp.sh                    # NCCL, R = 1: checks and timings, Llama-3-8B MLP
#     bash examples/run-tp.sh --ranks 2          # NCCL over two GPUs (one process each, forked)
#     bash examples/run-tp.sh --simulate 2,4,8   # R virtual ranks on one GPU, no NCCL
#     bash examples/run-tp.sh --host --simulate 1,2,3,4   # the host reference kernels, no GPU
# NCCL: $NCCL_ROOT, else the nvidia-nccl-cu13 wheel of python3, else the CUDA toolkit or the system.
# NVLink multicast stays off: NCCL_NVLS_ENABLE=0 (exported here; the program sets it too).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
export NCCL_NVLS_ENABLE=0
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v ninja >/dev/null || missing+=(ninja-build)
command -v g++ >/dev/null || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v nvcc >/dev/null; then
  echo "error: nvcc not found: install the CUDA Toolkit (12.8 or later; /usr/local/cuda/bin is searched)" >&2
  exit 1
fi
if [ -z "${NCCL_ROOT:-}" ] && command -v python3 >/dev/null; then
  NCCL_ROOT=$(python3 -c 'import os, nvidia.nccl as m; print(os.path.dirname(m.__file__) if getattr(m, "__file__", None) else list(m.__path__)[0])' 2>/dev/null || true)
fi
build="${SQ_BUILD_DIR:-build-tp}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" \
  -DSQ_BUILD_TESTS=OFF -DSQ_BUILD_BENCH=OFF -DSQ_BUILD_DEMO=OFF -DSQ_BUILD_TP=ON \
  ${NCCL_ROOT:+"-DNCCL_ROOT=$NCCL_ROOT"}
cmake --build "$build" -j "$(nproc)" --target sq_tp_mlp
"$build/sq_tp_mlp" "$@"
