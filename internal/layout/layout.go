// Package layout reads and writes OCI image layouts (a directory: oci-layout, index.json,
// blobs/<alg>/<hex>, per the OCI image spec's image-layout.md) and archives of them (a tar of
// that directory), as a replicate.Target: the engine copies between a registry and a layout as
// it does between two registries, bit for bit.
//
// Tags are the org.opencontainers.image.ref.name annotations of index.json's entries, as oras,
// crane and skopeo write them. Referrers are the manifests index.json lists whose subject is
// the image (the OCI image spec's "subject"), and cosign-style sha256-<hex>.sig tags.
//
// Writes keep a layout consistent for any reader: each blob is written to a temporary file,
// verified, and renamed into place; a manifest is stored only when everything it names is
// there; index.json, rewritten whole and renamed, is updated last, so no tag points at a partial
// image even when a copy fails.
package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// Layout is an OCI image layout directory. It is safe for concurrent use within one process;
// two processes writing one layout at once may lose each other's index.json entries (the blobs
// are safe).
type Layout struct {
	dir  string
	name string // what String says: oci:DIR, or oci-archive:FILE for an unpacked archive

	mu       sync.Mutex                            // serializes index.json read-modify-write
	subjects map[digest.Digest]*ocispec.Descriptor // manifest digest -> its subject (nil: none); content is immutable
}

// Open opens the existing layout in dir: it must hold an oci-layout file.
func Open(dir string) (*Layout, error) {
	b, err := os.ReadFile(filepath.Join(dir, ocispec.ImageLayoutFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not an OCI image layout (no %s file): give a directory made by ecrsync, oras, crane or skopeo, or a new one as a destination: %w",
			dir, ocispec.ImageLayoutFile, registry.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %s: %w", dir, err)
	}
	var l ocispec.ImageLayout
	if err := json.Unmarshal(b, &l); err != nil || l.Version == "" {
		return nil, fmt.Errorf("%s/%s is not an OCI layout file (want {\"imageLayoutVersion\":\"1.0.0\"})", dir, ocispec.ImageLayoutFile)
	}
	if !strings.HasPrefix(l.Version, "1.") {
		return nil, fmt.Errorf("OCI layout %s has imageLayoutVersion %q; only 1.x is supported", dir, l.Version)
	}
	return &Layout{dir: dir, name: "oci:" + dir, subjects: map[digest.Digest]*ocispec.Descriptor{}}, nil
}

// Create opens the layout in dir, or makes an empty one there (creating dir) if dir is missing
// or empty. A directory with other content that is not a layout is refused: nothing is written
// into a directory that holds something else.
func Create(dir string) (*Layout, error) {
	l, err := Open(dir)
	if err == nil || !errors.Is(err, registry.ErrNotFound) {
		return l, err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s is a directory that is not empty and not an OCI image layout (no %s): give a new or empty directory", dir, ocispec.ImageLayoutFile)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", string(digest.SHA256)), 0o755); err != nil {
		return nil, fmt.Errorf("creating OCI layout: %w", err)
	}
	l = &Layout{dir: dir, name: "oci:" + dir, subjects: map[digest.Digest]*ocispec.Descriptor{}}
	if err := l.writeIndex(ocispec.Index{}); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := writeAtomic(filepath.Join(dir, ocispec.ImageLayoutFile), b); err != nil {
		return nil, fmt.Errorf("creating OCI layout: %w", err)
	}
	return l, nil
}

// Dir is the layout's directory.
func (l *Layout) Dir() string { return l.dir }

// String is oci:DIR, or oci-archive:FILE for an archive, as the CLI names a layout.
func (l *Layout) String() string { return l.name }

// Host is oci:DIR: a layout is a registry of its own, and shares blobs with no other.
func (l *Layout) Host() string { return "oci:" + l.dir }

// Default is the reference a source named without tag or digest means: the one manifest
// index.json lists, else the tag latest; otherwise an error lists the tags to choose from.
func (l *Layout) Default(ctx context.Context) (string, error) {
	idx, err := l.index()
	if err != nil {
		return "", err
	}
	if len(idx.Manifests) == 1 {
		if t := idx.Manifests[0].Annotations[ocispec.AnnotationRefName]; t != "" {
			return t, nil
		}
		return idx.Manifests[0].Digest.String(), nil
	}
	if slices.Contains(refNames(idx), "latest") {
		return "latest", nil
	}
	return "", fmt.Errorf("%s lists %d manifests and no tag latest: name one, as %s:TAG (it has %s)", l, len(idx.Manifests), l, describeTags(idx))
}

// Name is empty: a layout holds one repository.
func (l *Layout) Name() string { return "" }

func (l *Layout) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("blob digest %q: %w", d, err)
	}
	return filepath.Join(l.dir, "blobs", string(d.Algorithm()), d.Encoded()), nil
}

