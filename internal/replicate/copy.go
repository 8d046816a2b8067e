// Package replicate is ecrsync's copy engine: it copies one image — every platform, layer and
// referrer — from one registry to another, bit for bit. It speaks only the OCI distribution API
// (through internal/registry) and knows nothing of AWS, Lambda or the CLI.
//
// Order is what keeps a destination consistent: blobs first, then child manifests by digest,
// then the top manifest by digest when it has referrers, then the referrers, and the tag last.
// No tag ever points at an image whose blobs or children are missing, even when a copy fails.
package replicate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/ecrsync/ecrsync/internal/ref"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// Defaults, with their reasons.
const (
	// DefaultJobs is how many blobs move at once. Copies are bound by hashing and by the
	// registries' disks, not by our CPU; eight streams keep a 2-core machine and a registry busy
	// without thrashing either.
	DefaultJobs = 8
	// DefaultSpoolLimit bounds the disk the spool uses at once: 256 MiB, half of Lambda's
	// default ephemeral storage (512 MB of /tmp), leaving room for anything else there. With
	// DefaultJobs blobs in flight, layers up to 32 MiB are all kept; larger ones as room allows.
	DefaultSpoolLimit = 256 << 20
	// maxReferrerDepth bounds how deep referrers of referrers are followed (an SBOM's signature is 2).
	maxReferrerDepth = 3
)

// cosignSuffixes are the tags cosign and its kin attach to sha256-<hex> for a digest.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// ReferrerTags lists the tags that can carry referrers of d: the OCI fallback tag sha256-<hex>
// and cosign's sha256-<hex>.sig, .att and .sbom. A copy of d brings whichever exist.
func ReferrerTags(d digest.Digest) []string {
	base := registry.TagFor(d)
	out := []string{base}
	for _, suffix := range cosignSuffixes {
		out = append(out, base+suffix)
	}
	return out
}

// Options configure a Copier. The zero value copies referrers with DefaultJobs and no logs.
type Options struct {
	// Jobs bounds concurrent blob transfers; 0 means DefaultJobs.
	Jobs int
	// NoReferrers skips OCI referrers and cosign-style sha256-<hex>.sig/.att/.sbom tags.
	NoReferrers bool
	// SpoolDir is where verified blobs are kept for a retry after a destination failure; ""
	// means os.TempDir() (in Lambda, /tmp: its ephemeral storage).
	SpoolDir string
	// SpoolLimit bounds the bytes kept in SpoolDir at once, over every copy of the Copier; 0
	// means DefaultSpoolLimit, less than 0 no spool. A blob that does not fit streams from the
	// source on every attempt.
	SpoolLimit int64
	// Logger receives one Info line per copy and Debug detail; nil discards.
	Logger *slog.Logger
	// Progress, if set, is called as bytes move (from many goroutines; keep it cheap).
	Progress func(Progress)
}

// Progress is a snapshot of one copy's transfer, for a progress display.
type Progress struct {
	Ref          string
	BytesSent    int64
	BlobsDone    int64
	BlobsSkipped int64
}

// Result is what one copy did.
type Result struct {
	Src          string        `json:"src"`
	Dst          string        `json:"dst"`
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	UpToDate     bool          `json:"upToDate"`     // the destination already had it; nothing was sent
	Manifests    int64         `json:"manifests"`    // manifests put
	Blobs        int64         `json:"blobs"`        // blobs uploaded
	BlobsMounted int64         `json:"blobsMounted"` // blobs linked from another repository of the destination
	BlobsSkipped int64         `json:"blobsSkipped"` // blobs the destination already had
	BytesSent    int64         `json:"bytesSent"`
	Referrers    int64         `json:"referrers"` // referrer manifests copied
	Duration     time.Duration `json:"-"`
	DurationMs   int64         `json:"durationMs"` // Duration in milliseconds: the one unit of every line and report
}

