#!/usr/bin/env bash
# ncu (--clock-control none: the GPU's own clocks, as in the benchmark) of the kernel the plan chooses
# on the shapes behind the issue-5 rows that are not met (bench/NOTES.md, "Against the issue-5 targets"),
# one profiled run each (the third; random int8 operands), after two unprofiled ones.
# Run on the GPU machine from the repository root, after a build:
#     BUILD_DIR=/tmp/build bash bench/profile-limiters.sh      # writes $OUT/limiters.txt
# Per kernel: duration; SM clock; tensor pipe busy (% of elapsed cycles); DRAM throughput (% of peak) and
# bytes read; SM active cycles, average and busiest SM, against elapsed cycles (the gap is launch ramp and
# tail); grid size.
set -u
BUILD=${BUILD_DIR:-/tmp/build}
OUT=${OUT:-$PWD/out}
PROF=$BUILD/bench/sq_prof
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -x "$PROF" ] || { echo "no $PROF (build first)"; exit 1; }
[ -n "$NCU" ] || { echo "no ncu"; exit 1; }
# The tensor-pipe metric this ncu knows (names differ between versions).
TENSOR=$("$NCU" --query-metrics --chip gh100 2>/dev/null | awk '{print $1}' |
         grep -m1 -E '^sm__pipe_tensor_op_gmma_cycles_active$|^sm__pipe_tensor_cycles_active$')
METRICS="gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,dram__throughput.avg.pct_of_peak_sustained_elapsed"
METRICS+=",dram__bytes_read.sum,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_elapsed.max,launch__grid_size"
[ -n "$TENSOR" ] && METRICS+=",$TENSOR.avg.pct_of_peak_sustained_elapsed"
# tag M N K dtype (the rows: M >= 2048 at parity, medium M, a chain-bound and a kernel-bound decode row)
SHAPES=(
  "llama3_70b_gateup 2048 57344 8192 bf16"
  "llama3_70b_gateup 2048 57344 8192 f32"
  "llama3_8b_qkv 2048 6144 4096 bf16"
  "llama3_70b_o 1024 8192 8192 bf16"
  "llama3_8b_o 128 4096 4096 bf16"
  "llama3_8b_o 1 4096 4096 bf16"
  "llama3_70b_o 32 8192 8192 bf16"
  "llama3_8b_gateup 16 28672 4096 bf16"
)
{
  echo "# ncu --clock-control none, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
  echo "# tensor metric: ${TENSOR:-none found}"
  printf '%-18s %5s %6s %6s %-4s %-36s %9s %7s %7s %7s %9s %10s %10s %10s %6s\n' tag m n k out kernel time_us sm_mhz \
    tensor% dram% dram_MB act_avg act_max elapsed grid
  for s in "${SHAPES[@]}"; do
    set -- $s
    raw=/tmp/limiters_$1_$2_$5.csv
    timeout 120 "$NCU" --clock-control none -k regex:'decode_mma|sm90_wgmma|sm80_mma' --launch-skip 2 \
      --launch-count 1 --metrics "$METRICS" --csv --page raw --print-units base "$PROF" "$2" "$3" "$4" "$5" \
      > "$raw" 2>/dev/null
    python3 - "$raw" "$1" "$2" "$3" "$4" "$5" "$TENSOR" <<'PY'
import csv, sys
raw, tag, m, n, k, t, tensor = sys.argv[1:8]
text = open(raw).read().splitlines()
lines = [l for l in text if l.startswith('"')]
# sq_prof prints "M N K dtype -> <kernel the plan chose>"
chosen = [l.split(" -> ")[1].strip() for l in text if " -> " in l]
if len(lines) < 3:
    print(f"{tag:18s} {m:>5s} {n:>6s} {k:>6s} {t:4s} (no profile)")
    sys.exit()
head, units, vals = list(csv.reader(lines))[:3]
def f(name):
    try:
        return float(vals[head.index(name)].replace(",", ""))
    except (ValueError, IndexError):
        return float("nan")
def unit(name):
    return units[head.index(name)] if name in head else ""
# base units: time in ns, frequency in cycle/ns or cycle/s, bytes in byte
dur_us = f("gpu__time_duration.sum") / (1000.0 if unit("gpu__time_duration.sum") in ("nsecond", "ns") else 1.0)
clk = f("sm__cycles_elapsed.avg.per_second")
mhz = clk * 1000.0 if "nsecond" in unit("sm__cycles_elapsed.avg.per_second") else clk / 1e6
ten = f(tensor + ".avg.pct_of_peak_sustained_elapsed") if tensor else float("nan")
kern = chosen[0] if chosen else "?"
grid = vals[head.index("launch__grid_size")] if "launch__grid_size" in head else "?"
print(f"{tag:18s} {m:>5s} {n:>6s} {k:>6s} {t:4s} {kern[:36]:36s} {dur_us:9.2f} {mhz:7.0f} {ten:7.1f} "
      f"{f('dram__throughput.avg.pct_of_peak_sustained_elapsed'):7.1f} {f('dram__bytes_read.sum') / 1e6:9.1f} "
      f"{f('sm__cycles_active.avg'):10.0f} {f('sm__cycles_active.max'):10.0f} {f('sm__cycles_elapsed.max'):10.0f} {grid:>6s}")
PY
  done
} | tee "$OUT/limiters.txt"
