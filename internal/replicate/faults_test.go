package replicate_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/fault"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestTransientFaultsAreSurvived copies through a tenth of requests failing in every passing way,
// on the source and the destination, and demands the exact image every time.
func TestTransientFaultsAreSurvived(t *testing.T) {
	t.Parallel()
	kinds := []fault.Kind{fault.Status500, fault.Status502, fault.Status503, fault.Throttle,
		fault.ResetRequest, fault.ResetResponse, fault.Corrupt, fault.Truncate}
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			var srcInj, dstInj *fault.Injector
			ctx := context.Background()
			src, err := devstack.Start(ctx, devstack.Options{Wrap: func(h http.Handler) http.Handler {
				srcInj = fault.Wrap(h, fault.Config{Seed: uint64(seed), Kinds: kinds})
				return srcInj
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			p := newPair(t, func(h http.Handler) http.Handler {
				dstInj = fault.Wrap(h, fault.Config{Seed: uint64(seed) + 1000, Rate: 0.1, Kinds: kinds})
				return dstInj
			})
			p.src = src
			repo := p.repo(t, src.Addr+"/app")
			d, err := p.push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 300<<10, uint64(seed))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.push.Signature(ctx, repo, d); err != nil {
				t.Fatal(err)
			}
			// Faults on the source only once the fixture is in.
			setRate(srcInj, 0.1)
			res, err := newCopier(replicate.Options{}).Copy(ctx, src.Addr+"/app:v1", p.dst.Addr+"/app")
			if err != nil {
				t.Fatalf("seed %d: %v (faults src %v dst %v)", seed, err, srcInj.Injected(), dstInj.Injected())
			}
			setRate(srcInj, 0)
			setRate(dstInj, 0)
			if res.Digest != d.Digest {
				t.Fatalf("digest %s, want %s", res.Digest, d.Digest)
			}
			assertSame(t, p, "app", "app", "v1")
			assertSame(t, p, "app", "app", registry.TagFor(d.Digest))
			if srcInj.Total()+dstInj.Total() == 0 {
				t.Fatal("no fault was injected: the test proves nothing")
			}
			t.Logf("seed %d: faults src %v dst %v", seed, srcInj.Injected(), dstInj.Injected())
		})
	}
}

func setRate(in *fault.Injector, r float64) { in.SetRate(r) }

// TestInterruptedCopyLeavesNoTag fails a copy half way, permanently, and checks that the
// destination tag was never written; the next copy completes it.
func TestInterruptedCopyLeavesNoTag(t *testing.T) {
	t.Parallel()
	var uploads, broken atomic.Int32
	broken.Store(1)
	p := newPair(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") &&
				uploads.Add(1) > 3 && broken.Load() == 1 {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"errors":[{"code":"DENIED","message":"injected: quota exceeded"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	repo := p.repo(t, p.src.Addr+"/app")
	d, err := p.push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64", "linux/ppc64le"}, 64<<10, 7)
	if err != nil {
		t.Fatal(err)
	}
	cp := newCopier(replicate.Options{Jobs: 2})
	_, err = cp.Copy(ctx, p.src.Addr+"/app:v1", p.dst.Addr+"/app:v1")
	if !errors.Is(err, registry.ErrDenied) || replicate.Retryable(err) {
		t.Fatalf("err = %v, want a permanent access-denied error", err)
	}
	var ce *replicate.CopyError
	if !errors.As(err, &ce) || ce.Side != replicate.Dst {
		t.Fatalf("err = %#v, want a CopyError on the dst side", err)
	}
	if got := tagDigest(t, p.dst.Addr, "app", "v1"); got != "<404>" {
		t.Fatalf("after a failed copy the tag points at %s", got)
	}
	broken.Store(0)
	res, err := cp.Copy(ctx, p.src.Addr+"/app:v1", p.dst.Addr+"/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsSkipped == 0 {
		t.Errorf("resumed copy skipped no blob: %+v", res)
	}
	if res.Digest != d.Digest {
		t.Fatal("digest differs")
	}
	assertSame(t, p, "app", "app", "v1")
}

// TestSharedBlobUploadedOnce counts uploads per digest: a layer shared by every platform goes once.
func TestSharedBlobUploadedOnce(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	p := newPair(t, countUploads(&posts, nil))
	ctx := context.Background()
	repo := p.repo(t, p.src.Addr+"/app")
	// 4 platforms: 1 shared layer + 4 own layers + 4 configs + attestation (config, layer) = 11 blobs.
	if _, err := p.push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64", "linux/s390x", "linux/ppc64le"}, 8<<10, 3); err != nil {
		t.Fatal(err)
	}
	res, err := newCopier(replicate.Options{Jobs: 16}).Copy(ctx, p.src.Addr+"/app:v1", p.dst.Addr+"/app")
	if err != nil {
		t.Fatal(err)
	}
	if posts.Load() != 11 || res.Blobs != 11 {
		t.Fatalf("uploads %d, result blobs %d; want 11 each", posts.Load(), res.Blobs)
	}
}
