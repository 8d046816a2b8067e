#!/usr/bin/env bash
# actionlint checks .github/workflows (make tf-check), built through the Go module proxy at a pinned
# version. Idempotent.
set -euo pipefail
bin="$(go env GOPATH)/bin"
version=v1.7.12
stamp="$bin/.actionlint.version"
if [[ ! -x "$bin/actionlint" || "$(cat "$stamp" 2>/dev/null)" != "$version" ]]; then
  echo "installing actionlint $version"
  (cd / && CGO_ENABLED=0 go install "github.com/rhysd/actionlint/cmd/actionlint@$version")
  echo "$version" >"$stamp"
fi
