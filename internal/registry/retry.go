package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// RetryPolicy says how a request that failed for a passing reason is tried again.
// The zero value means DefaultRetryPolicy().
type RetryPolicy struct {
	// Attempts is the most times one request is sent, the first included.
	Attempts int
	// Base is the first backoff; each retry doubles it, with full jitter.
	Base time.Duration
	// Max caps one backoff, and a Retry-After the registry asks for.
	Max time.Duration
}

// The default retry policy rides out a registry restart or a burst of 429s (ECR's PutImage
// quota is 10 TPS per account and Region) within about half a minute, well inside a Lambda
// invocation.
const (
	DefaultAttempts = 8
	DefaultBase     = 250 * time.Millisecond
	DefaultMax      = 10 * time.Second
)

// DefaultRetryPolicy returns the policy of DefaultAttempts, DefaultBase and DefaultMax. It is a
// function, not a variable: no package can change every client's policy behind its back.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Attempts: DefaultAttempts, Base: DefaultBase, Max: DefaultMax}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.Attempts > 0 {
		d.Attempts = p.Attempts
	}
	if p.Base > 0 {
		d.Base = p.Base
	}
	if p.Max > 0 {
		d.Max = p.Max
	}
	return d
}

// Backoff returns the wait before retry n (0-based): full jitter over an exponential ceiling.
func (p RetryPolicy) Backoff(n int) time.Duration {
	ceil := p.Base << min(n, 16)
	if ceil <= 0 || ceil > p.Max {
		ceil = p.Max
	}
	return ceil/2 + rand.N(ceil/2+1)
}

// Sleep waits d or until ctx ends; it reports false if ctx ended first or its deadline is
// closer than d (waiting would be pointless).
func Sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retryTransport retries replayable requests whose failure Classify (or ClassifyStatus) calls
// retryable: dropped connections, timeouts, 408, 425, 429, 5xx but 501 and 505, and ECR's
// expired-token 403. Requests whose body cannot be replayed (a streamed blob) are sent once:
// the blob-level retry in the copy engine starts such an upload again from the source.
type retryTransport struct {
	next    http.RoundTripper
	policy  RetryPolicy
	log     *slog.Logger
	expired func() // called on an expired-token 403 before retrying, to drop cached credentials
	retries *atomic.Int64
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	reauthed := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err := t.next.RoundTrip(req)
		wait, retry := t.classify(resp, err, &reauthed)
		if !retry || !replayable || attempt+1 >= t.policy.Attempts {
			return resp, err
		}
		if wait == 0 {
			wait = t.policy.Backoff(attempt)
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
		}
		t.log.DebugContext(req.Context(), "retrying request", "method", req.Method, "url", redact(req.URL.String()),
			"status", status, "err", err, "attempt", attempt+1, "wait", wait)
		if t.retries != nil {
			t.retries.Add(1)
		}
		if !Sleep(req.Context(), wait) {
			if err == nil {
				err = context.Cause(req.Context())
				if err == nil {
					err = context.DeadlineExceeded
				}
			}
			return nil, err
		}
	}
}

// classify decides whether a result is worth another try and how long the registry asked us to wait.
// reauthWait is the pause before a request is sent again with fresh credentials.
const reauthWait = 10 * time.Millisecond

// maxReauth bounds how often a HEAD answered 403 is sent again with fresh credentials.
const maxReauth = 4

func (t *retryTransport) classify(resp *http.Response, err error, reauthed *int) (time.Duration, bool) {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, false // the caller's context ended: nothing to retry within it
		}
		return 0, Classify(err).Retryable()
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		return t.retryAfter(resp), true
	case ClassifyStatus(resp.StatusCode).Retryable():
		return 0, true
	case resp.StatusCode == http.StatusForbidden && resp.Request.Method == http.MethodHead:
		// A HEAD answer has no body to say why. With cached credentials that may have expired,
		// drop them and ask once more; a real denial answers 403 again.
		if t.expired != nil && *reauthed < maxReauth {
			t.expired()
			*reauthed++
			return reauthWait, true // fresh credentials need no backoff
		}
	case resp.StatusCode == http.StatusForbidden:
		// Peek at the body: ECR says an expired token with 403, which a fresh token fixes.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if isExpiredToken(string(body)) {
			if t.expired != nil {
				t.expired()
			}
			return 0, true
		}
	}
	return 0, false
}

// retryAfter reads Retry-After (seconds or an HTTP date), capped by the policy's Max.
func (t *retryTransport) retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = time.Until(at)
	}
	if d <= 0 {
		return 0
	}
	// Jitter a little so that many clients told the same value do not return together.
	d += rand.N(d/10 + 1)
	return min(d, t.policy.Max)
}
