package reconcile

import (
	"context"
	"regexp"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Statuses of --prune.
const (
	Pruned       Status = "deleted"      // the destination tag was gone from the source; removed
	PlannedPrune Status = "would_delete" // and this was a dry run
)

// Untagger removes one tag from a destination, never an image another tag names (the Lambda's
// lambda.Untagger; internal/app builds it).
type Untagger interface {
	Untag(ctx context.Context, t rules.Target) error
}

// referrerTagRE matches the tags that carry referrers (sha256-<hex>, cosign's .sig/.att/.sbom):
// they follow their image and are never pruned on their own.
var referrerTagRE = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.[a-z]+)?$`)

// prune removes, from the destinations of rules with propagate_deletes that select repo, the
// tags such a rule selects that the source no longer has (Options.Prune). It lists the source's
// tags once more (the listing for the copies is not kept) and each destination's with the OCI
// tag list (ecr:ListImages on ECR destinations).
func (r *Reconciler) prune(ctx context.Context, repo string) []Item {
	targets := r.cfg.DeleteTargets(repo)
	if !r.opts.Prune || len(targets) == 0 {
		return nil
	}
	srcName := r.cfg.Source.Host() + "/" + repo
	tags, err := r.lister.Tags(ctx, repo)
	if err != nil {
		return []Item{{Src: srcName, Status: Failed, Reason: "prune: " + err.Error(), Retryable: replicate.Retryable(err)}}
	}
	have := make(map[string]bool, len(tags))
	for _, t := range tags {
		have[t.Name] = true
	}
	var items []Item
	for _, tg := range targets {
		dst, err := name.NewRepository(tg.Host+"/"+tg.Repository, name.StrictValidation)
		if err != nil {
			continue
		}
		dstTags, err := r.client.Repository(dst).Tags(ctx)
		if err != nil {
			items = append(items, Item{Src: srcName, Dst: dst.String(), Status: Failed, Reason: "prune: listing tags: " + err.Error(),
				Fix: replicate.Hint(err), Retryable: replicate.Retryable(err)})
			continue
		}
		for _, tag := range dstTags {
			if have[tag] || referrerTagRE.MatchString(tag) || !r.cfg.SelectsTag(tg.Rule, tag) {
				continue
			}
			t := tg
			t.Tag = tag
			it := Item{Src: srcName + ":" + tag, Dst: t.String(), Tag: tag, Status: PlannedPrune, Reason: "gone from the source"}
			if !r.opts.DryRun {
				if r.opts.Untagger == nil {
					it.Status, it.Reason = Failed, "prune: no untagger"
				} else if err := r.opts.Untagger.Untag(ctx, t); err != nil {
					it.Status, it.Reason, it.Fix, it.Retryable = Failed, err.Error(), replicate.Hint(err), replicate.Retryable(err)
				} else {
					it.Status = Pruned
					r.log.InfoContext(ctx, "pruned", "src", it.Src, "dst", it.Dst)
				}
			}
			items = append(items, it)
		}
	}
	return items
}
