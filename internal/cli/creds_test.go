package cli_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// TestCopyWithPerSideCredentials copies between two real registries that each want their own
// basic-auth credentials: the source's given as --src-creds USER:PASSWORD, the destination's
// through a Docker credential helper named by --dst-creds (a script on PATH speaking the helper
// protocol). Without them the copy fails with a hint to log in.
func TestCopyWithPerSideCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	basic := func(user, pass string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
					w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	src, err := devstack.Start(ctx, devstack.Options{Wrap: basic("alice", "src-pass")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	dst, err := devstack.Start(ctx, devstack.Options{Wrap: basic("bob", "dst-pass")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	bin := t.TempDir()
	helper := "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = \"" + dst.Addr + "\" ] || exit 1\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"bob\",\"Secret\":\"dst-pass\"}'\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-ecrtest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	pushAs(t, src.Addr, "alice", "src-pass")

	code, _, errs := runEcrsync(t, env, "copy", src.Addr+"/app:v1", dst.Addr+"/app")
	if code != 1 || !strings.Contains(errs, "log in") {
		t.Fatalf("without credentials: exit %d; want 1 and a hint to log in\n%s", code, errs)
	}
	code, out, errs := runEcrsync(t, env, "copy", "--src-creds", "alice:src-pass", "--dst-creds", "ecrtest", src.Addr+"/app:v1", dst.Addr+"/app", "--format", "{{.Digest}}")
	if code != 0 || !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("with --src-creds and --dst-creds: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if strings.Contains(out+errs, "src-pass") || strings.Contains(out+errs, "dst-pass") {
		t.Error("a password shows in the output")
	}
	code, _, errs = runEcrsync(t, env, "copy", "--dst-creds", "nosuchhelper", src.Addr+"/app:v1", dst.Addr+"/app")
	if code != 2 || !strings.Contains(errs, "docker-credential-nosuchhelper") {
		t.Fatalf("a helper not on PATH: exit %d\n%s", code, errs)
	}
}

// pushAs pushes app:v1 to host with basic-auth credentials.
func pushAs(t *testing.T, host, user, pass string) {
	t.Helper()
	p := &devstack.Pusher{C: registry.New(registry.Options{Keychain: basicKeychain{user, pass}})}
	repo, err := p.Repo(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(context.Background(), repo, "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(300, 9)}}); err != nil {
		t.Fatal(err)
	}
}
