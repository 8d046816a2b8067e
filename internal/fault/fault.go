// Package fault injects transport faults in front of a real registry, reproducibly from a seed:
// error statuses, throttling with and without Retry-After, connections reset in the middle of a
// request or a response, corrupted and truncated bodies, latency. It wraps an http.Handler, so it
// sits in-process in front of a devstack registry or, with NewProxy, in front of any registry for
// any client (ecrsync, crane, regctl, oras).
package fault

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kind is one sort of fault.
type Kind string

// The faults.
const (
	Status500       Kind = "500"
	Status502       Kind = "502"
	Status503       Kind = "503"
	Throttle        Kind = "429"             // 429 TOOMANYREQUESTS without Retry-After, as ECR answers
	ThrottleAfter   Kind = "429-retry-after" // 429 with Retry-After: 1
	ResetRequest    Kind = "reset-request"   // read part of the request body, then drop the connection
	ResetResponse   Kind = "reset-response"  // send part of the response body, then drop the connection
	Corrupt         Kind = "corrupt"         // flip a byte of the response body, at a seeded random place: damage on the way
	CorruptStored   Kind = "corrupt-stored"  // flip the middle byte of the response body every time: bad bytes stored
	Truncate        Kind = "truncate"        // announce the full length, send half, close
	Latency         Kind = "latency"         // wait before answering
	Stall           Kind = "stall"           // answer headers, then stall the body for Config.Stall
	Forbidden       Kind = "403"             // permanent: access denied
	ExpiredToken    Kind = "expired-token"   // ECR's expired-token 403
	NotFoundUnknown Kind = "404"             // permanent: NAME_UNKNOWN
)

// AllKinds lists every Kind, in the order of the constants above.
var AllKinds = []Kind{Status500, Status502, Status503, Throttle, ThrottleAfter, ResetRequest, ResetResponse,
	Corrupt, CorruptStored, Truncate, Latency, Stall, Forbidden, ExpiredToken, NotFoundUnknown}

// ParseKinds parses a comma-separated list of kinds ("500,502,reset-request").
func ParseKinds(s string) ([]Kind, error) {
	var out []Kind
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(AllKinds, Kind(f)) {
			return nil, fmt.Errorf("unknown fault kind %q (known: %v)", f, AllKinds)
		}
		out = append(out, Kind(f))
	}
	return out, nil
}

// Config says which requests get which faults.
type Config struct {
	Seed uint64
	// Rate is the share of eligible requests that get a fault (0..1).
	Rate float64
	// Kinds are drawn from uniformly for each fault.
	Kinds []Kind
	// Shares, if set, replace Rate and Kinds: each request draws one number, and each kind takes
	// its share of the range (10% 503 and 5% 429 fault 15% of requests). A kind drawn for a
	// request it cannot apply to (a reset of a body-less request) leaves that request alone.
	Shares []Share
	// Match picks eligible requests; nil means every request but the /v2/ ping.
	Match func(*http.Request) bool
	// Limit caps the number of faults; 0 means no cap.
	Limit int
	// Delay is the wait for Latency and Stall; 0 means 200ms.
	Delay time.Duration
	// Burst makes each drawn fault repeat on the next Burst-1 eligible requests, whatever the
	// draw says: a registry that fails for a moment fails every request in that moment.
	// 0 and 1 mean single faults.
	Burst int
	// Bandwidth caps the bytes per second of request and response bodies, shared by every
	// request through the Injector like one link; 0 means no cap. It applies to every request,
	// matched or not, and is not counted as a fault.
	Bandwidth int64
}

// Share is the part of requests that get one kind of fault.
type Share struct {
	Kind Kind
	Rate float64
}

// Injector is an http.Handler that injects faults before handing requests to the next handler.
type Injector struct {
	next http.Handler
	cfg  Config

	mu       sync.Mutex
	rng      *rand.Rand
	injected map[Kind]int
	total    int
	burst    int  // faults still owed to the current burst
	burstOf  Kind // the kind of the current burst
	link     *limiter
}

