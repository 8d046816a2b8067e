// Package promote checks an image in a source registry against a rule's gates (internal/gate)
// before anything is sent: it reads the cosign signatures stored beside the image (the
// sha256-<hex>.sig tag, and Sigstore bundles attached as OCI 1.1 referrers) and the scan findings of the image, or of every child of an index, and
// returns a gate.Verdict. Nothing is written anywhere.
package promote

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// DefaultPollInterval is how often a scan in progress is asked again while a promotion waits:
// ECR's basic scan of a small image takes tens of seconds, and DescribeImageScanFindings allows
// a few requests a second per account.
const DefaultPollInterval = 5 * time.Second

// Checker checks images against policies. Client is required.
type Checker struct {
	Client *registry.Client
	// Scans returns the scan reader of the registry at host (ECR's DescribeImageScanFindings
	// through the source reader role); nil, or a nil reader, means the registry has no scans.
	Scans func(host string) gate.ScanReader
	// Keys resolves KMS key references; nil means a KMS key cannot be used (and says so).
	Keys gate.KeySource
	// Now and Sleep are the clock a scan wait runs on; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) bool
	// PollInterval is how often a pending scan is asked again; 0 means DefaultPollInterval.
	PollInterval time.Duration
	Logger       *slog.Logger
}

func (c *Checker) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Checker) sleep(ctx context.Context, d time.Duration) bool {
	if c.Sleep == nil {
		return registry.Sleep(ctx, d)
	}
	return c.Sleep(ctx, d)
}

