package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// RetryPolicy says how a request or a blob transfer that failed for a passing reason is tried
// again: until a time budget runs out, not a count. The zero value means DefaultRetryPolicy().
type RetryPolicy struct {
	// Budget is how long one operation (a copy, or a request made outside one) keeps retrying
	// transient failures, counted from its start; a deadline set with WithRetryDeadline (the
	// Lambda invocation's, less a margin) takes its place. 0 means DefaultBudget.
	Budget time.Duration
	// Unreachable is the shorter budget of a failure classified Unreachable (connection refused,
	// no such host: usually a typo), counted from the first such failure; 0 means
	// DefaultUnreachableBudget.
	Unreachable time.Duration
	// Attempts, if positive, also caps how many times one request is sent, the first included;
	// 0 means only the budget bounds retries.
	Attempts int
	// Base is the ceiling of the first backoff; each retry doubles it. Waits are drawn with full
	// jitter, uniformly between 0 and the ceiling.
	Base time.Duration
	// Max caps one backoff, and a Retry-After the registry asks for.
	Max time.Duration
	// Clock tells the time and waits; nil means the real one. Tests pass a fake clock so that
	// nothing sleeps through a real backoff.
	Clock Clock
}

// Clock is the time source of retries: Now, and Sleep, which waits d or until ctx ends and
// reports whether the whole wait passed.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) bool
}

// The default retry policy. A copy rides out minutes of throttling or a registry restart: a
// burst of 300 pushes against ECR's PutImage quota (10 TPS per account and Region) takes tens
// of seconds to drain, and a fixed count of attempts gave up inside it (issue 15). Nothing
// answering at an address is usually a typo, so it gets seconds, not minutes.
const (
	DefaultBudget            = 3 * time.Minute
	DefaultUnreachableBudget = 10 * time.Second
	DefaultBase              = 250 * time.Millisecond
	DefaultMax               = 10 * time.Second
)

// DefaultRetryPolicy returns the policy of DefaultBudget, DefaultUnreachableBudget, DefaultBase
// and DefaultMax on the real clock. It is a function, not a variable: no package can change
// every client's policy behind its back.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Budget: DefaultBudget, Unreachable: DefaultUnreachableBudget, Base: DefaultBase, Max: DefaultMax, Clock: realClock{}}
}

// WithDefaults returns p with its zero fields set from DefaultRetryPolicy.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.Budget > 0 {
		d.Budget = p.Budget
	}
	if p.Unreachable > 0 {
		d.Unreachable = p.Unreachable
	}
	d.Attempts = p.Attempts
	if p.Base > 0 {
		d.Base = p.Base
	}
	if p.Max > 0 {
		d.Max = p.Max
	}
	if p.Clock != nil {
		d.Clock = p.Clock
	}
	return d
}

// Backoff returns the wait before retry n (0-based): full jitter, uniformly drawn between 0 and
// an exponential ceiling of Base<<n capped at Max, so that clients throttled together do not
// return together.
func (p RetryPolicy) Backoff(n int) time.Duration {
	ceil := p.Base << min(n, 16)
	if ceil <= 0 || ceil > p.Max {
		ceil = p.Max
	}
	return rand.N(ceil + 1)
}

// Now returns the policy clock's time.
func (p RetryPolicy) Now() time.Time { return p.clock().Now() }

// Sleep waits d on the policy's clock, or until ctx ends; false if ctx ended first.
func (p RetryPolicy) Sleep(ctx context.Context, d time.Duration) bool { return p.clock().Sleep(ctx, d) }

func (p RetryPolicy) clock() Clock {
	if p.Clock == nil {
		return realClock{}
	}
	return p.Clock
}

// Deadline returns when retries of an operation that started at start must stop: ctx's retry
// deadline (WithRetryDeadline) if it has one, else start plus the budget.
func (p RetryPolicy) Deadline(ctx context.Context, start time.Time) time.Time {
	if t, ok := RetryDeadline(ctx); ok {
		return t
	}
	b := p.Budget
	if b <= 0 {
		b = DefaultBudget
	}
	return start.Add(b)
}

// Retry is the retry state of one operation: when it started, its deadline, the attempts so
// far, and whether it met an unreachable address (which shortens its deadline).
type Retry struct {
	p           RetryPolicy
	start       time.Time
	deadline    time.Time
	unreachable time.Time // first Unreachable failure; zero if none
	// Attempts counts the attempts made so far (Next counts them).
	Attempts int
}

// Start begins the retry state of an operation under ctx.
func (p RetryPolicy) Start(ctx context.Context) *Retry {
	now := p.Now()
	return &Retry{p: p, start: now, deadline: p.Deadline(ctx, now)}
}

// Left is how much of the budget remains.
func (r *Retry) Left() time.Duration { return r.until().Sub(r.p.Now()) }

