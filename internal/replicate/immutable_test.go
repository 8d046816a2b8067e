package replicate_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// immutable answers a manifest PUT onto an existing tag as an ECR immutable repository does
// through the OCI API (400 TAG_INVALID), and hides the tag from the first HEAD, as if another
// writer put it between our check and our put.
func immutable(hideFirstHead bool) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		var hidden atomic.Bool
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			isTag := strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.URL.Path, "sha256:")
			if isTag && r.Method == http.MethodHead && hideFirstHead && hidden.CompareAndSwap(false, true) {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			if isTag && r.Method == http.MethodPut {
				probe := httptest.NewRecorder()
				h.ServeHTTP(probe, httptest.NewRequest(http.MethodHead, r.URL.Path, nil))
				if probe.Code == http.StatusOK {
					w.WriteHeader(http.StatusBadRequest)
					w.Write([]byte(`{"errors":[{"code":"TAG_INVALID","message":"The image tag 'v1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable."}]}`))
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestImmutableDestinationTag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("same image put by another writer meanwhile is success", func(t *testing.T) {
		t.Parallel()
		p := newPair(t, immutable(true))
		repo := p.repo(t, p.src.Addr+"/app")
		d, err := p.push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64"}, 1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		// The other writer: the same image (same seed, same bytes), straight into the destination.
		if theirs, err := p.push.MultiPlatform(ctx, p.repo(t, p.dst.Addr+"/app"), "v1", []string{"linux/amd64"}, 1024, 1); err != nil || theirs.Digest != d.Digest {
			t.Fatalf("other writer: %v %v", theirs.Digest, err)
		}
		res, err := newCopier(replicate.Options{}).Copy(ctx, p.src.Addr+"/app:v1", p.dst.Addr+"/app")
		if err != nil || res.Digest != d.Digest {
			t.Fatalf("second writer: %+v %v; want success", res, err)
		}
		if res.UpToDate {
			t.Fatal("the copy saw the tag in place: the race this test is about did not happen")
		}
	})
	t.Run("tag at another image fails permanently with a fix", func(t *testing.T) {
		t.Parallel()
		p := newPair(t, immutable(false))
		repo := p.repo(t, p.src.Addr+"/app")
		if _, err := p.push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64"}, 1024, 1); err != nil {
			t.Fatal(err)
		}
		other := p.repo(t, p.dst.Addr+"/app")
		if _, err := p.push.MultiPlatform(ctx, other, "v1", []string{"linux/amd64"}, 1024, 2); err != nil {
			t.Fatal(err)
		}
		_, err := newCopier(replicate.Options{}).Copy(ctx, p.src.Addr+"/app:v1", p.dst.Addr+"/app")
		if !errors.Is(err, registry.ErrTagImmutable) || replicate.Retryable(err) || !strings.Contains(err.Error(), "immutable") {
			t.Fatalf("err = %v; want a permanent immutable-tag error", err)
		}
	})
}
