package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// Pusher builds images and artifacts in a registry: the demo's and the tests' fixtures.
type Pusher struct {
	C *registry.Client
}

// NewPusher returns a Pusher with anonymous credentials.
func NewPusher() *Pusher {
	return &Pusher{C: registry.New(registry.Options{Keychain: Anonymous{}})}
}

// Repo returns a handle on host/repo.
func (p *Pusher) Repo(ref string) (*registry.Repository, error) {
	r, err := name.NewRepository(ref, name.StrictValidation)
	if err != nil {
		return nil, err
	}
	return p.C.Repository(r), nil
}

// RandomBytes returns n pseudo-random bytes from seed (the same seed gives the same bytes).
func RandomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Blob uploads data and returns its descriptor.
func (p *Pusher) Blob(ctx context.Context, repo *registry.Repository, mediaType string, data []byte) (ocispec.Descriptor, error) {
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if ok, err := repo.BlobExists(ctx, d.Digest); err != nil {
		return d, err
	} else if ok {
		return d, nil
	}
	return d, repo.Upload(ctx, d.Digest, d.Size, bytes.NewReader(data))
}

// Manifest marshals v and puts it under ref (a tag, or "" for its digest).
func (p *Pusher) Manifest(ctx context.Context, repo *registry.Repository, ref, mediaType string, v any) (ocispec.Descriptor, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m, err := registry.ParseManifest(mediaType, body)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if ref == "" {
		ref = m.Descriptor.Digest.String()
	}
	if _, err := repo.PutManifest(ctx, ref, m); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("putting %s: %w", ref, err)
	}
	return m.Descriptor, nil
}

// ImageSpec describes a single-platform image to build.
type ImageSpec struct {
	Platform *ocispec.Platform
	Layers   [][]byte // layer contents (not compressed: registries do not care)
	Docker   bool     // Docker schema 2 media types instead of OCI
	// ConfigMediaType, if set, makes an artifact (Helm chart, SBOM, WASM) instead of an image.
	ConfigMediaType string
	ArtifactType    string
	Subject         *ocispec.Descriptor
	Annotations     map[string]string
	// Foreign adds a non-distributable layer that lives at a URL and is never uploaded.
	Foreign bool
}

// Image pushes an image built from spec under tag ("" = by digest only).
func (p *Pusher) Image(ctx context.Context, repo *registry.Repository, tag string, spec ImageSpec) (ocispec.Descriptor, error) {
	mt, cfgType, layerType := ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayerGzip
	if spec.Docker {
		mt = registry.MediaTypeDockerManifest
		cfgType, layerType = "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip"
	}
	plat := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	if spec.Platform != nil {
		plat = *spec.Platform
	}
	var cfg []byte
	if spec.ConfigMediaType != "" {
		cfgType = spec.ConfigMediaType
		cfg = []byte("{}")
	} else {
		var diffIDs []digest.Digest
		for _, l := range spec.Layers {
			diffIDs = append(diffIDs, digest.FromBytes(l))
		}
		cfg, _ = json.Marshal(ocispec.Image{Platform: plat, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}})
	}
	cd, err := p.Blob(ctx, repo, cfgType, cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mt, Config: cd,
		ArtifactType: spec.ArtifactType, Subject: spec.Subject, Annotations: spec.Annotations, Layers: []ocispec.Descriptor{}}
	for _, l := range spec.Layers {
		ld, err := p.Blob(ctx, repo, layerType, l)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		m.Layers = append(m.Layers, ld)
	}
	if spec.Foreign {
		data := RandomBytes(1024, 99)
		fmt := ocispec.MediaTypeImageLayerNonDistributableGzip //nolint:staticcheck // what we test
		if spec.Docker {
			fmt = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
		}
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: fmt, Digest: digest.FromBytes(data),
			Size: int64(len(data)), URLs: []string{"https://example.invalid/layer.tar.gz"}})
	}
	return p.Manifest(ctx, repo, tag, mt, m)
}

