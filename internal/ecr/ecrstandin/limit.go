package ecrstandin

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Limits are a registry's request quotas, in transactions a second, account-wide: every client
// of the stand-in, in any process, draws on the same buckets, as on ECR. Zero means no limit.
// ECR's defaults (Amazon ECR service quotas): PutImage 10, InitiateLayerUpload 100.
type Limits struct {
	// PutImage limits manifest PUTs (over the OCI API, each is a PutImage).
	PutImage float64
	// InitiateLayerUpload limits upload starts (POST /v2/<name>/blobs/uploads/).
	InitiateLayerUpload float64
}

// quota is a token bucket with one second of burst, as ECR's rate quotas behave.
type quota struct {
	rate   float64
	tokens float64
	last   time.Time
}

func (q *quota) take(now time.Time) bool {
	if q.last.IsZero() {
		q.tokens = q.rate
	} else {
		q.tokens = min(q.rate, q.tokens+now.Sub(q.last).Seconds()*q.rate)
	}
	q.last = now
	if q.tokens < 1 {
		return false
	}
	q.tokens--
	return true
}

// limiter holds a registry's quotas and what they let through.
type limiter struct {
	mu        sync.Mutex
	put, init *quota
	puts      []time.Time // when each PutImage was let through
	refused   map[string]int
}

// SetLimits sets the registry's request quotas; requests past them get 429 TOOMANYREQUESTS
// "Rate exceeded", without Retry-After (ECR documents none).
func (r *Registry) SetLimits(l Limits) {
	r.lim.mu.Lock()
	defer r.lim.mu.Unlock()
	r.lim.put, r.lim.init = nil, nil
	if l.PutImage > 0 {
		r.lim.put = &quota{rate: l.PutImage}
	}
	if l.InitiateLayerUpload > 0 {
		r.lim.init = &quota{rate: l.InitiateLayerUpload}
	}
}

// PutImages returns when each manifest PUT was let through, in order.
func (r *Registry) PutImages() []time.Time {
	r.lim.mu.Lock()
	defer r.lim.mu.Unlock()
	return append([]time.Time(nil), r.lim.puts...)
}

// Refused reports how many requests of an operation ("PutImage", "InitiateLayerUpload") the
// quotas refused with 429.
func (r *Registry) Refused(op string) int {
	r.lim.mu.Lock()
	defer r.lim.mu.Unlock()
	return r.lim.refused[op]
}

// admit reports whether req is within the quotas, counting it; false means answer 429.
func (l *limiter) admit(req *http.Request, kind string) bool {
	var q *quota
	op := ""
	switch {
	case kind == "manifests" && req.Method == http.MethodPut:
		q, op = l.put, "PutImage"
	case req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/blobs/uploads/"):
		q, op = l.init, "InitiateLayerUpload"
	default:
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if q != nil && !q.take(now) {
		if l.refused == nil {
			l.refused = map[string]int{}
		}
		l.refused[op]++
		return false
	}
	if op == "PutImage" {
		l.puts = append(l.puts, now)
	}
	return true
}
