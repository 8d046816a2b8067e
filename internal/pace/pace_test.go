package pace_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/pace"
)

// clock is a test clock: After records the wait and fires at once, moving the clock on.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) after(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

func TestPacerSpacesRequestsPerKeyAfterTheBurst(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	p := pace.New(pace.Options{Rate: func(key string) float64 {
		if key == "ecr/1/us-east-1" {
			return 4
		}
		return 0
	}, Now: c.now, After: c.after})
	ctx := context.Background()
	for range 8 {
		if err := p.Wait(ctx, "ecr/1/us-east-1"); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx, "host/other"); err != nil { // not paced: never waits
			t.Fatal(err)
		}
	}
	// A burst of 4, then one every 250 ms.
	if len(c.waits) != 4 {
		t.Fatalf("waits %v, want 4 after a burst of 4", c.waits)
	}
	for _, w := range c.waits {
		if w != 250*time.Millisecond {
			t.Fatalf("waits %v, want 250ms each", c.waits)
		}
	}
	if p.Waited() != time.Second {
		t.Fatalf("waited %s, want 1s", p.Waited())
	}
}

func TestPacerWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	never := func(time.Duration) <-chan time.Time { return nil }
	p := pace.New(pace.Options{Rate: func(string) float64 { return 1 }, After: never})
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Wait(ctx, "k"); err != nil { // the burst token
		t.Fatal(err)
	}
	cancel()
	if err := p.Wait(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestTransportPacesManifestPutsOnlyAndReportsThrottling(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/manifests/busy") {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c := &clock{t: time.Unix(0, 0)}
	p := pace.New(pace.Options{Rate: func(string) float64 { return 1 }, Now: c.now, After: c.after})
	host := strings.TrimPrefix(srv.URL, "http://")
	client := &http.Client{Transport: p.Transport(nil, func(h string) string {
		if h == host {
			return "reg"
		}
		return ""
	})}
	do := func(method, path string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		do(http.MethodPut, "/v2/app/blobs/uploads/x") // blobs are not paced
		do(http.MethodGet, "/v2/app/manifests/v1")    // nor reads
	}
	if len(c.waits) != 0 {
		t.Fatalf("waited %v for requests that are not manifest PUTs", c.waits)
	}
	do(http.MethodPut, "/v2/app/manifests/v1")
	do(http.MethodPut, "/v2/app/manifests/v2")
	if len(c.waits) != 1 || c.waits[0] != time.Second {
		t.Fatalf("waits %v, want one of 1s (rate 1, burst 1)", c.waits)
	}
	if code := do(http.MethodPut, "/v2/app/manifests/busy"); code != http.StatusTooManyRequests || p.Throttles("reg") != 1 {
		t.Fatalf("status %d, %d throttles recorded, want 429 and 1", code, p.Throttles("reg"))
	}
}
