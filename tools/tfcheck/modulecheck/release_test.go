package modulecheck

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/tools/tfcheck/tftest"
)

// The release deploy path, end to end but offline: scripts/module-archive.sh builds the module
// archive around a package; a server on 127.0.0.1 serves it as GitHub's release download would;
// examples/release, with its source pointed there and the archive's real SHA-256 in ?checksum=,
// is initialised (terraform's go-getter downloads, verifies and unpacks the archive) and planned
// with mocked providers: the function's filename is the zip inside the fetched module, hashed by
// Terraform itself. A wrong checksum stops init. Checked with 1.8.5 and with 1.5.7 (the oldest
// version required_version allows; init only, it has no terraform test with mocks).
func TestReleaseModuleSource(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	env := tftest.New(t, repoRoot)

	dist := t.TempDir()
	zipPath := filepath.Join(dist, "ecrsync-lambda-arm64.zip")
	writeZip(t, zipPath, "bootstrap", "#!/bin/sh\necho released\n")
	zipBytes, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zipSum := sha256.Sum256(zipBytes)
	wantHash := base64.StdEncoding.EncodeToString(zipSum[:])

	const version = "v0.0.0-test"
	cmd := exec.Command("bash", "scripts/module-archive.sh")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "VERSION="+version, "COMMIT=test", "DIST="+dist)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("module-archive.sh: %v", err)
	}
	sum := strings.TrimSpace(string(out))
	archive := "ecrsync-terraform-module-" + version + ".tar.gz"

	srv := httptest.NewServer(http.FileServer(http.Dir(dist)))
	defer srv.Close()

	source := regexp.MustCompile(`source = "https://github\.com/ecrsync/ecrsync/releases/download/[^"]+"`)
	root := func(t *testing.T, checksum string) string {
		dir := filepath.Join(t.TempDir(), "release")
		tftest.CopyDir(t, filepath.Join(repoRoot, "deploy", "terraform", "examples", "release"), dir)
		main := filepath.Join(dir, "main.tf")
		b, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		if !source.Match(b) {
			t.Fatal("examples/release/main.tf has no release archive source line")
		}
		b = source.ReplaceAll(b, []byte(`source = "`+srv.URL+"/"+archive+"?checksum=sha256:"+checksum+`"`))
		if err := os.WriteFile(main, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	t.Run("plans with the package from the fetched module", func(t *testing.T) {
		dir := root(t, sum)
		if out, err := env.Run(dir, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
			t.Fatalf("terraform init: %v\n%s", err, out)
		}
		test := `
mock_provider "aws" {
  source = "./tests/mocks/destination"
}

mock_provider "aws" {
  alias  = "ecr"
  source = "./tests/mocks/source"
}

variables {
  source_account_id      = "111111111111"
  destination_account_id = "222222222222"
  destination_region     = "eu-west-1"
  repositories           = ["app"]
  image_tags             = ["v*"]
  alarm_email_addresses  = ["oncall@example.com"]
}

run "release" {
  command = plan

  assert {
    condition     = output.package.source == "release" && output.package.filename == ".terraform/modules/ecrsync/package/ecrsync-lambda-arm64.zip"
    error_message = "The function's package must be the zip inside the fetched module."
  }
  assert {
    condition     = output.package.source_code_hash == "` + wantHash + `"
    error_message = "The package's hash must be that of the released zip."
  }
}
`
		// The module's own mocks: destination 222222222222 and source 111111111111, in us-east-1.
		tftest.CopyDir(t, filepath.Join(moduleDir, "tests", "mocks"), filepath.Join(dir, "tests", "mocks"))
		if err := os.WriteFile(filepath.Join(dir, "tests", "release.tftest.hcl"), []byte(test), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := env.Run(dir, "test", "-no-color")
		if err != nil {
			t.Fatalf("terraform test: %v\n%s", err, out)
		}
		if !strings.Contains(out, `run "release"... pass`) {
			t.Fatalf("run release did not pass:\n%s", out)
		}
	})

	t.Run("a wrong checksum stops init", func(t *testing.T) {
		dir := root(t, strings.Repeat("0", 64))
		out, err := env.Run(dir, "init", "-backend=false", "-input=false", "-no-color")
		if err == nil {
			t.Fatalf("terraform init accepted an archive whose SHA-256 is not the pinned one:\n%s", out)
		}
		if !strings.Contains(strings.ToLower(out), "checksum") {
			t.Errorf("init failed, but not on the checksum:\n%s", out)
		}
	})

	t.Run("terraform 1.5.7 fetches and verifies it too", func(t *testing.T) {
		old := *env
		gopath, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			t.Fatal(err)
		}
		old.Terraform = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "terraform")
		dir := root(t, sum)
		if out, err := old.Run(dir, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
			t.Fatalf("terraform 1.5.7 init: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, ".terraform", "modules", "ecrsync", "package", "ecrsync-lambda-arm64.zip")); err != nil {
			t.Fatalf("the module's package is not where the module looks for it: %v", err)
		}
		if out, err := old.Run(dir, "validate", "-no-color"); err != nil {
			t.Fatalf("terraform 1.5.7 validate: %v\n%s", err, out)
		}
		dir = root(t, strings.Repeat("0", 64))
		if out, err := old.Run(dir, "init", "-backend=false", "-input=false", "-no-color"); err == nil {
			t.Fatalf("terraform 1.5.7 accepted a wrong checksum:\n%s", out)
		}
	})
}