// Copier copies images. It is safe for concurrent use; reuse one so connections, tokens and the
// knowledge of where blobs live are shared.
type Copier struct {
	c    *registry.Client
	opts Options
	log  *slog.Logger
	// seen remembers, per destination host, a repository known to hold each blob, so a copy into
	// another repository of the same registry mounts instead of uploading.
	seen sync.Map // host + "@" + digest -> repository name
	// present remembers what a destination repository is known to hold (blobs, manifests by
	// digest), so a batch of copies into one repository asks once. Entries age out after
	// presentTTL, and all are dropped when a registry says a blob is missing after all.
	present sync.Map // host/repo@digest -> time.Time
	noAPI   sync.Map // source host -> when it was found without a referrers API

	spool    *spool
	mu       sync.Mutex
	inflight map[string]*once    // dst repo@digest -> the upload in flight
	tags     map[string][]string // src repo -> tags a batch caller already listed (KnowTags)
}

// presentTTL bounds how long "the destination has it" is believed without asking again: a
// lifecycle policy or garbage collection may delete in the meantime.
const presentTTL = 5 * time.Minute

func (cp *Copier) known(repo Target, d digest.Digest) bool {
	v, ok := cp.present.Load(repo.String() + "@" + d.String())
	return ok && time.Since(v.(time.Time)) < presentTTL
}

func (cp *Copier) mark(repo Target, d digest.Digest) {
	cp.present.Store(repo.String()+"@"+d.String(), time.Now())
}

// New returns a Copier over client c.
func New(c *registry.Client, opts Options) *Copier {
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs
	}
	if opts.SpoolLimit == 0 {
		opts.SpoolLimit = DefaultSpoolLimit
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Copier{c: c, opts: opts, log: log, inflight: map[string]*once{}, tags: map[string][]string{},
		spool: &spool{dir: opts.SpoolDir, limit: opts.SpoolLimit}}
}

// KnowTags tells the Copier the tags of a source repository, so that copies from it in a batch
// (every tag of a repository, a reconcile) do not each list them again to find referrer tags.
// Call the returned function when the batch is done: later copies list afresh, so a signature
// pushed meanwhile is not missed.
func (cp *Copier) KnowTags(repo name.Repository, tags []string) (forget func()) {
	cp.mu.Lock()
	cp.tags[repo.String()] = tags
	cp.mu.Unlock()
	return func() {
		cp.mu.Lock()
		delete(cp.tags, repo.String())
		cp.mu.Unlock()
	}
}

func (cp *Copier) knownTags(repo string) ([]string, bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	t, ok := cp.tags[repo]
	return t, ok
}

// ParseReference parses host[:port]/repo[:tag|@digest] by ecrsync's one grammar (internal/ref),
// then builds the go-containerregistry name with StrictValidation, which accepts everything ref
// does. A reference with neither tag nor digest is returned with an empty identifier so the
// caller can tell it apart from ":latest"; with both, the digest is what is copied.
func ParseReference(s string) (repo name.Repository, ident string, err error) {
	r, err := ref.Parse(s)
	if err != nil {
		return name.Repository{}, "", &PermanentError{Err: err}
	}
	repo, err = name.NewRepository(r.Name(), name.StrictValidation)
	if err != nil {
		return name.Repository{}, "", permanent("image reference %q: %w", s, err)
	}
	ident = r.Tag
	if r.Digest != "" {
		ident = r.Digest
	}
	return repo, ident, nil
}

// Copy copies the image src to dst (both host[:port]/repo[:tag|@digest]). A dst without tag or
// digest takes src's tag, or only src's digest when src names none.
func (cp *Copier) Copy(ctx context.Context, src, dst string) (*Result, error) {
	srcRepo, srcRef, dstRepo, dstRef, err := parsePair(src, dst)
	if err != nil {
		return nil, err
	}
	return cp.CopyRef(ctx, srcRepo, srcRef, dstRepo, dstRef)
}

// parsePair parses Copy's and Plan's src and dst references; a src without tag or digest
// means its "latest".
func parsePair(src, dst string) (srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string, err error) {
	if srcRepo, srcRef, err = ParseReference(src); err != nil {
		return
	}
	if dstRepo, dstRef, err = ParseReference(dst); err != nil {
		return
	}
	if srcRef == "" {
		srcRef = "latest"
	}
	return
}

