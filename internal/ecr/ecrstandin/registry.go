package ecrstandin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Registry imitates one ECR registry (an account in a Region) in front of a real registry.
type Registry struct {
	s               *Server
	account, region string

	mu        sync.Mutex
	repos     map[string]*repository
	throttle  int // the next this many requests answer 429
	throttled int
	next      http.Handler      // the real registry, set by Wrap
	scans     map[string][]Scan // repository@digest -> answers to come (scan.go)
	lim       limiter
}

type repository struct {
	created  time.Time
	settings repoSettings // repos.go
}

// Registry returns the stand-in for account's registry in region, creating it.
func (s *Server) Registry(account, region string) *Registry {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := account + "/" + region
	if r, ok := s.regs[key]; ok {
		return r
	}
	r := &Registry{s: s, account: account, region: region, repos: map[string]*repository{}}
	s.regs[key] = r
	return r
}

// CreateRepository creates a repository; ECR pushes into a missing one fail with NAME_UNKNOWN.
func (r *Registry) CreateRepository(name string, immutable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mut := "MUTABLE"
	if immutable {
		mut = "IMMUTABLE"
	}
	r.repos[name] = &repository{created: r.s.clock(), settings: defaultSettings(mut)}
}

// Throttle makes the next n registry requests answer 429 TOOMANYREQUESTS, as ECR does past its
// quotas (PutImage 10 TPS per account and Region).
func (r *Registry) Throttle(n int) {
	r.mu.Lock()
	r.throttle = n
	r.mu.Unlock()
}

// Throttled reports how many requests were answered 429.
func (r *Registry) Throttled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.throttled
}

// Wrap puts ECR's behaviour in front of the real registry next (devstack.Options.Wrap).
func (r *Registry) Wrap(next http.Handler) http.Handler {
	r.mu.Lock()
	r.next = next
	r.mu.Unlock()
	return http.HandlerFunc(r.serve)
}

func ociError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	user, pass, ok := req.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm="https://%s/",service="ecr.amazonaws.com"`, req.Host))
		ociError(w, http.StatusUnauthorized, "DENIED", "Not Authorized")
		return
	}
	expired, valid := r.s.checkToken(pass, r.region)
	switch {
	case user != "AWS" || !valid:
		// A token of another Region, or none ECR issued (REFERENCE.md: another Region answers 400).
		ociError(w, http.StatusBadRequest, "DENIED", "Your authorization token is not valid for this registry. Reauthenticate with a token from "+r.region+".")
		return
	case expired:
		ociError(w, http.StatusForbidden, "DENIED", ExpiredTokenMessage)
		return
	}
	if req.URL.Path == "/v2/" || req.URL.Path == "/v2" {
		r.next.ServeHTTP(w, req)
		return
	}
	r.mu.Lock()
	if r.throttle > 0 {
		r.throttle--
		r.throttled++
		r.mu.Unlock()
		w.Header().Set("Retry-After", "0")
		ociError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "Rate exceeded")
		return
	}
	name, kind, ref := splitPath(req.URL.Path)
	repo := r.repos[name]
	next := r.next
	r.mu.Unlock()
	if !r.lim.admit(req, kind) {
		r.mu.Lock()
		r.throttled++
		r.mu.Unlock()
		ociError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "Rate exceeded")
		return
	}
	if name != "" && repo == nil {
		ociError(w, http.StatusNotFound, "NAME_UNKNOWN", fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", name, r.account))
		return
	}
	if repo != nil && repo.immutableTag(ref) && kind == "manifests" && req.Method == http.MethodPut && !strings.Contains(ref, ":") {
		body, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
		if err != nil {
			ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
			return
		}
		sum := sha256.Sum256(body)
		if have := r.headDigest(next, req, name, ref); have != "" && have != "sha256:"+hex.EncodeToString(sum[:]) {
			ociError(w, http.StatusBadRequest, "TAG_INVALID", fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", ref, name))
			return
		}
		req.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	next.ServeHTTP(w, req)
}

// headDigest asks the real registry what a tag points at now ("" if nothing).
func (r *Registry) headDigest(next http.Handler, orig *http.Request, name, tag string) string {
	req := httptest.NewRequest(http.MethodHead, "/v2/"+name+"/manifests/"+tag, nil).WithContext(orig.Context())
	req.Host = orig.Host
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json")
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return ""
	}
	return rec.Header().Get("Docker-Content-Digest")
}

// splitPath reads /v2/<name>/<kind>/<ref> (kind: manifests, blobs, tags, referrers).
func splitPath(p string) (name, kind, ref string) {
	p = strings.TrimPrefix(p, "/v2/")
	for _, k := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(p, k); i > 0 {
			return p[:i], strings.Trim(k, "/"), p[i+len(k):]
		}
	}
	return "", "", ""
}
