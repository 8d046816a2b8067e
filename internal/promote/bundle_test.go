package promote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/gate"
)

// The Sigstore bundle form (cosign v3): bundles built here, signed with a generated key and
// attached as OCI 1.1 referrers of images in a real registry (distribution has no referrers API:
// they are listed under the fallback tag, as cosign lists them there). A DSSE statement of the
// image and a message signature of its digest pass; a statement naming another digest, one by
// a key not trusted, and an attestation (another predicate type) are blocked, with reasons.
func TestBundleSignatureGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	trusted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attach := func(tag string, seed uint64, bundle func(d digest.Digest) []byte) ocispec.Descriptor {
		img := f.image(t, tag, seed)
		if _, err := f.push.AttachBundle(ctx, f.repo, img, bundle(img.Digest)); err != nil {
			t.Fatal(err)
		}
		return img
	}
	other := f.image(t, "other", 100)
	attach("dsse", 1, func(d digest.Digest) []byte { return devstack.DSSEBundle(devstack.SignStatement(d), trusted) })
	attach("message", 2, func(d digest.Digest) []byte { return devstack.MessageBundle(d, trusted) })
	attach("another-digest", 3, func(digest.Digest) []byte { return devstack.DSSEBundle(devstack.SignStatement(other.Digest), trusted) })
	attach("stranger", 4, func(d digest.Digest) []byte { return devstack.DSSEBundle(devstack.SignStatement(d), stranger) })
	attach("message-of-another", 5, func(digest.Digest) []byte { return devstack.MessageBundle(other.Digest, trusted) })
	attach("attestation", 6, func(d digest.Digest) []byte {
		st := strings.Replace(string(devstack.SignStatement(d)), gate.PredicateCosignSign, "https://slsa.dev/provenance/v1", 1)
		return devstack.DSSEBundle([]byte(st), trusted)
	})

	p := &gate.Policy{Keys: []gate.Key{keyOf(t, trusted, "cosign.pub")}}
	for _, c := range []struct{ tag, want string }{
		{"dsse", ""},
		{"message", ""},
		{"another-digest", "signed by cosign.pub, but sigstore bundle does not sign this image: it signs " + other.Digest.String()},
		{"stranger", "DSSE signature is not by any trusted key"},
		{"message-of-another", "messageDigest " + other.Digest.String() + " is not"},
		{"attestation", "is an attestation, not cosign's image signature"},
	} {
		v, err := f.c.Check(ctx, f.name, c.tag, p)
		if err != nil {
			t.Fatalf("%s: %v", c.tag, err)
		}
		if c.want == "" {
			if v.Blocked || v.SignedBy != "cosign.pub" || v.Signatures != 1 {
				t.Errorf("%s: %+v, want passed, signed by cosign.pub", c.tag, v)
			}
			continue
		}
		if !v.Blocked || !strings.Contains(strings.Join(v.Reasons, "; "), c.want) {
			t.Errorf("%s: %+v, want blocked saying %q", c.tag, v, c.want)
		}
	}
}
