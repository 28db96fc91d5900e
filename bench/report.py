#!/usr/bin/env python3
"""Tables from sq_bench's results JSON (bench/README.md, "Tables"). Python 3 standard library only.

    python3 bench/report.py RESULTS.json                  # the whole report (Markdown) on stdout
    python3 bench/report.py RESULTS.json [--choice CHOICE.json] --out bench/RESULTS.md
    python3 bench/report.py RESULTS.json --table summary --set heldout
    python3 bench/report.py --choice choice.json          # sq_choice: the plan's choice vs the fastest variant
    python3 bench/report.py --choice choice.json --replay plan.csv   # another dispatch (sq_choice --plan-only)
                                                          # replayed on that run's measured variant times
    python3 bench/report.py --torch peers_torch.json      # peers_torch.py: the PyTorch peers in CUDA graphs
    python3 bench/report.py NEW.json --compare OLD.json   # geometric means new / old, rows slower by > 5%
    python3 bench/report.py RESULTS.json --readme README.md   # README's performance table from the JSON
    python3 bench/report.py --self-test                   # no GPU, no files written
    python3 bench/report.py --check-writer build/bench/sq_bench   # what this build's sq_bench writes

Tables: (a) every row, (b) the summary by regime (M <= 16, 17-64, 65-1024, > 1024) and output dtype:
% of the bandwidth floor (isolated / back to back), TOPS, time ratios of cuBLASLt and of each peer to the
library, (c) the same summary for the held-out shape set, and (d) issue 22's targets read off the rows.
A ratio is the other method's time over the library's (> 1: the library is faster). Every number comes
from the JSON; nothing is typed in.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(HERE, "results", "NVIDIA_H100_80GB_HBM3.json")

# The regimes of the summary: (lowest M, highest M or None). Labels come from the M values present.
REGIMES = [(1, 16), (17, 64), (65, 1024), (1025, None)]
# The bandwidth floor is not the limit above this M (compute-bound): the summary shows "-" there.
FLOOR_MAX_M = 1024
DTYPES = ["f32", "bf16", "f64"]
# The peers (sq_bench's keys) with their table names.
PEERS = [
    ("cublaslt_fp8_fast", "fp8 rowwise fast-accum"),
    ("cublaslt_fp8", "fp8 rowwise"),
    ("cublaslt_bf16", "bf16 dense"),
]
# Issue 22's targets.
LARGE_MIN_M = 1024          # M >= 1024 ...
LARGE_GEOMEAN = 1.05        # ... geometric mean >= 1.05x fp8 rowwise fast-accum
LARGE_LT32 = 1.05           # ... >= 1.05x cuBLASLt int32 on every row
LARGE_TOPS = 1500           # ... >= 1500 TOPS on 4096-row layers
BATCHED = (17, 64)          # batched decode: no row slower than cuBLASLt int32 or fp8 rowwise
M64_OVER_M16 = 1.2          # an M = 64 run <= 1.2x the M = 16 run + the extra bytes at copy bandwidth
UNALIGNED_MIN = 0.85        # N or K % 16 != 0: >= 85% of the nearest aligned shape's throughput
TARGET_DTYPES = ("bf16", "f32")
EXCLUDED_TAGS = ("square",)  # the summary ranges are over model shapes
# Issue 19's targets: the asymmetric method's back-to-back time / the symmetric one's, at most these, every row.
ASYM_PAIRS = [("sq_asym", "sq", "asym_note", "static (u8, zero points) / sq"),
              ("sq_dynamic_asym", "sq_dynamic", "dynamic_asym_note", "dynamic asymmetric u8 / sq_dynamic")]
ASYM_SMALL_MAX_M = 64        # M <= 64: at most +3%
ASYM_SMALL_LIMIT = 1.03
ASYM_LARGE_MIN_M = 128       # M >= 128: at most +5% (M = 65..127, in no shape set, takes the same)
ASYM_LARGE_LIMIT = 1.05
# Issue 20's targets: the fused quantizers at >= 80% of the copy bandwidth from 16 MiB of traffic up (back to
# back); the decode-step chain not slower than SQ_OP_QUANTIZED_LINEAR on the same input (back to back).
FUSED = [("norm_quant", "RMSNORM_QUANTIZE (residual on)"), ("silu_quant", "SILU_MUL_QUANTIZE")]
FUSED_MIN_BYTES = 16 * 2 ** 20
FUSED_MIN_BW = 0.80


# ----------------------------------------------------------------------------------------- helpers
def load(path):
    with open(path) as f:
        return json.load(f)


def rows_of(res, set_name):
    """The rows of one shape set ("main" for results written before the held-out set existed)."""
    return [r for r in res["rows"] if r.get("set", "main") == set_name]


def sets_of(res):
    names = []
    for r in res["rows"]:
        s = r.get("set", "main")
        if s not in names:
            names.append(s)
    return names


def val(r, key):
    v = r.get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def ratio(a, b):
    return a / b if a is not None and b is not None and b > 0 else None


def tops(r, us):
    return 2.0 * r["m"] * r["n"] * r["k"] / (us * 1e6) if us else None


def fmt_range(vals, prec, suffix=""):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    return "%.*f-%.*f%s" % (prec, min(vals), prec, max(vals), suffix)


def geomean(vals):
    vals = [v for v in vals if v is not None and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def regime_of(m):
    for i, (lo, hi) in enumerate(REGIMES):
        if m >= lo and (hi is None or m <= hi):
            return i
    raise ValueError("no regime for M = %d" % m)


def regime_label(i, ms):
    lo, hi = REGIMES[i]
    if i == 0:
        return "M <= %d" % hi
    if hi is None:
        return "M >= %d" % min(ms)
    return "M = %d-%d" % (min(ms), max(ms)) if min(ms) != max(ms) else "M = %d" % min(ms)


def cell(v, prec=2):
    return "-" if v is None else "%.*f" % (prec, v)


def md_table(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    return out


def peer_base(r):
    """What a peer's back-to-back time is divided by: the library's time from the peers' own interleaved group
    (sq_peer_b2b_us, on the row whose dtype the peers were timed with), else the row's sq_b2b_us."""
    v = val(r, "sq_peer_b2b_us")
    return v if v is not None else val(r, "sq_b2b_us")


def has_peers(rows):
    return any(val(r, k + "_b2b_us") is not None for r in rows for k, _ in PEERS)


