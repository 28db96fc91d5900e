"""GPU tests (ctest label gpu, python/tests/ctest.sh gpu): PyTorch, CuPy and JAX inputs bit for bit
against the host plan, torch.compile(fullgraph=True) with no graph break, CUDA-graph capture and
replay, and a random tiny Llama quantized with quantize_model (logits error, greedy decode).

Run on the GPU machine:  cd python && python3 -m pytest -q -rs -s tests/test_gpu.py
Without a usable GPU the whole module is skipped with the reason (ctest.sh exits 77 before)."""

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX must not take the GPU's memory

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import reference as ref  # noqa: E402
import smoothquant as sq  # noqa: E402

torch = pytest.importorskip("torch", reason="PyTorch is needed for the GPU tests")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU visible to PyTorch", allow_module_level=True)
try:
    sq.Plan.smoothquant_linear(16, 16, 16, act_scale=1.0, out_dtype="float32", device="cuda").close()
except sq.SmoothQuantError as _e:  # pragma: no cover - depends on the machine
    pytest.skip(f"the library makes no GPU plan here: {_e}", allow_module_level=True)

import smoothquant.torch as sqt  # noqa: E402

OPS = torch.ops.smoothquant
DEV = torch.device("cuda", torch.cuda.current_device())
TORCH_DT = {ref.F32: torch.float32, ref.F64: torch.float64, ref.F16: torch.float16, ref.BF16: torch.bfloat16}
SHAPES = [(1, 40, 72), (7, 64, 128), (64, 256, 512), (300, 1024, 4096), (33, 4096, 1024)]


def host_bits(a):
    a = a.detach().cpu()
    if a.dtype == torch.bfloat16:
        a = a.view(torch.int16)
    return ref.bits(a.numpy())


def same(a, b):
    return a.shape == b.shape and np.array_equal(host_bits(a), host_bits(b))


def rand(shape, dtype, g, scale=1.0):
    if dtype == torch.int8:
        return torch.randint(-128, 128, shape, dtype=torch.int8, generator=g)
    return (torch.randn(shape, generator=g) * scale).to(dtype)


@pytest.fixture
def g():
    return torch.Generator().manual_seed(0)


# ------------------------------------------------------------------ facts
def test_gpu_plan_facts():
    with sq.Plan.smoothquant_linear(4096, 4096, 8192, act_scale=0.01, out_dtype="bfloat16", device="cuda") as p:
        info = p.info
        assert info.device == DEV.index and info.sm_version >= 80
        assert info.family in (sq.KernelFamily.SM80, sq.KernelFamily.SM90)
        g_ = p.precision_guarantee
        assert g_.bit_exact_with_host and g_.deterministic
        print(f"\n[{torch.cuda.get_device_name()}] family {info.family.name}, kernels: M=1 {p.kernel_name(1)}, "
              f"M=128 {p.kernel_name(128)}, M=8192 {p.kernel_name(8192)}")


# ------------------------------------------------------------------ PyTorch, bit for bit with the host
@pytest.mark.parametrize("t", list(TORCH_DT), ids=lambda t: t.name)
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_torch_smoothquant_linear_vs_host(g, t, m, n, k):
    dt = TORCH_DT[t]
    a, w = rand((m, k), torch.int8, g), rand((n, k), torch.int8, g)
    ws, b = (torch.rand(n, generator=g) * 0.01).to(dt), rand((n,), dt, g)
    host = OPS.smoothquant_linear(a, w, ws, 0.0123, b)
    gpu = OPS.smoothquant_linear(a.to(DEV), w.to(DEV), ws.to(DEV), 0.0123, b.to(DEV))
    assert same(gpu, host)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.0123, out_dtype=t, device=DEV.index) as p:
        assert same(p.run(a.to(DEV), weight=w.to(DEV), weight_scale=ws.to(DEV), bias=b.to(DEV)), host)


@pytest.mark.parametrize("d,t", [(ref.BF16, ref.BF16), (ref.F16, ref.F16), (ref.F32, ref.F32), (ref.BF16, ref.F32)],
                         ids=lambda x: x.name)
