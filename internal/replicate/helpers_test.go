package replicate_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// pair is a source and a destination registry, real and on 127.0.0.1.
type pair struct {
	src, dst *devstack.Registry
	push     *devstack.Pusher
}

func newPair(t *testing.T, wrapDst func(http.Handler) http.Handler) *pair {
	t.Helper()
	p := devtest.NewPair(t, devtest.Options{WrapDst: wrapDst})
	return &pair{src: p.Src, dst: p.Dst, push: p.Push}
}

func (p *pair) repo(t *testing.T, ref string) *registry.Repository {
	t.Helper()
	r, err := p.push.Repo(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// countUploads returns a wrapper that counts, in n, the blob upload PUTs a registry receives
// that match (nil: every one).
func countUploads(n *atomic.Int32, match func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && (match == nil || match(r)) {
				n.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
}

func newCopier(opts replicate.Options) *replicate.Copier {
	return replicate.New(registry.New(registry.Options{Keychain: devstack.Anonymous{},
		Retry: registry.RetryPolicy{Base: 5e6, Max: 5e7}}), opts)
}

// raw fetches a path from a registry with plain HTTP, independently of the client under test.
func raw(t *testing.T, host, path, accept string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

const acceptAll = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// assertSame walks ref in src and checks that dst holds the same manifest bytes and blob bytes,
// recursively, with raw HTTP. It returns how many manifests and blobs it compared.
func assertSame(t *testing.T, p *pair, srcRepo, dstRepo, ref string) (manifests, blobs int) {
	t.Helper()
	sc, sh, sb := raw(t, p.src.Addr, srcRepo+"/manifests/"+ref, acceptAll)
	dc, dh, db := raw(t, p.dst.Addr, dstRepo+"/manifests/"+ref, acceptAll)
	if sc != 200 || dc != 200 {
		t.Fatalf("manifest %s: src %d, dst %d: %s", ref, sc, dc, db)
	}
	if string(sb) != string(db) {
		t.Fatalf("manifest %s differs:\nsrc %s\ndst %s", ref, sb, db)
	}
	if sh.Get("Content-Type") != dh.Get("Content-Type") {
		t.Fatalf("manifest %s media type: src %q, dst %q", ref, sh.Get("Content-Type"), dh.Get("Content-Type"))
	}
	manifests = 1
	var m struct {
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(sb, &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Manifests {
		mm, bb := assertSame(t, p, srcRepo, dstRepo, c.Digest.String())
		manifests += mm
		blobs += bb
	}
	all := m.Layers
	if m.Config != nil {
		all = append(all, *m.Config)
	}
	for _, d := range all {
		if len(d.URLs) > 0 {
			if code, _, _ := raw(t, p.dst.Addr, dstRepo+"/blobs/"+d.Digest.String(), ""); code != 404 {
				t.Errorf("foreign layer %s was uploaded (HEAD %d)", d.Digest, code)
			}
			continue
		}
		code, _, b := raw(t, p.dst.Addr, dstRepo+"/blobs/"+d.Digest.String(), "")
		if code != 200 {
			t.Fatalf("blob %s missing in dst: %d", d.Digest, code)
		}
		sum := sha256.Sum256(b)
		if got := digest.Digest("sha256:" + hex.EncodeToString(sum[:])); got != d.Digest || int64(len(b)) != d.Size {
			t.Fatalf("blob %s in dst has digest %s, %d bytes", d.Digest, got, len(b))
		}
		blobs++
	}
	return manifests, blobs
}

func tagDigest(t *testing.T, host, repo, tag string) string {
	t.Helper()
	code, h, _ := raw(t, host, repo+"/manifests/"+tag, acceptAll)
	if code != 200 {
		return fmt.Sprintf("<%d>", code)
	}
	return h.Get("Docker-Content-Digest")
}
