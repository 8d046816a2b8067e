//go:build !devstack

package cli_test

import (
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/cli"
)

// TestLeanBuildSaysHowToGetDev: the build users download has no dev stack; asked for `dev`, it
// says how to get it, and exits as a usage error.
func TestLeanBuildSaysHowToGetDev(t *testing.T) {
	t.Parallel()
	code, out, errs := run("dev", "--demo")
	if code != cli.ExitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q; want %d and nothing", code, out, cli.ExitUsage)
	}
	for _, want := range []string{"not in this build", "make demo", "-tags devstack", "bin/ecrsync-dev dev"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q does not say %q", errs, want)
		}
	}
}
