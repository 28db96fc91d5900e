#!/usr/bin/env bash
# The test command (README, and what .ci/run calls): on a Debian machine with the CUDA toolkit,
# installs what is missing, builds everything, and runs the whole test suite with ctest.
# GPU tests (label "gpu") run when a GPU is present and are reported as skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin:${HOME:-/root}/.cargo/bin"

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v ninja >/dev/null || missing+=(ninja-build)
command -v g++ >/dev/null || missing+=(g++)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v abidw >/dev/null || missing+=(abigail-tools)
command -v go >/dev/null || missing+=(golang-go)
command -v cargo >/dev/null || missing+=(cargo)
command -v dpkg-deb >/dev/null || missing+=(dpkg-dev)
command -v file >/dev/null || missing+=(file)
[ -f /usr/lib/cmake/Catch2/Catch2Config.cmake ] || [ -f /usr/share/cmake/Catch2/Catch2Config.cmake ] || missing+=(catch2)
# The sanitizer builds and the fuzz target (tests/sanitize/run.sh): clang 14 with its sanitizer
# runtimes and libFuzzer.
command -v clang-14 >/dev/null || missing+=(clang-14)
[ -d /usr/lib/llvm-14/lib/clang ] && ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1 ||
  missing+=(libclang-rt-14-dev)
[ -f /usr/lib/llvm-14/lib/libFuzzer.a ] || missing+=(libfuzzer-14-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v nvcc >/dev/null; then
  echo "error: nvcc not found: install the CUDA Toolkit (12.8 or later; /usr/local/cuda/bin is searched)" >&2
  exit 1
fi

build="${SQ_BUILD_DIR:-build}"
jobs="$(nproc)"
t0=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$(command -v nvcc)"
cmake --build "$build" -j "$jobs"
t1=$(date +%s)
echo "== build: $((t1 - t0)) s"
ctest_rc=0
ctest --test-dir "$build" --output-on-failure -j "$jobs" || ctest_rc=$?
rc=$ctest_rc
t2=$(date +%s)
echo "== ctest: $((t2 - t1)) s"
# ctest shows a skipped test as "Skipped" only; say why the GPU tests were skipped.
if ! why=$("$build/tests/sq_gpu_tests" --list-test-names-only 2>&1); then
  echo "GPU tests (ctest label gpu) were skipped, not passed: ${why}"
  # The CUDA runtime says "driver version is insufficient" also when there is no driver at all.
  if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libcuda\.so\.1'; then
    echo "  (in plain words: no NVIDIA driver is installed on this machine, so no GPU can be used)"
  fi
fi
# Issue 18: the host path under ASan+UBSan and ThreadSanitizer, and the libFuzzer target for
# SQ_FUZZ_SECONDS (120) seconds; each step prints its time. A failure fails the test command.
# SQ_SKIP_SANITIZE=1 leaves them out explicitly (e.g. a GPU machine's run with a short time limit).
if [ "${SQ_SKIP_SANITIZE:-0}" = "1" ]; then
  echo "== sanitizer and fuzz steps SKIPPED (SQ_SKIP_SANITIZE=1)"
else
  SQ_SANITIZE_DIR="${build}-sanitize" bash tests/sanitize/run.sh || rc=1
fi
echo "== sanitizer and fuzz steps: $(($(date +%s) - t2)) s; total: $(($(date +%s) - t0)) s"
# A failed ctest entry again at the very end (its output scrolled far up under the sanitizer steps): the
# names, then the last lines each printed (ctest's own log of the run).
ctest_logs="$build/Testing/Temporary"
if [ "$ctest_rc" -ne 0 ] && [ -s "$ctest_logs/LastTestsFailed.log" ]; then
  echo "== ctest failures (again; full output above and in $ctest_logs/LastTest.log):"
  cat "$ctest_logs/LastTestsFailed.log"
  while IFS=: read -r _ name; do
    echo "---- $name: its last 40 lines"
    awk -v n="$name" '/^[0-9]+\/[0-9]+ Testing: / {on = ($3 == n)} on {print} index($0, "\"" n "\" time elapsed") == 1 {on = 0}' \
      "$ctest_logs/LastTest.log" | grep -v '^----------' | tail -40
  done < "$ctest_logs/LastTestsFailed.log"
fi
exit $rc
