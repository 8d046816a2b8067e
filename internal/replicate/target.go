package replicate

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// Target is one side of a copy, as the engine uses it: a registry repository
// (*registry.Repository) or an OCI image layout (internal/layout), as oras-go copies between
// its Targets. A missing manifest or blob is registry.ErrNotFound, a manifest naming a blob the
// target lacks registry.ErrBlobUnknown, and a target that cannot list referrers says
// registry.ErrUnsupported (the engine then reads the sha256-<hex> fallback tag).
type Target interface {
	// String names the target in results and errors: host/repo, or oci:DIR.
	String() string
	// Host and Name tell whether two targets share a registry (a blob mounts between them).
	Host() string
	Name() string

	// Manifest fetches a manifest by tag or digest, checked against a digest reference.
	Manifest(ctx context.Context, ref string) (*registry.Manifest, error)
	// Head resolves a tag or digest to its descriptor without the body.
	Head(ctx context.Context, ref string) (ocispec.Descriptor, error)
	// Tags lists the target's tags.
	Tags(ctx context.Context) ([]string, error)
	// Referrers lists the manifests whose subject is d.
	Referrers(ctx context.Context, d digest.Digest) ([]ocispec.Descriptor, error)
	// Blob opens a blob for streaming; the reader verifies digest and size at EOF
	// (registry.VerifyReader).
	Blob(ctx context.Context, d digest.Digest, size int64) (io.ReadCloser, error)

	// BlobExists reports whether the target holds blob d.
	BlobExists(ctx context.Context, d digest.Digest) (bool, error)
	// Mount links blob d from repository from of the same host; false means upload it.
	Mount(ctx context.Context, d digest.Digest, from string) (bool, error)
	// StartUpload opens an upload; FinishUpload streams body into it and commits it only if
	// the bytes are size long and hash to d.
	StartUpload(ctx context.Context) (string, error)
	FinishUpload(ctx context.Context, loc string, d digest.Digest, size int64, body io.Reader) error
	// PutManifest stores m's exact bytes under ref (a tag or m's digest); for a manifest with a
	// subject it reports whether the target lists it as a referrer by itself.
	PutManifest(ctx context.Context, ref string, m *registry.Manifest) (subjectIndexed bool, err error)
}

// Rooted is a Target that keeps a list of its top-level manifests, as an OCI layout's
// index.json does: the engine adds an image copied there by digest alone to that list
// (untagged), so it can be found again.
type Rooted interface {
	Target
	AddRoot(ctx context.Context, d ocispec.Descriptor) error
}

var _ Target = (*registry.Repository)(nil)
