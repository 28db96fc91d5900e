#!/usr/bin/env bash
# One device call does everything: build, the whole test suite, compute-sanitizer, the benchmark.
# Run on the GPU machine from the repository root with $OUT set (the device tool's output folder),
# carrying .deps/ (../shared/device/fetch-deps.sh puts Catch2's .deb there):
#     bash bench/device-run.sh
# Environment:
#   BENCH_ARGS      arguments for sq_bench (e.g. "--quick", "--filter llama3_8b_o --m 1,128")
#   SKIP_TESTS=1    skip ctest            SKIP_SANITIZER=1  skip compute-sanitizer
#   SKIP_BENCH=1    skip the benchmark    BUILD_DIR         build folder (default /tmp/build)
#   PROFILE=1       also run bench/profile-limiters.sh (ncu, about 2 minutes) into limiters.txt, and
#                   sq_bench --energy on the power-limited large-M rows (ENERGY_ARGS, about a minute)
#                   into energy.json and energy.log
# Every step runs even when an earlier one failed (unless it needs what failed); the last lines
# are the summary; the exit status is non-zero when any step failed.
# Files under $OUT (at most 8): ctest.log sanitizer.log bench.log <gpu>.json summary.txt, build.log
# when the build failed, and limiters.txt, energy.json, energy.log with PROFILE=1
set -u

