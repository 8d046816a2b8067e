// Package registry is a small client for the OCI distribution API: manifests by tag or digest,
// blobs streamed and verified, uploads in one request, mounts, referrers and tag lists. It knows
// no cloud: credentials come from a go-containerregistry keychain, and quirks that matter for
// ECR (one-request uploads, expired-token 403s, 429 bursts) are handled generically.
package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// Options configure a Client. The zero value is usable: Docker credentials, sane retries, no logs.
type Options struct {
	// Keychain resolves credentials per registry; nil means authn.DefaultKeychain (the Docker
	// config file and its credential helpers, what `docker login` leaves), anonymous otherwise.
	Keychain authn.Keychain
	// Transport is the base HTTP transport; nil means a clone of http.DefaultTransport tuned for
	// many parallel blob streams to one host.
	Transport http.RoundTripper
	// Insecure allows plain HTTP and unverified TLS for registries that are not on loopback.
	// Loopback registries always use plain HTTP.
	Insecure bool
	// InsecureHosts are registry hosts (host[:port]) that get Insecure's treatment when Insecure
	// is off: one side of a copy, not every registry. The Transport must skip TLS verification
	// for them (NewHostTransport does).
	InsecureHosts []string
	// Retry is the per-request retry policy; zero fields take DefaultRetryPolicy()'s.
	Retry RetryPolicy
	// Logger gets Debug lines for retries; nil discards.
	Logger *slog.Logger
	// UserAgent is sent with every request.
	UserAgent string
}

// Invalidator is implemented by authenticators that cache credentials (ECR's 12-hour token):
// Invalidate drops the cache after the registry said the credentials expired.
type Invalidator interface {
	Invalidate()
}

// Client talks to any number of registries. It is safe for concurrent use and meant to be
// reused: it caches connections, challenges and tokens per host.
type Client struct {
	opts    Options
	base    http.RoundTripper
	mu      sync.Mutex
	hosts   map[string]*http.Client
	schemes sync.Map // host -> scheme learnt for Insecure registries
	retries atomic.Int64
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "ecrsync"
	}
	opts.Retry = opts.Retry.WithDefaults()
	base := opts.Transport
	if base == nil {
		base = NewHostTransport(opts.Insecure, opts.InsecureHosts)
	}
	return &Client{opts: opts, base: &uaTransport{ua: opts.UserAgent, next: base}, hosts: map[string]*http.Client{}}
}

// NewTransport returns the HTTP transport a Client uses by default: a clone of
// http.DefaultTransport tuned for many parallel blob streams to one host, for callers that wrap
// it (a rate limiter, instrumentation) and pass it back as Options.Transport. insecure turns off
// TLS verification, as Options.Insecure does.
func NewTransport(insecure bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Blob copies run in parallel against one host; the default of 2 idle connections per
	// host would make most of them dial anew.
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	// We want the registry's bytes as they are, and no gzip work on top of sha256.
	t.DisableCompression = true
	t.ResponseHeaderTimeout = 2 * time.Minute
	// Blobs stream through these buffers: 4 KiB defaults mean a syscall per 4 KiB.
	t.WriteBufferSize = 256 << 10
	t.ReadBufferSize = 256 << 10
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	return t
}

// Retries reports how many requests this client has sent again after a passing failure.
func (c *Client) Retries() int64 { return c.retries.Load() }

// RetryPolicy returns the client's retry policy (defaults filled in): the copy engine's
// blob-level retries back off by it too.
func (c *Client) RetryPolicy() RetryPolicy { return c.opts.Retry }

// Logger returns the client's logger.
func (c *Client) Logger() *slog.Logger { return c.opts.Logger }

// IsLoopback reports whether host (with or without port) is on this machine.
func IsLoopback(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Scheme returns the URL scheme used for a registry host.
//
// Loopback registries speak plain HTTP. Others speak HTTPS with verified certificates; with
// Insecure, HTTPS without verification, or plain HTTP when the registry answers a TLS handshake
// in plain HTTP. That is learnt once per host by a probe (GET /v2/) that ends with ctx; only a
// definite answer (a TLS handshake, or a plain-HTTP answer to one) is remembered, so a registry
// that was down at the first probe is probed again.
func (c *Client) Scheme(ctx context.Context, host string) string {
	if IsLoopback(host) {
		return "http"
	}
	if !c.opts.Insecure && !slices.Contains(c.opts.InsecureHosts, host) {
		return "https"
	}
	if v, ok := c.schemes.Load(host); ok {
		return v.(string)
	}
	scheme, known := c.probe(ctx, host)
	if !known {
		return scheme
	}
	if _, loaded := c.schemes.LoadOrStore(host, scheme); !loaded {
		c.opts.Logger.WarnContext(ctx, "TLS verification is off for this registry (--insecure)", "registry", host, "scheme", scheme)
	}
	return scheme
}

// probeTimeout bounds the scheme probe: one round trip to a registry that answers at all.
const probeTimeout = 10 * time.Second

// probe asks https://host/v2/ and reports which scheme the registry speaks, and whether the
// answer is definite. Any HTTP answer over TLS (200, 401, 404...) means https; a plain-HTTP
// answer to the handshake means http. The bare transport reports the latter as a
// tls.RecordHeaderError, never as http.ErrSchemeMismatch (only http.Client translates it):
// IsSchemeMismatch knows both.
func (c *Client) probe(ctx context.Context, host string) (scheme string, known bool) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
	if err != nil {
		return "https", false
	}
	resp, err := c.base.RoundTrip(req)
	switch {
	case err == nil:
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return "https", true
	case IsSchemeMismatch(err):
		return "http", true
	}
	c.opts.Logger.DebugContext(ctx, "scheme probe failed; trying https", "registry", host, "err", err)
	return "https", false
}

