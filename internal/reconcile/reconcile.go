// Package reconcile converges destinations with the source: for every rule it lists the source
// repositories and tags that match, compares each tag with every destination (one HEAD per tag
// and destination), and copies what differs. It is what catches the pushes whose events were
// lost, and the images that existed before ecrsync was set up.
//
// It never deletes: tags a destination has and the source does not are left alone. It compares
// tags by digest only: signatures added to an image that is already in sync are the business of
// the event path (or of `ecrsync copy`).
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Defaults, with their reasons.
const (
	// DefaultJobs is how many tags are checked and copied at once. An in-sync tag costs one HEAD
	// (a few milliseconds to tens of them), so it is latency that bounds a reconcile, and 16
	// requests in flight keep a registry busy without tripping its 2,000-TPS-class quotas; the
	// blobs of each copy are bounded separately by the engine.
	DefaultJobs = 16
	// DefaultRepoJobs is how many repositories have their tags listed at once.
	DefaultRepoJobs = 4
)

// Status is what the reconcile did about one tag and destination.
type Status string

// Statuses.
const (
	InSync  Status = "in_sync"    // the destination tag points at the source's digest
	Copied  Status = "copied"     // it did not; now it does
	Planned Status = "would_copy" // it does not, and this was a dry run
	Skipped Status = "skipped"    // nothing to do after all (the tag left the source), or no time left
	Failed  Status = "failed"     // the check or the copy failed; Reason says why
)

// Item is one tag of one source repository against one destination. A failure to list a
// repository is an Item with no Tag and no Dst.
type Item struct {
	Src       string        `json:"src"`           // host/repository[:tag]
	Dst       string        `json:"dst,omitempty"` // host/repository:tag
	Tag       string        `json:"tag,omitempty"`
	Digest    digest.Digest `json:"digest,omitempty"`    // the source's digest (for a rule with platforms, the selection's)
	DstDigest digest.Digest `json:"dstDigest,omitempty"` // what the destination tag pointed at before, if anything
	Status    Status        `json:"status"`
	Reason    string        `json:"reason,omitempty"`
	Fix       string        `json:"fix,omitempty"`       // for failed: what to change (replicate.Hint), if anything
	Retryable bool          `json:"retryable,omitempty"` // for failed: running again later may succeed unchanged
	Bytes     int64         `json:"bytes,omitempty"`
	// Repository is RepositoryCreated when the copy created the destination repository first,
	// RepositoryWouldCreate when a dry run found it missing and create_repository would create it.
	Repository string `json:"repository,omitempty"`

	dstRepository string // host/repository of Dst
}

// What a reconcile did or would do about a missing destination repository (Item.Repository).
const (
	RepositoryCreated     = "created"
	RepositoryWouldCreate = "would_create"
)

// Report is what a reconcile did. Items holds every tag that was not in sync (in-sync ones
// are only counted: a large registry has a million of them).
type Report struct {
	Repositories int   `json:"repositories"` // source repositories a rule selects
	Tags         int   `json:"tags"`         // source tags a rule selects, over those repositories
	InSync       int   `json:"inSync"`
	Copied       int   `json:"copied"`
	Planned      int   `json:"wouldCopy"`
	Skipped      int   `json:"skipped"`
	Failed       int   `json:"failed"`
	Blocked      int   `json:"blocked,omitempty"` // tags the rules' gates refuse (gate.go)
	Pruned       int   `json:"pruned,omitempty"`  // destination tags deleted (or, dry run, to delete) by --prune
	Bytes        int64 `json:"bytes"`
	DryRun       bool  `json:"dryRun,omitempty"`
	// Created and WouldCreate list the destination repositories (host/repository) this run
	// created, or as a dry run would create (create_repository), sorted.
	Created     []string      `json:"created,omitempty"`
	WouldCreate []string      `json:"wouldCreate,omitempty"`
	Duration    time.Duration `json:"-"`
	DurationMs  int64         `json:"durationMs"` // Duration in milliseconds: the one unit of every line and report
	Items       []Item        `json:"items"`
}

// Converged reports whether every selected tag is now the same in every destination: nothing
// failed, nothing was left for lack of time, and (in a dry run) nothing would be copied.
func (r *Report) Converged() bool {
	return r.Failed == 0 && r.Skipped == 0 && r.Planned == 0 && !(r.DryRun && r.Pruned > 0)
}

