"""Finds and loads libsmoothquant.so.0 and declares the prototype of every C function.

Search order (the first that applies wins; a named library that fails to load is an error, never
a silent fallback to another copy):

1. ``SMOOTHQUANT_LIBRARY=/path/to/libsmoothquant.so.0``: exactly that file.
2. ``SMOOTHQUANT_USE_SYSTEM=1``: the system's library, found by ``pkg-config --variable=libdir
   smoothquant``, then ``ctypes.util.find_library("smoothquant")`` (ld.so's cache and paths).
3. The copy bundled in the wheel (``smoothquant/_lib/libsmoothquant.so.0``).
4. A development build: ``$SQ_BUILD_DIR`` or ``build/`` of the source tree this package sits in
   (``python/smoothquant`` -> ``../../build/libsmoothquant.so.0``).
"""

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import threading

from . import _abi

SONAME = "libsmoothquant.so.0"

_lock = threading.Lock()
_loaded = None


class LibraryNotFoundError(ImportError):
    """No libsmoothquant could be found or loaded; the message lists where it looked."""


def _pkg_config_candidates():
    exe = shutil.which("pkg-config")
    if not exe:
        return []
    try:
        libdir = subprocess.run(
            [exe, "--variable=libdir", "smoothquant"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    return [os.path.join(libdir, SONAME)] if libdir else []


def candidates():
    """[(origin, path)] in search order, as the environment asks for them."""
    explicit = os.environ.get("SMOOTHQUANT_LIBRARY")
    if explicit:
        return [("SMOOTHQUANT_LIBRARY", explicit)]
    if os.environ.get("SMOOTHQUANT_USE_SYSTEM", "") not in ("", "0"):
        found = [("pkg-config", p) for p in _pkg_config_candidates()]
        name = ctypes.util.find_library("smoothquant")
        if name:
            found.append(("ctypes.util.find_library", name))
        # Let the dynamic loader search its own paths last (LD_LIBRARY_PATH, ld.so.cache).
        found.append(("the dynamic loader", SONAME))
        return found
    here = os.path.dirname(os.path.abspath(__file__))
    found = [("the wheel", os.path.join(here, "_lib", SONAME))]
    build_dir = os.environ.get("SQ_BUILD_DIR")
    repo = os.path.dirname(os.path.dirname(here))
    if build_dir:
        found.append(("SQ_BUILD_DIR", os.path.join(build_dir if os.path.isabs(build_dir) else os.path.join(repo, build_dir), SONAME)))
    found.append(("the source tree's build/", os.path.join(repo, "build", SONAME)))
    return found


class Library:
    """The loaded library: its path, version and the C functions (attributes named as in C)."""

    def __init__(self, cdll, path, origin):
        self.cdll = cdll
        self.path = path
        self.origin = origin
        self.missing = []
        for name, argtypes, restype in _abi.FUNCTIONS:
            try:
                fn = getattr(cdll, name)
            except AttributeError:
                if name in _abi.OPTIONAL_FUNCTIONS:
                    self.missing.append(name)
                    setattr(self, name, None)
                    continue
                raise LibraryNotFoundError(
                    f"{path} does not export {name}: not a libsmoothquant this binding can use"
                ) from None
            fn.argtypes = argtypes
            fn.restype = restype
            setattr(self, name, fn)
        self.version_number = int(self.sq_version())
        self.version = self.sq_version_string().decode()
        major = self.version_number // 10000
        if major != _abi.ABI_VERSION_MAJOR:
            raise LibraryNotFoundError(
                f"{path} is libsmoothquant {self.version}; this binding speaks the "
                f"{_abi.ABI_VERSION_MAJOR}.x ABI (SONAME {SONAME})"
            )

    def last_error(self):
        """sq_last_error_message(), decoded (read it before any other sq_* call)."""
        msg = self.sq_last_error_message()
        return msg.decode(errors="replace") if msg else ""


def _try_load(path):
    mode = getattr(os, "RTLD_LOCAL", 0) | getattr(os, "RTLD_NOW", 0)
    return ctypes.CDLL(path, mode=mode)


def load():
    """The process-wide Library, loaded on first use."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        tried = []
        for origin, path in candidates():
            bare = os.sep not in path  # a name for the dynamic loader to search
            if not bare and not os.path.exists(path):
                tried.append(f"{origin}: {path} (no such file)")
                continue
            try:
                cdll = _try_load(path)
            except OSError as e:
                if origin == "SMOOTHQUANT_LIBRARY" or not bare:
                    raise LibraryNotFoundError(f"cannot load {path} (from {origin}): {e}") from e
                tried.append(f"{origin}: {path} ({e})")
                continue
            _loaded = Library(cdll, getattr(cdll, "_name", path), origin)
            return _loaded
        raise LibraryNotFoundError(
            "libsmoothquant not found. Looked in:\n  "
            + "\n  ".join(tried)
            + "\nInstall the wheel (pip install ./python), build the library (cmake --build build), "
            "or set SMOOTHQUANT_LIBRARY=/path/to/libsmoothquant.so.0 or SMOOTHQUANT_USE_SYSTEM=1."
        )