func (c *Checker) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Check reads what ref (a tag or digest) of repo points at now and checks it against p. The
// verdict names that digest: a caller that promotes it must copy exactly that digest, never the
// tag again, or a tag moved in between would pass ungated. An error means the check could not
// be made (the registry or ECR failed): it is not a verdict.
func (c *Checker) Check(ctx context.Context, repo name.Repository, ref string, p *gate.Policy) (*gate.Verdict, error) {
	src := c.Client.Repository(repo)
	m, err := src.Manifest(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("reading %s:%s to check its gates: %w", repo, ref, err)
	}
	v := &gate.Verdict{Digest: m.Descriptor.Digest.String()}
	if len(p.Keys) > 0 {
		if err := c.signatures(ctx, src, m.Descriptor.Digest, p.Keys, v); err != nil {
			return nil, err
		}
	}
	if p.Scan != nil {
		if err := c.scans(ctx, repo, m, *p.Scan, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// signatures looks for a signature of d by one of keys: the layers of the sha256-<hex>.sig
// manifest (cosign's tag form), then the Sigstore bundles referring to d (cosign v3's form). An index is signed as a whole: its signature covers the index
// digest, and so every child, whose digests the index's bytes fix; children's own signatures
// are neither needed nor consulted.
func (c *Checker) signatures(ctx context.Context, src *registry.Repository, d digest.Digest, keys []gate.Key, v *gate.Verdict) error {
	resolved := make([]gate.Key, 0, len(keys))
	var why []string // why each key or signature verified nothing
	for _, k := range keys {
		v.KeysTried = append(v.KeysTried, k.Name)
		if k.Public == nil && k.KMS != "" {
			if c.Keys == nil {
				why = append(why, "KMS key "+k.KMS+" cannot be read here (no KMS client)")
				continue
			}
			pub, err := c.Keys.PublicKey(ctx, k.KMS)
			if err != nil {
				// Throttling or KMS's own fault: the check could not be made, try again later.
				// A denied, missing or disabled key verifies nothing until someone acts: the
				// other keys may still verify; if none does, the reason names this key.
				if registry.Classify(err).Retryable() {
					return fmt.Errorf("reading the public key of %s (kms:GetPublicKey): %w", k.KMS, err)
				}
				c.log().WarnContext(ctx, "signature key unusable", "key", k.KMS, "err", err)
				why = append(why, err.Error())
				continue
			}
			k.Public = pub
		}
		resolved = append(resolved, k)
	}
	sigTag := registry.TagFor(d) + ".sig"
	sm, err := src.Manifest(ctx, sigTag)
	switch {
	case errors.Is(err, registry.ErrNotFound):
	case err != nil:
		return fmt.Errorf("reading signatures %s:%s: %w", src, sigTag, err)
	default:
		for i, l := range sm.Layers {
			v.Signatures++
			who, reason, err := c.checkLayer(ctx, src, d, l, resolved)
			if err != nil {
				return err
			}
			if who != "" {
				v.SignedBy = who
				return nil
			}
			why = append(why, fmt.Sprintf("%s layer %d: %s", sigTag, i, reason))
		}
	}
	// The Sigstore bundle form (cosign v3): referrers of d whose artifact type is a bundle.
	refs, err := c.referrers(ctx, src, d)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if !gate.IsBundleType(r.ArtifactType) {
			continue
		}
		v.Signatures++
		who, reason, err := c.checkBundle(ctx, src, d, r.Digest, resolved)
		if err != nil {
			return err
		}
		if who != "" {
			v.SignedBy = who
			return nil
		}
		why = append(why, fmt.Sprintf("bundle %s: %s", r.Digest, reason))
	}
	if v.Signatures == 0 {
		why = append([]string{fmt.Sprintf("not signed: no signature of %s (looked for tag %s and Sigstore bundle referrers)", d, sigTag)}, why...)
		v.Block("%s", join(why))
		return nil
	}
	v.Block("no valid signature by a trusted key (%s) among %d: %s", join(v.KeysTried), v.Signatures, join(why))
	return nil
}

// referrers lists the referrers of d: the OCI 1.1 referrers API, or the sha256-<hex> fallback
// tag's index where the registry has no such API (cosign v3 writes one or the other). An entry
// without an artifactType gets the one its manifest says.
func (c *Checker) referrers(ctx context.Context, src *registry.Repository, d digest.Digest) ([]ocispec.Descriptor, error) {
	refs, err := src.Referrers(ctx, d)
	if errors.Is(err, registry.ErrUnsupported) {
		idx, ferr := src.Manifest(ctx, registry.TagFor(d))
		switch {
		case errors.Is(ferr, registry.ErrNotFound):
			return nil, nil
		case ferr != nil:
			return nil, fmt.Errorf("reading the referrers tag %s:%s: %w", src, registry.TagFor(d), ferr)
		}
		refs, err = idx.Manifests, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s@%s: %w", src, d, err)
	}
	for i, r := range refs {
		if r.ArtifactType == "" {
			m, err := src.Manifest(ctx, r.Digest.String())
			if err != nil {
				return nil, fmt.Errorf("reading referrer %s@%s: %w", src, r.Digest, err)
			}
			refs[i].ArtifactType = m.ReferrerDescriptor().ArtifactType
		}
	}
	return refs, nil
}

// checkBundle verifies one Sigstore bundle referrer: its layer is the bundle JSON, which must
// verify under one of keys and sign d (gate.Bundle.Verify). It returns the key's name, or why
// the bundle signs nothing.
func (c *Checker) checkBundle(ctx context.Context, src *registry.Repository, d, ref digest.Digest, keys []gate.Key) (string, string, error) {
	m, err := src.Manifest(ctx, ref.String())
	if err != nil {
		return "", "", fmt.Errorf("reading bundle %s@%s: %w", src, ref, err)
	}
	var layer *ocispec.Descriptor
	for i, l := range m.Layers {
		if gate.IsBundleType(l.MediaType) {
			layer = &m.Layers[i]
			break
		}
	}
	switch {
	case layer == nil:
		return "", "no layer of a Sigstore bundle media type", nil
	case layer.Size > gate.MaxBundle:
		return "", fmt.Sprintf("bundle of %d bytes is larger than %d", layer.Size, gate.MaxBundle), nil
	}
	b, err := readBlob(ctx, src, *layer, gate.MaxBundle, "bundle")
	if err != nil {
		return "", "", err
	}
	bundle, err := gate.ParseBundle(b)
	if err != nil {
		return "", err.Error(), nil
	}
	who, err := bundle.Verify(keys, d)
	if err != nil {
		return "", err.Error(), nil
	}
	return who, "", nil
}

// checkLayer verifies one simple-signing layer: the payload must name d, and its signature
// must verify under one of keys. It returns the key's name, or why the layer signs nothing.
func (c *Checker) checkLayer(ctx context.Context, src *registry.Repository, d digest.Digest, l ocispec.Descriptor, keys []gate.Key) (string, string, error) {
	if l.MediaType != gate.MediaTypeSimpleSigning {
		return "", "media type " + l.MediaType + " is not a simple-signing payload", nil
	}
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[gate.AnnotationSignature])
	if err != nil || len(sig) == 0 {
		return "", "no " + gate.AnnotationSignature + " annotation", nil
	}
	if l.Size > gate.MaxPayload {
		return "", fmt.Sprintf("payload of %d bytes is larger than %d", l.Size, gate.MaxPayload), nil
	}
	payload, err := readBlob(ctx, src, l, gate.MaxPayload, "signature payload")
	if err != nil {
		return "", "", err
	}
	// The signature is checked over the bytes first; a payload is believed only once signed.
	signer := ""
	for _, k := range keys {
		if gate.VerifySignature(k.Public, payload, sig) {
			signer = k.Name
			break
		}
	}
	if signer == "" {
		return "", "signature is not by any trusted key", nil
	}
	if _, err := gate.CheckPayload(payload, d); err != nil {
		return "", fmt.Sprintf("signed by %s, but %v", signer, err), nil
	}
	return signer, "", nil
}

// scans judges the scan of m, or of each of its children when it is an index: ECR scans each
// platform's image manifest, never the index, so an index passes only if every child does.
// Attestation manifests in an index (buildx's, platform unknown/unknown) are not images and are
// not scanned by ECR; they are left out.
func (c *Checker) scans(ctx context.Context, repo name.Repository, m *registry.Manifest, p gate.ScanPolicy, v *gate.Verdict) error {
	var reader gate.ScanReader
	if c.Scans != nil {
		reader = c.Scans(repo.RegistryStr())
	}
	if reader == nil {
		if !p.Optional {
			v.Block("no scan: %s has no scan findings API (ECR's DescribeImageScanFindings); set scan: {required: false} to promote unscanned images from it", repo.RegistryStr())
		}
		return nil
	}
	digests := []string{m.Descriptor.Digest.String()}
	if m.IsIndex() {
		digests = nil
		for _, ch := range m.Manifests {
			if ch.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
				continue
			}
			digests = append(digests, ch.Digest.String())
		}
	}
	wait := p.Wait
	if wait == 0 {
		wait = gate.DefaultScanWait
	}
	poll := c.PollInterval
	if poll == 0 {
		poll = DefaultPollInterval
	}
	deadline := c.now().Add(wait)
	var results []*gate.ScanResult
	for _, d := range digests {
		r, err := c.findings(ctx, reader, repo.RepositoryStr(), d, deadline, poll)
		if errors.Is(err, gate.ErrNoScan) {
			if !p.Optional {
				v.Block("no scan of %s: turn on scan on push or enhanced scanning for %s (or set scan: {required: false})", d, repo.RepositoryStr())
			}
			continue
		}
		if err != nil {
			return err
		}
		results = append(results, r)
		if gate.ScanWaiting(r.Status) {
			v.Pending = true
		}
	}
	v.Scans = results
	for _, why := range p.Judge(results) {
		v.Block("%s", why)
	}
	if v.Pending {
		v.Reasons = append(v.Reasons, fmt.Sprintf("held: waited %s for the scan; its completion event releases the promotion", wait))
	}
	return nil
}

