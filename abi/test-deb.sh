#!/usr/bin/env bash
# cpack -G DEB on the built tree (no rebuild), then:
#   * control fields: names libsmoothquant<SOVERSION> / libsmoothquant-dev, version,
#     sections, runtime Depends only on libc6/libstdc++6/libgcc-s1 (static CUDA runtime),
#     -dev Depends on the exact runtime version, DEBIAN/shlibs, ldconfig in postinst/postrm
#   * contents: runtime = the SONAME file + its link only; -dev = header, .so link, .pc,
#     CMake package, no library file
#   * `dpkg --root` installs both into a throwaway root whose status database holds this
#     machine's libc6/libstdc++6/libgcc-s1 (so Depends are really checked), a C consumer
#     builds from the installed .pc and runs, and `dpkg --root -r` removes every file.
source "$(dirname "$0")/lib.sh"
sq_require_env SQ_BUILD_DIR SQ_SOURCE_DIR SQ_VERSION SQ_SOVERSION
sq_require_tool cpack cmake
sq_require_tool dpkg-deb dpkg
sq_require_tool dpkg-shlibdeps dpkg-dev
sq_require_tool readelf binutils
sq_require_tool pkg-config pkg-config
sq_make_tmp

[[ -f "$SQ_BUILD_DIR/CPackConfig.cmake" ]] || sq_fail "no CPackConfig.cmake in $SQ_BUILD_DIR"
if ! cpack -G DEB --config "$SQ_BUILD_DIR/CPackConfig.cmake" -B "$SQ_TMP/packages" \
     >"$SQ_TMP/cpack.log" 2>&1; then
  cat "$SQ_TMP/cpack.log" >&2
  sq_fail "cpack -G DEB failed"
