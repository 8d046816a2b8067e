package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/queue"
)

// DefaultReplayVisibility is how long, in seconds, a message being replayed stays hidden from
// other consumers: long enough for one image's copy; a message whose replay failed comes back
// after it, for the next replay.
const DefaultReplayVisibility = 300

func newReplay(g *globals) *cobra.Command {
	var f copyFlags
	var configPath string
	var visibility int32
	cmd := &cobra.Command{
		Use:   "replay [--config FILE] QUEUE-URL",
		Short: "Drain a failure or dead-letter queue: handle each message as the Lambda would, delete what succeeded",
		Long: `Receive every message of an SQS queue — the function's failure queue (Lambda's on-failure records),
the EventBridge dead-letter queue (ECR events), the reconcile dead-letter queue (reconcile
requests) — and handle each exactly as ` + "`ecrsync handle`" + ` would. A message is deleted only after it was
handled without failure; one that fails, or that cannot be read, stays in the queue and becomes
visible again after --visibility seconds, for a later replay or a person. Replaying is safe: copies compare digests first.

The config comes from --config, else from ECRSYNC_CONFIG, else from the seed's variables. The
queue is reached with the AWS credentials of the environment. A JSON report goes to stdout.

Exit codes: 0 every message handled (or none there), 1 some failed and stay in the queue.`,
		Example: `  ecrsync replay --config ecrsync.json "$(terraform output -raw failure_queue_url)"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if visibility < 0 || visibility > 43200 {
				return usageError{fmt.Errorf("--visibility must be 0 to 43200 seconds (SQS's limit)")}
			}
			log, cfg, err := f.setup(g, configPath)
			if err != nil {
				return err
			}
			a, err := f.app(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			q, err := a.Queue(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			h := a.Handler(cfg, app.HandlerOptions{})
			rep, err := q.Drain(cmd.Context(), visibility, func(ctx context.Context, m queue.Message) error {
				res, err := h.Handle(ctx, json.RawMessage(m.Body))
				if failed, _ := lambda.Failed(res, err); failed {
					log.WarnContext(ctx, "replay failed: the message stays in the queue", "message", m.ID, "err", err)
					return fmt.Errorf("message %s failed", m.ID)
				}
				if lambda.Malformed(res) {
					log.ErrorContext(ctx, "message not readable: it stays in the queue for a person to look at", "message", m.ID)
					return fmt.Errorf("message %s is malformed", m.ID)
				}
				return nil
			})
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "  ")
			if eerr := enc.Encode(rep); eerr != nil {
				return eerr
			}
			if err != nil {
				return err
			}
			if len(rep.Failed) > 0 {
				return exitError{ExitFailed, fmt.Errorf("%d of %d messages failed and stay in the queue", len(rep.Failed), rep.Received)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "rules file (YAML or JSON); default: $ECRSYNC_CONFIG, then the seed's variables")
	cmd.Flags().Int32Var(&visibility, "visibility", DefaultReplayVisibility, "seconds a message stays hidden while it is replayed")
	f.register(cmd)
	return cmd
}
