#!/usr/bin/env bash
# One device call does everything: build, the whole test suite, compute-sanitizer, the benchmark (both shape
# sets), and on request the profiles, the sustained energy rows, sq_choice and the PyTorch peers.
# Run on the GPU machine from the repository root with $OUT set (the device tool's output folder),
# carrying .deps/ (../shared/device/fetch-deps.sh puts Catch2's .deb there):
#     bash bench/device-run.sh
# Environment (bench/README.md, "Running it"):
#   BENCH_ARGS      arguments for sq_bench (e.g. "--quick", "--no-heldout", "--filter llama3_8b_o --m 1,128")
#   SKIP_TESTS=1    skip ctest            SKIP_SANITIZER=1  skip compute-sanitizer
#   CTEST_ARGS      ctest's selection (default "-LE abi -E python_wheel -j 4": the abi label needs Debian
#                   tools the GPU machine lacks and the wheel test rebuilds the library; CI runs both)
#   SANITIZER_TOOLS compute-sanitizer tools (default "memcheck racecheck initcheck synccheck"), each run on
#                   the [sanitize] subsets of sq_gpu_tests and sq_quant_kernel_tests
#   SKIP_BENCH=1    skip the benchmark    BUILD_DIR         build folder (default /tmp/build)
#   PROFILE=1       also run bench/profile-limiters.sh (ncu, about 2 minutes) into limiters.txt, and
#                   sq_bench --energy on the power-limited large-M rows (ENERGY_ARGS, about a minute)
#                   into energy.json
#   CHOICE=1        also run sq_choice (every built variant against the plan's choice) on the held-out set
#                   (CHOICE_ARGS, default "bench/shapes_heldout.csv --dtypes bf16") into choice.json
#   SKIP_ENERGY=1   with PROFILE=1: the profiles only, no energy rows
#   PY_BENCH=1      also run python/bench/bench_overhead.py (the Python layer's host overhead, a decode step of a
#                   small random Llama; needs torch and transformers) into python_overhead.json
#   PEERS_TORCH=1   also run bench/peers_torch.py (torch._scaled_mm rowwise, F.linear, torch._int_mm + scale and
#                   the library through ctypes, in CUDA graphs; PEERS_TORCH_ARGS, default the held-out set) into
#                   peers_torch.json; skipped, not failed, where torch is missing
#   DEADLINE_S      seconds from the start after which no step may still run (default 570: the device tool
#                   stops a command at 600 s); a step that would pass it is stopped (timeout) and marked
#                   FAIL, so the summary is always written (sq_bench's JSON holds every shape it finished)
# Every step runs even when an earlier one failed (unless it needs what failed); the last lines are the
# summary; the exit status is non-zero when any step failed.
# Files under $OUT (the device tool returns at most 8): summary.txt, <gpu>.json, bench.log, logs.tgz (every
# other log: ctest, sanitizer, build when it failed, energy, choice, peers_torch; repacked after each step, so a
# run cut short keeps what it did), and with the options limiters.txt, energy.json, choice.json,
# peers_torch.json.
set -u

START=$(date +%s)
DEADLINE_S=${DEADLINE_S:-570}
SUMMARY_MARGIN_S=15  # kept for the summary
export OUT=${OUT:-$PWD/out}
BUILD=${BUILD_DIR:-/tmp/build}
DEPS=/tmp/deps
JOBS=16
LOGS=/tmp/device-run-logs  # packed into $OUT/logs.tgz after every step
mkdir -p "$OUT" "$LOGS"
declare -a STEPS=()
fail=0
pack_logs() { tar -czf "$OUT/logs.tgz" -C "$LOGS" . 2>/dev/null; }
record() {  # record NAME STATUS(PASS|FAIL|SKIP) [detail]
  STEPS+=("$(printf '%-10s %-4s %s' "$1" "$2" "${3:-}")")
  [ "$2" = FAIL ] && fail=1
  pack_logs
  return 0
}
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
# limited CMD...: CMD under `timeout` for the time left before DEADLINE_S (less the summary's margin);
# exit status 124 when it was stopped (or no time was left to start it).
limited() {
  local left=$(( DEADLINE_S - SUMMARY_MARGIN_S - ($(date +%s) - START) ))
  [ "$left" -gt 5 ] || return 124
  timeout --kill-after=10 "$left" "$@"
}
stopped() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; }

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
BUILD_LOG=/tmp/device-run-build.log  # into the logs only when the build fails
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
    echo "== build sq_bench and sq_choice alone" >>"$BUILD_LOG"
    cmake --build "$BUILD" -j"$JOBS" --target sq_bench sq_choice >>"$BUILD_LOG" 2>&1
  fi