// CopyRef copies srcRef (a tag or digest) of srcRepo to dstRef of dstRepo; an empty dstRef
// means srcRef when it is a tag, else by digest only.
//
// Passing failures are retried until the copy's retry deadline: ctx's (registry.WithRetryDeadline,
// which the Lambda sets from its invocation's deadline), else the client's retry budget from now.
func (cp *Copier) CopyRef(ctx context.Context, srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string) (*Result, error) {
	return cp.CopyTarget(ctx, cp.c.Repository(srcRepo), srcRef, cp.c.Repository(dstRepo), dstRef)
}

// CopyTarget copies srcRef (a tag or digest) of src to dstRef of dst, as CopyRef does between
// registry repositories; either side may be any Target, such as an OCI image layout. An empty
// dstRef means srcRef when it is a tag, else by digest only.
func (cp *Copier) CopyTarget(ctx context.Context, src Target, srcRef string, dst Target, dstRef string) (*Result, error) {
	start := time.Now()
	policy := cp.c.RetryPolicy()
	ctx = registry.WithRetryDeadline(ctx, policy.Deadline(ctx, policy.Now()))
	if dstRef == "" && !isDigest(srcRef) {
		dstRef = srcRef
	}
	j := &job{cp: cp, src: src, dst: dst,
		sem: make(chan struct{}, cp.opts.Jobs), manifests: map[digest.Digest]*once{},
		srcFallback: map[digest.Digest]*registry.Manifest{}}
	res := &Result{Src: join(src.String(), srcRef)}
	j.res = res

	top, err := j.src.Manifest(ctx, srcRef)
	if err != nil {
		return nil, &CopyError{Side: Src, Op: "fetching manifest", Ref: res.Src, Err: err}
	}
	res.Digest, res.MediaType = top.Descriptor.Digest, top.Descriptor.MediaType
	if dstRef == "" {
		dstRef = top.Descriptor.Digest.String()
	}
	if isDigest(dstRef) && dstRef != top.Descriptor.Digest.String() {
		return nil, permanent("destination digest %s differs from the source's %s: a copy cannot change a digest", dstRef, top.Descriptor.Digest)
	}
	res.Dst = join(dst.String(), dstRef)
	log := cp.log.With("src", res.Src, "dst", res.Dst, "digest", res.Digest)

	err = j.run(ctx, top, dstRef)
	if r, ok := dst.(Rooted); ok && err == nil && isDigest(dstRef) {
		if err = r.AddRoot(ctx, top.Descriptor); err != nil {
			err = &CopyError{Side: Dst, Op: "listing image", Ref: res.Dst, Err: err}
		}
	}
	res.Duration = time.Since(start)
	res.DurationMs = res.Duration.Milliseconds()
	if err != nil {
		log.WarnContext(ctx, "copy failed", "err", err, "retryable", Retryable(err), "class", Classify(err), "bytes", res.BytesSent, "durationMs", res.DurationMs)
		return res, err
	}
	log.InfoContext(ctx, "copied", "upToDate", res.UpToDate, "bytes", res.BytesSent, "blobs", res.Blobs,
		"blobsSkipped", res.BlobsSkipped, "blobsMounted", res.BlobsMounted, "manifests", res.Manifests,
		"referrers", res.Referrers, "durationMs", res.DurationMs)
	return res, nil
}

func isDigest(ref string) bool { return strings.Contains(ref, ":") }

func join(repo, ref string) string {
	if isDigest(ref) {
		return repo + "@" + ref
	}
	return repo + ":" + ref
}

// once runs a piece of work at most once per copy and lets others wait for its outcome.
type once struct {
	done chan struct{}
	err  error
	job  *job // the copy doing the work
}