// Retryable reports whether every failure may pass when run again later.
func (r *Report) Retryable() bool {
	for _, it := range r.Items {
		if it.Status == Failed && !it.Retryable {
			return false
		}
	}
	return r.Failed > 0
}

func (r *Report) add(it Item) {
	switch it.Status {
	case InSync:
		r.InSync++
		return
	case Copied:
		r.Copied++
	case Planned:
		r.Planned++
	case Skipped:
		r.Skipped++
	case Failed:
		r.Failed++
	case Blocked:
		r.Blocked++
	case Pruned, PlannedPrune:
		r.Pruned++
	}
	r.Bytes += it.Bytes
	r.Items = append(r.Items, it)
}

// Options configure a Reconciler. The zero value checks DefaultJobs tags at once and copies.
type Options struct {
	// Jobs bounds tags checked and copied at once; 0 means DefaultJobs.
	Jobs int
	// RepoJobs bounds repositories listed at once; 0 means DefaultRepoJobs.
	RepoJobs int
	// DryRun checks and reports, and copies nothing.
	DryRun bool
	// Logger gets failures and a summary; nil discards. The engine logs each copy itself.
	Logger *slog.Logger
	// LogCopies adds an Info line per tag copied: for when the engine's own line is Debug (the
	// Lambda, whose event lines are the handler's).
	LogCopies bool
	// Creator creates the missing destination repositories of destinations with
	// create_repository; nil creates none.
	Creator Creator
	// Gate checks the tags of rules with require (gate.go); required when a rule has them.
	Gate Gate
	// Prune removes destination tags gone from the source, for rules with propagate_deletes
	// (prune.go), through Untagger; with DryRun it only lists them.
	Prune    bool
	Untagger Untagger
}

// Copier copies one image; *replicate.Copier is the one in use. The event handler
// (internal/lambda) takes the same interface.
type Copier interface {
	CopyRef(ctx context.Context, srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string) (*replicate.Result, error)
	// CopyRefPlatforms copies only the given platforms, for rules with platforms.
	CopyRefPlatforms(ctx context.Context, srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string, platforms []string) (*replicate.Result, error)
}

// Reconciler reconciles the destinations of one config with its source.
type Reconciler struct {
	cfg    *rules.Config
	lister Lister
	client *registry.Client // for the HEADs
	copier Copier
	opts   Options
	log    *slog.Logger
}

// New returns a Reconciler. client answers the HEADs; copier does the copies and should sit on
// the same client so connections and tokens are shared.
func New(cfg *rules.Config, lister Lister, client *registry.Client, copier Copier, opts Options) *Reconciler {
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs
	}
	if opts.RepoJobs <= 0 {
		opts.RepoJobs = DefaultRepoJobs
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{cfg: cfg, lister: lister, client: client, copier: copier, opts: opts, log: log}
}

