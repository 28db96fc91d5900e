#!/usr/bin/env python3
"""Writes the checked-in seed corpus of the fuzz target (tests/fuzz/corpus/). Each seed is the byte
layout that fuzz_abi.cpp decodes (a missing byte reads 0, and 0 is always the valid default), so a
seed names only the choices it makes. Run from anywhere: python3 tests/fuzz/make_corpus.py"""
import base64
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

F32, F16, BF16, F64 = 0, 1, 2, 3          # pick_T(b % 4)
NARR = 16                                 # arrays with a stride byte and a style byte each


def plan(op, *, max_m=4, m=3, n=7, k=33, t=F32, x=F32, w=0, mode=0, flags=0, zp=0, opt=0, threads=1,
         lds=None, seed=0x5eed, styles=None, runs=0, m2=0, mutations=(), tail=b""):
    """A plan scenario: the field bytes in decode_plan's order, then the mutations."""
    b = bytes([0, (op - 1) % 8, max_m - 1, m - 1, (n - 1) % 256, k if k > 200 else (k - 1), t, x, w, mode, flags,
               zp, opt, threads])
    b += bytes(lds or [0] * NARR)
    b += struct.pack("<Q", seed)
    b += bytes(styles or [0] * NARR)
    b += bytes([runs, m2])
    b += bytes([len(mutations)])
    for mu in mutations:
        b += bytes(mu)
    return b + tail


def big_k(i):  # ksel >= 200 picks big_k[ksel % 11]: {64,127,128,255,256,1024,2047,2048,2049,4099,6145}
    return next(s for s in range(200, 256) if s % 11 == i)


seeds = {}
# SMOOTHQUANT_LINEAR: T in every dtype, bias, padding, U8 activations with a zero point, S32 out,
# weight zero points, a large K.
for t, name in ((F32, "f32"), (F16, "f16"), (BF16, "bf16"), (F64, "f64")):
    seeds[f"linear-{name}"] = plan(1, t=t, opt=1, seed=0x100 + t)
seeds["linear-padded-threads"] = plan(1, max_m=8, m=8, n=24, k=40, lds=[200] * NARR, threads=3, opt=1)
seeds["linear-u8-zero-point"] = plan(1, x=1, zp=4, opt=0b1000, seed=7)
seeds["linear-s32-accumulators"] = plan(1, t=0x10, opt=0b100)
seeds["linear-weight-zero-point"] = plan(1, w=1, flags=1, opt=0b10, seed=9)
seeds["linear-k2049"] = plan(1, k=big_k(8), n=3, m=2)
seeds["linear-specials"] = plan(1, t=F16, styles=[0xF0] * NARR, opt=1)
# QUANTIZED_LINEAR: x dtypes, asymmetric U8, smoothing, S8 weights, NaN/Inf rows.
for x, name in ((F32, "f32"), (F16, "f16"), (BF16, "bf16"), (F64, "f64")):
    seeds[f"quantized-linear-x{name}"] = plan(2, x=x, t=(x + 1) % 4, opt=0b101, seed=0x200 + x)
seeds["quantized-linear-asym-u8"] = plan(2, mode=0b101, opt=0b1000, seed=11)
seeds["quantized-linear-specials"] = plan(2, styles=[0xC0] * NARR, seed=12)
# QUANTIZE_STATIC: S8/U8 with a zero point, smoothing, no smooth dtype.
seeds["quantize-static"] = plan(3, mode=1, seed=13)
seeds["quantize-static-u8-zp-smooth"] = plan(3, w=2, zp=1, opt=0b1100, seed=14)
seeds["quantize-static-no-smooth-dtype"] = plan(3, mode=2, seed=15)
seeds["quantize-static-specials"] = plan(3, x=F16, styles=[0xF0] * NARR, seed=16)
# QUANTIZE_DYNAMIC: every quant mode (0 default, DYNAMIC, ASYMMETRIC, ABSMAX, FROM_ABSMAX).
for mode, name in enumerate(("default", "dynamic", "asymmetric", "absmax", "from-absmax")):
    seeds[f"quantize-dynamic-{name}"] = plan(4, mode=mode, opt=0b1100, t=mode % 4, seed=0x300 + mode)
