package replicate

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
)

// spool keeps verified blobs on disk for the next attempt of their upload, within a bound on the
// bytes held at once. Never memory: a layer can be gigabytes. Each blob's file is unlinked as
// soon as it is created, so it is gone when the copy closes it, and gone even if the process is
// killed: nothing is left in the temp dir between Lambda invocations or CLI runs.
type spool struct {
	dir   string
	limit int64 // bytes; < 0 means no spool

	mu   sync.Mutex
	used int64
}

// spooled is one blob's place in the spool. f is nil when the blob is not spooled (no room,
// no spool, or the disk failed); then every attempt streams from the source.
type spooled struct {
	s    *spool
	f    *os.File
	size int64
	err  error // the disk's failure, if any
	// full: f holds the whole blob, verified. srcOnly: the next attempt reads the source alone.
	full, srcOnly bool
}

// open reserves room for a blob of size bytes and opens its file; without room, it returns a
// spooled that keeps nothing.
func (s *spool) open(ctx context.Context, size int64, log *slog.Logger) *spooled {
	sp := &spooled{s: s}
	if s == nil || s.limit < 0 || size <= 0 {
		return sp
	}
	s.mu.Lock()
	if s.used+size > s.limit {
		s.mu.Unlock()
		return sp
	}
	s.used += size
	s.mu.Unlock()
	sp.size = size
	f, err := os.CreateTemp(s.dir, "ecrsync-spool-*")
	if err != nil {
		log.DebugContext(ctx, "spool unavailable; blobs stream from the source on every attempt", "err", err)
		sp.release()
		return sp
	}
	os.Remove(f.Name()) // unlinked: the open file is all there is
	sp.f = f
	return sp
}

// writer returns where to keep the blob's bytes, from the start: nil when not spooled.
func (sp *spooled) writer() io.Writer {
	if sp.f == nil {
		return nil
	}
	sp.full = false
	if err := sp.f.Truncate(0); err != nil {
		sp.fail(err)
		return nil
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		sp.fail(err)
		return nil
	}
	return spoolWriter{sp}
}

// spoolWriter writes to the spool file and gives the spool up on the first error (disk full).
type spoolWriter struct{ sp *spooled }

func (w spoolWriter) Write(p []byte) (int, error) {
	n, err := w.sp.f.Write(p)
	if err != nil {
		w.sp.fail(err)
	}
	return n, err
}

func (sp *spooled) fail(err error) {
	sp.err = err
	sp.full = false
}

func (sp *spooled) release() {
	if sp.size > 0 {
		sp.s.mu.Lock()
		sp.s.used -= sp.size
		sp.s.mu.Unlock()
		sp.size = 0
	}
}

// close frees the blob's file and its room.
func (sp *spooled) close() {
	if sp.f != nil {
		sp.f.Close()
		sp.f = nil
	}
	sp.release()
}
