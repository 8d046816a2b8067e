package cli_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
)

type basicKeychain struct{ user, pass string }

func (k basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
}

// Secrets that must never be printed.
const (
	srcUser, srcPass = "alice", "src-pass-7Hq2kXz9"
	dstUser, dstPass = "bob", "dst-pass-Qm4vW8rT"
	presignSig       = "presig-0f9e8d7c6b5a"
	presignCred      = "ASIAPRESIGNCRED1234"
	presignToken     = "presign-session-token-77"
)

// The blob whose presigned URL drops connections, and how often it did; reset for every run.
var (
	dropMu   sync.Mutex
	dropPath string
	dropped  int
)

// basicOnly demands HTTP Basic credentials, as ECR does. Blob downloads are redirected to a
// presigned URL on another host name (localhost instead of 127.0.0.1), as ECR redirects them to
// S3, with the credentials in its query string; how the presigned URL answers is broken's call.
func basicOnly(next http.Handler, user, pass string, presign bool, broken *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/presigned/") {
			if r.URL.Query().Get("X-Amz-Signature") != presignSig || r.Header.Get("Authorization") != "" {
				w.WriteHeader(http.StatusForbidden) // and registry credentials must not come along
				return
			}
			mode := broken.Load()
			if mode == 1 {
				// The connection drops on every request for the first blob asked for, 3 times:
				// each retry is logged with the URL it was fetching (redacted). Few, so that the
				// test does not sit through real backoff (it took 85 s with 24).
				dropMu.Lock()
				if dropPath == "" {
					dropPath = r.URL.Path
				}
				if dropPath != r.URL.Path || dropped >= 3 {
					mode = 0
				} else {
					dropped++
				}
				dropMu.Unlock()
			}
			switch mode {
			case 1:
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
			case 2: // S3 refuses: an error with a body
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprintf(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/v2/" + strings.TrimPrefix(r.URL.Path, "/presigned/")
			r2.URL.RawQuery = ""
			next.ServeHTTP(w, r2)
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if presign && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			_, port, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, "http://localhost:"+port+"/presigned/"+strings.TrimPrefix(r.URL.Path, "/v2/")+
				"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="+presignCred+"%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"+
				"&X-Amz-Security-Token="+presignToken+"&X-Amz-Signature="+presignSig, http.StatusTemporaryRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestSecretsNeverAppearInOutput copies with known passwords and presigned blob URLs, with
// debug logs in both formats, through success, a presigned URL that drops the connection, one
// that refuses, and wrong credentials; it captures every byte the process writes and searches it
// for the passwords, the Authorization header values, the Docker config's auth strings and the
// presigned URLs' query values.
func TestSecretsNeverAppearInOutput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var broken atomic.Int32
	src, err := devstack.Start(ctx, devstack.Options{Wrap: func(h http.Handler) http.Handler {
		return basicOnly(h, srcUser, srcPass, true, &broken)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	dst, err := devstack.Start(ctx, devstack.Options{Wrap: func(h http.Handler) http.Handler {
		return basicOnly(h, dstUser, dstPass, false, &broken)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })

	// The fixture: a signed two-platform image, pushed with the source's credentials.
	push := &devstack.Pusher{C: registry.New(registry.Options{Keychain: basicKeychain{srcUser, srcPass}})}
	repo, err := push.Repo(src.Addr + "/app")
	if err != nil {
		t.Fatal(err)
	}
	d, err := push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := push.Signature(ctx, repo, d); err != nil {
		t.Fatal(err)
	}

	srcAuth := base64.StdEncoding.EncodeToString([]byte(srcUser + ":" + srcPass))
	dstAuth := base64.StdEncoding.EncodeToString([]byte(dstUser + ":" + dstPass))
	dockerConfig := func(dstAuth string) []string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`,
			src.Addr, srcAuth, dst.Addr, dstAuth)), 0o600)
		return []string{"DOCKER_CONFIG=" + dir}
	}
	secrets := []string{srcPass, dstPass, srcAuth, dstAuth, "Basic " + srcAuth, "Basic " + dstAuth,
		presignSig, presignCred, presignToken, "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token",
		base64.StdEncoding.EncodeToString([]byte(dstUser + ":wrong-" + dstPass)), "wrong-" + dstPass}

	cases := []struct {
		name     string
		broken   int32
		dstAuth  string
		wantExit []int
	}{
		{"copy succeeds", 0, dstAuth, []int{0}},
		{"presigned URL drops the connection", 1, dstAuth, []int{0}},
		{"presigned URL refuses", 2, dstAuth, []int{1, 3}},
		{"wrong destination password", 0, base64.StdEncoding.EncodeToString([]byte(dstUser + ":wrong-" + dstPass)), []int{1}},
	}
	for i, tc := range cases {
		for _, format := range []string{"json", "text"} {
			broken.Store(tc.broken)
			dropMu.Lock()
			dropPath, dropped = "", 0
			dropMu.Unlock()
			// A repository of its own, so that every blob is fetched through a presigned URL.
			dstTag := fmt.Sprintf("%s/case%d-%s/app:v1", dst.Addr, i, format)
			// A retry budget of seconds, not the default minutes: no case may sit through long
			// real backoff.
			code, stdout, stderr := runEcrsync(t, dockerConfig(tc.dstAuth), "copy", src.Addr+"/app:v1", dstTag,
				"--log-level", "debug", "--log-format", format, "--output", format, "--retry-time", "20s")
			ok := false
			for _, c := range tc.wantExit {
				ok = ok || c == code
			}
			if !ok {
				t.Errorf("%s (%s): exit %d, want one of %v\nstderr: %s", tc.name, format, code, tc.wantExit, stderr)
			}
			if !strings.Contains(stderr, "retrying request") && tc.broken == 1 {
				t.Errorf("%s (%s): no retry was logged: the debug output proves little\n%s", tc.name, format, stderr)
			}
			all := stdout + "\n" + stderr
			for _, s := range secrets {
				if i := strings.Index(all, s); i >= 0 {
					t.Errorf("%s (%s): output contains the secret %q:\n…%s…", tc.name, format, s, all[max(0, i-200):min(len(all), i+100)])
				}
			}
		}
	}
}
