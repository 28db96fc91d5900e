#!/usr/bin/env python3
"""Host overhead of the Python layer, and one decode step of a small random Llama, on the GPU.

Part 1: microseconds of host time per linear call (M=1), in bursts of launches between two stream
synchronizations on a shape small enough that the GPU keeps up, so the host is what is timed:
  C (ctypes)        sq_plan_run through ctypes with a prebuilt sq_run_args: the floor
  Plan.run (out=)   the binding's generic path, outputs given
  Plan.run          the same, allocating the output with PyTorch
  module (eager)    SmoothQuantLinear.__call__ (its fast path: allocates out + scratch)
  torch.ops         torch.ops.smoothquant.* through the dispatcher (what torch.compile calls)
  F.linear bf16     PyTorch's own bf16 linear, for scale
Target: Plan.run and the module at most 5 us above the C call.

Part 2: one decode step (batch 1, static KV cache) of a random Llama built from a small config,
bf16 vs W8A8 through the package (dynamic per-token and static), eager and torch.compile'd
(mode="reduce-overhead", fullgraph=True: CUDA graphs, static cache): eager as a manual decode loop
with the dynamic cache, compiled as the per-token time of greedy generation.

Usage (GPU machine):  python3 python/bench/bench_overhead.py [--out bench_overhead.json]
"""

import argparse
import ctypes
import json
import os
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402
import torch._dynamo  # noqa: E402

import smoothquant as sq  # noqa: E402
import smoothquant.torch as sqt  # noqa: E402


SMOKE = False  # --smoke: the CPU (host plan), few iterations: checks the script, times nothing useful


def _sync():
    if torch.cuda.is_available() and not SMOKE:
        torch.cuda.synchronize()


def time_host(fn, calls=200, bursts=30, sync=None):
    """Median over bursts of the host time per call (each burst: `calls` calls, then a sync)."""
    sync = sync or _sync
    if SMOKE:
        calls, bursts = 5, 2
    for _ in range(3):
        fn()
    sync()
    per = []
    for _ in range(bursts):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        t1 = time.perf_counter()
        sync()
        per.append((t1 - t0) / calls * 1e6)
    return statistics.median(per)


def overhead(results, n=256, k=256, m=1):
    dev = torch.device("cpu" if SMOKE else "cuda")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(m, k, generator=g).to(torch.bfloat16).to(dev)
    lin = torch.nn.Linear(k, n).to(torch.bfloat16).to(dev)
    rows = []
    for mode in ("dynamic", "static"):
        mod = sqt.SmoothQuantLinear.from_linear(lin, mode=mode, act_scale=0.01 if mode == "static" else None)
        mod.prepare(dev, torch.bfloat16)
        y = torch.empty(m, n, dtype=torch.bfloat16, device=dev)
        if mode == "dynamic":
            plan = sq.Plan.quantized_linear(n, k, 64, dtype="bfloat16", device=_plan_dev(dev))
            act = x
            kw = dict(weight=mod.weight, weight_scale=mod.weight_scale, bias=mod.bias)
            op = lambda: torch.ops.smoothquant.quantized_linear(x, mod.weight, mod.weight_scale, mod.bias)  # noqa
        else:
            plan = sq.Plan.smoothquant_linear(n, k, 64, act_scale=0.01, out_dtype="bfloat16", device=_plan_dev(dev))
            act = torch.ops.smoothquant.quantize_static(x, 0.01)
            kw = dict(weight=mod.weight, weight_scale=mod.weight_scale, bias=mod.bias)
            op = lambda: torch.ops.smoothquant.smoothquant_linear(act, mod.weight, mod.weight_scale, 0.01,  # noqa
                                                                   mod.bias)
        # the C floor: everything prebuilt, one ctypes call per run
        ws_bytes = plan.workspace_size
        ws = torch.empty(ws_bytes + 16 + m * 2 + 16, dtype=torch.uint8, device=dev)
        base = (ws.data_ptr() + 15) // 16 * 16
        scratch = base + (ws_bytes + 15) // 16 * 16
        args = sq.run_args(m=m, act=act.data_ptr(), weight=mod.weight.data_ptr(),
                           weight_scale=mod.weight_scale.data_ptr(), bias=mod.bias.data_ptr(),
                           act_scale_scratch=scratch, out=y.data_ptr())
        stream = torch.cuda.current_stream().cuda_stream if dev.type == "cuda" else None
        fn = sq.library().sq_plan_run
        h = plan._handle
        ref_args = ctypes.byref(args)
        wsp = base if ws_bytes else None

        bound = plan.bind(**kw)

        def c_call():
            fn(h, stream, wsp, ws_bytes, ref_args)

        cases = [] if os.environ.get("SQ_BENCH_SKIP_C") else [("C (ctypes)", c_call)]
        cases += [
            ("Plan.run (out=)", lambda: plan.run(act, out=y, **kw)),
            ("Plan.run", lambda: plan.run(act, **kw)),
            ("Plan.bind (out=)", lambda: bound(act, out=y)),
            ("module (eager)", lambda: mod(x)),
            ("torch.ops", op),
            ("F.linear bf16", lambda: torch.nn.functional.linear(x, lin.weight, lin.bias)),
        ]
        c_us = None
        for name, f in cases:
            us = time_host(f)
            if c_us is None:
                c_us = us
            rows.append({"mode": mode, "path": name, "host_us_per_call": round(us, 2),
                         "above_c_us": round(us - c_us, 2)})
        plan.close()
    results["overhead"] = {"shape": {"m": m, "n": n, "k": k}, "rows": rows}
    print(f"\nHost time per linear call (M={m}, N={n}, K={k}, bf16), median of bursts, "
          f"{results['device']}:")
    print(f"{'mode':8} {'path':18} {'us/call':>9} {'above C':>9}")
    for r in rows:
        print(f"{r['mode']:8} {r['path']:18} {r['host_us_per_call']:9.2f} {r['above_c_us']:9.2f}")


