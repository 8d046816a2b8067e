#!/usr/bin/env bash
# README's test command (`make test`, also what CI runs): install what this machine lacks
# (idempotent, seconds when present; ~10 minutes on a new machine, mostly building terraform and
# tflint), then vet, every Go test with the race detector (real registries on 127.0.0.1, the
# Lambda emulator, real clients), then the offline Terraform checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
for f in .ci/deps.d/*.sh; do
  echo "== $f"
  bash "$f"
done
echo "== go vet"
go vet ./...
go vet -tags devstack ./...
echo "== go test -race"
go test -race -count=1 -timeout 30m ./...
# The dev build (bin/ecrsync-dev): the dev command's own code, in-process.
go test -race -count=1 -timeout 10m -tags devstack ./internal/cli/
echo "== terraform checks"
bash deploy/terraform/check.sh
