// Package pace paces requests against a quota, one token bucket per key: manifest PUTs and
// upload starts per ECR account and Region (ECR's PutImage and InitiateLayerUpload quotas,
// REFERENCE.md) or per registry host. It is pure: the caller names the keys and their rates. The
// process builds one Pacer and shares it, so the event-driven copies and the reconcile draw on
// the same budget.
//
// The rate adapts (AIMD, as TCP's congestion control): a 429 answer halves the key's rate, at
// most once a second, down to a floor; every second without one gives back a twentieth of the
// configured rate. Lambda runs many processes that share nothing: each one slows when ECR says
// the account's quota is spent, so together they settle near the quota, while the retries'
// jittered backoff spreads out the requests that were refused.
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

// Adaptation of a key's rate.
const (
	// decrease is the factor a 429 applies to the rate.
	decrease = 0.5
	// cutEvery bounds how often the rate is cut: the 429s of one burst, answered to requests
	// that were already in flight, count once.
	cutEvery = time.Second
	// recoverShare is the part of the configured rate given back per second without a 429.
	recoverShare = 0.05
	// floorShare is the lowest the rate goes, as a part of the configured rate.
	floorShare = 0.02
)

// bucket is a token bucket: rate tokens a second (adapting between floor and max), at most
// burst saved up.
type bucket struct {
	max    float64 // the configured rate
	rate   float64 // the current rate
	burst  float64
	tokens float64
	last   time.Time
	cut    time.Time // when the rate was last cut
}

// adapt gives back rate for the time since last (additive increase). The caller holds the lock.
func (b *bucket) adapt(t time.Time) {
	if b.rate < b.max {
		b.rate = min(b.max, b.rate+t.Sub(b.last).Seconds()*b.max*recoverShare)
		b.burst = max(1, float64(int(b.rate)))
	}
}

// refill brings b to t: the rate recovers, and tokens accrue at the rate up to the burst.
func (b *bucket) refill(t time.Time) {
	b.adapt(t)
	b.tokens = min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
}

// throttled cuts the rate at t (multiplicative decrease), at most once per cutEvery, and spends
// the saved-up tokens: no burst follows a 429.
func (b *bucket) throttled(t time.Time) {
	if !b.cut.IsZero() && t.Sub(b.cut) < cutEvery {
		return
	}
	b.refill(t)
	b.cut = t
	b.rate = max(b.max*floorShare, b.rate*decrease)
	b.burst = max(1, float64(int(b.rate)))
	b.tokens = min(b.tokens, 0)
}

// reserve takes one token at t and returns how long to wait before using it. The caller holds
// the Pacer's lock.
func (b *bucket) reserve(t time.Time) time.Duration {
	b.refill(t)
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
			b = &bucket{max: rate, rate: rate, burst: burst, tokens: burst, last: p.opts.Now()}
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

// Throttled records that the service answered a request for key with "slow down" (HTTP 429):
// the key's rate is halved (at most once a second, not below a fiftieth of the configured rate)
// and recovers by a twentieth of it per second after.
func (p *Pacer) Throttled(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttled[key]++
	if b := p.buckets[key]; b != nil {
		b.throttled(p.opts.Now())
	}
}

// Rate reports key's current rate (requests a second), 0 for a key not paced.
func (p *Pacer) Rate(key string) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[key]
	if b == nil {
		return 0
	}
	b.refill(p.opts.Now())
	return b.rate
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

// The operations Transport paces, appended to a host's key: Put for manifest PUTs (ECR's
// PutImage), Upload for blob upload starts (ECR's InitiateLayerUpload).
const (
	Put    = "/put"
	Upload = "/upload"
)

// Transport returns next (nil: http.DefaultTransport) with manifest PUTs and upload starts
// paced: each waits for a token of key(host)+Put or key(host)+Upload, and a 429 answer is
// reported to Throttled. A host whose key is "" is not paced. It sits below the registry
// client's retries, so every attempt, retried ones included, is paced.
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

// isUploadStart reports whether req opens a blob upload session (POST .../blobs/uploads/):
// over ECR's OCI endpoint that is an InitiateLayerUpload.
func isUploadStart(req *http.Request) bool {
	return req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, "/v2/") && strings.HasSuffix(req.URL.Path, "/blobs/uploads/")
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	op := ""
	switch {
	case isManifestPut(req):
		op = Put
	case isUploadStart(req):
		op = Upload
	default:
		return t.next.RoundTrip(req)
	}
	key := t.key(req.URL.Host)
	if key == "" {
		return t.next.RoundTrip(req)
	}
	key += op
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
