#!/usr/bin/env bash
# The cosign binary the promotion-gate tests sign with (internal/promote, internal/lambda), built
# from source through the Go module proxy at a pinned version into its own directory
# ($(go env GOPATH)/cosign-v2.6.5/cosign), where the tests look for it. Idempotent: quick when that
# version is there. A cold build takes minutes (cosign links the whole Sigstore client stack).
set -euo pipefail

COSIGN_VERSION=v2.6.5

dir="$(go env GOPATH)/cosign-${COSIGN_VERSION}"
have="$("$dir/cosign" version 2>/dev/null | awk '/^GitVersion:/ {print $2}' || true)"
if [[ "$have" != "${COSIGN_VERSION}" ]]; then
  echo "installing cosign ${COSIGN_VERSION} (go install; takes minutes)"
  mkdir -p "$dir"
  (cd / && CGO_ENABLED=0 GOBIN="$dir" go install "github.com/sigstore/cosign/v2/cmd/cosign@${COSIGN_VERSION}")
fi
