package devstack

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

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// Defaults of a Stack, with their reasons.
const (
	// DefaultRetries bounds the attempts after the first at a push whose sync failed:
	// distribution notifies a manifest push before the tag is linked, so the first look may not
	// find it yet (the Lambda leaves that to Lambda's own retries).
	DefaultRetries = 3
	// DefaultWorkers is how many pushes are synced at once.
	DefaultWorkers = 4
	// tagLooks and tagInterval bound the wait for a pushed tag to appear in the source: it is
	// linked within milliseconds of the notification.
	tagLooks    = 20
	tagInterval = 50 * time.Millisecond
	// queueSize bounds the pushes waiting; more are dropped, with a warning.
	queueSize = 1024
)

// StackOptions configure StartStack. The zero value runs both registries on free ports with
// storage in a temporary directory removed on Close.
type StackOptions struct {
	// SrcAddr and DstAddr are the registries' listen addresses; empty means 127.0.0.1:0.
	SrcAddr, DstAddr string
	// DataDir keeps the registries' storage across restarts; empty means a temporary directory.
	DataDir string
	// Logger gets the notifications that could not be read and the syncs that failed; nil
	// discards.
	Logger *slog.Logger
	// Retries: 0 means DefaultRetries; less than 0, none.
	Retries int
	// Backoff is the wait before retry n (0-based); nil means (n+1) x 200 ms.
	Backoff func(n int) time.Duration
	// After waits (a timer channel); nil means time.After. Tests pass one that fires at once.
	After func(time.Duration) <-chan time.Time
	// Workers: 0 means DefaultWorkers.
	Workers int
	// TagWait waits between looks for a pushed tag (a timer channel); nil means time.After.
	// Tests pass one that fires at once.
	TagWait func(time.Duration) <-chan time.Time
}

// Stack is a running `ecrsync dev`: a source registry that notifies a webhook of every push, a
// destination registry, and workers that hand the pushes to a sync function.
type Stack struct {
	Src, Dst *Registry

	opts   StackOptions
	log    *slog.Logger
	queue  chan event.Push
	hook   *http.Server
	tmp    string // storage made for this run, removed on Close
	synced chan struct{}
	pusher *Pusher // reads the source, to wait for a pushed tag

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartStack starts the registries and the webhook. Pushes queue up until Serve hands them to
// a sync function.
func StartStack(ctx context.Context, o StackOptions) (*Stack, error) {
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration { return time.Duration(n+1) * 200 * time.Millisecond }
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.TagWait == nil {
		o.TagWait = time.After
	}
	s := &Stack{opts: o, log: o.Logger, queue: make(chan event.Push, queueSize), synced: make(chan struct{}, 1), cancel: func() {}, pusher: NewPusher()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, a := range []string{o.SrcAddr, o.DstAddr} {
		if a == "" {
			continue
		}
		if host, _, err := net.SplitHostPort(a); err != nil || !registry.IsLoopback(host) {
			return nil, fmt.Errorf("address %q: the dev registries listen on loopback only (127.0.0.1:PORT)", a)
		}
	}
	// The webhook the source registry notifies, on a port of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.hook = &http.Server{Handler: http.HandlerFunc(s.notified), ReadHeaderTimeout: 10 * time.Second}
	go s.hook.Serve(ln)

	// Storage on disk even without DataDir: distribution's in-memory driver copies a blob as it
	// grows, which takes minutes for a layer of a few hundred MiB.
	root := o.DataDir
	if root == "" {
		tmp, err := os.MkdirTemp("", "ecrsync-dev-")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.tmp, root = tmp, tmp
	}
	if s.Src, err = Start(ctx, Options{Addr: o.SrcAddr, DataDir: filepath.Join(root, "src"), NotifyURL: "http://" + ln.Addr().String() + "/events"}); err != nil {
		s.Close()
		return nil, fmt.Errorf("starting the source registry: %w", err)
	}
	if s.Dst, err = Start(ctx, Options{Addr: o.DstAddr, DataDir: filepath.Join(root, "dst")}); err != nil {
		s.Close()
		return nil, fmt.Errorf("starting the destination registry: %w", err)
	}
	return s, nil
}

// SyncFunc syncs one push. last says that no retry follows if it fails: the moment to report.
type SyncFunc func(ctx context.Context, p event.Push, last bool) error

// Serve hands queued pushes to sync, a few at a time, until ctx ends or Close. A failed sync is
// tried again after a backoff; the wait ends with ctx.
func (s *Stack) Serve(ctx context.Context, sync SyncFunc) {
	ctx, s.cancel = context.WithCancel(ctx)
	sem := make(chan struct{}, s.opts.Workers)
	s.wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-s.queue:
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				s.wg.Go(func() {
					defer func() { <-sem }()
					s.syncPush(ctx, p, sync)
				})
			}
		}
	})
}