else
  # The full project does not configure (a missing file?): the library and benchmark alone.
  echo "== configure failed; configure $BUILD-bench with tests and demo off" >>"$BUILD_LOG"
  BENCH_BIN=$BUILD-bench/bench/sq_bench
  configure "$BUILD-bench" -DSQ_BUILD_TESTS=OFF -DSQ_BUILD_DEMO=OFF -DSQ_BUILD_BENCH=ON \
      >>"$BUILD_LOG" 2>&1 &&
    cmake --build "$BUILD-bench" -j"$JOBS" --target sq_bench sq_choice >>"$BUILD_LOG" 2>&1
fi
first_error() { grep -m1 -E 'error|Error|FAILED' "$BUILD_LOG" | cut -c1-140; }
if [ $configured -ne 0 ]; then record build FAIL "configure failed: $(first_error)"
elif [ $built -ne 0 ]; then record build FAIL "$(first_error)"
else record build PASS "$(elapsed "$t")"; fi
[ $configured -eq 0 ] && [ $built -eq 0 ] || { cp "$BUILD_LOG" "$LOGS/build.log"; pack_logs; }

# ---- 3. the whole test suite
if [ "${SKIP_TESTS:-0}" = 1 ]; then record ctest SKIP "SKIP_TESTS=1"
elif [ $configured -ne 0 ]; then record ctest FAIL "not configured"
else
  t=$(date +%s)
  # The abi label (install, .deb, Rust/Go consumers, abidiff) needs Debian tools the GPU machine
  # lacks; CI runs it. Everything else runs here, the GPU suite included.
  # shellcheck disable=SC2086  # CTEST_ARGS is a list of words
  limited ctest --test-dir "$BUILD" --output-on-failure ${CTEST_ARGS:--LE abi -E python_wheel -j 4} \
      >"$LOGS/ctest.log" 2>&1
  rc=$?
  line=$(grep -E 'tests passed|tests failed' "$LOGS/ctest.log" | tail -1)
  if [ $rc -eq 0 ]; then record ctest PASS "$line ($(elapsed "$t"))"
  elif stopped $rc; then record ctest FAIL "stopped at the deadline ($(elapsed "$t"))"
  else record ctest FAIL "${line:-rc $rc} ($(elapsed "$t"))"; fi
fi

# ---- 4. compute-sanitizer on the reduced GPU set
if [ "${SKIP_SANITIZER:-0}" = 1 ]; then record sanitizer SKIP "SKIP_SANITIZER=1"
elif [ ! -x "$BUILD/tests/sq_gpu_tests" ]; then record sanitizer FAIL "no $BUILD/tests/sq_gpu_tests"
else
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  : >"$LOGS/sanitizer.log"
  bad=""
  tools=${SANITIZER_TOOLS:-memcheck racecheck initcheck synccheck}
  for tool in $tools; do
    for prog in sq_gpu_tests sq_quant_kernel_tests; do
      [ -x "$BUILD/tests/$prog" ] || continue
      t=$(date +%s)
      echo "== $tool $prog" >>"$LOGS/sanitizer.log"
      limited "$cs" --tool "$tool" --error-exitcode 99 "$BUILD/tests/$prog" "[sanitize]" \
          >>"$LOGS/sanitizer.log" 2>&1
      rc=$?
      echo "== $tool $prog rc=$rc ($(elapsed "$t"))" >>"$LOGS/sanitizer.log"
      [ $rc -eq 0 ] || bad="$bad $tool/$prog(rc $rc)"
    done
  done
  if [ -z "$bad" ]; then record sanitizer PASS "$tools clean"
  else record sanitizer FAIL "$bad"; fi