seeds["quantize-dynamic-asym-u8"] = plan(4, mode=2, w=2, seed=17)
seeds["quantize-dynamic-nan-rows"] = plan(4, x=BF16, styles=[0xF0] * NARR, seed=18)
seeds["quantize-dynamic-f64"] = plan(4, x=F64, t=F16, seed=19)
# SCALED_LINEAR: per-token and per-tensor scales, activation and weight zero points.
for flags in range(8):
    seeds[f"scaled-linear-flags{flags}"] = plan(5, flags=flags, x=flags & 1, w=(flags >> 1) & 1, opt=0b1011,
                                                seed=0x400 + flags)
# RMSNORM_QUANTIZE: each mode, residual, residual_out (separate, in place on residual or on x), a K
# past the 2048 lanes of the fixed-order sum.
for mode, name in enumerate(("default", "dynamic", "asymmetric", "absmax", "from-absmax", "static")):
    seeds[f"rmsnorm-{name}"] = plan(6, mode=mode, x=F16, opt=0b110000, seed=0x500 + mode)
seeds["rmsnorm-residual-in-place"] = plan(6, opt=0b1110000, seed=20)
seeds["rmsnorm-x-in-place"] = plan(6, opt=0b1100000, x=BF16, seed=21)
seeds["rmsnorm-k4099"] = plan(6, k=big_k(9), m=2, max_m=2, opt=0b10000, seed=22)
seeds["rmsnorm-k2049-smooth"] = plan(6, k=big_k(8), m=1, max_m=1, opt=0b100, seed=23)
# SILU_MUL_QUANTIZE: each mode, large K, specials (exp's range ends).
for mode, name in enumerate(("default", "dynamic", "asymmetric", "absmax", "from-absmax", "static")):
    seeds[f"silu-mul-{name}"] = plan(7, mode=mode, seed=0x600 + mode)
