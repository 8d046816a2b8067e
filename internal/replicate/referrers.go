package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// referrer is a manifest that refers to the copied image: an OCI 1.1 referrer (by digest), the
// fallback tag's index (sha256-<hex>), or a cosign-style tag (sha256-<hex>.sig/.att/.sbom).
type referrer struct {
	m     *registry.Manifest
	tag   string // "" means by digest only
	depth int    // 0 refers to the image; 1 to a referrer of it; ...
}

// findReferrers lists what refers to m and, at the top, to each manifest m lists.
func (j *job) findReferrers(ctx context.Context, m *registry.Manifest, depth int) ([]referrer, error) {
	if depth >= maxReferrerDepth {
		return nil, nil
	}
	subjects := []digest.Digest{m.Descriptor.Digest}
	if depth == 0 {
		for _, c := range m.Manifests {
			subjects = append(subjects, c.Digest)
		}
	}
	// The first subject tells whether the source has a referrers API; the others are then
	// asked at once.
	first, err := j.referrersOf(ctx, subjects[0], depth)
	if err != nil {
		return nil, err
	}
	rest := make([][]referrer, len(subjects)-1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(j.cp.opts.Jobs)
	for i, s := range subjects[1:] {
		g.Go(func() (err error) { rest[i], err = j.referrersOf(gctx, s, depth); return err })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.Concat(append([][]referrer{first}, rest...)...), nil
}

func (j *job) referrersOf(ctx context.Context, s digest.Digest, depth int) ([]referrer, error) {
	var out []referrer
	add := func(m *registry.Manifest, tag string) error {
		out = append(out, referrer{m: m, tag: tag, depth: depth})
		more, err := j.findReferrers(ctx, m, depth+1)
		out = append(out, more...)
		return err
	}
	fetch := func(ref string) (*registry.Manifest, error) {
		m, err := j.src.Manifest(ctx, ref)
		if err != nil {
			return nil, &CopyError{Side: Src, Op: "fetching referrer", Ref: join(j.src.String(), ref), Err: err}
		}
		return m, nil
	}
	var descs []ocispec.Descriptor
	err := errUnsupportedKnown
	if !j.cp.lacksReferrersAPI(j.src.Host()) {
		descs, err = j.src.Referrers(ctx, s)
	}
	switch {
	case err == nil:
		for _, d := range descs {
			m, err := fetch(d.Digest.String())
			if err != nil {
				return nil, err
			}
			if err := add(m, ""); err != nil {
				return nil, err
			}
		}
	case errors.Is(err, registry.ErrUnsupported):
		j.cp.noAPI.Store(j.src.Host(), time.Now()) // the other subjects and copies need not ask
		// The registry has no referrers API: referrers are listed in an index under the fallback
		// tag. Copy them by digest; indexReferrers then writes the destination's own listing.
		if tags, err := j.srcTags(ctx); err != nil {
			return nil, err
		} else if tags[registry.TagFor(s)] {
			idx, err := fetch(registry.TagFor(s))
			if err != nil {
				return nil, err
			}
			j.mu.Lock()
			j.srcFallback[s] = idx
			j.mu.Unlock()
			for _, d := range idx.Manifests {
				m, err := fetch(d.Digest.String())
				if err != nil {
					return nil, err
				}
				if err := add(m, ""); err != nil {
					return nil, err
				}
			}
		}
	default:
		return nil, &CopyError{Side: Src, Op: "listing referrers", Ref: j.src.String() + "@" + s.String(), Err: err}
	}
	tags, err := j.srcTags(ctx)
	if err != nil {
		return nil, err
	}
	for _, suffix := range cosignSuffixes {
		if t := registry.TagFor(s) + suffix; tags[t] {
			m, err := fetch(t)
			if err != nil {
				return nil, err
			}
			if err := add(m, t); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// srcTags lists the source repository's tags once per copy.
func (j *job) srcTags(ctx context.Context) (map[string]bool, error) {
	j.tagsOnce.Do(func() {
		tags, ok := j.cp.knownTags(j.src.String())
		var err error
		if !ok {
			tags, err = j.src.Tags(ctx)
		}
		if err != nil {
			if errors.Is(err, registry.ErrNotFound) {
				err = nil
			} else {
				err = &CopyError{Side: Src, Op: "listing tags", Ref: j.src.String(), Err: err}
			}
		}
		j.tags, j.tagsErr = map[string]bool{}, err
		for _, t := range tags {
			j.tags[t] = true
		}
	})
	return j.tags, j.tagsErr
}

// copyReferrers copies referrers level by level, so a subject is in before what refers to it.
func (j *job) copyReferrers(ctx context.Context, refs []referrer) error {
	for depth := 0; depth < maxReferrerDepth; depth++ {
		g, gctx := errgroup.WithContext(ctx)
		for _, r := range refs {
			if r.depth != depth {
				continue
			}
			g.Go(func() error { return j.copyReferrer(gctx, r) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return j.indexReferrers(ctx)
}

func (j *job) copyReferrer(ctx context.Context, r referrer) error {
	if r.tag != "" {
		if have, err := j.dst.Head(ctx, r.tag); err == nil && have.Digest == r.m.Descriptor.Digest {
			return nil
		}
	} else if _, err := j.dst.Head(ctx, r.m.Descriptor.Digest.String()); err == nil {
		return nil
	}
	if err := j.copyManifest(ctx, r.m); err != nil {
		return err
	}
	if r.tag != "" {
		if err := j.putManifest(ctx, r.m, r.tag); err != nil {
			return err
		}
	}
	incr(&j.res.Referrers)
	return nil
}

// indexReferrers keeps the fallback tag (sha256-<hex>) of each subject current in a destination
// that has no referrers API, as the OCI distribution spec asks of clients ("Pushing Manifests
// with Subject"), so clients there still find signatures and SBOMs. Where the destination has no
// such tag yet and the source's lists the same referrers, the source's index is copied as is;
// otherwise the missing entries are added to the destination's.
func (j *job) indexReferrers(ctx context.Context) error {
	j.mu.Lock()
	pending := j.unindexed
	j.unindexed = nil
	j.mu.Unlock()
	bySubject := map[digest.Digest][]ocispec.Descriptor{}
	for _, m := range pending {
		bySubject[m.Subject.Digest] = append(bySubject[m.Subject.Digest], m.ReferrerDescriptor())
	}
	for s, descs := range bySubject {
		tag := registry.TagFor(s)
		idx := ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
		cur, err := j.dst.Manifest(ctx, tag)
		switch {
		case err == nil:
			if err := json.Unmarshal(cur.Body, &idx); err != nil {
				return &CopyError{Side: Dst, Op: "decoding referrers index", Ref: join(j.dst.String(), tag), Err: err}
			}
		case !errors.Is(err, registry.ErrNotFound):
			return &CopyError{Side: Dst, Op: "fetching referrers index", Ref: join(j.dst.String(), tag), Err: err}
		case lists(j.srcFallback[s], descs):
			if err := j.putManifest(ctx, j.srcFallback[s], tag); err != nil {
				return err
			}
			continue
		}
		changed := false
		for _, d := range descs {
			if !slices.ContainsFunc(idx.Manifests, func(x ocispec.Descriptor) bool { return x.Digest == d.Digest }) {
				idx.Manifests = append(idx.Manifests, d)
				changed = true
			}
		}
		if !changed {
			continue
		}
		body, err := json.Marshal(idx)
		if err != nil {
			return err
		}
		m, err := registry.ParseManifest(ocispec.MediaTypeImageIndex, body)
		if err != nil {
			return err
		}
		if err := j.putManifest(ctx, m, tag); err != nil {
			return err
		}
	}
	return nil
}

// lists reports whether index idx lists every descriptor in descs.
func lists(idx *registry.Manifest, descs []ocispec.Descriptor) bool {
	if idx == nil {
		return false
	}
	for _, d := range descs {
		if !slices.ContainsFunc(idx.Manifests, func(x ocispec.Descriptor) bool { return x.Digest == d.Digest }) {
			return false
		}
	}
	return true
}

var specsV2 = specs.Versioned{SchemaVersion: 2}

// lacksReferrersAPI reports whether host was found without a referrers API lately: a batch of
// copies asks once, and a registry upgraded meanwhile is asked again after presentTTL.
func (cp *Copier) lacksReferrersAPI(host string) bool {
	v, ok := cp.noAPI.Load(host)
	return ok && time.Since(v.(time.Time)) < presentTTL
}

// errUnsupportedKnown stands for a referrers API already found missing in this copy.
var errUnsupportedKnown = fmt.Errorf("known: %w", registry.ErrUnsupported)
