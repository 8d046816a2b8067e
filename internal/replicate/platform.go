package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// attestationRef is the annotation of a BuildKit attestation manifest naming the image manifest
// it attests (docker buildx: "Attestation storage"); its platform is unknown/unknown.
const attestationRef = "vnd.docker.reference.digest"

// PlatformString is os/architecture[/variant], as --platform and a rule's platforms write it;
// "" for no platform.
func PlatformString(p *ocispec.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// PlatformError is a platform selection the source image cannot meet: it has none of the
// platforms asked for. No retry can fix it (it is wrapped in a *PermanentError); Hint names
// the platforms the image has.
type PlatformError struct {
	Ref  string   // the source image
	Want []string // the platforms asked for
	Have []string // the platforms its index lists
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("platforms %s: %s has none of them; it has %s", strings.Join(e.Want, ", "), e.Ref, strings.Join(e.Have, ", "))
}

// Selection is what a platform selection of one source manifest puts under the destination tag.
type Selection struct {
	// Digest is what the destination tag points at once the selection is copied: the source's
	// own digest (Whole), the one platform's manifest, or the new index's.
	Digest digest.Digest
	// Whole: the source is copied as it is, bit for bit: it is not an index, or the platforms
	// asked for are every one it has.
	Whole bool
	// Children are the manifests to copy by digest: the one platform's, or those the new index
	// lists (the chosen platforms' manifests and their attestations, in the source's order).
	Children []ocispec.Descriptor
	// Index is the new index when several platforms are chosen from more; nil otherwise.
	Index *registry.Manifest
}

// SelectPlatforms chooses platforms (os/architecture[/variant]) of top, without a request:
// the same top and platforms always give the same Selection and digest, so a caller can tell
// whether a destination already holds the selection by comparing digests. One platform is that
// platform's manifest; several are a new index of their manifests (and of the attestation
// manifests that attest them), with top's media type and annotations; a top that is not an
// index, or whose every platform is asked for, is whole. A platform top lacks is no error as
// long as one is found; none found is a *PlatformError (wrapped in a *PermanentError).
func SelectPlatforms(top *registry.Manifest, platforms []string) (*Selection, error) {
	if !top.IsIndex() || len(platforms) == 0 {
		return &Selection{Digest: top.Descriptor.Digest, Whole: true}, nil
	}
	var picked, have []string
	var images []ocispec.Descriptor
	for _, m := range top.Manifests {
		p := PlatformString(m.Platform)
		if p == "" || p == "unknown/unknown" {
			continue
		}
		have = append(have, p)
		if slices.Contains(platforms, p) {
			picked = append(picked, m.Digest.String())
			images = append(images, m)
		}
	}
	switch {
	case len(images) == 0:
		return nil, &PermanentError{Err: &PlatformError{Want: platforms, Have: have}}
	case len(images) == 1:
		return &Selection{Digest: images[0].Digest, Children: images}, nil
	}
	// Several: the source's order, the attestations of the chosen manifests with them.
	var children []ocispec.Descriptor
	for _, m := range top.Manifests {
		if slices.Contains(picked, m.Digest.String()) || slices.Contains(picked, m.Annotations[attestationRef]) {
			children = append(children, m)
		}
	}
	if len(children) == len(top.Manifests) {
		return &Selection{Digest: top.Descriptor.Digest, Whole: true}, nil
	}
	body, err := json.Marshal(struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Manifests     []ocispec.Descriptor `json:"manifests"`
		Annotations   map[string]string    `json:"annotations,omitempty"`
	}{2, top.Descriptor.MediaType, children, top.Annotations})
	if err != nil {
		return nil, &PermanentError{Err: fmt.Errorf("writing the new index: %w", err)}
	}
	idx := &registry.Manifest{Body: body, Manifests: children, Annotations: top.Annotations,
		Descriptor: ocispec.Descriptor{MediaType: top.Descriptor.MediaType, Digest: digest.FromBytes(body), Size: int64(len(body))}}
	return &Selection{Digest: idx.Descriptor.Digest, Children: children, Index: idx}, nil
}

// CopyRefPlatforms is CopyPlatforms between registry repositories, as CopyRef is CopyTarget.
func (cp *Copier) CopyRefPlatforms(ctx context.Context, srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string, platforms []string) (*Result, error) {
	return cp.CopyPlatforms(ctx, cp.c.Repository(srcRepo), srcRef, cp.c.Repository(dstRepo), dstRef, platforms)
}

