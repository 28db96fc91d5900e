#!/usr/bin/env bash
# Packs a build's GPU test programs, sq_bench, sq_choice, sq_prof, the examples and libsmoothquant.so.0 into
# build-carry/bins.tar.xz (ignored; about 8 MB) for device-call.sh: the developer machine builds, the GPU
# machine only runs. Usage, from the repository root after `cmake --build build`:
#     bash bench/patches/pack-binaries.sh [build]
set -eu
BUILD=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -L "$BUILD/libsmoothquant.so.0" "$tmp/"
for t in sq_gpu_tests sq_variant_tests sq_fault_gpu_tests sq_sm90_block_tests sq_quant_kernel_tests \
         sq_multi_gpu_tests; do cp "$BUILD/tests/$t" "$tmp/"; done
for b in sq_bench sq_prof sq_choice; do cp "$BUILD/bench/$b" "$tmp/"; done
cp "$BUILD/sq_llama_layer" "$BUILD/sq_tp_mlp" "$tmp/"
mkdir -p build-carry
(cd "$tmp" && tar -cf - ./*) | xz -9 -T2 > build-carry/bins.tar.xz
ls -l build-carry/bins.tar.xz
