package registry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
)

type staticKeychain struct{ cfg authn.AuthConfig }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(k.cfg), nil
}

// TestAuth runs a push and a pull against a real registry behind Basic and bearer-token
// challenges, with right and wrong credentials.
func TestAuth(t *testing.T) {
	t.Parallel()
	var tokens atomic.Int32
	realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "alice" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tokens.Add(1)
		json.NewEncoder(w).Encode(map[string]any{"token": "tok:" + strings.Join(r.URL.Query()["scope"], " "), "expires_in": 300})
	}))
	t.Cleanup(func() {
		realm.Close()
		if tokens.Load() == 0 {
			t.Error("no token was ever issued: the bearer cases proved nothing")
		}
	})
	cases := []struct {
		name    string
		scheme  string
		cfg     authn.AuthConfig
		wantErr error
	}{
		{"basic with credentials", "basic", authn.AuthConfig{Username: "alice", Password: "s3cret"}, nil},
		{"basic with wrong password", "basic", authn.AuthConfig{Username: "alice", Password: "nope"}, registry.ErrUnauthorized},
		{"bearer with credentials", "bearer", authn.AuthConfig{Username: "alice", Password: "s3cret"}, nil},
		{"bearer with wrong password", "bearer", authn.AuthConfig{Username: "alice", Password: "nope"}, registry.ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, err := devstack.Start(context.Background(), devstack.Options{Wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got := r.Header.Get("Authorization")
					switch tc.scheme {
					case "basic":
						if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
							w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
							w.WriteHeader(http.StatusUnauthorized)
							return
						}
					case "bearer":
						repo := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/", 2)[0]
						if r.URL.Path != "/v2/" && !strings.HasPrefix(got, "Bearer tok:repository:"+repo+":") {
							w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`/token",service="test"`)
							w.WriteHeader(http.StatusUnauthorized)
							return
						}
						if (r.Method == http.MethodPut || r.Method == http.MethodPost) && !strings.Contains(got, "push") {
							w.WriteHeader(http.StatusUnauthorized)
							return
						}
					}
					h.ServeHTTP(w, r)
				})
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			c := registry.New(registry.Options{Keychain: staticKeychain{tc.cfg}})
			repo, _ := name.NewRepository(reg.Addr + "/app")
			p := &devstack.Pusher{C: c}
			d, err := p.Image(context.Background(), c.Repository(repo), "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(5000, 1)}})
			if tc.wantErr != nil {
				if err == nil || !strings.Contains(err.Error(), "401") {
					t.Fatalf("push with wrong credentials: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Repository(repo).Head(context.Background(), "v1")
			if err != nil || got.Digest != d.Digest {
				t.Fatalf("head after push: %v %v", got.Digest, err)
			}
		})
	}
}
