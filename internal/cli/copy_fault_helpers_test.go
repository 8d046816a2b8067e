package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/tmpcheck"
)

var (
	faultBinOnce sync.Once
	faultBinPath string
	faultBinErr  error
)

// TestMain runs the tests in a temp dir of their own, removes the binary ecrsyncBin built, and
// fails the run if anything else is left there: tests leave nothing in the temp dir.
func TestMain(m *testing.M) {
	os.Exit(tmpcheck.Main(m, func() {
		if faultBinPath != "" {
			os.RemoveAll(filepath.Dir(faultBinPath))
		}
	}))
}

// ecrsyncBin builds cmd/ecrsync once for the tests that run it as a user would: a separate
// process whose every byte of output is captured. It is the dev build (-tags devstack, as `make
// dev` builds bin/ecrsync-dev), so that `dev` is there too; every other command is the same code
// as in the lean build. Under -short it skips the test: -short builds no binaries.
func ecrsyncBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds the ecrsync binary")
	}
	faultBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ecrsync-fault-bin-")
		if err != nil {
			faultBinErr = err
			return
		}
		faultBinPath = filepath.Join(dir, "ecrsync")
		out, err := exec.Command("go", "build", "-tags", "devstack", "-o", faultBinPath, "../../cmd/ecrsync").CombinedOutput()
		if err != nil {
			faultBinErr = errors.New(string(out))
		}
	})
	if faultBinErr != nil {
		t.Fatalf("building ecrsync: %v", faultBinErr)
	}
	return faultBinPath
}

// runEcrsync runs the binary with env added to a clean environment and returns its exit code,
// stdout and stderr.
func runEcrsync(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ecrsyncBin(t), args...)
	home := t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}
