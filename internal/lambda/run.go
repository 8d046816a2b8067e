package lambda

import (
	"context"
	"log/slog"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Run is the Lambda entry point: it reads the config (ECRSYNC_CONFIG or the seed's variables),
// builds the handler and serves invocations until the runtime stops the process. A bad config
// fails the init phase, with the bad field named in the log.
func Run(ctx context.Context, userAgent string) int {
	log := Logger()
	cfg, err := rules.Resolve("", os.Getenv)
	if err != nil {
		log.Error("config", "err", err)
		return 1
	}
	cfg.LogWarnings(ctx, log)
	h, err := New(ctx, cfg, Options{Logger: log, Metrics: true, UserAgent: userAgent})
	if err != nil {
		log.Error("init", "err", err)
		return 1
	}
	// Pushes, SQS batches, and the scheduled reconcile with its per-repository fan-out.
	rh, err := NewReconciling(ctx, h, cfg, ReconcileOptions{Env: reconcile.Env{Logger: log, UserAgent: userAgent}})
	if err != nil {
		log.Error("init", "err", err)
		return 1
	}
	awslambda.StartWithOptions(rh.Handle, awslambda.WithContext(ctx), awslambda.WithEnableSIGTERM())
	return 0
}

// Logger returns the function's logger: lambdacontext.NewLogger() (slog with the request ID,
// honouring AWS_LAMBDA_LOG_LEVEL) when the function's log format is JSON, as the Terraform module
// sets it; otherwise the same JSON lines written directly, since EMF needs JSON.
func Logger() *slog.Logger {
	if os.Getenv("AWS_LAMBDA_LOG_FORMAT") == "JSON" {
		return lambdacontext.NewLogger()
	}
	level := slog.LevelInfo
	level.UnmarshalText([]byte(os.Getenv("AWS_LAMBDA_LOG_LEVEL")))
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(&requestID{h})
}

// requestID adds the invocation's request ID to every record, as lambdacontext's handler does.
type requestID struct{ slog.Handler }

func (h *requestID) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *requestID) WithAttrs(a []slog.Attr) slog.Handler { return &requestID{h.Handler.WithAttrs(a)} }
func (h *requestID) WithGroup(n string) slog.Handler      { return &requestID{h.Handler.WithGroup(n)} }
