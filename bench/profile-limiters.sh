#!/usr/bin/env bash
# ncu (--clock-control none: the GPU's own clocks, as in the benchmark) of the kernels the plan launches on the
# rows behind the targets that are not met (bench/NOTES.md): issue 22's large-M, decode, held-out and unaligned
# rows, issue 19's asymmetric rows beside their symmetric twins, issue 20's fused quantizers. One profiled run
# each (the last of three; random operands, finite random x), every launch of that run.
# Run on the GPU machine from the repository root, after a build:
#     BUILD_DIR=/tmp/build bash bench/profile-limiters.sh      # writes $OUT/limiters.txt
#     PROFILE_FILTER=issue19 ...                               # only the rows whose line contains this text
# Per kernel: duration; SM clock; tensor pipe busy (% of elapsed cycles); DRAM throughput (% of peak) and bytes
# read; SM active cycles, average and busiest SM, against elapsed cycles (the gap is launch ramp and tail);
# grid, threads per CTA and registers per thread; achieved occupancy (% of the SM's warps); the three largest
# warp stall reasons (warps stalled per issued instruction).
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
METRICS+=",launch__block_size,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active"
METRICS+=",regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio"
[ -n "$TENSOR" ] && METRICS+=",$TENSOR.avg.pct_of_peak_sustained_elapsed"
RUNS=3
# issue op tag M N K dtype (N is ignored by the fused quantizers)
ROWS=(
  "issue22 static llama3_70b_gateup 2048 57344 8192 bf16"
  "issue22 static llama3_8b_qkv 2048 6144 4096 bf16"
  "issue22 static llama3_8b_gateup 4096 28672 4096 bf16"
  "issue22 static llama3_70b_o 1024 8192 8192 bf16"
  "issue22 static llama3_8b_o 128 4096 4096 bf16"
  "issue22 static llama3_8b_o 1 4096 4096 bf16"
  "issue22 static llama3_70b_o 32 8192 8192 bf16"
  "issue22 static llama3_8b_gateup 16 28672 4096 bf16"
  "issue22 static qwen25_7b_qkv 48 4608 3584 bf16"
  "issue22 static dsv2lite_down_tp8 1 2048 1368 bf16"
  "issue22 static dsv2lite_down_tp8 4096 2048 1368 bf16"
  "issue22 static odd_k3592 1024 4096 3592 bf16"
  "issue22 static odd_k3592 256 4096 3592 bf16"
  "issue22 static wide_k4104 128 14336 4104 bf16"
  "issue19 static llama3_8b_o 4096 4096 4096 bf16"
  "issue19 asym llama3_8b_o 4096 4096 4096 bf16"
  "issue19 static llama3_8b_qkv 256 6144 4096 bf16"
  "issue19 asym llama3_8b_qkv 256 6144 4096 bf16"
  "issue19 dynamic llama3_8b_o 64 4096 4096 bf16"
  "issue19 dynamic-asym llama3_8b_o 64 4096 4096 bf16"
  "issue19 dynamic llama3_8b_qkv 1024 6144 4096 bf16"
  "issue19 dynamic-asym llama3_8b_qkv 1024 6144 4096 bf16"
  "issue20 rmsnorm llama3_8b 1 0 4096 bf16"
  "issue20 rmsnorm llama3_8b 8192 0 4096 bf16"
  "issue20 rmsnorm llama3_70b 1024 0 8192 bf16"
  "issue20 silu llama3_8b 64 0 14336 bf16"
  "issue20 silu llama3_8b 8192 0 14336 bf16"
)
{
  echo "# ncu --clock-control none, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
  echo "# tensor metric: ${TENSOR:-none found}; stalls: warps stalled per issued instruction, the three largest"
  printf '%-7s %-12s %-18s %5s %6s %6s %-4s %-40s %9s %5s %6s %6s %8s %9s %9s %9s %6s %4s %4s %5s  %s\n' issue op tag m \
    n k out kernel time_us mhz tensor% dram% dram_MB act_avg act_max elapsed grid thr reg occ% stalls
  for s in "${ROWS[@]}"; do
    set -- $s
    [[ "$s" == *"${PROFILE_FILTER:-}"* ]] || continue
    # The launches of one run, as sq_prof counts them (runs 0: none timed, one captured).
    launches=$("$PROF" "$2" "$4" "$5" "$6" "$7" 0 2>/dev/null | sed -n 's/.*(launches \([0-9]*\))$/\1/p')
    [ -n "$launches" ] || launches=1  # sq_prof failed: it fails again under ncu, and the row says "(no profile)"
    raw=/tmp/limiters_$2_$3_$4_$7.csv
    timeout 120 "$NCU" --clock-control none --launch-skip $(((RUNS - 1) * launches)) --launch-count "$launches" \
      --metrics "$METRICS" --csv --page raw --print-units base "$PROF" "$2" "$4" "$5" "$6" "$7" "$RUNS" \
      > "$raw" 2>/dev/null
    python3 - "$raw" "$@" "$TENSOR" <<'PY'
import csv, sys
raw, issue, op, tag, m, n, k, t, tensor = sys.argv[1:10]
text = open(raw).read().splitlines()
lines = [l for l in text if l.startswith('"')]
# sq_prof prints "<op> M N K dtype -> <kernel the plan reports> (launches L)"
chosen = [l.split(" -> ")[1].split(" (")[0].strip() for l in text if " -> " in l]
if len(lines) < 3:
    print(f"{issue:7s} {op:12s} {tag:18s} {m:>5s} {n:>6s} {k:>6s} {t:4s} (no profile)")
    sys.exit()
rows = list(csv.reader(lines))
head, units = rows[0], rows[1]
for vals in rows[2:]:
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
    name = vals[head.index("Kernel Name")] if "Kernel Name" in head else "?"
    short = name.split("(")[0].split("<")[0].split("::")[-1]
    if chosen and (short.startswith("decode") or "wgmma" in short or "sm80" in short or "mma" in short):
        short = chosen[0]  # the linear's variant name, as sq_plan_kernel_name reports it
    pre, post = "smsp__average_warps_issue_stalled_", "_per_issue_active.ratio"
    stalls = sorted(((f(h), h[len(pre):-len(post)]) for h in head if h.startswith(pre) and h.endswith(post)
                     and f(h) == f(h)), reverse=True)[:3]
    stall_s = " ".join(f"{s}={v:.2f}" for v, s in stalls)
    g = lambda h: vals[head.index(h)].replace(",", "") if h in head else "?"
    print(f"{issue:7s} {op:12s} {tag:18s} {m:>5s} {n:>6s} {k:>6s} {t:4s} {short[:40]:40s} {dur_us:9.2f} {mhz:5.0f} "
          f"{ten:6.1f} {f('dram__throughput.avg.pct_of_peak_sustained_elapsed'):6.1f} "
          f"{f('dram__bytes_read.sum') / 1e6:8.1f} {f('sm__cycles_active.avg'):9.0f} {f('sm__cycles_active.max'):9.0f} "
          f"{f('sm__cycles_elapsed.max'):9.0f} {g('launch__grid_size'):>6s} {g('launch__block_size'):>4s} "
          f"{g('launch__registers_per_thread'):>4s} {f('sm__warps_active.avg.pct_of_peak_sustained_active'):5.1f}  {stall_s}")
PY
  done
} | tee "$OUT/limiters.txt"
