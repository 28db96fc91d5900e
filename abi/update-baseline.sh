#!/usr/bin/env bash
# Usage: abi/update-baseline.sh <path-to-built-libsmoothquant.so>
#
# Rewrites abi/baseline/ from a built library (with DWARF: host code built with -g):
#   libsmoothquant.abi        abidw XML of the public ABI
#   libsmoothquant.symbols    exported symbols with their version node
#   smoothquant.h.constants   integer SQ_* macros and enumerators of the public header
# Run it only for an intended, reviewed ABI change; commit the diff with the change.
source "$(dirname "$0")/abi-common.sh"
[[ $# == 1 && -f "$1" ]] || { echo "usage: $0 <path-to-built-libsmoothquant.so>" >&2; exit 2; }
lib=$1
sq_abi_require_tools
sq_abi_require_dwarf "$lib"
mkdir -p "$SQ_ABI_BASELINE"
sq_abi_dump "$lib" "$SQ_ABI_BASELINE/libsmoothquant.abi"
sq_abi_symbols "$lib" >"$SQ_ABI_BASELINE/libsmoothquant.symbols"
sq_abi_constants "$SQ_ABI_HEADERS/smoothquant/smoothquant.h" >"$SQ_ABI_BASELINE/smoothquant.h.constants"
echo "abi/baseline updated from $lib ($(sq_soname_of "$lib")):"
wc -l "$SQ_ABI_BASELINE"/*
echo "Review and commit abi/baseline/ together with the change that needed it."
