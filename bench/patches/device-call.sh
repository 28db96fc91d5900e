#!/usr/bin/env bash
# One device call on the binaries of pack-binaries.sh, for a patch of this folder: its own tests first, then
# the focused benchmark (FIT: a fit set; full workspace, then none; ROWS16=1: then the operands at 16-byte aligned
# strides), sq_choice on CHOICE_SET (and on each of CHOICE_EXTRA), ncu of
# PROFILE_ROWS (PROFILE=0: none), and the GPU suite beside compute-sanitizer on the [sanitize] subsets (CHOICE=0: no
# sq_choice). The logs and profiles come back packed in logs.tgz (the device tool returns at most 8 files). Each step writes its
# log under $OUT at once, so a call stopped at its limit still brings back what ran. From the repository root:
#     run(command="OUT=$OUT bash bench/patches/device-call.sh", carry=["build-carry"])
set -u
T0=$(date +%s)
el() { echo "$(( $(date +%s) - T0 ))s"; }
B=/tmp/bins
mkdir -p "$B" && tar -xJf build-carry/bins.tar.xz -C "$B" || { echo "untar failed"; exit 1; }
export LD_LIBRARY_PATH=$B:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PATH=$PATH:/usr/local/cuda/bin
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT"/gpu.txt 2>&1
echo "untar $(el)" >> "$OUT"/steps.txt
# 1. the patch's own tests first (TAG: a Catch2 tag both programs know)
TAG=${TAG:-[stage]}
$B/sq_variant_tests "$TAG" > "$OUT"/t_variants_own.log 2>&1; echo "variants $TAG rc=$? $(el)" >> "$OUT"/steps.txt
$B/sq_gpu_tests "$TAG" > "$OUT"/t_gpu_own.log 2>&1; echo "gpu $TAG rc=$? $(el)" >> "$OUT"/steps.txt
# 2. the benchmark on the fit set, the whole workspace then none (PEERS=0: without the peers' groups)
FIT=${FIT:-bench/shapes_fit_stage.csv}
A="--no-heldout --dtypes bf16,f32 --no-asym --no-engine --no-dynamic"
[ "${PEERS:-1}" = 1 ] || A="$A --no-peers"
timeout 150 $B/sq_bench $FIT $A --json "$OUT"/bench_full.json > "$OUT"/bench_full.log 2>&1; echo "bench full rc=$? $(el)" >> "$OUT"/steps.txt
timeout 100 $B/sq_bench $FIT $A --no-peers --sq-workspace none --json "$OUT"/bench_none.json > "$OUT"/bench_none.log 2>&1; echo "bench none rc=$? $(el)" >> "$OUT"/steps.txt
# 2a. ROWS16=1: the fit set again with the weight, then both operands, at 16-byte aligned strides [D-rows-in-place]
if [ "${ROWS16:-0}" = 1 ]; then
  for r in weight both; do
    timeout 100 $B/sq_bench $FIT $A --no-peers --sq-rows16 $r --json "$OUT"/bench_rows16_$r.json > "$OUT"/bench_rows16_$r.log 2>&1
    echo "bench rows16 $r rc=$? $(el)" >> "$OUT"/steps.txt
  done
fi
# 2b. sq_choice: every built variant launched directly beside the plan's choice (unstaged: no workspace)
CHOICE_SET=${CHOICE_SET:-bench/shapes_fit_align8.csv}
[ "${CHOICE:-1}" = 1 ] && timeout 120 $B/sq_choice $CHOICE_SET --dtypes bf16 --json "$OUT"/choice.json > "$OUT"/choice.log 2>&1; echo "choice rc=$? $(el)" >> "$OUT"/steps.txt
# 2b'. CHOICE_EXTRA: more sq_choice runs, ';'-separated "shapes.csv [options]" (bf16), as choice_extra_<i>.json
if [ -n "${CHOICE_EXTRA:-}" ]; then
  IFS=';' read -r -a extra <<< "$CHOICE_EXTRA"
  for i in "${!extra[@]}"; do
    timeout 120 $B/sq_choice ${extra[$i]} --dtypes bf16 --json "$OUT"/choice_extra_$i.json > "$OUT"/choice_extra_$i.log 2>&1
    echo "choice extra $i (${extra[$i]}) rc=$? $(el)" >> "$OUT"/steps.txt
  done
