#!/usr/bin/env bash
# Builds the Lambda packages: $DIST/ecrsync-lambda-arm64.zip and $DIST/ecrsync-lambda-amd64.zip
# (DIST defaults to dist), each holding one file, bootstrap (runtime provided.al2023).
# Reproducible: the same commit gives byte-identical zips (CGO off, -trimpath, empty build ID, no VCS
# stamp: the version and commit are stamped with -X instead; fixed mtime and mode, one entry, no
# extra fields). make release checks it with two builds (tools/release).
# Environment: VERSION, COMMIT (default: from git), LAMBDA_TAGS (default lambda.norpc,lambdaonly: the CLI left out), ARCHS, DIST.
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
DIST="${DIST:-dist}"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
COMMIT="${COMMIT:-$(bash scripts/commit.sh)}"
LAMBDA_TAGS="${LAMBDA_TAGS:-lambda.norpc,lambdaonly}"
pkg=github.com/ecrsync/ecrsync/internal/buildinfo
LDFLAGS="-s -w -buildid= -X ${pkg}.Version=${VERSION} -X ${pkg}.Commit=${COMMIT}"
# 1980-01-01, the earliest time a zip entry can hold: nothing of the build machine's clock leaks in.
STAMP=198001010000.00

mkdir -p "$DIST"
DIST="$(cd "$DIST" && pwd)"
for arch in ${ARCHS:-arm64 amd64}; do
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  GOOS=linux GOARCH="$arch" CGO_ENABLED=0 "$GO" build -tags "$LAMBDA_TAGS" -trimpath -buildvcs=false -ldflags "$LDFLAGS" \
    -o "$work/bootstrap" ./cmd/ecrsync
  chmod 0755 "$work/bootstrap"
  touch -t "$STAMP" "$work/bootstrap"
  out="$DIST/ecrsync-lambda-${arch}.zip"
  rm -f "$out"
  # -X: no extra attributes (uid/gid, extended timestamps); -D: no directory entries.
  (cd "$work" && TZ=UTC zip -q -X -D -9 "$out" bootstrap)
  rm -rf "$work"
  trap - EXIT
  size=$(stat -c %s "$out")
  echo "${out#"$PWD/"}  $(sha256sum "$out" | cut -d' ' -f1)  ${size} bytes"
done
