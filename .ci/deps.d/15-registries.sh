#!/usr/bin/env bash
# Debian's docker-registry (CNCF distribution 2.8): a registry started as its own process, for
# the test that copies from it as users do. Idempotent.
set -euo pipefail
if ! command -v docker-registry >/dev/null; then
  echo "installing docker-registry"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
fi