// Index pushes an index of the given manifests under tag.
func (p *Pusher) Index(ctx context.Context, repo *registry.Repository, tag string, docker bool, children ...ocispec.Descriptor) (ocispec.Descriptor, error) {
	mt := ocispec.MediaTypeImageIndex
	if docker {
		mt = registry.MediaTypeDockerManifestList
	}
	return p.Manifest(ctx, repo, tag, mt, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: mt, Manifests: children})
}

// MultiPlatform pushes an index of one image per platform, the layers partly shared, and a
// buildx-style attestation manifest (platform unknown/unknown) for the first one.
func (p *Pusher) MultiPlatform(ctx context.Context, repo *registry.Repository, tag string, platforms []string, layerSize int, seed uint64) (ocispec.Descriptor, error) {
	shared := RandomBytes(layerSize, seed)
	var children []ocispec.Descriptor
	for i, pl := range platforms {
		plat, err := ParsePlatform(pl)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		d, err := p.Image(ctx, repo, "", ImageSpec{Platform: &plat,
			Layers: [][]byte{shared, RandomBytes(layerSize, seed+uint64(i)+1)}})
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		d.Platform = &plat
		children = append(children, d)
	}
	att, err := p.Image(ctx, repo, "", ImageSpec{ConfigMediaType: ocispec.MediaTypeImageConfig,
		Layers:      [][]byte{[]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`)},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	att.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	att.Annotations = map[string]string{"vnd.docker.reference.digest": children[0].Digest.String(),
		"vnd.docker.reference.type": "attestation-manifest"}
	return p.Index(ctx, repo, tag, false, append(children, att)...)
}

// Signature pushes a signature-like OCI 1.1 referrer of subject (artifactType
// application/vnd.dev.cosign.simplesigning.v1+json) and, where the registry has no referrers API
// (distribution has none), records it under the fallback tag sha256-<hex> as the OCI
// distribution spec asks of clients.
func (p *Pusher) Signature(ctx context.Context, repo *registry.Repository, subject ocispec.Descriptor) (ocispec.Descriptor, error) {
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	d, err := p.Image(ctx, repo, "", ImageSpec{ConfigMediaType: "application/vnd.oci.empty.v1+json",
		ArtifactType: "application/vnd.dev.cosign.simplesigning.v1+json", Subject: &subj,
		Layers: [][]byte{[]byte(`{"critical":{"image":{"docker-manifest-digest":"` + subject.Digest.String() + `"}}}`)}})
	if err != nil {
		return d, err
	}
	d.ArtifactType = "application/vnd.dev.cosign.simplesigning.v1+json"
	return d, p.fallbackReferrer(ctx, repo, subject.Digest, d)
}

// fallbackReferrer records d as a referrer of subject under the fallback tag sha256-<hex>, as
// the OCI distribution spec asks of clients, where the registry has no referrers API.
func (p *Pusher) fallbackReferrer(ctx context.Context, repo *registry.Repository, subject digest.Digest, d ocispec.Descriptor) error {
	if _, err := repo.Referrers(ctx, subject); !errors.Is(err, registry.ErrUnsupported) {
		return err
	}
	idx := []ocispec.Descriptor{d}
	if cur, err := repo.Manifest(ctx, registry.TagFor(subject)); err == nil {
		idx = append(cur.Manifests, d)
	}
	_, err := p.Index(ctx, repo, registry.TagFor(subject), false, idx...)
	return err
}

// ParsePlatform parses os/arch[/variant].
func ParsePlatform(s string) (ocispec.Platform, error) {
	var p ocispec.Platform
	parts := strings.Split(s, "/")
	switch len(parts) {
	case 3:
		p.Variant = parts[2]
		fallthrough
	case 2:
		p.OS, p.Architecture = parts[0], parts[1]
		return p, nil
	}
	return p, fmt.Errorf("platform %q: want os/arch[/variant]", s)
}
