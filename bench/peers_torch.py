#!/usr/bin/env python3
"""The peers a PyTorch user would pick instead of libsmoothquant, timed as such a user runs them: inside CUDA
graphs, back to back, bf16 out (issue 22; bench/README.md, "Peers").

    python3 bench/peers_torch.py [--shapes CSV ...] [--m 1,16,64] [--filter TAG,..] [--lib PATH] [--json PATH]
    python3 bench/peers_torch.py --check-layout build/bench/sq_abi_layout     # host test, no torch, no GPU

Methods, per shape (tag,m,n,k; default bench/shapes_heldout.csv), on the same int8 values (act full-range int8,
weight full-range int8, per-token scales [M], per-channel scales [N]):
    sq                 libsmoothquant through its C ABI (ctypes): SQ_OP_SMOOTHQUANT_LINEAR, int8 act with a static
                       per-tensor scale, bf16 out; checked bit for bit against the contract computed in torch
    sq_dynamic         SQ_OP_QUANTIZED_LINEAR: bf16 x -> per-token int8 -> the linear, bf16 out
    scaled_mm_fast     torch._scaled_mm rowwise: e4m3 act [M,K] x e4m3 weight [N,K]^T, scale_a [M,1], scale_b [1,N]
                       f32, bf16 out, use_fast_accum=True
    scaled_mm          the same, use_fast_accum=False
    linear_bf16        F.linear in bf16 (act and weight the int8 values times their scales)
    int_mm_scaled      torch._int_mm (int32) then the scales applied by separate ops, bf16 out
Each method's runs are captured in one CUDA graph, R runs per graph, run i on rotated buffer set i % copies (one
rotation of the smallest working set exceeds 2x the L2); a replay is timed with CUDA events and divided by R; the
methods of a shape are replayed in interleaved rounds (odd rounds in reverse order) and the median over replays
kept. A method the library or torch refuses for the shape (torch._int_mm needs M > 16, fp8 needs K and N % 16 == 0)
is null with a note. Outputs: sq bit for bit; the others' relative error ||out - ref|| / ||ref|| against a
float64 reference of the same operands on the first rows, reported, never fatal.
Exit status: 0, 1 on an error, 77 when torch or a GPU is not there (device-run.sh reports it as skipped).
"""

import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

ROTATION_L2_MULTIPLE = 2.0   # one rotation of buffers > this x L2 (as sq_bench)
MAX_COPIES = 64
ROUNDS = 4                   # interleaved rounds of a shape's methods
TARGET_MS = 20.0             # GPU time per method and shape, over all rounds
MIN_RUNS_PER_GRAPH = 4      # runs captured in one graph: at least this many and every rotated set, ...
MIN_GRAPH_US = 1000.0        # ... enough for this long a replay (more runs per graph at small M), ...
MAX_RUNS_PER_GRAPH = 256     # ... at most this many (a multiple of the sets when they fit)
MIN_REPLAYS = 2              # per method and round
MAX_REPLAYS = 50
CHECK_ROWS = 64              # rows of the output checked against the float64 reference
FP8_SPREAD = 448.0 / 128.0   # int8 values x this: e4m3's range, as sq_bench's fp8 operands
WEIGHT_SCALE = (1.0e-3, 2.0e-2)
ACT_SCALE = (5.0e-3, 5.0e-2)
SKIP = 77

METHODS = ["sq", "sq_dynamic", "scaled_mm_fast", "scaled_mm", "linear_bf16", "int_mm_scaled"]


