package reconcile

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ecrsync/ecrsync/internal/ecr"
)

// DefaultECRPutRate is ECR's default PutImage quota: 10 transactions per second per account and
// Region (Amazon ECR service quotas; adjustable). Every manifest PUT over the OCI API is a
// PutImage, and an index costs one per child manifest plus one for itself.
const DefaultECRPutRate = 10

// bucket is a token bucket: rate tokens a second, at most burst saved up.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newBucket(rate float64, burst int, now func() time.Time) *bucket {
	if burst < 1 {
		burst = 1
	}
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now(), now: now}
}

// reserve takes one token and returns how long to wait before using it.
func (b *bucket) reserve() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	b.tokens = min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// wait blocks until a token is available or ctx ends. A token taken by a caller whose ctx ended
// is not given back: the bucket stays conservative.
func (b *bucket) wait(ctx context.Context) error {
	d := b.reserve()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limiter paces manifest PUTs per destination: one token bucket per ECR account and Region (the
// unit of ECR's PutImage quota, shared by every repository and every host name of that registry)
// and, for other registries, per host. It is client-side only: in Lambda each concurrent
// invocation has its own, so the function's concurrency divides the quota (docs/reconcile.md).
type Limiter struct {
	// ECRRate is PUTs per second per ECR account and Region; 0 means DefaultECRPutRate, < 0 none.
	ECRRate float64
	// Rate is PUTs per second per host for registries that are not ECR; 0 or less means none.
	Rate float64
	// Hosts maps registry hosts that are ECR registries by configuration (a VPC endpoint's
	// name, a stand-in) to their location; ECR host names are recognised without it.
	Hosts map[string]ecr.Location

	mu      sync.Mutex
	buckets map[string]*bucket
	waited  time.Duration
}

// bucketFor returns the bucket of a registry host, or nil when PUTs to it are not paced.
func (l *Limiter) bucketFor(host string) *bucket {
	key, rate := "host/"+strings.ToLower(host), l.Rate
	loc, ok := l.Hosts[strings.ToLower(host)]
	if !ok {
		loc, ok = ecr.ParseHost(strings.ToLower(host))
	}
	if ok {
		key, rate = "ecr/"+loc.Account+"/"+loc.Region, l.ECRRate
		if rate == 0 {
			rate = DefaultECRPutRate
		}
	}
	if rate <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b, ok := l.buckets[key]
	if !ok {
		// A burst of one second's worth: ECR's quota is a rate, and a larger burst would be
		// answered with 429s that the transport then has to sit out anyway.
		b = newBucket(rate, int(rate), time.Now)
		l.buckets[key] = b
	}
	return b
}

// Wait blocks until a manifest PUT to host may go.
func (l *Limiter) Wait(ctx context.Context, host string) error {
	b := l.bucketFor(host)
	if b == nil {
		return nil
	}
	start := time.Now()
	err := b.wait(ctx)
	l.mu.Lock()
	l.waited += time.Since(start)
	l.mu.Unlock()
	return err
}

// Waited reports the total time PUTs spent waiting for the limiter.
func (l *Limiter) Waited() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waited
}

// Transport returns next (nil: http.DefaultTransport) with manifest PUTs paced by l. It sits
// below the registry client's retries, so every attempt, retried ones included, is paced.
func (l *Limiter) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &limitTransport{l: l, next: next}
}

type limitTransport struct {
	l    *Limiter
	next http.RoundTripper
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.HasPrefix(req.URL.Path, "/v2/") && strings.Contains(req.URL.Path, "/manifests/") {
		if err := t.l.Wait(req.Context(), req.URL.Host); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return t.next.RoundTrip(req)
}
