package devstack

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

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