// Wrap returns an Injector in front of next.
func Wrap(next http.Handler, cfg Config) *Injector {
	if cfg.Delay == 0 {
		cfg.Delay = 200 * time.Millisecond
	}
	in := &Injector{next: next, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e995)), injected: map[Kind]int{}}
	if cfg.Bandwidth > 0 {
		in.link = &limiter{rate: cfg.Bandwidth}
	}
	return in
}

// NewProxy returns an Injector in front of a reverse proxy to target (http://host:port), for
// clients that cannot be pointed at an in-process handler.
func NewProxy(target string, cfg Config) (*Injector, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = nil
	return Wrap(rp, cfg), nil
}

// Injected reports how many faults of each kind were injected.
func (in *Injector) Injected() map[Kind]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[Kind]int, len(in.injected))
	for k, v := range in.injected {
		out[k] = v
	}
	return out
}

// Total reports how many faults were injected.
func (in *Injector) Total() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.total
}

// draw decides, under the lock, whether this request gets a fault and which.
func (in *Injector) draw(r *http.Request) (Kind, bool) {
	if in.cfg.Match != nil && !in.cfg.Match(r) || in.cfg.Match == nil && r.URL.Path == "/v2/" || len(in.cfg.Kinds) == 0 && len(in.cfg.Shares) == 0 {
		return "", false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cfg.Limit > 0 && in.total >= in.cfg.Limit {
		return "", false
	}
	var k Kind
	if in.burst > 0 && applies(in.burstOf, r) {
		in.burst--
		k = in.burstOf
	} else if len(in.cfg.Shares) > 0 {
		u, acc := in.rng.Float64(), 0.0
		for _, sh := range in.cfg.Shares {
			if acc += sh.Rate; u < acc {
				k = sh.Kind
				break
			}
		}
		if k == "" || !applies(k, r) {
			return "", false
		}
	} else {
		if in.rng.Float64() >= in.cfg.Rate {
			return "", false
		}
		k = in.cfg.Kinds[in.rng.IntN(len(in.cfg.Kinds))]
		if !applies(k, r) {
			return "", false
		}
		if in.cfg.Burst > 1 {
			in.burst, in.burstOf = in.cfg.Burst-1, k
		}
	}
	in.injected[k]++
	in.total++
	return k, true
}

// applies reports whether a fault makes sense for a request (a body reset needs a body).
func applies(k Kind, r *http.Request) bool {
	switch k {
	case ResetRequest:
		return r.ContentLength > 1024 || r.ContentLength < 0 && r.Method != http.MethodGet && r.Method != http.MethodHead
	case ResetResponse, Corrupt, CorruptStored, Truncate, Stall:
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
	}
	return true
}

func (in *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if in.link != nil {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &slowBody{ReadCloser: r.Body, link: in.link}
		}
		w = &slowWriter{ResponseWriter: w, link: in.link}
	}
	k, ok := in.draw(r)
	if !ok {
		in.next.ServeHTTP(w, r)
		return
	}
	switch k {
	case Status500, Status502, Status503:
		code := map[Kind]int{Status500: 500, Status502: 502, Status503: 503}[k]
		io.Copy(io.Discard, r.Body)
		writeError(w, code, "UNKNOWN", "injected fault")
	case Throttle:
		io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "Rate exceeded")
	case ThrottleAfter:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "Rate exceeded")
	case Forbidden:
		writeError(w, http.StatusForbidden, "DENIED", "User is not authorized to perform this operation (injected)")
	case ExpiredToken:
		writeError(w, http.StatusForbidden, "DENIED", "Your authorization token has expired. Reauthenticate and try again.")
	case NotFoundUnknown:
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN", "The repository does not exist (injected)")
	case Latency:
		time.Sleep(in.cfg.Delay)
		in.next.ServeHTTP(w, r)
	case ResetRequest:
		io.CopyN(io.Discard, r.Body, max(r.ContentLength/2, 512))
		hijackClose(w, false)
	case ResetResponse, Truncate, CorruptStored, Stall:
		in.next.ServeHTTP(&faultyWriter{ResponseWriter: w, kind: k, delay: in.cfg.Delay, at: -1}, r)
	case Corrupt:
		in.mu.Lock()
		at := in.rng.Float64()
		in.mu.Unlock()
		in.next.ServeHTTP(&faultyWriter{ResponseWriter: w, kind: k, delay: in.cfg.Delay, at: at}, r)
	}
}

