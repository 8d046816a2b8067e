package fault_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/fault"
)

func blobServer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "65536")
		w.Write(bytes.Repeat([]byte{'x'}, 65536))
	})
}

// TestBandwidthPacesBodies sends 64 KiB down a 256 KiB/s link: about a quarter of a second.
func TestBandwidthPacesBodies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(fault.Wrap(blobServer(), fault.Config{Bandwidth: 256 << 10}))
	defer srv.Close()
	start := time.Now()
	resp, err := http.Get(srv.URL + "/v2/a/blobs/sha256:x")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d := time.Since(start); n != 65536 || d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("%d bytes in %s; want 65536 in about 250ms", n, d)
	}
}

// TestBurstRepeatsAFault: with Burst 3, a drawn 503 is followed by two more.
func TestBurstRepeatsAFault(t *testing.T) {
	t.Parallel()
	in := fault.Wrap(blobServer(), fault.Config{Seed: 1, Rate: 1, Kinds: []fault.Kind{fault.Status503}, Burst: 3, Limit: 3})
	srv := httptest.NewServer(in)
	defer srv.Close()
	var codes []int
	for range 5 {
		resp, err := http.Get(srv.URL + "/v2/a/manifests/v1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if want := []int{503, 503, 503, 200, 200}; !equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
}

// TestProxyResetsMidBody: through the reverse proxy, a reset-response fault cuts a blob short.
func TestProxyResetsMidBody(t *testing.T) {
	t.Parallel()
	origin := httptest.NewServer(blobServer())
	defer origin.Close()
	in, err := fault.NewProxy(origin.URL, fault.Config{Seed: 1, Rate: 1, Kinds: []fault.Kind{fault.ResetResponse}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(in)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v2/a/blobs/sha256:x")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 65536 {
		t.Fatalf("read %d bytes, err %v; want a cut body", n, err)
	}
	if in.Injected()[fault.ResetResponse] != 1 {
		t.Fatalf("injected %v", in.Injected())
	}
}

func TestParseKinds(t *testing.T) {
	t.Parallel()
	ks, err := fault.ParseKinds("500, 429-retry-after,reset-request")
	if err != nil || len(ks) != 3 || ks[1] != fault.ThrottleAfter {
		t.Fatalf("%v %v", ks, err)
	}
	if _, err := fault.ParseKinds("500,teapot"); err == nil || !strings.Contains(err.Error(), "teapot") {
		t.Fatalf("err = %v", err)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
