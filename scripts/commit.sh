#!/usr/bin/env bash
# Prints the commit a build is stamped with: the short hash of HEAD, "-dirty" when the work tree
# has uncommitted changes to tracked files, "unknown" outside Git.
set -euo pipefail
cd "$(dirname "$0")/.."
c="$(git rev-parse --short=7 HEAD 2>/dev/null)" || { echo unknown; exit 0; }
git diff --quiet HEAD -- 2>/dev/null || c+="-dirty"
echo "$c"
