// Package lambda is ecrsync's invocation handler: event -> rules -> copy, and reconcile requests
// -> the reconciler. The Lambda function, `ecrsync handle`, `ecrsync replay` and `ecrsync dev`
// all go through it; internal/app builds it. It decides which failures are worth a retry: Lambda
// retries an invocation that returns an error, so only a sync that failed returns one; events
// that need no work and events no retry can fix return success.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/promote"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Outcomes of one event for one destination.
const (
	OutcomeCopied      = "copied"       // the destination now has what the source tag points at
	OutcomeInSync      = "in_sync"      // it had it already: nothing was sent
	OutcomeSkipped     = "skipped"      // the event needs no work (no rule, delete, untagged, other detail-type, other account)
	OutcomeMalformed   = "malformed"    // the event cannot be read; no retry can fix it
	OutcomeRetryable   = "retryable"    // the copy failed for a passing reason: throttling, 5xx, timeouts
	OutcomeNeedsAction = "needs_action" // the copy failed for a reason someone must fix
)

// Handler handles invocations. Its zero value is not usable: Rules and Copier are required.
type Handler struct {
	Rules  *rules.Config
	Copier reconcile.Copier
	// Reconciler handles reconcile requests; nil means they are skipped, with a warning.
	Reconciler *reconcile.Reconciler
	// Creator creates a missing destination repository when the destination has
	// create_repository, and the copy goes on in the same invocation; nil creates none.
	Creator reconcile.Creator
	// Queue, if set, takes the fan-out of a request to reconcile everything: one message per
	// repository. Without it, such a request reconciles every repository in the one invocation,
	// which suits small registries only.
	Queue reconcile.Queue
	// Margin is how long before the invocation's deadline a reconcile stops starting copies;
	// 0 means DefaultReconcileMargin.
	Margin time.Duration
	// RetryMargin is how long before the invocation's deadline copies stop retrying passing
	// failures, to leave time to report; 0 means DefaultRetryMargin.
	RetryMargin time.Duration
	// Logger gets one line per event and destination; nil discards.
	Logger *slog.Logger
	// Metrics adds CloudWatch Embedded Metric Format fields to those lines.
	Metrics bool
	// Namespace is the EMF metric namespace; empty means DefaultNamespace.
	Namespace string
	// Gate checks images against the gates of rules that have them (gate.go); required when
	// a rule has require.
	Gate *promote.Checker
	// Untagger removes destination tags for rules with propagate_deletes (delete.go).
	Untagger Untagger
}

// DefaultRetryMargin leaves the end of an invocation for the answer: copies retry passing
// failures (throttling, 5xx, resets) until the invocation's deadline less this margin, then the
// event fails as retryable and Lambda's own retries or the reconcile take it up.
const DefaultRetryMargin = 10 * time.Second

// retryDeadline sets ctx's retry deadline from the invocation's deadline, if it has one (the
// Lambda runtime's does; `ecrsync handle` and dev have none, and copies then use the client's
// retry budget).
func (h *Handler) retryDeadline(ctx context.Context) context.Context {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx
	}
	margin := h.RetryMargin
	if margin <= 0 {
		margin = DefaultRetryMargin
	}
	return registry.WithRetryDeadline(ctx, dl.Add(-margin))
}

// DefaultNamespace is the CloudWatch namespace of ecrsync's metrics.
const DefaultNamespace = "ecrsync"

// Outcome is what happened to one event for one destination (or to the event, when it needed
// no copy and Dst is empty).
type Outcome struct {
	Event        string `json:"event,omitempty"` // the event's ID
	Src          string `json:"src,omitempty"`   // host/repository:tag
	Dst          string `json:"dst,omitempty"`   // host/repository:tag
	Tag          string `json:"tag,omitempty"`
	EventDigest  string `json:"eventDigest,omitempty"` // the digest the event announced
	Digest       string `json:"digest,omitempty"`      // the digest the destination tag now points at
	Outcome      string `json:"outcome"`
	Reason       string `json:"reason,omitempty"` // why skipped, or what failed
	Fix          string `json:"fix,omitempty"`    // for needs_action: what to change
	Bytes        int64  `json:"bytes"`
	BlobsSkipped int64  `json:"blobsSkipped"`
	DurationMs   int64  `json:"durationMs"`
	// RepositoryCreated: the destination repository was missing and was created for this copy.
	RepositoryCreated bool `json:"repositoryCreated,omitempty"`
	// Gate is the verdict of the rule's gates, for a rule that has them (gate.go).
	Gate *gate.Verdict `json:"gate,omitempty"`

	err error // the failure itself, kept so SyncError unwraps to it
}