# ------------------------------------------------------------------------------------------- the C ABI
class SqPlanDesc(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("op", ctypes.c_int32), ("act_dtype", ctypes.c_int32),
                ("weight_dtype", ctypes.c_int32), ("scale_dtype", ctypes.c_int32), ("out_dtype", ctypes.c_int32),
                ("n", ctypes.c_int64), ("k", ctypes.c_int64), ("max_m", ctypes.c_int64),
                ("act_scale", ctypes.c_double), ("host_threads", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                # since 0.2
                ("quant_mode", ctypes.c_int32), ("quant_dtype", ctypes.c_int32), ("act_zero_point", ctypes.c_int32),
                ("flags", ctypes.c_uint32), ("eps", ctypes.c_double)]


class SqRunArgs(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("reserved", ctypes.c_uint32), ("m", ctypes.c_int64),
                ("act", ctypes.c_void_p), ("ld_act", ctypes.c_int64), ("weight", ctypes.c_void_p),
                ("ld_weight", ctypes.c_int64), ("weight_scale", ctypes.c_void_p), ("bias", ctypes.c_void_p),
                ("smooth", ctypes.c_void_p), ("act_scale_scratch", ctypes.c_void_p), ("out", ctypes.c_void_p),
                ("ld_out", ctypes.c_int64),
                # since 0.2
                ("act_scale", ctypes.c_void_p), ("weight_zero_point", ctypes.c_void_p),
                ("weight_sums", ctypes.c_void_p), ("act_zero_point", ctypes.c_void_p),
                ("act_sums", ctypes.c_void_p), ("absmax", ctypes.c_void_p), ("residual", ctypes.c_void_p),
                ("ld_residual", ctypes.c_int64), ("residual_out", ctypes.c_void_p),
                ("ld_residual_out", ctypes.c_int64), ("norm_weight", ctypes.c_void_p)]


SQ = {"SQ_STATUS_SUCCESS": 0, "SQ_DTYPE_S8": 1, "SQ_DTYPE_BF16": 4, "SQ_OP_SMOOTHQUANT_LINEAR": 1,
      "SQ_OP_QUANTIZED_LINEAR": 2, "SQ_PREFERENCE_FASTEST": 0, "SQ_DTYPE_U8": 7, "SQ_OP_SCALED_LINEAR": 5,
      "SQ_PLAN_DESC_SIZE_0_1": 64, "SQ_RUN_ARGS_SIZE_0_1": 96}


def check_layout(exe):
    """The ctypes mirror against the header's offsets and sizes (bench/abi_layout.c)."""
    want = json.loads(subprocess.run([exe], check=True, capture_output=True, text=True).stdout)
    problems = []
    for cls, name in ((SqPlanDesc, "sq_plan_desc"), (SqRunArgs, "sq_run_args")):
        w = want[name]
        if ctypes.sizeof(cls) != w["size"]:
            problems.append("%s: size %d, header %d" % (name, ctypes.sizeof(cls), w["size"]))
        mine = [f for f, _ in cls._fields_]
        if mine != list(w["fields"]):
            problems.append("%s: fields %s, header %s" % (name, mine, list(w["fields"])))
        for f, (off, size) in w["fields"].items():
            d = getattr(cls, f, None)
            if d is None or d.offset != off or d.size != size:
                problems.append("%s.%s: offset/size %s, header %d/%d" % (
                    name, f, None if d is None else (d.offset, d.size), off, size))
    for c, v in want["constants"].items():
        if SQ.get(c) != v:
            problems.append("%s = %s, header %d" % (c, SQ.get(c), v))
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    print("check-layout: %s" % ("FAILED" if problems else "passed"))
    return 1 if problems else 0


class Lib:
    """libsmoothquant through ctypes."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        L = self.lib
        vp, i32, i64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64
        L.sq_version_string.restype = ctypes.c_char_p
        L.sq_last_error_message.restype = ctypes.c_char_p
        L.sq_status_string.restype = ctypes.c_char_p
        L.sq_status_string.argtypes = [i32]
        L.sq_plan_select.restype = i32
        L.sq_plan_select.argtypes = [vp, ctypes.POINTER(SqPlanDesc), i32, ctypes.POINTER(vp)]
        L.sq_plan_run.restype = i32
        L.sq_plan_run.argtypes = [vp, vp, vp, ctypes.c_size_t, ctypes.POINTER(SqRunArgs)]
        L.sq_plan_destroy.restype = i32
        L.sq_plan_destroy.argtypes = [vp]
        L.sq_plan_kernel_name.restype = i32
        L.sq_plan_kernel_name.argtypes = [vp, i64, ctypes.POINTER(ctypes.c_char_p)]
        L.sq_plan_workspace_size.restype = i32
        L.sq_plan_workspace_size.argtypes = [vp, ctypes.POINTER(ctypes.c_size_t)]
        self.version = L.sq_version_string().decode()

    def check(self, status, what):
        if status != SQ["SQ_STATUS_SUCCESS"]:
            raise RuntimeError("%s: %s: %s" % (what, self.lib.sq_status_string(status).decode(),
                                               self.lib.sq_last_error_message().decode()))

    def select(self, stream, op, act_dtype, n, k, max_m, act_scale):
        d = SqPlanDesc()
        d.struct_size = ctypes.sizeof(SqPlanDesc)
        d.op = op
        d.act_dtype = act_dtype
        d.weight_dtype = SQ["SQ_DTYPE_S8"]
        d.scale_dtype = d.out_dtype = SQ["SQ_DTYPE_BF16"]
        d.n, d.k, d.max_m, d.act_scale = n, k, max_m, act_scale
        plan = ctypes.c_void_p()
        self.check(self.lib.sq_plan_select(ctypes.c_void_p(stream), ctypes.byref(d), SQ["SQ_PREFERENCE_FASTEST"],
                                           ctypes.byref(plan)), "sq_plan_select")
        return plan

    def kernel_name(self, plan, m):
        name = ctypes.c_char_p()
        self.check(self.lib.sq_plan_kernel_name(plan, m, ctypes.byref(name)), "sq_plan_kernel_name")
        return name.value.decode()

    def workspace_size(self, plan):
        b = ctypes.c_size_t()
        self.check(self.lib.sq_plan_workspace_size(plan, ctypes.byref(b)), "sq_plan_workspace_size")
        return b.value

    def run(self, plan, stream, args, workspace=None, workspace_bytes=0):
        self.check(self.lib.sq_plan_run(plan, ctypes.c_void_p(stream), ctypes.c_void_p(workspace),
                                        workspace_bytes, ctypes.byref(args)), "sq_plan_run")

    def destroy(self, plan):
        self.lib.sq_plan_destroy(plan)


def run_args(m, act, weight, weight_scale, scratch, out):
    a = SqRunArgs()
    a.struct_size = ctypes.sizeof(SqRunArgs)
    a.m = m
    a.act, a.weight, a.weight_scale = act.data_ptr(), weight.data_ptr(), weight_scale.data_ptr()
    a.act_scale_scratch, a.out = scratch.data_ptr(), out.data_ptr()
    return a


# ------------------------------------------------------------------------------------------- shapes
def read_shapes(path, set_name):
    shapes = []
    with open(path) as f:
        for i, line in enumerate(f):
            line = line.strip()
            if not line or line.startswith("#") or (i == 0 and line.startswith("tag")):
                continue
            tag, m, n, k = line.split(",")
            shapes.append({"set": set_name, "tag": tag, "m": int(m), "n": int(n), "k": int(k)})
    return shapes


# ------------------------------------------------------------------------------------------- the benchmark
class Bench:
    def __init__(self, torch, lib, target_ms):
        self.torch = torch
        self.lib = lib
        self.target_ms = target_ms
        p = torch.cuda.get_device_properties(0)
        self.l2 = getattr(p, "L2_cache_size", 50 << 20)
        self.device = p.name

    def operands(self, s, copies, gen):
        """Rotated operands of one shape: int8 act/weight, their e4m3 and bf16 forms, a bf16 x for the dynamic
        plan, outputs; scales shared by every set."""
        t = self.torch
        m, n, k = s["m"], s["n"], s["k"]
        o = {"copies": copies}
        o["ws"] = t.empty(n, device="cuda").uniform_(*WEIGHT_SCALE, generator=gen)      # per-channel, f32
        o["ts"] = t.empty(m, device="cuda").uniform_(*ACT_SCALE, generator=gen)         # per-token, f32
        # The static plan's act_scale, a bf16 value: (bf16)act_scale is then exact on both sides of the check.
        o["act_scale"] = float(t.empty(1, device="cuda").uniform_(*ACT_SCALE, generator=gen).to(t.bfloat16).item())
        o["ws_bf16"] = o["ws"].to(t.bfloat16)
        sets = []
        for _ in range(copies):
            a = t.randint(-128, 128, (m, k), dtype=t.int8, device="cuda", generator=gen)
            w = t.randint(-128, 128, (n, k), dtype=t.int8, device="cuda", generator=gen)
            d = {"a": a, "w": w,
                 "a8": (a.float() * FP8_SPREAD).to(t.float8_e4m3fn), "w8": (w.float() * FP8_SPREAD).to(t.float8_e4m3fn),
                 "abf": (a.float() * o["ts"][:, None]).to(t.bfloat16), "wbf": (w.float() * o["ws"][:, None]).to(t.bfloat16),
                 "x": ((t.rand(m, k, device="cuda", generator=gen) * 2 - 1) *
                       t.empty(m, 1, device="cuda").uniform_(0.05, 8.0, generator=gen)).to(t.bfloat16),
                 "out": t.empty(m, n, dtype=t.bfloat16, device="cuda"),
                 "acc": t.empty(m, n, dtype=t.int32, device="cuda")}
            sets.append(d)
        o["sets"] = sets
        o["scratch"] = t.empty(m, dtype=t.bfloat16, device="cuda")
        return o

    def method_fns(self, s, o, stream):
        """name -> run(i): enqueues run i on the current stream (set i % copies) and returns its output tensor.
        The torch methods are factories (called by run_shape inside a try: torch refuses some shapes)."""
        t, lib = self.torch, self.lib
        m, n, k = s["m"], s["n"], s["k"]
        sets, copies = o["sets"], o["copies"]
        sa, sb = o["ts"][:, None].contiguous(), o["ws"][None, :].contiguous()
        fns, cleanup = {}, []

        plan = lib.select(stream, SQ["SQ_OP_SMOOTHQUANT_LINEAR"], SQ["SQ_DTYPE_S8"], n, k, m, o["act_scale"])
        cleanup.append(plan)
        o["kernel"] = lib.kernel_name(plan, m)
        args = [run_args(m, d["a"], d["w"], o["ws_bf16"], o["scratch"], d["out"]) for d in sets]
        def sq(i):
            lib.run(plan, t.cuda.current_stream().cuda_stream, args[i % copies])
            return sets[i % copies]["out"]
        fns["sq"] = sq

        dplan = lib.select(stream, SQ["SQ_OP_QUANTIZED_LINEAR"], SQ["SQ_DTYPE_BF16"], n, k, m, 0.0)
        cleanup.append(dplan)
        o["dynamic_kernel"] = lib.kernel_name(dplan, m)
        wsb = lib.workspace_size(dplan)
        work = t.empty(max(wsb, 16), dtype=t.uint8, device="cuda")
        dargs = [run_args(m, d["x"], d["w"], o["ws_bf16"], o["scratch"], d["out"]) for d in sets]
        def sq_dynamic(i):
            lib.run(dplan, t.cuda.current_stream().cuda_stream, dargs[i % copies], work.data_ptr(), wsb)
            return sets[i % copies]["out"]
        fns["sq_dynamic"] = sq_dynamic

        def with_out(f_out, f_plain):
            """f_out(d) writes into d["out"] (rotated outputs); where this torch lacks that overload, f_plain(d)
            returns a new tensor (from the graph's pool, one output for every run)."""
            try:
                f_out(sets[0])
                return lambda i: f_out(sets[i % copies])
            except (TypeError, RuntimeError) as e:
                if "out" not in str(e):
                    raise
                return lambda i: f_plain(sets[i % copies])

        def scaled(fast):
            def f_out(d):
                t._scaled_mm(d["a8"], d["w8"].t(), scale_a=sa, scale_b=sb, out_dtype=t.bfloat16, use_fast_accum=fast,
                             out=d["out"])
                return d["out"]
            return with_out(f_out, lambda d: t._scaled_mm(d["a8"], d["w8"].t(), scale_a=sa, scale_b=sb,
                                                          out_dtype=t.bfloat16, use_fast_accum=fast))
        # The torch methods as factories, called by run_shape where a refusal becomes a note, not a crash.
        lazy = {"scaled_mm_fast": lambda: scaled(True), "scaled_mm": lambda: scaled(False)}

        def linear_out(d):
            t.matmul(d["abf"], d["wbf"].t(), out=d["out"])
            return d["out"]
        lazy["linear_bf16"] = lambda: with_out(linear_out, lambda d: t.nn.functional.linear(d["abf"], d["wbf"]))

        def int_mm_out(d):
            t._int_mm(d["a"], d["w"].t(), out=d["acc"])
            return d["out"].copy_(d["acc"].to(t.float32).mul_(sa).mul_(sb))
        lazy["int_mm_scaled"] = lambda: with_out(
            int_mm_out, lambda d: t._int_mm(d["a"], d["w"].t()).to(t.float32).mul_(sa).mul_(sb).to(t.bfloat16))
        for name, make in lazy.items():
            fns[name] = make
        return fns, cleanup

    def reference(self, s, o, name):
        """float64 reference of set 0's first CHECK_ROWS rows for method `name` (the contract's bits for sq)."""
        t = self.torch
        d = o["sets"][0]
        r = min(s["m"], CHECK_ROWS)
        if name == "sq":
            acc = d["a"][:r].double() @ d["w"].double().t()                # exact: |acc| < 2^31
            scale = t.tensor(o["act_scale"], dtype=t.float64).to(t.bfloat16).float().cuda()
            return ((acc.float() * scale) * o["ws_bf16"].float()[None, :]).to(t.bfloat16)
        if name == "sq_dynamic":
            x = d["x"][:r].float()
            sc = (x.abs().amax(dim=1) / 127.0).to(t.bfloat16).float()
            q = t.where(sc[:, None] > 0, t.round(x / sc[:, None]).clamp_(-128, 127), t.zeros_like(x))
            acc = q.double() @ d["w"].double().t()
            return ((acc.float() * sc[:, None]) * o["ws_bf16"].float()[None, :]).to(t.bfloat16)
        if name in ("scaled_mm_fast", "scaled_mm"):
            return (d["a8"][:r].double() @ d["w8"].double().t()) * o["ts"][:r, None].double() * o["ws"][None, :].double()
        if name == "linear_bf16":
            return d["abf"][:r].double() @ d["wbf"].double().t()
        return (d["a"][:r].double() @ d["w"].double().t()) * o["ts"][:r, None].double() * o["ws"][None, :].double()

    def check(self, s, o, name, fn):
        t = self.torch
        o["sets"][0]["out"].fill_(float("nan"))
        got = fn(0)
        t.cuda.synchronize()
        r = min(s["m"], CHECK_ROWS)
        ref = self.reference(s, o, name)
        got = got[:r]
        if name in ("sq", "sq_dynamic"):  # the contract: bit for bit
            return {"bits_mismatch": int((got.view(t.int16) != ref.view(t.int16)).sum().item())}
        err = (got.double() - ref.double()).norm().item()
        den = ref.double().norm().item()
        return {"rel_err": err / den if den > 0 else (0.0 if err == 0 else math.inf)}

    def time_shape(self, s, fns):
        """Each method's runs in one CUDA graph; replays timed with events, interleaved in rounds."""
        t = self.torch
        graphs, per_run = {}, {}
        for name, fn in fns.items():
            fn(0)                               # eager warm-up: library/cuBLAS setup outside the capture
            t.cuda.synchronize()
            start, end = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
            start.record()
            for i in range(3):
                fn(i)
            end.record()
            end.synchronize()
            est_us = start.elapsed_time(end) * 1000.0 / 3
            copies = s["copies"]
            runs = max(MIN_RUNS_PER_GRAPH, copies, int(math.ceil(MIN_GRAPH_US / max(est_us, 1e-3))))
            if copies <= MAX_RUNS_PER_GRAPH:
                runs = min(runs, MAX_RUNS_PER_GRAPH // copies * copies)
                runs = int(math.ceil(runs / copies)) * copies
            g = t.cuda.CUDAGraph()
            with t.cuda.graph(g):  # captures on torch's side stream; fn reads the current stream
                for i in range(runs):
                    fn(i)
            g.replay()
            t.cuda.synchronize()
            graphs[name] = (g, runs, est_us)
            per_run[name] = []
        replays = {n: max(MIN_REPLAYS, min(MAX_REPLAYS, int(self.target_ms * 1000.0 / ROUNDS / max(r * e, 1e-3))))
                   for n, (_, r, e) in graphs.items()}
        names = list(graphs)
        start, end = t.cuda.Event(enable_timing=True), t.cuda.Event(enable_timing=True)
        for rnd in range(ROUNDS):
            for name in (names if rnd % 2 == 0 else names[::-1]):
                g, runs, _ = graphs[name]
                for _ in range(replays[name]):
                    start.record()
                    g.replay()
                    end.record()
                    end.synchronize()
                    per_run[name].append(start.elapsed_time(end) * 1000.0 / runs)
        result = {n: statistics.median(v) for n, v in per_run.items()}
        graphs.clear()
        return result

    def run_shape(self, s):
        t = self.torch
        m, n, k = s["m"], s["n"], s["k"]
        set_bytes = m * k + n * k + 2 * m * n
        s["copies"] = int(min(MAX_COPIES, max(1, math.ceil(ROTATION_L2_MULTIPLE * self.l2 / set_bytes))))
        gen = t.Generator(device="cuda")
        gen.manual_seed(zlib.crc32(("%s,%d,%d,%d" % (s["tag"], m, n, k)).encode()))
        o = self.operands(s, s["copies"], gen)
        row = dict(s)
        stream = t.cuda.current_stream().cuda_stream
        fns, plans = self.method_fns(s, o, stream)
        row["kernel"], row["dynamic_kernel"] = o.get("kernel"), o.get("dynamic_kernel")
        ok = {}
        for name in METHODS:  # refusals: null with a note
            try:
                fn = fns[name]() if name not in ("sq", "sq_dynamic") else fns[name]
                row.update({"%s_%s" % (name, key): v for key, v in self.check(s, o, name, fn).items()})
                ok[name] = fn
            except Exception as e:  # noqa: BLE001 -- torch raises RuntimeError/ValueError/TypeError for refusals
                row[name + "_us"] = None
                row[name + "_note"] = ("%s: %s" % (type(e).__name__, e)).splitlines()[0][:200]
                t.cuda.synchronize()
        row.update({n_ + "_us": us for n_, us in self.time_shape(s, ok).items()})
        for p in plans:
            self.lib.destroy(p)
        del o, fns, ok
        t.cuda.empty_cache()
        return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=[os.path.join(HERE, "shapes_heldout.csv")],
                    help="shape files (tag,m,n,k); the set name is 'heldout' for shapes_heldout.csv, else 'main'")
    ap.add_argument("--m", help="keep these M")
    ap.add_argument("--filter", help="keep tags containing one of these")
    ap.add_argument("--lib", default=None, help="libsmoothquant.so.0 (default $BUILD_DIR or build/)")
    ap.add_argument("--json", default=None, help="output (default $OUT/peers_torch.json, else peers_torch.json)")
    ap.add_argument("--target-ms", type=float, default=TARGET_MS)
    ap.add_argument("--check-layout", metavar="ABI_LAYOUT_EXE")
    a = ap.parse_args()
    if a.check_layout:
        return check_layout(a.check_layout)
    try:
        import torch
    except ImportError as e:
        print("peers_torch: torch is not available (%s): skipped" % e)
        return SKIP
    if not torch.cuda.is_available():
        print("peers_torch: no CUDA device: skipped")
        return SKIP
    lib_path = a.lib or os.path.join(os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")), "libsmoothquant.so.0")
    lib = Lib(lib_path)
    out = a.json or os.path.join(os.environ.get("OUT", "."), "peers_torch.json")
    ms = [int(x) for x in a.m.split(",")] if a.m else None
    tags = a.filter.split(",") if a.filter else None
    shapes = []
    for p in a.shapes:
        set_name = "heldout" if os.path.basename(p) == "shapes_heldout.csv" else "main"
        shapes += [s for s in read_shapes(p, set_name)
                   if (ms is None or s["m"] in ms) and (tags is None or any(x in s["tag"] for x in tags))]
    bench = Bench(torch, lib, a.target_ms)
    res = {"tool": "peers_torch", "device": bench.device, "torch_version": torch.__version__,
           "torch_cuda": torch.version.cuda, "lib": lib_path, "lib_version": lib.version, "l2_bytes": bench.l2,
           "methods": METHODS, "shapes": a.shapes,
           "timing": "us per run: median over CUDA-graph replays (events) of R back-to-back runs / R, R >= %d and a "
                     "multiple of the rotated buffer sets (one rotation > %.0fx L2); the methods of a shape in %d "
                     "interleaved rounds; about %.0f ms of GPU time per method and shape"
                     % (MIN_RUNS_PER_GRAPH, ROTATION_L2_MULTIPLE, ROUNDS, a.target_ms),
           "rows": []}
    t0 = time.time()
    for s in shapes:
        row = bench.run_shape(s)
        res["rows"].append(row)
        with open(out, "w") as f:
            json.dump(res, f, indent=1)
        sq = row.get("sq_us")
        print("%-22s %6d %6d %6d | sq %s | %s" % (
            s["tag"], s["m"], s["n"], s["k"], "%.2f" % sq if sq else "-",
            " ".join("%s %s" % (m_, "%.2f (x%.2f)" % (row[m_ + "_us"], row[m_ + "_us"] / sq)
                                if row.get(m_ + "_us") and sq else "-") for m_ in METHODS[1:])), flush=True)
    bad = [r for r in res["rows"] if r.get("sq_bits_mismatch")]
    print("peers_torch: %d rows in %.0f s; sq bit mismatches on %d rows; json: %s" % (
        len(res["rows"]), time.time() - t0, len(bad), out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