// wait returns the work's outcome once it is done.
func (o *once) wait(ctx context.Context) error {
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// claim returns the work for d in m and whether the caller owns it (must do it and close done).
func (j *job) claim(m map[digest.Digest]*once, d digest.Digest) (*once, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if o, ok := m[d]; ok {
		return o, false
	}
	o := &once{done: make(chan struct{})}
	m[d] = o
	return o, true
}

// job is one Copy in flight.
type job struct {
	cp       *Copier
	src, dst Target
	res      *Result
	sem      chan struct{} // bounds concurrent blob transfers

	mu          sync.Mutex
	manifests   map[digest.Digest]*once
	unindexed   []*registry.Manifest                 // referrers put to a destination without a referrers API
	srcFallback map[digest.Digest]*registry.Manifest // the source's fallback-tag index per subject

	tagsOnce sync.Once
	tags     map[string]bool // the source repository's tags, for fallback and cosign tags
	tagsErr  error
}

// run copies top and its referrers and finally points dstRef at it.
func (j *job) run(ctx context.Context, top *registry.Manifest, dstRef string) error {
	// Ask the destination and look for referrers at once: on a warm copy these few requests
	// are all the work, so their latency should not add up.
	var have ocispec.Descriptor
	var refs []referrer
	var headErr error
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		have, headErr = j.dst.Head(gctx, dstRef)
		if headErr != nil && !errors.Is(headErr, registry.ErrNotFound) {
			return &CopyError{Side: Dst, Op: "checking", Ref: j.res.Dst, Err: headErr}
		}
		return nil
	})
	if !j.cp.opts.NoReferrers {
		g.Go(func() error { _, err := j.srcTags(gctx); return err })
		g.Go(func() (err error) { refs, err = j.findReferrers(gctx, top, 0); return err })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// If the tag is already there, the image is complete there: registries refuse a manifest
	// whose blobs or children are missing, and we never tag before those are in.
	if headErr == nil && have.Digest == top.Descriptor.Digest {
		j.res.UpToDate = true
		return j.copyReferrers(ctx, refs)
	}
	if err := j.copyChildren(ctx, top); err != nil {
		return err
	}
	if len(refs) > 0 && !isDigest(dstRef) {
		// Put the image by digest first, so its signatures and SBOMs are in place before the
		// tag makes it visible: an admission controller never sees it unsigned.
		if err := j.putManifest(ctx, top, top.Descriptor.Digest.String()); err != nil {
			return err
		}
	}
	if err := j.copyReferrers(ctx, refs); err != nil {
		return err
	}
	return j.putManifest(ctx, top, dstRef)
}

// copyManifest copies m's blobs and children, then puts m by digest, once per copy.
func (j *job) copyManifest(ctx context.Context, m *registry.Manifest) error {
	o, owner := j.claim(j.manifests, m.Descriptor.Digest)
	if !owner {
		return o.wait(ctx)
	}
	defer close(o.done)
	o.err = j.copyChildren(ctx, m)
	if o.err == nil {
		o.err = j.putManifest(ctx, m, m.Descriptor.Digest.String())
	}
	return o.err
}

// copyChildren copies what m refers to: an index's manifests, or an image's config and layers.
func (j *job) copyChildren(ctx context.Context, m *registry.Manifest) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, d := range m.Manifests {
		g.Go(func() error { return j.copyChild(ctx, d) })
	}
	if m.Config != nil {
		g.Go(func() error { return j.copyBlob(ctx, *m.Config) })
	}
	for _, d := range m.Layers {
		g.Go(func() error { return j.copyBlob(ctx, d) })
	}
	return g.Wait()
}

// copyChild copies one manifest an index lists, unless the destination has it already.
func (j *job) copyChild(ctx context.Context, d ocispec.Descriptor) error {
	ref := j.dst.String() + "@" + d.Digest.String()
	if j.cp.known(j.dst, d.Digest) {
		return nil
	}
	if _, err := j.dst.Head(ctx, d.Digest.String()); err == nil {
		j.cp.mark(j.dst, d.Digest)
		return nil // complete by the registry's own invariant
	} else if !errors.Is(err, registry.ErrNotFound) {
		return &CopyError{Side: Dst, Op: "checking manifest", Ref: ref, Err: err}
	}
	m, err := j.src.Manifest(ctx, d.Digest.String())
	if err != nil {
		return &CopyError{Side: Src, Op: "fetching manifest", Ref: j.src.String() + "@" + d.Digest.String(), Err: err}
	}
	return j.copyManifest(ctx, m)
}

