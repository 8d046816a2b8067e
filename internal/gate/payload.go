package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Cosign's simple-signing format (github.com/containers/image docs/containers-signature.5.md,
// as cosign writes it): the layers of the manifest tagged sha256-<hex>.sig each hold one payload
// of this media type, with the base64 signature over the payload's exact bytes in an annotation.
const (
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	AnnotationSignature    = "dev.cosignproject.cosign/signature"
	// SimpleSigningType is critical.type of a cosign image signature; other values are other
	// claims (or attestations) and sign nothing here.
	SimpleSigningType = "cosign container image signature"
	// MaxPayload bounds a payload read into memory: cosign's are a few hundred bytes, with
	// optional annotations a few kilobytes.
	MaxPayload = 64 << 10
)

// ErrPayload is wrapped by every error about a signature payload that does not sign the image.
var ErrPayload = errors.New("signature payload does not sign this image")

// Payload is the part of a simple-signing payload that the gate checks.
type Payload struct {
	Type            string        // critical.type
	Digest          digest.Digest // critical.image.docker-manifest-digest
	DockerReference string        // critical.identity.docker-reference: where it was signed, informative
}

// ParsePayload reads a simple-signing payload strictly: one JSON object, critical.type the
// cosign image signature type, a well-formed digest. It never panics on any input (fuzzed).
func ParsePayload(b []byte) (*Payload, error) {
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrPayload, len(b), MaxPayload)
	}
	var doc struct {
		Critical *struct {
			Identity struct {
				DockerReference string `json:"docker-reference"`
			} `json:"identity"`
			Image *struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrPayload, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrPayload)
	}
	c := doc.Critical
	switch {
	case c == nil:
		return nil, fmt.Errorf("%w: no critical section", ErrPayload)
	case c.Type != SimpleSigningType:
		return nil, fmt.Errorf("%w: critical.type %q, want %q", ErrPayload, c.Type, SimpleSigningType)
	case c.Image == nil:
		return nil, fmt.Errorf("%w: no critical.image", ErrPayload)
	}
	d, err := digest.Parse(c.Image.DockerManifestDigest)
	if err != nil {
		return nil, fmt.Errorf("%w: critical.image.docker-manifest-digest %q: %w", ErrPayload, c.Image.DockerManifestDigest, err)
	}
	return &Payload{Type: c.Type, Digest: d, DockerReference: c.Identity.DockerReference}, nil
}

// CheckPayload parses b and checks that it names exactly want.
func CheckPayload(b []byte, want digest.Digest) (*Payload, error) {
	p, err := ParsePayload(b)
	if err != nil {
		return nil, err
	}
	if p.Digest != want {
		return p, fmt.Errorf("%w: it signs %s, not %s", ErrPayload, p.Digest, want)
	}
	return p, nil
}
