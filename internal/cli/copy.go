package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// copyFlags are the engine's knobs, shared by every command that copies.
type copyFlags struct {
	jobs        int
	noReferrers bool
	insecure    bool
	retryTime   time.Duration
}

func (f *copyFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVarP(&f.jobs, "jobs", "j", replicate.DefaultJobs, "blobs copied at once")
	cmd.Flags().BoolVar(&f.noReferrers, "no-referrers", false, "skip signatures, SBOMs and other referrers")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP and unverified TLS for registries that are not on loopback")
	cmd.Flags().DurationVar(&f.retryTime, "retry-time", registry.DefaultBudget,
		"how long a copy keeps retrying passing failures (throttling, 5xx, resets); an address where nothing answers gets "+
			registry.DefaultUnreachableBudget.String())
}

// check refuses knob values that make no sense.
func (f *copyFlags) check() error {
	if f.jobs < 1 {
		return usageError{fmt.Errorf("--jobs must be at least 1")}
	}
	if f.retryTime <= 0 {
		return usageError{fmt.Errorf("--retry-time must be positive, e.g. 30s or 5m")}
	}
	return nil
}

// warn says, once per run, that --insecure turned off TLS verification.
func (f *copyFlags) warn(log *slog.Logger) {
	if f.insecure {
		log.Warn("--insecure: TLS certificates of registries not on loopback are not verified, and plain HTTP is allowed")
	}
}

// resultFlags say how copy prints each result: a Go template (--format) instead of the line or
// JSON, and a file that gets the digest (--digest-file).
type resultFlags struct {
	format     string
	digestFile string
	tmpl       *template.Template
}

func (r *resultFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.format, "format", "", "print each result with this Go template instead, e.g. '{{.Digest}}' (fields: Src, Dst, Digest, MediaType, UpToDate, BytesSent, Blobs, BlobsSkipped, BlobsMounted, Manifests, Referrers, DurationMs)")
	cmd.Flags().StringVar(&r.digestFile, "digest-file", "", "write the copied image's digest to this file (with --all-tags: one 'tag digest' line per tag)")
}

// check parses the template: a bad one is a usage error before anything is copied.
func (r *resultFlags) check() error {
	if r.format == "" {
		return nil
	}
	t, err := template.New("format").Option("missingkey=error").Parse(r.format)
	if err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	// A field that does not exist fails now, not after the copy.
	if err := t.Execute(io.Discard, &replicate.Result{}); err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	r.tmpl = t
	return nil
}