// putManifest puts m's exact bytes under ref in the destination.
func (j *job) putManifest(ctx context.Context, m *registry.Manifest, ref string) error {
	indexed, err := j.dst.PutManifest(ctx, ref, m)
	if err != nil && errors.Is(err, registry.ErrTagImmutable) {
		// An immutable tag refuses even the same image put again (ECR says
		// ImageAlreadyExistsException for that, which is success). Another writer may have put it
		// since we looked: if the tag holds this digest, the work is done.
		if have, herr := j.dst.Head(ctx, ref); herr == nil && have.Digest == m.Descriptor.Digest {
			return nil
		}
	}
	if err != nil {
		if errors.Is(err, registry.ErrBlobUnknown) {
			// Something we believed present is gone: forget it all, so a retry checks again.
			j.cp.present.Clear()
		}
		return &CopyError{Side: Dst, Op: "putting manifest", Ref: join(j.dst.String(), ref), Err: err}
	}
	atomic.AddInt64(&j.res.Manifests, 1)
	j.cp.mark(j.dst, m.Descriptor.Digest)
	if m.Subject != nil && !indexed {
		j.mu.Lock()
		j.unindexed = append(j.unindexed, m)
		j.mu.Unlock()
	}
	return nil
}

// copyBlob makes sure the destination holds blob d, uploading it at most once per copy.
func (j *job) copyBlob(ctx context.Context, d ocispec.Descriptor) error {
	if len(d.URLs) > 0 && nonDistributable(d.MediaType) {
		// Foreign / non-distributable layer: clients fetch it from its URLs; keep the reference.
		return nil
	}
	// One upload per destination repository and digest at a time, across every copy this
	// Copier runs: a base layer shared by a batch of images goes once.
	key := j.dst.String() + "@" + d.Digest.String()
	for {
		o, owner := j.cp.claimBlob(key, j)
		if !owner {
			if err := o.wait(ctx); err == nil {
				if o.job != j {
					atomic.AddInt64(&j.res.BlobsSkipped, 1)
				}
				return nil
			} else if o.job == j || ctx.Err() != nil {
				return err
			}
			continue // another copy failed at it: try ourselves
		}
		defer j.cp.releaseBlob(key, o)
		select {
		case j.sem <- struct{}{}:
		case <-ctx.Done():
			o.err = ctx.Err()
			return o.err
		}
		defer func() { <-j.sem }()
		o.err = j.ensureBlob(ctx, d)
		return o.err
	}
}

// claimBlob returns the upload in flight for key and whether the caller owns it.
func (cp *Copier) claimBlob(key string, j *job) (*once, bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if o, ok := cp.inflight[key]; ok {
		return o, false
	}
	o := &once{done: make(chan struct{}), job: j}
	cp.inflight[key] = o
	return o, true
}

// releaseBlob ends an upload: waiters learn its outcome, and later copies ask afresh (or find
// it in the present cache).
func (cp *Copier) releaseBlob(key string, o *once) {
	cp.mu.Lock()
	delete(cp.inflight, key)
	cp.mu.Unlock()
	close(o.done)
}

func (j *job) ensureBlob(ctx context.Context, d ocispec.Descriptor) error {
	ref := j.dst.String() + "@" + d.Digest.String()
	if j.cp.known(j.dst, d.Digest) {
		atomic.AddInt64(&j.res.BlobsSkipped, 1)
		j.progress(0)
		return nil
	}
	ok, err := j.dst.BlobExists(ctx, d.Digest)
	if err != nil {
		return &CopyError{Side: Dst, Op: "checking blob", Ref: ref, Err: err}
	}
	if ok {
		atomic.AddInt64(&j.res.BlobsSkipped, 1)
		j.remember(d.Digest)
		j.progress(0)
		return nil
	}
	if j.mount(ctx, d.Digest) {
		atomic.AddInt64(&j.res.BlobsMounted, 1)
		j.remember(d.Digest)
		j.progress(0)
		return nil
	}
	return j.transfer(ctx, d)
}

