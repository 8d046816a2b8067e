package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// The reconcile in Lambda (docs/reconcile.md). A schedule — an EventBridge "Scheduled Event", or
// a constant {"ecrsync":"reconcile"} from EventBridge Scheduler — lists the source repositories
// and sends one SQS message per repository to ECRSYNC_RECONCILE_QUEUE_URL. The same function
// consumes that queue: each {"ecrsync":"reconcile","repository":"app"} reconciles one repository,
// well inside the 15-minute limit, and many run at once. Everything else goes to the event
// Handler unchanged, also inside a mixed SQS batch.

// EnvReconcileQueue names the SQS queue of the fan-out. Without it a schedule reconciles every
// repository in the one invocation, which suits small registries only.
const EnvReconcileQueue = "ECRSYNC_RECONCILE_QUEUE_URL"

// EnvPutRate, if set, is the manifest PUTs a second that one invocation's reconcile allows itself
// per ECR account and Region: ECR's PutImage quota (10 by default) divided by the reconcile
// queue's maximum concurrency, since every invocation paces only itself.
const EnvPutRate = "ECRSYNC_PUT_RATE"

// DefaultReconcileMargin is how long before the invocation's deadline a reconcile stops starting
// copies: enough for the copies in flight to finish and for the answer to be sent. What it did
// not reach is reported as skipped, and the message goes back to the queue.
const DefaultReconcileMargin = time.Minute

// SQSAPI is the SQS call the fan-out makes (*sqs.Client).
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// ReconcileOptions configure NewReconciling. The zero value reads the queue URL from the
// environment and uses the default AWS configuration.
type ReconcileOptions struct {
	// QueueURL is the fan-out queue; empty means $ECRSYNC_RECONCILE_QUEUE_URL.
	QueueURL string
	// SQS sends to it; nil means an SQS client from the default AWS configuration.
	SQS SQSAPI
	// Margin: 0 means DefaultReconcileMargin.
	Margin time.Duration
	// Env and Options configure the reconcile itself.
	Env     reconcile.Env
	Options reconcile.Options
}

// Reconciling is the function's handler when the reconcile is on: reconcile requests are
// handled here, everything else by Events.
type Reconciling struct {
	Events     *Handler
	Reconciler *reconcile.Reconciler
	Queue      reconcile.Queue // nil: a schedule reconciles everything in one invocation
	Margin     time.Duration
	Logger     *slog.Logger
}

// NewReconciling wraps the event handler h with the reconcile of cfg. The Lambda entry point
// serves its Handle instead of h.Handle:
//
//	r, err := NewReconciling(ctx, h, cfg, ReconcileOptions{Env: reconcile.Env{Logger: log}})
//	awslambda.StartWithOptions(r.Handle, ...)
func NewReconciling(ctx context.Context, h *Handler, cfg *rules.Config, o ReconcileOptions) (*Reconciling, error) {
	log := o.Env.Logger
	if log == nil {
		log = h.log()
		o.Env.Logger = log
	}
	if v := os.Getenv(EnvPutRate); v != "" && o.Env.ECRPutRate == 0 {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive number of PUTs a second", EnvPutRate, v)
		}
		o.Env.ECRPutRate = rate
	}
	rc, _, err := reconcile.NewFromConfig(ctx, cfg, o.Env, o.Options)
	if err != nil {
		return nil, err
	}
	r := &Reconciling{Events: h, Reconciler: rc, Margin: o.Margin, Logger: log}
	if r.Margin <= 0 {
		r.Margin = DefaultReconcileMargin
	}
	url := o.QueueURL
	if url == "" {
		url = os.Getenv(EnvReconcileQueue)
	}
	if url != "" {
		api := o.SQS
		if api == nil {
			var awsCfg aws.Config
			if o.Env.AWS != nil {
				awsCfg = *o.Env.AWS
			} else if awsCfg, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
				return nil, fmt.Errorf("loading AWS configuration: %w", err)
			}
			api = sqs.NewFromConfig(awsCfg)
		}
		r.Queue = &SQSQueue{API: api, URL: url}
	}
	return r, nil
}

// ReconcileResult is what a reconcile invocation returns.
type ReconcileResult struct {
	Queued  int                 `json:"queued,omitempty"` // messages sent by the fan-out
	Reports []*reconcile.Report `json:"reports,omitempty"`
}

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

// Handle handles one invocation: a reconcile request (direct, scheduled, or SQS messages),
// or anything else through the event handler.
func (r *Reconciling) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		Records    []json.RawMessage `json:"Records"`
		DetailType string            `json:"detail-type"`
		Source     string            `json:"source"`
	}
	if json.Unmarshal(payload, &probe) != nil {
		return r.Events.Handle(ctx, payload)
	}
	if m, ok := reconcile.ParseMessage(payload); ok {
		return r.request(ctx, m)
	}
	switch {
	case probe.DetailType == "Scheduled Event" && probe.Source == "aws.events":
		return r.request(ctx, reconcile.Message{Ecrsync: reconcile.MessageKind})
	case probe.Records != nil:
		return r.batch(ctx, payload, probe.Records)
	}
	return r.Events.Handle(ctx, payload)
}

