"""The host-overhead fast paths (Plan.bind's Bound, Plan.run on torch tensors, the module's eager
forward, the torch ops' common linear): same results as the general path, same checks and messages."""

import threading

import numpy as np
import pytest

import smoothquant as sq
from conftest import torch_or_skip

torch = torch_or_skip()
import smoothquant.torch as sqt  # noqa: E402
from smoothquant.torch import _ops  # noqa: E402

N, K = 24, 40


@pytest.fixture
def g():
    return torch.Generator().manual_seed(7)


def _weights(g, dtype=torch.bfloat16):
    w = torch.randint(-127, 128, (N, K), generator=g, dtype=torch.int8)
    ws = (torch.rand(N, generator=g) * 0.01 + 1e-3).to(dtype)
    b = torch.randn(N, generator=g).to(dtype)
    return w, ws, b


def _plans(kind, dtype="bfloat16"):
    if kind == "dynamic":
        return sq.Plan.quantized_linear(N, K, 32, dtype=dtype)
    return sq.Plan.smoothquant_linear(N, K, 32, act_scale=0.02, out_dtype=dtype)


def _act(g, kind, m, dtype=torch.bfloat16):
    if kind == "dynamic":
        return torch.randn(m, K, generator=g).to(dtype)
    return torch.randint(-127, 128, (m, K), generator=g, dtype=torch.int8)


@pytest.mark.parametrize("kind", ["dynamic", "static"])
@pytest.mark.parametrize("m", [1, 5, 32])
def test_bound_equals_plan_run(g, kind, m):
    w, ws, b = _weights(g)
    with _plans(kind) as plan:
        x = _act(g, kind, m)
        ref = plan.run(x.numpy() if kind == "static" else x, weight=w, weight_scale=ws, bias=b)
        bound = plan.bind(weight=w, weight_scale=ws, bias=b)
        assert isinstance(bound, sq._plan.Bound) and bound._linear
        y = bound(x)
        assert torch.equal(y, torch.as_tensor(ref)) if kind == "dynamic" else torch.equal(y, plan.run(x, weight=w,
                                                                                                  weight_scale=ws,
                                                                                                  bias=b))
        out = torch.full((m, N), 7.0, dtype=torch.bfloat16)
        assert bound(x, out=out) is out and torch.equal(out, y)
        # the fast Plan.run (torch tensors) agrees with the bound call, with and without out=
        assert torch.equal(plan.run(x, weight=w, weight_scale=ws, bias=b), y)
        out2 = torch.empty(m, N, dtype=torch.bfloat16)
        assert plan.run(x, weight=w, weight_scale=ws, bias=b, out=out2) is out2 and torch.equal(out2, y)
        # no bias this time: the bound struct of another Bound must not leak the bias pointer
        nob = plan.bind(weight=w, weight_scale=ws)
        assert torch.equal(nob(x), plan.run(x, weight=w, weight_scale=ws))
        assert not torch.equal(nob(x), y)


def test_bound_strided_rows_take_the_general_path(g):
    w, ws, b = _weights(g)
    with _plans("dynamic") as plan:
        big = torch.randn(6, 2 * K, generator=g).to(torch.bfloat16)
        x = big[:, :K]  # strided rows: legal for the C ABI, not the fast path's
        assert not x.is_contiguous()
        bound = plan.bind(weight=w, weight_scale=ws, bias=b)
        assert torch.equal(bound(x), bound(x.contiguous()))


def test_bound_checks_name_the_argument(g):
    w, ws, b = _weights(g)
    with _plans("dynamic") as plan:
        bound = plan.bind(weight=w, weight_scale=ws, bias=b)
        with pytest.raises(sq.DTypeError, match="act"):
            bound(torch.randn(1, K))  # float32, the plan takes bfloat16
        with pytest.raises(sq.ArgumentError, match=r"act.*shape") as e:
            bound(torch.randn(1, K + 1).to(torch.bfloat16))
        assert e.value.argument == "act"
        with pytest.raises(sq.ArgumentError, match="matrix"):
            bound(torch.randn(K).to(torch.bfloat16))
        with pytest.raises(sq.ArgumentError, match="max_m"):
            bound(torch.randn(33, K).to(torch.bfloat16))
        x = torch.randn(2, K).to(torch.bfloat16)
        with pytest.raises(sq.ArgumentError, match=r"out.*shape") as e:
            bound(x, out=torch.empty(3, N, dtype=torch.bfloat16))
        assert e.value.argument == "out"
        with pytest.raises(sq.DTypeError, match="out"):
            bound(x, out=torch.empty(2, N, dtype=torch.float16))
        with pytest.raises(TypeError, match="smooth_typo"):
            bound(x, smooth_typo=None)
        with pytest.raises(sq.ArgumentError, match="residual"):
            bound(x, residual=x)
    with pytest.raises(sq.PlanClosedError):
        bound(x)


