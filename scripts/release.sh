#!/usr/bin/env bash
# make release VERSION=vX.Y.Z: everything a release attaches, into $DIST (default dist/):
#   ecrsync-{linux,darwin}-{amd64,arm64}          the CLI
#   ecrsync-lambda-{arm64,amd64}.zip              the function packages (bootstrap; scripts/lambda.sh)
#   ecrsync-terraform-module-VERSION.tar.gz       deploy/terraform/modules/ecrsync with
#                                                 package/ecrsync-lambda-arm64.zip inside: the module
#                                                 source of the "release" deploy path (README)
#   ecrsync-VERSION.cdx.json                      CycloneDX SBOM of the modules linked into the binaries
#   SHA256SUMS                                    sha256sum of all of the above
# Reproducible: the same commit and toolchain give the same bytes (CGO off, -trimpath, empty build
# ID, no VCS stamp, fixed times, owners and order in the archives, gzip without name or time);
# tools/release checks two builds. Version and commit are stamped into internal/buildinfo.
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
VERSION="${VERSION:?set VERSION, e.g. make release VERSION=v1.2.3}"
[[ "$VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "release.sh: VERSION $VERSION is not vMAJOR.MINOR.PATCH[-PRERELEASE]" >&2; exit 2; }
COMMIT="${COMMIT:-$(bash scripts/commit.sh)}"
TAGS="${TAGS:-lambda.norpc}"
DIST="${DIST:-dist}"
# The commit's time: what the SBOM states and what the module archive's entries carry.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"
export SOURCE_DATE_EPOCH

mkdir -p "$DIST"
DIST="$(cd "$DIST" && pwd)"
pkg=github.com/ecrsync/ecrsync/internal/buildinfo
LDFLAGS="-s -w -buildid= -X ${pkg}.Version=${VERSION} -X ${pkg}.Commit=${COMMIT}"

bins=()
for os in linux darwin; do
  for arch in amd64 arm64; do
    out="$DIST/ecrsync-$os-$arch"
    GOOS=$os GOARCH=$arch CGO_ENABLED=0 "$GO" build -tags "$TAGS" -trimpath -buildvcs=false -ldflags "$LDFLAGS" -o "$out" ./cmd/ecrsync
    bins+=("$out")
  done
done

VERSION="$VERSION" COMMIT="$COMMIT" DIST="$DIST" bash scripts/lambda.sh >/dev/null

module="ecrsync-terraform-module-${VERSION}.tar.gz"
VERSION="$VERSION" COMMIT="$COMMIT" DIST="$DIST" bash scripts/module-archive.sh >/dev/null

"$GO" run ./tools/sbom -version "$VERSION" "${bins[@]}" >"$DIST/ecrsync-${VERSION}.cdx.json"

(cd "$DIST" && sha256sum ecrsync-darwin-* ecrsync-linux-* ecrsync-lambda-*.zip "$module" "ecrsync-${VERSION}.cdx.json" >SHA256SUMS)
sum="$(sha256sum "$DIST/$module" | cut -d' ' -f1)"
cat "$DIST/SHA256SUMS"
echo
echo "module source for the release deploy path (README):"
echo "  source = \"https://github.com/ecrsync/ecrsync/releases/download/${VERSION}/${module}?checksum=sha256:${sum}\""
