package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// attestationRef is the annotation of a BuildKit attestation manifest naming the image manifest
// it attests (docker buildx: "Attestation storage").
const attestationRef = "vnd.docker.reference.digest"

// platformString is os/architecture[/variant], as --platform takes it.
func platformString(p *ocispec.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// checkPlatforms refuses --platform values that are not os/architecture[/variant].
func checkPlatforms(ps []string) error {
	for _, p := range ps {
		if n := strings.Count(p, "/"); n < 1 || n > 2 || strings.Contains(p, "//") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
			return usageError{fmt.Errorf("--platform %q: want os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7", p)}
		}
	}
	return nil
}

// copyPlatforms copies only the platforms asked for of src's index. One platform: that
// platform's manifest is copied and tagged (as crane copy --platform does). Several: their
// manifests (and the attestations of those) are copied, and a new index listing them is put
// under the tag: a new digest, so signatures of the source index do not apply to it, and the
// log says so. A source that is not an index is copied whole.
func copyPlatforms(ctx context.Context, log *slog.Logger, c *registry.Client, cp *replicate.Copier, src, dst string, platforms []string) (*replicate.Result, error) {
	srcRepo, srcRef, err := replicate.ParseReference(src)
	if err != nil {
		return nil, usageError{err}
	}
	dstRepo, dstRef, err := replicate.ParseReference(dst)
	if err != nil {
		return nil, usageError{err}
	}
	if srcRef == "" {
		srcRef = "latest"
	}
	if dstRef == "" && !strings.Contains(srcRef, ":") {
		dstRef = srcRef
	}
	top, err := c.Repository(srcRepo).Manifest(ctx, srcRef)
	if err != nil {
		return nil, &replicate.CopyError{Side: replicate.Src, Op: "fetching manifest", Ref: src, Err: err}
	}
	if !top.IsIndex() {
		log.InfoContext(ctx, "--platform: the source is a single-platform image; copying it whole", "src", src)
		return cp.CopyRef(ctx, srcRepo, srcRef, dstRepo, dstRef)
	}
	var picked []ocispec.Descriptor
	var have []string
	for _, m := range top.Manifests {
		if p := platformString(m.Platform); p != "" && p != "unknown/unknown" {
			have = append(have, p)
			if slices.Contains(platforms, p) {
				picked = append(picked, m)
			}
		}
	}
	if len(picked) == 0 {
		return nil, usageError{fmt.Errorf("--platform %s: %s has none of them; it has %s", strings.Join(platforms, ","), src, strings.Join(have, ", "))}
	}
	if len(picked) == 1 {
		if dstRef == "" {
			dstRef = picked[0].Digest.String()
		}
		return cp.CopyRef(ctx, srcRepo, picked[0].Digest.String(), dstRepo, dstRef)
	}
	// Several: the attestations of the picked manifests come along.
	for _, m := range top.Manifests {
		if ref := m.Annotations[attestationRef]; ref != "" && slices.ContainsFunc(picked, func(p ocispec.Descriptor) bool { return p.Digest.String() == ref }) {
			picked = append(picked, m)
		}
	}
	return copyNewIndex(ctx, log, c, cp, srcRepo, dstRepo, dstRef, top, picked)
}

// copyNewIndex copies children (by digest) and puts a new index of them, with top's media type
// and annotations, under dstRef.
func copyNewIndex(ctx context.Context, log *slog.Logger, c *registry.Client, cp *replicate.Copier, srcRepo, dstRepo name.Repository,
	dstRef string, top *registry.Manifest, children []ocispec.Descriptor) (*replicate.Result, error) {
	total := &replicate.Result{Src: srcRepo.String() + "@" + top.Descriptor.Digest.String(), MediaType: top.Descriptor.MediaType}
	for _, d := range children {
		r, err := cp.CopyRef(ctx, srcRepo, d.Digest.String(), dstRepo, "")
		if err != nil {
			return nil, err
		}
		total.Manifests += r.Manifests
		total.Blobs += r.Blobs
		total.BlobsMounted += r.BlobsMounted
		total.BlobsSkipped += r.BlobsSkipped
		total.BytesSent += r.BytesSent
		total.Referrers += r.Referrers
		total.Duration += r.Duration
	}
	body, err := json.Marshal(struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Manifests     []ocispec.Descriptor `json:"manifests"`
		Annotations   map[string]string    `json:"annotations,omitempty"`
	}{2, top.Descriptor.MediaType, children, top.Annotations})
	if err != nil {
		return nil, err
	}
	idx := &registry.Manifest{Descriptor: ocispec.Descriptor{MediaType: top.Descriptor.MediaType, Digest: digest.FromBytes(body), Size: int64(len(body))},
		Body: body, Manifests: children}
	if dstRef == "" {
		dstRef = idx.Descriptor.Digest.String()
	}
	total.Digest = idx.Descriptor.Digest
	total.Dst = dstRepo.String() + ":" + dstRef
	if strings.Contains(dstRef, ":") {
		total.Dst = dstRepo.String() + "@" + dstRef
	}
	if _, err := c.Repository(dstRepo).PutManifest(ctx, dstRef, idx); err != nil {
		return nil, &replicate.CopyError{Side: replicate.Dst, Op: "putting manifest", Ref: total.Dst, Err: err}
	}
	total.Manifests++
	total.DurationMs = total.Duration.Milliseconds()
	log.WarnContext(ctx, "--platform made a new index: its digest differs from the source's, so signatures and attestations of the source index do not apply to it (those of each platform's manifest do)",
		"src", total.Src, "dst", total.Dst, "digest", idx.Descriptor.Digest, "srcDigest", top.Descriptor.Digest)
	return total, nil
}
