package reconcile_test

import (
	"context"
	"testing"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// TestSignatureAddedAfterSyncIsCopied: an image is in sync, then signed in the source; the
// reconcile brings the signature over although the tag itself did not change.
func TestSignatureAddedAfterSyncIsCopied(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r, _ := f.reconciler(t, reconcile.Options{}, app.Options{})
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	srcApp, _ := f.push.Repo(f.src.Addr + "/app")
	v1, err := srcApp.Head(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := f.push.Signature(ctx, srcApp, v1)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(rep)[f.dst.Addr+"/app:v1"]; got != reconcile.Copied {
		t.Fatalf("app:v1 after signing: %s, want copied (%+v)", got, rep)
	}
	dstApp, _ := f.push.Repo(f.dst.Addr + "/app")
	if _, err := dstApp.Head(ctx, sig.Digest.String()); err != nil {
		t.Fatalf("signature not in the destination: %v", err)
	}
	if _, err := dstApp.Manifest(ctx, registry.TagFor(v1.Digest)); err != nil {
		t.Fatalf("referrers tag not in the destination: %v", err)
	}
	again, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Copied != 0 {
		t.Fatalf("third run copied %d: %+v", again.Copied, again.Items)
	}
}
