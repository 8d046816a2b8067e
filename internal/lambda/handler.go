// Package lambda is ecrsync's event handler: event -> rules -> copy. The Lambda function, `ecrsync
// handle`, `ecrsync dev` and the reconcile all go through it. It decides which failures are
// worth a retry: Lambda retries an invocation that returns an error, so only a sync that failed
// returns one; events that need no work and events no retry can fix return success.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/event"
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

// Copier copies one image; *replicate.Copier is the one in use.
type Copier interface {
	CopyRef(ctx context.Context, srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string) (*replicate.Result, error)
}

// Handler handles events. Its zero value is not usable: Rules and Copier are required.
type Handler struct {
	Rules  *rules.Config
	Copier Copier
	// Logger gets one line per event and destination; nil discards.
	Logger *slog.Logger
	// Metrics adds CloudWatch Embedded Metric Format fields to those lines.
	Metrics bool
	// Namespace is the EMF metric namespace; empty means DefaultNamespace.
	Namespace string
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

	err error // the failure itself, kept so SyncError unwraps to it
}

// Result is what Handle returns for an EventBridge event or a registry notification.
type Result struct {
	Outcomes []Outcome `json:"outcomes"`
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

// Handle handles one invocation payload: an EventBridge event, an SQS batch (answered with
// partial batch failures: only the messages whose sync failed are returned to the queue), or a
// registry notification envelope. Malformed input is logged at error level and acknowledged.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	in, err := event.Decode(payload)
	if err != nil {
		o := Outcome{Outcome: OutcomeMalformed, Reason: err.Error()}
		h.log().ErrorContext(ctx, "event", outcomeAttrs(o)...)
		return Result{Outcomes: []Outcome{o}}, nil
	}
	if in.Kind == event.KindSQS {
		return h.handleBatch(ctx, in), nil
	}
	var all []Outcome
	var errs []error
	for _, r := range in.Records {
		out, err := h.handleRecord(ctx, r)
		all = append(all, out...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return Result{Outcomes: all}, joinSync(errs)
}

// BatchResponse is the SQS partial batch response (ReportBatchItemFailures).
type BatchResponse struct {
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`
	Outcomes          []Outcome          `json:"outcomes,omitempty"`
}

// BatchItemFailure names a message to return to the queue.
type BatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

func (h *Handler) handleBatch(ctx context.Context, in *event.Input) BatchResponse {
	resp := BatchResponse{BatchItemFailures: []BatchItemFailure{}}
	for _, r := range in.Records {
		out, err := h.handleRecord(ctx, r)
		resp.Outcomes = append(resp.Outcomes, out...)
		if err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, BatchItemFailure{ItemIdentifier: r.ID})
		}
	}
	return resp
}

func (h *Handler) handleRecord(ctx context.Context, r event.Record) ([]Outcome, error) {
	if r.Err != nil {
		o := Outcome{Event: r.ID, Outcome: OutcomeMalformed, Reason: r.Err.Error()}
		h.log().ErrorContext(ctx, "event", outcomeAttrs(o)...)
		return []Outcome{o}, nil
	}
	return h.HandlePush(ctx, r.Push)
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
	for i, t := range targets {
		wg.Go(func() { outs[i] = h.copyOne(ctx, p, srcRepo, t) })
	}
	wg.Wait()

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
		return outs, &SyncError{Retryable: retryable, Failed: failed, Err: errors.Join(errs...)}
	}
	return outs, nil
}

// maxFollow bounds the copies one event makes of one tag while the source tag keeps moving.
const maxFollow = 3

func (h *Handler) copyOne(ctx context.Context, p event.Push, srcRepo name.Repository, t rules.Target) Outcome {
	start := time.Now()
	o := Outcome{Event: p.ID, Src: srcRepo.String() + ":" + p.Tag, Dst: t.String(), Tag: p.Tag, EventDigest: p.Digest}
	dstRepo, err := name.NewRepository(t.Host+"/"+t.Repository, name.StrictValidation)
	if err != nil {
		o.Outcome, o.Reason = OutcomeNeedsAction, err.Error()
		o.Fix = "the destination repository template makes an invalid name"
		return o
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
		r, err = h.Copier.CopyRef(ctx, srcRepo, p.Tag, dstRepo, p.Tag)
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
		o.Reason, o.err = err.Error(), err
		if replicate.Retryable(err) {
			o.Outcome = OutcomeRetryable
		} else {
			o.Outcome, o.Fix = OutcomeNeedsAction, fixFor(err)
		}
		return o
	}
	o.Outcome = OutcomeCopied
	if res.UpToDate {
		o.Outcome = OutcomeInSync
	}
	return o
}

// fixFor says what someone must change so that a failed copy succeeds: the engine's hint
// (replicate.Hint, the one place fix text is written), or how to replay the event once the
// reason is dealt with.
func fixFor(err error) string {
	if h := replicate.Hint(err); h != "" {
		return h
	}
	return "see the reason; replay the event with `ecrsync handle` once it is fixed"
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
