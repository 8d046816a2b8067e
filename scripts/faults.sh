#!/usr/bin/env bash
# `make faults`: the full fault matrix. Every fault of faults/scenario.go, on the side it names,
# 20 seeded runs of ecrsync (bin/ecrsync, built by make) and PEER_SEEDS runs of each peer found
# (crane, regctl, oras; installed at pinned versions when missing), each checked with raw HTTP.
# Writes docs/faults.md; exits non-zero if ecrsync breaks a promise.
#   SEEDS=20 PEER_SEEDS=20 PARALLEL=3 RUN='429' bash scripts/faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
SEEDS="${SEEDS:-20}"
PEER_SEEDS="${PEER_SEEDS:-20}"
PARALLEL="${PARALLEL:-3}"
RUN="${RUN:-}"
OUT="${OUT:-docs/faults.md}"

# The peers, pinned; skipped (and said so in the report) when they cannot be installed.
install() {
  command -v "$1" >/dev/null 2>&1 || go install "$2" || echo "faults: could not install $1; the matrix runs without it" >&2
}
if [ "$PEER_SEEDS" -gt 0 ]; then
  install crane github.com/google/go-containerregistry/cmd/crane@v0.22.1
  install regctl github.com/regclient/regclient/cmd/regctl@v0.11.7
  install oras oras.land/oras/cmd/oras@v1.3.6
fi
[ -x bin/ecrsync ] || make build
mkdir -p "$(dirname "$OUT")"
exec go run ./faults/cmd/faultmatrix -bin bin/ecrsync -seeds "$SEEDS" -peer-seeds "$PEER_SEEDS" \
  -parallel "$PARALLEL" -run "$RUN" -out "$OUT"
