"""smoothquant.torch on CPU tensors (the host plan): the custom ops against the binding and the
reference, torch.library.opcheck, torch.compile(fullgraph=True) with no graph break,
SmoothQuantLinear, calibrate, quantize_model on a tiny random Llama, and the compressed-tensors
safetensors round trip."""

import json

import numpy as np
import pytest

import reference as ref
import smoothquant as sq
from conftest import require, torch_or_skip

torch = torch_or_skip()
import smoothquant.torch as sqt  # noqa: E402

OPS = torch.ops.smoothquant


def t_bits(t):
    return ref.bits(t.view(torch.int16).numpy() if t.dtype == torch.bfloat16 else t.numpy())


def assert_same(a, b, what=""):
    assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    assert np.array_equal(t_bits(a), t_bits(b)), f"{what}: values differ"


@pytest.fixture
def g():
    return torch.Generator().manual_seed(0)


def rand_linear(g, n=24, k=64, dtype=torch.bfloat16, bias=True):
    lin = torch.nn.Linear(k, n, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(n, k, generator=g) * 0.05)
        if bias:
            lin.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return lin.to(dtype)


# ------------------------------------------------------------------ ops vs the binding
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_smoothquant_linear_op(g, dtype):
    m, n, k = 5, 24, 64
    a = torch.randint(-128, 128, (m, k), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g)
    ws = (torch.rand(n, generator=g) * 0.01).to(dtype)
    b = torch.randn(n, generator=g).to(dtype)
    out = OPS.smoothquant_linear(a, w, ws, 0.02, b)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.02, out_dtype=sqt._ops._sq(dtype, "x")) as plan:
        want = plan.run(a, weight=w, weight_scale=ws, bias=b)
    assert_same(out, want)
    # batched input [..., K] and an [N, 1] scale
    out3 = OPS.smoothquant_linear(a.reshape(1, m, k), w, ws.reshape(n, 1), 0.02, b)
    assert_same(out3.reshape(m, n), want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_quantize_ops(g, dtype):
    x = (torch.randn(3, 4, 40, generator=g) * 2).to(dtype)
    q, s = OPS.quantize_dynamic(x)
    assert q.shape == x.shape and s.shape == (3, 4) and q.dtype == torch.int8 and s.dtype == dtype
    with sq.Plan.quantize_dynamic(40, 12, dtype=sqt._ops._sq(dtype, "x")) as plan:
        wq, ws = plan.run(x.reshape(12, 40))
    assert_same(q.reshape(12, 40), wq)
    assert_same(s.reshape(12), ws)
    qs = OPS.quantize_static(x, 0.03)
    with sq.Plan.quantize_static(40, 12, dtype=sqt._ops._sq(dtype, "x"), act_scale=0.03) as plan:
        assert_same(qs.reshape(12, 40), plan.run(x.reshape(12, 40)))
    sm = torch.rand(40, generator=g) + 0.5
    q2, s2 = OPS.quantize_dynamic(x, sm, torch.float32)
    v = ref.prepare_v(x.reshape(12, 40).view(torch.int16).numpy().view(np.uint16) if dtype == torch.bfloat16
                      else x.reshape(12, 40).numpy(), sqt._ops._sq(dtype, "x"), sm.numpy(), ref.F32)
    rq, rs = ref.quantize_dynamic(v, np.float32, ref.F32)
    assert np.array_equal(q2.reshape(12, 40).numpy(), rq) and np.array_equal(t_bits(s2.reshape(12)), ref.bits(rs))


def test_quantized_linear_op_strided_input(g):
    m, n, k = 6, 16, 48
    big = torch.randn(m, k + 16, generator=g).to(torch.bfloat16)
    x = big[:, 8:8 + k]  # rows strided: passed as ld_act, no copy
    lin = rand_linear(g, n, k)
    mod = sqt.SmoothQuantLinear.from_linear(lin, mode="dynamic")
    out = OPS.quantized_linear(x, mod.weight, mod.weight_scale, mod.bias)
    assert_same(out, OPS.quantized_linear(x.contiguous(), mod.weight, mod.weight_scale, mod.bias))
    # columns strided: copied to contiguous inside the op
    assert_same(OPS.quantized_linear(x.t().contiguous().t(), mod.weight, mod.weight_scale, mod.bias), out)


def test_op_errors(g):
    a = torch.randint(-128, 128, (2, 16), dtype=torch.int8)
    w = torch.randint(-128, 128, (4, 16), dtype=torch.int8)
    with pytest.raises(sq.ArgumentError) as info:
        OPS.smoothquant_linear(a, w, torch.ones(5), 0.1)
    assert info.value.argument == "weight_scale"
    with pytest.raises(sq.ArgumentError) as info:
        OPS.smoothquant_linear(a[:, :8], w, torch.ones(4), 0.1)
    assert info.value.argument == "act"
    with pytest.raises(sq.DTypeError):
        OPS.smoothquant_linear(a, w, torch.ones(4), 0.1, torch.ones(4, dtype=torch.float64))
    with pytest.raises(sq.SmoothQuantError):
        OPS.quantize_static(torch.ones(2, 4), -1.0)


# ------------------------------------------------------------------ opcheck
def _op_cases(g):
    k, n, m = 32, 8, 5
    x = torch.randn(m, k, generator=g)
    a = torch.randint(-128, 128, (m, k), dtype=torch.int8, generator=g)
    w = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g)
    ws = torch.rand(n, generator=g) * 0.01
    cases = {
        "smoothquant_linear": ((a, w, ws, 0.02, torch.randn(n)), None),
        "quantized_linear": ((x, w, ws, None, torch.rand(k) + 0.5), None),
        "quantize_static": ((x, 0.02), None),
        "quantize_dynamic": ((x.to(torch.bfloat16), None, torch.float32), None),
        "int8_matmul": ((a, w), "s32_out"),
        "scaled_linear": ((a, torch.rand(m) * 0.02, w, ws), "scaled_linear"),
        "scale_accumulators": ((torch.randint(-1000, 1000, (m, n), dtype=torch.int32), torch.rand(m), ws),
                               "scale_accumulators"),
        "quantize_dynamic_asymmetric": ((x,), "quant_asymmetric"),
        "token_absmax": ((x,), "quant_absmax"),
        "quantize_from_absmax": ((x, x.abs().amax(-1)), "quant_from_absmax"),
        "rmsnorm_quantize": ((x, torch.rand(k) + 0.5, 1e-6), "rmsnorm_quantize"),
        "add_rmsnorm_quantize": ((x, torch.randn(m, k), torch.rand(k) + 0.5, 1e-6), "rmsnorm_quantize"),
        "silu_mul_quantize": ((torch.randn(m, 2 * k),), "silu_mul_quantize"),
    }
    assert set(cases) == set(sqt.OPS)
    return cases