# ----------------------------------------------------------------------------------------- tables
def summary_table(rows, include_all_tags=False):
    """(b)/(c): one line per regime and output dtype (ranges over the rows; tags in EXCLUDED_TAGS left out
    unless include_all_tags). Peer columns only when some row has them."""
    rows = [r for r in rows if include_all_tags or r["tag"] not in EXCLUDED_TAGS]
    peers = has_peers(rows)
    header = ["regime", "out", "% of bandwidth floor (isolated / back-to-back)", "TOPS", "cuBLASLt int32 / sq",
              "(cuBLASLt + scale) / sq (isolated / b2b)"]
    if peers:
        header += ["%s / sq (b2b; geomean)" % name for _, name in PEERS]
    lines = []
    for i in range(len(REGIMES)):
        in_regime = [r for r in rows if regime_of(r["m"]) == i]
        if not in_regime:
            continue
        label = regime_label(i, [r["m"] for r in in_regime])
        for d in DTYPES:
            rs = [r for r in in_regime if r["out_dtype"] == d]
            if not rs:
                continue
            if REGIMES[i][0] > FLOOR_MAX_M:
                floor = "-"
            else:
                iso = fmt_range([ratio(100.0 * r["floor_us"], val(r, "sq_us")) for r in rs], 0, "%")
                b2b = fmt_range([ratio(100.0 * r["floor_us"], val(r, "sq_b2b_us")) for r in rs], 0, "%")
                floor = "%s / %s" % (iso, b2b)
            line = [label, d, floor,
                    fmt_range([tops(r, val(r, "sq_us")) for r in rs], 0),
                    fmt_range([ratio(val(r, "cublaslt_int32_us"), val(r, "sq_us")) for r in rs], 2),
                    "%s / %s" % (fmt_range([ratio(val(r, "cublaslt_scaled_us"), val(r, "sq_us")) for r in rs], 2),
                                 fmt_range([ratio(val(r, "cublaslt_scaled_b2b_us"), val(r, "sq_b2b_us"))
                                            for r in rs], 2))]
            if peers:
                for key, _ in PEERS:
                    rat = [ratio(val(r, key + "_b2b_us"), peer_base(r)) for r in rs]
                    g = geomean(rat)
                    line.append("-" if g is None else "%s; %.2f" % (fmt_range(rat, 2), g))
            lines.append(line)
    return md_table(header, lines)


README_BEGIN = "<!-- PERF-TABLE"
README_END = "<!-- /PERF-TABLE -->"
README_DTYPE = "bf16"


def readme_table(rows):
    """The README's short table: bf16 output, one line per regime over the model shapes, back to back."""
    rows = [r for r in rows if r["tag"] not in EXCLUDED_TAGS and r["out_dtype"] == README_DTYPE]
    header = ["regime", "% of the bandwidth floor", "TOPS", "cuBLASLt int8 + scale / sq",
              "fp8 rowwise fast-accum / sq (geomean)", "bf16 dense / sq (geomean)"]
    lines = []
    for i in range(len(REGIMES)):
        rs = [r for r in rows if regime_of(r["m"]) == i]
        if not rs:
            continue
        floor = "-" if REGIMES[i][0] > FLOOR_MAX_M else \
            fmt_range([ratio(100.0 * r["floor_us"], val(r, "sq_b2b_us")) for r in rs], 0, "%")
        line = [regime_label(i, [r["m"] for r in rs]), floor,
                fmt_range([tops(r, val(r, "sq_b2b_us")) for r in rs], 0),
                fmt_range([ratio(val(r, "cublaslt_scaled_b2b_us"), val(r, "sq_b2b_us")) for r in rs], 2)]
        for key in ("cublaslt_fp8_fast", "cublaslt_bf16"):
            rat = [ratio(val(r, key + "_b2b_us"), peer_base(r)) for r in rs]
            g = geomean(rat)
            line.append("-" if g is None else "%s (%.2f)" % (fmt_range(rat, 2), g))
        lines.append(line)
    return md_table(header, lines)


def readme_block(res, source):
    """The generated block of README.md's performance section, markers included."""
    rows = rows_of(res, "main")
    return "\n".join(["%s: generated by python3 bench/report.py %s --readme README.md -->" % (README_BEGIN, source),
                      "%s, %s output, back to back, %d model-shape rows (a ratio above 1: the library is faster):"
                      % (res.get("device", "?"), README_DTYPE,
                         len([r for r in rows if r["tag"] not in EXCLUDED_TAGS and r["out_dtype"] == README_DTYPE])),
                      ""] + readme_table(rows) + [README_END])


def update_readme(readme, res, source, check_only):
    """Replaces (or, check_only, compares) the block between the markers; returns 0 when it is current."""
    with open(readme) as f:
        text = f.read()
    start = text.find(README_BEGIN)
    end = text.find(README_END, start)
    if start < 0 or end < 0:
        print("%s: no %s ... %s block" % (readme, README_BEGIN, README_END), file=sys.stderr)
        return 1
    new = text[:start] + readme_block(res, source) + text[end + len(README_END):]
    if check_only:
        if new != text:
            print("%s: the performance table is not the one %s gives (run report.py %s --readme %s)"
                  % (readme, source, source, readme), file=sys.stderr)
            return 1
        return 0
    with open(readme, "w") as f:
        f.write(new)
    return 0


def full_table(rows):
    """(a): every row."""
    peers = has_peers(rows)
    header = ["tag", "M", "N", "K", "out", "kernel", "sq us", "sq b2b us", "TOPS", "% floor (iso / b2b)",
              "cuBLASLt int32 us", "int32 / sq", "(lt + scale) / sq (iso / b2b)"]
    if peers:
        header += ["fp8 fast b2b us", "fp8 b2b us", "bf16 b2b us", "fp8 fast / sq b2b", "fp8 / sq b2b",
                   "bf16 / sq b2b"]
    header += ["dynamic us", "f64/f32", "check"]
    lines = []
    for r in rows:
        sq, sqb = val(r, "sq_us"), val(r, "sq_b2b_us")
        fl_iso, fl_b2b = ratio(100.0 * r["floor_us"], sq), ratio(100.0 * r["floor_us"], sqb)
        line = [r["tag"], r["m"], r["n"], r["k"], r["out_dtype"], r.get("kernel") or "-", cell(sq), cell(sqb),
                cell(tops(r, sq), 0), "%s / %s" % (cell(fl_iso, 0), cell(fl_b2b, 0)),
                cell(val(r, "cublaslt_int32_us")), cell(ratio(val(r, "cublaslt_int32_us"), sq)),
                "%s / %s" % (cell(ratio(val(r, "cublaslt_scaled_us"), sq)),
                             cell(ratio(val(r, "cublaslt_scaled_b2b_us"), sqb)))]
        if peers:
            line += [cell(val(r, k + "_b2b_us")) for k, _ in PEERS]
            line += [cell(ratio(val(r, k + "_b2b_us"), peer_base(r))) for k, _ in PEERS]
        line += [cell(val(r, "sq_dynamic_us")), cell(val(r, "f64_vs_f32")), r.get("check", "-")]
        lines.append(line)
    return md_table(header, lines)


