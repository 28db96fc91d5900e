"""The ctypes mirror of the header, checked against the C compiler: a tiny C program compiled against
include/smoothquant/smoothquant.h prints every struct's size and every field's offset, and every
enum and flag value; each must equal what smoothquant._abi declares."""

import ctypes
import os
import shutil
import subprocess

import pytest

from conftest import REPO
from smoothquant import _abi

HEADER_DIR = os.path.join(REPO, "include")


def _c_program():
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <smoothquant/smoothquant.h>", "int main(void) {"]
    for cname, cls in _abi.STRUCTS.items():
        lines.append(f'  printf("size {cname} %zu\\n", sizeof({cname}));')
        for field, _ in cls._fields_:
            lines.append(f'  printf("offset {cname}.{field} %zu\\n", offsetof({cname}, {field}));')
    for prefix, enum in _abi.ENUMS.items():
        for member in enum:
            if prefix == "SQ_PLAN_" and member.name == "NONE":
                continue
            lines.append(f'  printf("value {prefix}{member.name} %lld\\n", (long long)({prefix}{member.name}));')
    for name in ("SQ_VERSION_MAJOR", "SQ_VERSION_MINOR", "SQ_VERSION_PATCH", "SQ_MAX_K", "SQ_MAX_STRUCT_SIZE",
                 "SQ_PLAN_DESC_SIZE_0_1", "SQ_RUN_ARGS_SIZE_0_1", "SQ_API_TABLE_VERSION"):
        lines.append(f'  printf("value {name} %lld\\n", (long long)({name}));')
    lines.append("  return 0;\n}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler (cc/gcc/clang) to check the ctypes layout against the header")
    d = tmp_path_factory.mktemp("abi")
    src, exe = d / "layout.c", d / "layout"
    src.write_text(_c_program())
    r = subprocess.run([cc, "-std=c99", "-Wall", "-I", HEADER_DIR, str(src), "-o", str(exe)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    facts = {}
    for line in out.splitlines():
        kind, name, value = line.split()
        facts[(kind, name)] = int(value)
    return facts


@pytest.mark.parametrize("cname", list(_abi.STRUCTS))
def test_struct_layout(c_layout, cname):
    cls = _abi.STRUCTS[cname]
    assert ctypes.sizeof(cls) == c_layout[("size", cname)], f"sizeof({cname})"
    for field, _ in cls._fields_:
        assert getattr(cls, field).offset == c_layout[("offset", f"{cname}.{field}")], f"{cname}.{field}"


def test_every_header_field_is_mirrored(c_layout):
    """The sizes match, so no field is missing at the end; offsets match, so none in between."""
    assert ctypes.sizeof(_abi.PlanDesc) == 88 and ctypes.sizeof(_abi.RunArgs) == 184


def test_enum_values(c_layout):
    for prefix, enum in _abi.ENUMS.items():
        for member in enum:
            if prefix == "SQ_PLAN_" and member.name == "NONE":
                continue
            assert int(member) == c_layout[("value", prefix + member.name)], prefix + member.name


def test_constants(c_layout):
    assert c_layout[("value", "SQ_VERSION_MAJOR")] == _abi.ABI_VERSION_MAJOR
    assert c_layout[("value", "SQ_VERSION_MINOR")] == _abi.ABI_VERSION_MINOR
    assert c_layout[("value", "SQ_VERSION_PATCH")] == _abi.ABI_VERSION_PATCH
    for name in ("SQ_MAX_K", "SQ_MAX_STRUCT_SIZE", "SQ_PLAN_DESC_SIZE_0_1", "SQ_RUN_ARGS_SIZE_0_1",
                 "SQ_API_TABLE_VERSION"):
        assert getattr(_abi, name) == c_layout[("value", name)], name


def test_every_function_is_declared():
    """Every SQ_API function of the header has a prototype in _abi.FUNCTIONS (parsed from the text)."""
    import re

    text = open(os.path.join(HEADER_DIR, "smoothquant", "smoothquant.h")).read()
    declared = set(re.findall(r"SQ_API\s+[\w\s\*]+?\b(sq_\w+)\s*\(", text))
    mirrored = {name for name, _, _ in _abi.FUNCTIONS}
    assert declared == mirrored, f"header only: {declared - mirrored}; binding only: {mirrored - declared}"


def test_api_table_matches_exports():
    """sq_get_api's table: its version-1 members are the exported functions."""
    import smoothquant as sq

    lib = sq.library()
    table = lib.sq_get_api().contents
    assert table.api_version >= 1
    assert table.struct_size >= _abi.ApiTable.static_act_scale.offset + ctypes.sizeof(ctypes.c_void_p)
    assert table.version() == lib.sq_version()
    assert table.version_string() == lib.sq_version_string()