// index reads index.json.
func (l *Layout) index() (ocispec.Index, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(l.dir, ocispec.ImageIndexFile))
	if err != nil {
		return idx, fmt.Errorf("reading %s of OCI layout %s: %w", ocispec.ImageIndexFile, l.dir, err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("decoding %s of OCI layout %s: %w", ocispec.ImageIndexFile, l.dir, err)
	}
	return idx, nil
}

// writeIndex replaces index.json at once (temp file + rename).
func (l *Layout) writeIndex(idx ocispec.Index) error {
	idx.Versioned = specs.Versioned{SchemaVersion: 2}
	idx.MediaType = ocispec.MediaTypeImageIndex
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(l.dir, ocispec.ImageIndexFile), b); err != nil {
		return fmt.Errorf("writing %s of OCI layout %s: %w", ocispec.ImageIndexFile, l.dir, err)
	}
	return nil
}

// resolve finds ref (a tag or a digest) in the layout.
func (l *Layout) resolve(ref string) (ocispec.Descriptor, error) {
	idx, err := l.index()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if d, err := digest.Parse(ref); err == nil {
		for _, m := range idx.Manifests {
			if m.Digest == d {
				return ocispec.Descriptor{MediaType: m.MediaType, Digest: d, Size: m.Size}, nil
			}
		}
		p, err := l.blobPath(d)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("manifest %s in %s: %w", d, l, registry.ErrNotFound)
		}
		return ocispec.Descriptor{Digest: d, Size: fi.Size()}, nil
	}
	var found *ocispec.Descriptor
	for i, m := range idx.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] == ref {
			found = &idx.Manifests[i] // the last entry wins, as a later write does
		}
	}
	if found == nil {
		return ocispec.Descriptor{}, fmt.Errorf("tag %q in %s (it has %s): %w", ref, l, describeTags(idx), registry.ErrNotFound)
	}
	return *found, nil
}

func describeTags(idx ocispec.Index) string {
	tags := refNames(idx)
	if len(tags) == 0 {
		return "no tags"
	}
	if len(tags) > 10 {
		tags = append(tags[:10], "...")
	}
	return strings.Join(tags, ", ")
}

