package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
)

// TestDurationsAreMillisecondsNamedSo: copy -o json, sync -o json and their log lines give
// durations in one unit, milliseconds, under durationMs; no "duration" in nanoseconds remains
// (issue 14.8).
func TestDurationsAreMillisecondsNamedSo(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	if _, err := p.Image(context.Background(), repo, "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(512, 1)}}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "rules.yaml")
	doc := fmt.Sprintf("source: {registry: %q}\nrules:\n  - repositories: [app]\n    destinations: [{registry: %q, repository: \"synced/{repository}\"}]\n", src.Addr, dst.Addr)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(what, doc string) {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v: %s", what, err, doc)
		}
		if _, ok := m["duration"]; ok {
			t.Errorf("%s has \"duration\": %s", what, doc)
		}
		if _, ok := m["durationMs"].(float64); !ok && (what != "log line" || m["msg"] == "copied" || m["msg"] == "reconcile") {
			t.Errorf("%s has no durationMs: %s", what, doc)
		}
	}
	for _, args := range [][]string{
		{"copy", src.Addr + "/app:v1", dst.Addr + "/app", "-o", "json", "--log-format", "json"},
		{"sync", "--config", cfg, "-o", "json", "--log-format", "json"},
	} {
		code, out, errs := run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		check(args[0]+" -o json", out)
		for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
			if line != "" {
				check("log line", line)
			}
		}
	}
}
