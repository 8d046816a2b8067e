package cli_test

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTLSVerificationStaysOnUnlessInsecure points `ecrsync copy` at a registry with a name that
// is not loopback (registry.test:443), reached through an HTTPS proxy (the environment's
// HTTPS_PROXY, as in a VPC) that tunnels to a local TLS server whose certificate no CA signed.
// Without --insecure the handshake must fail before any request, with a permanent error that
// says so; with --insecure requests go through, and a warning says verification is off.
func TestTLSVerificationStaysOnUnlessInsecure(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	reg := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no such manifest"}]}`)
	}))
	reg.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	reg.StartTLS()
	t.Cleanup(reg.Close)
	var mu sync.Mutex
	var tunnels []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		tunnels = append(tunnels, r.Host)
		mu.Unlock()
		up, err := net.Dial("tcp", reg.Listener.Addr().String()) // every name leads to the test server
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		down, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, down); up.Close() }()
		io.Copy(down, up)
		down.Close()
	}))
	t.Cleanup(proxy.Close)
	env := []string{"HTTPS_PROXY=" + proxy.URL}
	const src = "registry.test:443/app:v1"
	dst := "127.0.0.1:1/app" // never reached: the source fails first

	code, _, stderr := runEcrsync(t, env, "copy", src, dst)
	mu.Lock()
	n := len(tunnels)
	mu.Unlock()
	if n == 0 {
		t.Fatalf("no CONNECT reached the proxy: the test proves nothing\nstderr: %s", stderr)
	}
	if requests.Load() != 0 {
		t.Fatalf("%d requests reached a registry whose certificate does not verify", requests.Load())
	}
	if code == 0 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("exit %d; want a failure that names the certificate\nstderr: %s", code, stderr)
	}
	if code != 1 {
		// Was a bug found here: an unverifiable certificate counted as transport trouble, exit 3.
		t.Errorf("exit %d for an unverifiable certificate, want 1 (permanent)", code)
	}

	code, _, stderr = runEcrsync(t, env, "copy", "--insecure", src, dst)
	if requests.Load() == 0 {
		t.Fatalf("with --insecure no request reached the registry (exit %d)\nstderr: %s", code, stderr)
	}
	if !strings.Contains(strings.ToLower(stderr), "insecure") && !strings.Contains(strings.ToLower(stderr), "verif") {
		t.Errorf("--insecure gave no warning that TLS verification is off\nstderr: %s", stderr)
	}

	// Per side: --dst-insecure leaves the source verified; --src-insecure lets it through.
	before := requests.Load()
	code, _, stderr = runEcrsync(t, env, "copy", "--dst-insecure", src, dst)
	if code != 1 || requests.Load() != before || !strings.Contains(stderr, "certificate") {
		t.Fatalf("--dst-insecure: exit %d, %d requests reached the source; want 1 and none\nstderr: %s", code, requests.Load()-before, stderr)
	}
	code, _, stderr = runEcrsync(t, env, "copy", "--src-insecure", src, dst)
	if requests.Load() == before || !strings.Contains(stderr, "not verified") {
		t.Fatalf("--src-insecure: no request reached the source, or no warning (exit %d)\nstderr: %s", code, stderr)
	}
}