// Repositories lists the source repositories that some rule selects, sorted. When every rule
// names its repositories without globs, those names are the list and the registry is not asked
// (most hosted registries cannot list their repositories anyway); a name the source lacks then
// fails on its own when its tags are listed.
func (r *Reconciler) Repositories(ctx context.Context) ([]string, error) {
	if lit, ok := r.literalRepositories(); ok {
		sort.Strings(lit)
		return lit, nil
	}
	all, err := r.lister.Repositories(ctx)
	if errors.Is(err, ErrNoCatalog) {
		return nil, fmt.Errorf("%w; name the source repositories in the rules without globs", err)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if r.cfg.MatchRepository(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (r *Reconciler) literalRepositories() ([]string, bool) {
	seen := map[string]bool{}
	var out []string
	for _, rule := range r.cfg.Rules {
		lit, ok := literal(rule.Repositories)
		if !ok {
			return nil, false
		}
		for _, n := range lit {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, true
}

// Run reconciles every repository a rule selects. A failure in one repository is reported and
// the others go on; only a failure to list the repositories at all returns an error.
func (r *Reconciler) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	repos, err := r.Repositories(ctx)
	if err != nil {
		return nil, err
	}
	rep := r.run(ctx, repos)
	rep.Duration = time.Since(start)
	rep.DurationMs = rep.Duration.Milliseconds()
	r.summary(ctx, rep)
	return rep, nil
}

// Repository reconciles one source repository (the unit of the Lambda fan-out). A repository
// no rule selects is an error: the message that named it was not made from this config.
func (r *Reconciler) Repository(ctx context.Context, repository string) (*Report, error) {
	if !r.cfg.MatchRepository(repository) {
		return nil, fmt.Errorf("no rule selects repository %q", repository)
	}
	start := time.Now()
	rep := r.run(ctx, []string{repository})
	rep.Duration = time.Since(start)
	rep.DurationMs = rep.Duration.Milliseconds()
	r.summary(ctx, rep)
	return rep, nil
}

func (r *Reconciler) summary(ctx context.Context, rep *Report) {
	r.log.InfoContext(ctx, "reconcile", "repositories", rep.Repositories, "tags", rep.Tags, "inSync", rep.InSync,
		"copied", rep.Copied, "wouldCopy", rep.Planned, "skipped", rep.Skipped, "failed", rep.Failed,
		"bytes", rep.Bytes, "dryRun", rep.DryRun, "durationMs", rep.DurationMs)
}

// task is one source tag with the destinations it goes to.
type task struct {
	src     name.Repository
	tag     Tag
	targets []rules.Target
	names   map[string]bool // every tag of the source repository
}

// signedLater reports whether the source holds referrer tags for d (the fallback tag
// sha256-<hex> or cosign's .sig/.att/.sbom): a signature or SBOM added after the image was
// synced. The copy engine then brings over whatever of them the destination lacks, even though
// the image itself is in sync.
func (t task) signedLater(d digest.Digest) bool {
	if d == "" {
		return false
	}
	for _, tag := range replicate.ReferrerTags(d) {
		if t.names[tag] {
			return true
		}
	}
	return false
}

func (r *Reconciler) run(ctx context.Context, repos []string) *Report {
	rep := &Report{Repositories: len(repos), DryRun: r.opts.DryRun, Items: []Item{}}
	var mu sync.Mutex
	record := func(items ...Item) {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			rep.add(it)
		}
	}

	tasks := make(chan task)
	var workers sync.WaitGroup
	for range r.opts.Jobs {
		workers.Go(func() {
			for t := range tasks {
				record(r.syncTag(ctx, t)...)
			}
		})
	}

	repoCh := make(chan string)
	var listers sync.WaitGroup
	for range min(r.opts.RepoJobs, max(1, len(repos))) {
		listers.Go(func() {
			for repo := range repoCh {
				n, items := r.listRepository(ctx, repo, tasks)
				mu.Lock()
				rep.Tags += n
				mu.Unlock()
				record(items...)
				record(r.prune(ctx, repo)...) // prune.go
			}
		})
	}
	for _, repo := range repos {
		repoCh <- repo
	}
	close(repoCh)
	listers.Wait()
	close(tasks)
	workers.Wait()

	sort.Slice(rep.Items, func(i, j int) bool {
		a, b := rep.Items[i], rep.Items[j]
		if a.Src != b.Src {
			return a.Src < b.Src
		}
		return a.Dst < b.Dst
	})
	seen := map[string]bool{}
	for _, it := range rep.Items {
		dst := it.dstRepository
		switch {
		case it.Repository == "" || seen[dst]:
		case it.Repository == RepositoryCreated:
			rep.Created = append(rep.Created, dst)
		case it.Repository == RepositoryWouldCreate:
			rep.WouldCreate = append(rep.WouldCreate, dst)
		}
		seen[dst] = true
	}
	sort.Strings(rep.Created)
	sort.Strings(rep.WouldCreate)
	return rep
}

// listRepository lists repo's tags and queues those a rule selects. It returns how many it
// queued, or an Item saying why the repository could not be listed.
func (r *Reconciler) listRepository(ctx context.Context, repo string, tasks chan<- task) (int, []Item) {
	src, err := name.NewRepository(r.cfg.Source.Host()+"/"+repo, name.StrictValidation)
	if err != nil {
		return 0, []Item{{Src: r.cfg.Source.Host() + "/" + repo, Status: Failed, Reason: err.Error()}}
	}
	tags, err := r.lister.Tags(ctx, repo)
	if err != nil {
		it := Item{Src: src.String(), Status: Failed, Reason: err.Error(), Fix: replicate.Hint(err), Retryable: replicate.Retryable(err)}
		r.log.WarnContext(ctx, "listing tags failed", "src", it.Src, "err", err)
		return 0, []Item{it}
	}
	names := make(map[string]bool, len(tags))
	for _, t := range tags {
		names[t.Name] = true
	}
	n := 0
	for _, t := range tags {
		targets := r.cfg.Match(repo, t.Name)
		if len(targets) == 0 {
			continue
		}
		n++
		select {
		case tasks <- task{src: src, tag: t, targets: targets, names: names}:
		case <-ctx.Done():
			return n, []Item{{Src: src.String(), Status: Skipped, Reason: "stopped before every tag was checked: " + ctx.Err().Error()}}
		}
	}
	return n, nil
}

// syncTag checks one source tag against each of its destinations and copies where they differ.
func (r *Reconciler) syncTag(ctx context.Context, t task) []Item {
	srcRef := t.src.String() + ":" + t.tag.Name
	items := make([]Item, len(t.targets))
	for i, tg := range t.targets {
		items[i] = Item{Src: srcRef, Dst: tg.String(), Tag: t.tag.Name, Digest: t.tag.Digest}
	}
	fail := func(err error, status Status) []Item {
		for i := range items {
			items[i].Status, items[i].Reason = status, err.Error()
			items[i].Retryable = status == Failed && replicate.Retryable(err)
			if status == Failed {
				items[i].Fix = replicate.Hint(err)
			}
		}
		return items
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("not checked: %w", err), Skipped)
	}
	want := t.tag.Digest
	if want == "" {
		// The OCI tag list names no digests: one HEAD, shared by every destination.
		d, err := r.client.Repository(t.src).Head(ctx, t.tag.Name)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			return fail(errors.New("the tag left the source after it was listed"), Skipped)
		case err != nil:
			return fail(&replicate.CopyError{Side: replicate.Src, Op: "checking", Ref: srcRef, Err: err}, Failed)
		}
		want = d.Digest
		for i := range items {
			items[i].Digest = want
		}
	}
	sel := selections{want: want}
	for i, tg := range t.targets {
		w := want
		if ps := r.cfg.Rules[tg.Rule].Platforms; len(ps) > 0 {
			var status Status
			var err error
			if w, status, err = sel.digest(ctx, r.client.Repository(t.src), srcRef, ps); err != nil {
				items[i].Status, items[i].Reason = status, err.Error()
				if status == Failed {
					items[i].Fix, items[i].Retryable = replicate.Hint(err), replicate.Retryable(err)
				}
				continue
			}
			items[i].Digest = w
		}
		items[i] = r.syncTarget(ctx, t, tg, w, items[i])
	}
	return items
}

// selections finds, once per tag, what the platform selections of its rules put under the
// destination tag: a destination is in sync when its tag points at the selection's digest, not
// the source's (a filtered copy is never the source's digest, and would be copied forever).
type selections struct {
	want digest.Digest // the source tag's digest
	top  *registry.Manifest
	err  error
}

// digest returns the digest the selection of platforms from the source image makes, or the
// status and error of an item that cannot be compared: Skipped when the image left the source,
// Failed otherwise (a platform the image lacks is a *replicate.PlatformError).
func (s *selections) digest(ctx context.Context, src *registry.Repository, srcRef string, platforms []string) (digest.Digest, Status, error) {
	if s.top == nil && s.err == nil {
		s.top, s.err = src.Manifest(ctx, s.want.String())
	}
	switch {
	case errors.Is(s.err, registry.ErrNotFound):
		return "", Skipped, errors.New("the tag left the source after it was listed")
	case s.err != nil:
		return "", Failed, &replicate.CopyError{Side: replicate.Src, Op: "fetching manifest", Ref: srcRef, Err: s.err}
	}
	sel, err := replicate.SelectPlatforms(s.top, platforms)
	if pe := (*replicate.PlatformError)(nil); errors.As(err, &pe) {
		pe.Ref = srcRef
	}
	if err != nil {
		return "", Failed, err
	}
	return sel.Digest, "", nil
}

func (r *Reconciler) syncTarget(ctx context.Context, t task, tg rules.Target, want digest.Digest, it Item) Item {
	log := r.log.With("src", it.Src, "dst", it.Dst, "digest", want)
	it.dstRepository = tg.Host + "/" + tg.Repository
	dst, err := name.NewRepository(tg.Host+"/"+tg.Repository, name.StrictValidation)
	if err != nil {
		it.Status, it.Reason = Failed, err.Error()
		return it
	}
	have, err := r.client.Repository(dst).Head(ctx, t.tag.Name)
	switch {
	case err == nil && have.Digest == want && (r.opts.DryRun || !t.signedLater(want)):
		it.Status = InSync
		return it
	case err == nil && have.Digest == want:
		// In sync, but the source has referrer tags for it: let the engine bring any new ones.
	case err == nil:
		it.DstDigest = have.Digest
	case errors.Is(err, registry.ErrNotFound):
		// Missing tag, or missing repository (NAME_UNKNOWN): the copy says which it is.
	default:
		ce := &replicate.CopyError{Side: replicate.Dst, Op: "checking", Ref: it.Dst, Err: err}
		it.Status, it.Reason, it.Fix, it.Retryable = Failed, ce.Error(), replicate.Hint(ce), replicate.Retryable(err)
		log.WarnContext(ctx, "check failed", "err", err, "retryable", it.Retryable)
		return it
	}
	srcRef, settled := r.gateTarget(ctx, t.src, t.tag.Name, r.cfg.Rules[tg.Rule].Policy(), &it) // gate.go
	if settled {
		return it
	}
	if r.opts.DryRun {
		it.Status, it.Reason = Planned, "missing"
		switch {
		case it.DstDigest != "":
			it.Reason = "stale: the destination tag points at " + it.DstDigest.String()
		case WillCreate(r.opts.Creator, tg) && r.repositoryMissing(ctx, dst, t.tag.Name, err):
			it.Repository = RepositoryWouldCreate
			it.Reason = "would create the destination repository " + tg.Repository + " (create_repository), then copy"
		case errors.Is(err, registry.ErrRepositoryNotFound):
			it.Reason = "the destination repository does not exist"
		}
		return it
	}
	if ctx.Err() != nil {
		it.Status, it.Reason = Skipped, "not copied: "+ctx.Err().Error()
		return it
	}
	// Copy by tag, not by the listed digest: if the tag moved since it was listed, the
	// destination follows it to where it points now. A gated rule copies the digest it checked.
	// A rule with platforms copies that selection of the source image.
	copyImage := func() (*replicate.Result, error) {
		if ps := r.cfg.Rules[tg.Rule].Platforms; len(ps) > 0 {
			return r.copier.CopyRefPlatforms(ctx, t.src, srcRef, dst, t.tag.Name, ps)
		}
		return r.copier.CopyRef(ctx, t.src, srcRef, dst, t.tag.Name)
	}
	res, err := copyImage()
	if again, cerr := CreateMissing(ctx, r.opts.Creator, log, t.src.RepositoryStr(), tg, err); cerr != nil {
		err = cerr
	} else if again {
		it.Repository = RepositoryCreated
		res, err = copyImage()
	}
	if res != nil {
		it.Bytes = res.BytesSent
		if res.Digest != "" {
			it.Digest = res.Digest
		}
	}
	switch {
	case err != nil && errors.Is(err, registry.ErrNotFound) && isSide(err, replicate.Src) && !errors.Is(err, registry.ErrRepositoryNotFound):
		it.Status, it.Reason = Skipped, "the tag left the source after it was listed"
	case err != nil:
		// The engine has logged the failure with its side and cause.
		it.Status, it.Reason, it.Fix, it.Retryable = Failed, err.Error(), Fix(err, tg), replicate.Retryable(err)
	case res.UpToDate && res.Referrers > 0:
		it.Status, it.Reason = Copied, "signatures or SBOMs added since the image was synced"
	case res.UpToDate:
		it.Status = InSync // another writer (an event) got there between the HEAD and the copy
	default:
		it.Status = Copied
		level := slog.LevelDebug // the engine has logged the copy
		if r.opts.LogCopies {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "reconciled", "was", it.DstDigest, "bytes", it.Bytes)
	}
	return it
}

// repositoryMissing reports whether dst does not exist, given headErr, the HEAD of its tag. A
// HEAD answer has no body, so a 404 does not say whether the tag or the repository is missing:
// a GET of the manifest does (NAME_UNKNOWN), and is sent only for a tag the HEAD did not find.
func (r *Reconciler) repositoryMissing(ctx context.Context, dst name.Repository, tag string, headErr error) bool {
	if errors.Is(headErr, registry.ErrRepositoryNotFound) {
		return true
	}
	if !errors.Is(headErr, registry.ErrNotFound) {
		return false
	}
	_, err := r.client.Repository(dst).Manifest(ctx, tag)
	return errors.Is(err, registry.ErrRepositoryNotFound)
}

func isSide(err error, side replicate.Side) bool {
	var ce *replicate.CopyError
	return errors.As(err, &ce) && ce.Side == side
}