// transfer moves blob d from the source to the destination, retrying passing failures of
// either side until the copy's retry deadline (registry.RetryPolicy.Deadline). The first attempt
// streams source to destination and keeps the verified bytes in the spool as they pass; when
// the destination fails, the rest of the source is read into the spool, so the next attempts
// upload from disk and meet only the destination's faults. When the source fails (reset,
// truncated, corrupted), the next attempt reads the source alone into the spool, then uploads.
// A blob the spool cannot hold streams from the source on every attempt. The same wrong
// bytes read twice in a row mean the source stores them: permanent.
func (j *job) transfer(ctx context.Context, d ocispec.Descriptor) error {
	r := j.cp.c.RetryPolicy().Start(ctx)
	sp := j.cp.spool.open(ctx, d.Size, j.cp.log)
	defer sp.close()
	var prev *registry.MismatchError // the last source read's mismatch, if it failed so
	same := 0                        // how many source reads in a row read prev's wrong bytes
	need := sameReadsForCorrupt(d.Size)
	for {
		var err error
		srcRead := false
		switch {
		case sp.full:
			err = j.upload(ctx, d, sp)
		case sp.srcOnly:
			srcRead = true
			if err = j.fetch(ctx, d, sp); err == nil {
				prev, same = nil, 0
				continue // the bytes are in: upload them at once
			}
		default:
			srcRead = true
			err = j.stream(ctx, d, sp)
		}
		if err == nil {
			atomic.AddInt64(&j.res.Blobs, 1)
			j.remember(d.Digest)
			j.progress(0)
			return nil
		}
		var me *registry.MismatchError
		var ce *CopyError
		srcFailed := errors.As(err, &ce) && ce.Side == Src
		switch {
		case errors.As(err, &me) && me.Same(prev):
			if same++; same >= need {
				// The same wrong bytes again and again: the source stores them, and no retry fixes it.
				return &PermanentError{Err: fmt.Errorf("source blob %s@%s read the same wrong content %d times in a row (%s): %w",
					j.src, d.Digest, same, me.Got, err)}
			}
		case me != nil:
			prev, same = me, 1
		case srcRead && srcFailed:
			prev, same = nil, 0
		}
		if srcFailed && sp.f != nil {
			sp.srcOnly = true // read the source alone next time
		}
		wait, ok := r.Next(Classify(err), 0)
		if !ok || ctx.Err() != nil {
			if Classify(err).Retryable() && ctx.Err() == nil {
				j.cp.log.InfoContext(ctx, "giving up on blob", "digest", d.Digest, "reason", err, "attempts", r.Attempts,
					"elapsed", r.Elapsed().Round(time.Millisecond).String())
				return r.GaveUp(err)
			}
			return err
		}
		side := ""
		if ce != nil {
			side = string(ce.Side)
		}
		j.cp.log.InfoContext(ctx, "retrying blob", "digest", d.Digest, "side", side, "reason", err, "attempt", r.Attempts,
			"wait", wait.Round(time.Millisecond).String(), "left", r.Left().Round(time.Second).String(), "spooled", sp.full)
		if !r.Wait(ctx, wait) {
			return err
		}
	}
}

// sameReadsForCorrupt is how many source reads in a row must bring the same wrong bytes before
// the source is taken to store them. Damage on the way lands anywhere: two damaged reads of a
// blob of n bytes agree by chance about once in n, so for blobs of 10 KiB and more two reads in a
// row say it (chance below 1 in 10,000). A tiny blob can be damaged in few ways (the 2-byte empty
// config "{}" in 2): it needs more reads, up to 8, for the same confidence.
func sameReadsForCorrupt(size int64) int {
	if size < 2 {
		return 8
	}
	return min(8, 1+int(math.Ceil(4/math.Log10(float64(size)))))
}

