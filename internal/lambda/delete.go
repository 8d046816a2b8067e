package lambda

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// OutcomeDeleted: the destination tag was removed because the source tag was (propagate_deletes).
const OutcomeDeleted = "deleted"

// Untagger removes one tag from a destination repository, and never an image another tag still
// names: ECR's BatchDeleteImage by tag for ECR registries, the OCI tag DELETE for others
// (internal/app builds it).
type Untagger interface {
	Untag(ctx context.Context, t rules.Target) error
}

// handleDelete propagates the deletion of a source tag to the destinations of every rule with
// propagate_deletes that selects it. Events arrive late and out of order: if the source tag exists
// again (pushed after the delete), nothing is deleted. A destination without the tag is in sync.
func (h *Handler) handleDelete(ctx context.Context, p event.Push) ([]Outcome, error) {
	srcRepo, err := name.NewRepository(h.Rules.Source.Host()+"/"+p.Repository, name.StrictValidation)
	if err != nil {
		return h.skipScan(ctx, p, err.Error())
	}
	client := h.client()
	if client == nil || h.Untagger == nil {
		return h.skipScan(ctx, p, "delete: this handler cannot delete tags (no untagger)")
	}
	if _, err := client.Repository(srcRepo).Head(ctx, p.Tag); err == nil {
		return h.skipScan(ctx, p, "delete: "+p.Tag+" exists again in the source (pushed after the delete): kept in the destinations")
	} else if !errors.Is(err, registry.ErrNotFound) {
		o := Outcome{Event: p.ID, Src: srcRepo.String() + ":" + p.Tag, Tag: p.Tag, Outcome: OutcomeRetryable, Reason: err.Error(), err: err}
		return []Outcome{o}, &SyncError{Retryable: replicate.Retryable(err), Failed: []Outcome{o}, Err: err}
	}
	var targets []rules.Target
	for _, t := range h.Rules.Match(p.Repository, p.Tag) {
		if h.Rules.Rules[t.Rule].PropagateDeletes {
			targets = append(targets, t)
		}
	}
	outs := make([]Outcome, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			start := time.Now()
			o := Outcome{Event: p.ID, Src: srcRepo.String() + ":" + p.Tag, Dst: t.String(), Tag: p.Tag, EventDigest: p.Digest}
			dstRepo, err := name.NewRepository(t.Host+"/"+t.Repository, name.StrictValidation)
			if err == nil {
				d := client.Repository(dstRepo)
				if desc, herr := d.Head(ctx, t.Tag); errors.Is(herr, registry.ErrNotFound) {
					o.Outcome, o.Reason = OutcomeInSync, "the destination has no tag "+t.Tag
				} else if herr != nil {
					err = herr
				} else {
					o.Digest = desc.Digest.String()
					err = h.Untagger.Untag(ctx, t)
					o.Outcome = OutcomeDeleted
				}
			}
			o.DurationMs = time.Since(start).Milliseconds()
			if err != nil {
				o.failWith(err, t)
			}
			outs[i] = o
		})
	}
	wg.Wait()
	return outs, h.finish(ctx, outs, targets)
}

// client is the registry client of the handler's gate checker (the process's one client).
func (h *Handler) client() *registry.Client {
	if h.Gate == nil {
		return nil
	}
	return h.Gate.Client
}
