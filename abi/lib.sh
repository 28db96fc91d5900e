# Shared helpers of the abi/ test scripts (sourced, not run).
#
# The tests are registered by abi/CMakeLists.txt, which passes through the environment:
#   SQ_BUILD_DIR          the configured and BUILT top-level build tree (never rebuilt here)
#   SQ_SOURCE_DIR         the source tree (repository root)
#   SQ_VERSION            project version, e.g. 0.2.0
#   SQ_SOVERSION          SONAME version, e.g. 0
#   SQ_INSTALL_LIBDIR     CMAKE_INSTALL_LIBDIR (relative), e.g. lib
#   SQ_INSTALL_INCLUDEDIR CMAKE_INSTALL_INCLUDEDIR (relative), e.g. include
#   SQ_C_COMPILER         a C compiler (defaults to cc)
# Set SQ_ABI_KEEP=1 to keep the temporary directories for inspection.
set -euo pipefail

SQ_TEST_NAME=$(basename "$0" .sh)

sq_fail() {
  echo "FAIL [$SQ_TEST_NAME]: $*" >&2
  exit 1
}

sq_skip() {
  echo "SKIP [$SQ_TEST_NAME]: $*" >&2
  exit 77
}

sq_note() {
  echo "[$SQ_TEST_NAME] $*"
}

sq_require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || sq_fail "environment variable $name is not set (run through ctest -L abi)"
  done
}

# sq_require_tool <command> <apt package>: fail with the package to install.
sq_require_tool() {
  command -v "$1" >/dev/null 2>&1 || sq_fail "'$1' not found: apt-get install $2"
}

# sq_optional_tool <command> <apt package>: skip (exit 77) when missing.
sq_optional_tool() {
  command -v "$1" >/dev/null 2>&1 || sq_skip "'$1' not found: apt-get install $2"
}

# sq_make_tmp: a fresh directory, removed on exit unless SQ_ABI_KEEP=1.
sq_make_tmp() {
  SQ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sq-${SQ_TEST_NAME}.XXXXXX")
  if [[ "${SQ_ABI_KEEP:-0}" == 1 ]]; then
    trap 'echo "[$SQ_TEST_NAME] kept $SQ_TMP"' EXIT
  else
    trap 'rm -rf "$SQ_TMP"' EXIT
  fi
}

# sq_install <prefix>: cmake --install of the built tree (all components) into <prefix>.
sq_install() {
  local prefix=$1 log
  log="$SQ_TMP/install.log"
  if ! cmake --install "$SQ_BUILD_DIR" --prefix "$prefix" >"$log" 2>&1; then
    cat "$log" >&2
    sq_fail "cmake --install $SQ_BUILD_DIR --prefix $prefix failed"
  fi
  SQ_PREFIX=$prefix
  SQ_LIBDIR="$prefix/$SQ_INSTALL_LIBDIR"
  SQ_INCLUDEDIR="$prefix/$SQ_INSTALL_INCLUDEDIR"
  [[ -f "$SQ_LIBDIR/libsmoothquant.so.$SQ_VERSION" ]] ||
    sq_fail "no $SQ_LIBDIR/libsmoothquant.so.$SQ_VERSION after install (see $log)"
}

# sq_soname <elf>: the DT_SONAME of a shared object.
sq_soname() {
  readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p'
}

sq_c_compiler() {
  echo "${SQ_C_COMPILER:-cc}"
}
