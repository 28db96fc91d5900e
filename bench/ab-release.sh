#!/usr/bin/env bash
# A/B of this tree against an earlier release on one GPU machine: sq_bench of both, built side by side,
# alternated ROUNDS times on the rows given, then the medians' ratios (this tree / the reference). Two full
# runs on two machines differ by a few percent in every regime (bench/NOTES.md, 2026-12-06); this is how a
# suspected regression is told from the machine. Prepare the reference here (the device copy has no git
# history), then run it in one device call that carries .deps and .ab-ref (ignored by git, so only carry
# takes it to the device):
#     rm -rf .ab-ref && mkdir .ab-ref && git archive 74f3720 | tar -x -C .ab-ref   # 74f3720: the 0.1 release
#     AB_FILTER=llama3_70b_o AB_M=1024,8192 AB_DTYPES=bf16 bash bench/ab-release.sh
# Environment: AB_REF (the reference tree, default .ab-ref), AB_FILTER, AB_M, AB_DTYPES (sq_bench's --filter,
# --m, --dtypes), AB_ROUNDS (3). Output under $OUT: ab.tgz (every JSON) and ab.txt (the table).
set -u
OUT=${OUT:-$PWD/out}
REF=${AB_REF:-.ab-ref}
ROUNDS=${AB_ROUNDS:-3}
mkdir -p "$OUT" /tmp/ab-json
[ -f "$REF/bench/sq_bench.cu" ] || { echo "no reference tree at $REF (see the header)"; exit 2; }
NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
t=$(date +%s)
for v in ref new; do
  src=$PWD; [ $v = ref ] && src=$PWD/$REF
  ( cmake -S "$src" -B /tmp/ab-$v -G Ninja -DCMAKE_BUILD_TYPE=Release -DSQ_BUILD_TESTS=OFF -DSQ_BUILD_DEMO=OFF \
      -DCMAKE_CUDA_COMPILER="$NVCC" > /tmp/ab-build-$v.log 2>&1 &&
    cmake --build /tmp/ab-$v -j8 --target sq_bench >> /tmp/ab-build-$v.log 2>&1 ||
    { echo "build of $v failed:"; tail -20 /tmp/ab-build-$v.log; } ) &
done
wait
echo "== builds $(( $(date +%s) - t ))s"
args=(--filter "${AB_FILTER:?set AB_FILTER}" --m "${AB_M:?set AB_M}" --dtypes "${AB_DTYPES:-bf16}" --no-dynamic)
for i in $(seq 1 "$ROUNDS"); do
  for v in ref new; do
    dir=$PWD; [ $v = ref ] && dir=$PWD/$REF
    # The reference may predate the newer methods' switches: try them, then without.
    extra=(--no-peers --no-asym --no-engine --no-heldout)
    t=$(date +%s)
    ( cd "$dir" && { timeout 300 /tmp/ab-$v/bench/sq_bench "${args[@]}" "${extra[@]}" --json /tmp/ab-json/$v-$i.json ||
                     timeout 300 /tmp/ab-$v/bench/sq_bench "${args[@]}" --json /tmp/ab-json/$v-$i.json; } > /tmp/ab-$v-$i.log 2>&1 )
    echo "== $v round $i: exit $? in $(( $(date +%s) - t ))s"
  done
done
tar -czf "$OUT/ab.tgz" -C /tmp/ab-json .
python3 - "$ROUNDS" <<'PY' | tee "$OUT/ab.txt"
import json, statistics, sys
rounds = int(sys.argv[1])
def load(v, i):
    try:
        return {(r["tag"], r["m"], r["out_dtype"]): r for r in json.load(open(f"/tmp/ab-json/{v}-{i}.json"))["rows"]}
    except (OSError, ValueError, KeyError):
        return {}
ref = [load("ref", i) for i in range(1, rounds + 1)]
new = [load("new", i) for i in range(1, rounds + 1)]
if not (set().union(*ref) & set().union(*new)):
    sys.exit("no row timed by both: see /tmp/ab-ref-*.log and /tmp/ab-new-*.log")
print("| row | kernel | ref us (isolated / b2b) | new / ref isolated | new / ref b2b |")
print("|---|---|---|---|---|")
for key in sorted(set().union(*ref) & set().union(*new)):
    cells = []
    for col in ("sq_us", "sq_b2b_us"):
        a = [d[key][col] for d in ref if key in d]
        b = [d[key][col] for d in new if key in d]
        cells.append((statistics.median(a), statistics.median(b) / statistics.median(a)))
    kernel = next(d[key]["kernel"] for d in new if key in d)
    print("| %s M=%d %s | %s | %.1f / %.1f | %.3f | %.3f |" % (key[0], key[1], key[2], kernel, cells[0][0], cells[1][0],
                                                           cells[0][1], cells[1][1]))
PY
