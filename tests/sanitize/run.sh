#!/usr/bin/env bash
# The sanitizer steps of the test command (tests/run.sh runs this after ctest; issue 18):
#   1. ASan+UBSan build of the host code (clang; the CUDA kernels compiled by nvcc as always):
#      sq_tests, the C consumer, the thread tests, the fault-injection tests and the fuzz target's
#      corpus replay, then the libFuzzer target for SQ_FUZZ_SECONDS (120) over a copy of the corpus.
#   2. ThreadSanitizer build: sq_tests, the C consumer and the thread tests.
# Every step prints its wall time; any failure fails the script (after all steps ran). No GPU needed.
# Environment: SQ_SANITIZE_DIR (build directories' prefix, default build-sanitize), SQ_FUZZ_SECONDS.
set -uo pipefail
cd "$(dirname "$0")/../.."
prefix="${SQ_SANITIZE_DIR:-build-sanitize}"
fuzz_seconds="${SQ_FUZZ_SECONDS:-120}"
jobs="$(nproc)"
cc="$(command -v clang-14 || command -v clang)"
cxx="$(command -v clang++-14 || command -v clang++)"
failed=()
total_start=$(date +%s)

step() {  # step NAME COMMAND...: runs it, prints its time, records a failure
  local name=$1
  shift
  local t0
  t0=$(date +%s)
  echo "== [sanitize] ${name}: $*"
  "$@"
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then
    echo "== [sanitize] ${name}: passed in ${dt} s"
  else
    echo "== [sanitize] ${name}: FAILED (exit ${rc}) in ${dt} s"
    failed+=("${name}")
  fi
  return $rc
}

configure() {  # configure DIR SANITIZERS EXTRA...
  local dir=$1 san=$2
  shift 2
  mkdir -p "$dir"
  CC="$cc" CXX="$cxx" cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DCMAKE_CUDA_HOST_COMPILER="$(command -v g++)" \
    -DSQ_SANITIZE="$san" -DSQ_BUILD_BENCH=OFF -DSQ_BUILD_DEMO=OFF "$@" > "$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; return 1; }
}

# The runtime options: stop at the first report; leaks checked; the CUDA runtime (loaded where a GPU
# is) needs ASan's shadow gap unprotected.
export ASAN_OPTIONS="protect_shadow_gap=0:detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

# ---- 1. AddressSanitizer + UndefinedBehaviorSanitizer, and the fuzz target
asan="${prefix}-asan"
build_asan() {
  configure "$asan" address,undefined -DSQ_FUZZ_LIBFUZZER=ON &&
    cmake --build "$asan" -j "$jobs" --target sq_tests sq_c_consumer sq_thread_tests sq_fault_tests sq_fuzz_replay \
      sq_fuzz > "$asan/build.log" 2>&1 || { tail -50 "$asan/build.log"; return 1; }
}
if step asan-build build_asan; then
  step asan-host-tests "$asan/tests/sq_tests"
  step asan-c-consumer "$asan/tests/sq_c_consumer"
  step asan-thread-tests "$asan/tests/sq_thread_tests"
  step asan-fault-tests "$asan/tests/sq_fault_tests"
  step asan-fuzz-replay "$asan/tests/fuzz/sq_fuzz_replay" --random 5000 --seed 1818 tests/fuzz/corpus
  if [ -x "$asan/tests/fuzz/sq_fuzz" ]; then
    rm -rf "$asan/fuzz-corpus" "$asan/fuzz-artifacts"
    mkdir -p "$asan/fuzz-corpus" "$asan/fuzz-artifacts"
    cp tests/fuzz/corpus/* "$asan/fuzz-corpus/"
    step "libfuzzer-${fuzz_seconds}s" "$asan/tests/fuzz/sq_fuzz" "$asan/fuzz-corpus" -max_total_time="$fuzz_seconds" \
      -timeout=60 -rss_limit_mb=4096 -max_len=1024 -print_final_stats=1 -artifact_prefix="$asan/fuzz-artifacts/"
    echo "== [sanitize] fuzz corpus: $(ls tests/fuzz/corpus | wc -l) seeds in, $(ls "$asan/fuzz-corpus" | wc -l) inputs out"
  else
    echo "== [sanitize] libfuzzer: FAILED: sq_fuzz was not built (clang with libFuzzer missing?)"
    failed+=("libfuzzer-missing")
  fi
fi

# ---- 2. ThreadSanitizer
tsan="${prefix}-tsan"
build_tsan() {
  configure "$tsan" thread &&
    cmake --build "$tsan" -j "$jobs" --target sq_tests sq_c_consumer sq_thread_tests > "$tsan/build.log" 2>&1 ||
    { tail -50 "$tsan/build.log"; return 1; }
}
if step tsan-build build_tsan; then
  step tsan-host-tests "$tsan/tests/sq_tests"
  step tsan-c-consumer "$tsan/tests/sq_c_consumer"
  step tsan-thread-tests "$tsan/tests/sq_thread_tests"
fi

echo "== [sanitize] total: $(( $(date +%s) - total_start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== [sanitize] FAILED steps: ${failed[*]}"
  exit 1
fi
echo "== [sanitize] all steps passed"