// request handles one reconcile request: one repository, or all of them (the fan-out, or
// everything in this invocation when there is no queue).
func (r *Reconciling) request(ctx context.Context, m reconcile.Message) (ReconcileResult, error) {
	if m.Repository == "" && r.Queue != nil {
		n, err := r.Reconciler.Fanout(ctx, r.Queue)
		return ReconcileResult{Queued: n}, err
	}
	ctx, cancel := r.deadline(ctx)
	defer cancel()
	var rep *reconcile.Report
	var err error
	if m.Repository == "" {
		rep, err = r.Reconciler.Run(ctx)
	} else {
		rep, err = r.Reconciler.Repository(ctx, m.Repository)
	}
	if err != nil {
		if m.Repository != "" && rep == nil && !errors.Is(err, context.DeadlineExceeded) {
			// A repository no rule selects (the config changed since the fan-out): nothing to retry.
			r.Logger.WarnContext(ctx, "reconcile request dropped", "repository", m.Repository, "reason", err.Error())
			return ReconcileResult{}, nil
		}
		return ReconcileResult{}, err
	}
	for _, it := range rep.Items {
		if it.Status == reconcile.Failed && !it.Retryable {
			r.Logger.ErrorContext(ctx, "reconcile needs action", "src", it.Src, "dst", it.Dst, "reason", it.Reason)
		}
	}
	res := ReconcileResult{Reports: []*reconcile.Report{rep}}
	if rep.Skipped > 0 || rep.Failed > 0 && rep.Retryable() {
		return res, &ReconcileError{Repository: m.Repository, Report: rep}
	}
	return res, nil
}

// deadline leaves Margin of the invocation's time for the copies in flight and the answer.
func (r *Reconciling) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-r.Margin))
	}
	return context.WithCancel(ctx)
}

// batch handles an SQS batch: reconcile messages here, the rest through the event handler,
// with one partial-failure answer for both.
func (r *Reconciling) batch(ctx context.Context, payload json.RawMessage, records []json.RawMessage) (any, error) {
	var rest []json.RawMessage
	type item struct {
		id string
		m  reconcile.Message
	}
	var mine []item
	for _, raw := range records {
		var rec struct {
			MessageID   string `json:"messageId"`
			Body        string `json:"body"`
			EventSource string `json:"eventSource"`
		}
		if json.Unmarshal(raw, &rec) == nil && rec.EventSource == "aws:sqs" && rec.MessageID != "" {
			if m, ok := reconcile.ParseMessage([]byte(rec.Body)); ok {
				mine = append(mine, item{rec.MessageID, m})
				continue
			}
		}
		rest = append(rest, raw)
	}
	if len(mine) == 0 {
		return r.Events.Handle(ctx, payload)
	}
	resp := BatchResponse{BatchItemFailures: []BatchItemFailure{}}
	if len(rest) > 0 {
		sub, err := json.Marshal(map[string]any{"Records": rest})
		if err != nil {
			return nil, err
		}
		out, err := r.Events.Handle(ctx, sub)
		if err != nil {
			return nil, err
		}
		if b, ok := out.(BatchResponse); ok {
			resp = b
		}
	}
	var reports []*reconcile.Report
	for _, it := range mine {
		res, err := r.request(ctx, it.m)
		reports = append(reports, res.Reports...)
		if err != nil {
			r.Logger.WarnContext(ctx, "reconcile message returned to the queue", "repository", it.m.Repository, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, BatchItemFailure{ItemIdentifier: it.id})
		}
	}
	return ReconcileBatchResponse{BatchResponse: resp, Reports: reports}, nil
}

// ReconcileBatchResponse is the SQS partial batch response with the reconcile's reports.
type ReconcileBatchResponse struct {
	BatchResponse
	Reports []*reconcile.Report `json:"reports,omitempty"`
}

// SQSQueue sends reconcile messages to an SQS queue, ten a call (SendMessageBatch's maximum),
// sending again the entries SQS reports as failed on its side.
type SQSQueue struct {
	API SQSAPI
	URL string
}

// sqsBatch is SendMessageBatch's maximum number of entries (Amazon SQS API Reference).
const sqsBatch = 10

// sqsAttempts bounds how often one entry that SQS failed on its side is sent.
const sqsAttempts = 3

// Send implements reconcile.Queue.
func (q *SQSQueue) Send(ctx context.Context, bodies []string) error {
	for start := 0; start < len(bodies); start += sqsBatch {
		chunk := bodies[start:min(start+sqsBatch, len(bodies))]
		pending := map[string]string{}
		for i, b := range chunk {
			pending[strconv.Itoa(start+i)] = b
		}
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > sqsAttempts {
				return fmt.Errorf("sqs:SendMessageBatch: %d entries not accepted after %d attempts", len(pending), sqsAttempts)
			}
			var entries []sqstypes.SendMessageBatchRequestEntry
			for id, b := range pending {
				entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(b)})
			}
			out, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
			if err != nil {
				return fmt.Errorf("sqs:SendMessageBatch: %w", err)
			}
			for _, s := range out.Successful {
				delete(pending, aws.ToString(s.Id))
			}
			for _, f := range out.Failed {
				if f.SenderFault {
					return fmt.Errorf("sqs:SendMessageBatch: entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
				}
			}
		}
	}
	return nil
}