def target_lines(rows, copy_tbps):
    """(d): issue 22's targets read off the rows (bf16 and f32 out, back to back)."""
    out = []
    rs = [r for r in rows if r["out_dtype"] in TARGET_DTYPES and val(r, "sq_b2b_us") is not None]
    if not rs:
        return ["(no bf16 or f32 rows)"]

    def worst(pairs, prec=3):
        pairs = [(v, r) for v, r in pairs if v is not None]
        if not pairs:
            return None
        v, r = min(pairs, key=lambda p: p[0])
        return "%.*f (%s M=%d %s)" % (prec, v, r["tag"], r["m"], r["out_dtype"])

    large = [r for r in rs if r["m"] >= LARGE_MIN_M]
    if large:
        f8 = [(ratio(val(r, "cublaslt_fp8_fast_b2b_us"), peer_base(r)), r) for r in large]
        lt = [(ratio(val(r, "cublaslt_int32_b2b_us"), val(r, "sq_b2b_us")), r) for r in large]
        f8v = [v for v, _ in f8 if v is not None]
        ltv = [v for v, _ in lt if v is not None]
        if f8v:
            out.append("- M >= %d, against fp8 rowwise with fast accumulation: %d of %d rows at least as fast, lowest "
                       "%s, geometric mean %.3f (target >= 1 on every row, geomean >= %.2f)"
                       % (LARGE_MIN_M, sum(v >= 1.0 for v in f8v), len(f8v), worst(f8), geomean(f8v), LARGE_GEOMEAN))
        else:
            out.append("- M >= %d, against fp8 rowwise: no peer timings in these rows" % LARGE_MIN_M)
        if ltv:
            out.append("- M >= %d, against cuBLASLt int32 (raw): %d of %d rows at >= %.2fx, lowest %s"
                       % (LARGE_MIN_M, sum(v >= LARGE_LT32 for v in ltv), len(ltv), LARGE_LT32, worst(lt)))
        m4096 = [(tops(r, val(r, "sq_b2b_us")), r) for r in large if r["m"] == 4096]
        if m4096:
            tv = [v for v, _ in m4096 if v is not None]
            out.append("- M = 4096, TOPS back to back: %d of %d rows at >= %d, lowest %s"
                       % (sum(v >= LARGE_TOPS for v in tv), len(tv), LARGE_TOPS, worst(m4096, 0)))
    lo, hi = BATCHED
    batched = [r for r in rs if lo <= r["m"] <= hi]
    if batched:
        def slower(key, name):
            with_peer = [r for r in batched if val(r, key + "_b2b_us") is not None]
            if not with_peer:
                return "%s: no timings" % name
            base = (lambda r: val(r, "sq_b2b_us")) if key == "cublaslt_int32" else peer_base
            return "%s: %d of %d" % (name, sum(base(r) > val(r, key + "_b2b_us") for r in with_peer), len(with_peer))
        out.append("- %d <= M <= %d, rows slower than the peer (target: none): %s" % (
            lo, hi, "; ".join(slower(k, n) for k, n in [("cublaslt_int32", "cuBLASLt int32"),
                                                         ("cublaslt_fp8_fast", "fp8 rowwise fast-accum"),
                                                         ("cublaslt_fp8", "fp8 rowwise")])))
    # M = 64 against M = 16 of the same layer and dtype, plus the extra bytes at the copy bandwidth
    if copy_tbps:
        by = {(r["tag"], r["n"], r["k"], r["out_dtype"], r["m"]): r for r in rs}
        checked, over, worst_x = 0, 0, None
        for (tag, n, k, d, m), r64 in by.items():
            r16 = by.get((tag, n, k, d, 16))
            if m != 64 or r16 is None:
                continue
            osz = 2 if d == "bf16" else 4
            extra_us = (64 - 16) * (k + (n + 1) * osz) / (copy_tbps * 1e12) * 1e6
            limit = M64_OVER_M16 * val(r16, "sq_b2b_us") + extra_us
            x = val(r64, "sq_b2b_us") / limit
            checked += 1
            over += x > 1.0
            if worst_x is None or x > worst_x[0]:
                worst_x = (x, "%s %s" % (tag, d))
        if checked:
            out.append("- M = 64 against %.1fx M = 16 + the extra bytes at %.2f TB/s: %d of %d layers over, highest "
                       "%.3f of the limit (%s)" % (M64_OVER_M16, copy_tbps, over, checked, worst_x[0], worst_x[1]))
    # unaligned rows against the nearest aligned shape (same set, M and dtype), TOPS back to back
    unaligned = [r for r in rs if r["n"] % 16 or r["k"] % 16]
    if unaligned:
        pairs = []
        for r in unaligned:
            aligned = [a for a in rs if a["m"] == r["m"] and a["out_dtype"] == r["out_dtype"]
                       and a["n"] % 16 == 0 and a["k"] % 16 == 0]
            if not aligned:
                continue
            a = min(aligned, key=lambda a: abs(math.log(a["n"] / r["n"])) + abs(math.log(a["k"] / r["k"])))
            pairs.append((ratio(tops(r, val(r, "sq_b2b_us")), tops(a, val(a, "sq_b2b_us"))), r))
        pv = [v for v, _ in pairs if v is not None]
        if pv:
            out.append("- N or K %% 16 != 0: %d of %d rows at >= %.0f%% of the nearest aligned shape's TOPS (back to "
                       "back), lowest %s" % (sum(v >= UNALIGNED_MIN for v in pv), len(pv), 100 * UNALIGNED_MIN,
                                             worst(pairs)))
    return out or ["(no rows the targets apply to)"]


def asym_limit(m):
    return ASYM_SMALL_LIMIT if m <= ASYM_SMALL_MAX_M else ASYM_LARGE_LIMIT


def has_asym(rows):
    return any(val(r, k + "_b2b_us") is not None or r.get(note) for r in rows for k, _, note, _ in ASYM_PAIRS)


def row_name(r):
    return "%s M=%d N=%d K=%d %s" % (r["tag"], r["m"], r["n"], r["k"], r["out_dtype"])


def asym_target_lines(rows):
    """Issue 19: asymmetric / symmetric back to back on every row the asymmetric method was set up for (it has a
    timing or the library's note), at most ASYM_SMALL_LIMIT at M <= ASYM_SMALL_MAX_M and ASYM_LARGE_LIMIT above;
    the misses listed (a row the library refused is a miss, with its note)."""
    if not has_asym(rows):
        return ["- issue 19 (asymmetric): no asymmetric rows in this run (--no-asym, or written before them)"]
    out = []
    for key, base, note, name in ASYM_PAIRS:
        rs = [r for r in rows if val(r, key + "_b2b_us") is not None or r.get(note)]
        if not rs:
            continue
        misses, ratios = [], []
        for r in rs:
            v = ratio(val(r, key + "_b2b_us"), val(r, base + "_b2b_us"))
            if v is None:
                misses.append("%s: no ratio (%s)" % (row_name(r), r.get(note) or "%s not measured" % base))
                continue
            ratios.append(v)
            if v > asym_limit(r["m"]):
                misses.append("%s: %.3f (limit %.2f; %s %s us, %s %s us)" % (
                    row_name(r), v, asym_limit(r["m"]), key, cell(val(r, key + "_b2b_us")), base,
                    cell(val(r, base + "_b2b_us"))))
        small = [ratio(val(r, key + "_b2b_us"), val(r, base + "_b2b_us")) for r in rs if r["m"] <= ASYM_SMALL_MAX_M]
        large = [ratio(val(r, key + "_b2b_us"), val(r, base + "_b2b_us")) for r in rs if r["m"] > ASYM_SMALL_MAX_M]
        out.append("- issue 19, %s, back to back (target <= %.2f at M <= %d, <= %.2f at M >= %d, every row): %d of %d "
                   "rows met; M <= %d %s (geomean %s), M > %d %s (geomean %s)" % (
                       name, ASYM_SMALL_LIMIT, ASYM_SMALL_MAX_M, ASYM_LARGE_LIMIT, ASYM_LARGE_MIN_M,
                       len(rs) - len(misses), len(rs), ASYM_SMALL_MAX_M, fmt_range(small, 3),
                       cell(geomean(small), 3), ASYM_SMALL_MAX_M, fmt_range(large, 3), cell(geomean(large), 3)))
        out += ["  - miss: " + x for x in misses]
    return out


