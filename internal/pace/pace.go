// Package pace paces requests against a quota, one token bucket per key: manifest PUTs per ECR
// account and Region (ECR's PutImage quota, REFERENCE.md) or per registry host. It is pure: the
// caller names the keys and their rates. The process builds one Pacer and shares it, so the
// event-driven copies and the reconcile draw on the same budget.
package pace

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Pacer. The zero value paces nothing.
type Options struct {
	// Rate is the requests a second allowed for key; 0 or less means key is not paced.
	// It is asked once per key, when the key is first seen.
	Rate func(key string) float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After waits (a timer channel); nil means time.After. Tests pass one that fires at once.
	After func(time.Duration) <-chan time.Time
}

// Pacer hands out tokens per key. It is client-side only: in Lambda each concurrent execution
// environment has its own, so the function's concurrency divides a quota (docs/reconcile.md).
// Its methods are safe for concurrent use.
type Pacer struct {
	opts Options

	mu        sync.Mutex
	buckets   map[string]*bucket
	waited    time.Duration
	throttled map[string]int
}

// New returns a Pacer.
func New(o Options) *Pacer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	return &Pacer{opts: o, buckets: map[string]*bucket{}, throttled: map[string]int{}}
}

// bucket is a token bucket: rate tokens a second, at most burst saved up.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// reserve takes one token at t and returns how long to wait before using it. The caller holds
// the Pacer's lock.
func (b *bucket) reserve(t time.Time) time.Duration {
	b.tokens = min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// Reserve takes one token for key and returns how long its holder must wait before the request
// may go (0: at once). A key whose rate is 0 or less is never paced.
func (p *Pacer) Reserve(key string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.buckets[key]
	if !ok {
		rate := 0.0
		if p.opts.Rate != nil {
			rate = p.opts.Rate(key)
		}
		if rate > 0 {
			// A burst of one second's worth, at least one: ECR's quota is a rate, and a larger
			// burst would be answered with 429s that the transport then has to sit out anyway.
			burst := max(1, float64(int(rate)))
			b = &bucket{rate: rate, burst: burst, tokens: burst, last: p.opts.Now()}
		}
		p.buckets[key] = b // nil: not paced, and not asked again
	}
	if b == nil {
		return 0
	}
	return b.reserve(p.opts.Now())
}

// Wait blocks until a request for key may go, or ctx ends. A token taken by a caller whose ctx
// ended is not given back: the pacer stays conservative.
func (p *Pacer) Wait(ctx context.Context, key string) error {
	d := p.Reserve(key)
	if d <= 0 {
		return ctx.Err()
	}
	p.mu.Lock()
	p.waited += d
	p.mu.Unlock()
	select {
	case <-p.opts.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Throttled records that the service answered a request for key with "slow down" (HTTP 429).
// Today it only counts; it is where an adaptive rate (slower on 429, recovering after) hooks in.
func (p *Pacer) Throttled(key string) {
	p.mu.Lock()
	p.throttled[key]++
	p.mu.Unlock()
}

// Throttles reports how many times Throttled was called for key.
func (p *Pacer) Throttles(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.throttled[key]
}

// Waited reports the total time requests were told to wait.
func (p *Pacer) Waited() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waited
}

// Transport returns next (nil: http.DefaultTransport) with manifest PUTs paced: each waits for
// a token of key(host), and a 429 answer is reported to Throttled. A host whose key is "" is not
// paced. It sits below the registry client's retries, so every attempt, retried ones included,
// is paced.
func (p *Pacer) Transport(next http.RoundTripper, key func(host string) string) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{p: p, key: key, next: next}
}

type transport struct {
	p    *Pacer
	key  func(host string) string
	next http.RoundTripper
}

// isManifestPut reports whether req puts a manifest (OCI distribution spec, "Pushing
// manifests"): over ECR's OCI endpoint that is a PutImage.
func isManifestPut(req *http.Request) bool {
	return req.Method == http.MethodPut && strings.HasPrefix(req.URL.Path, "/v2/") && strings.Contains(req.URL.Path, "/manifests/")
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isManifestPut(req) {
		return t.next.RoundTrip(req)
	}
	key := t.key(req.URL.Host)
	if key == "" {
		return t.next.RoundTrip(req)
	}
	if err := t.p.Wait(req.Context(), key); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.p.Throttled(key)
	}
	return resp, err
}