fi
runtime_pkg="libsmoothquant$SQ_SOVERSION"
dev_pkg="libsmoothquant-dev"
shopt -s nullglob
runtime_debs=("$SQ_TMP/packages/${runtime_pkg}_${SQ_VERSION}_"*.deb)
dev_debs=("$SQ_TMP/packages/${dev_pkg}_${SQ_VERSION}_"*.deb)
all_debs=("$SQ_TMP/packages/"*.deb)
shopt -u nullglob
[[ ${#runtime_debs[@]} == 1 && ${#dev_debs[@]} == 1 && ${#all_debs[@]} == 2 ]] ||
  sq_fail "expected exactly ${runtime_pkg}_${SQ_VERSION}_*.deb and ${dev_pkg}_${SQ_VERSION}_*.deb, got: $(cd "$SQ_TMP/packages" && echo *.deb)"
runtime_deb=${runtime_debs[0]}
dev_deb=${dev_debs[0]}
real="libsmoothquant.so.$SQ_VERSION"
soname="libsmoothquant.so.$SQ_SOVERSION"

field() { dpkg-deb -f "$1" "$2"; }

# --- control fields
[[ "$(field "$runtime_deb" Package)" == "$runtime_pkg" ]] || sq_fail "runtime Package: $(field "$runtime_deb" Package)"
[[ "$(field "$dev_deb" Package)" == "$dev_pkg" ]] || sq_fail "dev Package: $(field "$dev_deb" Package)"
for deb in "$runtime_deb" "$dev_deb"; do
  [[ "$(field "$deb" Version)" == "$SQ_VERSION" ]] || sq_fail "$(basename "$deb"): Version $(field "$deb" Version)"
  [[ -n "$(field "$deb" Maintainer)" && -n "$(field "$deb" Description)" ]] ||
    sq_fail "$(basename "$deb"): Maintainer or Description missing"
done
[[ "$(field "$runtime_deb" Section)" == libs ]] || sq_fail "runtime Section: $(field "$runtime_deb" Section)"
[[ "$(field "$dev_deb" Section)" == libdevel ]] || sq_fail "dev Section: $(field "$dev_deb" Section)"
runtime_depends=$(field "$runtime_deb" Depends)
dep_names=$(tr ',' '\n' <<<"$runtime_depends" | sed 's/^ *//; s/[ (].*//' | sed '/^$/d' | sort -u)
grep -qx libc6 <<<"$dep_names" || sq_fail "runtime Depends '$runtime_depends' lacks libc6"
grep -qx 'libstdc++6' <<<"$dep_names" || sq_fail "runtime Depends '$runtime_depends' lacks libstdc++6"
extra=$(grep -vxE 'libc6|libstdc\+\+6|libgcc-s1' <<<"$dep_names" || true)
[[ -z "$extra" ]] || sq_fail "runtime Depends on more than libc6/libstdc++6/libgcc-s1: $extra"
[[ "$(field "$dev_deb" Depends)" == "$runtime_pkg (= $SQ_VERSION)" ]] ||
  sq_fail "dev Depends '$(field "$dev_deb" Depends)', expected '$runtime_pkg (= $SQ_VERSION)'"

mkdir -p "$SQ_TMP/control"
dpkg-deb -e "$runtime_deb" "$SQ_TMP/control"
[[ "$(cat "$SQ_TMP/control/shlibs" 2>/dev/null)" == "libsmoothquant $SQ_SOVERSION $runtime_pkg (>= $SQ_VERSION)" ]] ||
  sq_fail "runtime DEBIAN/shlibs is '$(cat "$SQ_TMP/control/shlibs" 2>/dev/null)'"
grep -q ldconfig "$SQ_TMP/control/postinst" 2>/dev/null || sq_fail "runtime postinst does not run ldconfig"

# --- contents (paths without the leading ./, type l = symlink with its target)
contents() {
  dpkg-deb -c "$1" | awk '$1 !~ /^d/ {t = substr($1, 1, 1); p = $6; sub(/^\.\//, "", p);
                                      if (t == "l") print "l " p " -> " $8; else print "f " p}' | sort
}
runtime_files=$(contents "$runtime_deb")
dev_files=$(contents "$dev_deb")
libdir=$(sed -n "s|^f \(.*\)/$real\$|\1|p" <<<"$runtime_files")
[[ -n "$libdir" ]] || sq_fail "runtime package lacks $real: $runtime_files"
expected_runtime=$(sort <<LIST
f $libdir/$real
l $libdir/$soname -> $real
LIST
)
[[ "$runtime_files" == "$expected_runtime" ]] ||
  { diff <(echo "$expected_runtime") <(echo "$runtime_files") >&2 || true; sq_fail "runtime package contents (< expected, > packaged)"; }
expected_dev=$(sed 's/smoothquantTargets-[a-z]*\.cmake$/smoothquantTargets-CONFIG.cmake/' <<LIST | sort
f usr/include/smoothquant/smoothquant.h
l $libdir/libsmoothquant.so -> $soname
f $libdir/pkgconfig/smoothquant.pc
f $libdir/cmake/smoothquant/smoothquantConfig.cmake
f $libdir/cmake/smoothquant/smoothquantConfigVersion.cmake
f $libdir/cmake/smoothquant/smoothquantTargets.cmake
f $libdir/cmake/smoothquant/smoothquantTargets-CONFIG.cmake
LIST
)
dev_files_norm=$(sed 's/smoothquantTargets-[a-z]*\.cmake$/smoothquantTargets-CONFIG.cmake/' <<<"$dev_files" | sort)
[[ "$dev_files_norm" == "$expected_dev" ]] ||
  { diff <(echo "$expected_dev") <(echo "$dev_files_norm") >&2 || true; sq_fail "dev package contents (< expected, > packaged)"; }

# --- install into a throwaway root
root="$SQ_TMP/root"
admin="$root/var/lib/dpkg"
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers" "$SQ_TMP/bin"
touch "$admin/available"
# This machine's records of the runtime's dependencies, so dpkg checks Depends for real.
# shellcheck disable=SC2086
dpkg-query -s $dep_names >"$admin/status" 2>"$SQ_TMP/dpkg-query.log" ||
  { cat "$SQ_TMP/dpkg-query.log" >&2; sq_fail "this machine lacks a package the runtime depends on ($(echo $dep_names))"; }
# Maintainer scripts run without chroot (the root has no shell); ldconfig is recorded, not run.
cat >"$SQ_TMP/bin/ldconfig" <<'SH'
#!/bin/sh
echo "ldconfig $*" >>"$SQ_LDCONFIG_LOG"
SH
chmod +x "$SQ_TMP/bin/ldconfig"
export SQ_LDCONFIG_LOG="$SQ_TMP/ldconfig.log"
dpkg_root() {
  PATH="$SQ_TMP/bin:$PATH" dpkg --root="$root" --force-not-root --force-script-chrootless "$@"
}
dpkg_root -i "$runtime_deb" "$dev_deb" >"$SQ_TMP/dpkg-install.log" 2>&1 ||
  { cat "$SQ_TMP/dpkg-install.log" >&2; sq_fail "dpkg -i of both packages into $root failed"; }
status_of() { dpkg-query --admindir="$admin" -W -f='${Status}' "$1"; }
[[ "$(status_of "$runtime_pkg")" == "install ok installed" &&
   "$(status_of "$dev_pkg")" == "install ok installed" ]] ||
  sq_fail "packages not fully installed: $(dpkg-query --admindir="$admin" -l | tail -n 4)"
grep -q ldconfig "$SQ_LDCONFIG_LOG" 2>/dev/null || sq_fail "installing did not run ldconfig"
[[ "$(sq_soname "$root/$libdir/$real")" == "$soname" ]] || sq_fail "installed SONAME $(sq_soname "$root/$libdir/$real")"

# The installed .pc is relocatable: it finds the root's header and library.
export PKG_CONFIG_PATH="$root/$libdir/pkgconfig"
# shellcheck disable=SC2046
"$(sq_c_compiler)" -std=c99 -Wall -Wextra -Werror $(pkg-config --cflags smoothquant) \
  "$SQ_SOURCE_DIR/abi/consumers/c/consumer.c" -o "$SQ_TMP/c_consumer" \
  $(pkg-config --libs smoothquant) -lm || sq_fail "building the C consumer against the .deb files failed"
LD_LIBRARY_PATH="$root/$libdir" "$SQ_TMP/c_consumer" || sq_fail "the C consumer failed on the .deb files"

# --- removal leaves nothing behind
: >"$SQ_LDCONFIG_LOG"
dpkg_root -r "$dev_pkg" "$runtime_pkg" >"$SQ_TMP/dpkg-remove.log" 2>&1 ||
  { cat "$SQ_TMP/dpkg-remove.log" >&2; sq_fail "dpkg -r of both packages failed"; }
left=$(find "$root" -path "$root/var" -prune -o \( -type f -o -type l \) -print)
[[ -z "$left" ]] || sq_fail "files left after dpkg -r: $left"
grep -q ldconfig "$SQ_LDCONFIG_LOG" || sq_fail "removing did not run ldconfig"

sq_note "$(basename "$runtime_deb") (Depends: $runtime_depends) and $(basename "$dev_deb") OK: contents, dpkg install, consumer, removal"