@pytest.mark.parametrize("name", sorted(sqt.OPS))
def test_opcheck(g, name):
    args, feature = _op_cases(g)[name]
    if feature:
        require(feature)
    torch.library.opcheck(getattr(OPS, name).default, args)


# ------------------------------------------------------------------ modules
@pytest.mark.parametrize("mode", ["static", "dynamic"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32, torch.float16])
def test_smoothquant_linear_module(g, mode, dtype):
    lin = rand_linear(g, 24, 64, dtype)
    x = (torch.randn(2, 7, 64, generator=g)).to(dtype)
    amax = x.float().abs().reshape(-1, 64).amax(0)
    mod = sqt.SmoothQuantLinear.from_linear(lin, mode=mode, act_absmax=amax)
    y = mod(x)
    assert y.shape == (2, 7, 24) and y.dtype == dtype
    assert_same(y, mod._forward_ops(x), "eager fast path vs the custom ops")
    ref_y = lin(x).float()
    err = ((y.float() - ref_y).norm() / ref_y.norm()).item()
    assert err < 0.05, err
    # the module's buffers carry the compressed-tensors names
    names = dict(mod.named_buffers())
    assert names["weight"].dtype == torch.int8 and names["weight_scale"].shape == (24,)
    assert ("input_scale" in names) == (mode == "static")


