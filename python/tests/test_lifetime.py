"""Plan lifetime: close(), context managers, garbage collection, use after close, interpreter exit."""

import gc
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import smoothquant as sq

from conftest import PYTHON_DIR


def make():
    return sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32")


def test_close_is_idempotent_and_use_after_close_raises():
    plan = make()
    handle = plan._handle
    plan.close()
    plan.close()
    assert plan.closed
    a = np.zeros((1, 16), np.int8)
    with pytest.raises(sq.PlanClosedError) as info:
        plan.run(a, weight=np.zeros((4, 16), np.int8), weight_scale=np.ones(4, np.float32))
    assert info.value.status == sq.Status.INVALID_HANDLE
    for fact in (lambda: plan.info, lambda: plan.kernel_name(), lambda: plan.precision_guarantee):
        with pytest.raises(sq.PlanClosedError):
            fact()
    # the library agrees the handle is gone
    assert sq.library().sq_plan_destroy(handle) == sq.Status.INVALID_HANDLE
    assert "closed" in repr(plan)


def test_context_manager_closes():
    with make() as plan:
        assert not plan.closed
    assert plan.closed


def test_garbage_collection_destroys():
    plan = make()
    handle, fin = plan._handle, plan._finalizer
    del plan
    gc.collect()
    assert not fin.alive
    assert sq.library().sq_plan_destroy(handle) == sq.Status.INVALID_HANDLE


def test_many_plans_and_threads():
    """Plans made and dropped from several threads; one plan run by several threads at once."""
    errors = []
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (8, 64), dtype=np.int8)
    w = rng.integers(-128, 128, (32, 64), dtype=np.int8)
    ws = np.ones(32, np.float32)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    shared = sq.Plan.quantized_linear(32, 64, 8, dtype="float32", host_threads=1)
    want = shared.run(x, weight=w, weight_scale=ws)

    def work():
        try:
            for _ in range(20):
                with sq.Plan.smoothquant_linear(32, 64, 8, act_scale=0.01, out_dtype="float32", host_threads=1) as p:
                    p.run(a, weight=w, weight_scale=ws)
                got = shared.run(x, weight=w, weight_scale=ws)  # per-thread workspace
                assert np.array_equal(got, want)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()
    assert not errors, errors


def test_plans_alive_at_interpreter_exit():
    """Plans never closed (module globals, a reference cycle, a plan in a thread-local) are destroyed at
    exit without error output."""
    code = textwrap.dedent("""
        import sys, threading
        sys.path.insert(0, %r)
        import smoothquant as sq
        keep = sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32")
        class Cycle:
            pass
        c = Cycle(); c.me = c; c.plan = sq.Plan.quantize_dynamic(16, 2, dtype="float32")
        local = threading.local(); local.plan = sq.Plan.quantized_linear(4, 16, 2, dtype="float32")
        print("ok")
    """ % PYTHON_DIR)
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    assert r.stderr == "", r.stderr