// http returns the HTTP client for a registry host, creating it on first use.
func (c *Client) http(ctx context.Context, reg name.Registry) (*http.Client, error) {
	host := reg.RegistryStr()
	c.mu.Lock()
	defer c.mu.Unlock()
	if hc, ok := c.hosts[host]; ok {
		return hc, nil
	}
	auth := &refreshing{kc: c.opts.Keychain, reg: reg}
	if _, err := auth.current(ctx); err != nil {
		return nil, err
	}
	at := &authTransport{host: host, auth: auth, next: c.base}
	rt := &retryTransport{next: at, policy: c.opts.Retry, log: c.opts.Logger, retries: &c.retries, expired: auth.Invalidate}
	hc := &http.Client{Transport: rt}
	c.hosts[host] = hc
	return hc, nil
}

// refreshing holds a registry's credentials and, once the registry says they expired, gets them
// anew: an authenticator that caches (ECR's) drops its cache; any other is resolved again from
// the keychain, so a credential helper (docker-credential-ecr-login and kin) is asked for the
// fresh token it has.
type refreshing struct {
	kc  authn.Keychain
	reg name.Registry

	mu   sync.Mutex
	auth authn.Authenticator
}

func (r *refreshing) current(ctx context.Context) (authn.Authenticator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.auth == nil {
		a, err := authn.Resolve(ctx, r.kc, r.reg)
		if err != nil {
			return nil, fmt.Errorf("resolving credentials for %s: %w", r.reg.RegistryStr(), err)
		}
		r.auth = a
	}
	return r.auth, nil
}

// Authorization implements authn.Authenticator.
func (r *refreshing) Authorization() (*authn.AuthConfig, error) {
	return r.AuthorizationContext(context.Background())
}

// AuthorizationContext implements authn.ContextAuthenticator: the request's context reaches the
// keychain's authenticator (ECR's GetAuthorizationToken) when it takes one.
func (r *refreshing) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	a, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	return authn.Authorization(ctx, a)
}

// Invalidate implements Invalidator.
func (r *refreshing) Invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if inv, ok := r.auth.(Invalidator); ok {
		inv.Invalidate()
		return
	}
	r.auth = nil
}

// uaTransport sets the User-Agent header.
type uaTransport struct {
	ua   string
	next http.RoundTripper
}

func (t *uaTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.ua)
	}
	return t.next.RoundTrip(req)
}

// Repository is one repository in one registry, as seen by a Client.
type Repository struct {
	c    *Client
	repo name.Repository
}

// Repository returns a handle on repo. Nothing is sent until a method is called.
func (c *Client) Repository(repo name.Repository) *Repository {
	return &Repository{c: c, repo: repo}
}

// base returns scheme://host/v2/name; the scheme may take a probe (Scheme), which ends with ctx.
func (r *Repository) base(ctx context.Context) string {
	return r.c.Scheme(ctx, r.Host()) + "://" + r.Host() + "/v2/" + r.Name()
}

// Name returns the repository's name without the registry.
func (r *Repository) Name() string { return r.repo.RepositoryStr() }

// Host returns the registry host[:port].
func (r *Repository) Host() string { return r.repo.RegistryStr() }

// String returns host/name.
func (r *Repository) String() string { return r.repo.String() }

// do sends a request to the repository's registry. A response outside ok becomes *Error.
func (r *Repository) do(req *http.Request, ok ...int) (*http.Response, error) {
	hc, err := r.c.http(req.Context(), r.repo.Registry)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		// http.Client's *url.Error names the URL it was at: after a redirect, a presigned URL
		// whose query string carries credentials (X-Amz-Signature, X-Amz-Security-Token).
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			ue.URL = redact(ue.URL)
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, redact(req.URL.String()), err)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			return resp, nil
		}
	}
	return nil, responseError(resp)
}

