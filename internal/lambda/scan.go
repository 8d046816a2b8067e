package lambda

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// maxScanTags bounds the source tags a scan event looks through for the images it releases.
const maxScanTags = 1000

// handleScan releases the promotions a scan-complete event (ECR's "ECR Image Scan", Inspector's
// "Inspector2 Scan") may have held: every tag of the repository that a rule with a scan gate
// selects and that points at the scanned manifest, or at an index that lists it (ECR scans each
// platform's manifest, and those are untagged, so their events name no tags). Each such tag is
// promoted again as if pushed: the gates are checked anew, and a clean image is copied.
func (h *Handler) handleScan(ctx context.Context, p event.Push) ([]Outcome, error) {
	srcRepo, err := name.NewRepository(h.Rules.Source.Host()+"/"+p.Repository, name.StrictValidation)
	if err != nil || h.Gate == nil {
		return h.skipScan(ctx, p, "scan event: no rule with a scan gate holds this image")
	}
	gated := func(tag string) bool {
		for _, t := range h.Rules.Match(p.Repository, tag) {
			if pol := h.Rules.Rules[t.Rule].Policy(); pol != nil && pol.Scan != nil {
				return true
			}
		}
		return false
	}
	candidates := slices.DeleteFunc(slices.Clone(p.Tags), func(t string) bool { return !gated(t) })
	src := h.Gate.Client.Repository(srcRepo)
	tags, err := src.Tags(ctx)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return nil, &SyncError{Retryable: true, Failed: []Outcome{{Event: p.ID, Src: srcRepo.String(), Outcome: OutcomeRetryable, Reason: err.Error()}}, Err: err}
	}
	for i, tag := range tags {
		if i == maxScanTags || slices.Contains(candidates, tag) || !gated(tag) {
			continue
		}
		m, err := src.Manifest(ctx, tag)
		if err != nil {
			continue // moved or deleted since the listing: its own event handles it
		}
		if m.Descriptor.Digest.String() == p.Digest || slices.ContainsFunc(m.Manifests, func(d ocispec.Descriptor) bool { return d.Digest.String() == p.Digest }) {
			candidates = append(candidates, tag)
		}
	}
	if len(candidates) == 0 {
		return h.skipScan(ctx, p, "scan event: no tag selected by a rule with a scan gate points at "+p.Digest)
	}
	var outs []Outcome
	var errs []error
	for _, tag := range candidates {
		q := p
		q.Source, q.DetailType, q.Action, q.Result, q.Tag, q.Tags = event.SourceECR, event.DetailTypeImageAction, event.ActionPush, "SUCCESS", tag, nil
		if l, ok := h.Rules.Source.ECR(); ok {
			q.Account, q.Region = l.Account, l.Region
		}
		q.Registry = h.Rules.Source.Host()
		o, err := h.HandlePush(ctx, q)
		outs = append(outs, o...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return outs, joinSync(errs)
}

func (h *Handler) skipScan(ctx context.Context, p event.Push, reason string) ([]Outcome, error) {
	o := Outcome{Event: p.ID, EventDigest: p.Digest, Outcome: OutcomeSkipped, Reason: reason}
	if p.Repository != "" {
		o.Src = p.Registry + "/" + p.Repository
	}
	h.log().Log(ctx, slog.LevelInfo, "event", outcomeAttrs(o)...)
	return []Outcome{o}, nil
}
