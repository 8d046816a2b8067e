package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/rules"
)

func newHandle(g *globals) *cobra.Command {
	var f copyFlags
	var configPath string
	cmd := &cobra.Command{
		Use:   "handle [--config FILE] [EVENT.json | -]",
		Short: "Handle one invocation as the Lambda function would: replay a push, a failed event, a reconcile request",
		Long: `Handle one invocation exactly as the Lambda function does: an EventBridge "ECR Image Action"
event, a registry notification, a reconcile request ({"ecrsync":"reconcile"} for everything, with
"repository" for one; a "Scheduled Event" means everything), Lambda's on-failure record of any of
these (as the function's failure queue holds them: the event is its requestPayload), or an SQS
batch of them. Use it to replay a message from the failure or dead-letter queues once the cause
is fixed (ecrsync replay QUEUE-URL drains a whole queue), or to try a config.

The config comes from --config, else from ECRSYNC_CONFIG (YAML or JSON), else from the seed's
variables (SOURCE_ACCOUNT_ID, SOURCE_REGION, DESTINATION_ACCOUNT_ID, DESTINATION_REGION,
REPO_NAME, APPENV). The event is read from the file named, or from standard input.
The result (one outcome per destination) is printed as JSON on stdout; -o text prints one line
per outcome (and the reconcile summary) instead.

Exit codes: 0 synced or nothing to do (malformed events included: no retry fixes them),
1 a sync failed and needs action, 3 a sync failed for a passing reason: run it again.`,
		Example: `  ecrsync handle --config ecrsync.yaml internal/event/testdata/push.json
  aws sqs receive-message --queue-url "$FAILURES" --query 'Messages[0].Body' --output text | ecrsync handle -
  echo '{"ecrsync":"reconcile","repository":"app"}' | ecrsync handle --config ecrsync.yaml -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, cfg, err := f.setup(g, configPath)
			if err != nil {
				return err
			}
			var in io.Reader = g.stdin
			if len(args) == 1 && args[0] != "-" {
				file, err := os.Open(args[0])
				if err != nil {
					return usageError{err}
				}
				defer file.Close()
				in = file
			}
			payload, err := io.ReadAll(io.LimitReader(in, event.MaxInput+1))
			if err != nil {
				return fmt.Errorf("reading the event: %w", err)
			}
			a, err := f.app(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			h := a.Handler(cfg, app.HandlerOptions{})
			res, herr := h.Handle(cmd.Context(), payload)
			if err := printHandled(g, cmd.Flag("output").Changed, res); err != nil {
				return err
			}
			switch failed, retryable := lambda.Failed(res, herr); {
			case !failed:
				return nil
			case herr == nil:
				return exitError{ExitFailed, fmt.Errorf("%d of the batch's messages failed", len(res.(lambda.BatchResponse).BatchItemFailures))}
			case retryable:
				return exitError{ExitRetryable, herr}
			}
			return exitError{ExitFailed, herr}
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "rules file (YAML or JSON); default: $ECRSYNC_CONFIG, then the seed's variables")
	f.register(cmd)
	return cmd
}

// setup reads what the commands that handle invocations (handle, replay) share: the logger,
// --jobs and the rules.
func (f *copyFlags) setup(g *globals, configPath string) (*slog.Logger, *rules.Config, error) {
	log, err := g.logger()
	if err != nil {
		return nil, nil, err
	}
	if f.jobs < 1 {
		return nil, nil, usageError{fmt.Errorf("--jobs must be at least 1")}
	}
	f.warn(log)
	cfg, err := rules.Resolve(configPath, os.Getenv)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return log, cfg, nil
}

// app builds what `handle` and `replay` run invocations through: the function's handler, with a
// reconcile that runs in this process (no fan-out queue).
func (f *copyFlags) app(ctx context.Context, cfg *rules.Config, log *slog.Logger) (*app.App, error) {
	o := f.options(log)
	o.Rules = cfg
	o.QuietCopies = true // the handler writes one line per event and destination
	return app.New(ctx, o)
}

// printHandled writes what Handle returned: JSON unless -o text was asked for (text is the
// other commands' default, but a replayed invocation's result is for machines first).
func printHandled(g *globals, outputSet bool, res any) error {
	if !outputSet || g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	var outs []lambda.Outcome
	var reps []*reconcile.Report
	switch r := res.(type) {
	case lambda.Result:
		outs, reps = r.Outcomes, r.Reports
		if r.Queued > 0 {
			fmt.Fprintf(g.stdout, "queued   %d reconcile messages\n", r.Queued)
		}
	case lambda.BatchResponse:
		outs, reps = r.Outcomes, r.Reports
		if n := len(r.BatchItemFailures); n > 0 {
			fmt.Fprintf(g.stdout, "returned %d messages to the queue\n", n)
		}
	}
	report(g.stdout, outs, true)
	for _, rep := range reps {
		if err := printReport(g, rep); err != nil {
			return err
		}
	}
	return nil
}

// report prints one line per outcome: what was copied, and for a failure why and what to do;
// skipped outcomes only if skipped is set.
func report(out io.Writer, outs []lambda.Outcome, skipped bool) {
	for _, o := range outs {
		switch o.Outcome {
		case lambda.OutcomeCopied, lambda.OutcomeInSync:
			fmt.Fprintf(out, "%-8s %s -> %s  %s  %s in %dms\n", o.Outcome, o.Src, o.Dst, o.Digest, humanBytes(o.Bytes), o.DurationMs)
		case lambda.OutcomeSkipped:
			if skipped {
				fmt.Fprintf(out, "%-8s %s  (%s)\n", o.Outcome, o.Src, o.Reason)
			}
		case lambda.OutcomeMalformed:
			fmt.Fprintf(out, "%-8s %s\n", o.Outcome, o.Reason)
		default:
			line := fmt.Sprintf("%-8s %s -> %s  %s", o.Outcome, o.Src, o.Dst, o.Reason)
			if o.Fix != "" {
				line += "  fix: " + o.Fix
			}
			fmt.Fprintln(out, line)
		}
	}
}
