#!/usr/bin/env bash
# Call M1 (sixteenth session): the multicast twins. Their tests first (timeouts: a hang is a result), then an
# sq_bench A/B of the dispatch (A: main's; B: the twin of the persistent choice), sq_choice at large M; the GPU suite and compute-sanitizer.
set -u
T0=$(date +%s); el() { echo "$(( $(date +%s) - T0 ))s"; }
B=/tmp/bins; rm -rf $B; mkdir -p "$B" && tar -xJf build-carry/bins.tar.xz -C "$B" || { echo "untar failed"; exit 1; }
LB=/tmp/lib_b; rm -rf $LB; mkdir -p $LB && cp build-carry/lib_b/libsmoothquant.so.0 $LB/
export PATH=$PATH:/usr/local/cuda/bin
LA=$B:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
LBP=$LB:$B:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export LD_LIBRARY_PATH=$LA
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$OUT"/gpu.txt 2>&1
timeout 150 $B/sq_variant_tests "every Hopper persistent variant*" > "$OUT"/t_persist.log 2>&1; echo "persist test rc=$? $(el)" >> "$OUT"/steps.txt
timeout 150 $B/sq_variant_tests "every variant: every operand pair*" > "$OUT"/t_matrix.log 2>&1; echo "matrix test rc=$? $(el)" >> "$OUT"/steps.txt
grep -h -E 'test cases|assertions|FAILED' "$OUT"/t_*.log | head
BA="--m 256,1024,2048,4096,8192 --dtypes bf16,f32 --no-dynamic --no-peers --no-asym --no-engine"
timeout 170 $B/sq_bench $BA --json "$OUT"/ab_A1.json > "$OUT"/ab_A1.log 2>&1; echo "bench A1 rc=$? $(el)" >> "$OUT"/steps.txt
LD_LIBRARY_PATH=$LBP timeout 170 $B/sq_bench $BA --json "$OUT"/ab_B1.json > "$OUT"/ab_B1.log 2>&1; echo "bench B1 rc=$? $(el)" >> "$OUT"/steps.txt
timeout 70 $B/sq_choice bench/shapes.csv --dtypes bf16 --m 2048,4096,8192 --screen 1.3 --json "$OUT"/choice_main.json > "$OUT"/choice_main.log 2>&1; echo "choice main rc=$? $(el)" >> "$OUT"/steps.txt
( $B/sq_gpu_tests "[linear]" > "$OUT"/t_gpu_linear.log 2>&1; echo "gpu_linear rc=$? $(el)" >> "$OUT"/steps.txt ) &
( for t in "[quantize]" "[graph]" "[fused]"; do $B/sq_gpu_tests "$t" > "$OUT"/t_gpu_${t//[\[\]]/}.log 2>&1; echo "gpu $t rc=$? $(el)" >> "$OUT"/steps.txt; done
  $B/sq_llama_layer --require-gpu --reps 5 > "$OUT"/t_llama_layer.log 2>&1; echo "llama_layer rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_multi_gpu_tests > "$OUT"/t_multi_gpu.log 2>&1; echo "multi_gpu rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_tp_mlp --simulate 2,4,8 --no-time > "$OUT"/t_tp_sim.log 2>&1; echo "tp_sim rc=$? $(el)" >> "$OUT"/steps.txt
  SMOOTHQUANT_TEST_PYTHON=python3 SMOOTHQUANT_LIBRARY=$B/libsmoothquant.so.0 bash python/tests/ctest.sh gpu > "$OUT"/t_python_gpu.log 2>&1; echo "python gpu rc=$? $(el)" >> "$OUT"/steps.txt ) &
( $B/sq_variant_tests "[variants]" > "$OUT"/t_variants.log 2>&1; echo "variants rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_sm90_block_tests "[sm90]" > "$OUT"/t_blocks.log 2>&1; echo "blocks rc=$? $(el)" >> "$OUT"/steps.txt ) &
( $B/sq_fault_gpu_tests > "$OUT"/t_faults.log 2>&1; echo "faults rc=$? $(el)" >> "$OUT"/steps.txt
  $B/sq_quant_kernel_tests "[quant_kernels]" > "$OUT"/t_quant.log 2>&1; echo "quant rc=$? $(el)" >> "$OUT"/steps.txt
  for tool in memcheck racecheck initcheck; do
    timeout 120 compute-sanitizer --tool $tool --error-exitcode 99 $B/sq_variant_tests "every Hopper persistent variant*" > "$OUT"/san_${tool}_persist.log 2>&1
    echo "sanitizer $tool persist rc=$? $(el)" >> "$OUT"/steps.txt; done ) &
( for tool in memcheck racecheck initcheck synccheck; do for prog in sq_gpu_tests sq_quant_kernel_tests; do
    compute-sanitizer --tool $tool --error-exitcode 99 $B/$prog "[sanitize]" > "$OUT"/san_${tool}_${prog}.log 2>&1
    echo "sanitizer $tool $prog rc=$? $(el)" >> "$OUT"/steps.txt; done; done ) &
wait
echo "all $(el)" >> "$OUT"/steps.txt
cat "$OUT"/steps.txt
grep -h -E 'test cases|assertions|FAILED|ERROR SUMMARY' "$OUT"/t_*.log "$OUT"/san_*.log | head -40
(cd "$OUT" && tar -czf /tmp/logs.tgz --exclude='*.json' --exclude=steps.txt --exclude=gpu.txt . && \
  find . -mindepth 1 ! -name '*.json' ! -name steps.txt ! -name gpu.txt -delete && mv /tmp/logs.tgz .)
