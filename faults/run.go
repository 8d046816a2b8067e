package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/fault"
)

// Fixture sizes: two platforms with a shared and an own layer each, an attestation and a
// signature; about a megabyte in ten blobs, enough for every kind of fault to land on a blob.
const (
	layerSize = 256 << 10
	repoName  = "app"
	tagName   = "v1"
)

var platforms = []string{"linux/amd64", "linux/arm64"}

// Outcome is how one run ended.
type Outcome string

// The outcomes. Broken is the one that must never happen: a destination tag that points at an
// incomplete image, or a copy that said it succeeded with the wrong image.
const (
	OK      Outcome = "ok"
	Failed  Outcome = "failed"
	Broken  Outcome = "BROKEN"
	Timeout Outcome = "timeout"
	Setup   Outcome = "setup-error"
)

// Run is one copy under one fault from one seed.
type Run struct {
	Scenario Scenario
	Tool     string
	Seed     uint64
	Outcome  Outcome
	Exit     int
	Err      string // the tool's last line on stderr when it failed
	Problem  string // why the destination is broken, or what went wrong in setup
	Faults   int    // faults injected (restarts count one each)
	Requests int64  // requests that reached the faulty side while the fault was armed
	Retries  int    // retries ecrsync logged; -1 where the tool does not say
	Duration time.Duration
}

// Runner runs scenarios.
type Runner struct {
	// Timeout bounds one copy; a tool still running then is killed and the run is a Timeout.
	Timeout time.Duration
	// Work is where each run's files go (docker config, credential helper, registry storage).
	Work string
}

// tokenAuth is Basic auth with a token that expires: every client asks a credential helper
// for the current token; after a few requests with it the token expires and the registry
// answers 403 "Your authorization token has expired", ECR's words.
type tokenAuth struct {
	file    string
	every   int64
	mu      sync.Mutex
	current string
	expired map[string]bool
	uses    int64
	rotated int
}

func newTokenAuth(file string, every int64) (*tokenAuth, error) {
	a := &tokenAuth{file: file, every: every, expired: map[string]bool{}}
	return a, a.rotate()
}

func (a *tokenAuth) rotate() error {
	b := make([]byte, 12)
	rand.Read(b)
	if a.current != "" {
		a.expired[a.current] = true
		a.rotated++
	}
	a.current = "tok-" + hex.EncodeToString(b)
	a.uses = 0
	return os.WriteFile(a.file, []byte(a.current), 0o600)
}

// check answers the request itself and reports false when the credentials do not pass.
func (a *tokenAuth) check(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == "/v2/" && r.Header.Get("Authorization") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="faults"`)
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	user, pass, ok := r.BasicAuth()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case ok && user == "AWS" && pass == a.current:
		if a.uses++; a.uses >= a.every {
			a.rotate()
		}
		return true
	case ok && user == "AWS" && a.expired[pass]:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"errors":[{"code":"DENIED","message":"Your authorization token has expired. Reauthenticate and try again."}]}`))
		return false
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="faults"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
	return false
}

// side is what sits in front of one registry: a gate that lets the fixture in untouched, then
// the faults. It survives a restart of the registry behind it.
type side struct {
	armed    atomic.Bool
	requests atomic.Int64
	inj      *fault.Injector
	auth     *tokenAuth
	onPut    func(n int64) // called on every blob upload PUT while armed
	puts     atomic.Int64
	mu       sync.RWMutex
	next     http.Handler
}

func (s *side) wrap(h http.Handler) http.Handler {
	s.mu.Lock()
	s.next = h
	s.mu.Unlock()
	return s
}

func (s *side) registry() http.Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.next
}

func (s *side) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.armed.Load() {
		s.registry().ServeHTTP(w, r)
		return
	}
	s.requests.Add(1)
	if s.auth != nil && !s.auth.check(w, r) {
		return
	}
	if s.onPut != nil && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") {
		s.onPut(s.puts.Add(1))
	}
	if s.inj != nil {
		s.inj.ServeHTTP(w, r)
		return
	}
	s.registry().ServeHTTP(w, r)
}

func (s *side) faults() int {
	n := 0
	if s.inj != nil {
		n += s.inj.Total()
	}
	if s.auth != nil {
		s.auth.mu.Lock()
		n += s.auth.rotated
		s.auth.mu.Unlock()
	}
	return n
}

func newSide(sc Scenario, which Side, seed uint64) *side {
	s := &side{}
	if sc.Side != which && sc.Mix[which] == nil {
		return s
	}
	cfg := fault.Config{Seed: seed, Rate: sc.Rate, Kinds: sc.Kinds, Burst: sc.Burst, Delay: sc.Delay, Bandwidth: sc.Bandwidth,
		Shares: sc.Mix[which]}
	if which == Dst {
		cfg.Seed += 1000
	}
	if sc.Mismatch {
		bad := "/blobs/" + digest.FromBytes(devstack.RandomBytes(layerSize, seed)).String()
		cfg.Rate, cfg.Kinds = 1, []fault.Kind{fault.CorruptStored}
		cfg.Match = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, bad) }
	}
	if len(cfg.Kinds) > 0 || len(cfg.Shares) > 0 || cfg.Bandwidth > 0 {
		s.inj = fault.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.registry().ServeHTTP(w, r)
		}), cfg)
	}
	return s
}

