package registry_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// fakeName is a registry name that is not loopback to the client (so --insecure rules apply,
// as for a registry on another machine) but that the test's dialer sends to 127.0.0.1.
const fakeName = "registry.test"

// underFakeName returns a transport that dials addr (a 127.0.0.1 listener) for every host
// named fakeName, counting dials, and the registry host to use in references.
func underFakeName(t *testing.T, addr string, insecure bool, dials *atomic.Int32) (*http.Transport, string) {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	tr := registry.NewTransport(insecure)
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, hostport string) (net.Conn, error) {
		if h, _, _ := net.SplitHostPort(hostport); h != fakeName {
			return nil, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
		}
		if dials != nil {
			dials.Add(1)
		}
		return d.DialContext(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, fakeName + ":" + port
}

// registryUnderFakeName starts a real registry, stopped at cleanup, and returns underFakeName's
// transport to it and its host.
func registryUnderFakeName(t *testing.T, insecure bool, dials *atomic.Int32) (*http.Transport, string) {
	t.Helper()
	reg, err := devstack.Start(context.Background(), devstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return underFakeName(t, reg.Addr, insecure, dials)
}

// TestInsecureReachesAPlainHTTPRegistryThatIsNotLoopback is issue 14's first bug: with
// --insecure, a plain-HTTP registry on another host got "server gave HTTP response to HTTPS
// client", because the scheme probe's bare RoundTrip reports a tls.RecordHeaderError, never
// http.ErrSchemeMismatch. A real registry under a non-loopback name must take a push and a pull.
func TestInsecureReachesAPlainHTTPRegistryThatIsNotLoopback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr, host := registryUnderFakeName(t, true, nil)
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}, Insecure: true, Transport: tr,
		Retry: registry.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}})
	if registry.IsLoopback(host) {
		t.Fatalf("%s counts as loopback: the test proves nothing", host)
	}
	repo, err := name.NewRepository(host+"/app", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	p := &devstack.Pusher{C: c}
	d, err := p.Image(ctx, c.Repository(repo), "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(3000, 7)}})
	if err != nil {
		t.Fatalf("push to a plain-HTTP registry with Insecure: %v", err)
	}
	if got, err := c.Repository(repo).Head(ctx, "v1"); err != nil || got.Digest != d.Digest {
		t.Fatalf("head: %v %v, want %s", got.Digest, err, d.Digest)
	}
	if s := c.Scheme(ctx, host); s != "http" {
		t.Fatalf("Scheme(%s) = %s, want http", host, s)
	}
}

// TestPlainHTTPWithoutInsecureFailsAtOnceAndForGood: the same registry without --insecure is a
// scheme mismatch — permanent, not retried (it was retried for 18 s, then exit 3).
func TestPlainHTTPWithoutInsecureFailsAtOnceAndForGood(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var dials atomic.Int32
	tr, host := registryUnderFakeName(t, false, &dials)
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}, Transport: tr,
		Retry: registry.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: time.Millisecond}})
	repo, _ := name.NewRepository(host+"/app", name.StrictValidation)
	_, err := c.Repository(repo).Head(ctx, "v1")
	if !registry.IsSchemeMismatch(err) || registry.Classify(err) != registry.Permanent {
		t.Fatalf("Head: %v (class %v); want a permanent scheme mismatch", err, registry.Classify(err))
	}
	if n := c.Retries(); n != 0 || dials.Load() != 1 {
		t.Fatalf("%d retries, %d dials: a scheme mismatch must not be retried", n, dials.Load())
	}
}

// TestUnreachableRegistryIsClassifiedApart: a refused connection and an unknown host are
// Unreachable (retried briefly, usually a typo), not Permanent and not plain Transient.
func TestUnreachableRegistryIsClassifiedApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	tr, host := underFakeName(t, closed, false, nil)
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}, Transport: tr,
		Retry: registry.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}})
	for _, h := range []string{host, "unknown.test:5000"} {
		repo, _ := name.NewRepository(h+"/app", name.StrictValidation)
		_, err = c.Repository(repo).Head(ctx, "v1")
		if got := registry.Classify(err); got != registry.Unreachable {
			t.Errorf("%s: Head: %v: class %v, want unreachable", h, err, got)
		}
	}
}

// TestSchemeProbeEndsWithItsContext: the probe runs under the caller's context, and an answer
// it did not get is not remembered: once the registry answers, it is probed again.
func TestSchemeProbeEndsWithItsContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	var dials atomic.Int32
	tr, host := underFakeName(t, srv.Listener.Addr().String(), true, &dials)
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}, Insecure: true, Transport: tr})

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if s := c.Scheme(cancelled, host); s != "https" {
		t.Fatalf("Scheme with a cancelled context = %s, want the https default", s)
	}
	if s := c.Scheme(context.Background(), host); s != "https" {
		t.Fatalf("Scheme of a TLS registry = %s, want https", s)
	}
	if dials.Load() != 1 {
		t.Fatalf("%d dials; want the cancelled probe to dial nothing and the next one to dial once", dials.Load())
	}
	c.Scheme(context.Background(), host)
	if dials.Load() != 1 {
		t.Fatalf("%d dials: a definite answer must be remembered", dials.Load())
	}
}
