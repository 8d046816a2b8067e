#!/usr/bin/env bash
# README's test command (`make test`, also what CI runs): install what this machine lacks
# (idempotent, seconds when present; on a new 2-core machine tens of minutes, building terraform
# 1.5.7 and 1.8.5, tflint and cosign side by side), then vet, every Go test with the race detector (real registries on 127.0.0.1, the
# Lambda emulator, real clients), then the offline Terraform checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
# The installers are independent: run them side by side (apt calls take a lock), each into its
# own log, shown when it ends; any failure stops the run.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
declare -A pids
for f in .ci/deps.d/*.sh; do
  bash "$f" >"$logs/$(basename "$f").log" 2>&1 &
  pids[$f]=$!
done
failed=0
for f in "${!pids[@]}"; do
  if wait "${pids[$f]}"; then
    echo "== $f: ok"
  else
    echo "== $f: FAILED"
    failed=1
  fi
  sed 's/^/   /' "$logs/$(basename "$f").log"
done
[[ $failed == 0 ]] || { echo "installing the test tools failed (above)"; exit 1; }
echo "== go vet"
go vet ./...
go vet -tags devstack ./...
go vet -tags lambda.norpc,lambdaonly ./cmd/...
echo "== go test -race"
go test -race -count=1 -timeout 30m ./...
# The dev build (bin/ecrsync-dev): the dev command's own code, in-process.
go test -race -count=1 -timeout 10m -tags devstack ./internal/cli/
echo "== terraform checks"
bash deploy/terraform/check.sh
