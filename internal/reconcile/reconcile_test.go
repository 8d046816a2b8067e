package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/pace"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// counter counts a registry's requests by method and path kind, and can refuse some.
type counter struct {
	mu    sync.Mutex
	n     map[string]int
	deny  func(*http.Request) int // a status to answer instead, or 0
	total atomic.Int64
}

func (c *counter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		for _, k := range []string{"/manifests/", "/blobs/uploads/", "/blobs/", "/tags/list", "/_catalog"} {
			if strings.Contains(r.URL.Path, k) {
				kind = strings.Trim(k, "/")
				break
			}
		}
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[r.Method+" "+kind]++
		c.mu.Unlock()
		c.total.Add(1)
		if c.deny != nil {
			if code := c.deny(r); code != 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"denied by the test"}]}`)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (c *counter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// fixture is a source and a destination registry with repositories in every state a reconcile
// meets: missing, stale, in sync, extra, unselected, and two that fail.
type fixture struct {
	src, dst       *devstack.Registry
	srcReq, dstReq *counter
	push           *devstack.Pusher
	cfg            *rules.Config
	want           map[string]digest.Digest // dst ref -> digest it must end at
}

// start runs a real distribution registry on 127.0.0.1 behind wrap, stopped with the test.
func start(t *testing.T, wrap func(http.Handler) http.Handler) *devstack.Registry {
	t.Helper()
	return devtest.Start(t, wrap)
}

func (f *fixture) image(t *testing.T, host, repo, tag string, seed uint64) digest.Digest {
	t.Helper()
	r, err := f.push.Repo(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.push.Image(context.Background(), r, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(2048, seed)}})
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

func (f *fixture) head(t *testing.T, ref string) (digest.Digest, bool) {
	t.Helper()
	i := strings.LastIndex(ref, ":")
	r, err := f.push.Repo(ref[:i])
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Head(context.Background(), ref[i+1:])
	if err != nil {
		return "", false
	}
	return d.Digest, true
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{srcReq: &counter{}, dstReq: &counter{}, push: devstack.NewPusher(), want: map[string]digest.Digest{}}
	// Listing the tags of "broken" fails for good; pushing manifests to "denied" is forbidden.
	f.srcReq.deny = func(r *http.Request) int {
		if r.URL.Path == "/v2/broken/tags/list" {
			return http.StatusForbidden
		}
		return 0
	}
	f.src = start(t, f.srcReq.wrap)
	f.dst = start(t, f.dstReq.wrap)
	ctx := context.Background()
	s, d := f.src.Addr, f.dst.Addr

	// app: v1 in sync, v2 stale, latest missing, dev not selected; the destination has an extra tag.
	v1 := f.image(t, s, "app", "v1", 1)
	f.image(t, d, "app", "v1", 1)
	f.want[d+"/app:v1"] = v1
	f.want[d+"/app:v2"] = f.image(t, s, "app", "v2", 2)
	f.image(t, d, "app", "v2", 102)
	srcApp, _ := f.push.Repo(s + "/app")
	idx, err := f.push.MultiPlatform(ctx, srcApp, "latest", []string{"linux/amd64", "linux/arm64"}, 1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	f.want[d+"/app:latest"] = idx.Digest
	f.image(t, s, "app", "dev", 4)
	f.want[d+"/app:extra"] = f.image(t, d, "app", "extra", 5)
	// team/api: nothing in the destination yet. team/web: in sync.
	f.want[d+"/mirror/team/api:v1"] = f.image(t, s, "team/api", "v1", 6)
	f.want[d+"/mirror/team/api:v2"] = f.image(t, s, "team/api", "v2", 7)
	f.want[d+"/mirror/team/web:v1"] = f.image(t, s, "team/web", "v1", 8)
	f.image(t, d, "mirror/team/web", "v1", 8)
	// other: no rule selects it.
	f.image(t, s, "other", "v1", 9)
	// broken: its tags cannot be listed. denied: the destination refuses its manifest.
	f.image(t, s, "broken", "v1", 10)
	f.image(t, s, "denied", "v1", 11)
	f.dstReq.deny = func(r *http.Request) int {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/denied/manifests/") {
			return http.StatusForbidden
		}
		return 0
	}

	cfg, err := rules.Load([]byte(fmt.Sprintf(`
source: {registry: "%s"}
rules:
  - repositories: ["app", "broken", "denied"]
    tags: ["v*", "latest"]
    destinations: [{registry: "%s"}]
  - repositories: ["team/*"]
    tags: ["v*"]
    destinations: [{registry: "%s", repository: "mirror/{repository}"}]