def fused_pct(r, key, field):
    """% of the copy bandwidth of a fused quantizer's run: its floor (bytes at copy_tbps) / its time."""
    return ratio(100.0 * val(r, key + "_floor_us"), val(r, key + field)) if val(r, key + "_floor_us") else None


def engine_target_lines(rows):
    """Issue 20: the fused quantizers at >= FUSED_MIN_BW of the copy bandwidth from FUSED_MIN_BYTES of traffic up,
    and the decode-step chain not slower than sq_dynamic at any M (both back to back); the chain against the bf16
    layer for information. Misses listed."""
    out = []
    for key, name in FUSED:
        rs = [r for r in rows if val(r, key + "_b2b_us") is not None or r.get(key + "_note")]
        if not rs:
            continue
        big = [r for r in rs if (val(r, key + "_bytes") or 0) >= FUSED_MIN_BYTES]
        misses = []
        for r in big:
            p = fused_pct(r, key, "_b2b_us")
            if p is None or p < 100.0 * FUSED_MIN_BW:
                misses.append("%s M=%d K=%d: %s%% of copy bandwidth (%s bytes, %s us, floor %s us)%s" % (
                    r["tag"], r["m"], r["k"], cell(p, 1), r.get(key + "_bytes"), cell(val(r, key + "_b2b_us")),
                    cell(val(r, key + "_floor_us")), (" " + r[key + "_note"]) if r.get(key + "_note") else ""))
        allp = [fused_pct(r, key, "_b2b_us") for r in rs]
        out.append("- issue 20, %s, back to back: %d of %d rows with >= %d MiB of traffic at >= %.0f%% of the copy "
                   "bandwidth; all %d rows %s (isolated %s)" % (
                       name, len(big) - len(misses), len(big), FUSED_MIN_BYTES >> 20, 100 * FUSED_MIN_BW, len(rs),
                       fmt_range(allp, 0, "%"), fmt_range([fused_pct(r, key, "_us") for r in rs], 0, "%")))
        out += ["  - miss: " + x for x in misses]
    chain = [r for r in rows if val(r, "sq_chain_b2b_us") is not None or r.get("chain_note")]
    if chain:
        misses, rat = [], []
        for r in chain:
            v = ratio(val(r, "sq_chain_b2b_us"), val(r, "sq_dynamic_b2b_us"))
            if v is None:
                misses.append("%s: no timing (%s)" % (row_name(r), r.get("chain_note") or "sq_dynamic not measured"))
                continue
            rat.append(v)
            if v > 1.0:
                misses.append("%s: %.3f (chain %s us, sq_dynamic %s us)" % (
                    row_name(r), v, cell(val(r, "sq_chain_b2b_us")), cell(val(r, "sq_dynamic_b2b_us"))))
        bf = [ratio(val(r, "chain_bf16_b2b_us"), val(r, "sq_chain_b2b_us")) for r in chain]
        out.append("- issue 20, chain RMSNORM_QUANTIZE -> SCALED_LINEAR / SQ_OP_QUANTIZED_LINEAR, back to back (target "
                   "<= 1 at every M): %d of %d rows met, %s (geomean %s); bf16 cuBLASLt layer / chain %s (geomean %s)"
                   % (len(chain) - len(misses), len(chain), fmt_range(rat, 3), cell(geomean(rat), 3),
                      fmt_range(bf, 2), cell(geomean(bf), 2)))
        out += ["  - miss: " + x for x in misses]
    return out or ["- issue 20 (engine): no engine rows in this run (--no-engine, or written before them)"]


def asym_table(rows):
    """Every row with an asymmetric timing: back-to-back times and ratios against the symmetric method."""
    lines = []
    for r in rows:
        if not any(val(r, k + "_b2b_us") is not None or r.get(n) for k, _, n, _ in ASYM_PAIRS):
            continue
        line = [r["tag"], r["m"], r["n"], r["k"], r["out_dtype"]]
        for key, base, note, _ in ASYM_PAIRS:
            v = ratio(val(r, key + "_b2b_us"), val(r, base + "_b2b_us"))
            line += [cell(val(r, base + "_b2b_us")), cell(val(r, key + "_b2b_us")),
                     "-" if v is None else ("%.3f" % v) + ("" if v <= asym_limit(r["m"]) else " **miss**")]
        line.append(r.get("asym_kernel") or "-")
        lines.append(line)
    return md_table(["tag", "M", "N", "K", "out", "sq b2b us", "sq_asym b2b us", "asym / sq", "sq_dynamic b2b us",
                     "sq_dynamic_asym b2b us", "dyn asym / dyn", "asym kernel"], lines)


def engine_tables(rows):
    """The fused quantizers' rows (time, floor, % of copy bandwidth) and the chain's rows."""
    out = []
    lines = []
    for r in rows:
        for key, name in FUSED:
            if val(r, key + "_b2b_us") is None and not r.get(key + "_note"):
                continue
            lines.append([name, r["tag"], r["m"], r["k"], r.get(key + "_bytes") or "-", cell(val(r, key + "_floor_us")),
                          cell(val(r, key + "_us")), cell(val(r, key + "_b2b_us")), cell(fused_pct(r, key, "_us"), 0),
                          cell(fused_pct(r, key, "_b2b_us"), 0)])
    if lines:
        out += md_table(["op", "tag", "M", "K", "bytes", "floor us", "us", "b2b us", "% copy bw", "% copy bw b2b"],
                        lines) + [""]
    lines = []
    for r in rows:
        if val(r, "sq_chain_b2b_us") is None and not r.get("chain_note"):
            continue
        c = val(r, "sq_chain_b2b_us")
        lines.append([r["tag"], r["m"], r["n"], r["k"], cell(c), cell(val(r, "sq_dynamic_b2b_us")),
                      cell(ratio(c, val(r, "sq_dynamic_b2b_us")), 3), cell(val(r, "chain_bf16_b2b_us")),
                      cell(ratio(val(r, "chain_bf16_b2b_us"), c)), r.get("chain_norm_kernel") or "-",
                      r.get("chain_kernel") or "-"])
    if lines:
        out += md_table(["tag", "M", "N", "K", "chain b2b us", "sq_dynamic b2b us", "chain / dynamic",
                         "bf16 layer b2b us", "bf16 / chain", "norm kernel", "linear kernel"], lines)
    return out


