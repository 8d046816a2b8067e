package replicate_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestMountWithinDestination: a second repository in the same destination registry gets its
// blobs by mount, not upload; and a copy inside one registry mounts from the source repository.
func TestMountWithinDestination(t *testing.T) {
	t.Parallel()
	var uploads atomic.Int32
	p := newPair(t, countUploads(&uploads, nil))
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

// TestBatchUploadsSharedBaseOnce: images that share a base layer, copied at once by one Copier
// into one repository, upload that layer once.
func TestBatchUploadsSharedBaseOnce(t *testing.T) {
	t.Parallel()
	base := devstack.RandomBytes(2<<20, 42)
	baseDigest := "sha256:" + fmt.Sprintf("%x", sha256.Sum256(base))
	var baseUploads atomic.Int32
	p := newPair(t, countUploads(&baseUploads, func(r *http.Request) bool { return r.URL.Query().Get("digest") == baseDigest }))
	ctx := context.Background()
	repo := p.repo(t, p.src.Addr+"/app")
	const images = 8
	for i := range images {
		if _, err := p.push.Image(ctx, repo, fmt.Sprintf("v%d", i), devstack.ImageSpec{Layers: [][]byte{base, devstack.RandomBytes(1024, uint64(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	cp := newCopier(replicate.Options{})
	var wg sync.WaitGroup
	errs := make([]error, images)
	for i := range images {
		wg.Go(func() { _, errs[i] = cp.Copy(ctx, fmt.Sprintf("%s/app:v%d", p.src.Addr, i), p.dst.Addr+"/app") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := baseUploads.Load(); n != 1 {
		t.Fatalf("the shared base layer was uploaded %d times, want once", n)
	}
	for i := range images {
		assertSame(t, p, "app", "app", fmt.Sprintf("v%d", i))
	}
}