OUT=${OUT:-$PWD/out}
BUILD=${BUILD_DIR:-/tmp/build}
DEPS=/tmp/deps
JOBS=16
mkdir -p "$OUT"
declare -a STEPS=()
fail=0
record() {  # record NAME STATUS(PASS|FAIL|SKIP) [detail]
  STEPS+=("$(printf '%-10s %-4s %s' "$1" "$2" "${3:-}")")
  [ "$2" = FAIL ] && fail=1
  return 0
}
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# ---- 1. dependencies (Catch2)
t=$(date +%s)
mkdir -p "$DEPS"
ndeb=0
for f in .deps/*.deb; do
  [ -e "$f" ] || continue
  dpkg -x "$f" "$DEPS" && ndeb=$((ndeb + 1))
done
if [ "$ndeb" -gt 0 ]; then record deps PASS "$ndeb .deb unpacked ($(elapsed "$t"))"
else record deps FAIL "no .deps/*.deb (carry .deps; run ../shared/device/fetch-deps.sh here first)"; fi

# ---- 2. configure + build
t=$(date +%s)
nvcc_path=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
tests_on=ON
[ "${SKIP_TESTS:-0}" = 1 ] && [ "${SKIP_SANITIZER:-0}" = 1 ] && tests_on=OFF
configure() {  # configure DIR [extra cmake args]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$DEPS/usr" \
        -DCMAKE_CUDA_COMPILER="$nvcc_path" "$@"
}
BENCH_BIN=$BUILD/bench/sq_bench
BUILD_LOG=/tmp/device-run-build.log  # copied to $OUT only when the build fails
echo "== configure $BUILD (SQ_BUILD_TESTS=$tests_on)" >"$BUILD_LOG"
configure "$BUILD" -DSQ_BUILD_TESTS=$tests_on -DSQ_BUILD_BENCH=ON >>"$BUILD_LOG" 2>&1
configured=$?
built=1
if [ $configured -eq 0 ]; then
  echo "== build all" >>"$BUILD_LOG"
  cmake --build "$BUILD" -j"$JOBS" >>"$BUILD_LOG" 2>&1
  built=$?
  if [ $built -ne 0 ]; then
    # Something else failed to build: still try the benchmark on its own.
    echo "== build sq_bench alone" >>"$BUILD_LOG"
    cmake --build "$BUILD" -j"$JOBS" --target sq_bench >>"$BUILD_LOG" 2>&1
  fi
else
  # The full project does not configure (a missing file?): the library and benchmark alone.
  echo "== configure failed; configure $BUILD-bench with tests and demo off" >>"$BUILD_LOG"
  BENCH_BIN=$BUILD-bench/bench/sq_bench
  configure "$BUILD-bench" -DSQ_BUILD_TESTS=OFF -DSQ_BUILD_DEMO=OFF -DSQ_BUILD_BENCH=ON \
      >>"$BUILD_LOG" 2>&1 &&
    cmake --build "$BUILD-bench" -j"$JOBS" --target sq_bench >>"$BUILD_LOG" 2>&1
fi
first_error() { grep -m1 -E 'error|Error|FAILED' "$BUILD_LOG" | cut -c1-140; }
if [ $configured -ne 0 ]; then record build FAIL "configure failed: $(first_error)"
elif [ $built -ne 0 ]; then record build FAIL "$(first_error)"
else record build PASS "$(elapsed "$t")"; fi
[ $configured -eq 0 ] && [ $built -eq 0 ] || cp "$BUILD_LOG" "$OUT/build.log"

# ---- 3. the whole test suite
if [ "${SKIP_TESTS:-0}" = 1 ]; then record ctest SKIP "SKIP_TESTS=1"
elif [ $configured -ne 0 ]; then record ctest FAIL "not configured"
else
  t=$(date +%s)
  # The abi label (install, .deb, Rust/Go consumers, abidiff) needs Debian tools the GPU machine
  # lacks; CI runs it. Everything else runs here, the GPU suite included.
  ctest --test-dir "$BUILD" --output-on-failure -LE abi >"$OUT/ctest.log" 2>&1
  rc=$?
  line=$(grep -E 'tests passed|tests failed' "$OUT/ctest.log" | tail -1)
  if [ $rc -eq 0 ]; then record ctest PASS "$line ($(elapsed "$t"))"
  else record ctest FAIL "${line:-rc $rc} ($(elapsed "$t"))"; fi
fi

# ---- 4. compute-sanitizer on the reduced GPU set
if [ "${SKIP_SANITIZER:-0}" = 1 ]; then record sanitizer SKIP "SKIP_SANITIZER=1"
elif [ ! -x "$BUILD/tests/sq_gpu_tests" ]; then record sanitizer FAIL "no $BUILD/tests/sq_gpu_tests"
else
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  : >"$OUT/sanitizer.log"
  bad=""
  for tool in memcheck racecheck initcheck synccheck; do
    t=$(date +%s)
    echo "== $tool" >>"$OUT/sanitizer.log"
    "$cs" --tool "$tool" --error-exitcode 99 "$BUILD/tests/sq_gpu_tests" "[sanitize]" \
        >>"$OUT/sanitizer.log" 2>&1
    rc=$?
    echo "== $tool rc=$rc ($(elapsed "$t"))" >>"$OUT/sanitizer.log"
    [ $rc -eq 0 ] || bad="$bad $tool(rc $rc)"
  done
  if [ -z "$bad" ]; then record sanitizer PASS "memcheck racecheck initcheck synccheck clean"
  else record sanitizer FAIL "$bad"; fi
fi

# ---- 5. the benchmark
if [ "${SKIP_BENCH:-0}" = 1 ]; then record bench SKIP "SKIP_BENCH=1"
elif [ ! -x "$BENCH_BIN" ]; then record bench FAIL "no $BENCH_BIN (see build.log)"
else
  t=$(date +%s)
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of words
  OUT="$OUT" "$BENCH_BIN" bench/shapes.csv ${BENCH_ARGS:-} >"$OUT/bench.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then record bench PASS "args: ${BENCH_ARGS:-none} ($(elapsed "$t"))"
  else record bench FAIL "rc $rc: $(grep -m1 -E 'error|FAIL' "$OUT/bench.log" | cut -c1-160)"; fi
fi

# ---- 6. optional: ncu of the kernels behind the unmet issue-5 rows (bench/profile-limiters.sh)
if [ "${PROFILE:-0}" = 1 ]; then
  t=$(date +%s)
  if BUILD_DIR="$BUILD" OUT="$OUT" bash bench/profile-limiters.sh >/dev/null 2>&1 && [ -s "$OUT/limiters.txt" ]; then
    record profile PASS "limiters.txt ($(elapsed "$t"))"
  else record profile FAIL "bench/profile-limiters.sh (see limiters.txt)"; fi
  t=$(date +%s)
  ENERGY_ARGS=${ENERGY_ARGS:---filter llama3_70b_gateup,llama3_70b_down,llama3_8b_gateup --m 2048,4096 --dtypes bf16 --no-dynamic}
  if [ -x "$BENCH_BIN" ]; then
    # shellcheck disable=SC2086  # ENERGY_ARGS is a list of words
    "$BENCH_BIN" bench/shapes.csv --energy $ENERGY_ARGS --json "$OUT/energy.json" >"$OUT/energy.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -q '^=== energy' "$OUT/energy.log"; then record energy PASS "energy.json ($(elapsed "$t"))"
    else record energy FAIL "rc $rc: $(grep -m1 -E 'error|FAIL|energy:' "$OUT/energy.log" | cut -c1-160)"; fi
  else record energy FAIL "no $BENCH_BIN"; fi
fi

# ---- summary (last)
{
  echo "==================== device-run summary ===================="
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1
  printf '%s\n' "${STEPS[@]}"
  if [ -f "$OUT/bench.log" ]; then
    echo "---- bench (compact)"
    sed -n '/^=== compact/,$p' "$OUT/bench.log"
    grep -E '^(CHECK FAIL|sq_bench:)' "$OUT/bench.log" | head -10
  fi
  [ -f "$OUT/energy.log" ] && sed -n '/^=== energy/,$p' "$OUT/energy.log"
  [ $fail -eq 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
} | tee "$OUT/summary.txt"
exit $fail
