#!/usr/bin/env bash
# Installs what the Lambda packaging and its emulator test need: zip (scripts/lambda.sh) and the
# AWS Lambda Runtime Interface Emulator, built from source through the Go module proxy at a pinned
# version. Idempotent: quick when both are there.
set -euo pipefail

RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

if ! command -v zip >/dev/null; then
  echo "installing zip"
  # flock: the deps scripts run side by side (scripts/test.sh), and apt takes one at a time.
  flock /tmp/ecrsync-apt.lock sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zip >/dev/null"
fi
bin="$(go env GOPATH)/bin"
stamp="$bin/.aws-lambda-rie.version"
if [[ ! -x "$bin/aws-lambda-rie" || "$(cat "$stamp" 2>/dev/null)" != "$RIE_VERSION" ]]; then
  echo "installing aws-lambda-rie ${RIE_VERSION}"
  (cd / && go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${RIE_VERSION}")
  echo "$RIE_VERSION" > "$stamp"
fi