def test_bind_checks_bound_arrays_once(g):
    w, ws, b = _weights(g)
    with _plans("dynamic") as plan:
        with pytest.raises(sq.ArgumentError, match=r"weight.*shape") as e:
            plan.bind(weight=w[:, :-1], weight_scale=ws)
        assert e.value.argument == "weight"
        with pytest.raises(sq.DTypeError, match="weight_scale"):
            plan.bind(weight=w, weight_scale=ws.float())
        with pytest.raises(sq.ArgumentError, match="bias"):
            plan.bind(weight=w, weight_scale=ws, bias=b[:-1])
        with pytest.raises(sq.ArgumentError, match="not an argument"):
            plan.bind(weight=w, weight_scale=ws, residual=b)


def test_bound_numpy_and_threads(g, rng):
    w, ws, b = _weights(g, torch.float32)
    with sq.Plan.quantized_linear(N, K, 8, dtype="float32") as plan:
        bound = plan.bind(weight=w, weight_scale=ws, bias=b)
        xs = [torch.randn(3, K, generator=g) for _ in range(4)]
        want = [plan.run(x.numpy(), weight=w.numpy(), weight_scale=ws.numpy(), bias=b.numpy()) for x in xs]
        np.testing.assert_array_equal(bound(xs[0].numpy()), want[0])  # NumPy: the general path
        got = [None] * len(xs)

        def work(i):
            for _ in range(50):
                got[i] = bound(xs[i])

        ts = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for y, ref in zip(got, want):
            np.testing.assert_array_equal(y.numpy(), ref)


def test_plan_run_torch_fast_path_quantizer(g):
    x = torch.randn(5, K, generator=g)
    with sq.Plan.quantize_dynamic(K, 8, dtype="float32") as plan:
        q, s = plan.run(x)
        qn, sn = plan.run(x.numpy())
        np.testing.assert_array_equal(q.numpy(), qn)
        np.testing.assert_array_equal(s.numpy(), sn)
        with pytest.raises(sq.DTypeError, match="act"):
            plan.run(x.double())


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_module_fast_path_equals_ops(g, mode):
    lin = torch.nn.Linear(K, N).to(torch.bfloat16)
    mod = sqt.SmoothQuantLinear.from_linear(lin, mode=mode, act_scale=0.02 if mode == "static" else None, max_m=16)
    for shape in [(1, K), (7, K), (2, 3, K), (K,)]:
        x = torch.randn(*shape, generator=g).to(torch.bfloat16)
        y = mod(x)
        assert y.shape == shape[:-1] + (N,)
        assert torch.equal(y, mod._forward_ops(x))
    x = torch.randn(40, K, generator=g).to(torch.bfloat16)  # beyond max_m: the ops build a larger plan
    assert torch.equal(mod(x), mod._forward_ops(x))
    with pytest.raises(sq.ArgumentError, match="x"):
        mod(torch.randn(2, K + 1).to(torch.bfloat16))


def test_op_fast_linear_equals_general_body(g):
    w, ws, b = _weights(g)
    x = torch.randn(3, 2, K, generator=g).to(torch.bfloat16)
    fast = torch.ops.smoothquant.quantized_linear(x, w, ws, b)
    # a zero smooth vector is not allowed, but ones are the identity: the general body
    general = torch.ops.smoothquant.quantized_linear(x, w, ws, b, torch.ones(K, dtype=torch.bfloat16))
    assert torch.equal(fast, general)
    q = torch.randint(-127, 128, (5, K), generator=g, dtype=torch.int8)
    fast = torch.ops.smoothquant.smoothquant_linear(q, w, ws, 0.02, b)
    general = torch.ops.smoothquant.smoothquant_linear(q, w.t().contiguous().t(), ws, 0.02, b)
    assert torch.equal(fast, general)
    assert any(k[0] == sq.Op.SMOOTHQUANT_LINEAR for k in _ops._FAST_PLANS)
    with pytest.raises(sq.DTypeError, match="bias"):
        torch.ops.smoothquant.smoothquant_linear(q, w, ws, 0.02, b.float())
    with pytest.raises(sq.ArgumentError, match="act"):
        torch.ops.smoothquant.smoothquant_linear(q[:, :-1], w, ws, 0.02, b)
