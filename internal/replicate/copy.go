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
	// DefaultBlobAttempts is how many times one blob is streamed from the source before the copy
	// gives up: each attempt opens the source again, so a reset mid-upload or a corrupted download
	// costs one blob, not the whole copy.
	DefaultBlobAttempts = 5
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
	// BlobAttempts bounds attempts per blob; 0 means DefaultBlobAttempts.
	BlobAttempts int
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

	mu       sync.Mutex
	inflight map[string]*once    // dst repo@digest -> the upload in flight
	tags     map[string][]string // src repo -> tags a batch caller already listed (KnowTags)
}

// presentTTL bounds how long "the destination has it" is believed without asking again: a
// lifecycle policy or garbage collection may delete in the meantime.
const presentTTL = 5 * time.Minute

func (cp *Copier) known(repo *registry.Repository, d digest.Digest) bool {
	v, ok := cp.present.Load(repo.String() + "@" + d.String())
	return ok && time.Since(v.(time.Time)) < presentTTL
}

func (cp *Copier) mark(repo *registry.Repository, d digest.Digest) {
	cp.present.Store(repo.String()+"@"+d.String(), time.Now())
}

// New returns a Copier over client c.
func New(c *registry.Client, opts Options) *Copier {
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs
	}
	if opts.BlobAttempts <= 0 {
		opts.BlobAttempts = DefaultBlobAttempts
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Copier{c: c, opts: opts, log: log, inflight: map[string]*once{}, tags: map[string][]string{}}
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
	srcRepo, srcRef, err := ParseReference(src)
	if err != nil {
		return nil, err
	}
	dstRepo, dstRef, err := ParseReference(dst)
	if err != nil {
		return nil, err
	}
	if srcRef == "" {
		srcRef = "latest"
	}
	return cp.CopyRef(ctx, srcRepo, srcRef, dstRepo, dstRef)
}

// CopyRef copies srcRef (a tag or digest) of srcRepo to dstRef of dstRepo; an empty dstRef
// means srcRef when it is a tag, else by digest only.
func (cp *Copier) CopyRef(ctx context.Context, srcRepo name.Repository, srcRef string, dstRepo name.Repository, dstRef string) (*Result, error) {
	start := time.Now()
	if dstRef == "" && !isDigest(srcRef) {
		dstRef = srcRef
	}
	j := &job{cp: cp, src: cp.c.Repository(srcRepo), dst: cp.c.Repository(dstRepo),
		sem: make(chan struct{}, cp.opts.Jobs), manifests: map[digest.Digest]*once{},
		srcFallback: map[digest.Digest]*registry.Manifest{}}
	res := &Result{Src: join(srcRepo.String(), srcRef)}
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
	res.Dst = join(dstRepo.String(), dstRef)
	log := cp.log.With("src", res.Src, "dst", res.Dst, "digest", res.Digest)

	err = j.run(ctx, top, dstRef)
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
	src, dst *registry.Repository
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
	var last error
	mismatches := 0
	for attempt := 0; attempt < j.cp.opts.BlobAttempts; attempt++ {
		if attempt > 0 {
			wait := j.cp.c.RetryPolicy().Backoff(attempt - 1)
			j.cp.log.DebugContext(ctx, "retrying blob", "digest", d.Digest, "attempt", attempt+1, "err", last, "wait", wait)
			if !registry.Sleep(ctx, wait) {
				break
			}
		}
		last = j.stream(ctx, d)
		if errors.Is(last, registry.ErrDigestMismatch) {
			mismatches++
		}
		if last == nil {
			atomic.AddInt64(&j.res.Blobs, 1)
			j.remember(d.Digest)
			j.progress(0)
			return nil
		}
		if !Retryable(last) || ctx.Err() != nil {
			break
		}
	}
	if mismatches == j.cp.opts.BlobAttempts {
		// Every download failed verification: the source holds bad bytes, and no retry later
		// fixes that.
		return &PermanentError{Err: fmt.Errorf("source blob %s@%s did not match its digest in %d downloads: %w",
			j.src, d.Digest, mismatches, last)}
	}
	return last
}

// stream copies one blob from source to destination in one streamed request, verifying its
// digest and size on the way. The upload is never completed with bytes that fail verification:
// the verifier fails the body read, so the PUT is aborted before the registry commits it.
func (j *job) stream(ctx context.Context, d ocispec.Descriptor) error {
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
	body := &countingReader{r: rc, j: j}
	err = j.dst.FinishUpload(ctx, s.loc, d.Digest, d.Size, body)
	if body.err != nil && !errors.Is(body.err, io.EOF) {
		// The source side broke (reset, truncated, wrong bytes); say so rather than the PUT's error.
		atomic.AddInt64(&j.res.BytesSent, -body.n)
		return &CopyError{Side: Src, Op: "reading blob", Ref: j.src.String() + "@" + d.Digest.String(), Err: body.err}
	}
	if err != nil {
		atomic.AddInt64(&j.res.BytesSent, -body.n)
		return &CopyError{Side: Dst, Op: "uploading blob", Ref: j.dst.String() + "@" + d.Digest.String(), Err: err}
	}
	return nil
}

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
