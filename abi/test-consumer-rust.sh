#!/usr/bin/env bash
# The Rust crates in abi/consumers/rust (smoothquant-sys: hand-written extern "C" + a
# build.rs that asks pkg-config; smoothquant: safe Plan/Result wrapper) built OFFLINE
# against the INSTALLED package; the consumer runs the host kernel and checks every
# output, and its #[repr(C)] layouts must equal the C header's (sizes, alignments,
# offsets of every field). Skipped (77) when cargo is not installed.
source "$(dirname "$0")/lib.sh"
sq_require_env SQ_BUILD_DIR SQ_SOURCE_DIR SQ_VERSION SQ_SOVERSION SQ_INSTALL_LIBDIR SQ_INSTALL_INCLUDEDIR
sq_optional_tool cargo cargo
sq_require_tool pkg-config pkg-config
sq_make_tmp
sq_install "$SQ_TMP/prefix"
export PKG_CONFIG_PATH="$SQ_LIBDIR/pkgconfig"

# Build a copy: cargo writes Cargo.lock next to the workspace.
cp -R "$SQ_SOURCE_DIR/abi/consumers/rust" "$SQ_TMP/src"
export CARGO_TARGET_DIR="$SQ_TMP/target"
unset SMOOTHQUANT_LIB_DIR
if ! (cd "$SQ_TMP/src" && cargo build --offline --quiet) >"$SQ_TMP/cargo.log" 2>&1; then
  cat "$SQ_TMP/cargo.log" >&2
  sq_fail "cargo build --offline of abi/consumers/rust failed"
fi
consumer="$CARGO_TARGET_DIR/debug/sq-rust-consumer"

LD_LIBRARY_PATH="$SQ_LIBDIR" "$consumer" || sq_fail "the Rust consumer failed (messages above)"

# Hand-written bindings vs the installed header.
# shellcheck disable=SC2046
"$(sq_c_compiler)" -std=c11 -Wall -Wextra $(pkg-config --cflags smoothquant) \
  "$SQ_SOURCE_DIR/abi/consumers/rust/layout.c" -o "$SQ_TMP/layout_c" ||
  sq_fail "building abi/consumers/rust/layout.c failed"
"$SQ_TMP/layout_c" >"$SQ_TMP/layout.c.txt"
LD_LIBRARY_PATH="$SQ_LIBDIR" "$consumer" --layout >"$SQ_TMP/layout.rust.txt"
[[ $(wc -l <"$SQ_TMP/layout.c.txt") -gt 50 ]] || sq_fail "layout.c printed too little"
if ! diff -u "$SQ_TMP/layout.c.txt" "$SQ_TMP/layout.rust.txt" >&2; then
  sq_fail "smoothquant-sys #[repr(C)] layouts differ from smoothquant.h (- C, + Rust)"
fi
sq_note "Rust consumer (cargo --offline, pkg-config) OK; $(wc -l <"$SQ_TMP/layout.c.txt") layout facts equal the C header"