@pytest.mark.parametrize("m,n,k", SHAPES)
def test_torch_quantized_linear_vs_host(g, d, t, m, n, k):
    x = rand((m, k), TORCH_DT[d], g, 3.0)
    x[0] = 0  # a zero row
    w = rand((n, k), torch.int8, g)
    ws = (torch.rand(n, generator=g) * 0.01).to(TORCH_DT[t])
    sm = (torch.rand(k, generator=g) + 0.5).to(TORCH_DT[t])
    host = OPS.quantized_linear(x, w, ws, None, sm)
    gpu = OPS.quantized_linear(x.to(DEV), w.to(DEV), ws.to(DEV), None, sm.to(DEV))
    assert same(gpu, host)


@pytest.mark.parametrize("dt", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
def test_torch_quantizers_vs_host(g, dt):
    x = rand((37, 1000), dt, g, 4.0)
    x[3, 7] = float("nan")
    x[4, 0] = float("inf")
    q, s = OPS.quantize_dynamic(x)
    qg, sg = OPS.quantize_dynamic(x.to(DEV))
    assert same(qg, q) and same(sg, s)
    assert same(OPS.quantize_static(x.to(DEV), 0.02), OPS.quantize_static(x, 0.02))


def test_torch_nondefault_stream_and_strided_output(g):
    m, n, k = 16, 96, 256
    a, w = rand((m, k), torch.int8, g), rand((n, k), torch.int8, g)
    ws = torch.rand(n, generator=g) * 0.01
    host = OPS.smoothquant_linear(a, w, ws, 0.02)
    s = torch.cuda.Stream()
    big = torch.full((m, n + 32), -1.0, device=DEV)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.02, out_dtype="float32", device=DEV.index) as p:
        ad, wd, wsd = a.to(DEV), w.to(DEV), ws.to(DEV)
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):  # the run goes on PyTorch's current stream: s
            p.run(ad, weight=wd, weight_scale=wsd, out=big[:, 16:16 + n])
        s.synchronize()
    assert same(big[:, 16:16 + n], host)
    assert torch.all(big[:, :16] == -1) and torch.all(big[:, 16 + n:] == -1)


def test_wrong_memory_space(g):
    a, w = rand((2, 16), torch.int8, g), rand((4, 16), torch.int8, g)
    ws = torch.ones(4)
    with sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32", device=DEV.index) as p:
        with pytest.raises(sq.ArgumentError) as info:
            p.run(a.to(DEV), weight=w, weight_scale=ws.to(DEV))
        assert info.value.argument == "weight" and info.value.status == sq.Status.WRONG_MEMORY_SPACE
        with pytest.raises(sq.ArgumentError) as info:
            p.run(a, weight=w, weight_scale=ws)
        assert info.value.argument == "act"
    with sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32") as p:
        with pytest.raises(sq.ArgumentError) as info:
            p.run(a.to(DEV), weight=w.to(DEV), weight_scale=ws.to(DEV))
        assert info.value.status == sq.Status.WRONG_MEMORY_SPACE


# ------------------------------------------------------------------ CuPy and JAX
def test_cupy_vs_host(g):
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    m, n, k = 45, 200, 384
    a, w = rand((m, k), torch.int8, g).numpy(), rand((n, k), torch.int8, g).numpy()
    ws = (np.random.default_rng(0).random(n) * 0.01).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float16)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.03, out_dtype="float32") as hp, \
            sq.Plan.smoothquant_linear(n, k, m, act_scale=0.03, out_dtype="float32", device="cuda") as gp:
        want = hp.run(a, weight=w, weight_scale=ws)
        got = gp.run(cupy.asarray(a), weight=cupy.asarray(w), weight_scale=cupy.asarray(ws))
        assert isinstance(got, cupy.ndarray)
        assert np.array_equal(cupy.asnumpy(got).view(np.uint32), want.view(np.uint32))
    with sq.Plan.quantize_dynamic(k, m, dtype="float16") as hp, \
            sq.Plan.quantize_dynamic(k, m, dtype="float16", device="cuda") as gp:
        q, s = hp.run(x)
        s2 = cupy.cuda.Stream(non_blocking=True)
        with s2:  # CuPy's current stream
            qg, sg = gp.run(cupy.asarray(x))
        s2.synchronize()
        assert np.array_equal(cupy.asnumpy(qg), q) and np.array_equal(cupy.asnumpy(sg).view(np.uint16),
                                                                       s.view(np.uint16))


