#!/usr/bin/env bash
# A separate CMake project (abi/consumers/cmake) finds the INSTALLED package with
# find_package(smoothquant 0.2 CONFIG REQUIRED), links smoothquant::smoothquant, builds
# and runs the C consumer (no LD_LIBRARY_PATH: CMake's build RPATH must find the
# installed library). Then the version file must reject a request for major 1.
source "$(dirname "$0")/lib.sh"
sq_require_env SQ_BUILD_DIR SQ_SOURCE_DIR SQ_VERSION SQ_SOVERSION SQ_INSTALL_LIBDIR SQ_INSTALL_INCLUDEDIR
sq_make_tmp
sq_install "$SQ_TMP/prefix"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

log="$SQ_TMP/configure.log"
if ! cmake -S "$SQ_SOURCE_DIR/abi/consumers/cmake" -B "$SQ_TMP/build" "${generator[@]}" \
     -DCMAKE_PREFIX_PATH="$SQ_PREFIX" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
     -DCMAKE_C_COMPILER="$(sq_c_compiler)" >"$log" 2>&1; then
  cat "$log" >&2
  sq_fail "configuring the CMake consumer against $SQ_PREFIX failed"
fi
found=$(sed -n 's/.*-- smoothquant \(.*\) from \(.*\)$/\1 \2/p' "$log")
[[ "$found" == "$SQ_VERSION $SQ_PREFIX/$SQ_INSTALL_LIBDIR/cmake/smoothquant" ]] ||
  sq_fail "find_package found '$found', expected version $SQ_VERSION in $SQ_PREFIX"
cmake --build "$SQ_TMP/build" >"$SQ_TMP/build.log" 2>&1 ||
  { cat "$SQ_TMP/build.log" >&2; sq_fail "building the CMake consumer failed"; }
"$SQ_TMP/build/sq_cmake_consumer" || sq_fail "the CMake consumer failed (messages above)"

# The version file: SameMajorVersion, so 0.x packages do not satisfy a request for 1.0.
if cmake -S "$SQ_SOURCE_DIR/abi/consumers/cmake" -B "$SQ_TMP/build-v1" "${generator[@]}" \
     -DCMAKE_PREFIX_PATH="$SQ_PREFIX" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
     -DSQ_CONSUMER_REQUIRED_VERSION=$((SQ_SOVERSION + 1)).0 >"$SQ_TMP/v1.log" 2>&1; then
  sq_fail "find_package(smoothquant $((SQ_SOVERSION + 1)).0) accepted version $SQ_VERSION"
fi
grep -q "compatible with requested version" "$SQ_TMP/v1.log" ||
  { cat "$SQ_TMP/v1.log" >&2; sq_fail "the major-version request failed for another reason than the version file"; }
sq_note "CMake consumer (find_package CONFIG, smoothquant::smoothquant) OK"