def header_lines(res):
    out = []
    dev = res.get("device", "?")
    facts = ["sm_%s" % res.get("sm", "?"), "%s SMs" % res.get("num_sms", "?")]
    if res.get("l2_bytes"):
        facts.append("L2 %d MB" % (res["l2_bytes"] >> 20))
    out.append("%s (%s), libsmoothquant %s; copy bandwidth %s TB/s; empty kernel %s us isolated / %s us back to back; "
               "host_run_us %s (a bare launch %s)." % (
                   dev, ", ".join(facts), res.get("library_version", "?"), cell(res.get("copy_tbps"), 2),
                   cell(res.get("empty_kernel_us")), cell(res.get("empty_kernel_b2b_us")), cell(res.get("host_run_us")),
                   cell(res.get("host_launch_us"))))
    if "cublaslt_version" in res:
        out.append("cuBLASLt %s, CUDA runtime %s, driver %s." % (res["cublaslt_version"], res.get("cuda_runtime_version"),
                                                               res.get("cuda_driver_version")))
    return out


def set_title(res, name):
    sets = res.get("shape_sets") or {}
    path = sets.get(name, {}).get("path") if isinstance(sets.get(name), dict) else None
    default = {"main": "bench/shapes.csv", "heldout": "bench/shapes_heldout.csv"}.get(name, name)
    return "%s set (`%s`)" % ({"main": "main", "heldout": "held-out"}.get(name, name), path or default)


def render(res, source=None):
    """The whole report (Markdown)."""
    out = ["# libsmoothquant benchmark results", ""]
    if source:
        out += ["Generated by `python3 bench/report.py %s --out bench/RESULTS.md` from the JSON that `bench/sq_bench` "
                "wrote; do not edit by hand. Method, fields and how to rerun: `bench/README.md`." % source, ""]
    out += header_lines(res) + [""]
    out += ["A ratio is the other method's time over the library's: above 1 the library is faster. *b2b*: back to back "
            "(runs following each other on the stream, as a model's layers); *isolated*: each run alone, its launch "
            "latency included. The summary ranges are over the model shapes (tags %s left out); the peers are bf16 out, "
            "timed once per shape with the library on bf16 (`sq_peer_b2b_us`, the base of the bf16 rows' peer ratios); "
            "other rows divide by their own `sq_b2b_us`." % ", ".join(EXCLUDED_TAGS), ""]
    names = sets_of(res)
    for name in names:
        rows = rows_of(res, name)
        out += ["## Summary: %s, %d rows" % (set_title(res, name), len(rows)), ""]
        out += summary_table(rows) + [""]
        out += ["Issue 22's targets on this set (bf16 and f32 out, back to back):", ""]
        out += target_lines(rows, res.get("copy_tbps")) + [""]
        out += ["Issue 19's and issue 20's targets on this set:", ""]
        out += asym_target_lines(rows) + engine_target_lines(rows) + [""]
    for name in names:
        rows = rows_of(res, name)
        if has_asym(rows):
            out += ["## Asymmetric rows (issue 19): %s" % set_title(res, name), ""]
            out += asym_table(rows) + [""]
        eng = engine_tables(rows)
        if eng:
            out += ["## Engine rows (issue 20): %s" % set_title(res, name), ""]
            out += eng + [""]
    for name in names:
        out += ["## Every row: %s" % set_title(res, name), ""]
        out += full_table(rows_of(res, name)) + [""]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- two runs
COMPARE_FIELDS = ["sq_us", "sq_b2b_us"]
COMPARE_ROW_LIMIT = 1.05   # issue 17: no row more than 5% slower


def compare(new, old, set_name="main"):
    """new / old time of the library per regime and overall (geometric means over the rows both runs have), and
    the rows more than COMPARE_ROW_LIMIT slower in a field."""
    def key(r):
        return (r["tag"], r["m"], r["n"], r["k"], r["out_dtype"])
    base = {key(r): r for r in rows_of(old, set_name)}
    pairs = [(r, base[key(r)]) for r in rows_of(new, set_name) if key(r) in base]
    out = ["new / old on %d common rows of the %s set (below 1: faster now)" % (len(pairs), set_name), ""]
    header = ["regime"] + ["%s geomean" % f for f in COMPARE_FIELDS] + ["%s rows > %.2f" % (f, COMPARE_ROW_LIMIT)
                                                                        for f in COMPARE_FIELDS]
    lines = []
    for i in list(range(len(REGIMES))) + [None]:
        ps = [(n, o) for n, o in pairs if i is None or regime_of(n["m"]) == i]
        if not ps:
            continue
        label = "all" if i is None else regime_label(i, [n["m"] for n, _ in ps])
        ratios = {f: [ratio(val(n, f), val(o, f)) for n, o in ps] for f in COMPARE_FIELDS}
        lines.append([label] + [cell(geomean(ratios[f]), 4) for f in COMPARE_FIELDS] +
                     ["%d of %d" % (sum(1 for v in ratios[f] if v is not None and v > COMPARE_ROW_LIMIT),
                                    sum(1 for v in ratios[f] if v is not None)) for f in COMPARE_FIELDS])
    out += md_table(header, lines) + [""]
    slow = sorted(((ratio(val(n, f), val(o, f)), f, n) for n, o in pairs for f in COMPARE_FIELDS
                   if (ratio(val(n, f), val(o, f)) or 0) > COMPARE_ROW_LIMIT), key=lambda x: -x[0])
    out += ["- %s M=%d %s %s: %.3fx" % (n["tag"], n["m"], n["out_dtype"], f, v) for v, f, n in slow[:20]]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- other tools' JSON
def choice_report(ch):
    rows = ch.get("rows", [])
    out = ["## The plan's choice against every built variant (`sq_choice`, %s, %s)" % (ch.get("device"), ch.get("shapes")),
           ""]
    within = ch.get("within", 1.05)
    ok = sum(1 for r in rows if r.get("ratio_b2b") is not None and r["ratio_b2b"] <= within)
    out.append("Within %.2fx of the fastest built variant back to back: %d of %d rows (screening: candidates over %sx "
               "the fastest 4-run estimate not timed further)." % (within, ok, len(rows), ch.get("screen")))
    out.append("")
    lines = [[r["tag"], r["m"], r["n"], r["k"], r["out_dtype"], r["choice"], cell(r.get("choice_b2b_us")),
              r["fastest_b2b"], cell(r.get("fastest_b2b_us")), cell(r.get("ratio_b2b"), 3), cell(r.get("ratio_iso"), 3),
              "yes" if r.get("within") else "**no**"] for r in rows]
    out += md_table(["tag", "M", "N", "K", "out", "plan's choice", "b2b us", "fastest (b2b)", "b2b us",
                     "choice / fastest b2b", "isolated", "within"], lines)
    return "\n".join(out)


