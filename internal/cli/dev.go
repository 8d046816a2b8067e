//go:build devstack

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// devFlags are `ecrsync dev`'s options.
type devFlags struct {
	copyFlags
	config  string
	dataDir string
	srcAddr string
	dstAddr string
	demo    bool
	timeout time.Duration
}

func newDev(g *globals) *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev [--demo] [--config FILE] [--data-dir DIR]",
		Short: "Run the whole event-driven sync on this machine: two embedded registries, no AWS",
		Long: `Start a source and a destination registry (CNCF distribution, on 127.0.0.1) in one process
and sync every push to the source that the rules match, through the same event -> rules -> copy
path the Lambda function uses: the source registry's push notifications stand in for
EventBridge's ECR events. Push with any client (docker, crane, oras, skopeo, regctl) to the
source address printed, and watch the copy appear in the destination.

Rules: every repository and tag, by default; --config takes the same rules file as the Lambda
and the CLI, with its source and destination registries replaced by the embedded ones.
Storage: a temporary directory removed on exit, or --data-dir to keep it across restarts.
Ctrl-C stops it.

--demo pushes a generated multi-platform image with a signature, waits for the sync, prints
source and destination digests side by side and exits: 0 if every one matches.`,
		Example: `  ecrsync dev --demo
  ecrsync dev --src-addr 127.0.0.1:5000 --dst-addr 127.0.0.1:5001 &
  crane append -f layer.tar -t 127.0.0.1:5000/app:dev    # or: crane push image.tar, docker push, oras push
  crane digest 127.0.0.1:5001/app:dev                     # the same digest, synced`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), g, f, log)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "rules file (YAML or JSON); its registries are replaced by the embedded ones")
	fl.StringVar(&f.dataDir, "data-dir", "", "keep the registries' storage here, across restarts (default: a temporary directory removed on exit)")
	fl.StringVar(&f.srcAddr, "src-addr", "127.0.0.1:0", "source registry listen address (127.0.0.1 only)")
	fl.StringVar(&f.dstAddr, "dst-addr", "127.0.0.1:0", "destination registry listen address (127.0.0.1 only)")
	fl.BoolVar(&f.demo, "demo", false, "push a generated multi-platform image with a signature, check the sync, print a table and exit")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "with --demo: how long to wait for the sync")
	return cmd
}

func runDev(ctx context.Context, g *globals, f devFlags, log *slog.Logger) error {
	// Rules first: a bad file fails before anything starts.
	if f.config != "" {
		if _, err := rules.LoadFile(f.config); err != nil {
			return usageError{err}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := devstack.StartStack(ctx, devstack.StackOptions{SrcAddr: f.srcAddr, DstAddr: f.dstAddr, DataDir: f.dataDir, Logger: log})
	if err != nil {
		return usageError{err}
	}
	defer s.Close()
	cfg, err := devRules(f.config, s.Src.Addr, s.Dst.Addr)
	if err != nil {
		return usageError{err}
	}
	var demoDst string
	if f.demo {
		// Say at once when the rules would never sync the demo's image, instead of waiting.
		ts := cfg.Match(devstack.DemoRepository, devstack.DemoTag)
		if len(ts) == 0 {
			return usageError{fmt.Errorf("--demo pushes %s:%s, which no rule of %s selects: add %q (or a glob that matches it) to a rule's repositories and its tag to the tags, or run --demo without --config",
				devstack.DemoRepository, devstack.DemoTag, f.config, devstack.DemoRepository)}
		}
		demoDst = ts[0].Repository
	}
	// The embedded registries need no credentials, and no AWS configuration is loaded.
	a, err := app.New(ctx, app.Options{Rules: cfg, Logger: log, QuietCopies: true, Insecure: f.insecure, UserAgent: "ecrsync/" + Version,
		Fallback: devstack.Anonymous{}, Copy: replicate.Options{Jobs: f.jobs, NoReferrers: f.noReferrers}})
	if err != nil {
		return err
	}
	h := a.Handler(cfg, app.HandlerOptions{})
	var mu sync.Mutex
	s.Serve(ctx, func(ctx context.Context, p event.Push, last bool) error {
		outs, err := h.HandlePush(ctx, p)
		if err == nil || last {
			mu.Lock()
			report(g.stdout, outs, false)
			mu.Unlock()
		}
		return err
	})
	fmt.Fprintf(g.stdout, "source      %s\ndestination %s\n", s.Src.Addr, s.Dst.Addr)
	if f.demo {
		if err := s.Demo(ctx, g.stdout, f.timeout, demoDst); err != nil {
			return exitError{ExitFailed, err}
		}
		return nil
	}
	fmt.Fprintf(g.stdout, "push to %s/REPOSITORY:TAG; Ctrl-C stops\n", s.Src.Addr)
	<-ctx.Done()
	return nil
}

// devRules loads the rules file, or makes the default (everything), and points it at the
// embedded registries.
func devRules(path, src, dst string) (*rules.Config, error) {
	cfg := &rules.Config{Rules: []rules.Rule{{Destinations: []rules.Destination{{}}}}}
	if path != "" {
		c, err := rules.LoadFile(path)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	cfg.Source = rules.Registry{Registry: src}
	for i := range cfg.Rules {
		for j := range cfg.Rules[i].Destinations {
			cfg.Rules[i].Destinations[j].Registry = rules.Registry{Registry: dst}
		}
	}
	return cfg, cfg.Validate()
}