// CopyPlatforms copies only the platforms asked for (os/architecture[/variant]) of srcRef to
// dstRef, as SelectPlatforms chooses them; no platforms is CopyTarget, the whole image bit for
// bit. One platform: that platform's manifest is copied and tagged (as crane copy --platform
// does). Several: their manifests (and their attestations, and each one's referrers) are copied
// by digest, then the new index is put under dstRef, last, as every copy tags last. The new
// index is a new digest: signatures and attestations of the source index do not apply to it,
// and the log says so when it is put. A copy whose destination tag already points at the
// selection's digest is UpToDate. An empty dstRef means srcRef when it is a tag, else by digest
// only.
func (cp *Copier) CopyPlatforms(ctx context.Context, src Target, srcRef string, dst Target, dstRef string, platforms []string) (*Result, error) {
	if len(platforms) == 0 {
		return cp.CopyTarget(ctx, src, srcRef, dst, dstRef)
	}
	start := time.Now()
	policy := cp.c.RetryPolicy()
	ctx = registry.WithRetryDeadline(ctx, policy.Deadline(ctx, policy.Now()))
	if dstRef == "" && !isDigest(srcRef) {
		dstRef = srcRef
	}
	srcName := join(src.String(), srcRef)
	top, err := src.Manifest(ctx, srcRef)
	if err != nil {
		return nil, &CopyError{Side: Src, Op: "fetching manifest", Ref: srcName, Err: err}
	}
	sel, err := SelectPlatforms(top, platforms)
	if pe := (*PlatformError)(nil); errors.As(err, &pe) {
		pe.Ref = srcName
	}
	switch {
	case err != nil:
		return nil, err
	case sel.Whole:
		// Bit for bit, by the digest just read: what was selected is what is copied.
		if dstRef == "" {
			dstRef = top.Descriptor.Digest.String()
		}
		return cp.CopyTarget(ctx, src, top.Descriptor.Digest.String(), dst, dstRef)
	case sel.Index == nil:
		if dstRef == "" {
			dstRef = sel.Digest.String()
		}
		return cp.CopyTarget(ctx, src, sel.Digest.String(), dst, dstRef)
	}
	if dstRef == "" {
		dstRef = sel.Digest.String()
	}
	if isDigest(dstRef) && dstRef != sel.Digest.String() {
		return nil, permanent("destination digest %s differs from the selection's %s: a copy cannot change a digest", dstRef, sel.Digest)
	}
	total := &Result{Src: srcName, Dst: join(dst.String(), dstRef), Digest: sel.Digest, MediaType: sel.Index.Descriptor.MediaType, UpToDate: true}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range sel.Children {
		g.Go(func() error {
			r, err := cp.CopyTarget(gctx, src, d.Digest.String(), dst, "")
			if r != nil {
				mu.Lock()
				total.add(r)
				mu.Unlock()
			}
			return err
		})
	}
	err = g.Wait()
	if err == nil {
		var have ocispec.Descriptor
		have, err = dst.Head(ctx, dstRef)
		switch {
		case err == nil && have.Digest == sel.Digest:
		case err == nil || errors.Is(err, registry.ErrNotFound):
			total.UpToDate = false
			j := &job{cp: cp, src: src, dst: dst, res: total}
			err = j.putManifest(ctx, sel.Index, dstRef)
			if r, ok := dst.(Rooted); ok && err == nil && isDigest(dstRef) {
				if err = r.AddRoot(ctx, sel.Index.Descriptor); err != nil {
					err = &CopyError{Side: Dst, Op: "listing image", Ref: total.Dst, Err: err}
				}
			}
		default:
			err = &CopyError{Side: Dst, Op: "checking", Ref: total.Dst, Err: err}
		}
	}
	total.Duration = time.Since(start)
	total.DurationMs = total.Duration.Milliseconds()
	log := cp.log.With("src", total.Src, "dst", total.Dst, "digest", total.Digest, "platforms", strings.Join(platforms, ","))
	if err != nil {
		log.WarnContext(ctx, "copy failed", "err", err, "retryable", Retryable(err), "class", Classify(err), "bytes", total.BytesSent, "durationMs", total.DurationMs)
		return total, err
	}
	if !total.UpToDate {
		log.WarnContext(ctx, "the platforms asked for make a new index: its digest differs from the source's, so signatures and attestations "+
			"of the source index do not apply to it (those of each platform's manifest do, and were copied)", "srcDigest", top.Descriptor.Digest)
	}
	log.InfoContext(ctx, "copied", "upToDate", total.UpToDate, "bytes", total.BytesSent, "blobs", total.Blobs,
		"blobsSkipped", total.BlobsSkipped, "blobsMounted", total.BlobsMounted, "manifests", total.Manifests,
		"referrers", total.Referrers, "durationMs", total.DurationMs)
	return total, nil
}

// add counts r's work into res; res stays UpToDate only while every part was.
func (res *Result) add(r *Result) {
	res.UpToDate = res.UpToDate && r.UpToDate
	res.Manifests += r.Manifests
	res.Blobs += r.Blobs
	res.BlobsMounted += r.BlobsMounted
	res.BlobsSkipped += r.BlobsSkipped
	res.BytesSent += r.BytesSent
	res.Referrers += r.Referrers
}
