"""Test setup: import the package from this source tree (unless SMOOTHQUANT_TEST_INSTALLED=1, to test
an installed wheel), and the helpers that gate the 0.2 features on what the loaded library does."""

import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYTHON_DIR)
if os.environ.get("SMOOTHQUANT_TEST_INSTALLED") != "1":
    sys.path.insert(0, PYTHON_DIR)
sys.path.insert(0, HERE)

import smoothquant as sq  # noqa: E402


def require(name):
    """Skip (with the library's own reason) a test of a 0.2 feature the loaded library does not
    implement yet; SMOOTHQUANT_REQUIRE_0_2=1 turns the skip into a failure (once 0.2 has landed)."""
    f = sq.feature(name)
    if not f.available:
        if os.environ.get("SMOOTHQUANT_REQUIRE_0_2") == "1":
            pytest.fail(f"0.2 feature {name!r} required (SMOOTHQUANT_REQUIRE_0_2=1): {f.reason}")
        pytest.skip(f"0.2 feature {name!r} not in the loaded library yet: {f.reason}")


def torch_or_skip():
    try:
        import torch  # noqa: F401
    except ImportError:
        pytest.skip("PyTorch is not installed in this environment (the ctest 'python' venv installs it)")
    import torch

    return torch


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def pytest_report_header(config):
    lib = sq.library()
    lines = [f"libsmoothquant {lib.version} from {lib.path} ({lib.origin}); package {sq.__file__}"]
    missing = [n for n, f in sq.features().items() if not f.available]
    if missing:
        lines.append(f"0.2 features not in this library (their tests skip): {', '.join(missing)}")
    return lines
