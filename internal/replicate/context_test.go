package replicate_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

type requestIDKey struct{}

// ctxRecorder is a slog handler that notes, per record, whether the context it was logged with
// carries the request ID: what the Lambda's logger reads to tag every line.
type ctxRecorder struct {
	mu      sync.Mutex
	lines   []string
	without []string
}

func (h *ctxRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *ctxRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *ctxRecorder) WithGroup(string) slog.Handler            { return h }
func (h *ctxRecorder) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, r.Message)
	if ctx.Value(requestIDKey{}) == nil {
		h.without = append(h.without, r.Message)
	}
	return nil
}

// TestEveryEngineLineCarriesTheCallersContext: the engine and the client log with *Context,
// so a request ID in the invocation's context reaches every line — the copy's, the blob
// retry's and the HTTP retry's.
func TestEveryEngineLineCarriesTheCallersContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, err := devstack.Start(ctx, devstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	var faults atomic.Int32
	dst, err := devstack.Start(ctx, devstack.Options{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// One 503 on a HEAD (a retried request) and one on an upload PUT (a retried blob).
			if (r.Method == http.MethodHead || r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")) && faults.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	push := devstack.NewPusher()
	srcRepo, err := push.Repo(src.Addr + "/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := push.Image(ctx, srcRepo, "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(4000, 3)}}); err != nil {
		t.Fatal(err)
	}
	rec := &ctxRecorder{}
	log := slog.New(rec)
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}, Logger: log,
		Retry: registry.RetryPolicy{Base: 1e6, Max: 1e6}})
	cp := replicate.New(c, replicate.Options{Logger: log})
	invocation := context.WithValue(ctx, requestIDKey{}, "req-1")
	if _, err := cp.Copy(invocation, src.Addr+"/app:v1", dst.Addr+"/app"); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.lines) < 3 {
		t.Fatalf("only %d lines logged (%q): the faults did not cause retries, the test proves little", len(rec.lines), rec.lines)
	}
	if len(rec.without) > 0 {
		t.Fatalf("lines logged without the caller's context: %q (of %q)", rec.without, rec.lines)
	}
}

// TestHintsAreKeptOutOfErrorStrings: a failed copy's error says what failed; Hint says what to
// do, once, for every caller.
func TestHintsAreKeptOutOfErrorStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		hint string
	}{
		{"missing destination repository", &replicate.CopyError{Side: replicate.Dst, Op: "putting manifest", Ref: "r.io/a:v1",
			Err: &registry.Error{Method: http.MethodPut, StatusCode: 404, Code: "NAME_UNKNOWN"}}, "create the destination repository"},
		{"pull denied", &replicate.CopyError{Side: replicate.Src, Op: "fetching manifest", Ref: "r.io/a:v1",
			Err: &registry.Error{Method: http.MethodGet, StatusCode: 403, Code: "DENIED"}}, "allow pull"},
		{"not in the source", &replicate.CopyError{Side: replicate.Src, Op: "fetching manifest", Ref: "r.io/a:v1",
			Err: &registry.Error{Method: http.MethodGet, StatusCode: 404, Code: "MANIFEST_UNKNOWN"}}, "not found in the source"},
		{"plain HTTP without --insecure", &replicate.CopyError{Side: replicate.Dst, Op: "checking", Ref: "r.io/a:v1",
			Err: http.ErrSchemeMismatch}, "--insecure"},
		{"bad reference", func() error { _, _, err := replicate.ParseReference("r.io/App"); return err }(), "lower case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := replicate.Hint(tt.err)
			if !strings.Contains(h, tt.hint) {
				t.Fatalf("Hint(%v) = %q, want it to say %q", tt.err, h, tt.hint)
			}
			if strings.Contains(tt.err.Error(), h) || strings.Contains(tt.err.Error(), tt.hint) {
				t.Fatalf("Error() %q carries the hint", tt.err.Error())
			}
			if replicate.Retryable(tt.err) {
				t.Fatalf("Retryable(%v) = true for a failure someone must fix", tt.err)
			}
		})
	}
	if h := replicate.Hint(errors.New("something unforeseen")); h != "" {
		t.Fatalf("Hint of an unknown error = %q, want none", h)
	}
}
