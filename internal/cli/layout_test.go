package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/cli"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestCopyLayoutsFromTheCLI: ecrsync copy REGISTRY oci:DIR:TAG, then oci:DIR:TAG
// oci-archive:FILE, then oci-archive:FILE:TAG REGISTRY, each with the source's digest; the
// signature comes along each way. Bad layout input is a usage error that says what to give.
func TestCopyLayoutsFromTheCLI(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	ctx := context.Background()
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	top, err := p.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := p.Signature(ctx, repo, top)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir, archive := filepath.Join(tmp, "cache"), filepath.Join(tmp, "app.tar")
	copyJSON := func(args ...string) replicate.Result {
		t.Helper()
		code, out, errs := run(append([]string{"copy", "-o", "json", "--log-level", "error"}, args...)...)
		if code != cli.ExitOK {
			t.Fatalf("copy %v: exit %d: %s", args, code, errs)
		}
		var res replicate.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("copy %v: %q: %v", args, out, err)
		}
		return res
	}
	for _, step := range [][2]string{
		{src.Addr + "/app:v1", "oci:" + dir},
		{"oci:" + dir + ":v1", "oci-archive:" + archive},
		{"oci-archive:" + archive + ":v1", dst.Addr + "/promoted"},
	} {
		res := copyJSON(step[0], step[1])
		if res.Digest != top.Digest || res.Referrers < 1 {
			t.Fatalf("copy %s %s: %+v, want digest %s with its signature", step[0], step[1], res, top.Digest)
		}
		if !strings.HasPrefix(res.Dst, step[1]) {
			t.Fatalf("result names %q, want %q", res.Dst, step[1])
		}
	}
	got, _ := p.Repo(dst.Addr + "/promoted")
	for _, ref := range []string{"v1", sig.Digest.String()} {
		if _, err := got.Head(ctx, ref); err != nil {
			t.Fatalf("%s missing in the destination: %v", ref, err)
		}
	}
	if d, _ := got.Head(ctx, "v1"); d.Digest != top.Digest {
		t.Fatalf("promoted digest %s, want %s", d.Digest, top.Digest)
	}
	if _, err := got.Head(ctx, registry.TagFor(top.Digest)); err != nil {
		t.Fatalf("the destination has no referrers API; its fallback tag is missing: %v", err)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 2 {
		t.Fatalf("left in %s: %v, want the layout and the archive", tmp, ents)
	}

	notLayout := t.TempDir()
	os.WriteFile(filepath.Join(notLayout, "x"), []byte("x"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"oci:" + filepath.Join(tmp, "nope") + ":v1", dst.Addr + "/x"}, "not an OCI image layout"},
		{[]string{src.Addr + "/app:v1", "oci:" + notLayout}, "not empty and not an OCI image layout"},
		{[]string{"oci:" + dir + ":v9", dst.Addr + "/x"}, `tag "v9"`},
		{[]string{"oci:" + dir, dst.Addr + "/x"}, "name one"},
		{[]string{"oci-archive:" + filepath.Join(tmp, "none.tar"), dst.Addr + "/x"}, "does not exist"},
		{[]string{"--platform", "linux/amd64", "oci:" + dir + ":v1", dst.Addr + "/x"}, "not with --all-tags, --dry-run or --platform"},
		{[]string{"--src-creds", "a:b", "oci:" + dir + ":v1", dst.Addr + "/x"}, "not an OCI layout"},
	} {
		code, _, errs := run(append([]string{"copy", "--log-level", "error"}, c.args...)...)
		if code == cli.ExitOK || !strings.Contains(errs, c.want) {
			t.Errorf("copy %v: exit %d, stderr %q; want an error saying %q", c.args, code, errs, c.want)
		}
	}
}
