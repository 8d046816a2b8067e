package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCopyOrasArtifactWithReferrer: an artifact pushed with the real oras binary, signed with
// `oras attach`, is copied by the ecrsync binary; oras then finds the same artifact, the same
// referrer and the same file in the destination.
func TestCopyOrasArtifactWithReferrer(t *testing.T) {
	t.Parallel()
	oras, err := exec.LookPath("oras")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("oras is not installed (.ci/deps.d/10-clients.sh installs it)")
		}
		t.Skip("oras is not installed: run .ci/deps.d/10-clients.sh")
	}
	src, dst := startPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, oras, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("oras %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	os.WriteFile(filepath.Join(dir, "chart.tgz"), []byte("a helm chart, say"), 0o600)
	os.WriteFile(filepath.Join(dir, "sbom.json"), []byte(`{"spdxVersion":"SPDX-2.3"}`), 0o600)
	run("push", "--plain-http", src.Addr+"/charts/app:1.0.0", "chart.tgz:application/vnd.cncf.helm.chart.content.v1.tar+gzip",
		"--artifact-type", "application/vnd.cncf.helm.config.v1+json")
	run("attach", "--plain-http", src.Addr+"/charts/app:1.0.0", "sbom.json:application/spdx+json", "--artifact-type", "application/spdx+json")

	if code, _, errs := runEcrsync(t, nil, "copy", src.Addr+"/charts/app:1.0.0", dst.Addr+"/mirror/charts/app"); code != 0 {
		t.Fatalf("ecrsync copy: exit %d: %s", code, errs)
	}
	if s, d := run("manifest", "fetch", "--plain-http", "--descriptor", src.Addr+"/charts/app:1.0.0"),
		run("manifest", "fetch", "--plain-http", "--descriptor", dst.Addr+"/mirror/charts/app:1.0.0"); s != d {
		t.Fatalf("descriptor differs:\nsrc %s\ndst %s", s, d)
	}
	type tree struct {
		Referrers []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"referrers"`
	}
	var s, d tree
	json.Unmarshal([]byte(run("discover", "--plain-http", "--format", "json", src.Addr+"/charts/app:1.0.0")), &s)
	json.Unmarshal([]byte(run("discover", "--plain-http", "--format", "json", dst.Addr+"/mirror/charts/app:1.0.0")), &d)
	if len(s.Referrers) != 1 || len(d.Referrers) != 1 || s.Referrers[0] != d.Referrers[0] {
		t.Fatalf("referrers: src %+v, dst %+v", s, d)
	}
	out := filepath.Join(dir, "pulled")
	run("pull", "--plain-http", "-o", out, dst.Addr+"/mirror/charts/app:1.0.0")
	if b, err := os.ReadFile(filepath.Join(out, "chart.tgz")); err != nil || string(b) != "a helm chart, say" {
		t.Fatalf("pulled chart: %q %v", b, err)
	}
}
