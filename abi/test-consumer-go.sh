#!/usr/bin/env bash
# The Go program in abi/consumers/go (cgo, `#cgo pkg-config: smoothquant`, go.mod with no
# dependencies) built with no network against the INSTALLED package, run on the host
# kernel, every output checked. Skipped (77) when go is not installed.
source "$(dirname "$0")/lib.sh"
sq_require_env SQ_BUILD_DIR SQ_SOURCE_DIR SQ_VERSION SQ_SOVERSION SQ_INSTALL_LIBDIR SQ_INSTALL_INCLUDEDIR
sq_optional_tool go golang-go
sq_require_tool pkg-config pkg-config
sq_make_tmp
sq_install "$SQ_TMP/prefix"

cp -R "$SQ_SOURCE_DIR/abi/consumers/go" "$SQ_TMP/src"
export PKG_CONFIG_PATH="$SQ_LIBDIR/pkgconfig"
export GOPATH="$SQ_TMP/gopath" GOCACHE="$SQ_TMP/gocache" GOMODCACHE="$SQ_TMP/gopath/pkg/mod"
export GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local GO111MODULE=on CGO_ENABLED=1
export CC="$(sq_c_compiler)"
if ! (cd "$SQ_TMP/src" && go build -o "$SQ_TMP/go_consumer" .) >"$SQ_TMP/go.log" 2>&1; then
  cat "$SQ_TMP/go.log" >&2
  sq_fail "go build of abi/consumers/go failed"
fi
LD_LIBRARY_PATH="$SQ_LIBDIR" "$SQ_TMP/go_consumer" || sq_fail "the Go consumer failed (messages above)"
sq_note "Go consumer (cgo, pkg-config) OK"
