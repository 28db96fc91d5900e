#!/usr/bin/env python3
"""Host overhead of the Python layer, and one decode step of a small random Llama, on the GPU.

Part 1: microseconds of host time per linear call (M=1), in bursts of launches between two stream
synchronizations on a shape small enough that the GPU keeps up, so the host is what is timed:
  C (ctypes)        sq_plan_run through ctypes with a prebuilt sq_run_args: the floor
  Plan.run (out=)   the binding's generic path, outputs given
  Plan.run          the same, allocating the output with PyTorch
  Plan.bind (out=)  a Bound call (weights bound once, prebuilt sq_run_args), output given
  module (eager)    SmoothQuantLinear.__call__ (bound plans; allocates out, workspace cached per stream)
  torch.ops         torch.ops.smoothquant.* through the dispatcher (what torch.compile calls)
  F.linear bf16     PyTorch's own bf16 linear, for scale
Target: at most 5 us above the C call. Plan.bind (out=) is the fast path of a linear: bound arrays
checked once, act and out checked with attribute reads, a prebuilt sq_run_args (see README).

Part 2: one decode step (batch 1) of a random Llama built from a small config, bf16 vs W8A8 through
the package (dynamic per-token and static), each three ways:
  eager                 a manual greedy loop over a transformers StaticCache: eager prefill, then
                        one-token steps (model call, argmax into a fresh tensor), N steps timed
  compiled              the same loop, cache and shapes, the step torch.compile'd
                        (mode="reduce-overhead", fullgraph=True: CUDA graphs on the GPU), with
                        torch.compiler.cudagraph_mark_step_begin() before each step and the token
                        cloned out of the graph's output buffer; timed after warm-up (compile, record)
  compiled (generate)   model.generate's own auto-compile (cache_implementation="static",
                        generation_config.compile_config where this transformers has it): per-token
                        time as the difference of two generation lengths
Each row records its method, its error if it failed (the others still run), and for the compiled
ones the number of dynamo graphs and graph breaks (fullgraph=True: a break is an error).

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


def _static_cache(model, batch, max_len, dev, dtype):
    """A transformers StaticCache, built with whichever constructor this transformers has (4.4x:
    config, max_batch_size|batch_size, max_cache_len, device, dtype; 5.x: config, max_cache_len,
    allocated lazily on the first update)."""
    import inspect

    from transformers import StaticCache

    params = inspect.signature(StaticCache.__init__).parameters
    kw = {}
    if "config" in params:
        kw["config"] = model.config
    for name in ("max_batch_size", "batch_size"):
        if name in params:
            kw[name] = batch
            break
    if "max_cache_len" in params:
        kw["max_cache_len"] = max_len
    if "device" in params:
        kw["device"] = dev
    if "dtype" in params:
        kw["dtype"] = dtype
    return StaticCache(**kw)


def _dynamo_counts():
    """(graphs compiled, graph breaks) so far (torch._dynamo's counters, as far as this torch has them)."""
    try:
        from torch._dynamo.utils import counters
    except ImportError:
        return None, None
    stats = counters.get("stats", {})
    graphs = stats.get("unique_graphs")
    breaks = sum(counters.get("graph_break", {}).values())
    return graphs, breaks


class _DecodeLoop:
    """Greedy decoding over a StaticCache: eager prefill, then one-token steps, each a model call and
    an argmax into a fresh tensor. ``compile_kw`` compiles the step (e.g. mode="reduce-overhead",
    fullgraph=True: CUDA graphs on the GPU); eager and compiled run the same loop, cache and shapes."""

    def __init__(self, model, prompt, max_len, compile_kw=None):
        import inspect

        self.model, self.prompt, self.max_len = model, prompt, max_len
        fwd = inspect.signature(model.forward).parameters
        self.extra = {}
        if "logits_to_keep" in fwd:
            self.extra["logits_to_keep"] = 1
        elif "num_logits_to_keep" in fwd:
            self.extra["num_logits_to_keep"] = 1
        # transformers 5.x renames past_key_values to cache (the old name warns, then goes)
        self.cache_kw = "cache" if "cache" in fwd else "past_key_values"
        self.step_fn = self._step if compile_kw is None else torch.compile(self._step, **compile_kw)
        self.compiled = compile_kw is not None

    def _step(self, tok, pos, cache):
        out = self.model(input_ids=tok, position_ids=pos.unsqueeze(0), cache_position=pos, use_cache=True,
                         **{self.cache_kw: cache}, **self.extra)
        return out.logits[:, -1, :].argmax(-1, keepdim=True)

    def prefill(self):
        dev = self.prompt.device
        length = self.prompt.shape[1]
        self.cache = _static_cache(self.model, self.prompt.shape[0], self.max_len, dev, torch.bfloat16)
        pos = torch.arange(length, device=dev)
        out = self.model(input_ids=self.prompt, position_ids=pos.unsqueeze(0), cache_position=pos,
                         use_cache=True, **{self.cache_kw: self.cache}, **self.extra)
        self.tok = out.logits[:, -1, :].argmax(-1, keepdim=True).clone()
        self.pos = length
        # every step's position, made once: a step reads a view of it (no host->device copy per step)
        self.positions = torch.arange(self.max_len, device=dev)

    def step(self):
        if self.compiled and hasattr(torch.compiler, "cudagraph_mark_step_begin"):
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's graph outputs are dead
        tok = self.step_fn(self.tok, self.positions[self.pos:self.pos + 1], self.cache)
        self.tok = tok.clone()  # keep nothing of a graph's output buffers past the next replay
        self.pos += 1

    def run(self, warmup, steps):
        """ms per step: ``warmup`` steps (compile, CUDA-graph warm-up and record), then ``steps`` timed."""
        if self.pos_left() < warmup + steps:
            raise ValueError(f"cache of {self.max_len} positions too short for {warmup}+{steps} steps")
        for _ in range(warmup):
            self.step()
        _sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        _sync()
        return (time.perf_counter() - t0) / steps * 1e3

    def pos_left(self):
        return self.max_len - self.pos


def decode(results, new_tokens=64, smoke_backend="inductor"):
    import transformers

    layers = 2 if SMOKE else 4
    cfg = transformers.LlamaConfig(vocab_size=1024, hidden_size=512, intermediate_size=1408, num_hidden_layers=layers,
                                   num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=256,
                                   rms_norm_eps=1e-5)
    dev = torch.device("cpu" if SMOKE else "cuda")
    if SMOKE:
        new_tokens = 4
    warmup = 3 if SMOKE else 8
    prompt_len = 16
    max_len = prompt_len + warmup + new_tokens + 8
    gen = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, 1024, (1, prompt_len), generator=gen).to(dev)
    batches = [torch.randint(0, 1024, (4, 64), generator=gen).to(dev) for _ in range(4)]
    rows = []
    compile_kw = dict(mode="reduce-overhead", fullgraph=True)
    if SMOKE and smoke_backend != "inductor":
        compile_kw = dict(backend=smoke_backend, fullgraph=True)

    def build(kind):
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16).to(dev).eval()
        if kind != "bf16":
            sqt.quantize_model(model, alpha=0.5, batches=batches, mode=kind, max_m=256)
        return model

    def manual(model, compiled):
        loop = _DecodeLoop(model, prompt, max_len, compile_kw if compiled else None)
        with torch.no_grad():
            loop.prefill()
            ms = loop.run(warmup, new_tokens)
        return ms, {"method": "manual loop, StaticCache" + (f", torch.compile({_kw_str(compile_kw)}) step"
                                                            if compiled else ", eager step")}

    def generate(model):
        """HF generate's own auto-compile (static cache, generation_config.compile_config), per-token time
        as the difference of two generation lengths."""
        from transformers import GenerationConfig

        try:
            from transformers.generation.configuration_utils import CompileConfig
        except ImportError:
            CompileConfig = None  # noqa: N806
        if CompileConfig is None or "compile_config" not in GenerationConfig().to_dict():
            raise NotImplementedError(f"transformers {transformers.__version__} has no generation compile_config")
        cc = CompileConfig(**{k: v for k, v in compile_kw.items()})
        if SMOKE and hasattr(cc, "_compile_all_devices"):
            cc._compile_all_devices = True  # generate compiles on CUDA only unless told
        kw = dict(do_sample=False, cache_implementation="static", pad_token_id=0, compile_config=cc)

        def run(n):
            with torch.no_grad():
                return model.generate(prompt, max_new_tokens=n, min_new_tokens=n, **kw)

        run(warmup)
        run(new_tokens + 1)  # compile / record
        ts = []
        for _ in range(1 if SMOKE else 3):
            _sync()
            t0 = time.perf_counter()
            run(1)
            _sync()
            t1 = time.perf_counter()
            run(new_tokens + 1)
            _sync()
            t2 = time.perf_counter()
            ts.append(((t2 - t1) - (t1 - t0)) / new_tokens * 1e3)
        return statistics.median(ts), {"method": f"model.generate auto-compile (CompileConfig({_kw_str(compile_kw)}), "
                                                 "cache_implementation='static')"}

    variants = [("eager", lambda m: manual(m, False)), ("compiled", lambda m: manual(m, True)),
                ("compiled (generate)", generate)]
    for kind in ("bf16", "dynamic", "static"):
        for variant, fn in variants:
            name = f"{'bf16' if kind == 'bf16' else 'W8A8 ' + kind} {variant}"
            row = {"model": name}
            try:
                torch._dynamo.reset()
                if hasattr(torch._dynamo.utils, "counters"):
                    torch._dynamo.utils.counters.clear()
                model = build(kind)
                t0 = time.perf_counter()
                ms, info = fn(model)
                row.update(info)
                row["ms_per_token"] = round(ms, 3)
                row["wall_s"] = round(time.perf_counter() - t0, 1)
            except Exception as e:  # noqa: BLE001 - record and go on
                row["error"] = f"{type(e).__name__}: {e}"[:500]
                traceback.print_exc()
            if variant != "eager":
                graphs, breaks = _dynamo_counts()
                row["dynamo_graphs"], row["graph_breaks"] = graphs, breaks
            rows.append(row)
            model = None
    results["decode"] = {"config": {"hidden": 512, "intermediate": 1408, "layers": layers, "vocab": 1024, "batch": 1,
                                    "prompt": prompt_len, "new_tokens": new_tokens, "warmup_steps": warmup,
                                    "max_cache_len": max_len, "compile": _kw_str(compile_kw),
                                    "transformers": transformers.__version__},
                         "rows": rows}
    print("\nOne decode step (batch 1, static cache), random tiny Llama, ms per token:")
    for r in rows:
        g = f" graphs={r.get('dynamo_graphs')} breaks={r.get('graph_breaks')}" if "dynamo_graphs" in r else ""
        print(f"  {r['model']:30} {r.get('ms_per_token', r.get('error'))}{g}")


def _kw_str(kw):
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench_overhead.json")
    ap.add_argument("--skip-decode", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="run every path once on the CPU (no timing)")
    ap.add_argument("--smoke-backend", default="inductor",
                    help="torch.compile backend of the compiled decode rows under --smoke (inductor: "
                         "mode='reduce-overhead', which has no CUDA graphs on the CPU; or e.g. 'eager')")
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
        decode(results, smoke_backend=a.smoke_backend)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
