#!/usr/bin/env bash
# ncu's source counters and warp states of the 256-wide cooperative kernel (llama3_8b_gateup M = 4096 bf16), then
# the ping-pong kernel (mixtral_w13 M = 4096 bf16): where the tensor pipe waits. Written in the sixteenth session,
# not yet run (its device time was spent).
# On the binaries of pack-binaries.sh, from the repository root:
#     run(command="OUT=$OUT bash bench/patches/profile-source.sh", carry=["build-carry"], timeout_s=240)
# Back: per row one .tgz (the ncu report, its SASS page with stall samples per instruction as CSV, the details page).
set -u
T0=$(date +%s); el() { echo "$(( $(date +%s) - T0 ))s"; }
B=/tmp/bins; rm -rf $B; mkdir -p "$B" && tar -xJf build-carry/bins.tar.xz -C "$B" || { echo "untar failed"; exit 1; }
export LD_LIBRARY_PATH=$B:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}; export PATH=$PATH:/usr/local/cuda/bin
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT"/gpu.txt 2>&1
for row in "ws256 4096 28672 4096" "pp 4096 14336 4096"; do
  set -- $row
  n=$("$B"/sq_prof static $2 $3 $4 bf16 0 2>/dev/null | tee "$OUT"/$1_plan.txt | sed -n 's/.*(launches \([0-9]*\))$/\1/p'); n=${n:-1}
  timeout 100 "$NCU" --clock-control none --launch-skip $((2 * n)) --launch-count $n --section SourceCounters \
    --section WarpStateStats --section SpeedOfLight -f -o "$OUT"/$1 "$B"/sq_prof static $2 $3 $4 bf16 3 > "$OUT"/$1_ncu.log 2>&1
  echo "ncu $1 rc=$? $(el)" >> "$OUT"/steps.txt
  "$NCU" -i "$OUT"/$1.ncu-rep --page source --csv --print-source sass > "$OUT"/$1_sass.csv 2>&1; echo "sass $1 rc=$? $(el)" >> "$OUT"/steps.txt
  "$NCU" -i "$OUT"/$1.ncu-rep --page details --csv > "$OUT"/$1_details.csv 2>&1
  gzip -f "$OUT"/$1_sass.csv
  (cd "$OUT" && tar -czf $1.tgz $1_plan.txt $1_ncu.log $1.ncu-rep $1_sass.csv.gz $1_details.csv && rm -f $1_plan.txt $1_ncu.log $1.ncu-rep $1_sass.csv.gz $1_details.csv)
done
cat "$OUT"/steps.txt; ls -la "$OUT"
