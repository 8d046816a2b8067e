package registry_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// TestDockerConfigCredentials: with no keychain given, credentials come from the Docker config
// that `docker login` writes (DOCKER_CONFIG), as users expect. Not parallel: it sets the env.
func TestDockerConfigCredentials(t *testing.T) {
	reg, err := devstack.Start(context.Background(), devstack.Options{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "bob" || p != "hunter2" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("bob:hunter2"))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+reg.Addr+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	c := registry.New(registry.Options{})
	repo, _ := name.NewRepository(reg.Addr + "/app")
	p := &devstack.Pusher{C: c}
	if _, err := p.Image(context.Background(), c.Repository(repo), "v1", devstack.ImageSpec{}); err != nil {
		t.Fatalf("push with Docker config credentials: %v", err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials: anonymous, refused
	anon := registry.New(registry.Options{})
	if _, err := anon.Repository(repo).Head(context.Background(), "v1"); err == nil {
		t.Fatal("anonymous request was let in: the test proves nothing")
	}
}
