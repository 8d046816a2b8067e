package devstack

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// CosignPayload is the simple-signing payload cosign signs for the image d.
func CosignPayload(d digest.Digest) []byte {
	return []byte(`{"critical":{"identity":{"docker-reference":"example/app"},"image":{"docker-manifest-digest":"` + d.String() +
		`"},"type":"cosign container image signature"},"optional":null}`)
}

// CosignSign stores a signature by key of payload as the signature of subject, in cosign's tag
// form: tag sha256-<hex>.sig, one simple-signing layer holding payload, the base64 ECDSA
// signature in its dev.cosignproject.cosign/signature annotation. A payload naming another
// digest makes the crafted signature the gates must refuse.
func (p *Pusher) CosignSign(ctx context.Context, repo *registry.Repository, subject digest.Digest, payload []byte, key *ecdsa.PrivateKey) error {
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return err
	}
	layer, err := p.Blob(ctx, repo, gate.MediaTypeSimpleSigning, payload)
	if err != nil {
		return err
	}
	layer.Annotations = map[string]string{gate.AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}
	cfg, err := p.Blob(ctx, repo, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`))
	if err != nil {
		return err
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	_, err = p.Manifest(ctx, repo, registry.TagFor(subject)+".sig", ocispec.MediaTypeImageManifest, m)
	return err
}

// SignStatement is the in-toto statement cosign v3 signs for the image d (predicate type
// https://sigstore.dev/cosign/sign/v1, one subject with d's digest).
func SignStatement(d digest.Digest) []byte {
	return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"example/app","digest":{"` + d.Algorithm().String() + `":"` + d.Encoded() +
		`"}}],"predicateType":"` + gate.PredicateCosignSign + `","predicate":{}}`)
}

// DSSEBundle is a key-based Sigstore bundle (v0.3) holding a DSSE envelope of statement (an
// in-toto statement) signed by key over DSSE's PAE, as `cosign sign --new-bundle-format --key`
// writes one, without transparency log entries or timestamps.
func DSSEBundle(statement []byte, key *ecdsa.PrivateKey) []byte {
	h := sha256.Sum256(gate.PAE(gate.PayloadTypeInToto, statement))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
	b, _ := json.Marshal(map[string]any{
		"mediaType":            gate.MediaTypeBundle,
		"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": ""}, "tlogEntries": []any{}, "timestampVerificationData": map[string]any{}},
		"dsseEnvelope": map[string]any{"payload": statement, "payloadType": gate.PayloadTypeInToto,
			"signatures": []map[string]any{{"sig": sig, "keyid": ""}}},
	})
	return b
}

// MessageBundle is a key-based Sigstore bundle (v0.3) holding a message signature by key of
// the manifest whose digest is d: messageDigest is d, the signature is over that digest.
func MessageBundle(d digest.Digest, key *ecdsa.PrivateKey) []byte {
	raw, _ := hex.DecodeString(d.Encoded())
	sig, _ := ecdsa.SignASN1(rand.Reader, key, raw)
	b, _ := json.Marshal(map[string]any{
		"mediaType":            gate.MediaTypeBundle,
		"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": ""}},
		"messageSignature":     map[string]any{"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": raw}, "signature": sig},
	})
	return b
}

// AttachBundle attaches bundle to subject as cosign v3 does: an OCI 1.1 referrer of artifactType
// application/vnd.dev.sigstore.bundle.v0.3+json, an empty config, the bundle JSON its one layer;
// where the registry has no referrers API, listed under the fallback tag sha256-<hex>.
func (p *Pusher) AttachBundle(ctx context.Context, repo *registry.Repository, subject ocispec.Descriptor, bundle []byte) (ocispec.Descriptor, error) {
	cfg, err := p.Blob(ctx, repo, "application/vnd.oci.empty.v1+json", []byte("{}"))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layer, err := p.Blob(ctx, repo, gate.MediaTypeBundle, bundle)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: gate.MediaTypeBundle, Config: cfg,
		Layers: []ocispec.Descriptor{layer}, Subject: &subj}
	if bytes.Contains(bundle, []byte(`"dsseEnvelope"`)) {
		m.Annotations = map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": gate.PredicateCosignSign}
	}
	m.SchemaVersion = 2
	d, err := p.Manifest(ctx, repo, "", ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return d, err
	}
	d.ArtifactType = gate.MediaTypeBundle
	return d, p.fallbackReferrer(ctx, repo, subject.Digest, d)
}
