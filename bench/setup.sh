#!/usr/bin/env bash
# Installs the pinned tools the benchmark needs into bench/.bin (Go tools) and
# through apt (skopeo, GNU time). Idempotent: a tool already at its pinned
# version is left alone. Usage: bash bench/setup.sh
set -euo pipefail
cd "$(dirname "$0")"
BIN="$PWD/.bin"
mkdir -p "$BIN"

# Pinned versions. The registry matches the distribution version in the root go.mod.
REGISTRY_VERSION=v3.1.2   # github.com/distribution/distribution/v3/cmd/registry
CRANE_VERSION=v0.22.1     # github.com/google/go-containerregistry/cmd/crane
REGCLIENT_VERSION=v0.11.7 # github.com/regclient/regclient/cmd/{regctl,regsync}
ORAS_VERSION=v1.3.6       # oras.land/oras/cmd/oras

# go_tool NAME PKG VERSION installs PKG@VERSION as $BIN/NAME unless it is there already.
go_tool() {
  local name=$1 pkg=$2 ver=$3
  if [ -x "$BIN/$name" ] && go version -m "$BIN/$name" 2>/dev/null | awk '$1=="mod"{print $3}' | grep -qx "$ver"; then
    return 0
  fi
  echo "setup: go install $pkg@$ver" >&2
  GOBIN="$BIN" CGO_ENABLED=0 go install -trimpath "$pkg@$ver"
}

go_tool registry github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_VERSION"
go_tool crane    github.com/google/go-containerregistry/cmd/crane      "$CRANE_VERSION"
go_tool regctl   github.com/regclient/regclient/cmd/regctl             "$REGCLIENT_VERSION"
go_tool regsync  github.com/regclient/regclient/cmd/regsync            "$REGCLIENT_VERSION"
go_tool oras     oras.land/oras/cmd/oras                               "$ORAS_VERSION"

# Our own helpers (image generator, raw-blob ceiling), a separate Go module.
GOBIN="$BIN" CGO_ENABLED=0 go install -trimpath ./cmd/benchtool

# Debian package: skopeo.
need=()
command -v skopeo >/dev/null || need+=(skopeo)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
echo "setup: tools ready in $BIN" >&2
