package registry_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// answering returns a server whose every answer status decides; it counts requests.
func answering(t *testing.T, status func(n int32, w http.ResponseWriter) int) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := status(n.Add(1), w)
		w.WriteHeader(code)
		if code >= 400 {
			w.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"injected"}]}`))
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

func head(t *testing.T, c *registry.Client, ctx context.Context, host string) error {
	t.Helper()
	repo, err := name.NewRepository(host+"/app", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Repository(repo).Head(ctx, "v1")
	return err
}

// TestRetriesUntilTheBudgetNotACount: a registry that answers 503 for good is retried with
// growing, jittered waits until the budget is spent — tens of attempts, not a fixed 8 — and the
// error says what was tried and stays transient (exit 3).
func TestRetriesUntilTheBudgetNotACount(t *testing.T) {
	t.Parallel()
	host, n := answering(t, func(int32, http.ResponseWriter) int { return http.StatusServiceUnavailable })
	clock := devtest.NewClock()
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{},
		Retry: registry.RetryPolicy{Budget: 2 * time.Minute, Clock: clock}})
	start := time.Now()
	err := head(t, c, context.Background(), host)
	var re *registry.RetryError
	if !errors.As(err, &re) || registry.Classify(err) != registry.Transient {
		t.Fatalf("err = %v (class %v), want a transient RetryError", err, registry.Classify(err))
	}
	var total time.Duration
	for i, d := range clock.Slept() {
		total += d
		if ceil := min(registry.DefaultBase<<i, registry.DefaultMax); d < 0 || d > ceil {
			t.Errorf("wait %d = %s, outside full jitter [0, %s]", i, d, ceil)
		}
	}
	if total > 2*time.Minute || total < 2*time.Minute-registry.DefaultMax {
		t.Errorf("waited %s in all, want just under the 2m budget", total)
	}
	if int(n.Load()) != re.Attempts || re.Attempts < 15 {
		t.Errorf("%d requests, %d attempts reported; want the same, and many (the budget, not a count, ends it)", n.Load(), re.Attempts)
	}
	if !strings.Contains(err.Error(), "gave up after") {
		t.Errorf("error %q does not say what was tried", err)
	}
	t.Logf("%d attempts over %s of backoff, in %s of real time", re.Attempts, total, time.Since(start).Round(time.Millisecond))
}

// TestRetryAfterIsHonoured: a 429 with Retry-After: 3 is waited out (plus a little jitter),
// then the request goes through.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	host, _ := answering(t, func(n int32, w http.ResponseWriter) int {
		if n <= 2 {
			w.Header().Set("Retry-After", "3")
			return http.StatusTooManyRequests
		}
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		return http.StatusOK
	})
	clock := devtest.NewClock()
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}, Retry: registry.RetryPolicy{Clock: clock}})
	if err := head(t, c, context.Background(), host); err != nil {
		t.Fatal(err)
	}
	sleeps := clock.Slept()
	if len(sleeps) != 2 {
		t.Fatalf("slept %v, want twice", sleeps)
	}
	for _, d := range sleeps {
		if d < 3*time.Second || d > 3300*time.Millisecond {
			t.Errorf("waited %s after Retry-After: 3", d)
		}
	}
}

// TestUnreachableGetsAShortBudget: a refused connection is retried for the short budget (10 s)
// however long the full one is, and classified Unreachable so the CLI can say "check the address".
func TestUnreachableGetsAShortBudget(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	clock := devtest.NewClock()
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{},
		Retry: registry.RetryPolicy{Budget: time.Hour, Clock: clock}})
	start := clock.Now()
	err = head(t, c, context.Background(), addr)
	if registry.Classify(err) != registry.Unreachable {
		t.Fatalf("err = %v (class %v), want unreachable", err, registry.Classify(err))
	}
	if spent := clock.Now().Sub(start); spent > registry.DefaultUnreachableBudget || len(clock.Slept()) < 2 {
		t.Fatalf("retried %d times over %s; want a few retries within %s", len(clock.Slept()), spent, registry.DefaultUnreachableBudget)
	}
}

// TestRetryDeadlineInContextWins: a retry deadline in the context (the Lambda's invocation
// deadline less a margin) bounds retries instead of the budget.
func TestRetryDeadlineInContextWins(t *testing.T) {
	t.Parallel()
	host, _ := answering(t, func(int32, http.ResponseWriter) int { return http.StatusBadGateway })
	clock := devtest.NewClock()
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{},
		Retry: registry.RetryPolicy{Budget: time.Hour, Clock: clock}})
	start := clock.Now()
	ctx := registry.WithRetryDeadline(context.Background(), start.Add(20*time.Second))
	if err := head(t, c, ctx, host); err == nil {
		t.Fatal("want an error")
	}
	if spent := clock.Now().Sub(start); spent > 20*time.Second || spent < 10*time.Second {
		t.Fatalf("retried for %s, want up to the context's 20 s", spent)
	}
}

// TestRetriesAreLoggedAtInfo: every retry says at info level what failed, the attempt, the next
// wait and the budget left; giving up is said too.
func TestRetriesAreLoggedAtInfo(t *testing.T) {
	t.Parallel()
	host, _ := answering(t, func(int32, http.ResponseWriter) int { return http.StatusServiceUnavailable })
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&buf, &mu}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}, Logger: log,
		Retry: registry.RetryPolicy{Budget: 5 * time.Second, Clock: devtest.NewClock()}})
	head(t, c, context.Background(), host)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{`msg="retrying request"`, "reason=\"503 Service Unavailable\"", "attempt=1 ", "wait=", "left=", `msg="giving up on request"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
