#!/usr/bin/env bash
# Offline checks of deploy/terraform (make tf-check; CI runs it through make test):
#   1. terraform fmt -check -recursive            (terraform v1.5.7, built with go install)
#   2. tflint, recursive: core rules, the bundled terraform ruleset's recommended preset plus
#      documented/typed variables and standard module structure (.tflint.hcl)
#   3. terraform init -backend=false && terraform validate, on the root and on every example, against
#      a schema-only stand-in of hashicorp/aws that serves ../shared/terraform/aws-provider-schema.json,
#      installed from a filesystem mirror in a temp dir (nothing is downloaded)
#   4. terraform test (terraform v1.8.5: mock_provider needs >= 1.7) on a copy of modules/ecrsync:
#      plan-level assertions (tests/*.tftest.hcl) over the same stand-in, mocked
#   5. go test in tools/tfcheck: the module's IAM policies grant exactly the engine's ECR actions on
#      the right ARNs; its event pattern matches the push fixture and no other; each terraform test
#      assertion family fails when its guarded property is broken (a test of the tests); the release
#      deploy path: terraform init fetches the module archive with ?checksum= and plans it
#   6. actionlint on .github/workflows (built through the Go module proxy, .ci/deps.d/40-actionlint.sh)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
schema="${TFCHECK_AWS_SCHEMA:-$root/../shared/terraform/aws-provider-schema.json}"
[[ -f "$schema" ]] || { echo "check.sh: provider schema not found at $schema (set TFCHECK_AWS_SCHEMA)" >&2; exit 1; }
schema="$(cd "$(dirname "$schema")" && pwd)/$(basename "$schema")"
# The repository's copy (for CI without shared/) must stay the same file.
if ! cmp -s "$schema" "$here/testdata/aws-provider-schema.json"; then
  echo "check.sh: $schema and deploy/terraform/testdata/aws-provider-schema.json differ: copy the new schema into testdata/" >&2
  exit 1
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tfcheck.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# A CLI config of our own: no ~/.terraformrc, no plugin cache, no version check calling home.
: >"$tmp/terraformrc"
export TF_CLI_CONFIG_FILE="$tmp/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
unset TF_PLUGIN_CACHE_DIR

bash "$root/.ci/deps.d/30-terraform.sh"
bash "$root/.ci/deps.d/40-actionlint.sh"
bin="$(go env GOPATH)/bin"
terraform="$bin/terraform"
terraform_test="$bin/terraform-1.8.5"
tflint="$bin/tflint"

step() { printf '\n== %s\n' "$*"; SECONDS=0; }
done_step() { printf -- '-- ok (%ss)\n' "$SECONDS"; }

step "terraform fmt -check -recursive"
"$terraform" fmt -check -recursive -diff "$here"
done_step

step "tflint"
# tflint's bundled terraform ruleset needs no plugin download. The root keeps the seed's file set, in
# which lambda-ecr-sync.tf plays main.tf's part, so standard_module_structure is off there alone.
"$tflint" --chdir="$here" --config="$here/.tflint.hcl" --format=compact --disable-rule=terraform_standard_module_structure
"$tflint" --chdir="$here/modules" --recursive --config="$here/.tflint.hcl" --format=compact
"$tflint" --chdir="$here/examples" --recursive --config="$here/.tflint.hcl" --format=compact
done_step

step "build the hashicorp/aws stand-in into a filesystem mirror"
# The version is a label for the mirror only: the schema is that of a recent 6.x release.
version=6.0.0
platform="$(go env GOOS)_$(go env GOARCH)"
pkg="$tmp/mirror/registry.terraform.io/hashicorp/aws/$version/$platform"
mkdir -p "$pkg"
(cd "$root/tools/tfcheck" && CGO_ENABLED=0 go build -o "$pkg/terraform-provider-aws_v${version}_schema-only-standin" ./cmd/terraform-provider-aws-standin)
cat > "$tmp/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$tmp/mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC
export TFCHECK_AWS_SCHEMA="$schema"
done_step

# Validate copies, so no .terraform or lock file lands in the work tree.
cp -r "$here" "$tmp/terraform"
rm -rf "$tmp/terraform/.terraform" "$tmp"/terraform/examples/*/.terraform
dirs=("$tmp/terraform")
# examples/release takes the module from a release archive URL, which init would download: step 5
# (tools/tfcheck/modulecheck, TestReleaseModuleSource) inits and plans it from a local server instead.
for d in "$tmp"/terraform/examples/*/; do [[ "$d" == */examples/release/ ]] || dirs+=("${d%/}"); done
for d in "${dirs[@]}"; do
  step "terraform validate ${d#"$tmp/"}"
  "$terraform" -chdir="$d" init -backend=false -input=false -no-color >"$tmp/init.log" 2>&1 || { cat "$tmp/init.log"; exit 1; }
  "$terraform" -chdir="$d" validate -no-color
  done_step
done

step "terraform test (v1.8.5, mocked providers) on modules/ecrsync"
# The copy gets a stand-in package/ecrsync-lambda-arm64.zip, as the release archive holds one.
mod="$tmp/terraform/modules/ecrsync"
mkdir -p "$mod/package"
printf '#!/bin/sh\n' >"$tmp/bootstrap"
(cd "$tmp" && zip -q -X "$mod/package/ecrsync-lambda-arm64.zip" bootstrap)
"$terraform_test" -chdir="$mod" init -backend=false -input=false -no-color >"$tmp/init.log" 2>&1 || { cat "$tmp/init.log"; exit 1; }
"$terraform_test" -chdir="$mod" test -no-color
done_step

step "go test (tools/tfcheck: module vs engine, test of the tests, release module source)"
(cd "$root/tools/tfcheck" && go test -count=1 ./...)
done_step

step "actionlint .github/workflows"
(cd "$root" && "$bin/actionlint" -color=false)
done_step