// Elapsed is the time since the operation started.
func (r *Retry) Elapsed() time.Duration { return r.p.Now().Sub(r.start) }

func (r *Retry) until() time.Time {
	if !r.unreachable.IsZero() {
		u := r.p.Unreachable
		if u <= 0 {
			u = DefaultUnreachableBudget
		}
		if t := r.unreachable.Add(u); t.Before(r.deadline) {
			return t
		}
	}
	return r.deadline
}

// Next records a failed attempt of class c and returns how long to wait before the next one:
// want if the server asked for it (Retry-After), else the backoff. ok is false when the
// failure is permanent, the attempts cap is reached, or the wait would end past the deadline.
func (r *Retry) Next(c Class, want time.Duration) (wait time.Duration, ok bool) {
	r.Attempts++
	if !c.Retryable() {
		return 0, false
	}
	if c == Unreachable && r.unreachable.IsZero() {
		r.unreachable = r.p.Now()
	}
	if r.p.Attempts > 0 && r.Attempts >= r.p.Attempts {
		return 0, false
	}
	wait = want
	if wait <= 0 {
		wait = r.p.Backoff(r.Attempts - 1)
	}
	if left := r.Left(); wait > left {
		// The wait would end past the deadline: a last attempt at the deadline, if there is
		// time for one, then no more.
		if left < minLastTry {
			return wait, false
		}
		wait = left
	}
	return wait, true
}

// minLastTry is the least budget left worth a last attempt.
const minLastTry = 100 * time.Millisecond

// Wait sleeps d on the policy's clock; false if ctx ended first.
func (r *Retry) Wait(ctx context.Context, d time.Duration) bool { return r.p.Sleep(ctx, d) }

// GaveUp wraps the last error of an operation whose retries ran out, saying what was tried.
func (r *Retry) GaveUp(err error) error {
	if r.Attempts <= 1 {
		return err
	}
	return &RetryError{Attempts: r.Attempts, Elapsed: r.Elapsed(), Err: err}
}

// RetryError is an operation that kept failing for passing reasons until its retry budget ran
// out. It unwraps to the last failure, so it classifies as that failure does.
type RetryError struct {
	Attempts int
	Elapsed  time.Duration
	Err      error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("gave up after %d attempts in %s: %v", e.Attempts, e.Elapsed.Round(time.Millisecond), e.Err)
}

func (e *RetryError) Unwrap() error { return e.Err }

type retryDeadlineKey struct{}

// WithRetryDeadline returns ctx with a time after which no request or blob transfer made with it
// is retried: the Lambda sets its invocation's deadline less a margin, so a copy retries as long
// as the invocation can still report. An earlier retry deadline already in ctx is kept.
func WithRetryDeadline(ctx context.Context, t time.Time) context.Context {
	if old, ok := RetryDeadline(ctx); ok && old.Before(t) {
		return ctx
	}
	return context.WithValue(ctx, retryDeadlineKey{}, t)
}

// RetryDeadline returns the retry deadline of ctx, if one was set.
func RetryDeadline(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(retryDeadlineKey{}).(time.Time)
	return t, ok
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) bool { return Sleep(ctx, d) }

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
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	reauthed := 0
	r := t.policy.Start(ctx)
	for {
		if r.Attempts > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(ctx)
			req.Body = body
		}
		resp, err := t.next.RoundTrip(req)
		want, retry := t.classify(resp, err, &reauthed)
		if !retry || !replayable {
			return resp, err
		}
		class, reason := Transient, ""
		if err != nil {
			class, reason = Classify(err), err.Error()
		} else {
			reason = resp.Status
		}
		wait, ok := r.Next(class, want)
		if !ok {
			t.log.InfoContext(ctx, "giving up on request", "method", req.Method, "url", redact(req.URL.String()),
				"reason", reason, "class", class.String(), "attempts", r.Attempts, "elapsed", r.Elapsed().Round(time.Millisecond).String())
			if err != nil {
				return nil, r.GaveUp(err)
			}
			if r.Attempts > 1 {
				return nil, r.GaveUp(responseError(resp))
			}
			return resp, nil
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
		}
		t.log.InfoContext(ctx, "retrying request", "method", req.Method, "url", redact(req.URL.String()),
			"reason", reason, "class", class.String(), "attempt", r.Attempts, "wait", wait.Round(time.Millisecond).String(),
			"left", r.Left().Round(time.Second).String())
		if t.retries != nil {
			t.retries.Add(1)
		}
		if !r.Wait(ctx, wait) {
			if err == nil {
				err = context.Cause(ctx)
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
		d = at.Sub(t.policy.Now())
	}
	if d <= 0 {
		return 0
	}
	// Jitter a little so that many clients told the same value do not return together.
	d += rand.N(d/10 + 1)
	return min(d, t.policy.Max)
}