`, s, d, d)))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	f.srcReq.reset()
	f.dstReq.reset()
	return f
}

// reconciler builds the reconciler of the fixture's config through the composition root, as
// the CLI and the Lambda do, and returns it with the pacer of its manifest PUTs.
func (f *fixture) reconciler(t *testing.T, opts reconcile.Options, o app.Options) (*reconcile.Reconciler, *pace.Pacer) {
	t.Helper()
	o.Rules = f.cfg
	o.Fallback = devstack.Anonymous{}
	o.Retry = registry.RetryPolicy{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}
	a, err := app.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return a.Reconciler(f.cfg, opts), a.Pacer
}

func statuses(rep *reconcile.Report) map[string]reconcile.Status {
	out := map[string]reconcile.Status{}
	for _, it := range rep.Items {
		k := it.Dst
		if k == "" {
			k = it.Src
		}
		out[k] = it.Status
	}
	return out
}

func TestSyncConvergesAndLeavesExtraTagsAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	d := f.dst.Addr

	// A dry run reports the plan and sends nothing that writes.
	dry, _ := f.reconciler(t, reconcile.Options{DryRun: true}, app.Options{})
	rep, err := dry.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Planned != 5 || rep.Copied != 0 || rep.InSync != 2 || rep.Failed != 1 || rep.Converged() {
		t.Fatalf("dry run: %+v", rep)
	}
	for k, n := range f.dstReq.reset() {
		if !strings.HasPrefix(k, "HEAD ") && !strings.HasPrefix(k, "GET ") {
			t.Errorf("dry run sent %d %s to the destination", n, k)
		}
	}
	if got, _ := f.head(t, d+"/app:v2"); got == f.want[d+"/app:v2"] {
		t.Fatal("dry run changed app:v2")
	}
	st := statuses(rep)
	if st[d+"/app:v2"] != reconcile.Planned || st[d+"/mirror/team/api:v1"] != reconcile.Planned {
		t.Fatalf("dry run plan: %v", st)
	}

	// The real run copies what differs; one failing repository stops nothing.
	r, _ := f.reconciler(t, reconcile.Options{}, app.Options{})
	rep, err = r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st = statuses(rep)
	want := map[string]reconcile.Status{
		d + "/app:v2": reconcile.Copied, d + "/app:latest": reconcile.Copied,
		d + "/mirror/team/api:v1": reconcile.Copied, d + "/mirror/team/api:v2": reconcile.Copied,
		d + "/denied:v1": reconcile.Failed, f.src.Addr + "/broken": reconcile.Failed,
	}
	for k, s := range want {
		if st[k] != s {
			t.Errorf("%s: %q, want %q (all: %v)", k, st[k], s, st)
		}
	}
	if rep.Copied != 4 || rep.InSync != 2 || rep.Failed != 2 || rep.Repositories != 5 || rep.Tags != 7 || rep.Converged() || rep.Retryable() {
		t.Fatalf("report: %+v", rep)
	}
	for _, it := range rep.Items {
		if it.Status == reconcile.Failed && (it.Reason == "" || it.Retryable) {
			t.Errorf("failure without a reason, or called retryable: %+v", it)
		}
	}
	for ref, dg := range f.want {
		if got, ok := f.head(t, ref); !ok || got != dg {
			t.Errorf("%s: %s, want %s", ref, got, dg)
		}
	}
	for _, ref := range []string{d + "/app:dev", d + "/other:v1", d + "/broken:v1", d + "/denied:v1"} {
		if _, ok := f.head(t, ref); ok {
			t.Errorf("%s was copied; no rule (or no success) calls for it", ref)
		}
	}

	// A second run copies nothing: one HEAD per source tag, one per destination tag.
	f.srcReq.reset()
	f.dstReq.reset()
	rep, err = r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 0 || rep.InSync != 6 || rep.Failed != 2 {
		t.Fatalf("second run: %+v", rep)
	}
	dst := f.dstReq.reset()
	src := f.srcReq.reset()
	// denied:v1 is tried again (and fails again): its copy reads and writes; the rest only HEAD.
	if dst["HEAD manifests"] < 7 || dst["PUT manifests"] != 1 || dst["POST blobs/uploads"] != 0 {
		t.Errorf("second run, destination requests: %v", dst)
	}
	if src["HEAD manifests"] != 7 || src["GET tags/list"] < 5 || src["GET _catalog"] != 1 {
		t.Errorf("second run, source requests: %v", src)
	}
	t.Logf("second run: %d tags in %s; source %v; destination %v", rep.Tags, rep.Duration, src, dst)
}

func TestRepositoryReconcilesOneAndRefusesUnselected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r, _ := f.reconciler(t, reconcile.Options{}, app.Options{})
	rep, err := r.Repository(context.Background(), "team/api")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repositories != 1 || rep.Copied != 2 || rep.Failed != 0 || !rep.Converged() {
		t.Fatalf("%+v", rep)
	}
	if _, err := r.Repository(context.Background(), "other"); err == nil {
		t.Fatal("a repository no rule selects was reconciled")
	}
}

func TestCatalogPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := &reconcile.OCI{Client: registry.New(registry.Options{Keychain: devstack.Anonymous{}}), Host: f.src.Addr, PageSize: 2}
	repos, err := o.Repositories(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(repos, ","); got != "app,broken,denied,other,team/api,team/web" {
		t.Fatalf("repositories: %s", got)
	}
	if n := f.srcReq.reset()["GET _catalog"]; n < 3 {
		t.Fatalf("%d catalog pages for 6 repositories at 2 a page", n)
	}
}

func TestCanceledRunSkipsAndDoesNotConverge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := f.reconciler(t, reconcile.Options{}, app.Options{})
	repos, err := r.Repositories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	rep, err := r.Repository(ctx, repos[0])
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 0 || rep.Converged() {
		t.Fatalf("a canceled run reported %+v", rep)
	}
}

func TestLimiterPacesManifestPuts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the limiter")
	}
	t.Parallel()
	f := newFixture(t)
	// 4 copies put 1+1+4 (index: two images, an attestation, itself)+1+1 manifests: 8 PUTs, plus
	// the one denied. At 4 a second with a burst of 4, that takes at least a second.
	r, lim := f.reconciler(t, reconcile.Options{}, app.Options{PutRate: 4})
	start := time.Now()
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	puts := f.dstReq.reset()["PUT manifests"]
	el := time.Since(start)
	if rep.Copied != 4 || puts < 8 {
		t.Fatalf("copied %d with %d PUTs", rep.Copied, puts)
	}
	if min := time.Duration(puts-4) * time.Second / 4; el < min-50*time.Millisecond || lim.Waited() == 0 {
		t.Fatalf("%d PUTs at 4/s took %s (waited %s), want at least %s", puts, el, lim.Waited(), min)
	}
}
