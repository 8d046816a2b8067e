#!/usr/bin/env bash
# Debian's docker-registry (CNCF distribution 2.8): a registry started as its own process, for
# the test that copies from it as users do. Idempotent.
set -euo pipefail
if ! command -v docker-registry >/dev/null; then
  echo "installing docker-registry"
  # flock: the deps scripts run side by side (scripts/test.sh), and apt takes one at a time.
  flock /tmp/ecrsync-apt.lock sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null"
fi
