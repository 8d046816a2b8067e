package replicate_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestMountWithinDestination: a second repository in the same destination registry gets its
// blobs by mount, not upload; and a copy inside one registry mounts from the source repository.
func TestMountWithinDestination(t *testing.T) {
	t.Parallel()
	var uploads atomic.Int32
	p := newPair(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
				uploads.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	repo := p.repo(t, p.src.Addr+"/app")
	if _, err := p.push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 100<<10, 9); err != nil {
		t.Fatal(err)
	}
	cp := newCopier(replicate.Options{})
	first, err := cp.Copy(ctx, p.src.Addr+"/app:v1", p.dst.Addr+"/team-a/app")
	if err != nil {
		t.Fatal(err)
	}
	sent := uploads.Load()
	second, err := cp.Copy(ctx, p.src.Addr+"/app:v1", p.dst.Addr+"/team-b/app")
	if err != nil {
		t.Fatal(err)
	}
	if second.BlobsMounted != first.Blobs || second.BytesSent != 0 || uploads.Load() != sent {
		t.Fatalf("second repository: %+v (first %+v), uploads %d -> %d; want every blob mounted", second, first, sent, uploads.Load())
	}
	assertSame(t, p, "app", "team-b/app", "v1")

	// Inside one registry: a fresh Copier mounts from the source repository itself.
	within, err := newCopier(replicate.Options{}).Copy(ctx, p.dst.Addr+"/team-a/app:v1", p.dst.Addr+"/team-c/app")
	if err != nil {
		t.Fatal(err)
	}
	if within.BlobsMounted != first.Blobs || within.BytesSent != 0 {
		t.Fatalf("copy within a registry: %+v; want every blob mounted", within)
	}
}
