#!/usr/bin/env bash
# Writes $DIST/ecrsync-terraform-module-$VERSION.tar.gz: deploy/terraform/modules/ecrsync (its .tf
# files, not its tests) with $DIST/ecrsync-lambda-arm64.zip as package/ecrsync-lambda-arm64.zip,
# where package_source = "release" finds it. Terraform fetches it as a module source with go-getter's
# ?checksum=sha256:... (README, "Deploy a released version"). Reproducible: entries sorted, owned by
# 0:0, mode fixed, times SOURCE_DATE_EPOCH's, gzip without name or time. Prints the archive's sha256.
# Environment: VERSION, COMMIT, DIST (holding the zip), SOURCE_DATE_EPOCH (default: HEAD's time).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${VERSION:?set VERSION}"
COMMIT="${COMMIT:-$(bash scripts/commit.sh)}"
DIST="$(cd "${DIST:-dist}" && pwd)"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"
[[ -f "$DIST/ecrsync-lambda-arm64.zip" ]] || { echo "module-archive.sh: $DIST/ecrsync-lambda-arm64.zip is missing: run make lambda (or make release)" >&2; exit 1; }

out="$DIST/ecrsync-terraform-module-${VERSION}.tar.gz"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/package"
cp deploy/terraform/modules/ecrsync/*.tf "$stage/"
cp "$DIST/ecrsync-lambda-arm64.zip" "$stage/package/"
printf '%s\n' "ecrsync Terraform module ${VERSION} (commit ${COMMIT}); package/ecrsync-lambda-arm64.zip is the function. See deploy/terraform/README.md in the repository." >"$stage/VERSION"
chmod -R u=rwX,go=rX "$stage"
find "$stage" -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +
(cd "$stage" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH}" --format=gnu -cf - .) | gzip -n -9 >"$out"
sha256sum "$out" | cut -d' ' -f1