// faultyWriter damages a response body on its way out.
type faultyWriter struct {
	http.ResponseWriter
	kind    Kind
	delay   time.Duration
	at      float64 // where Corrupt flips a byte, as a share of the length; < 0 the middle
	length  int64
	written int64
	broken  bool
}

func (f *faultyWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		fmt.Sscan(f.Header().Get("Content-Length"), &f.length)
	}
	f.ResponseWriter.WriteHeader(code)
}

func (f *faultyWriter) Write(p []byte) (int, error) {
	if f.broken {
		return 0, http.ErrHandlerTimeout
	}
	half := f.length / 2
	flip := half
	if f.at >= 0 {
		flip = min(int64(f.at*float64(f.length)), max(f.length-1, 0))
	}
	switch {
	case (f.kind == Corrupt || f.kind == CorruptStored) && f.written <= flip && flip < f.written+int64(len(p)):
		q := append([]byte(nil), p...)
		q[flip-f.written] ^= 0xff
		f.written += int64(len(p))
		return f.ResponseWriter.Write(q)
	case f.kind == Stall && f.written <= half && half < f.written+int64(len(p)):
		if fl, ok := f.ResponseWriter.(http.Flusher); ok {
			fl.Flush()
		}
		time.Sleep(f.delay)
	case (f.kind == ResetResponse || f.kind == Truncate) && f.written+int64(len(p)) > half:
		n := half - f.written
		if n > 0 {
			f.ResponseWriter.Write(p[:n])
		}
		f.broken = true
		hijackClose(f.ResponseWriter, true)
		return 0, http.ErrHandlerTimeout
	}
	f.written += int64(len(p))
	return f.ResponseWriter.Write(p)
}

// hijackClose drops the client's connection, first flushing what was written if flush is set
// (a flush before any header would send a 200).
func hijackClose(w http.ResponseWriter, flush bool) {
	if fl, ok := w.(http.Flusher); ok && flush {
		fl.Flush()
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, errCode, msg)
}

// SetRate changes the share of requests that get a fault.
func (in *Injector) SetRate(r float64) {
	in.mu.Lock()
	in.cfg.Rate = r
	in.mu.Unlock()
}

// limiter paces bytes through one shared link: each chunk waits its turn at the link's rate.
type limiter struct {
	mu   sync.Mutex
	rate int64 // bytes per second
	next time.Time
}

// chunk is the most bytes paced in one step, so that a large write does not sleep in one go.
const chunk = 16 << 10

func (l *limiter) wait(n int) {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(int64(n) * int64(time.Second) / l.rate))
	d := l.next.Sub(now)
	l.mu.Unlock()
	time.Sleep(d)
}

// slowBody paces a request body through the link.
type slowBody struct {
	io.ReadCloser
	link *limiter
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(p) > chunk {
		p = p[:chunk]
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.link.wait(n)
	}
	return n, err
}

// slowWriter paces a response body through the link.
type slowWriter struct {
	http.ResponseWriter
	link *limiter
}

func (s *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), chunk)
		s.link.wait(n)
		m, err := s.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Unwrap lets http.ResponseController and the fault writers reach the connection underneath.
func (s *slowWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a flush through.
func (s *slowWriter) Flush() {
	if fl, ok := s.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Hijack passes a hijack through, so that resets still drop the connection.
func (s *slowWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}

// Flush passes a flush through (httputil.ReverseProxy flushes as it streams).
func (f *faultyWriter) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok && !f.broken {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (f *faultyWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
