package faults_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/faults"
)

// knownBugs are rows of the matrix that ecrsync fails today (docs/faults.md says why and what
// the fix is). They still must never leave a broken destination; ECRSYNC_KNOWN_BUGS=1 makes
// them count.
var knownBugs = map[string]bool{
	// None today: the four rows that were here are fixed (docs/faults.md, "What ecrsync fails").
}

// TestMatrix runs every fault of the matrix once (seed 1) with the ecrsync binary, as `make
// faults` does twenty times with the peers. -short skips it: it builds the binary.
func TestMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the ecrsync binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "ecrsync")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/ecrsync").CombinedOutput(); err != nil {
		t.Fatalf("building ecrsync: %v\n%s", err, out)
	}
	tool := faults.Ecrsync(bin)
	rn := &faults.Runner{Timeout: 60 * time.Second, Work: t.TempDir()}
	strict := os.Getenv("ECRSYNC_KNOWN_BUGS") != ""
	for _, sc := range faults.Matrix() {
		t.Run(sc.ID(), func(t *testing.T) {
			t.Parallel()
			run := rn.Run(context.Background(), sc, tool, 1)
			t.Logf("seed 1: %s exit %d, %d faults, %d retries, %s %s", run.Outcome, run.Exit, run.Faults, run.Retries, run.Duration.Round(time.Millisecond), run.Err)
			if run.Outcome == faults.Broken || run.Outcome == faults.Setup {
				t.Fatalf("%s: %s", run.Outcome, run.Problem)
			}
			row := faults.Rows(faults.Plan{Scenarios: []faults.Scenario{sc}, Tools: []faults.Tool{tool}}, []faults.Run{run})[0]
			if !row.Pass() {
				if knownBugs[sc.ID()] && !strict {
					t.Skipf("KNOWN BUG: %s exit %d: %s", run.Outcome, run.Exit, run.Err)
				}
				t.Fatalf("%s exit %d after %s: %s", run.Outcome, run.Exit, run.Duration, run.Err)
			}
		})
	}
}