fi
# 2c. ncu of the rows in PROFILE_ROWS (profile-limiters.sh's filter strings; PROFILE=0: none)
if [ "${PROFILE:-1}" = 1 ]; then
  mkdir -p $B/bench && ln -sf $B/sq_prof $B/bench/sq_prof
  IFS=';' read -r -a rows <<< "${PROFILE_ROWS:-static odd_k3592 1024;static odd_k3592 256;dsv2lite_down_tp8 4096;wide_k4104 128}"
  for f in "${rows[@]}"; do
    d="$OUT"/prof_$(echo "$f" | tr ' ' '_'); mkdir -p "$d"
    OUT=$d BUILD_DIR=$B PROFILE_FILTER="$f" timeout 100 bash bench/profile-limiters.sh > /dev/null 2>&1
    echo "prof $f rc=$? $(el)" >> "$OUT"/steps.txt
  done
fi
# 3. the GPU suite, four at a time
(
  $B/sq_gpu_tests "[linear]" > "$OUT"/t_gpu_linear.log 2>&1; echo "gpu_linear rc=$? $(el)" >> "$OUT"/steps.txt
) &
(
  $B/sq_gpu_tests "[quantize]" > "$OUT"/t_gpu_quantize.log 2>&1; echo "gpu_quantize rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_gpu_tests "[graph]" > "$OUT"/t_gpu_graph.log 2>&1; echo "gpu_graph rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_gpu_tests "[fused]" > "$OUT"/t_gpu_fused.log 2>&1; echo "gpu_fused rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_llama_layer --require-gpu --reps 5 > "$OUT"/t_llama_layer.log 2>&1; echo "example_llama_layer_gpu rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_multi_gpu_tests > "$OUT"/t_multi_gpu.log 2>&1; echo "gpu2_devices rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_tp_mlp --simulate 2,4,8 --no-time > "$OUT"/t_tp_sim.log 2>&1; echo "tp_gpu_simulate rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_tp_mlp --ranks 1 --reps 5 --warmup 1 > "$OUT"/t_tp_r1.log 2>&1; echo "tp_gpu_r1 rc=$? $(el)" >> "$OUT"/steps.txt
) &
(
  $B/sq_variant_tests "[variants]" > "$OUT"/t_variants.log 2>&1; echo "sq_variant_tests rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_sm90_block_tests "[sm90]" > "$OUT"/t_blocks.log 2>&1; echo "sq_sm90_block_tests rc=$? $(el)" >> "$OUT"/steps.txt
) &
(
  $B/sq_fault_gpu_tests > "$OUT"/t_faults.log 2>&1; echo "sq_fault_gpu_tests rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_quant_kernel_tests "[quant_kernels]" > "$OUT"/t_quant.log 2>&1; echo "sq_quant_kernel_tests rc=$? $(el)" >> "$OUT"/steps.txt
  SMOOTHQUANT_TEST_PYTHON=python3 SMOOTHQUANT_LIBRARY=$B/libsmoothquant.so.0 bash python/tests/ctest.sh gpu > "$OUT"/t_python_gpu.log 2>&1; echo "python gpu rc=$? $(el)" >> "$OUT"/steps.txt
) &
(
  for tool in memcheck racecheck initcheck synccheck; do
    for prog in sq_gpu_tests sq_quant_kernel_tests; do
      compute-sanitizer --tool $tool --error-exitcode 99 $B/$prog "[sanitize]" > "$OUT"/san_${tool}_${prog}.log 2>&1
      echo "sanitizer $tool $prog rc=$? $(el)" >> "$OUT"/steps.txt
    done
  done
) &
wait
echo "all $(el)" >> "$OUT"/steps.txt
cat "$OUT"/steps.txt
grep -h -E 'test cases|assertions|FAILED' "$OUT"/t_*.log | head -20
# The device tool brings back at most 8 files: the logs and profiles go back as one archive, and the JSON files as
# another when there are more than five.
(cd "$OUT" && tar -czf /tmp/logs.tgz --exclude='*.json' --exclude=steps.txt --exclude=gpu.txt . && \
  find . -mindepth 1 ! -name '*.json' ! -name steps.txt ! -name gpu.txt -delete && mv /tmp/logs.tgz .)
if [ "$(ls "$OUT"/*.json 2>/dev/null | wc -l)" -gt 5 ]; then
  (cd "$OUT" && tar -czf json.tgz *.json && rm -f *.json)
fi
