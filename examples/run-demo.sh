#!/usr/bin/env bash
# The main job (README): on a Debian machine with the CUDA toolkit, installs what is missing,
# builds the library and the demo, and runs the demo: on the GPU when one is present, else on
# the host kernel (it says which).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
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
build="${SQ_BUILD_DIR:-build-demo}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" \
  -DSQ_BUILD_TESTS=OFF -DSQ_BUILD_BENCH=OFF
cmake --build "$build" -j "$(nproc)" --target sq_demo
"$build/sq_demo" "$@"
