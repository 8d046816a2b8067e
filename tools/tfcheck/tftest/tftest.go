// Package tftest runs `terraform test` on a copy of a module with the schema-only stand-in of
// hashicorp/aws installed from a filesystem mirror, for tests that check the module's own
// .tftest.hcl files (and the release archive) offline.
package tftest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Version is the terraform that runs `terraform test` (mock_provider needs 1.7 or later), installed
// as $(go env GOPATH)/bin/terraform-1.8.5 by .ci/deps.d/30-terraform.sh.
const Version = "1.8.5"

// Env is a terraform binary with a CLI config that installs hashicorp/aws from a mirror holding
// only the stand-in.
type Env struct {
	Terraform string
	vars      []string
}

// New builds the stand-in into a mirror in t's temp dir and returns an Env. It skips the test when
// terraform-1.8.5 is not installed ($TFCHECK_TERRAFORM_TEST names another binary).
func New(t *testing.T, repoRoot string) *Env {
	t.Helper()
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "terraform-"+Version)
	if p := os.Getenv("TFCHECK_TERRAFORM_TEST"); p != "" {
		tf = p // another terraform >= 1.7, for a try-out
	}
	if _, err := os.Stat(tf); err != nil {
		t.Skipf("%s is not installed: run .ci/deps.d/30-terraform.sh (make tf-check does)", tf)
	}
	schema := os.Getenv("TFCHECK_AWS_SCHEMA")
	if schema == "" {
		schema = filepath.Join(repoRoot, "..", "shared", "terraform", "aws-provider-schema.json")
	}
	if schema, err = filepath.Abs(schema); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(schema); err != nil {
		t.Fatalf("provider schema: %v (set TFCHECK_AWS_SCHEMA)", err)
	}
	dir := t.TempDir()
	mirror := filepath.Join(dir, "mirror")
	pkg := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws", "6.0.0", runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(pkg, "terraform-provider-aws_v6.0.0_schema-only-standin"), "./cmd/terraform-provider-aws-standin")
	build.Dir = filepath.Join(repoRoot, "tools", "tfcheck")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "terraformrc")
	conf := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }\n}\n", mirror)
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Env{Terraform: tf, vars: []string{
		"TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_PLUGIN_CACHE_DIR=",
		"TFCHECK_AWS_SCHEMA=" + schema,
	}}
}

// Run runs terraform with args in dir and returns its combined output and error.
func (e *Env) Run(dir string, args ...string) (string, error) {
	cmd := exec.Command(e.Terraform, append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = append(os.Environ(), e.vars...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// CopyDir copies the regular files under src to dst, leaving out .terraform directories and lock files.
func CopyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Name() == ".terraform.lock.hcl" || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
