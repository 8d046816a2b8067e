#!/usr/bin/env bash
# Builds the Lambda packages: dist/ecrsync-lambda-arm64.zip and dist/ecrsync-lambda-amd64.zip,
# each holding one file, bootstrap (runtime provided.al2023). Reproducible: the same commit gives
# byte-identical zips (-trimpath, no build ID, fixed mtime and mode, one sorted entry, no extra
# fields, no VCS stamp: the version string alone names the commit); check with sha256sum over two
# builds.
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
LDFLAGS="-s -w -buildid= -X github.com/ecrsync/ecrsync/internal/cli.Version=${VERSION}"
# 1980-01-01, the earliest time a zip entry can hold: nothing of the build machine's clock leaks in.
STAMP=198001010000.00

mkdir -p dist
for arch in ${ARCHS:-arm64 amd64}; do
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  GOOS=linux GOARCH="$arch" CGO_ENABLED=0 "$GO" build -tags lambda.norpc -trimpath -buildvcs=false -ldflags "$LDFLAGS" \
    -o "$work/bootstrap" ./cmd/ecrsync
  chmod 0755 "$work/bootstrap"
  touch -t "$STAMP" "$work/bootstrap"
  out="dist/ecrsync-lambda-${arch}.zip"
  rm -f "$out"
  # -X: no extra attributes (uid/gid, extended timestamps); -D: no directory entries.
  (cd "$work" && TZ=UTC zip -q -X -D -9 "$OLDPWD/$out" bootstrap)
  rm -rf "$work"
  trap - EXIT
  size=$(stat -c %s "$out")
  echo "$out  $(sha256sum "$out" | cut -d' ' -f1)  ${size} bytes"
done
