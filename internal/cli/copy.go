package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

func init() { commands = append(commands, newCopy) }

// copyFlags are the engine's knobs, shared by every command that copies.
type copyFlags struct {
	jobs        int
	noReferrers bool
	insecure    bool
}

func (f *copyFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVarP(&f.jobs, "jobs", "j", replicate.DefaultJobs, "blobs copied at once")
	cmd.Flags().BoolVar(&f.noReferrers, "no-referrers", false, "skip signatures, SBOMs and other referrers")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP and unverified TLS for registries that are not on loopback")
}

func newCopy(g *globals) *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy one image, with every platform and referrer, from SRC to DST",
		Long: `Copy one image from SRC to DST bit for bit: the same digest, every platform of an index,
and its signatures, SBOMs and attestations (OCI referrers and cosign-style tags).

SRC and DST are host[:port]/repository[:tag|@digest]. A DST without a tag takes SRC's tag.
Credentials come from the Docker config and its credential helpers (docker login);
registries on loopback are spoken to over plain HTTP.`,
		Example: `  ecrsync copy 127.0.0.1:5000/app:v1 127.0.0.1:5001/app
  ecrsync copy 111111111111.dkr.ecr.us-east-1.amazonaws.com/app:prod \
      222222222222.dkr.ecr.eu-west-1.amazonaws.com/app:prod --output json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			if f.jobs < 1 {
				return usageError{fmt.Errorf("--jobs must be at least 1")}
			}
			opts := replicate.Options{Jobs: f.jobs, NoReferrers: f.noReferrers, Logger: log}
			var bar *progressBar
			if isTerminal(g.stderr) && g.output == "text" {
				bar = &progressBar{w: g.stderr}
				opts.Progress = bar.update
			}
			c := registry.New(registry.Options{Insecure: f.insecure, Logger: log, UserAgent: "ecrsync/" + Version})
			res, err := replicate.New(c, opts).Copy(cmd.Context(), args[0], args[1])
			bar.done()
			if err != nil {
				if replicate.Retryable(err) {
					return exitError{ExitRetryable, err}
				}
				return err
			}
			return printResult(g, res)
		},
	}
	f.register(cmd)
	return cmd
}

// printResult writes one line per copy, or a JSON object with --output json.
func printResult(g *globals, res *replicate.Result) error {
	if g.output == "json" {
		return json.NewEncoder(g.stdout).Encode(res)
	}
	state := "copied"
	if res.UpToDate {
		state = "up to date"
	}
	_, err := fmt.Fprintf(g.stdout, "%s %s -> %s  %s  sent %s, %d blobs (%d skipped, %d mounted), %d manifests, %d referrers in %s\n",
		state, res.Src, res.Dst, res.Digest, humanBytes(res.BytesSent), res.Blobs, res.BlobsSkipped, res.BlobsMounted,
		res.Manifests, res.Referrers, res.Duration.Round(time.Millisecond))
	return err
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progressBar redraws one status line on a terminal, at most ten times a second.
type progressBar struct {
	w    io.Writer
	mu   sync.Mutex
	last time.Time
	p    replicate.Progress
}

func (b *progressBar) update(p replicate.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p = p
	if time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	fmt.Fprintf(b.w, "\r\033[K%s  sent %s, %d blobs done, %d skipped", p.Ref, humanBytes(p.BytesSent), p.BlobsDone, p.BlobsSkipped)
}

func (b *progressBar) done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