seeds["silu-mul-specials"] = plan(7, styles=[0xF1] * NARR, seed=24)
seeds["silu-mul-k2048"] = plan(7, k=big_k(7), m=1, max_m=1, seed=25)
# SCALE_ACCUMULATORS.
seeds["scale-accumulators"] = plan(8, opt=1, seed=26)
seeds["scale-accumulators-per-tensor"] = plan(8, flags=4, t=BF16, seed=27)
# Hostile fields (mutation = field id, then its value selector bytes; see mutate()).
seeds["hostile-ld-weight-overflow"] = plan(1, n=4, k=16, mutations=[(28, 1, 17)])      # INT64_MAX / 2
seeds["hostile-ld-act-negative"] = plan(1, mutations=[(28, 0, 1)])                     # -1
seeds["hostile-desc-size-0_1"] = plan(1, mutations=[(0, 6)])                          # SQ_PLAN_DESC_SIZE_0_1
seeds["hostile-desc-size-4097"] = plan(3, mutations=[(0, 13)])
seeds["hostile-desc-size-4096-tail"] = plan(4, mutations=[(0, 12), (17, 9)])
seeds["hostile-args-size-2x"] = plan(2, mutations=[(22, 11)])
seeds["hostile-args-size-0"] = plan(1, mutations=[(22, 1)])
seeds["hostile-op-9"] = plan(1, mutations=[(1, 9)])
seeds["hostile-op-int-min"] = plan(1, mutations=[(1, 13)])
seeds["hostile-dtype-u8-static"] = plan(1, mutations=[(2, 7)])
seeds["hostile-act-scale-nan"] = plan(1, mutations=[(9, 18)])
seeds["hostile-act-scale-f32-overflow"] = plan(3, mutations=[(9, 14)])
seeds["hostile-eps-zero"] = plan(6, mutations=[(16, 0)])
seeds["hostile-misaligned-out"] = plan(1, t=F64, mutations=[(32, 6, 1 | (3 << 2))])
seeds["hostile-null-act"] = plan(4, mutations=[(32, 0, 0)])
seeds["hostile-extra-absmax"] = plan(1, mutations=[(32, 12, 2)])
seeds["hostile-alias-out-act"] = plan(3, mutations=[(35, 6, 1)])
seeds["hostile-m-int64-max"] = plan(1, mutations=[(21, 15)])
seeds["hostile-second-run-m0"] = plan(2, mutations=[(36, 0)])
seeds["hostile-workspace-short"] = plan(2, mutations=[(26, 1)])
seeds["hostile-workspace-misaligned"] = plan(2, mutations=[(26, 2)])
seeds["hostile-wrong-sums"] = plan(1, x=1, zp=4, opt=0b1000, mutations=[(27,)])
seeds["hostile-k-huge"] = plan(4, mutations=[(7, 16)])
seeds["hostile-host-threads-huge"] = plan(1, mutations=[(10, 200, 0xff, 0xff, 0xff, 0xff)])
seeds["hostile-gpu-preference"] = plan(1, mutations=[(20, 0)])
seeds["hostile-all-specials"] = plan(2, mutations=[(37,)])
seeds["hostile-flags-unknown"] = plan(5, mutations=[(15, 201, 0, 0, 0, 0x80)])
seeds["hostile-quant-mode-99"] = plan(4, mutations=[(12, 12)])
# Handles: destroyed, foreign, misaligned, NULL.
seeds["handles"] = bytes([3, 7, 9, 3]) + struct.pack("<Q", 0xdeadbeef)
# The offline helpers (scenario 4: the next byte picks the helper), valid and hostile.
for h, name in enumerate(("smooth-factors", "apply-to-norm", "apply-to-weight", "quantize-weight",
                          "static-act-scale", "quantize-weight-asymmetric", "weight-sums")):
    seeds[f"offline-{name}"] = bytes([4, h, 0]) + struct.pack("<Q", 0x700 + h) + bytes([0, 15, 2, 1, 3, 200, 1])
    seeds[f"offline-{name}-hostile"] = bytes([4, h, 3]) + struct.pack("<Q", 0x780 + h) + bytes([0xF0, 0x80, 3])
    seeds[f"offline-{name}-specials"] = bytes([4, h, 0]) + struct.pack("<Q", 0x7c0 + h) + bytes([0xF0, 9, 1, 2, 4])
# Inputs the long fuzz runs flagged, kept as found (base64 of the libFuzzer artifact): an out aliased to a
# residual the run does not pass, in ABSMAX mode (a harness false positive, tests/fuzz/README.md).
seeds["regress-absmax-out-alias-null"] = base64.b64decode(
    "rP7///8DAgQBAwEHACUAAAAAAAFfqOPPtoEAAF0C/7aBAAAC//8w//8AAQEAAsgD//8ADwIAAEtLS0ZGRkZGRkZGRkZGRkZGRkZGRkZGRkZG"
    "RgP+RkZGRkZGRkZGRktLJks=")
# K = INT64_MAX, then the mutation "K one past" (the harness's own signed overflow, UBSan; found by CI's
# 120-second run on 2026-12-07, fixed in fuzz_abi.cpp's mutate).
seeds["regress-k-int64-max-plus-one"] = base64.b64decode(
    "AAADAgYgAAAAAAABAQUAAAD+//8AAAAAAAAA/wf///8AAAAAAAAAAAAAAF0AAQAAAQAAAAAAAAD/Bw8AEEDt7e3v7QAAAO1eAAAAAAAAAAAAAAABCQ==")

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
for name, data in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as fh:
        fh.write(data)
print(f"{len(seeds)} seeds, {sum(len(d) for d in seeds.values())} bytes in {OUT}")
