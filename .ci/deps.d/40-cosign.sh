#!/usr/bin/env bash
# The cosign binaries the promotion-gate tests sign with, built from source through the Go module
# proxy at pinned versions, side by side, each into its own directory where the tests look for it:
#   $(go env GOPATH)/cosign-v2.6.5/cosign  the sha256-<hex>.sig form (internal/promote, internal/lambda)
#   $(go env GOPATH)/cosign-v3/cosign      the Sigstore bundle as an OCI 1.1 referrer (internal/promote)
# Idempotent: quick when those versions are there. A cold build takes minutes (cosign links the
# whole Sigstore client stack).
set -euo pipefail

gopath="$(go env GOPATH)"

# install DIR MODULE VERSION
install() {
  local dir="$1" pkg="$2" version="$3" have
  have="$("$dir/cosign" version 2>/dev/null | awk '/^GitVersion:/ {print $2}' || true)"
  if [[ "$have" != "$version" ]]; then
    echo "installing cosign $version (go install; takes minutes)"
    mkdir -p "$dir"
    (cd / && CGO_ENABLED=0 GOBIN="$dir" go install "$pkg@$version")
  fi
}

install "$gopath/cosign-v2.6.5" github.com/sigstore/cosign/v2/cmd/cosign v2.6.5 &
v2=$!
install "$gopath/cosign-v3" github.com/sigstore/cosign/v3/cmd/cosign v3.1.3 &
v3=$!
failed=0
wait "$v2" || failed=1
wait "$v3" || failed=1
exit "$failed"
