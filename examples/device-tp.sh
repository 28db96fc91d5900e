#!/usr/bin/env bash
# Issue 23 on a GPU machine in one call (from the repository root, $OUT set, .deps carried for
# Catch2 as bench/device-run.sh explains; without .deps the device-rule tests are not built):
#     bash examples/device-tp.sh
# Builds sq_tp_mlp and sq_multi_gpu_tests, then runs
#   1. sq_tp_mlp --ranks R       for R = 1, 2, 4, 8 up to the number of GPUs: NCCL, checks, timings
#   2. sq_tp_mlp --simulate 2,4,8: the same checks for R virtual ranks on GPU 0 (the all-reduces on
#      the host), and rank 0's compute per step at each R
#   3. sq_tp_mlp --simulate 1,2,4 --nan-token: a NaN token through the whole MLP on every path
#   4. with two GPUs or more: sq_multi_gpu_tests (the plan's device rules), and the largest R again
#      under NCCL_PROTO=LL and NCCL_PROTO=Simple (the exact path must not care how NCCL moves data)
# Files under $OUT: tp.log (everything the programs print), tp-build.log; the summary is the end of
# tp.log and of stdout. Exit status non-zero when any step failed (a skip is not a failure).
# NVLink multicast stays off: NCCL_NVLS_ENABLE=0 is exported here and set by the program.
set -u
export NCCL_NVLS_ENABLE=0
OUT=${OUT:-$PWD/out}
BUILD=${BUILD_DIR:-/tmp/build-tp}
DEPS=/tmp/deps
mkdir -p "$OUT" "$DEPS"
LOG="$OUT/tp.log"
: >"$LOG"
declare -a SUMMARY=()
fail=0
step() {  # step NAME COMMAND...: runs it, appends its output to tp.log and stdout, records the result
  local name=$1 rc
  shift
  echo "== $name: $*" | tee -a "$LOG"
  local t=$(date +%s)
  "$@" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  local verdict=PASS
  if [ "$rc" -eq 77 ]; then verdict=SKIP; elif [ "$rc" -ne 0 ]; then verdict=FAIL; fail=1; fi
  SUMMARY+=("$(printf '%-28s %-4s rc=%-3s %ss' "$name" "$verdict" "$rc" "$(( $(date +%s) - t ))")")
}

ndeb=0
for f in .deps/*.deb; do
  [ -e "$f" ] || continue
  dpkg -x "$f" "$DEPS" && ndeb=$((ndeb + 1))
done
tests=OFF
[ "$ndeb" -gt 0 ] && tests=ON
if [ -z "${NCCL_ROOT:-}" ]; then
  NCCL_ROOT=$(python3 -c 'import os, nvidia.nccl as m; print(os.path.dirname(m.__file__) if getattr(m, "__file__", None) else list(m.__path__)[0])' 2>/dev/null || true)
fi
echo "NCCL_ROOT=${NCCL_ROOT:-(not found: CMake searches the CUDA toolkit and the system)}, tests=$tests" | tee -a "$LOG"
nvidia-smi -L 2>&1 | tee -a "$LOG"
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)

targets=(sq_tp_mlp)
[ "$tests" = ON ] && targets+=(sq_multi_gpu_tests)
t=$(date +%s)
if cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$DEPS/usr" \
     -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" -DSQ_BUILD_TESTS=$tests \
     -DSQ_BUILD_BENCH=OFF -DSQ_BUILD_TP=ON ${NCCL_ROOT:+"-DNCCL_ROOT=$NCCL_ROOT"} >"$OUT/tp-build.log" 2>&1 &&
   cmake --build "$BUILD" -j 16 --target "${targets[@]}" >>"$OUT/tp-build.log" 2>&1; then
  SUMMARY+=("$(printf '%-28s %-4s %ss' build PASS "$(( $(date +%s) - t ))")")
  grep 'sq_tp_mlp: NCCL' "$OUT/tp-build.log" | tee -a "$LOG"
else
  tail -40 "$OUT/tp-build.log"
  echo "build FAIL (see tp-build.log)"
  exit 1
fi
TP="$BUILD/sq_tp_mlp"

rmax=1
for r in 1 2 4 8; do
  [ "$r" -le "$ngpu" ] || break
  step "nccl R=$r" "$TP" --ranks "$r"
  rmax=$r
done
step "simulate R=2,4,8" "$TP" --simulate 2,4,8
step "simulate NaN token" "$TP" --simulate 1,2,4 --nan-token --no-time --m 1,16,128
if [ "$ngpu" -ge 2 ]; then
  if [ "$tests" = ON ]; then
    step "device rules (2 GPUs)" "$BUILD/tests/sq_multi_gpu_tests"
  else
    SUMMARY+=("device rules (2 GPUs)        SKIP (no .deps: Catch2 missing, tests not built)")
  fi
  NCCL_PROTO=LL step "nccl R=$rmax NCCL_PROTO=LL" "$TP" --ranks "$rmax" --no-time
  NCCL_PROTO=Simple step "nccl R=$rmax NCCL_PROTO=Simple" "$TP" --ranks "$rmax" --no-time
else
  SUMMARY+=("device rules, NCCL protocols SKIP (GPUs: $ngpu)")
fi
echo "== summary" | tee -a "$LOG"
printf '%s\n' "${SUMMARY[@]}" | tee -a "$LOG"
exit $fail