def read_replay(text):
    """sq_choice --plan-only's CSV: {(tag, m, out): choice}."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    if not lines or lines[0] != "tag,m,n,k,out,choice":
        raise ValueError("not sq_choice --plan-only output (header tag,m,n,k,out,choice)")
    plan = {}
    for l in lines[1:]:
        tag, m, _n, _k, out, choice = l.split(",")
        plan[(tag, int(m), out)] = choice
    return plan


def choice_replay(ch, plan):
    """A dispatch's choices (read_replay) looked up in an sq_choice run's measured variant times: how many
    rows it would bring within the target, without a device. A choice the run screened out (over --screen
    times the fastest estimate) or never timed counts as a miss."""
    within = ch.get("within", 1.05)
    rows = [r for r in ch.get("rows", []) if (r["tag"], r["m"], r["out_dtype"]) in plan]
    out = ["## A dispatch replayed on measured times (`sq_choice --plan-only` against %s, %s)" %
           (ch.get("shapes"), ch.get("device")), ""]
    lines, old_ok, new_ok, changed, unmeasured = [], 0, 0, 0, 0
    for r in rows:
        new = plan[(r["tag"], r["m"], r["out_dtype"])]
        times = {v["name"]: v.get("b2b_us") for v in r.get("variants", [])}
        t = times.get(new)
        ratio = t / r["fastest_b2b_us"] if t is not None and r.get("fastest_b2b_us") else None
        old_ok += r.get("ratio_b2b") is not None and r["ratio_b2b"] <= within
        new_ok += ratio is not None and ratio <= within
        if new != r["choice"]:
            changed += 1
            unmeasured += ratio is None
            lines.append([r["tag"], r["m"], r["n"], r["k"], r["out_dtype"], r["choice"], cell(r.get("ratio_b2b"), 3),
                          new, cell(ratio, 3) if ratio is not None else "not timed"])
    out.append("Within %.2fx of the fastest built variant back to back: %d of %d rows as run, %d replayed; %d rows "
               "change choice, %d of them to a variant the run did not time." %
               (within, old_ok, len(rows), new_ok, changed, unmeasured))
    if lines:
        out.append("")
        out += md_table(["tag", "M", "N", "K", "out", "choice as run", "/ fastest", "replayed choice", "/ fastest"],
                        lines)
    return "\n".join(out)


def torch_report(tj):
    rows = tj.get("rows", [])
    methods = tj.get("methods", [])
    out = ["## PyTorch peers in CUDA graphs (`peers_torch.py`: torch %s, CUDA %s, %s)" % (
        tj.get("torch_version"), tj.get("torch_cuda"), tj.get("device")), ""]
    out.append("Microseconds per run, back to back inside one CUDA graph (median over graph replays); ratio = the "
               "peer's time / libsmoothquant's (bf16 out, through the C ABI in the same graph setup).")
    out.append("")
    header = ["set", "tag", "M", "N", "K"] + ["%s us" % m for m in methods] + \
             ["%s / sq" % m for m in methods if m != "sq"]
    lines = []
    for r in rows:
        sq = val(r, "sq_us")
        line = [r.get("set", "-"), r["tag"], r["m"], r["n"], r["k"]] + [cell(val(r, m + "_us")) for m in methods]
        line += [cell(ratio(val(r, m + "_us"), sq)) for m in methods if m != "sq"]
        lines.append(line)
    out += md_table(header, lines)
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- tests
# The closing note of 2026-11-25 (issue stop 15) and README's table, computed from the JSON committed then
# (copy_tbps 3.0119, host_run_us 2.815): the summary must reproduce it from that file.
BASELINE_FINGERPRINT = {"copy_tbps": 3.0119, "host_run_us": 2.815}
BASELINE_TABLE = """\
| M <= 16 | f32 | 52-101% / 72-109% | 3-93 | 1.01-1.25 | 1.05-1.48 / 1.06-1.88 |
| M <= 16 | bf16 | 52-101% / 72-109% | 3-94 | 1.03-1.26 | 1.06-1.48 / 1.07-1.86 |
| M <= 16 | f64 | 53-101% / 72-109% | 3-91 | 0.98-1.26 | 1.04-1.50 / 1.05-1.89 |
| M = 32-64 | f32 | 44-96% / 59-98% | 91-351 | 0.93-1.09 | 1.07-1.35 / 1.08-1.64 |
| M = 32-64 | bf16 | 43-96% / 58-98% | 91-361 | 0.95-1.10 | 1.07-1.34 / 1.08-1.62 |
| M = 32-64 | f64 | 44-95% / 59-97% | 90-340 | 0.87-1.08 | 1.06-1.35 / 1.08-1.64 |
| M = 128-1024 | f32 | 29-90% / 29-92% | 288-1493 | 0.92-1.18 | 1.06-1.56 / 1.08-1.73 |
| M = 128-1024 | bf16 | 27-91% / 27-94% | 339-1457 | 0.97-1.19 | 1.02-1.58 / 1.06-1.71 |
| M = 128-1024 | f64 | 33-89% / 32-90% | 263-1432 | 0.84-1.09 | 1.07-1.64 / 1.09-1.84 |
| M >= 2048 | f32 | - | 1173-1486 | 0.77-1.16 | 1.04-1.41 / 1.05-1.48 |
| M >= 2048 | bf16 | - | 1072-1470 | 0.81-1.17 | 0.99-1.46 / 1.01-1.55 |
| M >= 2048 | f64 | - | 1039-1447 | 0.74-1.19 | 1.06-1.43 / 1.07-1.50 |"""


def synthetic_row(tag, m, n, k, d, sq, sqb, **kw):
    r = {"tag": tag, "m": m, "n": n, "k": k, "out_dtype": d, "sq_us": sq, "sq_b2b_us": sqb, "floor_us": sq / 2,
         "cublaslt_int32_us": sq * 1.1, "cublaslt_int32_b2b_us": sqb * 1.1, "cublaslt_scaled_us": sq * 1.3,
         "cublaslt_scaled_b2b_us": sqb * 1.4, "kernel": "k", "check": "ok"}
    r.update(kw)
    return r


def self_test():
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    # 0. A dispatch replayed on an sq_choice run: a choice that changes to a timed faster variant, one that
    # changes to a screened-out variant (a miss), one unchanged.
    def choice_row(tag, choice, times):
        fastest = min((t, n) for n, t in times.items() if t is not None)
        return {"tag": tag, "m": 48, "n": 4096, "k": 3584, "out_dtype": "bf16", "choice": choice,
                "choice_b2b_us": times[choice], "fastest_b2b": fastest[1], "fastest_b2b_us": fastest[0],
                "ratio_b2b": times[choice] / fastest[0],
                "variants": [{"name": n, "b2b_us": t} for n, t in times.items()]}
    ch = {"within": 1.05, "shapes": "s.csv", "device": "d",
          "rows": [choice_row("a", "dec", {"dec": 12.0, "sk1": 10.0, "sk3": 10.4}),
                   choice_row("b", "dec", {"dec": 12.0, "sk1": 10.0, "sk3": None}),
                   choice_row("c", "sk1", {"dec": 12.0, "sk1": 10.0})]}
    plan = read_replay("tag,m,n,k,out,choice\na,48,4096,3584,bf16,sk3\nb,48,4096,3584,bf16,sk3\n"
                       "c,48,4096,3584,bf16,sk1\nzz,1,1,16,bf16,x\n")
    rep = choice_replay(ch, plan)
    expect("1 of 3 rows as run, 2 replayed; 2 rows change choice, 1 of them to a variant the run did not time" in rep,
           "choice_replay counts: " + rep.splitlines()[2])
    expect("| a | 48 | 4096 | 3584 | bf16 | dec | 1.200 | sk3 | 1.040 |" in rep, "choice_replay row a")
    expect("| b | 48 | 4096 | 3584 | bf16 | dec | 1.200 | sk3 | not timed |" in rep, "choice_replay row b")
    try:
        read_replay("tag,m\n")
        expect(False, "read_replay refuses a CSV without sq_choice --plan-only's header")
    except ValueError:
        pass

    # 1. Rows written before the held-out set and the peers (no "set", no peer fields): main set, six columns.
    old = {"copy_tbps": 3.0, "rows": [synthetic_row("a", 1, 4096, 4096, "bf16", 10.0, 8.0),
                                      synthetic_row("a", 16, 4096, 4096, "bf16", 12.0, 9.0),
                                      synthetic_row("square", 4096, 4096, 4096, "bf16", 100.0, 90.0)]}
    expect(sets_of(old) == ["main"], "rows without 'set' are the main set")
    lines = summary_table(rows_of(old, "main"))
    expect(len(lines) == 3, "one regime line (the square row is left out): %r" % lines)
    expect(lines[2] == "| M <= 16 | bf16 | 50-50% / 62-67% | 3-45 | 1.10-1.10 | 1.30-1.30 / 1.40-1.40 |",
           "summary line: %r" % lines[2])
    expect(len(summary_table(rows_of(old, "main"), include_all_tags=True)) == 4, "squares on request")
    # 2. Peers and a held-out set: ratios, geometric means, separate summaries.
    new = {"copy_tbps": 3.0, "rows": [
        synthetic_row("a", 2048, 4096, 4096, "bf16", 100.0, 200.0, set="main", sq_peer_b2b_us=100.0,
                      cublaslt_fp8_fast_b2b_us=90.0, cublaslt_fp8_b2b_us=110.0, cublaslt_bf16_b2b_us=200.0),
        synthetic_row("a", 4096, 4096, 4096, "bf16", 200.0, 200.0, set="main", cublaslt_fp8_fast_b2b_us=220.0,
                      cublaslt_fp8_b2b_us=None, cublaslt_bf16_b2b_us=400.0),
        synthetic_row("h", 48, 13653, 4096, "f32", 20.0, 16.0, set="heldout", cublaslt_fp8_fast_b2b_us=None),
        synthetic_row("h", 48, 14336, 4096, "f32", 20.0, 15.0, set="heldout"),
        synthetic_row("h", 16, 14336, 4096, "f32", 14.0, 12.0, set="heldout"),
        synthetic_row("h", 64, 14336, 4096, "f32", 30.0, 20.0, set="heldout", cublaslt_fp8_b2b_us=19.0)]}
    expect(sets_of(new) == ["main", "heldout"], "two sets, in order")
    s = summary_table(rows_of(new, "main"))
    # the peers over sq_peer_b2b_us where the row has it (100, not the row's 200), else over sq_b2b_us
    expect(len(s) == 3 and "0.90-1.10; 0.99" in s[2] and "| 1.10-1.10; 1.10 |" in s[2] and "2.00-2.00; 2.00" in s[2],
           "peer columns: %r" % s)
    expect(s[2].startswith("| M >= 2048 | bf16 | - |"), "compute-bound regime has no floor: %r" % s[2])
    h = summary_table(rows_of(new, "heldout"))
    expect(len(h) == 4 and h[2].startswith("| M <= 16 | f32 |") and h[3].startswith("| M = 48-64 | f32 |"),
           "held-out summary: %r" % h)
    t = "\n".join(target_lines(rows_of(new, "main"), 3.0))
    expect("1 of 2 rows at least as fast, lowest 0.900 (a M=2048 bf16), geometric mean 0.995" in t, "targets: %s" % t)
    th = "\n".join(target_lines(rows_of(new, "heldout"), 3.0))
    expect("cuBLASLt int32: 0 of 3; fp8 rowwise fast-accum: no timings; fp8 rowwise: 1 of 1" in th, "batched: %s" % th)
    # 13653 x 4096 at 16 us against 14336 x 4096 at 15 us: (13653 / 16) / (14336 / 15) = 0.893 of its TOPS
    expect("1 of 1 rows at >= 85% of the nearest aligned shape's TOPS" in th and "lowest 0.893 (h M=48 f32)" in th,
           "unaligned: %s" % th)
    # 20 us against 1.2 x 12 us + 48 (4096 + 14337 x 4) bytes at 3 TB/s (0.98 us): 1.300 of the limit
    expect("M = 64 against 1.2x M = 16" in th and "1 of 1 layers over, highest 1.300" in th, "M=64 vs M=16: %s" % th)
    full = full_table(rows_of(new, "main"))
    expect(len(full) == 4 and "| 0.90 | 1.10 | 2.00 |" in full[2] and "| 100.00 | 200.00 |" in full[2],
           "full table: %r" % full[2])
    slower = json.loads(json.dumps(old))
    slower["rows"][0]["sq_us"] = 10.0 * 1.1  # 10% slower isolated
    c = compare(slower, old)
    expect("| M <= 16 | 1.0488 | 1.0000 | 1 of 2 | 0 of 2 |" in c and "- a M=1 bf16 sq_us: 1.100x" in c,
           "compare: %s" % c)
    text = render(new, "x.json")
    expect("## Summary: held-out set" in text and "## Every row: main set" in text, "render sections")
    # 3. Issue 19's and issue 20's targets: limits by M, misses listed, rows without a timing are misses.
    eng = [synthetic_row("e", 16, 4096, 4096, "bf16", 12.0, 10.0, sq_asym_b2b_us=10.2, sq_dynamic_b2b_us=12.0,
                         sq_dynamic_asym_b2b_us=12.5, sq_chain_b2b_us=13.2, chain_bf16_b2b_us=26.4),
           synthetic_row("e", 128, 4096, 4096, "bf16", 22.0, 20.0, sq_asym_b2b_us=20.9, sq_dynamic_b2b_us=30.0,
                         sq_dynamic_asym_b2b_us=31.8, sq_chain_b2b_us=29.0, chain_bf16_b2b_us=58.0),
           synthetic_row("e", 1, 4096, 4096, "f32", 8.0, 6.0, asym_note="SQ_STATUS_NOT_SUPPORTED: no u8 here"),
           synthetic_row("e_qkv", 64, 6144, 4096, "bf16", 9.0, 7.0, norm_quant_b2b_us=4.0, norm_quant_us=6.0,
                         norm_quant_bytes=2 * 2 ** 20, norm_quant_floor_us=0.7),
           synthetic_row("e_qkv", 1024, 6144, 4096, "bf16", 90.0, 70.0, norm_quant_b2b_us=10.0, norm_quant_us=12.0,
                         norm_quant_bytes=30 * 2 ** 20, norm_quant_floor_us=8.5),
           synthetic_row("e_qkv", 4096, 6144, 4096, "bf16", 300.0, 290.0, norm_quant_b2b_us=50.0, norm_quant_us=52.0,
                         norm_quant_bytes=120 * 2 ** 20, norm_quant_floor_us=35.0)]
    a = "\n".join(asym_target_lines(eng))
    expect("static (u8, zero points) / sq, back to back (target <= 1.03 at M <= 64, <= 1.05 at M >= 128, every row): "
           "2 of 3 rows met" in a and "e_qkv" not in a,
           "asym count (the rows it was set up for; a refusal is a miss): %s" % a)
    expect("e M=128 N=4096 K=4096 bf16: 1.045" not in a and "e M=1 N=4096 K=4096 f32: no ratio (SQ_STATUS_NOT_SUPPORTED: "
           "no u8 here)" in a, "asym misses: %s" % a)
    expect("dynamic asymmetric u8 / sq_dynamic, back to back" in a and "0 of 2 rows met" in a and
           "e M=16 N=4096 K=4096 bf16: 1.042 (limit 1.03" in a and "e M=128 N=4096 K=4096 bf16: 1.060 (limit 1.05" in a,
           "dynamic asym misses: %s" % a)
    e = "\n".join(engine_target_lines(eng))
    expect("RMSNORM_QUANTIZE (residual on), back to back: 1 of 2 rows with >= 16 MiB of traffic at >= 80%" in e and
           "miss: e_qkv M=4096 K=4096: 70.0% of copy bandwidth" in e, "fused quantizer target: %s" % e)
    expect("(target <= 1 at every M): 1 of 2 rows met, 0.967-1.100 (geomean 1.031); bf16 cuBLASLt layer / chain "
           "2.00-2.00 (geomean 2.00)" in e and "miss: e M=16 N=4096 K=4096 bf16: 1.100" in e, "chain target: %s" % e)
    expect("no asymmetric rows" in asym_target_lines(rows_of(old, "main"))[0] and
           "no engine rows" in engine_target_lines(rows_of(old, "main"))[0], "runs without the new methods")
    expect(len(asym_table(eng)) == 2 + 3 and "**miss**" in asym_table(eng)[2], "asym table: %r" % asym_table(eng))
    expect(len(engine_tables(eng)) == 2 + 3 + 1 + 2 + 2, "engine tables: %r" % engine_tables(eng))
    # 4. The committed results, when they are still the run the closing note summarized.
    if os.path.exists(BASELINE):
        res = load(BASELINE)
        render(res, "baseline")
        if all(res.get(k) == v for k, v in BASELINE_FINGERPRINT.items()):
            got = "\n".join(summary_table(rows_of(res, "main"))[2:])
            expect(got == BASELINE_TABLE, "the committed JSON's summary differs from its closing note:\n%s" % got)
            print("self-test: the committed JSON's summary equals its closing note's table")
        else:
            print("self-test: %s is another run than the closing note's; its table is not compared" % BASELINE)
    # 5. README.md's performance table is the one the committed JSON gives.
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
    if os.path.exists(BASELINE) and os.path.exists(readme):
        src = os.path.relpath(BASELINE, os.path.dirname(readme))
        expect(update_readme(readme, load(BASELINE), src, True) == 0, "README.md's table is not the committed JSON's")
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    print("self-test: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


def check_writer(exe):
    """What `exe --write-schema` writes: every field of the committed results' rows and top level is there,
    every method column has its _us and _b2b_us, and the report renders it."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "schema.json")
        subprocess.run([exe, "--write-schema", path], check=True)
        new = load(path)
    problems = []
    if os.path.exists(BASELINE):
        old = load(BASELINE)
        missing_top = set(old) - set(new)
        missing_row = set(old["rows"][0]) - set(new["rows"][0])
        if missing_top:
            problems.append("top-level fields gone: %s" % sorted(missing_top))
        if missing_row:
            problems.append("row fields gone: %s" % sorted(missing_row))
    for r in new["rows"]:
        for k in [k[:-len("_b2b_us")] for k in r if k.endswith("_b2b_us")]:
            if k + "_us" not in r:
                problems.append("%s_b2b_us without %s_us" % (k, k))
        t = tops(r, r["sq_us"])
        if abs(t - r["sq_tops"]) > 0.01:
            problems.append("sq_tops %s, 2 M N K / sq_us %s" % (r["sq_tops"], t))
    render(new, "schema")
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    print("check-writer: %s (%d rows, %d fields each)" % ("FAILED" if problems else "passed", len(new["rows"]),
                                                         len(new["rows"][0])))
    return 1 if problems else 0


