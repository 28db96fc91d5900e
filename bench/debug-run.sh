#!/usr/bin/env bash
# A focused device call (not the full device-run.sh): build, then the commands given as arguments, each
# timed, output to $OUT/debug.log and the terminal. Usage on the GPU machine, carrying .deps:
#     bash bench/debug-run.sh 'build-dev/tests/sq_gpu_tests "[v02]"' '...'
set -u
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT" /tmp/deps
for f in .deps/*.deb; do dpkg -x "$f" /tmp/deps; done
BUILD=${BUILD_DIR:-$PWD/build-dev}
t=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=/tmp/deps/usr \
  -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" >"$OUT/build.log" 2>&1 &&
  cmake --build "$BUILD" -j16 >>"$OUT/build.log" 2>&1 || { echo "BUILD FAILED"; grep -m5 -E "error" "$OUT/build.log"; }
echo "== build $(( $(date +%s) - t ))s"
for cmd in "$@"; do
  t=$(date +%s)
  echo "===== $cmd" | tee -a "$OUT/debug.log"
  timeout 240 bash -c "$cmd" >>"$OUT/debug.log" 2>&1
  echo "===== rc=$? $(( $(date +%s) - t ))s" | tee -a "$OUT/debug.log"
done
