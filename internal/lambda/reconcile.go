package lambda

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/reconcile"
)

// The reconcile in Lambda (docs/reconcile.md). A schedule — an EventBridge "Scheduled Event", or
// a constant {"ecrsync":"reconcile"} from EventBridge Scheduler — lists the source repositories
// and sends one SQS message per repository to ECRSYNC_RECONCILE_QUEUE_URL. The same function
// consumes that queue: each {"ecrsync":"reconcile","repository":"app"} reconciles one repository,
// well inside the 15-minute limit, and many run at once. event.Decode recognises all of them,
// also inside a mixed SQS batch and inside Lambda's on-failure record.

// EnvReconcileQueue names the SQS queue of the fan-out. Without it a schedule reconciles every
// repository in the one invocation, which suits small registries only.
const EnvReconcileQueue = "ECRSYNC_RECONCILE_QUEUE_URL"

// EnvPutRate, if set, is the manifest PUTs a second that one execution environment allows itself
// per ECR account and Region, for event-driven copies and the reconcile together: ECR's PutImage
// quota (10 by default) divided by the function's concurrency, since every environment paces
// only itself.
const EnvPutRate = "ECRSYNC_PUT_RATE"

// DefaultReconcileMargin is how long before the invocation's deadline a reconcile stops starting
// copies: enough for the copies in flight to finish and for the answer to be sent. What it did
// not reach is reported as skipped, and the message goes back to the queue.
const DefaultReconcileMargin = time.Minute

// ReconcileError is returned when a reconcile did not converge for a reason a retry can fix:
// passing failures (throttling, 5xx, timeouts) or tags not reached before the deadline. Failures
// that need action are logged and acknowledged: the next schedule tries them again anyway.
type ReconcileError struct {
	Repository string
	Report     *reconcile.Report
}

func (e *ReconcileError) Error() string {
	what := "every repository"
	if e.Repository != "" {
		what = "repository " + e.Repository
	}
	return fmt.Sprintf("reconcile of %s did not converge: %d failed, %d skipped; retrying", what, e.Report.Failed, e.Report.Skipped)
}

// reconcile handles one reconcile request: one repository, or all of them (the fan-out, or
// everything in this invocation when there is no queue).
func (h *Handler) reconcile(ctx context.Context, m event.Reconcile, res *Result) error {
	log := h.log()
	if h.Reconciler == nil {
		log.WarnContext(ctx, "reconcile request skipped: the reconcile is not set up here", "repository", m.Repository)
		return nil
	}
	if m.Repository == "" && h.Queue != nil {
		n, err := h.Reconciler.Fanout(ctx, h.Queue)
		res.Queued += n
		return err
	}
	ctx, cancel := h.deadline(ctx)
	defer cancel()
	var rep *reconcile.Report
	var err error
	if m.Repository == "" {
		rep, err = h.Reconciler.Run(ctx)
	} else {
		rep, err = h.Reconciler.Repository(ctx, m.Repository)
	}
	if err != nil {
		if m.Repository != "" && rep == nil && !errors.Is(err, context.DeadlineExceeded) {
			// A repository no rule selects (the config changed since the fan-out): nothing to retry.
			log.WarnContext(ctx, "reconcile request dropped", "repository", m.Repository, "reason", err.Error())
			return nil
		}
		return err
	}
	for _, it := range rep.Items {
		if it.Status == reconcile.Failed && !it.Retryable {
			log.ErrorContext(ctx, "reconcile needs action", "src", it.Src, "dst", it.Dst, "reason", it.Reason)
		}
	}
	res.Reports = append(res.Reports, rep)
	if rep.Skipped > 0 || rep.Failed > 0 && rep.Retryable() {
		return &ReconcileError{Repository: m.Repository, Report: rep}
	}
	return nil
}

// deadline leaves Margin of the invocation's time for the copies in flight and the answer.
func (h *Handler) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		margin := h.Margin
		if margin <= 0 {
			margin = DefaultReconcileMargin
		}
		return context.WithDeadline(ctx, d.Add(-margin))
	}
	return context.WithCancel(ctx)
}
