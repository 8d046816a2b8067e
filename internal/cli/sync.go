package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// ExitPending is `sync --dry-run`'s code when something would be copied: the destinations have
// drifted, and a real run would change them.
const ExitPending = 4

func newSync(g *globals) *cobra.Command {
	var f copyFlags
	var configPath string
	var dryRun, prune bool
	var parallel int
	var putRate float64
	cmd := &cobra.Command{
		Use:   "sync --config FILE [--dry-run] [--output json]",
		Short: "Reconcile: copy every selected tag that a destination lacks or has at another digest",
		Long: `Bring every destination in line with the source, as the rules select: list the source's
repositories (ECR: DescribeRepositories; other registries: /v2/_catalog; neither when every rule
names its repositories without globs) and their tags (ECR: ListImages; others: the tag list), check each tag in each destination with one HEAD, and copy what is missing or points
at another digest. Tags that only a destination has are left alone. A second run right after
copies nothing.

Manifest PUTs are paced per ECR account and Region (--put-rate, ECR's PutImage quota is 10 a
second by default); --parallel tags are checked and copied at once; a failure in one repository
does not stop the others. --dry-run checks and prints the plan, and copies nothing.

The config comes from --config, else from ECRSYNC_CONFIG, else from the seed's variables.

Exit codes: 0 everything is in sync, 1 something failed and needs action, 3 only passing
failures (throttling, 5xx, network): run it again, 4 (--dry-run) something would be copied.`,
		Example: `  ecrsync sync --config ecrsync.yaml --dry-run
  ecrsync sync --config ecrsync.yaml --output json > report.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			if err := f.check(); err != nil {
				return err
			}
			if parallel < 1 {
				return usageError{fmt.Errorf("--parallel must be at least 1")}
			}
			if putRate < 0 {
				return usageError{fmt.Errorf("--put-rate must not be negative")}
			}
			cfg, err := rules.Resolve(configPath, os.Getenv)
			if err != nil {
				return usageError{err}
			}
			cfg.LogWarnings(cmd.Context(), log)
			f.warn(log)
			o := f.options(log)
			o.Rules = cfg
			o.ECRPutRate = putRate
			if putRate == 0 {
				o.ECRPutRate = -1 // not paced
			}
			a, err := app.New(cmd.Context(), o)
			if err != nil {
				return err
			}
			rep, err := a.Reconciler(cfg, reconcile.Options{Jobs: parallel, DryRun: dryRun, Prune: prune}).Run(cmd.Context())
			if err != nil {
				return err
			}
			if err := printReport(g, rep); err != nil {
				return err
			}
			switch {
			case rep.Converged():
				return nil
			case rep.Failed == 0 && rep.Skipped == 0:
				return exitError{ExitPending, fmt.Errorf("%d tags would be copied, %d deleted", rep.Planned, rep.Pruned)}
			case rep.Retryable():
				return exitError{ExitRetryable, fmt.Errorf("%d failed for a passing reason, %d skipped: run it again", rep.Failed, rep.Skipped)}
			}
			return exitError{ExitFailed, fmt.Errorf("%d failed, %d skipped", rep.Failed, rep.Skipped)}
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "rules file (YAML or JSON); default: $ECRSYNC_CONFIG, then the seed's variables")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and print the plan; copy nothing")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete destination tags gone from the source, for rules with propagate_deletes (run with --dry-run first)")
	cmd.Flags().IntVar(&parallel, "parallel", reconcile.DefaultJobs, "tags checked and copied at once")
	cmd.Flags().Float64Var(&putRate, "put-rate", app.DefaultECRPutRate, "manifest PUTs a second per ECR account and Region (0: not paced)")
	f.register(cmd)
	return cmd
}

// printReport writes one line per tag that was not in sync and a summary, or the report as JSON.
func printReport(g *globals, rep *reconcile.Report) error {
	if g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	for _, it := range rep.Items {
		line := fmt.Sprintf("%-10s %s", it.Status, it.Src)
		if it.Dst != "" {
			line += " -> " + it.Dst
		}
		if it.Digest != "" {
			line += "  " + it.Digest.String()
		}
		if it.Status == reconcile.Copied {
			line += "  sent " + humanBytes(it.Bytes)
		}
		if it.Reason != "" {
			line += "  (" + it.Reason + ")"
		}
		if it.Fix != "" {
			line += "  fix: " + it.Fix
		}
		if _, err := fmt.Fprintln(g.stdout, line); err != nil {
			return err
		}
	}
	verb := "copied"
	n := rep.Copied
	if rep.DryRun {
		verb, n = "would copy", rep.Planned
	}
	_, err := fmt.Fprintf(g.stdout, "%d repositories, %d tags: %d in sync, %d %s, %d blocked, %d skipped, %d failed, %d pruned; sent %s in %s\n",
		rep.Repositories, rep.Tags, rep.InSync, n, verb, rep.Blocked, rep.Skipped, rep.Failed, rep.Pruned, humanBytes(rep.Bytes), rep.Duration.Round(time.Millisecond))
	return err
}
