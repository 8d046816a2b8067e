// Package tmpcheck is for tests only: a TestMain that runs a package's tests with TMPDIR set to
// a directory of their own (child processes inherit it) and fails the run if anything is left
// in it afterwards. Tests leave nothing in the temp dir.
package tmpcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Main runs m with TMPDIR pointing at a fresh directory and returns the exit code: m's, or 1 if
// the tests (or the processes they started) left files there. before runs after the tests
// and before the check (nil: nothing), for what TestMain itself removes, such as a binary
// built once for every test. Use it as: func TestMain(m *testing.M) { os.Exit(tmpcheck.Main(m, nil)) }.
func Main(m *testing.M, before func()) int {
	dir, err := os.MkdirTemp("", "ecrsync-tmpcheck-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmpcheck:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	old, had := os.LookupEnv("TMPDIR")
	os.Setenv("TMPDIR", dir)
	code := m.Run()
	if before != nil {
		before()
	}
	if had {
		os.Setenv("TMPDIR", old)
	} else {
		os.Unsetenv("TMPDIR")
	}
	left, err := Leftovers(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmpcheck:", err)
		return 1
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left %d entries in the temp dir (use t.TempDir, stop processes before cleanup):\n", len(left))
		for _, l := range left {
			fmt.Fprintln(os.Stderr, "  ", l)
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Leftovers lists the entries of dir (names only; each stands for what is under it).
func Leftovers(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}
