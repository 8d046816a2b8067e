package lambda

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Logger returns the function's logger: lambdacontext.NewLogger() (slog with the request ID,
// honouring AWS_LAMBDA_LOG_LEVEL) when the function's log format is JSON, as the Terraform module
// sets it; otherwise the same JSON lines written directly, since EMF needs JSON. Either way a
// line logged with the invocation's context (InfoContext and friends) carries its request ID.
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
