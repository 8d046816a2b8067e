package replicate_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/olareg/olareg"
	"github.com/olareg/olareg/config"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// startOlareg runs olareg, a registry with the OCI 1.1 referrers API (distribution has none),
// on 127.0.0.1.
func startOlareg(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: olareg.New(config.Config{Storage: config.ConfigStorage{StoreType: config.StoreMem}})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// cosignSig pushes a cosign-style signature image under the tag sha256-<hex>.sig.
func cosignSig(t *testing.T, p *devstack.Pusher, repo *registry.Repository, subject ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	d, err := p.Image(context.Background(), repo, registry.TagFor(subject.Digest)+".sig", devstack.ImageSpec{
		ConfigMediaType: "application/vnd.oci.image.config.v1+json",
		Layers:          [][]byte{[]byte(`{"critical":{"image":{"docker-manifest-digest":"` + subject.Digest.String() + `"}}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReferrers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name        string
		srcOlareg   bool // source serves the referrers API
		dstOlareg   bool // destination serves the referrers API
		noReferrers bool
	}{
		{name: "fallback tag to fallback tag"},
		{name: "referrers API to registry without it", srcOlareg: true},
		{name: "fallback tag to referrers API", dstOlareg: true},
		{name: "referrers API to referrers API", srcOlareg: true, dstOlareg: true},
		{name: "no-referrers copies none", noReferrers: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t, nil)
			srcHost, dstHost := p.src.Addr, p.dst.Addr
			if tc.srcOlareg {
				srcHost = startOlareg(t)
			}
			if tc.dstOlareg {
				dstHost = startOlareg(t)
			}
			src := p.repo(t, srcHost+"/app")
			img, err := p.push.MultiPlatform(ctx, src, "v1", []string{"linux/amd64", "linux/arm64"}, 4096, 1)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := p.push.Signature(ctx, src, img)
			if err != nil {
				t.Fatal(err)
			}
			// A signature of the signature: a referrer two levels down.
			sigsig, err := p.push.Signature(ctx, src, sig)
			if err != nil {
				t.Fatal(err)
			}
			cosign := cosignSig(t, p.push, src, img)

			res, err := newCopier(replicate.Options{NoReferrers: tc.noReferrers}).Copy(ctx, srcHost+"/app:v1", dstHost+"/app")
			if err != nil {
				t.Fatal(err)
			}
			dst := p.repo(t, dstHost+"/app")
			if got, err := dst.Head(ctx, "v1"); err != nil || got.Digest != img.Digest {
				t.Fatalf("dst tag: %v %v", got.Digest, err)
			}
			for _, want := range []ocispec.Descriptor{sig, sigsig, cosign} {
				_, err := dst.Head(ctx, want.Digest.String())
				if tc.noReferrers != (err != nil) {
					t.Errorf("referrer %s in dst: err %v, noReferrers %v", want.Digest, err, tc.noReferrers)
				}
			}
			if tc.noReferrers {
				if res.Referrers != 0 {
					t.Errorf("copied %d referrers with NoReferrers", res.Referrers)
				}
				return
			}
			if got, err := dst.Head(ctx, registry.TagFor(img.Digest)+".sig"); err != nil || got.Digest != cosign.Digest {
				t.Errorf("cosign .sig tag in dst: %v %v", got.Digest, err)
			}
			// Clients in the destination find the signature the way the destination offers.
			found := map[string]bool{}
			if tc.dstOlareg {
				refs, err := dst.Referrers(ctx, img.Digest)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range refs {
					found[r.Digest.String()] = true
				}
			} else {
				idx, err := dst.Manifest(ctx, registry.TagFor(img.Digest))
				if err != nil {
					t.Fatalf("fallback tag missing in dst: %v", err)
				}
				for _, r := range idx.Manifests {
					found[r.Digest.String()] = true
				}
			}
			if !found[sig.Digest.String()] {
				t.Errorf("signature %s not discoverable in dst (found %v)", sig.Digest, found)
			}
			again, err := newCopier(replicate.Options{}).Copy(ctx, srcHost+"/app:v1", dstHost+"/app")
			if err != nil {
				t.Fatal(err)
			}
			if !again.UpToDate || again.Manifests != 0 || again.BytesSent != 0 {
				t.Errorf("second copy did work: %+v", again)
			}
		})
	}
}
