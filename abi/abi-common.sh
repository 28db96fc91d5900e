# Shared by check-abi.sh and update-baseline.sh (sourced): how the ABI of a built
# libsmoothquant is described, so that the baseline and the check use the same options.
#   sq_abi_dump <lib> <out.abi>        abidw XML of the public ABI (types from include/ only)
#   sq_abi_symbols <lib>               "<nm type> <name>@@<version node>" per defined export
#   sq_abi_constants <header>          "<NAME> <value>" per integer SQ_* macro and enumerator
# Needs abigail-tools (abidw, abidiff), binutils (nm, readelf) and a C compiler (cc).
set -euo pipefail

SQ_ABI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SQ_ABI_ROOT=$(cd "$SQ_ABI_DIR/.." && pwd)
SQ_ABI_HEADERS="$SQ_ABI_ROOT/include"
SQ_ABI_BASELINE="$SQ_ABI_DIR/baseline"

sq_abi_fail() {
  echo "ABI CHECK FAILED: $*" >&2
  exit 1
}

sq_abi_require_tools() {
  local tool pkg
  for tool in abidw:abigail-tools abidiff:abigail-tools nm:binutils readelf:binutils cc:gcc; do
    pkg=${tool#*:}
    tool=${tool%%:*}
    command -v "$tool" >/dev/null 2>&1 || sq_abi_fail "'$tool' not found: apt-get install $pkg"
  done
}

sq_abi_require_dwarf() {
  readelf -S "$1" | grep -q '\.debug_info' ||
    sq_abi_fail "$1 has no DWARF (.debug_info): abidiff could only compare symbol names.
Build the library's host code with -g (e.g. CMAKE_BUILD_TYPE=RelWithDebInfo or -g for the
C++ sources); packages strip it at install time with 'cmake --install --strip'."
}

sq_abi_dump() {
  abidw --headers-dir "$SQ_ABI_HEADERS" --drop-private-types --drop-undefined-syms \
        --no-show-locs --no-comp-dir-path --no-corpus-path --no-architecture --no-elf-needed \
        --type-id-style hash --exported-interfaces-only --out-file "$2.raw" "$1"
  # Source paths relative to the checkout, so the baseline does not depend on where it was built.
  sed "s|path='$SQ_ABI_ROOT/|path='|" "$2.raw" >"$2"
  rm -f "$2.raw"
}

sq_abi_symbols() {
  nm -D --defined-only "$1" | awk '{print $(NF - 1), $NF}' | LC_ALL=C sort -u
}

# Integer-valued SQ_* object-like macros (as the compiler sees them) and the explicitly
# numbered enumerators of the public header, each evaluated by the compiler. The release
# number macros (SQ_VERSION_*) are left out: they change with every release.
sq_abi_constants() {
  local header tmp macros enumerators name value
  header=$(realpath "$1")
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/sq-abi-constants.XXXXXX")
  macros=$(cc -dM -E -x c "$header" | sed -n 's/^#define \(SQ_[A-Z0-9_]*\) .*/\1/p' |
           grep -v '^SQ_VERSION_' | LC_ALL=C sort -u)
  enumerators=$(sed -n 's/^ *\(SQ_[A-Z0-9_]*\) *= *[0-9].*/\1/p' "$header" | LC_ALL=C sort -u)
  {
    echo "#include <stdio.h>"
    echo "#include \"$header\""
    echo "int main(void) {"
    for name in $macros; do
      # Only macros that expand to an integer constant expression, decimal or hexadecimal (skips
      # SQ_API, strings, function-like macros).
      value=$(printf '#include "%s"\n%s\n' "$header" "$name" | cc -E -P -x c - 2>/dev/null | tail -n 1)
      [[ "$value" =~ ^[-+*/()0-9uUlL\ ]+$ || "$value" =~ ^\(?0[xX][0-9a-fA-F]+[uUlL]*\)?$ ]] &&
        echo "  printf(\"%s %lld\\n\", \"$name\", (long long)($name));"
    done
    for name in $enumerators; do
      echo "  printf(\"%s %lld\\n\", \"$name\", (long long)($name));"
    done
    echo "  return 0;"
    echo "}"
  } >"$tmp/constants.c"
  cc -std=c99 -o "$tmp/constants" "$tmp/constants.c" ||
    { rm -rf "$tmp"; sq_abi_fail "cannot compile the constants probe"; }
  "$tmp/constants" | LC_ALL=C sort -u
  rm -rf "$tmp"
}

sq_soname_of() {
  readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p'
}
