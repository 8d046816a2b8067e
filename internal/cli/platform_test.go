package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/cli"
	"github.com/ecrsync/ecrsync/internal/devstack"
)

// TestCopyPlatform copies parts of a three-platform index between real registries: one platform
// is that platform's manifest under the tag; two make a new index of exactly those (a new
// digest, and the log says the source index's signatures do not apply); a platform the image
// lacks is a usage error that lists what it has.
func TestCopyPlatform(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	ctx := context.Background()
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	idx, err := p.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 1024, 7)
	if err != nil {
		t.Fatal(err)
	}
	top, err := repo.Manifest(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	child := map[string]string{}
	for _, m := range top.Manifests {
		if m.Platform != nil {
			child[m.Platform.OS+"/"+m.Platform.Architecture+strings.TrimPrefix("/"+m.Platform.Variant, "/")] = m.Digest.String()
		}
	}
	out, _ := p.Repo(dst.Addr + "/app")

	code, _, errs := run("copy", src.Addr+"/app:v1", dst.Addr+"/app:arm64", "--platform", "linux/arm64", "--log-level", "error")
	if d, err := out.Head(ctx, "arm64"); code != cli.ExitOK || err != nil || d.Digest.String() != child["linux/arm64"] {
		t.Fatalf("one platform: exit %d, %v %v, want %s; %s", code, d.Digest, err, child["linux/arm64"], errs)
	}

	code, _, errs = run("copy", src.Addr+"/app:v1", dst.Addr+"/app:two", "--platform", "linux/amd64,linux/arm/v7", "--log-format", "json")
	if code != cli.ExitOK || !strings.Contains(errs, "signatures") {
		t.Fatalf("two platforms: exit %d; %s", code, errs)
	}
	got, err := out.Manifest(ctx, "two")
	if err != nil || !got.IsIndex() || got.Descriptor.Digest == idx.Digest {
		t.Fatalf("two platforms: %v %v; want a new index", got, err)
	}
	var plats []string
	for _, m := range got.Manifests {
		if m.Platform != nil && m.Platform.OS != "unknown" {
			plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
		}
		if _, err := out.Head(ctx, m.Digest.String()); err != nil {
			t.Errorf("child %s missing in the destination: %v", m.Digest, err)
		}
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm" {
		t.Errorf("new index lists %v, want linux/amd64 and linux/arm", plats)
	}

	code, _, errs = run("copy", src.Addr+"/app:v1", dst.Addr+"/app:none", "--platform", "windows/amd64")
	if code != cli.ExitUsage || !strings.Contains(errs, "linux/arm64") {
		t.Fatalf("a missing platform: exit %d, %s", code, errs)
	}
	if _, err := out.Head(ctx, "none"); err == nil {
		t.Error("a missing platform tagged something")
	}
}