def test_jax_vs_host(g):
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    import jax.numpy as jnp

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        pytest.skip("JAX sees no GPU")
    m, n, k = 19, 130, 256
    a, w = rand((m, k), torch.int8, g).numpy(), rand((n, k), torch.int8, g).numpy()
    ws = (np.random.default_rng(0).random(n) * 0.01).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    put = lambda v: jax.device_put(v, gpus[0])  # noqa: E731
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.03, out_dtype="float32") as hp, \
            sq.Plan.smoothquant_linear(n, k, m, act_scale=0.03, out_dtype="float32", device="cuda") as gp:
        want = hp.run(a, weight=w, weight_scale=ws)
        got = gp.run(put(a), weight=put(w), weight_scale=put(ws))
        assert isinstance(got, jax.Array)
        assert np.array_equal(np.asarray(got).view(np.uint32), want.view(np.uint32))
        # and JAX computes on the result at once (the run finished before it was handed back)
        assert np.array_equal(np.asarray(got * 2), want * 2)
    with sq.Plan.quantized_linear(n, k, m, dtype="float32") as hp, \
            sq.Plan.quantized_linear(n, k, m, dtype="float32", device="cuda") as gp:
        want = hp.run(x, weight=w, weight_scale=ws)
        got = gp.run(put(x), weight=put(w), weight_scale=put(ws))
        assert np.array_equal(np.asarray(got).view(np.uint32), want.view(np.uint32))
    del jnp


# ------------------------------------------------------------------ torch.compile and CUDA graphs
class Block(torch.nn.Module):
    def __init__(self, g, dim=256, hidden=512, dtype=torch.bfloat16):
        super().__init__()

        def lin(n, k):
            m = torch.nn.Linear(k, n)
            with torch.no_grad():
                m.weight.copy_(torch.randn(n, k, generator=g) * 0.05)
            return m.to(dtype)

        self.up = sqt.SmoothQuantLinear.from_linear(lin(hidden, dim), mode="dynamic")
        self.down = sqt.SmoothQuantLinear.from_linear(lin(dim, hidden), mode="static", act_scale=0.01)

    def forward(self, x):
        return self.down(torch.nn.functional.silu(self.up(x))) + x


def test_compile_fullgraph_cuda(g):
    import torch._dynamo

    blk = Block(g).to(DEV)
    x = torch.randn(8, 256, generator=g).to(torch.bfloat16).to(DEV)
    want = blk(x)
    torch._dynamo.reset()
    explain = torch._dynamo.explain(blk)(x)
    assert explain.graph_break_count == 0, explain.break_reasons
    assert explain.graph_count == 1
    torch._dynamo.reset()
    cblk = torch.compile(blk, fullgraph=True)
    # silu and the residual add are inductor's (it may round them differently from eager)
    torch.testing.assert_close(cblk(x), want, rtol=2e-2, atol=2e-2)
    # the library's ops alone: compiled == eager bit for bit, plain and with CUDA graphs
    pure = torch.nn.Sequential(blk.up, blk.down)
    want = pure(x)
    for mode in (None, "reduce-overhead"):
        torch._dynamo.reset()
        cp = torch.compile(pure, fullgraph=True, mode=mode)
        for _ in range(3):
            out = cp(x)
        assert same(out, want), mode
        x2 = torch.randn(5, 256, generator=g).to(torch.bfloat16).to(DEV)
        assert same(cp(x2), pure(x2)), f"{mode}, another M"


