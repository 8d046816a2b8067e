#!/usr/bin/env bash
# README's test command (`make test`): vet, every Go test with the race detector (real
# registries on 127.0.0.1, the Lambda emulator), then the offline Terraform checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 30m ./...
echo "== terraform checks"
bash deploy/terraform/check.sh
