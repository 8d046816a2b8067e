package lambda

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/reconcile"
)

// Handle handles one invocation payload, whatever event.Decode reads: an EventBridge event, a
// registry notification, a reconcile request (a schedule's, or one repository's), Lambda's
// on-failure record of one of them, or an SQS batch of any of these (answered with partial
// batch failures: only the messages that failed go back to the queue). Malformed input is
// logged at error level and acknowledged: no retry can fix it.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	ctx = h.retryDeadline(ctx)
	in, err := event.Decode(payload)
	if err != nil {
		o := Outcome{Outcome: OutcomeMalformed, Reason: err.Error()}
		h.log().ErrorContext(ctx, "event", outcomeAttrs(o)...)
		return Result{Outcomes: []Outcome{o}}, nil
	}
	if in.Kind == event.KindSQS {
		return h.handleBatch(ctx, in), nil
	}
	var res Result
	var errs []error
	for _, r := range in.Records {
		if err := h.handleRecord(ctx, r, &res); err != nil {
			errs = append(errs, err)
		}
	}
	return res, joinSync(errs)
}

// BatchResponse is the SQS partial batch response (ReportBatchItemFailures), with what was done.
type BatchResponse struct {
	events.SQSEventResponse
	Outcomes []Outcome           `json:"outcomes,omitempty"`
	Reports  []*reconcile.Report `json:"reports,omitempty"`
}

func (h *Handler) handleBatch(ctx context.Context, in *event.Input) BatchResponse {
	resp := BatchResponse{SQSEventResponse: events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}}
	for _, r := range in.Records {
		var res Result
		if err := h.handleRecord(ctx, r, &res); err != nil {
			if r.Reconcile != nil {
				h.log().WarnContext(ctx, "reconcile message returned to the queue", "repository", r.Reconcile.Repository, "err", err)
			}
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.ID})
		}
		resp.Outcomes = append(resp.Outcomes, res.Outcomes...)
		resp.Reports = append(resp.Reports, res.Reports...)
	}
	return resp
}

// handleRecord handles one record, adding what it did to res.
func (h *Handler) handleRecord(ctx context.Context, r event.Record, res *Result) error {
	switch {
	case r.Err != nil:
		o := Outcome{Event: r.ID, Outcome: OutcomeMalformed, Reason: r.Err.Error()}
		h.log().ErrorContext(ctx, "event", outcomeAttrs(o)...)
		res.Outcomes = append(res.Outcomes, o)
		return nil
	case r.Reconcile != nil:
		return h.reconcile(ctx, *r.Reconcile, res)
	}
	outs, err := h.HandlePush(ctx, r.Push)
	res.Outcomes = append(res.Outcomes, outs...)
	return err
}

// Failed reports whether a result of Handle says something failed, and whether all of it may
// pass when run again: a returned error, or (for an SQS batch) messages returned to the queue.
// `ecrsync handle` and `ecrsync replay` turn it into an exit code.
func Failed(res any, err error) (failed, retryable bool) {
	if b, ok := res.(BatchResponse); ok && err == nil {
		return len(b.BatchItemFailures) > 0, false
	}
	if err == nil {
		return false, false
	}
	var se *SyncError
	var re *ReconcileError
	return true, errors.As(err, &se) && se.Retryable || errors.As(err, &re)
}

// Malformed reports whether a result of Handle says some input could not be read: the Lambda
// acknowledges it (no retry can fix it), while `ecrsync replay` keeps it in the queue for a person.
func Malformed(res any) bool {
	var outs []Outcome
	switch r := res.(type) {
	case Result:
		outs = r.Outcomes
	case BatchResponse:
		outs = r.Outcomes
	}
	for _, o := range outs {
		if o.Outcome == OutcomeMalformed {
			return true
		}
	}
	return false
}
