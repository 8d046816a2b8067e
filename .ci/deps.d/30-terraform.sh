#!/usr/bin/env bash
# Installs the Terraform checks' tools into $(go env GOPATH)/bin, built from source through the Go
# module proxy (no other download works here), side by side (three background builds, then one wait):
#   terraform        v1.5.7  the oldest version required_version promises: fmt, validate
#   terraform-1.8.5  v1.8.5  `terraform test` with mock_provider (needs >= 1.7; v1.13.x does not
#                            `go install`: its go.mod has replace directives)
#   tflint           v0.61.0
# Idempotent by version, not by presence: a machine may have another terraform earlier on PATH
# (/usr/local/bin), which the checks never use. Quick when the pinned versions are there.
# Measured on a 2-core machine with a cold module cache: see deploy/terraform/README.md ("Checks").
set -euo pipefail

TERRAFORM_VERSION=1.5.7
TERRAFORM_TEST_VERSION=1.8.5
TFLINT_VERSION=0.61.0

bin="$(go env GOPATH)/bin"
mkdir -p "$bin"

# version_is BINARY WANT: the binary's first line of `version` output is WANT (terraform >= 1.6
# built with go install calls itself vX.Y.Z-dev: its release builds stamp the prerelease away).
version_is() {
  local out
  out="$("$1" version 2>/dev/null || "$1" --version 2>/dev/null || true)"
  out="${out%%$'\n'*}"
  [[ "$out" == "$2" || "$out" == "$2-dev" ]]
}

# build PACKAGE@VERSION NAME: go install into a private GOBIN, then move the binary into place
# under NAME, so a half-built binary never sits at the final path and two versions of one command
# (terraform, terraform-1.8.5) can both be installed.
build() {
  local pkg="$1" name="$2" gobin
  gobin="$(mktemp -d)"
  local start=$SECONDS
  if (cd / && GOBIN="$gobin" go install "$pkg") >"$gobin.log" 2>&1; then
    mv "$gobin/$(basename "${pkg%@*}")" "$bin/$name"
    echo "installed $name ($pkg) in $((SECONDS - start)) s"
    rm -rf "$gobin" "$gobin.log"
  else
    echo "go install $pkg failed:" >&2
    tail -n 30 "$gobin.log" >&2
    rm -rf "$gobin" "$gobin.log"
    return 1
  fi
}

pids=()
if ! version_is "$bin/terraform" "Terraform v${TERRAFORM_VERSION}"; then
  echo "building terraform v${TERRAFORM_VERSION} (go install; minutes on a new machine)"
  build "github.com/hashicorp/terraform@v${TERRAFORM_VERSION}" terraform &
  pids+=($!)
fi
if ! version_is "$bin/terraform-${TERRAFORM_TEST_VERSION}" "Terraform v${TERRAFORM_TEST_VERSION}"; then
  echo "building terraform v${TERRAFORM_TEST_VERSION} (go install; minutes on a new machine)"
  build "github.com/hashicorp/terraform@v${TERRAFORM_TEST_VERSION}" "terraform-${TERRAFORM_TEST_VERSION}" &
  pids+=($!)
fi
if ! version_is "$bin/tflint" "TFLint version ${TFLINT_VERSION}"; then
  echo "building tflint v${TFLINT_VERSION} (go install; minutes on a new machine)"
  build "github.com/terraform-linters/tflint@v${TFLINT_VERSION}" tflint &
  pids+=($!)
fi

failed=0
for p in "${pids[@]}"; do
  wait "$p" || failed=1
done
exit "$failed"