def test_module_follows_device_and_state_dict(g):
    lin = rand_linear(g, 8, 32, torch.float32)
    mod = sqt.SmoothQuantLinear.from_linear(lin, mode="dynamic")
    x = torch.randn(3, 32, generator=g)
    y = mod(x)
    mod2 = sqt.SmoothQuantLinear(32, 8, True, mode="dynamic", dtype=torch.float32)
    mod2.load_state_dict(mod.state_dict())
    assert_same(mod2(x), y)
    mod.to(torch.float32)  # _apply resets the cached plans
    assert_same(mod(x), y)


def test_module_asymmetric_needs_0_2(g):
    lin = rand_linear(g, 8, 32, torch.float32)
    f = sq.feature("quantized_linear_asymmetric")
    if not f.available:
        with pytest.raises(sq.SmoothQuantError):
            sqt.SmoothQuantLinear.from_linear(lin, mode="dynamic", asymmetric=True)(torch.randn(2, 32))
        return
    require("weight_sums")
    mod = sqt.SmoothQuantLinear.from_linear(lin, mode="dynamic", asymmetric=True)
    x = torch.randn(3, 32, generator=g)
    assert_same(mod(x), mod._forward_ops(x))


# ------------------------------------------------------------------ torch.compile
class Block(torch.nn.Module):
    def __init__(self, g):
        super().__init__()
        self.a = sqt.SmoothQuantLinear.from_linear(rand_linear(g, 48, 32, torch.float32), mode="dynamic")
        lin = rand_linear(g, 32, 48, torch.float32)
        self.b = sqt.SmoothQuantLinear.from_linear(lin, mode="static", act_scale=0.02)

    def forward(self, x):
        return self.b(torch.nn.functional.silu(self.a(x))) + x


def test_compile_fullgraph_no_graph_breaks(g):
    import torch._dynamo

    torch._dynamo.reset()
    blk = Block(g)
    x = torch.randn(4, 32, generator=g)
    want = blk(x)
    explain = torch._dynamo.explain(blk)(x)
    assert explain.graph_break_count == 0, explain.break_reasons
    assert explain.graph_count == 1
    pure = torch.nn.Sequential(blk.a, torch.nn.Identity(), blk.b)  # the library's ops alone
    for backend in ("aot_eager", "inductor"):
        torch._dynamo.reset()
        cblk = torch.compile(blk, fullgraph=True, backend=backend, dynamic=True)
        torch.testing.assert_close(cblk(x), want, rtol=1e-5, atol=1e-5)  # silu/add are the backend's
        torch._dynamo.reset()
        cpure = torch.compile(pure, fullgraph=True, backend=backend, dynamic=True)
        x1 = torch.randn(4, 32, generator=g)
        assert_same(cpure(x1), pure(x1), backend)
        x2 = torch.randn(9, 32, generator=g)
        assert_same(cpure(x2), pure(x2), f"{backend}, another M")


# ------------------------------------------------------------------ calibrate / quantize_model / export
def tiny_llama(seed=0, dtype=torch.float32):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    cfg = transformers.LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                   rms_norm_eps=1e-5, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(cfg).to(dtype).eval()
    return model, cfg


def calib_batches(n=4, seq=16, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 128, (2, seq), generator=gen) for _ in range(n)]


def test_calibrate(g):
    model, _ = tiny_llama()
    stats = sqt.calibrate(model, calib_batches(2))
    assert "model.layers.0.self_attn.q_proj" in stats and "lm_head" in stats
    assert stats["model.layers.1.mlp.down_proj"].shape == (128,)
    assert all(v.dtype == torch.float32 and torch.all(v >= 0) for v in stats.values())


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_quantize_model_tiny_llama(mode, capsys):
    model, cfg = tiny_llama()
    ids = torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref_logits = model(ids).logits.float()
    stats = sqt.calibrate(model, calib_batches())
    sqt.quantize_model(model, alpha=0.5, act_stats=stats, mode=mode)
    n_q = sum(isinstance(m, sqt.SmoothQuantLinear) for m in model.modules())
    assert n_q == 7 * cfg.num_hidden_layers
    with torch.no_grad():
        q_logits = model(ids).logits.float()
    rel = ((q_logits - ref_logits).norm() / ref_logits.norm()).item()
    agree = (q_logits.argmax(-1) == ref_logits.argmax(-1)).float().mean().item()
    with capsys.disabled():
        print(f"\n[tiny Llama, {mode}] logits relative error {rel:.3e}, argmax agreement {agree:.3f}")
    assert rel < 0.1, rel
    out = model.generate(ids[:1, :4], max_new_tokens=6, do_sample=False)
    assert out.shape == (1, 10)


