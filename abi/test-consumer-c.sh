#!/usr/bin/env bash
# A C99 consumer built against the INSTALLED package with `pkg-config --cflags --libs
# smoothquant` (strict warnings as errors), run against the installed library; and the
# dlopen consumer (tests/dlopen_consumer.c) built with the installed header only and
# pointed at the installed SONAME file.
source "$(dirname "$0")/lib.sh"
sq_require_env SQ_BUILD_DIR SQ_SOURCE_DIR SQ_VERSION SQ_SOVERSION SQ_INSTALL_LIBDIR SQ_INSTALL_INCLUDEDIR
sq_require_tool pkg-config pkg-config
sq_make_tmp
sq_install "$SQ_TMP/prefix"
cc=$(sq_c_compiler)
export PKG_CONFIG_PATH="$SQ_LIBDIR/pkgconfig"

# shellcheck disable=SC2046  # word splitting of pkg-config output is intended
"$cc" -std=c99 -pedantic -Wall -Wextra -Werror $(pkg-config --cflags smoothquant) \
  "$SQ_SOURCE_DIR/abi/consumers/c/consumer.c" -o "$SQ_TMP/c_consumer" \
  $(pkg-config --libs smoothquant) -lm ||
  sq_fail "building the C consumer with pkg-config flags failed"

# The program must resolve the installed copy, not the build tree's.
resolved=$(LD_LIBRARY_PATH="$SQ_LIBDIR" ldd "$SQ_TMP/c_consumer" | awk '/libsmoothquant/ {print $3}')
[[ "$(realpath "$resolved")" == "$(realpath "$SQ_LIBDIR/libsmoothquant.so.$SQ_VERSION")" ]] ||
  sq_fail "c_consumer resolves libsmoothquant to '$resolved', not the installed copy"
LD_LIBRARY_PATH="$SQ_LIBDIR" "$SQ_TMP/c_consumer" || sq_fail "the C consumer failed (messages above)"

dlopen_src="$SQ_SOURCE_DIR/tests/dlopen_consumer.c"
if [[ -f "$dlopen_src" ]]; then
  # shellcheck disable=SC2046
  "$cc" -std=c99 -Wall -Wextra $(pkg-config --cflags smoothquant) "$dlopen_src" \
    -o "$SQ_TMP/dlopen_consumer" -ldl || sq_fail "building tests/dlopen_consumer.c against the installed header failed"
  if readelf -d "$SQ_TMP/dlopen_consumer" | grep -q 'NEEDED.*libsmoothquant'; then
    sq_fail "dlopen_consumer links libsmoothquant at build time; it must only dlopen it"
  fi
  "$SQ_TMP/dlopen_consumer" "$SQ_LIBDIR/libsmoothquant.so.$SQ_SOVERSION" ||
    sq_fail "dlopen_consumer failed on the installed $SQ_LIBDIR/libsmoothquant.so.$SQ_SOVERSION"
  sq_note "dlopen consumer OK on the installed SONAME file"
else
  sq_fail "missing $dlopen_src"
fi
sq_note "C consumer (pkg-config) OK"
