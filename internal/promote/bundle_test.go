package promote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/registry"
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

// cosignV3Binary returns cosign v3.1.3 (COSIGN_V3, or $GOPATH/cosign-v3/cosign: GOBIN=$GOPATH/cosign-v3
// go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3), or skips.
func cosignV3Binary(t *testing.T) string {
	t.Helper()
	return findCosign(t, "COSIGN_V3", "cosign-v3", "cosign v3.1.3 not installed (GOBIN=$(go env GOPATH)/cosign-v3 go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3)")
}

// TestRealCosignV3Bundles signs with the cosign v3 binary, offline: v3 writes the Sigstore
// bundle as an OCI 1.1 referrer (here under the fallback tag: distribution has no referrers API),
// and its default signing config refuses --tlog-upload=false, so the flags are
// --use-signing-config=false --tlog-upload=false (no Rekor, no TSA, no TUF lookup). A signed
// image passes with its key and is blocked for another key; cosign's own bundle of one image,
// attached to another, is blocked for naming the first digest.
func TestRealCosignV3Bundles(t *testing.T) {
	t.Parallel()
	bin := cosignV3Binary(t)
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	env := append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
	keygen := func(sub string) string {
		d := filepath.Join(dir, sub)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "generate-key-pair")
		cmd.Dir, cmd.Env = d, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
		}
		return d
	}
	ours, theirs := keygen("ours"), keygen("theirs")
	signed := f.image(t, "signed", 21)
	cmd := exec.Command(bin, "sign", "--key", filepath.Join(ours, "cosign.key"), "--use-signing-config=false", "--tlog-upload=false",
		"--allow-insecure-registry", "--yes", f.reg.Addr+"/app@"+signed.Digest.String())
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	// cosign's bundle of "signed", attached to "moved" as well.
	idx, err := f.repo.Manifest(ctx, registry.TagFor(signed.Digest))
	if err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != gate.MediaTypeBundle {
		t.Fatalf("cosign v3 wrote %+v (%v), want one bundle referrer", idx, err)
	}
	ref, err := f.repo.Manifest(ctx, idx.Manifests[0].Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	rc, err := f.repo.Blob(ctx, ref.Layers[0].Digest, ref.Layers[0].Size)
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := io.ReadAll(rc)
	rc.Close()
	moved := f.image(t, "moved", 22)
	if _, err := f.push.AttachBundle(ctx, f.repo, moved, bundle); err != nil {
		t.Fatal(err)
	}

	ourKey, theirKey := cosignKey(t, ours), cosignKey(t, theirs)
	for _, c := range []struct {
		tag  string
		keys []gate.Key
		want string
	}{
		{"signed", []gate.Key{ourKey}, ""},
		{"signed", []gate.Key{theirKey}, "DSSE signature is not by any trusted key"},
		{"moved", []gate.Key{ourKey}, "it signs " + signed.Digest.String()},
	} {
		v, err := f.c.Check(ctx, f.name, c.tag, &gate.Policy{Keys: c.keys})
		if err != nil {
			t.Fatalf("%s: %v", c.tag, err)
		}
		if c.want == "" {
			if v.Blocked || v.SignedBy != ourKey.Name {
				t.Errorf("%s: %+v, want passed by %s", c.tag, v, ourKey.Name)
			}
			continue
		}
		if !v.Blocked || !strings.Contains(strings.Join(v.Reasons, "; "), c.want) {
			t.Errorf("%s: %+v, want blocked saying %q", c.tag, v, c.want)
		}
	}
}