// findings reads one manifest's scan, asking again while it is in progress until deadline.
func (c *Checker) findings(ctx context.Context, reader gate.ScanReader, repository, d string, deadline time.Time, poll time.Duration) (*gate.ScanResult, error) {
	for {
		r, err := reader.Findings(ctx, repository, d)
		if err != nil {
			if errors.Is(err, gate.ErrNoScan) {
				return nil, err
			}
			return nil, fmt.Errorf("reading scan findings of %s@%s: %w", repository, d, err)
		}
		if r.Digest == "" {
			r.Digest = d
		}
		left := deadline.Sub(c.now())
		if !gate.ScanWaiting(r.Status) || left <= 0 {
			return r, nil
		}
		c.log().DebugContext(ctx, "scan in progress; waiting", "repository", repository, "digest", d, "status", r.Status, "left", left)
		if !c.sleep(ctx, min(poll, left)) {
			return nil, ctx.Err()
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// readBlob reads the blob of l, at most max+1 bytes of it; what names it in the error.
func readBlob(ctx context.Context, src *registry.Repository, l ocispec.Descriptor, max int64, what string) ([]byte, error) {
	rc, err := src.Blob(ctx, l.Digest, l.Size)
	if err != nil {
		return nil, fmt.Errorf("reading %s %s@%s: %w", what, src, l.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s %s@%s: %w", what, src, l.Digest, err)
	}
	return b, nil
}
