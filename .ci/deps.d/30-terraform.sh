#!/usr/bin/env bash
# Installs the Terraform checks' tools into $(go env GOPATH)/bin, built from source through the Go
# module proxy (no other download works here). Idempotent: quick when the pinned versions are there.
# On a new machine building terraform took ~4 minutes and tflint ~6 (run side by side, cold module cache).
set -euo pipefail

TERRAFORM_VERSION=1.5.7
TFLINT_VERSION=0.61.0

bin="$(go env GOPATH)/bin"

# The installed binaries are checked by version, not by presence: a machine may have another
# terraform earlier on PATH (/usr/local/bin), which the checks never use.
have_terraform="$("$bin/terraform" version 2>/dev/null || true)"
have_tflint="$("$bin/tflint" --version 2>/dev/null || true)"

if [[ "$have_terraform" != "Terraform v${TERRAFORM_VERSION}"$'\n'* ]]; then
  echo "installing terraform v${TERRAFORM_VERSION} (go install; takes minutes)"
  (cd / && go install "github.com/hashicorp/terraform@v${TERRAFORM_VERSION}")
fi
if [[ "$have_tflint" != "TFLint version ${TFLINT_VERSION}"$'\n'* && "$have_tflint" != "TFLint version ${TFLINT_VERSION}" ]]; then
  echo "installing tflint v${TFLINT_VERSION} (go install; takes minutes)"
  (cd / && go install "github.com/terraform-linters/tflint@v${TFLINT_VERSION}")
fi
