package replicate

import (
	"context"
	"errors"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// Plan says what Copy(src, dst) would send, and writes nothing: it reads the source's manifests
// and asks the destination which manifests and blobs it holds. In the Result, Manifests, Blobs
// and BytesSent are what would be put and uploaded, BlobsSkipped what the destination has, and
// UpToDate that the destination tag already holds the image. Referrers are not counted.
func (cp *Copier) Plan(ctx context.Context, src, dst string) (*Result, error) {
	srcRepo, srcRef, dstRepo, dstRef, err := parsePair(src, dst)
	if err != nil {
		return nil, err
	}
	if dstRef == "" && !isDigest(srcRef) {
		dstRef = srcRef
	}
	s, d := cp.c.Repository(srcRepo), cp.c.Repository(dstRepo)
	res := &Result{Src: join(srcRepo.String(), srcRef)}
	top, err := s.Manifest(ctx, srcRef)
	if err != nil {
		return nil, &CopyError{Side: Src, Op: "fetching manifest", Ref: res.Src, Err: err}
	}
	res.Digest, res.MediaType = top.Descriptor.Digest, top.Descriptor.MediaType
	if dstRef == "" {
		dstRef = top.Descriptor.Digest.String()
	}
	res.Dst = join(dstRepo.String(), dstRef)
	if have, err := d.Head(ctx, dstRef); err == nil && have.Digest == top.Descriptor.Digest {
		res.UpToDate = true
		return res, nil
	} else if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return nil, &CopyError{Side: Dst, Op: "checking", Ref: res.Dst, Err: err}
	}
	p := &plan{src: s, dst: d, res: res, blobs: map[digest.Digest]bool{}}
	if err := p.manifest(ctx, top, false); err != nil {
		return nil, err
	}
	return res, nil
}

// plan walks a manifest tree for Plan.
type plan struct {
	src, dst *registry.Repository
	res      *Result
	mu       sync.Mutex
	blobs    map[digest.Digest]bool // seen
}

// manifest counts m (put, unless check finds it in the destination) and what it refers to.
func (p *plan) manifest(ctx context.Context, m *registry.Manifest, check bool) error {
	if check {
		if _, err := p.dst.Head(ctx, m.Descriptor.Digest.String()); err == nil {
			return nil // there, and complete by the registry's own invariant
		} else if !errors.Is(err, registry.ErrNotFound) {
			return &CopyError{Side: Dst, Op: "checking manifest", Ref: p.dst.String() + "@" + m.Descriptor.Digest.String(), Err: err}
		}
	}
	p.mu.Lock()
	p.res.Manifests++
	p.mu.Unlock()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(DefaultJobs)
	for _, c := range m.Manifests {
		g.Go(func() error {
			child, err := p.src.Manifest(ctx, c.Digest.String())
			if err != nil {
				return &CopyError{Side: Src, Op: "fetching manifest", Ref: p.src.String() + "@" + c.Digest.String(), Err: err}
			}
			return p.manifest(ctx, child, true)
		})
	}
	blobs := m.Layers
	if m.Config != nil {
		blobs = append([]ocispec.Descriptor{*m.Config}, blobs...)
	}
	for _, b := range blobs {
		p.mu.Lock()
		seen := p.blobs[b.Digest]
		p.blobs[b.Digest] = true
		p.mu.Unlock()
		if seen || nonDistributable(b.MediaType) {
			continue
		}
		g.Go(func() error {
			ok, err := p.dst.BlobExists(ctx, b.Digest)
			if err != nil {
				return &CopyError{Side: Dst, Op: "checking blob", Ref: p.dst.String() + "@" + b.Digest.String(), Err: err}
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			if ok {
				p.res.BlobsSkipped++
			} else {
				p.res.Blobs++
				p.res.BytesSent += b.Size
			}
			return nil
		})
	}
	return g.Wait()
}