// stream copies one blob from source to destination in one streamed request, verifying its
// digest and size on the way and keeping the bytes in sp. The upload is never completed with
// bytes that fail verification: the verifier fails the body read, so the PUT is aborted before
// the registry commits it. When the destination fails, the rest of the source is read into sp
// (sp.full then says the verified blob is there).
func (j *job) stream(ctx context.Context, d ocispec.Descriptor, sp *spooled) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Open the upload session while the source answers.
	type session struct {
		loc string
		err error
	}
	started := make(chan session, 1)
	go func() {
		loc, err := j.dst.StartUpload(ctx)
		started <- session{loc, err}
	}()
	rc, err := j.src.Blob(ctx, d.Digest, d.Size)
	s := <-started
	if err != nil {
		return &CopyError{Side: Src, Op: "fetching blob", Ref: j.src.String() + "@" + d.Digest.String(), Err: err}
	}
	defer rc.Close()
	if s.err != nil {
		return &CopyError{Side: Dst, Op: "starting upload", Ref: j.dst.String() + "@" + d.Digest.String(), Err: s.err}
	}
	body := &teeReader{countingReader: countingReader{r: rc, j: j}, sp: sp.writer()}
	err = j.dst.FinishUpload(ctx, s.loc, d.Digest, d.Size, body)
	body.detach() // the transport may still hold the body: from here on only we read the source
	if body.err != nil && !errors.Is(body.err, io.EOF) {
		// The source side broke (reset, truncated, wrong bytes); say so rather than the PUT's error.
		atomic.AddInt64(&j.res.BytesSent, -body.n)
		return &CopyError{Side: Src, Op: "reading blob", Ref: j.src.String() + "@" + d.Digest.String(), Err: body.err}
	}
	if err != nil {
		atomic.AddInt64(&j.res.BytesSent, -body.n)
		if body.sp != nil {
			// Keep what the source sent for the next attempt: read the rest into the spool.
			sp.full = body.finish() == nil
		}
		return &CopyError{Side: Dst, Op: "uploading blob", Ref: j.dst.String() + "@" + d.Digest.String(), Err: err}
	}
	return nil
}

// fetch reads blob d from the source alone into sp, verified.
func (j *job) fetch(ctx context.Context, d ocispec.Descriptor, sp *spooled) error {
	ref := j.src.String() + "@" + d.Digest.String()
	rc, err := j.src.Blob(ctx, d.Digest, d.Size)
	if err != nil {
		return &CopyError{Side: Src, Op: "fetching blob", Ref: ref, Err: err}
	}
	defer rc.Close()
	w := sp.writer()
	if w == nil {
		sp.srcOnly = false
		return &CopyError{Side: Src, Op: "spooling blob", Ref: ref, Err: sp.err}
	}
	if _, err := io.Copy(w, readerOnly{rc}); err != nil {
		if sp.err != nil {
			sp.srcOnly = false // the disk failed, not the source: stream from now on
		}
		return &CopyError{Side: Src, Op: "reading blob", Ref: ref, Err: err}
	}
	sp.full, sp.srcOnly = true, false
	return nil
}

// upload sends the spooled blob d to the destination: the source is not read again.
func (j *job) upload(ctx context.Context, d ocispec.Descriptor, sp *spooled) error {
	ref := j.dst.String() + "@" + d.Digest.String()
	loc, err := j.dst.StartUpload(ctx)
	if err != nil {
		return &CopyError{Side: Dst, Op: "starting upload", Ref: ref, Err: err}
	}
	body := &teeReader{countingReader: countingReader{r: io.NewSectionReader(sp.f, 0, d.Size), j: j}}
	err = j.dst.FinishUpload(ctx, loc, d.Digest, d.Size, body)
	body.detach() // the transport may still hold the body after an early answer
	if err != nil {
		atomic.AddInt64(&j.res.BytesSent, -body.n)
		return &CopyError{Side: Dst, Op: "uploading blob", Ref: ref, Err: err}
	}
	return nil
}

