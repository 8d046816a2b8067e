package devstack

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/event"
)

// TestStackWaitsForTheTagBeforeSyncing: a push announced before its tag exists (distribution
// notifies before it links the tag) reaches the sync function only once the tag is there, so
// the first look is not reported as a failure (issue 14.2). The wait's clock is injected: the
// tag is pushed when the stack starts waiting.
func TestStackWaitsForTheTagBeforeSyncing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var s *Stack
	var waited int
	after := func(time.Duration) <-chan time.Time {
		ch := make(chan time.Time, 1)
		waited++
		if waited == 1 {
			p := NewPusher()
			r, err := p.Repo(s.Src.Addr + "/app")
			if err != nil {
				t.Error(err)
			} else if _, err := p.Image(ctx, r, "v1", ImageSpec{Layers: [][]byte{RandomBytes(64, 1)}}); err != nil {
				t.Error(err)
			}
		}
		ch <- time.Now()
		return ch
	}
	var err error
	s, err = StartStack(ctx, StackOptions{DataDir: t.TempDir(), TagWait: after, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var sawTag []bool
	s.Serve(ctx, func(ctx context.Context, p event.Push, last bool) error {
		r, _ := NewPusher().Repo(s.Src.Addr + "/" + p.Repository)
		_, herr := r.Head(ctx, p.Tag)
		mu.Lock()
		defer mu.Unlock()
		sawTag = append(sawTag, herr == nil)
		return herr
	})
	s.queue <- event.Push{Registry: s.Src.Addr, Repository: "app", Tag: "v1"}
	select {
	case <-s.Synced():
	case <-time.After(time.Minute):
		t.Fatal("no sync within a minute")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sawTag) != 1 || !sawTag[0] {
		t.Fatalf("sync calls (tag present at each): %v; want one call, after the tag exists", sawTag)
	}
}