def _plan_dev(dev):
    return "cpu" if dev.type == "cpu" else ("cuda" if dev.index is None else dev.index)


def decode(results, new_tokens=64):
    import transformers

    cfg = transformers.LlamaConfig(vocab_size=1024, hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
                                   num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=256,
                                   rms_norm_eps=1e-5)
    dev = torch.device("cpu" if SMOKE else "cuda")
    if SMOKE:
        new_tokens = 4
    gen = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, 1024, (1, 16), generator=gen).to(dev)
    batches = [torch.randint(0, 1024, (4, 64), generator=gen).to(dev) for _ in range(4)]
    rows = []

    def build(kind):
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16).to(dev).eval()
        if kind != "bf16":
            sqt.quantize_model(model, alpha=0.5, batches=batches, mode=kind, max_m=256)
        return model

    def eager_ms(model, steps=32):
        """A manual decode loop (dynamic KV cache, no compilation anywhere)."""
        with torch.no_grad():
            out = model(prompt, use_cache=True)
            pkv, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
            for _ in range(8):
                out = model(tok, past_key_values=pkv, use_cache=True)
                pkv, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
            _sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                out = model(tok, past_key_values=pkv, use_cache=True)
                pkv, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
            _sync()
        return (time.perf_counter() - t0) / steps * 1e3

    def compiled_ms(model):
        """torch.compile(model.forward, mode="reduce-overhead", fullgraph=True) (CUDA graphs) with a
        static cache: per-token time of greedy generation (the difference of two lengths)."""
        model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
        kw = dict(do_sample=False, cache_implementation="static", pad_token_id=0)

        def gen(n):
            try:
                return model.generate(prompt, max_new_tokens=n, disable_compile=True, **kw)
            except (TypeError, ValueError):
                return model.generate(prompt, max_new_tokens=n, **kw)

        gen(8)
        gen(new_tokens)  # compile / record every shape
        ts = []
        for _ in range(1 if SMOKE else 3):
            _sync()
            t0 = time.perf_counter()
            gen(1)
            _sync()
            t1 = time.perf_counter()
            gen(new_tokens + 1)
            _sync()
            t2 = time.perf_counter()
            ts.append(((t2 - t1) - (t1 - t0)) / new_tokens * 1e3)
        return statistics.median(ts)

    for kind in ("bf16", "dynamic", "static"):
        for compiled in ((False,) if SMOKE else (False, True)):
            name = f"{'bf16' if kind == 'bf16' else 'W8A8 ' + kind}{' compiled' if compiled else ' eager'}"
            try:
                torch._dynamo.reset()
                model = build(kind)
                ms = compiled_ms(model) if compiled else eager_ms(model, 2 if SMOKE else 32)
                rows.append({"model": name, "ms_per_token": round(ms, 3)})
            except Exception as e:  # noqa: BLE001 - record and go on
                rows.append({"model": name, "error": f"{type(e).__name__}: {e}"[:500]})
                traceback.print_exc()
    results["decode"] = {"config": {"hidden": 512, "intermediate": 1408, "layers": 4, "vocab": 1024, "batch": 1,
                                    "prompt": 16, "new_tokens": new_tokens}, "rows": rows}
    print("\nOne decode step (batch 1, static cache), random tiny Llama, ms per token:")
    for r in rows:
        print(f"  {r['model']:26} {r.get('ms_per_token', r.get('error'))}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench_overhead.json")
    ap.add_argument("--skip-decode", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="run every path once on the CPU (no timing)")
    a = ap.parse_args()
    global SMOKE
    SMOKE = a.smoke
    if not torch.cuda.is_available() and not SMOKE:
        print("no CUDA GPU: this benchmark runs on the GPU machine (--smoke checks the script on the CPU)")
        return 77
    results = {"device": "cpu (smoke)" if SMOKE else torch.cuda.get_device_name(), "torch": torch.__version__,
               "library": sq.library_version(), "package": sq.__version__}
    overhead(results)
    if not a.skip_decode:
        decode(results)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