fi

# ---- 5. the benchmark
if [ "${SKIP_BENCH:-0}" = 1 ]; then record bench SKIP "SKIP_BENCH=1"
elif [ ! -x "$BENCH_BIN" ]; then record bench FAIL "no $BENCH_BIN (see build.log)"
else
  t=$(date +%s)
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of words
  limited "$BENCH_BIN" bench/shapes.csv ${BENCH_ARGS:-} >"$OUT/bench.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then record bench PASS "args: ${BENCH_ARGS:-none} ($(elapsed "$t"))"
  elif stopped $rc; then record bench FAIL "stopped at the deadline after $(elapsed "$t"); the JSON holds the shapes done"
  else record bench FAIL "rc $rc: $(grep -m1 -E 'error|FAIL' "$OUT/bench.log" | cut -c1-160)"; fi
fi

# ---- 6. optional: ncu of the kernels behind the unmet issue-5 rows (bench/profile-limiters.sh)
if [ "${PROFILE:-0}" = 1 ]; then
  t=$(date +%s)
  if BUILD_DIR="$BUILD" limited bash bench/profile-limiters.sh >/dev/null 2>&1 && [ -s "$OUT/limiters.txt" ]; then
    record profile PASS "limiters.txt ($(elapsed "$t"))"
  else record profile FAIL "bench/profile-limiters.sh (see limiters.txt)"; fi
  t=$(date +%s)
  [ "${SKIP_ENERGY:-0}" = 1 ] || {
  ENERGY_ARGS=${ENERGY_ARGS:---filter llama3_70b_gateup,llama3_70b_down,llama3_8b_gateup --m 2048,4096 --dtypes bf16 --no-dynamic --no-heldout}
  if [ -x "$BENCH_BIN" ]; then
    # shellcheck disable=SC2086  # ENERGY_ARGS is a list of words
    limited "$BENCH_BIN" bench/shapes.csv --energy $ENERGY_ARGS --json "$OUT/energy.json" >"$LOGS/energy.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -q '^=== energy' "$LOGS/energy.log"; then record energy PASS "energy.json ($(elapsed "$t"))"
    else record energy FAIL "rc $rc: $(grep -m1 -E 'error|FAIL|energy:' "$LOGS/energy.log" | cut -c1-160)"; fi
  else record energy FAIL "no $BENCH_BIN"; fi
  }
fi

# ---- 7. optional: the plan's choice against every built variant on the held-out set (sq_choice)
if [ "${CHOICE:-0}" = 1 ]; then
  t=$(date +%s)
  CHOICE_BIN=$(dirname "$BENCH_BIN")/sq_choice
  if [ -x "$CHOICE_BIN" ]; then
    # shellcheck disable=SC2086  # CHOICE_ARGS is a list of words
    limited "$CHOICE_BIN" ${CHOICE_ARGS:-bench/shapes_heldout.csv --dtypes bf16} --json "$OUT/choice.json" \
        >"$LOGS/choice.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then record choice PASS "$(grep -m1 "plan's choice within" "$LOGS/choice.log" | cut -c1-120) ($(elapsed "$t"))"
    elif stopped $rc; then record choice FAIL "stopped at the deadline ($(elapsed "$t"))"
    else record choice FAIL "rc $rc: $(grep -m1 -E 'error' "$LOGS/choice.log" | cut -c1-160)"; fi
  else record choice FAIL "no $CHOICE_BIN"; fi
fi

