package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/cli"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

func startPair(t *testing.T) (src, dst *devstack.Registry) {
	t.Helper()
	p := devtest.NewPair(t, devtest.Options{})
	return p.Src, p.Dst
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCopyCommand(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	ctx := context.Background()
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	want := map[string]string{}
	for i := range 5 {
		d, err := p.MultiPlatform(ctx, repo, fmt.Sprintf("v%d", i), []string{"linux/amd64", "linux/arm64"}, 2048, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprintf("v%d", i)] = d.Digest.String()
		if i == 0 {
			if _, err := p.Signature(ctx, repo, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("one image, json", func(t *testing.T) {
		code, out, errs := run("copy", src.Addr+"/app:v1", dst.Addr+"/one", "-o", "json", "--log-level", "error")
		if code != cli.ExitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var res replicate.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Digest.String() != want["v1"] || res.Manifests != 4 {
			t.Fatalf("result %q: %v", out, err)
		}
	})
	t.Run("all tags", func(t *testing.T) {
		code, out, errs := run("copy", "--all-tags", src.Addr+"/app", dst.Addr+"/all", "--log-level", "error")
		if code != cli.ExitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if n := strings.Count(out, "\n"); n != 5 {
			t.Fatalf("%d result lines, want 5 (referrer tags come with their image):\n%s", n, out)
		}
		r, _ := p.Repo(dst.Addr + "/all")
		for tag, d := range want {
			if got, err := r.Head(ctx, tag); err != nil || got.Digest.String() != d {
				t.Errorf("%s: %v %v, want %s", tag, got.Digest, err, d)
			}
		}
		if _, err := r.Manifest(ctx, registry.TagFor(mustDigest(t, want["v0"]))); err != nil {
			t.Errorf("v0's signature did not come along: %v", err)
		}
	})
	t.Run("bad usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"copy", src.Addr + "/app:v1"},
			{"copy", src.Addr + "/../x:v1", dst.Addr + "/x"},
			{"copy", src.Addr + "/App:v1", dst.Addr + "/x"},
			{"copy", "--all-tags", src.Addr + "/app:v1", dst.Addr + "/x"},
			{"copy", "--jobs", "0", src.Addr + "/app:v1", dst.Addr + "/x"},
			{"cpoy", src.Addr + "/app:v1", dst.Addr + "/x"},
			{"copy", "--bogus", src.Addr + "/app:v1", dst.Addr + "/x"},
		} {
			if code, _, errs := run(args...); code != cli.ExitUsage || errs == "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errs)
			}
		}
	})
	t.Run("missing source image fails permanently", func(t *testing.T) {
		code, _, errs := run("copy", src.Addr+"/app:nope", dst.Addr+"/x", "--log-level", "error")
		// It never existed: "not found", not "gone" (issue 14.5).
		if code != cli.ExitFailed || !strings.Contains(errs, "src:") || !strings.Contains(errs, "hint: not found in the source") || strings.Contains(errs, "gone") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

func mustDigest(t *testing.T, s string) digest.Digest {
	t.Helper()
	d, err := digest.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCopyFormatAndDigestFile: --format prints the result through a Go template, --digest-file
// writes the digest (per tag with --all-tags); a template naming no field fails before copying.
func TestCopyFormatAndDigestFile(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	ctx := context.Background()
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	want := map[string]string{}
	for i, tag := range []string{"v1", "v2"} {
		d, err := p.Image(ctx, repo, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(256, uint64(i))}})
		if err != nil {
			t.Fatal(err)
		}
		want[tag] = d.Digest.String()
	}
	file := filepath.Join(t.TempDir(), "digest")
	code, out, errs := run("copy", src.Addr+"/app:v1", dst.Addr+"/app", "--format", "{{.Digest}} {{.Manifests}}", "--digest-file", file, "--log-level", "error")
	if code != cli.ExitOK || out != want["v1"]+" 1\n" {
		t.Fatalf("exit %d, stdout %q, want %q; %s", code, out, want["v1"]+" 1\n", errs)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != want["v1"]+"\n" {
		t.Fatalf("--digest-file: %q %v", b, err)
	}
	code, _, errs = run("copy", "--all-tags", src.Addr+"/app", dst.Addr+"/all", "--digest-file", file, "--log-level", "error")
	if b, err := os.ReadFile(file); code != cli.ExitOK || err != nil || string(b) != "v1 "+want["v1"]+"\nv2 "+want["v2"]+"\n" {
		t.Fatalf("--all-tags --digest-file: exit %d, %q %v; %s", code, b, err, errs)
	}
	code, _, errs = run("copy", src.Addr+"/app:v2", dst.Addr+"/bad", "--format", "{{.Nope}}")
	if code != cli.ExitUsage || !strings.Contains(errs, "--format") {
		t.Fatalf("a bad template: exit %d, %s", code, errs)
	}
	if _, err := repo.Head(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	r, _ := p.Repo(dst.Addr + "/bad")
	if _, err := r.Head(ctx, "v2"); err == nil {
		t.Error("a bad --format template copied anyway")
	}
}
