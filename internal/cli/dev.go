package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

func init() { commands = append(commands, newDev) }

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
  crane copy alpine.tar 127.0.0.1:5000/app:dev     # or: oras push, regctl image copy, skopeo copy
  crane digest 127.0.0.1:5001/app:dev`,
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

// devRetries bounds the attempts `ecrsync dev` makes at a push whose sync failed.
const devRetries = 3

// stack is a running `ecrsync dev`.
type stack struct {
	src, dst *devstack.Registry
	handler  *lambda.Handler
	queue    chan event.Push
	hook     *http.Server
	log      *slog.Logger
	out      io.Writer

	mu  sync.Mutex
	tmp string // storage made for this run, removed on close

	changed chan struct{}
}

func runDev(ctx context.Context, g *globals, f devFlags, log *slog.Logger) error {
	for _, a := range []string{f.srcAddr, f.dstAddr} {
		if host, _, err := net.SplitHostPort(a); err != nil || !registry.IsLoopback(host) {
			return usageError{fmt.Errorf("address %q: the dev registries listen on loopback only (127.0.0.1:PORT)", a)}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := startStack(ctx, f, log, g.stdout)
	if err != nil {
		return err
	}
	defer s.close()
	fmt.Fprintf(g.stdout, "source      %s\ndestination %s\n", s.src.Addr, s.dst.Addr)
	if f.demo {
		return s.demo(ctx, g.stdout, f.timeout)
	}
	fmt.Fprintf(g.stdout, "push to %s/REPOSITORY:TAG; Ctrl-C stops\n", s.src.Addr)
	<-ctx.Done()
	return nil
}

func startStack(ctx context.Context, f devFlags, log *slog.Logger, out io.Writer) (*stack, error) {
	s := &stack{queue: make(chan event.Push, 1024), log: log, out: out, changed: make(chan struct{}, 1)}
	// The webhook the source registry notifies, on a port of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.hook = &http.Server{Handler: http.HandlerFunc(s.notified), ReadHeaderTimeout: 10 * time.Second}
	go s.hook.Serve(ln)

	// Storage on disk even without --data-dir: distribution's in-memory driver copies a blob as it
	// grows, which takes minutes for a layer of a few hundred MiB. A temporary directory is
	// removed on exit.
	root := f.dataDir
	if root == "" {
		tmp, err := os.MkdirTemp("", "ecrsync-dev-")
		if err != nil {
			s.close()
			return nil, err
		}
		s.tmp, root = tmp, tmp
	}
	dir := func(name string) string { return filepath.Join(root, name) }
	if s.src, err = devstack.Start(ctx, devstack.Options{Addr: f.srcAddr, DataDir: dir("src"), NotifyURL: "http://" + ln.Addr().String() + "/events"}); err != nil {
		s.close()
		return nil, fmt.Errorf("starting the source registry: %w", err)
	}
	if s.dst, err = devstack.Start(ctx, devstack.Options{Addr: f.dstAddr, DataDir: dir("dst")}); err != nil {
		s.close()
		return nil, fmt.Errorf("starting the destination registry: %w", err)
	}
	cfg, err := devRules(f.config, s.src.Addr, s.dst.Addr)
	if err != nil {
		s.close()
		return nil, usageError{err}
	}
	s.handler, err = lambda.New(ctx, cfg, lambda.Options{Logger: log, Jobs: f.jobs, NoReferrers: f.noReferrers, Insecure: f.insecure,
		UserAgent: "ecrsync/" + Version, AWS: &aws.Config{}, Fallback: devstack.Anonymous{}})
	if err != nil {
		s.close()
		return nil, err
	}
	go s.work(ctx)
	return s, nil
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

// notified receives the source registry's notifications and queues their pushes: the registry
// waits for our answer, so the copy happens elsewhere.
func (s *stack) notified(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, event.MaxInput+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in, err := event.Decode(body)
	if err != nil {
		s.log.Error("notification", "err", err)
		w.WriteHeader(http.StatusOK) // a retry would not make it readable
		return
	}
	for _, rec := range in.Records {
		if rec.Err != nil || rec.Push.SkipReason() != "" {
			continue
		}
		// It came from our source registry, whatever host name the pushing client used.
		rec.Push.Registry = s.src.Addr
		select {
		case s.queue <- rec.Push:
		default:
			s.log.Warn("dropping a push: the queue is full", "push", rec.Push.String())
		}
	}
	w.WriteHeader(http.StatusOK)
}

// work handles queued pushes, a few at a time.
func (s *stack) work(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case p := <-s.queue:
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				// distribution notifies a manifest push before the tag is linked, so the first
				// look may not find it yet; a failed sync is tried a few times before it is
				// reported (the Lambda leaves that to Lambda's own retries).
				outs, err := s.handler.HandlePush(ctx, p)
				for try := 0; err != nil && try < devRetries && ctx.Err() == nil; try++ {
					time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
					outs, err = s.handler.HandlePush(ctx, p)
				}
				s.report(p, outs, err)
			})
		}
	}
}

// report prints one line per destination and wakes the demo, which waits for its sync.
func (s *stack) report(p event.Push, outs []lambda.Outcome, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outs {
		switch o.Outcome {
		case lambda.OutcomeCopied, lambda.OutcomeInSync:
			fmt.Fprintf(s.out, "%-8s %s -> %s  %s  %s in %dms\n", o.Outcome, o.Src, o.Dst, o.Digest, humanBytes(o.Bytes), o.DurationMs)
		case lambda.OutcomeSkipped:
		default:
			fmt.Fprintf(s.out, "%-8s %s -> %s  %s\n", o.Outcome, o.Src, o.Dst, o.Reason)
		}
	}
	if err != nil {
		s.log.Warn("sync failed", "push", p.String(), "err", err)
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *stack) close() {
	if s.hook != nil {
		s.hook.Close()
	}
	if s.src != nil {
		s.src.Close()
	}
	if s.dst != nil {
		s.dst.Close()
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// demo pushes a multi-platform image with a signature, waits for its sync, and compares.
func (s *stack) demo(ctx context.Context, out io.Writer, timeout time.Duration) error {
	p := devstack.NewPusher()
	src, err := p.Repo(s.src.Addr + "/demo/app")
	if err != nil {
		return err
	}
	seed := uint64(time.Now().UnixNano())
	// The image by digest, then its signature, then the tag: signed before anyone can pull it.
	idx, err := p.MultiPlatform(ctx, src, "", []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 256<<10, seed)
	if err != nil {
		return fmt.Errorf("pushing the demo image: %w", err)
	}
	sig, err := p.Signature(ctx, src, idx)
	if err != nil {
		return fmt.Errorf("pushing the demo signature: %w", err)
	}
	top, err := src.Manifest(ctx, idx.Digest.String())
	if err != nil {
		return err
	}
	if _, err := src.PutManifest(ctx, "dev", top); err != nil {
		return fmt.Errorf("tagging the demo image: %w", err)
	}
	fmt.Fprintf(out, "pushed    %s/demo/app:dev  %s (3 platforms, an attestation, a signature)\n", s.src.Addr, idx.Digest)

	dst, err := p.Repo(s.dst.Addr + "/demo/app")
	if err != nil {
		return err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if d, err := dst.Head(ctx, "dev"); err == nil && d.Digest == idx.Digest {
			break
		}
		select {
		case <-s.changed:
		case <-time.After(200 * time.Millisecond):
		case <-deadline.C:
			return exitError{ExitFailed, fmt.Errorf("the destination did not get %s within %s", idx.Digest, timeout)}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return compare(ctx, out, src, dst, top, sig)
}

// compare prints source and destination digests side by side for the index, each platform and
// the signature, and fails if any differs.
func compare(ctx context.Context, out io.Writer, src, dst *registry.Repository, top *registry.Manifest, sig ocispec.Descriptor) error {
	type row struct{ what, ref string }
	rows := []row{{"index", "dev"}}
	for _, c := range top.Manifests {
		what := "platform ?"
		if c.Platform != nil {
			what = c.Platform.OS + "/" + c.Platform.Architecture
			if c.Platform.Variant != "" {
				what += "/" + c.Platform.Variant
			}
			if c.Platform.OS == "unknown" {
				what = "attestation"
			}
		}
		rows = append(rows, row{what, c.Digest.String()})
	}
	rows = append(rows, row{"signature", sig.Digest.String()}, row{"referrers tag", registry.TagFor(top.Descriptor.Digest)})
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nWHAT\tSOURCE\tDESTINATION\tSAME")
	var bad []string
	for _, r := range rows {
		sd, serr := src.Head(ctx, r.ref)
		dd, derr := dst.Head(ctx, r.ref)
		same := serr == nil && derr == nil && sd.Digest == dd.Digest
		sv, dv := short(sd.Digest.String(), serr), short(dd.Digest.String(), derr)
		mark := "yes"
		if !same {
			mark = "NO"
			bad = append(bad, r.what)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.what, sv, dv, mark)
	}
	tw.Flush()
	if len(bad) > 0 {
		return exitError{ExitFailed, fmt.Errorf("the destination differs from the source: %s", strings.Join(bad, ", "))}
	}
	fmt.Fprintln(out, "\nin sync: every digest in the destination equals the source's")
	return nil
}

func short(d string, err error) string {
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return "missing"
		}
		return "error"
	}
	return d[:min(len(d), 19)]
}