# ---- 8. optional: the PyTorch peers in CUDA graphs (bench/peers_torch.py); torch missing is a skip
if [ "${PEERS_TORCH:-0}" = 1 ]; then
  t=$(date +%s)
  LIB_DIR=$(dirname "$(dirname "$BENCH_BIN")")
  # shellcheck disable=SC2086  # PEERS_TORCH_ARGS is a list of words
  BUILD_DIR="$LIB_DIR" limited python3 bench/peers_torch.py ${PEERS_TORCH_ARGS:-} --json "$OUT/peers_torch.json" \
      >"$LOGS/peers_torch.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then record torch PASS "$(tail -1 "$LOGS/peers_torch.log" | cut -c1-120) ($(elapsed "$t"))"
  elif [ $rc -eq 77 ]; then record torch SKIP "$(tail -1 "$LOGS/peers_torch.log" | cut -c1-120)"
  elif stopped $rc; then record torch FAIL "stopped at the deadline ($(elapsed "$t")); peers_torch.json holds the shapes done"
  else record torch FAIL "rc $rc: $(grep -m1 -E 'Error|error' "$LOGS/peers_torch.log" | cut -c1-160)"; fi
fi

# ---- 9. optional: the Python package's host overhead and decode-step benchmark (python/bench/bench_overhead.py)
if [ "${PY_BENCH:-0}" = 1 ]; then
  t=$(date +%s)
  lib=$(ls "$BUILD"/libsmoothquant.so.0 2>/dev/null | head -1)
  SMOOTHQUANT_LIBRARY="$lib" limited python3 python/bench/bench_overhead.py --out "$OUT/python_overhead.json" \
      >"$LOGS/python_bench.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then record pybench PASS "python_overhead.json ($(elapsed "$t"))"
  elif [ $rc -eq 77 ]; then record pybench SKIP "$(tail -1 "$LOGS/python_bench.log" | cut -c1-120)"
  else record pybench FAIL "rc $rc: $(grep -m1 -E 'Error|error' "$LOGS/python_bench.log" | cut -c1-160)"; fi
fi

# ---- summary (last): the steps, the benchmark's summary lines and regime tables (the per-row compact tables
# stay in bench.log), the energy rows, sq_choice's and the PyTorch peers' last lines
{
  echo "==================== device-run summary ===================="
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1
  printf '%s\n' "${STEPS[@]}"
  if [ -f "$OUT/bench.log" ]; then
    echo "---- bench (the compact tables are in bench.log; summary lines:)"
    grep -E '^(=== compact|f64/f32 throughput|back-to-back:|plain read|isolated:|peer |batched decode|copy_tbps)' \
        "$OUT/bench.log" | cut -c1-400
    grep -E '^(CHECK FAIL|PEER CHECK|sq_bench:)' "$OUT/bench.log" | head -10
    json=$(grep -m1 '^json: ' "$OUT/bench.log" | cut -c7-)
    # a run stopped early prints no json line: its JSON is the one results file in $OUT
    [ -n "$json" ] || json=$(ls "$OUT"/*.json 2>/dev/null | grep -v -E '/(energy|choice|peers_torch)\.json$' | head -1)
    if [ -n "$json" ] && [ -f "$json" ]; then
      echo "---- bench/report.py (regimes; ratios are the other method's time / the library's)"
      python3 bench/report.py "$json" --table summary 2>&1
      python3 bench/report.py "$json" --table targets 2>&1
      base="bench/results/$(basename "$json")"  # the committed results of this GPU, when there are
      if [ -f "$base" ]; then
        echo "---- against the committed $base"
        python3 bench/report.py "$json" --compare "$base" 2>&1
      fi
    fi
  fi
  [ -f "$LOGS/energy.log" ] && sed -n '/^=== energy/,$p' "$LOGS/energy.log"
  [ -f "$LOGS/choice.log" ] && { echo "---- sq_choice"; sed -n "/plan's choice within/,\$p" "$LOGS/choice.log"; }
  [ -f "$LOGS/peers_torch.log" ] && { echo "---- peers_torch"; tail -3 "$LOGS/peers_torch.log"; }
  [ -f "$LOGS/python_bench.log" ] && { echo "---- python/bench/bench_overhead.py"; sed -n '/^Host time per linear/,$p' "$LOGS/python_bench.log" | grep -v '^ *File \|^Traceback' | head -40; }
  echo "wall time $(elapsed "$START") (deadline ${DEADLINE_S}s)"
  [ $fail -eq 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
} | tee "$OUT/summary.txt"
rm -f "$OUT"/*.tmp  # a JSON being rewritten when a step was stopped
pack_logs
exit $fail
