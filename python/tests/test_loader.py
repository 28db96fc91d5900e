"""Finding the library (SMOOTHQUANT_LIBRARY, SMOOTHQUANT_USE_SYSTEM, the wheel's copy, a build tree) and
python -m smoothquant. Each case runs in a fresh interpreter (the library loads once per process)."""

import os
import subprocess
import sys

import pytest

import smoothquant as sq
from conftest import PYTHON_DIR


def run_py(code, **env_changes):
    env = dict(os.environ)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    prelude = f"import sys; sys.path.insert(0, {PYTHON_DIR!r}); "
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env,
                          timeout=120)


def real_path():
    return os.path.realpath(sq.library().path)


def test_explicit_library():
    r = run_py("import smoothquant as sq; print(sq.library().origin, sq.library_version())",
               SMOOTHQUANT_LIBRARY=real_path())
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "SMOOTHQUANT_LIBRARY"


def test_explicit_library_missing_is_an_error_not_a_fallback():
    r = run_py("import smoothquant as sq; sq.library()", SMOOTHQUANT_LIBRARY="/nonexistent/libsmoothquant.so.0")
    assert r.returncode != 0
    assert "LibraryNotFoundError" in r.stderr and "/nonexistent/libsmoothquant.so.0" in r.stderr


def test_use_system_through_the_dynamic_loader():
    libdir = os.path.dirname(real_path())
    r = run_py("import smoothquant as sq; l = sq.library(); print(l.origin); print(l.version)",
               SMOOTHQUANT_USE_SYSTEM="1", LD_LIBRARY_PATH=libdir, SMOOTHQUANT_LIBRARY=None,
               PKG_CONFIG_PATH="/nonexistent")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] in ("the dynamic loader", "ctypes.util.find_library", "pkg-config")


def test_not_found_lists_where_it_looked(tmp_path):
    # a copy of the package without _lib/ and away from any build tree
    import shutil

    pkg = tmp_path / "smoothquant"
    shutil.copytree(os.path.join(PYTHON_DIR, "smoothquant"), pkg, ignore=shutil.ignore_patterns("_lib"))
    code = "import smoothquant as sq; sq.library()"
    env = dict(os.environ)
    for k in ("SMOOTHQUANT_LIBRARY", "SMOOTHQUANT_USE_SYSTEM", "SQ_BUILD_DIR"):
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode != 0
    assert "Looked in" in r.stderr and "the wheel" in r.stderr and "SMOOTHQUANT_LIBRARY" in r.stderr


def test_version_and_abi():
    lib = sq.library()
    assert lib.version_number // 10000 == sq.ABI_VERSION_NUMBER // 10000
    assert lib.version == sq.library_version()
    assert sq.status_string(sq.Status.NOT_SUPPORTED) == "SQ_STATUS_NOT_SUPPORTED"


def test_main_self_check():
    r = subprocess.run([sys.executable, "-m", "smoothquant"], capture_output=True, text=True, timeout=300,
                       cwd=PYTHON_DIR)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert f"libsmoothquant {sq.library_version()}" in out
    assert "host reference plan: self-check ok" in out
    assert "device:" in out


def test_features_report():
    """Prints what the loaded library implements of 0.2 (run pytest -s to see it)."""
    feats = sq.features()
    for name, f in feats.items():
        print(f"{'yes' if f.available else 'no ':3} {name}: {f.reason}")
    assert all(isinstance(f.available, bool) for f in feats.values())
