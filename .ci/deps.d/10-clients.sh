#!/usr/bin/env bash
# Real registry clients the tests push with, as users do: crane and oras, built from source
# through the Go module proxy at pinned versions. Idempotent.
set -euo pipefail
bin="$(go env GOPATH)/bin"
install() { # name module version
  local stamp="$bin/.$1.version"
  if [[ ! -x "$bin/$1" || "$(cat "$stamp" 2>/dev/null)" != "$3" ]]; then
    echo "installing $1 $3"
    (cd / && CGO_ENABLED=0 go install "$2@$3")
    echo "$3" > "$stamp"
  fi
}
install crane github.com/google/go-containerregistry/cmd/crane v0.22.1
install oras oras.land/oras/cmd/oras v1.3.6