func (r *Repository) newRequest(ctx context.Context, method, u string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		// Only a malformed URL fails here, and ours are built from parsed references.
		panic(fmt.Sprintf("registry: building request %s %s: %v", method, redact(u), err))
	}
	return req
}

// BlobExists reports whether the repository holds the blob.
func (r *Repository) BlobExists(ctx context.Context, d digest.Digest) (bool, error) {
	resp, err := r.do(r.newRequest(ctx, http.MethodHead, r.base(ctx)+"/blobs/"+d.String(), nil), http.StatusOK)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

func isNotFound(err error) bool {
	e, ok := err.(*Error)
	return ok && e.StatusCode == http.StatusNotFound
}

// Blob opens a blob for streaming. The reader fails with ErrDigestMismatch at its end if the
// bytes do not hash to d or their count is not size, so a caller that reads to EOF has verified it.
func (r *Repository) Blob(ctx context.Context, d digest.Digest, size int64) (io.ReadCloser, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("blob digest %q: %w", d, err)
	}
	resp, err := r.do(r.newRequest(ctx, http.MethodGet, r.base(ctx)+"/blobs/"+d.String(), nil), http.StatusOK)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength >= 0 && size >= 0 && resp.ContentLength != size {
		resp.Body.Close()
		return nil, &MismatchError{Want: d, Size: resp.ContentLength, WantSize: size}
	}
	return VerifyReader(resp.Body, d, size), nil
}

// VerifyReader wraps rc so that its read at EOF fails with a *MismatchError (ErrDigestMismatch)
// if the bytes do not hash to d or their count is not size (size < 0: any count). Every source
// of blobs (a registry, an OCI layout) hands out its bytes through it.
func VerifyReader(rc io.ReadCloser, d digest.Digest, size int64) io.ReadCloser {
	return &verifier{rc: rc, d: d, h: d.Algorithm().Digester(), want: size}
}

// verifier checks a blob's digest and size as it streams.
type verifier struct {
	rc   io.ReadCloser
	d    digest.Digest
	h    digest.Digester
	n    int64
	want int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.n += int64(n)
	v.h.Hash().Write(p[:n])
	if err == io.EOF {
		if v.want >= 0 && v.n != v.want {
			return n, &MismatchError{Want: v.d, Got: v.h.Digest(), Size: v.n, WantSize: v.want}
		}
		if got := v.h.Digest(); got != v.d {
			return n, &MismatchError{Want: v.d, Got: got, Size: v.n, WantSize: v.want}
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

// Mount asks the registry to link a blob from another repository of the same registry. It reports
// whether the blob was mounted; if not, the registry started an ordinary upload, which is cancelled.
func (r *Repository) Mount(ctx context.Context, d digest.Digest, from string) (bool, error) {
	q := url.Values{"mount": {d.String()}, "from": {from}}
	resp, err := r.do(r.newRequest(ctx, http.MethodPost, r.base(ctx)+"/blobs/uploads/?"+q.Encode(), nil),
		http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return true, nil
	}
	// 202: the registry would rather take an upload. Cancel that session so it does not linger.
	if loc, err := r.location(resp); err == nil {
		if del, err := r.do(r.newRequest(ctx, http.MethodDelete, loc, nil), http.StatusNoContent, http.StatusOK, http.StatusAccepted); err == nil {
			del.Body.Close()
		}
	}
	return false, nil
}

// Upload sends a blob of known size and digest in one streamed request: POST to open an upload
// session, then PUT with the whole body and the digest. Never several PATCH chunks: ECR answers
// them with a Range that stops advancing (aws/containers-roadmap#2831). The body is read once,
// so a failed upload must be started again by the caller with a fresh body.
func (r *Repository) Upload(ctx context.Context, d digest.Digest, size int64, body io.Reader) error {
	loc, err := r.StartUpload(ctx)
	if err != nil {
		return err
	}
	return r.FinishUpload(ctx, loc, d, size, body)
}

// StartUpload opens an upload session and returns its location. Opening it while the blob is
// still being fetched from elsewhere saves a round trip per blob.
func (r *Repository) StartUpload(ctx context.Context) (string, error) {
	resp, err := r.do(r.newRequest(ctx, http.MethodPost, r.base(ctx)+"/blobs/uploads/", nil), http.StatusAccepted)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return r.location(resp)
}

// FinishUpload sends the whole blob to an upload session in one PUT.
func (r *Repository) FinishUpload(ctx context.Context, loc string, d digest.Digest, size int64, body io.Reader) error {
	u, err := url.Parse(loc)
	if err != nil {
		return fmt.Errorf("upload location: %w", err)
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := r.do(req, http.StatusCreated, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// location resolves an upload response's Location against the request URL.
func (r *Repository) location(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("registry %s started an upload without a Location", r.Host())
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("upload location: %w", err)
	}
	return u.String(), nil
}
