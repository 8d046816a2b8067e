package cli_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ecrsync/ecrsync/internal/cli"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestCopyDryRunSaysWhatWouldBeSentAndWritesNothing: copy --dry-run between real registries
// writes nothing and exits 4; what it says would be sent (blobs, bytes, manifests) is what the
// real copy then sends; after the copy it says up to date and exits 0.
func TestCopyDryRunSaysWhatWouldBeSentAndWritesNothing(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	ctx := context.Background()
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	if _, err := p.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 4096, 3); err != nil {
		t.Fatal(err)
	}
	decode := func(out string) (r struct {
		replicate.Result
		DryRun bool `json:"dryRun"`
	}) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r
	}
	code, out, errs := run("copy", "--dry-run", src.Addr+"/app:v1", dst.Addr+"/app", "-o", "json", "--log-level", "error")
	plan := decode(out)
	if code != cli.ExitPending || !plan.DryRun || plan.UpToDate || plan.Blobs == 0 || plan.BytesSent == 0 {
		t.Fatalf("dry run: exit %d, %+v; %s", code, plan, errs)
	}
	out2, _ := p.Repo(dst.Addr + "/app")
	if _, err := out2.Head(ctx, "v1"); err == nil {
		t.Fatal("the dry run wrote the tag")
	}
	if tags, err := out2.Tags(ctx); err == nil && len(tags) > 0 {
		t.Fatalf("the dry run wrote %v", tags)
	}
	code, out, errs = run("copy", src.Addr+"/app:v1", dst.Addr+"/app", "-o", "json", "--log-level", "error")
	done := decode(out)
	if code != cli.ExitOK || done.Blobs != plan.Blobs || done.BytesSent != plan.BytesSent || done.Manifests != plan.Manifests {
		t.Fatalf("the copy sent %d blobs, %d bytes, %d manifests; the dry run said %d, %d, %d (%s)",
			done.Blobs, done.BytesSent, done.Manifests, plan.Blobs, plan.BytesSent, plan.Manifests, errs)
	}
	code, out, _ = run("copy", "--dry-run", src.Addr+"/app:v1", dst.Addr+"/app", "-o", "json", "--log-level", "error")
	if again := decode(out); code != cli.ExitOK || !again.UpToDate {
		t.Fatalf("dry run after the copy: exit %d, %+v", code, again)
	}
}