// syncPush runs sync for p, with retries, and wakes whoever waits on Synced.
func (s *Stack) syncPush(ctx context.Context, p event.Push, sync SyncFunc) {
	defer func() {
		select {
		case s.synced <- struct{}{}:
		default:
		}
	}()
	retries := max(0, s.opts.Retries)
	s.awaitTag(ctx, p)
	for try := 0; ; try++ {
		last := try >= retries
		err := sync(ctx, p, last)
		if err == nil || last {
			if err != nil {
				s.log.WarnContext(ctx, "sync failed", "push", p.String(), "err", err)
			}
			return
		}
		select {
		case <-s.opts.After(s.opts.Backoff(try)):
		case <-ctx.Done():
			return
		}
	}
}

// awaitTag waits (up to tagLooks x tagInterval) until the source serves p's tag: distribution
// notifies a manifest push before it links the tag, so the first look may not find it, and that
// look is not a failure to report. If the tag never appears the sync runs anyway and says why.
func (s *Stack) awaitTag(ctx context.Context, p event.Push) {
	if p.Tag == "" {
		return
	}
	repo, err := s.pusher.Repo(s.Src.Addr + "/" + p.Repository)
	if err != nil {
		return
	}
	for try := 0; try < tagLooks; try++ {
		if _, err := repo.Head(ctx, p.Tag); !errors.Is(err, registry.ErrNotFound) {
			return
		}
		s.log.DebugContext(ctx, "the tag is not in the source yet", "push", p.String(), "look", try+1)
		select {
		case <-s.opts.TagWait(tagInterval):
		case <-ctx.Done():
			return
		}
	}
}

// Synced signals after each push handled (synced, or failed for good).
func (s *Stack) Synced() <-chan struct{} { return s.synced }

// notified receives the source registry's notifications and queues their pushes: the registry
// waits for our answer, so the copy happens elsewhere.
func (s *Stack) notified(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, event.MaxInput+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in, err := event.Decode(body)
	if err != nil {
		s.log.ErrorContext(r.Context(), "notification", "err", err)
		w.WriteHeader(http.StatusOK) // a retry would not make it readable
		return
	}
	for _, rec := range in.Records {
		if rec.Err != nil || rec.Reconcile != nil || rec.Push.SkipReason() != "" {
			continue
		}
		// It came from our source registry, whatever host name the pushing client used.
		rec.Push.Registry = s.Src.Addr
		select {
		case s.queue <- rec.Push:
		default:
			s.log.WarnContext(r.Context(), "dropping a push: the queue is full", "push", rec.Push.String())
		}
	}
	w.WriteHeader(http.StatusOK)
}

// Close stops the workers, the webhook and the registries, and removes temporary storage.
func (s *Stack) Close() {
	s.cancel()
	if s.hook != nil {
		s.hook.Close()
	}
	s.wg.Wait()
	if s.Src != nil {
		s.Src.Close()
	}
	if s.Dst != nil {
		s.Dst.Close()
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// ErrDemoDiffers is returned by Demo when the destination does not hold what the source does.
var ErrDemoDiffers = errors.New("the destination differs from the source")

// The demo image: Demo pushes DemoRepository:DemoTag to the source.
const (
	DemoRepository = "demo/app"
	DemoTag        = "dev"
)

// Demo pushes a multi-platform image with a signature to the source as DemoRepository:DemoTag,
// waits (up to timeout) for its sync to dstRepository (as the rules name it; "" means
// DemoRepository), and prints source and destination digests side by side to out.
func (s *Stack) Demo(ctx context.Context, out io.Writer, timeout time.Duration, dstRepository string) error {
	if dstRepository == "" {
		dstRepository = DemoRepository
	}
	p := NewPusher()
	src, err := p.Repo(s.Src.Addr + "/" + DemoRepository)
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
	if _, err := src.PutManifest(ctx, DemoTag, top); err != nil {
		return fmt.Errorf("tagging the demo image: %w", err)
	}
	fmt.Fprintf(out, "pushed    %s/%s:%s  %s (3 platforms, an attestation, a signature)\n", s.Src.Addr, DemoRepository, DemoTag, idx.Digest)

	dst, err := p.Repo(s.Dst.Addr + "/" + dstRepository)
	if err != nil {
		return err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if d, err := dst.Head(ctx, DemoTag); err == nil && d.Digest == idx.Digest {
			break
		}
		select {
		case <-s.synced:
		case <-time.After(200 * time.Millisecond):
		case <-deadline.C:
			return fmt.Errorf("the destination did not get %s within %s", idx.Digest, timeout)
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
	rows := []row{{"index", DemoTag}}
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
		return fmt.Errorf("%w: %s", ErrDemoDiffers, strings.Join(bad, ", "))
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
