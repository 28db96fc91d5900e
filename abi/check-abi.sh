#!/usr/bin/env bash
# Usage: abi/check-abi.sh <path-to-built-libsmoothquant.so>
#
# Fails when the built library breaks the ABI recorded in abi/baseline/:
#   1. libsmoothquant.symbols  every exported symbol (name@@version node) must still be
#                              exported with the same kind; new symbols are fine
#   2. libsmoothquant.abi      abidw XML (types from include/ only); `abidiff --no-added-syms`
#                              must report nothing: exit bits 4 (ABI change) or 8
#                              (incompatible change) fail, as do 1/2 (tool errors). Members
#                              appended at the end of a struct (the header's growth rule, and
#                              nothing else changed) are additions: abi/growth.suppr
#   3. smoothquant.h.constants every status/dtype/op/preference/family value and integer
#                              SQ_* macro keeps its value; new ones are fine; the table's
#                              SQ_API_TABLE_VERSION may only grow
# An intended change: abi/update-baseline.sh <lib> (see abi/README.md).
source "$(dirname "$0")/abi-common.sh"
[[ $# == 1 && -f "$1" ]] || { echo "usage: $0 <path-to-built-libsmoothquant.so>" >&2; exit 2; }
lib=$1
sq_abi_require_tools
sq_abi_require_dwarf "$lib"
for f in libsmoothquant.symbols libsmoothquant.abi smoothquant.h.constants; do
  [[ -f "$SQ_ABI_BASELINE/$f" ]] || sq_abi_fail "missing baseline $SQ_ABI_BASELINE/$f (abi/update-baseline.sh creates it)"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sq-check-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0

# 1. exported symbols
sq_abi_symbols "$lib" >"$tmp/symbols"
lost=$(LC_ALL=C comm -23 "$SQ_ABI_BASELINE/libsmoothquant.symbols" "$tmp/symbols")
added=$(LC_ALL=C comm -13 "$SQ_ABI_BASELINE/libsmoothquant.symbols" "$tmp/symbols")
if [[ -n "$lost" ]]; then
  echo "ABI: exported symbols lost or changed (kind or version node):" >&2
  sed 's/^/  - /' <<<"$lost" >&2
  failed=1
fi
[[ -z "$added" ]] || { echo "ABI: new exported symbols (compatible):"; sed 's/^/  + /' <<<"$added"; }

# 2. types and functions (abidiff exit status is a bit mask)
sq_abi_dump "$lib" "$tmp/current.abi" || sq_abi_fail "abidw failed on $lib"
set +e
abidiff --no-added-syms --suppressions "$SQ_ABI_DIR/growth.suppr" \
        "$SQ_ABI_BASELINE/libsmoothquant.abi" "$tmp/current.abi" >"$tmp/abidiff.txt" 2>&1
rc=$?
set -e
if (( rc & 3 )); then
  cat "$tmp/abidiff.txt" >&2
  sq_abi_fail "abidiff could not compare (exit $rc)"
elif (( rc & 12 )); then
  echo "ABI: abidiff reports $( ((rc & 8)) && echo 'INCOMPATIBLE changes' || echo 'changes') (exit $rc):" >&2
  cat "$tmp/abidiff.txt" >&2
  failed=1
fi

# 3. constants of the public header
sq_abi_constants "$SQ_ABI_HEADERS/smoothquant/smoothquant.h" >"$tmp/constants"
# SQ_API_TABLE_VERSION counts the table's appends: a larger value is an addition, a smaller one is not.
table=SQ_API_TABLE_VERSION
old_table=$(sed -n "s/^$table //p" "$SQ_ABI_BASELINE/smoothquant.h.constants")
new_table=$(sed -n "s/^$table //p" "$tmp/constants")
if [[ -n "$old_table" && -n "$new_table" ]] && (( new_table >= old_table )); then
  (( new_table == old_table )) || echo "ABI: $table grew from $old_table to $new_table (compatible: members appended)"
  grep -v "^$table " "$SQ_ABI_BASELINE/smoothquant.h.constants" >"$tmp/baseline-constants" || true
else
  cp "$SQ_ABI_BASELINE/smoothquant.h.constants" "$tmp/baseline-constants"
fi
lost=$(LC_ALL=C comm -23 "$tmp/baseline-constants" "$tmp/constants")
if [[ -n "$lost" ]]; then
  echo "ABI: constants removed or renumbered (baseline value shown):" >&2
  sed 's/^/  - /' <<<"$lost" >&2
  failed=1
fi

if (( failed )); then
  sq_abi_fail "$lib differs from abi/baseline. If the change is intended, follow abi/README.md
(abi/update-baseline.sh, and a new major version for anything but additions)."
fi
echo "ABI OK: $(wc -l <"$tmp/symbols") exported symbols, types and $(wc -l <"$tmp/constants") constants match abi/baseline ($(sq_soname_of "$lib"))"
