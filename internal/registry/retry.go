package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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
// The zero value means DefaultRetryPolicy.
type RetryPolicy struct {
	// Attempts is the most times one request is sent, the first included.
	Attempts int
	// Base is the first backoff; each retry doubles it, with full jitter.
	Base time.Duration
	// Max caps one backoff, and a Retry-After the registry asks for.
	Max time.Duration
}

// DefaultRetryPolicy rides out a registry restart or a burst of 429s (ECR's PutImage quota is
// 10 TPS per account and Region) within about half a minute, well inside a Lambda invocation.
var DefaultRetryPolicy = RetryPolicy{Attempts: 8, Base: 250 * time.Millisecond, Max: 10 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
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

// retryTransport retries replayable requests on connection errors, 408, 429, 5xx and ECR's
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
		t.log.Debug("retrying request", "method", req.Method, "url", redact(req.URL.String()),
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
			return 0, false
		}
		if e := (*Error)(nil); errors.As(err, &e) {
			return 0, e.Temporary() // a token realm's answer: 401 is final, 5xx passes
		}
		if IsCertificateError(err) {
			return 0, false // a certificate that does not verify will not verify next time
		}
		return 0, true // connection refused or reset, EOF, TLS handshake timeout
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		return t.retryAfter(resp), true
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
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

// IsCertificateError reports whether err is a TLS certificate that failed verification: not a
// passing fault, but a registry to trust explicitly (or --insecure).
func IsCertificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
