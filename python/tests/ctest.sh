#!/usr/bin/env bash
# The Python package's ctest entries (tests/CMakeLists.txt):
#   ctest.sh host   pytest python/tests on the host plan (label host). Needs numpy + pytest; PyTorch,
#                   transformers and safetensors for the torch layer.
#   ctest.sh gpu    pytest python/tests/test_gpu.py (label gpu); exit 77 (ctest: skipped) with the
#                   reason printed when no usable CUDA GPU is present; never passes without one.
#   ctest.sh wheel  pip wheel ./python (the library built from source by scikit-build-core, or with
#                   SMOOTHQUANT_WHEEL_FROM_SOURCE=0 around the library ctest built), then a fresh
#                   venv installs the wheel and runs python -m smoothquant in it.
# The interpreter: $SMOOTHQUANT_TEST_PYTHON if set; else python3 when it already has everything
# (the GPU machine's image); else a venv at $SQ_PY_VENV (default build/python-venv), made and
# filled from PyPI on first use (numpy, pytest, and torch + transformers + safetensors unless
# SMOOTHQUANT_TEST_NO_TORCH=1), every package at the version python/tests/constraints.txt pins.
# Environment from ctest: SMOOTHQUANT_LIBRARY (the built libsmoothquant), SQ_PY_VENV.
set -euo pipefail
what="${1:-host}"
here="$(cd "$(dirname "$0")" && pwd)"
pydir="$(dirname "$here")"
venv="${SQ_PY_VENV:-$(dirname "$pydir")/build/python-venv}"
base_python="$(command -v python3)"

have() { "$1" -c "import $2" >/dev/null 2>&1; }

pick_python() {
  if [ -n "${SMOOTHQUANT_TEST_PYTHON:-}" ]; then echo "$SMOOTHQUANT_TEST_PYTHON"; return; fi
  local wanted="numpy, pytest"
  [ "${SMOOTHQUANT_TEST_NO_TORCH:-0}" = 1 ] || wanted="$wanted, torch, transformers, safetensors"
  if have "$base_python" "$wanted"; then echo "$base_python"; return; fi
  local py="$venv/bin/python"
  if [ ! -x "$py" ] || ! have "$py" "$wanted"; then
    local t0=$SECONDS
    echo "== python venv $venv: installing $wanted from PyPI" >&2
    "$base_python" -m venv "$venv" >&2
    local pkgs="${wanted//,/}"  # the import names are the package names
    # Pinned (constraints.txt); a download that breaks off is tried again.
    local try
    for try in 1 2 3; do
      # shellcheck disable=SC2086  # pkgs is a list of words
      "$py" -m pip install -q --disable-pip-version-check -c "$here/constraints.txt" $pkgs >&2 && break
      [ "$try" = 3 ] && { echo "== pip install failed 3 times" >&2; exit 1; }
      echo "== pip install failed (try $try of 3); again in 10 s" >&2
      sleep 10
    done
    echo "== python venv ready in $((SECONDS - t0)) s" >&2
  fi
  echo "$py"
}

case "$what" in
  host)
    py="$(pick_python)"
    echo "== $("$py" --version) ($py); library: ${SMOOTHQUANT_LIBRARY:-found by the loader}"
    cd "$pydir"
    exec "$py" -m pytest -q -rs -p no:cacheprovider tests --ignore=tests/test_gpu.py
    ;;
  gpu)
    # The library's own answer: a GPU plan, or why not (NO_DEVICE without a GPU or driver).
    if ! why="$(cd "$pydir" && "$base_python" -c '
import sys
import smoothquant as sq
try:
    sq.Plan.smoothquant_linear(16, 16, 16, act_scale=1.0, out_dtype="float32", device="cuda").close()
except sq.SmoothQuantError as e:
    print(e); sys.exit(1)
' 2>&1)"; then
      echo "Python GPU tests skipped, not passed: no usable CUDA GPU: $why"
      exit 77
    fi
    py="$(pick_python)"
    cd "$pydir"
    exec "$py" -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py
    ;;
  wheel)
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    t0=$SECONDS
    if "$base_python" -m pip --version >/dev/null 2>&1 && "$base_python" -c "import scikit_build_core" 2>/dev/null; then
      isolation="--no-build-isolation"  # offline machines (the GPU image has scikit-build-core)
    else
      isolation=""
    fi
    builder="$base_python"
    if [ -z "$isolation" ]; then
      "$base_python" -m venv "$work/build-venv"
      builder="$work/build-venv/bin/python"
    fi
    if [ "${SMOOTHQUANT_WHEEL_FROM_SOURCE:-1}" = 0 ] && [ -n "${SMOOTHQUANT_LIBRARY:-}" ]; then
      # faster: bundle the library ctest built (the packaging is tested, the CMake build of the wheel is not)
      export SMOOTHQUANT_PREBUILT_LIBRARY="$SMOOTHQUANT_LIBRARY"
      echo "== building the wheel around the built $SMOOTHQUANT_LIBRARY (SMOOTHQUANT_WHEEL_FROM_SOURCE=0)"
    else
      echo "== building the wheel from source (pip wheel ./python $isolation)"
    fi
    # The isolated build's scikit-build-core comes pinned too (pip reads PIP_CONSTRAINT there).
    # One compile per core (ninja's default is two more): ctest runs this beside other tests.
    PIP_CONSTRAINT="$here/constraints.txt" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
      "$builder" -m pip wheel -q --disable-pip-version-check --no-deps $isolation -w "$work/dist" "$pydir"
    whl="$(ls "$work"/dist/smoothquant-*.whl)"
    echo "== built $(basename "$whl") ($(du -h "$whl" | cut -f1)) in $((SECONDS - t0)) s"
    "$base_python" -m venv "$work/venv"
    if ! "$work/venv/bin/pip" install -q --disable-pip-version-check -c "$here/constraints.txt" "$whl" 2>"$work/pip.log"; then
      echo "== no package index (offline?): installing the wheel alone over the system site-packages"
      cat "$work/pip.log"
      rm -rf "$work/venv"
      "$base_python" -m venv --system-site-packages "$work/venv"
      "$work/venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-index "$whl"
    fi
    cd "$work"
    env -u SMOOTHQUANT_LIBRARY -u SMOOTHQUANT_USE_SYSTEM -u SQ_BUILD_DIR "$work/venv/bin/python" -m smoothquant
    loaded="$(env -u SMOOTHQUANT_LIBRARY "$work/venv/bin/python" -c 'import smoothquant as sq; print(sq.library().origin)')"
    [ "$loaded" = "the wheel" ] || { echo "error: the installed package loaded the library from $loaded"; exit 1; }
    echo "== wheel built, installed in a fresh venv and self-checked in $((SECONDS - t0)) s"
    ;;
  *)
    echo "usage: $0 host|gpu|wheel" >&2
    exit 2
    ;;
esac