// Result is what Handle returns for anything but an SQS batch: an outcome per event and
// destination, and for a reconcile request the messages queued or the reports.
type Result struct {
	Outcomes []Outcome           `json:"outcomes,omitempty"`
	Queued   int                 `json:"queued,omitempty"` // reconcile messages sent by the fan-out
	Reports  []*reconcile.Report `json:"reports,omitempty"`
}

// SyncError is returned when copying an event's image failed for at least one destination.
// Retryable says whether running the same event again later may succeed unchanged. It unwraps
// to the copies' own errors (errors.Is(err, registry.ErrDenied) holds for a denied copy); its
// message names each failed destination with its reason and fix, for the runtime's error report.
type SyncError struct {
	Retryable bool
	Failed    []Outcome
	Err       error
}

func (e *SyncError) Error() string {
	class := "needs action"
	if e.Retryable {
		class = "retryable"
	}
	var parts []string
	for _, o := range e.Failed {
		p := o.Dst + ": " + o.Reason
		if o.Fix != "" {
			p += " (fix: " + o.Fix + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("sync failed, %s: %s", class, strings.Join(parts, "; "))
}

func (e *SyncError) Unwrap() error { return e.Err }

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// HandlePush copies what a push calls for to every matching destination, in parallel; one
// failing destination does not stop the others. The destination tag follows the source tag:
// what the tag points at now is copied, whatever digest the event announced (events arrive
// late, out of order and twice), so the same event twice sends nothing the second time.
// The error, if any, is a *SyncError.
func (h *Handler) HandlePush(ctx context.Context, p event.Push) ([]Outcome, error) {
	log := h.log()
	skip := func(reason string, level slog.Level) ([]Outcome, error) {
		o := Outcome{Event: p.ID, Tag: p.Tag, EventDigest: p.Digest, Outcome: OutcomeSkipped, Reason: reason}
		if p.Repository != "" {
			o.Src = p.String()
		}
		log.Log(ctx, level, "event", outcomeAttrs(o)...)
		return []Outcome{o}, nil
	}
	switch {
	case p.Action == event.ActionScan:
		return h.handleScan(ctx, p) // scan.go
	case p.Action == event.ActionDelete && h.Rules.PropagatesDeletes(p.Repository, p.Tag):
		return h.handleDelete(ctx, p) // delete.go
	}
	if reason := p.SkipReason(); reason != "" {
		return skip(reason, slog.LevelInfo)
	}
	if ok, why := h.Rules.FromSource(p); !ok {
		return skip(why, slog.LevelWarn)
	}
	targets := h.Rules.Match(p.Repository, p.Tag)
	if len(targets) == 0 {
		return skip("no rule matches "+p.Repository+":"+p.Tag, slog.LevelInfo)
	}
	// Requests go only to hosts the config names: the source's, never the event's.
	srcRepo, err := name.NewRepository(h.Rules.Source.Host()+"/"+p.Repository, name.StrictValidation)
	if err != nil {
		o := Outcome{Event: p.ID, Outcome: OutcomeMalformed, Reason: err.Error()}
		log.ErrorContext(ctx, "event", outcomeAttrs(o)...)
		return []Outcome{o}, nil
	}
	outs := make([]Outcome, len(targets))
	var wg sync.WaitGroup
	memo := &gateMemo{}
	for i, t := range targets {
		wg.Go(func() { outs[i] = h.copyOne(ctx, p, srcRepo, t, memo) })
	}
	wg.Wait()
	return outs, h.finish(ctx, outs, targets)
}

// finish logs each outcome against its target and returns the SyncError of the failed ones
// (retryable if any is), or nil when none failed.
func (h *Handler) finish(ctx context.Context, outs []Outcome, targets []rules.Target) error {
	var failed []Outcome
	var errs []error
	retryable := false
	for i, o := range outs {
		h.logOutcome(ctx, o, targets[i])
		if o.Outcome == OutcomeRetryable || o.Outcome == OutcomeNeedsAction {
			failed = append(failed, o)
			err := o.err
			if err == nil {
				err = errors.New(o.Reason)
			}
			errs = append(errs, err)
			retryable = retryable || o.Outcome == OutcomeRetryable
		}
	}
	if len(failed) > 0 {
		return &SyncError{Retryable: retryable, Failed: failed, Err: errors.Join(errs...)}
	}
	return nil
}

// failWith records err as o's failure for target t: retryable if the engine says another
// attempt may succeed, else needs_action with what to fix (fixFor).
func (o *Outcome) failWith(err error, t rules.Target) {
	o.Reason, o.err = err.Error(), err
	if replicate.Retryable(err) {
		o.Outcome = OutcomeRetryable
	} else {
		o.Outcome, o.Fix = OutcomeNeedsAction, fixFor(err, t)
	}
}

// maxFollow bounds the copies one event makes of one tag while the source tag keeps moving.
const maxFollow = 3

func (h *Handler) copyOne(ctx context.Context, p event.Push, srcRepo name.Repository, t rules.Target, memo *gateMemo) Outcome {
	start := time.Now()
	o := Outcome{Event: p.ID, Src: srcRepo.String() + ":" + p.Tag, Dst: t.String(), Tag: p.Tag, EventDigest: p.Digest}
	dstRepo, err := name.NewRepository(t.Host+"/"+t.Repository, name.StrictValidation)
	if err != nil {
		o.Outcome, o.Reason = OutcomeNeedsAction, err.Error()
		o.Fix = "the destination repository template makes an invalid name"
		return o
	}
	if pol := h.Rules.Rules[t.Rule].Policy(); pol != nil {
		return h.copyGated(ctx, o, start, srcRepo, dstRepo, t, p.Tag, pol, memo)
	}
	// Copy by tag: the engine reads what the source tag points at now, compares it with what the
	// destination tag points at, and sends only what is missing. Copies of one tag by handlers
	// that started at different times can finish out of order, the older digest last; so after a
	// copy that put something, look once more: the last writer then always leaves the source's
	// current digest. Bounded: a tag pushed faster than it copies is left to the next event.
	var res *replicate.Result
	copied := false
	for attempt := 0; attempt < maxFollow; attempt++ {
		var r *replicate.Result
		r, err = h.copy(ctx, srcRepo, p.Tag, dstRepo, p.Tag, t)
		if !o.RepositoryCreated {
			var again bool
			if again, err = h.createMissing(ctx, p.Repository, t, err); again {
				o.RepositoryCreated = true
				r, err = h.copy(ctx, srcRepo, p.Tag, dstRepo, p.Tag, t)
			}
		}
		if r != nil {
			if res != nil {
				r.BytesSent += res.BytesSent
				r.BlobsSkipped += res.BlobsSkipped
			}
			res = r
		}
		if err != nil || r.UpToDate {
			break
		}
		copied = true
	}
	if res != nil && copied {
		res.UpToDate = false
	}
	o.DurationMs = time.Since(start).Milliseconds()
	if res != nil {
		o.Digest, o.Bytes, o.BlobsSkipped = res.Digest.String(), res.BytesSent, res.BlobsSkipped
	}
	if err != nil {
		o.failWith(err, t)
		if o.Outcome == OutcomeNeedsAction && p.Action == event.ActionPush && goneFromSource(err) {
			// The event said the image existed: not "never pushed", but gone since.
			o.Fix = "the source no longer has the image the push event announced (deleted or retagged since): nothing to copy"
		}
		return o
	}
	o.Outcome = OutcomeCopied
	if res.UpToDate {
		o.Outcome = OutcomeInSync
	}
	return o
}

// copy copies srcRef of srcRepo to dstRef of dstRepo for target t: the platforms of t's rule
// if it has any (so the destination holds that selection, and is in sync when its tag points
// at the selection's digest), else the whole image.
func (h *Handler) copy(ctx context.Context, srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string, t rules.Target) (*replicate.Result, error) {
	if ps := h.Rules.Rules[t.Rule].Platforms; len(ps) > 0 {
		return h.Copier.CopyRefPlatforms(ctx, srcRepo, srcRef, dstRepo, dstRef, ps)
	}
	return h.Copier.CopyRef(ctx, srcRepo, srcRef, dstRepo, dstRef)
}

// createMissing creates t's missing destination repository after a copy failed with copyErr
// (reconcile.CreateMissing): it returns copyErr unchanged when there is nothing to create, the
// creation's error when that failed, and again when the copy should run again.
func (h *Handler) createMissing(ctx context.Context, srcRepository string, t rules.Target, copyErr error) (again bool, err error) {
	again, cerr := reconcile.CreateMissing(ctx, h.Creator, h.log(), srcRepository, t, copyErr)
	if cerr != nil {
		return false, cerr
	}
	return again, copyErr
}

// fixFor says what someone must change so that a failed copy to t succeeds: the engine's hint
// (replicate.Hint, the one place fix text is written, or reconcile.Fix for a missing
// repository), or how to replay the event once the reason is dealt with.
func fixFor(err error, t rules.Target) string {
	if h := reconcile.Fix(err, t); h != "" {
		return h
	}
	return "see the reason; replay the event with `ecrsync handle` once it is fixed"
}

// goneFromSource reports whether a copy failed because the source has no such image.
func goneFromSource(err error) bool {
	var ce *replicate.CopyError
	return errors.As(err, &ce) && ce.Side == replicate.Src &&
		(errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrRepositoryNotFound))
}

func joinSync(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	merged := &SyncError{}
	for _, err := range errs {
		var se *SyncError
		if errors.As(err, &se) {
			merged.Retryable = merged.Retryable || se.Retryable
			merged.Failed = append(merged.Failed, se.Failed...)
		}
	}
	merged.Err = errors.Join(errs...)
	return merged
}