// readerOnly hides a reader's WriterTo, so io.Copy reads through its Read (the verifier).
type readerOnly struct{ io.Reader }

// countingReader counts bytes sent and keeps the source's read error.
type countingReader struct {
	r   io.Reader
	j   *job
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.j.progress(int64(n))
	if err != nil {
		c.err = err
	}
	return n, err
}

// teeReader is the body of a streamed upload: it counts, keeps every byte in the spool as it
// passes, and can be detached from the HTTP transport (which may read a request body after
// RoundTrip returned) so that the copy reads the rest of the source itself.
type teeReader struct {
	countingReader
	sp       io.Writer // nil: not spooled
	mu       sync.Mutex
	detached bool
}

// errDetached is what a detached body answers a late read by the transport.
var errDetached = errors.New("upload body detached")

func (t *teeReader) Read(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.detached {
		return 0, errDetached
	}
	n, err := t.countingReader.Read(p)
	t.keep(p[:n])
	return n, err
}

// keep writes to the spool; a spool that fails is dropped, the copy goes on without it.
func (t *teeReader) keep(p []byte) {
	if t.sp == nil || len(p) == 0 {
		return
	}
	if _, err := t.sp.Write(p); err != nil {
		t.sp = nil
	}
}

func (t *teeReader) detach() {
	t.mu.Lock()
	t.detached = true
	t.mu.Unlock()
}

// finish reads the rest of the source into the spool; nil means the spool now holds the whole
// blob, verified (the source's reader verifies at its end).
func (t *teeReader) finish() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	buf := make([]byte, 32<<10)
	for t.err == nil {
		n, err := t.r.Read(buf)
		t.keep(buf[:n])
		if err != nil {
			t.err = err
		}
	}
	if !errors.Is(t.err, io.EOF) || t.sp == nil {
		return fmt.Errorf("keeping the blob: %w", t.err)
	}
	return nil
}

// progress adds sent bytes and reports to the Progress callback.
func (j *job) progress(n int64) {
	if n > 0 {
		atomic.AddInt64(&j.res.BytesSent, n)
	}
	if j.cp.opts.Progress == nil {
		return
	}
	j.cp.opts.Progress(Progress{Ref: j.res.Dst, BytesSent: atomic.LoadInt64(&j.res.BytesSent),
		BlobsDone:    atomic.LoadInt64(&j.res.Blobs) + atomic.LoadInt64(&j.res.BlobsMounted),
		BlobsSkipped: atomic.LoadInt64(&j.res.BlobsSkipped)})
}

// mount links a blob from a repository of the destination registry that holds it: the source
// repository when both are in one registry, or one an earlier copy put it in. Cross-registry
// (and on ECR cross-account) a mount never applies, so nothing is asked.
func (j *job) mount(ctx context.Context, d digest.Digest) bool {
	var from string
	if j.src.Host() == j.dst.Host() && j.src.Name() != j.dst.Name() {
		from = j.src.Name()
	} else if v, ok := j.cp.seen.Load(j.dst.Host() + "@" + d.String()); ok && v.(string) != j.dst.Name() {
		from = v.(string)
	}
	if from == "" {
		return false
	}
	ok, err := j.dst.Mount(ctx, d, from)
	if err != nil {
		j.cp.log.DebugContext(ctx, "mount failed; uploading instead", "digest", d, "from", from, "err", err)
		return false
	}
	return ok
}

func (j *job) remember(d digest.Digest) {
	j.cp.seen.Store(j.dst.Host()+"@"+d.String(), j.dst.Name())
	j.cp.mark(j.dst, d)
}

// nonDistributable reports whether layers of this type may be left out of a registry and
// fetched from their URLs instead (Docker foreign layers, OCI non-distributable layers).
func nonDistributable(mediaType string) bool {
	return strings.Contains(mediaType, ".foreign.") || strings.Contains(mediaType, ".nondistributable.")
}

func incr(p *int64) { atomic.AddInt64(p, 1) }
