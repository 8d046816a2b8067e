package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/rules"
)

func init() { commands = append(commands, newHandle) }

func newHandle(g *globals) *cobra.Command {
	var f copyFlags
	var configPath string
	cmd := &cobra.Command{
		Use:   "handle [--config FILE] [EVENT.json | -]",
		Short: "Handle one event as the Lambda function would: replay a push, a failed event, an SQS batch",
		Long: `Handle one event exactly as the Lambda function does: an EventBridge "ECR Image Action" event,
an SQS batch of them, or a registry notification. Use it to replay an event from the function's
on-failure destination or dead-letter queue once the cause is fixed, or to try a config.

The config comes from --config, else from ECRSYNC_CONFIG (YAML or JSON), else from the seed's
variables (SOURCE_ACCOUNT_ID, SOURCE_REGION, DESTINATION_ACCOUNT_ID, DESTINATION_REGION,
REPO_NAME, APPENV). The event is read from the file named, or from standard input.
The result (one outcome per destination) is printed as JSON on stdout.

Exit codes: 0 synced or nothing to do (malformed events included: no retry fixes them),
1 a sync failed and needs action, 3 a sync failed for a passing reason: run it again.`,
		Example: `  ecrsync handle --config ecrsync.yaml internal/event/testdata/push.json
  aws sqs receive-message --queue-url "$DLQ" --query 'Messages[0].Body' --output text | ecrsync handle -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if f.jobs < 1 {
				return usageError{fmt.Errorf("--jobs must be at least 1")}
			}
			f.warn(log)
			cfg, err := rules.Resolve(configPath, os.Getenv)
			if err != nil {
				return usageError{err}
			}
			cfg.LogWarnings(cmd.Context(), log)
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
			h, err := lambda.New(cmd.Context(), cfg, lambda.Options{Logger: log, Jobs: f.jobs, NoReferrers: f.noReferrers, Insecure: f.insecure,
				UserAgent: "ecrsync/" + Version})
			if err != nil {
				return err
			}
			res, herr := h.Handle(cmd.Context(), payload)
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
			var se *lambda.SyncError
			switch {
			case herr == nil:
				if b, ok := res.(lambda.BatchResponse); ok && len(b.BatchItemFailures) > 0 {
					return exitError{ExitFailed, fmt.Errorf("%d of the batch's messages failed", len(b.BatchItemFailures))}
				}
				return nil
			case errors.As(herr, &se) && se.Retryable:
				return exitError{ExitRetryable, herr}
			}
			return exitError{ExitFailed, herr}
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "rules file (YAML or JSON); default: $ECRSYNC_CONFIG, then the seed's variables")
	f.register(cmd)
	return cmd
}