def test_quantize_model_without_smoothing_matches_module_math():
    model, _ = tiny_llama(dtype=torch.float32)
    stats = sqt.calibrate(model, calib_batches(2))
    sqt.quantize_model(model, alpha=0.5, act_stats=stats, mode="dynamic", smooth=False)
    assert isinstance(model.model.layers[0].mlp.down_proj, sqt.SmoothQuantLinear)


def test_compressed_tensors_round_trip(tmp_path):
    pytest.importorskip("safetensors", reason="safetensors is not installed")
    model, cfg = tiny_llama()
    stats = sqt.calibrate(model, calib_batches(2))
    sqt.quantize_model(model, alpha=0.8, act_stats=stats, mode="static")
    ids = torch.randint(0, 128, (1, 12), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model(ids).logits
    qc = sqt.save_compressed(model, tmp_path)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        w = f.get_tensor("model.layers.0.self_attn.q_proj.weight")
        s = f.get_tensor("model.layers.0.self_attn.q_proj.weight_scale")
        i = f.get_tensor("model.layers.0.self_attn.q_proj.input_scale")
    assert w.dtype == torch.int8 and w.shape == (64, 64)
    assert s.shape == (64, 1) and i.shape == (1,) and i.dtype == torch.float32
    assert "lm_head.weight" in keys and "model.norm.weight" in keys
    cfg_json = json.loads((tmp_path / "config.json").read_text())
    q = cfg_json["quantization_config"]
    assert q == qc and q["quant_method"] == "compressed-tensors" and q["format"] == "int-quantized"
    grp = q["config_groups"]["group_0"]
    assert grp["weights"]["strategy"] == "channel" and grp["weights"]["num_bits"] == 8
    assert grp["input_activations"]["strategy"] == "tensor" and grp["input_activations"]["dynamic"] is False
    assert "lm_head" in q["ignore"]

    fresh, _ = tiny_llama(seed=99)  # other random weights: everything must come from the checkpoint
    sqt.load_compressed(fresh, tmp_path)
    with torch.no_grad():
        got = fresh(ids).logits
    assert torch.equal(got, want)


def test_load_dynamic_checkpoint_with_zero_point_tensors(tmp_path):
    """A dynamic (TOKEN) checkpoint with all-zero weight_zero_point tensors, as llm-compressor writes
    for symmetric schemes: loads as symmetric, dynamic."""
    pytest.importorskip("safetensors", reason="safetensors is not installed")
    from safetensors.torch import load_file, save_file

    model, _ = tiny_llama()
    stats = sqt.calibrate(model, calib_batches(1))
    sqt.quantize_model(model, alpha=0.5, act_stats=stats, mode="dynamic")
    sqt.save_compressed(model, tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    for k in [k for k in tensors if k.endswith(".weight_scale")]:
        tensors[k[: -len("weight_scale")] + "weight_zero_point"] = torch.zeros(tensors[k].shape, dtype=torch.int8)
    save_file(tensors, str(tmp_path / "model.safetensors"))
    fresh, _ = tiny_llama(seed=7)
    sqt.load_compressed(fresh, tmp_path)
    mod = fresh.model.layers[1].mlp.up_proj
    assert isinstance(mod, sqt.SmoothQuantLinear) and mod.mode == "dynamic" and not mod.weight_asymmetric
    ids = torch.randint(0, 128, (1, 8))
    with torch.no_grad():
        assert torch.equal(fresh(ids).logits, model(ids).logits)
