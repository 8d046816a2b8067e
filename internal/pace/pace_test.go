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
	if code := do(http.MethodPut, "/v2/app/manifests/busy"); code != http.StatusTooManyRequests || p.Throttles("reg"+pace.Put) != 1 {
		t.Fatalf("status %d, %d throttles recorded, want 429 and 1", code, p.Throttles("reg"+pace.Put))
	}
	// Upload starts (InitiateLayerUpload on ECR) are paced under their own key.
	n := len(c.waits)
	do(http.MethodPost, "/v2/app/blobs/uploads/")
	do(http.MethodPost, "/v2/app/blobs/uploads/")
	if len(c.waits) != n+1 {
		t.Fatalf("waits %v, want one more for the second upload start", c.waits)
	}
}

// TestPacerSlowsOnThrottlingAndRecovers: a 429 halves the rate (once per burst of 429s), down
// to a floor; quiet seconds give it back, additively, up to the configured rate.
func TestPacerSlowsOnThrottlingAndRecovers(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	p := pace.New(pace.Options{Rate: func(string) float64 { return 10 }, Now: c.now, After: c.after})
	ctx := context.Background()
	p.Wait(ctx, "k")
	p.Throttled("k")
	p.Throttled("k") // the same burst: counted, not cut again
	if r := p.Rate("k"); r != 5 {
		t.Fatalf("rate %v after a burst of 429s, want 5", r)
	}
	// At 5 a second, ten requests take about two seconds now, not one.
	before := c.now()
	for range 10 {
		p.Wait(ctx, "k")
	}
	if took := c.now().Sub(before); took < 1500*time.Millisecond {
		t.Fatalf("10 requests took %s after the cut, want about 2s", took)
	}
	for range 10 { // a 429 each second: down to where a second's recovery meets the cut (0.5)
		c.after(time.Second)
		p.Throttled("k")
	}
	if r := p.Rate("k"); r < 0.2 || r > 0.6 {
		t.Fatalf("rate %v after a 429 a second, want about 0.5 and at least the floor 0.2", r)
	}
	c.after(10 * time.Second) // quiet: half of the configured rate back
	if r := p.Rate("k"); r < 5 || r > 5.6 {
		t.Fatalf("rate %v after 10 quiet seconds, want about 5.5", r)
	}
	c.after(time.Minute)
	if r := p.Rate("k"); r != 10 {
		t.Fatalf("rate %v after a quiet minute, want the configured 10", r)
	}
	if p.Throttles("k") != 12 {
		t.Fatalf("%d throttles recorded, want 12", p.Throttles("k"))
	}
}
