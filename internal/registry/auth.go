package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// challenge is how a registry asks to be authenticated, learnt from GET /v2/.
type challenge struct {
	scheme  string // "", "basic" or "bearer"
	realm   string
	service string
}

// token is a cached bearer token for one scope.
type token struct {
	value   string
	expires time.Time
}

// authTransport adds credentials to requests for one registry host: HTTP Basic (ECR, most
// private registries) or a bearer token fetched from the realm the registry names
// (distribution's token auth, Docker Hub, GHCR). Requests to other hosts — the presigned
// URLs that layer downloads redirect to — go out without credentials.
type authTransport struct {
	host string
	auth authn.Authenticator
	next http.RoundTripper

	pingMu sync.Mutex // guards ch and pinged
	pinged bool       // ch is known
	ch     challenge

	mu     sync.Mutex
	tokens map[string]token
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return t.next.RoundTrip(req)
	}
	// No ping: the first request goes out as it is, and a 401 teaches us the challenge. That
	// saves a round trip per registry, which across Regions is most of a small copy.
	ch, known := t.challenge()
	scope := scopeFor(req)
	r, err := t.authorize(req, ch, scope, false)
	if err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		if !known {
			t.learn(ch)
		}
		return resp, nil
	}
	fresh := parseChallenge(resp.Header.Get("WWW-Authenticate"))
	if fresh.scheme == "" {
		return resp, nil
	}
	t.learn(fresh)
	if known && fresh.scheme == "basic" && ch.scheme == "basic" {
		return resp, nil // the credentials themselves were refused
	}
	// Answer the challenge once: a new scheme, or a bearer token that expired or lacks a scope.
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // a streamed body cannot be sent twice; the caller starts it again
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if r, err = t.authorize(req, fresh, scope, true); err != nil {
		return nil, err
	}
	if req.GetBody != nil {
		if r.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return t.next.RoundTrip(r)
}

// challenge returns the registry's challenge and whether it is known yet.
func (t *authTransport) challenge() (challenge, bool) {
	t.pingMu.Lock()
	defer t.pingMu.Unlock()
	return t.ch, t.pinged
}

func (t *authTransport) learn(ch challenge) {
	t.pingMu.Lock()
	t.ch, t.pinged = ch, true
	t.pingMu.Unlock()
}

// authorize returns a copy of req with its Authorization header set.
func (t *authTransport) authorize(req *http.Request, ch challenge, scope string, fresh bool) (*http.Request, error) {
	var header string
	switch ch.scheme {
	case "basic":
		cfg, err := authn.Authorization(req.Context(), t.auth)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", t.host, err)
		}
		if cfg.Username != "" || cfg.Password != "" {
			r := req.Clone(req.Context())
			r.SetBasicAuth(cfg.Username, cfg.Password)
			return r, nil
		}
		if cfg.Auth != "" {
			header = "Basic " + cfg.Auth
		}
	case "bearer":
		tok, err := t.token(req.Context(), ch, scope, fresh)
		if err != nil {
			return nil, err
		}
		header = "Bearer " + tok
	}
	if header == "" {
		return req, nil
	}
	r := req.Clone(req.Context())
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		// Clone shares the body; a retried request gets a fresh one from GetBody.
		r.Body = req.Body
	}
	r.Header.Set("Authorization", header)
	return r, nil
}

// parseChallenge reads a WWW-Authenticate header: `Basic realm="..."` or
// `Bearer realm="https://auth.example/token",service="registry.example"`.
func parseChallenge(h string) challenge {
	scheme, params, _ := strings.Cut(strings.TrimSpace(h), " ")
	c := challenge{scheme: strings.ToLower(scheme)}
	for _, kv := range splitParams(params) {
		k, v, _ := strings.Cut(kv, "=")
		v = strings.Trim(v, `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "realm":
			c.realm = v
		case "service":
			c.service = v
		}
	}
	return c
}

// splitParams splits auth-params on commas outside quotes.
func splitParams(s string) []string {
	var out []string
	quoted, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// scopeFor derives the token scope a request needs from its path and method.
func scopeFor(req *http.Request) string {
	if req.URL.Path == "/v2/_catalog" {
		return "registry:catalog:*"
	}
	p := strings.TrimPrefix(req.URL.Path, "/v2/")
	var repo string
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(p, sep); i > 0 {
			repo = p[:i]
			break
		}
	}
	if repo == "" {
		return ""
	}
	actions := "pull"
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		actions = "pull,push"
	}
	scope := "repository:" + repo + ":" + actions
	if from := req.URL.Query().Get("from"); from != "" {
		scope += " repository:" + from + ":pull"
	}
	return scope
}

// token returns a bearer token for scope, from the cache unless fresh is set.
func (t *authTransport) token(ctx context.Context, ch challenge, scope string, fresh bool) (string, error) {
	t.mu.Lock()
	if tok, ok := t.tokens[scope]; ok && !fresh && time.Now().Before(tok.expires) {
		t.mu.Unlock()
		return tok.value, nil
	}
	t.mu.Unlock()

	cfg, err := authn.Authorization(ctx, t.auth)
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", t.host, err)
	}
	if cfg.RegistryToken != "" {
		return cfg.RegistryToken, nil
	}
	u, err := url.Parse(ch.realm)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("registry %s names a bad token realm %q", t.host, ch.realm)
	}
	q := u.Query()
	if ch.service != "" {
		q.Set("service", ch.service)
	}
	for _, s := range strings.Fields(scope) {
		q.Add("scope", s)
	}
	var req *http.Request
	if cfg.IdentityToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cfg.IdentityToken},
			"service": {ch.service}, "client_id": {"ecrsync"}, "scope": strings.Fields(scope)}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		u.RawQuery = q.Encode()
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if cfg.Username != "" || cfg.Password != "" {
			req.SetBasicAuth(cfg.Username, cfg.Password)
		} else if cfg.Auth != "" {
			req.Header.Set("Authorization", "Basic "+cfg.Auth)
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("fetching token for %s: %w", t.host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching token for %s: %w", t.host, responseError(resp))
	}
	defer resp.Body.Close()
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("decoding token from %s: %w", t.host, err)
	}
	tok := body.Token
	if tok == "" {
		tok = body.AccessToken
	}
	// Tokens live at least 60 s by the spec; refresh 10 s early.
	life := max(time.Duration(body.ExpiresIn)*time.Second, 60*time.Second) - 10*time.Second
	t.mu.Lock()
	if t.tokens == nil {
		t.tokens = map[string]token{}
	}
	t.tokens[scope] = token{value: tok, expires: time.Now().Add(life)}
	t.mu.Unlock()
	return tok, nil
}
