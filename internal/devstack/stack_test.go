package devstack_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/event"
)

// waits records the stack's backoff waits; fire says whether they end at once or never.
type waits struct {
	mu   sync.Mutex
	d    []time.Duration
	fire bool
}

func (w *waits) after(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	ch := make(chan time.Time, 1)
	if w.fire {
		ch <- time.Now()
	}
	return ch
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

func pushTo(t *testing.T, s *devstack.Stack) {
	t.Helper()
	p := devstack.NewPusher()
	r, err := p.Repo(s.Src.Addr + "/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(context.Background(), r, "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(64, 1)}}); err != nil {
		t.Fatal(err)
	}
}

// TestStackRetriesAFailedSyncWithBackoff: the source registry's notification reaches the sync
// function; a failed sync is tried again after the backoff (the injected clock fires at once),
// and the last attempt is marked as such.
func TestStackRetriesAFailedSyncWithBackoff(t *testing.T) {
	t.Parallel()
	w := &waits{fire: true}
	s, err := devstack.StartStack(context.Background(), devstack.StackOptions{DataDir: t.TempDir(), After: w.after})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var calls []bool // last, per call
	s.Serve(context.Background(), func(_ context.Context, p event.Push, last bool) error {
		mu.Lock()
		defer mu.Unlock()
		if p.Repository != "app" || p.Tag != "v1" || p.Registry != s.Src.Addr {
			t.Errorf("push %+v", p)
		}
		calls = append(calls, last)
		return errors.New("not there yet")
	})
	pushTo(t, s)
	select {
	case <-s.Synced():
	case <-time.After(time.Minute):
		t.Fatal("no sync within a minute")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1+devstack.DefaultRetries || !calls[len(calls)-1] || calls[0] {
		t.Fatalf("calls (last?) %v, want %d with only the last one last", calls, 1+devstack.DefaultRetries)
	}
	if got := w.list(); len(got) != devstack.DefaultRetries || got[0] != 200*time.Millisecond || got[2] != 600*time.Millisecond {
		t.Fatalf("backoff waits %v, want 200ms, 400ms, 600ms", got)
	}
}

// TestStackCloseEndsABackoffWait: Close cancels a sync waiting for its next attempt, instead of
// sleeping through the backoff (the injected clock never fires).
func TestStackCloseEndsABackoffWait(t *testing.T) {
	t.Parallel()
	w := &waits{}
	s, err := devstack.StartStack(context.Background(), devstack.StackOptions{After: w.after})
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan struct{}, 8)
	s.Serve(context.Background(), func(context.Context, event.Push, bool) error {
		failed <- struct{}{}
		return errors.New("fails")
	})
	pushTo(t, s)
	<-failed
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute): // a guard against hanging, not a speed check
		t.Fatal("Close waited for a backoff that never ends")
	}
	if n := len(w.list()); n != 1 {
		t.Fatalf("%d backoff waits, want 1", n)
	}
}