# ----------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="?", help="sq_bench's results JSON")
    ap.add_argument("--table", choices=["all", "summary", "full", "targets", "asym", "engine", "readme"], default="all")
    ap.add_argument("--set", default=None, help="one shape set (main, heldout); default every set")
    ap.add_argument("--all-tags", action="store_true", help="summary over every tag (squares too)")
    ap.add_argument("--out", help="write to this file instead of stdout")
    ap.add_argument("--compare", metavar="OLD_JSON", help="the library's times against an older results JSON")
    ap.add_argument("--choice", help="sq_choice's JSON: the plan's choice against every built variant")
    ap.add_argument("--replay", metavar="PLAN_CSV", help="with --choice: sq_choice --plan-only's CSV, replayed on "
                    "the choice JSON's measured variant times")
    ap.add_argument("--torch", help="peers_torch.py's JSON: the PyTorch peers")
    ap.add_argument("--readme", metavar="README", help="rewrite README's generated performance table from the JSON")
    ap.add_argument("--readme-check", metavar="README", help="exit 1 unless README's table is the JSON's")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--check-writer", metavar="SQ_BENCH")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if a.check_writer:
        return check_writer(a.check_writer)
    parts = []
    if a.json and (a.readme or a.readme_check):
        return update_readme(a.readme or a.readme_check, load(a.json), os.path.relpath(a.json), bool(a.readme_check))
    if a.json:
        res = load(a.json)
        if a.compare:
            parts.append(compare(res, load(a.compare), a.set or "main"))
        elif a.table == "all" and a.set is None:
            # The command that wrote it, named in the report (with --choice the sq_choice table follows it).
            source = os.path.relpath(a.json) + (" --choice %s" % os.path.relpath(a.choice) if a.choice else "")
            parts.append(render(res, source))
        else:
            names = [a.set] if a.set else sets_of(res)
            for name in names:
                rows = rows_of(res, name)
                if len(names) > 1:
                    parts.append("%s, %d rows:" % (set_title(res, name), len(rows)))
                if a.table in ("all", "summary"):
                    parts.append("\n".join(summary_table(rows, a.all_tags)))
                if a.table == "readme":
                    parts.append("\n".join(readme_table(rows)))
                if a.table in ("all", "targets"):
                    parts.append("\n".join(target_lines(rows, res.get("copy_tbps")) + asym_target_lines(rows) +
                                           engine_target_lines(rows)))
                if a.table in ("all", "asym"):
                    parts.append("\n".join(asym_table(rows)))
                if a.table in ("all", "engine"):
                    parts.append("\n".join(engine_tables(rows)))
                if a.table in ("all", "full"):
                    parts.append("\n".join(full_table(rows)))
    if a.replay and not a.choice:
        ap.error("--replay needs --choice")
    if a.choice and a.replay:
        with open(a.replay) as f:
            parts.append(choice_replay(load(a.choice), read_replay(f.read())))
    elif a.choice:
        parts.append(choice_report(load(a.choice)))
    if a.torch:
        parts.append(torch_report(load(a.torch)))
    if not parts:
        ap.error("give a results JSON, --choice, --torch, --self-test or --check-writer")
    text = "\n\n".join(parts) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