func newCopy(g *globals) *cobra.Command {
	var f copyFlags
	var gf gateFlags
	var rf resultFlags
	var sf sideFlags
	var allTags bool
	var parallel int
	var platforms []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy one image, with every platform and referrer, from SRC to DST",
		Long: `Copy one image from SRC to DST bit for bit: the same digest, every platform of an index,
and its signatures, SBOMs and attestations (OCI referrers and cosign-style tags).

SRC and DST are host[:port]/repository[:tag|@digest]. A DST without a tag takes SRC's tag.
Either may be an OCI image layout, for air-gapped promotion and CI caches: oci:DIR[:tag|@digest]
(a directory as oras, crane and skopeo write it: oci-layout, index.json, blobs/sha256/...) or
oci-archive:FILE[:tag|@digest] (a tar of one). A layout DST is created if missing; tags are its
index.json's org.opencontainers.image.ref.name annotations; referrers (signatures, SBOMs) are
the manifests it lists whose subject is the image, and cosign-style sha256-<hex>.sig tags. A
layout SRC without a tag means its one image, or latest. Blobs are verified and written whole
(temporary file and rename); index.json changes last, so a failed copy tags nothing; an archive
is rewritten only when the copy succeeded.
Short names resolve as docker's do, and ecrsync prints what they resolved to: alpine is
docker.io/library/alpine:latest, team/app is docker.io/team/app.
With --all-tags, SRC and DST are repositories and every tag is copied (referrer tags such as
sha256-<hex>.sig come along with the images they refer to), several at once, in one process.
ECR registries log in with GetAuthorizationToken in their own Region, using the AWS credentials
of the environment (profile, env, SSO, instance role); other registries use the Docker config and
its credential helpers (docker login, credHelpers in ~/.docker/config.json), or per side
--src-creds/--dst-creds: USER:PASSWORD, or the name of a credential helper (docker-credential-NAME).
Registries on loopback are spoken to over plain HTTP; --insecure (every registry) or
--src-insecure/--dst-insecure (one side) allow plain HTTP and unverified TLS elsewhere.

Passing failures (throttling, 5xx, dropped connections, damaged downloads) are retried with
backoff, each retry logged, for --retry-time; an address where nothing answers for 10 s (a
refused connection, an unknown host) is given up sooner. Exit 3 then means: run it again later.`,
		Example: `  ecrsync copy 127.0.0.1:5000/app:v1 127.0.0.1:5001/app
  ecrsync copy 111111111111.dkr.ecr.us-east-1.amazonaws.com/app:prod \
      222222222222.dkr.ecr.eu-west-1.amazonaws.com/app:prod --output json
  ecrsync copy --all-tags 127.0.0.1:5000/app 127.0.0.1:5001/mirror/app
  ecrsync copy 127.0.0.1:5000/app:v1 127.0.0.1:5001/app --format '{{.Digest}}'
  ecrsync copy 127.0.0.1:5000/app:v1 127.0.0.1:5001/app-arm --platform linux/arm64
  ecrsync copy registry.example.com/app:v1 mirror.internal:5000/app --dst-insecure \
      --src-creds "$USER:$TOKEN" --dst-creds ecr-login
  ecrsync copy 127.0.0.1:5000/app:v1 oci:./cache:v1
  ecrsync copy oci-archive:app.tar:v1 111111111111.dkr.ecr.us-east-1.amazonaws.com/app:v1
  ecrsync copy --dry-run 127.0.0.1:5000/app:v1 127.0.0.1:5001/app
  ecrsync copy 127.0.0.1:5000/app:v1 127.0.0.1:5001/app --digest-file app.digest`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			var bar *progressBar
			if isTerminal(g.stderr) && g.output == "text" && !allTags {
				bar = &progressBar{w: g.stderr}
				g.logs = bar // a log line first clears the progress line
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			if err := f.check(); err != nil {
				return err
			}
			if err := rf.check(); err != nil {
				return err
			}
			if err := checkPlatforms(platforms); err != nil {
				return err
			}
			if dryRun && (allTags || len(platforms) > 0) {
				return usageError{fmt.Errorf("--dry-run plans one whole image: it does not go with --all-tags or --platform")}
			}
			if len(platforms) > 0 && allTags {
				return usageError{fmt.Errorf("--platform copies one image: it does not go with --all-tags")}
			}
			lrefs, withLayout, err := layoutArgs(args)
			if err != nil {
				return err
			}
			if withLayout && (allTags || dryRun || len(platforms) > 0) {
				return usageError{fmt.Errorf("oci: and oci-archive: copy one whole image: not with --all-tags, --dry-run or --platform (yet)")}
			}
			// Short names resolve as docker's do, and say what they resolved to.
			for i := range args {
				if lrefs[i] != nil {
					continue
				}
				whole := expandShort(args[i], i == 0 && !allTags)
				if whole != args[i] {
					fmt.Fprintf(g.stderr, "ecrsync: %s means %s\n", args[i], whole)
					args[i] = whole
				}
			}
			for i, ref := range args {
				if lrefs[i] != nil {
					continue
				}
				if _, _, err := replicate.ParseReference(ref); err != nil {
					return usageError{err}
				}
			}
			f.warn(log)
			if allTags && parallel < 1 {
				return usageError{fmt.Errorf("--parallel must be at least 1")}
			}
			pol, err := gf.policy() // gate.go
			if err != nil || pol != nil && allTags {
				return cmp.Or(err, error(usageError{fmt.Errorf("--require-signature and --max-severity gate one image: not with --all-tags")}))
			}
			if pol != nil && (len(platforms) > 0 || dryRun || withLayout) {
				return usageError{fmt.Errorf("--require-signature and --max-severity gate the whole image between registries: not with --platform, --dry-run, oci: or oci-archive:")}
			}
			o := f.options(log)
			if bar != nil {
				o.Copy.Progress = bar.update
			}
			o.Hosts = hosts(args...)
			srcHost, dstHost := hostOf(args[0]), hostOf(args[1])
			if srcHost == "" && (sf.srcCreds != "" || sf.srcInsecure) || dstHost == "" && (sf.dstCreds != "" || sf.dstInsecure) {
				return usageError{fmt.Errorf("--src-creds, --dst-creds, --src-insecure and --dst-insecure are for a registry side, not an OCI layout: drop the one for the layout")}
			}
			if o.Fallback, err = sf.keychain(srcHost, dstHost, authn.DefaultKeychain); err != nil {
				return err
			}
			for _, side := range []struct {
				on   bool
				host string
			}{{sf.srcInsecure, srcHost}, {sf.dstInsecure, dstHost}} {
				if side.on {
					o.InsecureHosts = append(o.InsecureHosts, side.host)
					log.Warn("TLS certificates of this registry are not verified, and plain HTTP is allowed", "registry", side.host)
				}
			}
			a, err := app.New(cmd.Context(), o)
			if err != nil {
				return err
			}
			if allTags {
				return copyAllTags(cmd.Context(), g, &rf, a.Client, a.Copier, args[0], args[1], parallel)
			}
			if dryRun {
				return planCopy(cmd.Context(), g, &rf, a.Copier, args[0], args[1])
			}
			if bar != nil && len(platforms) == 0 && !withLayout {
				// The total, for a percentage: what a plan says would be sent (a few HEADs).
				if plan, err := a.Copier.Plan(cmd.Context(), args[0], args[1]); err == nil {
					bar.total = plan.BytesSent
				}
			}
			var res *replicate.Result
			if withLayout {
				res, err = copyLayout(cmd.Context(), a.Client, a.Copier, args, lrefs) // layout.go
			} else if len(platforms) > 0 {
				res, err = copyPlatforms(cmd.Context(), a.Copier, args[0], args[1], platforms)
			} else {
				res, err = copyImage(cmd.Context(), g, a, pol, args[0], args[1]) // gate.go
			}
			bar.done()
			if err != nil {
				var ue usageError
				if !errors.As(err, &ue) && replicate.Retryable(err) {
					return exitError{ExitRetryable, err}
				}
				return err
			}
			if err := rf.writeDigests(res); err != nil {
				return err
			}
			return printResult(g, &rf, res)
		},
	}
	f.register(cmd)
	gf.register(cmd)
	rf.register(cmd)
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&allTags, "all-tags", false, "copy every tag of the SRC repository to the DST repository")
	cmd.Flags().IntVar(&parallel, "parallel", 8, "with --all-tags: images copied at once")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be sent (manifests, blobs, bytes) and write nothing; exit 4 if something would be copied")
	cmd.Flags().StringSliceVar(&platforms, "platform", nil, "copy only these platforms (os/arch[/variant], comma-separated): one is copied as that platform's manifest, several as a new index of them (a new digest); default: all, bit for bit")
	return cmd
}