func refNames(idx ocispec.Index) []string {
	var out []string
	for _, m := range idx.Manifests {
		if t := m.Annotations[ocispec.AnnotationRefName]; t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// Manifest reads a manifest by tag or digest, verified against its digest.
func (l *Layout) Manifest(ctx context.Context, ref string) (*registry.Manifest, error) {
	desc, err := l.resolve(ref)
	if err != nil {
		return nil, err
	}
	body, err := l.readBlob(desc.Digest, registry.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	m, err := registry.ParseManifest(desc.MediaType, body)
	if err != nil {
		return nil, fmt.Errorf("manifest %s in %s: %w", desc.Digest, l, err)
	}
	return m, nil
}

// readBlob reads a small blob (a manifest) whole, verified.
func (l *Layout) readBlob(d digest.Digest, limit int64) ([]byte, error) {
	rc, err := l.Blob(context.Background(), d, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s in %s: %w", d, l, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("manifest %s in %s is larger than %d bytes", d, l, limit)
	}
	return b, nil
}

// Head resolves a tag or digest.
func (l *Layout) Head(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	return l.resolve(ref)
}

// Tags lists the layout's tags (the ref.name annotations of index.json).
func (l *Layout) Tags(ctx context.Context) ([]string, error) {
	idx, err := l.index()
	if err != nil {
		return nil, err
	}
	return refNames(idx), nil
}

// Referrers lists the manifests in index.json whose subject is d.
func (l *Layout) Referrers(ctx context.Context, d digest.Digest) ([]ocispec.Descriptor, error) {
	idx, err := l.index()
	if err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	for _, e := range idx.Manifests {
		if slices.ContainsFunc(out, func(x ocispec.Descriptor) bool { return x.Digest == e.Digest }) {
			continue
		}
		m, err := l.subjectOf(e.Digest)
		if err != nil {
			return nil, err
		}
		if m != nil && m.Subject.Digest == d {
			out = append(out, m.ReferrerDescriptor())
		}
	}
	return out, nil
}

// subjectOf returns manifest d if it has a subject, else nil; whether it has one is cached.
func (l *Layout) subjectOf(d digest.Digest) (*registry.Manifest, error) {
	l.mu.Lock()
	s, ok := l.subjects[d]
	l.mu.Unlock()
	if ok && s == nil {
		return nil, nil
	}
	m, err := l.Manifest(context.Background(), d.String())
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.subjects[d] = m.Subject
	l.mu.Unlock()
	if m.Subject == nil {
		return nil, nil
	}
	return m, nil
}

// Blob opens a blob; the reader verifies its digest and size at EOF.
func (l *Layout) Blob(ctx context.Context, d digest.Digest, size int64) (io.ReadCloser, error) {
	p, err := l.blobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s in %s: %w", d, l, registry.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", d, err)
	}
	return registry.VerifyReader(f, d, size), nil
}

// BlobExists reports whether the layout holds blob d.
func (l *Layout) BlobExists(ctx context.Context, d digest.Digest) (bool, error) {
	p, err := l.blobPath(d)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Mount never links: a layout shares blobs with nothing.
func (l *Layout) Mount(ctx context.Context, d digest.Digest, from string) (bool, error) {
	return false, nil
}

// StartUpload has nothing to open: FinishUpload writes the blob.
func (l *Layout) StartUpload(ctx context.Context) (string, error) { return "", nil }

// FinishUpload writes body as blob d: into a temporary file beside its place, then, if the
// bytes are size long and hash to d, renamed into place. Nothing is kept otherwise.
func (l *Layout) FinishUpload(ctx context.Context, _ string, d digest.Digest, size int64, body io.Reader) error {
	p, err := l.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing blob %s: %w", d, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".ecrsync-upload-*")
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", d, err)
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	v := registry.VerifyReader(io.NopCloser(body), d, size)
	_, err = io.Copy(f, readerOnly{v})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("writing blob %s to %s: %w", d, l, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("writing blob %s: %w", d, err)
	}
	return nil
}

// readerOnly hides a reader's WriterTo, so io.Copy reads through the verifier's Read.
type readerOnly struct{ io.Reader }

// PutManifest stores m (once everything it names is in the layout) and, for a tag, points the
// tag at it in index.json. A manifest with a subject is listed in index.json (untagged when ref
// is its digest), which is how a layout lists referrers.
func (l *Layout) PutManifest(ctx context.Context, ref string, m *registry.Manifest) (bool, error) {
	if got := digest.FromBytes(m.Body); got != m.Descriptor.Digest {
		return false, fmt.Errorf("manifest %s: body hashes to %s: %w", m.Descriptor.Digest, got, registry.ErrDigestMismatch)
	}
	var named []ocispec.Descriptor
	named = append(named, m.Manifests...)
	if m.Config != nil {
		named = append(named, *m.Config)
	}
	for _, d := range append(named, m.Layers...) {
		if len(d.URLs) > 0 && (strings.Contains(d.MediaType, ".foreign.") || strings.Contains(d.MediaType, ".nondistributable.")) {
			continue // fetched from its URLs; never in a layout's blobs
		}
		if ok, err := l.BlobExists(ctx, d.Digest); err != nil {
			return false, err
		} else if !ok {
			return false, fmt.Errorf("manifest %s names %s, which %s lacks: %w", m.Descriptor.Digest, d.Digest, l, registry.ErrBlobUnknown)
		}
	}
	if ok, err := l.BlobExists(ctx, m.Descriptor.Digest); err != nil {
		return false, err
	} else if !ok {
		if err := l.FinishUpload(ctx, "", m.Descriptor.Digest, m.Descriptor.Size, strings.NewReader(string(m.Body))); err != nil {
			return false, err
		}
	}
	_, err := digest.Parse(ref)
	byDigest := err == nil
	if byDigest && ref != m.Descriptor.Digest.String() {
		return false, fmt.Errorf("manifest %s put under digest %s: %w", m.Descriptor.Digest, ref, registry.ErrDigestMismatch)
	}
	if byDigest && m.Subject == nil {
		return false, nil // a child, or an image the engine lists with AddRoot once complete
	}
	tag := ref
	if byDigest {
		tag = ""
	}
	return m.Subject != nil, l.list(m.Descriptor, tag)
}

// AddRoot lists d in index.json untagged, unless it is listed already.
func (l *Layout) AddRoot(ctx context.Context, d ocispec.Descriptor) error {
	return l.list(d, "")
}

// list adds d to index.json: under tag (moving the tag if another manifest had it), or
// untagged when tag is "" and d is not listed yet.
func (l *Layout) list(d ocispec.Descriptor, tag string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, err := l.index()
	if err != nil {
		return err
	}
	entry := ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType}
	if tag == "" {
		if slices.ContainsFunc(idx.Manifests, func(x ocispec.Descriptor) bool { return x.Digest == d.Digest }) {
			return nil
		}
	} else {
		entry.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(x ocispec.Descriptor) bool {
			// The tag moves; an untagged entry of the same manifest is folded into it.
			return x.Annotations[ocispec.AnnotationRefName] == tag || x.Digest == d.Digest && x.Annotations[ocispec.AnnotationRefName] == ""
		})
	}
	idx.Manifests = append(idx.Manifests, entry)
	return l.writeIndex(idx)
}

// writeAtomic writes b to path through a temporary file renamed over it.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".ecrsync-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