def test_cuda_graph_capture_and_replay(g):
    blk = Block(g).to(DEV)
    static_x = torch.randn(16, 256, generator=g).to(torch.bfloat16).to(DEV)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):  # warm up: plans built, outside the capture
        for _ in range(2):
            blk(static_x)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_y = blk(static_x)
    for i in range(3):
        x = torch.randn(16, 256, generator=g).to(torch.bfloat16).to(DEV)
        static_x.copy_(x)
        graph.replay()
        assert same(static_y, blk(x)), f"replay {i}"


def test_cuda_graph_capture_binding_plan_run(g):
    """Plan.run (the binding, with its own workspace handling) inside a capture."""
    m, n, k = 8, 64, 128
    x = torch.randn(m, k, generator=g).to(DEV)
    w = rand((n, k), torch.int8, g).to(DEV)
    ws = (torch.rand(n, generator=g) * 0.01).to(DEV)
    with sq.Plan.quantized_linear(n, k, m, dtype="float32", device=DEV.index) as p:
        want = p.run(x, weight=w, weight_scale=ws).clone()
        out = torch.empty(m, n, device=DEV)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            p.run(x, weight=w, weight_scale=ws, out=out)
        graph.replay()
        torch.cuda.synchronize()
        assert same(out, want)


# ------------------------------------------------------------------ a tiny Llama end to end
def _llama(dtype=torch.bfloat16):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    cfg = transformers.LlamaConfig(vocab_size=1024, hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
                                   num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=256,
                                   rms_norm_eps=1e-5)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(cfg).to(dtype).to(DEV).eval()


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_llama_quantize_model(mode, capsys):
    model = _llama()
    gen = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, 1024, (4, 64), generator=gen).to(DEV) for _ in range(4)]
    ids = torch.randint(0, 1024, (2, 48), generator=gen).to(DEV)
    with torch.no_grad():
        ref_logits = model(ids).logits.float()
    sqt.quantize_model(model, alpha=0.5, batches=batches, mode=mode)
    with torch.no_grad():
        q_logits = model(ids).logits.float()
    rel = ((q_logits - ref_logits).norm() / ref_logits.norm()).item()
    agree = (q_logits.argmax(-1) == ref_logits.argmax(-1)).float().mean().item()
    out = model.generate(ids[:1, :8], max_new_tokens=16, do_sample=False)
    with capsys.disabled():
        print(f"\n[GPU tiny Llama bf16, {mode}] logits relative error vs bf16 {rel:.3e}, "
              f"argmax agreement {agree:.3f}; greedy decode: {out[0, 8:].tolist()}")
    assert out.shape == (1, 24)
    assert rel < 0.1, rel


@pytest.mark.parametrize("pref", ["fastest", "portable", "hopper"])
def test_every_gpu_family_bit_exact_with_host(g, pref):
    """Each preference pins its family (never a silent fallback); each gives the host's bits."""
    m, n, k = 77, 320, 1000
    a, w = rand((m, k), torch.int8, g), rand((n, k), torch.int8, g)
    ws, b = (torch.rand(n, generator=g) * 0.01).to(torch.bfloat16), rand((n,), torch.bfloat16, g)
    host = OPS.smoothquant_linear(a, w, ws, 0.0123, b)
    try:
        plan = sq.Plan.smoothquant_linear(n, k, m, act_scale=0.0123, out_dtype="bfloat16", device=DEV.index,
                                          preference=pref)
    except sq.NotSupportedError as e:
        assert pref == "hopper" and torch.cuda.get_device_capability()[0] != 9, e
        pytest.skip(f"the Hopper family is not on this GPU: {e.message}")
    with plan:
        fam = plan.info.family
        if pref == "portable":
            assert fam == sq.KernelFamily.SM80
        if pref == "hopper":
            assert fam == sq.KernelFamily.SM90
        for mm in (1, 16, m):
            got = plan.run(a[:mm].to(DEV), weight=w.to(DEV), weight_scale=ws.to(DEV), bias=b.to(DEV))
            assert same(got, host[:mm]), f"{pref} ({fam.name}, {plan.kernel_name(mm)}) M={mm}"