// options are the app options every command that copies takes from its flags: the engine's
// knobs, and the user agent.
func (f *copyFlags) options(log *slog.Logger) app.Options {
	return app.Options{Logger: log, Insecure: f.insecure, UserAgent: "ecrsync/" + Version,
		Retry: registry.RetryPolicy{Budget: f.retryTime},
		Copy:  replicate.Options{Jobs: f.jobs, NoReferrers: f.noReferrers}}
}

// hosts returns the registry hosts of refs: ECR ones log in with GetAuthorizationToken in their
// own Region, with the AWS credentials of the environment (no docker login needed); every other
// registry uses the Docker config and its credential helpers. The AWS configuration is loaded
// only when an ECR host is named.
func hosts(refs ...string) []string {
	var out []string
	for _, ref := range refs {
		if repo, _, err := replicate.ParseReference(ref); err == nil {
			out = append(out, repo.RegistryStr())
		}
	}
	return out
}

// referrerTag matches the tags that carry referrers (sha256-<hex>, cosign's .sig/.att/.sbom):
// they are copied with the image they refer to.
var referrerTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.[a-z]+)?$`)

// parseSrcDst parses the SRC and DST arguments (replicate.ParseReference: an empty ref is
// neither tag nor digest); a bad one is a usage error.
func parseSrcDst(src, dst string) (srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string, err error) {
	if srcRepo, srcRef, err = replicate.ParseReference(src); err != nil {
		return srcRepo, "", dstRepo, "", usageError{err}
	}
	if dstRepo, dstRef, err = replicate.ParseReference(dst); err != nil {
		return srcRepo, "", dstRepo, "", usageError{err}
	}
	return srcRepo, srcRef, dstRepo, dstRef, nil
}

// copyAllTags copies every tag of one repository to another with one Copier, so connections,
// tokens and the knowledge of what the destination holds are shared across tags.
func copyAllTags(ctx context.Context, g *globals, rf *resultFlags, c *registry.Client, cp *replicate.Copier, src, dst string, parallel int) error {
	srcRepo, srcRef, dstRepo, dstRef, err := parseSrcDst(src, dst)
	if err != nil {
		return err
	}
	if srcRef != "" || dstRef != "" {
		return usageError{fmt.Errorf("--all-tags copies repositories: give SRC and DST without tag or digest")}
	}
	tags, err := c.Repository(srcRepo).Tags(ctx)
	if err != nil {
		return fmt.Errorf("listing tags of %s: %w", srcRepo, err)
	}
	defer cp.KnowTags(srcRepo, tags)() // the copies look for referrer tags in this list
	tags = slices.DeleteFunc(slices.Clone(tags), referrerTag.MatchString)
	var mu sync.Mutex
	var failed []string
	var done []*replicate.Result
	retryable := true
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(parallel)
	for _, tag := range tags {
		eg.Go(func() error {
			res, err := cp.CopyRef(ctx, srcRepo, tag, dstRepo, tag)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, tag)
				retryable = retryable && replicate.Retryable(err)
				fmt.Fprintf(g.stderr, "ecrsync: %s: %v\n", tag, err)
				return nil
			}
			done = append(done, res)
			return printResult(g, rf, res)
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if err := rf.writeDigests(done...); err != nil {
		return err
	}
	if len(failed) > 0 {
		err := fmt.Errorf("%d of %d tags failed: %s", len(failed), len(tags), strings.Join(failed, ", "))
		if retryable {
			return exitError{ExitRetryable, err}
		}
		return exitError{ExitFailed, err}
	}
	return nil
}

// writeDigests writes --digest-file: the digest of one copy, or a "tag digest" line per copy
// (sorted by tag) for several.
func (r *resultFlags) writeDigests(res ...*replicate.Result) error {
	if r.digestFile == "" {
		return nil
	}
	var b strings.Builder
	if len(res) == 1 {
		b.WriteString(res[0].Digest.String() + "\n")
	} else {
		res = slices.Clone(res)
		slices.SortFunc(res, func(a, b *replicate.Result) int { return strings.Compare(a.Dst, b.Dst) })
		for _, x := range res {
			_, tag, _ := strings.Cut(x.Dst[strings.LastIndex(x.Dst, "/")+1:], ":")
			fmt.Fprintf(&b, "%s %s\n", tag, x.Digest)
		}
	}
	if err := os.WriteFile(r.digestFile, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("--digest-file: %w", err)
	}
	return nil
}

// planCopy prints what copying src to dst would send, and exits 4 (ExitPending) if anything,
// 0 if the destination is up to date.
func planCopy(ctx context.Context, g *globals, rf *resultFlags, cp *replicate.Copier, src, dst string) error {
	res, err := cp.Plan(ctx, src, dst)
	if err != nil {
		if replicate.Retryable(err) {
			return exitError{ExitRetryable, err}
		}
		return err
	}
	switch {
	case rf.tmpl != nil:
		if err := printResult(g, rf, res); err != nil {
			return err
		}
	case g.output == "json":
		if err := json.NewEncoder(g.stdout).Encode(struct {
			*replicate.Result
			DryRun bool `json:"dryRun"`
		}{res, true}); err != nil {
			return err
		}
	case res.UpToDate:
		fmt.Fprintf(g.stdout, "up to date %s -> %s  %s  nothing to send\n", res.Src, res.Dst, res.Digest)
	default:
		fmt.Fprintf(g.stdout, "would copy %s -> %s  %s  would send %s in %d blobs (%d already there), %d manifests\n",
			res.Src, res.Dst, res.Digest, humanBytes(res.BytesSent), res.Blobs, res.BlobsSkipped, res.Manifests)
	}
	if res.UpToDate {
		return nil
	}
	return exitError{ExitPending, fmt.Errorf("%s would be copied (%s)", res.Src, humanBytes(res.BytesSent))}
}

// printResult writes one line per copy, a JSON object with --output json, or the --format
// template's text.
func printResult(g *globals, rf *resultFlags, res *replicate.Result) error {
	if rf != nil && rf.tmpl != nil {
		var b strings.Builder
		if err := rf.tmpl.Execute(&b, res); err != nil {
			return usageError{fmt.Errorf("--format: %w", err)}
		}
		_, err := fmt.Fprintln(g.stdout, b.String())
		return err
	}
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
	w     io.Writer
	total int64 // bytes the copy will send, if known (from a Plan); 0 means unknown
	mu    sync.Mutex
	last  time.Time
	p     replicate.Progress
}

func (b *progressBar) update(p replicate.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p = p
	if time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	fmt.Fprint(b.w, "\r\033[K"+b.line(p))
}

// line is the progress text: with a known total, "sent X of Y (N%)".
func (b *progressBar) line(p replicate.Progress) string {
	sent := "sent " + humanBytes(p.BytesSent)
	if b.total > 0 {
		sent += fmt.Sprintf(" of %s (%d%%)", humanBytes(b.total), min(100, p.BytesSent*100/b.total))
	}
	return fmt.Sprintf("%s  %s, %d blobs done, %d skipped", p.Ref, sent, p.BlobsDone, p.BlobsSkipped)
}

// Write writes a log line, clearing the progress line first; the next update redraws it.
func (b *progressBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		fmt.Fprint(b.w, "\r\033[K")
	}
	return b.w.Write(p)
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
