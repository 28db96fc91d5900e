#!/usr/bin/env bash
# cmake --install into a temporary prefix, then check the installed tree:
#   exactly the expected files (library, SONAME and development links, header, .pc,
#   CMake package; no programs), the SONAME, no DT_NEEDED beyond libc/libstdc++/libgcc
#   (the CUDA runtime is static), no RPATH into the build tree, only versioned sq_*
#   exports, and pkg-config answers that point into the prefix.
source "$(dirname "$0")/lib.sh"
sq_require_env SQ_BUILD_DIR SQ_SOURCE_DIR SQ_VERSION SQ_SOVERSION SQ_INSTALL_LIBDIR SQ_INSTALL_INCLUDEDIR
sq_require_tool readelf binutils
sq_require_tool nm binutils
sq_require_tool pkg-config pkg-config
sq_make_tmp
sq_install "$SQ_TMP/prefix"

lib_rel="$SQ_INSTALL_LIBDIR"
inc_rel="$SQ_INSTALL_INCLUDEDIR"
real="libsmoothquant.so.$SQ_VERSION"
soname="libsmoothquant.so.$SQ_SOVERSION"

# --- the exact list of installed files (type f = file, l = symlink)
expected=$(sort <<LIST
f $inc_rel/smoothquant/smoothquant.h
f $lib_rel/$real
l $lib_rel/$soname
l $lib_rel/libsmoothquant.so
f $lib_rel/pkgconfig/smoothquant.pc
f $lib_rel/cmake/smoothquant/smoothquantConfig.cmake
f $lib_rel/cmake/smoothquant/smoothquantConfigVersion.cmake
f $lib_rel/cmake/smoothquant/smoothquantTargets.cmake
f $lib_rel/cmake/smoothquant/smoothquantTargets-CONFIG.cmake
LIST
)
actual=$(cd "$SQ_PREFIX" && find . \( -type f -o -type l \) -printf '%y %P\n' |
         sed 's/smoothquantTargets-[a-z]*\.cmake$/smoothquantTargets-CONFIG.cmake/' | sort)
if [[ "$expected" != "$actual" ]]; then
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  sq_fail "installed files differ from the expected list (< expected, > installed)"
fi

# --- links and SONAME
[[ "$(readlink "$SQ_LIBDIR/$soname")" == "$real" ]] ||
  sq_fail "$soname -> $(readlink "$SQ_LIBDIR/$soname"), expected -> $real"
[[ "$(readlink "$SQ_LIBDIR/libsmoothquant.so")" == "$soname" ]] ||
  sq_fail "libsmoothquant.so -> $(readlink "$SQ_LIBDIR/libsmoothquant.so"), expected -> $soname"
[[ "$(sq_soname "$SQ_LIBDIR/$real")" == "$soname" ]] ||
  sq_fail "SONAME is '$(sq_soname "$SQ_LIBDIR/$real")', expected $soname"
cmp -s "$SQ_SOURCE_DIR/include/smoothquant/smoothquant.h" "$SQ_INCLUDEDIR/smoothquant/smoothquant.h" ||
  sq_fail "installed header differs from include/smoothquant/smoothquant.h"

# --- dependencies: the CUDA runtime is linked statically, libcuda is loaded at run time
allowed='^(libc\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'
needed=$(readelf -d "$SQ_LIBDIR/$real" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
[[ -n "$needed" ]] || sq_fail "no DT_NEEDED entries read from $real"
while read -r dep; do
  [[ "$dep" =~ $allowed ]] || sq_fail "unexpected DT_NEEDED $dep (only libc/libstdc++/libgcc/libm allowed)"
done <<<"$needed"
if readelf -d "$SQ_LIBDIR/$real" | grep -E '\((RPATH|RUNPATH)\)' | grep -qF "$SQ_BUILD_DIR"; then
  sq_fail "installed library keeps an RPATH into the build tree"
fi

# --- exports: every defined dynamic symbol is sq_* in version node SMOOTHQUANT_<SOVERSION>
node="SMOOTHQUANT_$SQ_SOVERSION"
bad=$(nm -D --defined-only "$SQ_LIBDIR/$real" | awk '{print $NF}' |
      grep -vE "^sq_[A-Za-z0-9_]+@@$node\$" | grep -vxF "$node" || true)
[[ -z "$bad" ]] || sq_fail "exports outside sq_*@@$node: $(echo $bad)"
nm -D --defined-only "$SQ_LIBDIR/$real" | grep -q " sq_get_api@@$node\$" ||
  sq_fail "sq_get_api is not exported"

# --- pkg-config
export PKG_CONFIG_PATH="$SQ_LIBDIR/pkgconfig"
[[ "$(pkg-config --modversion smoothquant)" == "$SQ_VERSION" ]] ||
  sq_fail "pkg-config --modversion says '$(pkg-config --modversion smoothquant)', expected $SQ_VERSION"
cflags=$(pkg-config --cflags smoothquant)
libs=$(pkg-config --libs smoothquant)
incdir=${cflags#-I}; incdir=${incdir%% *}
libdir=$(sed -n 's/.*-L\([^ ]*\).*/\1/p' <<<"$libs")
[[ "$(realpath "$incdir")" == "$(realpath "$SQ_INCLUDEDIR")" ]] ||
  sq_fail "pkg-config --cflags '$cflags' does not name $SQ_INCLUDEDIR"
[[ "$(realpath "$libdir")" == "$(realpath "$SQ_LIBDIR")" && "$libs" == *-lsmoothquant* ]] ||
  sq_fail "pkg-config --libs '$libs' does not name $SQ_LIBDIR and -lsmoothquant"

sq_note "installed tree, SONAME $soname, dependencies, exports and pkg-config OK"
