package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// TestScale reconciles 20 repositories x 25 tags into an empty destination, then again when
// everything is in sync, and logs the time and the requests per tag (docs/reconcile.md quotes it).
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 500 images")
	}
	t.Parallel()
	const repos, tags = 20, 25
	ctx := context.Background()
	srcReq, dstReq := &counter{}, &counter{}
	src := start(t, srcReq.wrap)
	dst := start(t, dstReq.wrap)
	push := devstack.NewPusher()
	for i := range repos {
		r, err := push.Repo(fmt.Sprintf("%s/svc%02d", src.Addr, i))
		if err != nil {
			t.Fatal(err)
		}
		for j := range tags {
			if _, err := push.Image(ctx, r, fmt.Sprintf("v%d", j), devstack.ImageSpec{
				Layers: [][]byte{devstack.RandomBytes(4096, uint64(i)), devstack.RandomBytes(512, uint64(1000*i+j))}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg, err := rules.Load([]byte(fmt.Sprintf("source: {registry: %q}\nrules:\n  - repositories: [\"svc*\"]\n    destinations: [{registry: %q}]\n", src.Addr, dst.Addr)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Options{Rules: cfg, Fallback: devstack.Anonymous{},
		Retry: registry.RetryPolicy{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	r := a.Reconciler(cfg, reconcile.Options{})
	srcReq.reset()
	dstReq.reset()
	first, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Copied != repos*tags || !first.Converged() {
		t.Fatalf("first run: copied %d, failed %d", first.Copied, first.Failed)
	}
	t.Logf("first run: %d tags copied in %s; source %v; destination %v", first.Copied, first.Duration, srcReq.reset(), dstReq.reset())
	second, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, d := srcReq.reset(), dstReq.reset()
	if second.InSync != repos*tags || second.Copied != 0 {
		t.Fatalf("second run: %+v", second)
	}
	total := func(m map[string]int) (n int) {
		for _, v := range m {
			n += v
		}
		return n
	}
	t.Logf("second run: %d tags in sync in %s (%.0f tags/s); per tag %.2f source and %.2f destination requests; source %v; destination %v",
		second.InSync, second.Duration, float64(second.InSync)/second.Duration.Seconds(),
		float64(total(s))/float64(second.InSync), float64(total(d))/float64(second.InSync), s, d)
	if d[http.MethodHead+" manifests"] != repos*tags || total(d) != repos*tags {
		t.Errorf("in sync should cost one destination HEAD per tag: %v", d)
	}
}