// Run copies the fixture once with tool under sc from seed and checks the destination.
func (rn *Runner) Run(ctx context.Context, sc Scenario, tool Tool, seed uint64) (run Run) {
	run = Run{Scenario: sc, Tool: tool.Name, Seed: seed, Retries: -1}
	dir, err := os.MkdirTemp(rn.Work, "run-")
	if err != nil {
		run.Outcome, run.Problem = Setup, err.Error()
		return run
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	srcSide, dstSide := newSide(sc, Src, seed), newSide(sc, Dst, seed)
	src, err := devstack.Start(ctx, devstack.Options{Wrap: srcSide.wrap})
	if err != nil {
		run.Outcome, run.Problem = Setup, err.Error()
		return run
	}
	defer src.Close()
	dstOpts := devstack.Options{Wrap: dstSide.wrap}
	if sc.Restart {
		dstOpts.DataDir = filepath.Join(dir, "dst-data")
	}
	dst, err := devstack.Start(ctx, dstOpts)
	if err != nil {
		run.Outcome, run.Problem = Setup, err.Error()
		return run
	}
	var dstMu sync.Mutex
	defer func() {
		dstMu.Lock()
		dst.Close()
		dstMu.Unlock()
	}()
	var restarts atomic.Int32
	var restarted sync.WaitGroup
	dstAddr := dst.Addr // the same after a restart; dst itself is replaced under dstMu
	if sc.Restart {
		dstOpts.Addr = dstAddr
		at := int64(seed%4) + 1 // on the 1st to 4th blob upload
		dstSide.onPut = func(n int64) {
			if n != at {
				return
			}
			restarted.Add(1)
			go func() {
				defer restarted.Done()
				dstMu.Lock()
				defer dstMu.Unlock()
				dst.Close()
				time.Sleep(500 * time.Millisecond)
				for range 50 {
					if r, err := devstack.Start(ctx, dstOpts); err == nil {
						dst = r
						restarts.Add(1)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
	}

	want, err := pushFixture(ctx, src.Addr, seed)
	if err != nil {
		run.Outcome, run.Problem = Setup, "pushing fixture: "+err.Error()
		return run
	}
	home := filepath.Join(dir, "home")
	if err := rn.credentials(sc, home, src.Addr, dstAddr, srcSide, dstSide); err != nil {
		run.Outcome, run.Problem = Setup, err.Error()
		return run
	}

	srcRef, dstRef := src.Addr+"/"+repoName+":"+tagName, dstAddr+"/"+repoName+":"+tagName
	srcSide.armed.Store(true)
	dstSide.armed.Store(true)
	tctx, tcancel := context.WithTimeout(ctx, rn.Timeout)
	cmd := exec.CommandContext(tctx, tool.Path, tool.Args(src.Addr, dstAddr, srcRef, dstRef)...)
	cmd.Env = append(cleanEnv(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"PATH="+filepath.Join(home, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1")
	cmd.Dir = home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Run()
	run.Duration = time.Since(start)
	timedOut := tctx.Err() != nil
	tcancel()
	restarted.Wait()
	srcSide.armed.Store(false)
	dstSide.armed.Store(false)
	run.Faults = srcSide.faults() + dstSide.faults() + int(restarts.Load())
	run.Requests = srcSide.requests.Load() + dstSide.requests.Load()
	if tool.Name == "ecrsync" {
		run.Retries = strings.Count(stderr.String(), `"msg":"retrying request"`) + strings.Count(stderr.String(), `"msg":"retrying blob"`)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		run.Exit = ee.ExitCode()
	default:
		run.Outcome, run.Problem = Setup, err.Error()
		return run
	}
	if err != nil || timedOut {
		run.Err = lastLine(stderr.String())
	}

	got, complete := Check(ctx, dstAddr, repoName, tagName)
	switch {
	case complete != nil && got != "":
		run.Outcome, run.Problem = Broken, complete.Error()
	case timedOut:
		run.Outcome = Timeout
	case err == nil && got != want.String():
		run.Outcome, run.Problem = Broken, fmt.Sprintf("exit 0 but the tag points at %q, want %s", got, want)
	case err == nil:
		run.Outcome = OK
	default:
		run.Outcome = Failed
	}
	return run
}

// credentials writes the tool's home: a Docker config that names a credential helper for the
// registry with expiring tokens, and that helper.
func (rn *Runner) credentials(sc Scenario, home, srcAddr, dstAddr string, srcSide, dstSide *side) error {
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o700); err != nil {
		return err
	}
	if !sc.Token {
		return os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(`{"auths":{}}`), 0o600)
	}
	host, s := srcAddr, srcSide
	if sc.Side == Dst {
		host, s = dstAddr, dstSide
	}
	tokenFile := filepath.Join(home, "token")
	a, err := newTokenAuth(tokenFile, 6)
	if err != nil {
		return err
	}
	s.auth = a
	helper := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"AWS\",\"Secret\":\"%s\"}\\n' \"$server\" \"$(cat " + tokenFile + ")\"\n"
	if err := os.WriteFile(filepath.Join(home, "bin", "docker-credential-faults"), []byte(helper), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(home, ".docker", "config.json"),
		[]byte(fmt.Sprintf(`{"credHelpers":{%q:"faults"}}`, host)), 0o600)
}

func pushFixture(ctx context.Context, addr string, seed uint64) (digest.Digest, error) {
	p := devstack.NewPusher()
	repo, err := p.Repo(addr + "/" + repoName)
	if err != nil {
		return "", err
	}
	d, err := p.MultiPlatform(ctx, repo, tagName, platforms, layerSize, seed)
	if err != nil {
		return "", err
	}
	if _, err := p.Signature(ctx, repo, d); err != nil {
		return "", err
	}
	return d.Digest, nil
}

// cleanEnv is the environment without what would point tools at other credentials or proxies.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HOME", "DOCKER_CONFIG", "PATH", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "REGISTRY_AUTH_FILE", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if len(l) > 300 {
			l = l[:300] + "…"
		}
		return l
	}
	return ""
}
