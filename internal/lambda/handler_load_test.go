package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/faults"
	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/fault"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

const (
	ltSrcAccount, ltSrcRegion = "111111111111", "us-east-1"
	ltDstAccount, ltDstRegion = "222222222222", "eu-west-1"
	ltFixtureHeader           = "X-Ecrsync-Fixture" // lets fixtures and checks past the ECR stand-in
)

// ltPair is a source and a destination registry behind the ECR stand-in: Basic auth with
// tokens from GetAuthorizationToken that expire, missing repositories answering NAME_UNKNOWN.
type ltPair struct {
	std      *ecrstandin.Server
	src, dst *devstack.Registry
	srcECR   *ecrstandin.Registry
	dstECR   *ecrstandin.Registry
	push     *devstack.Pusher
	aws      aws.Config
	// onDst, if set, sees every destination request that went through the stand-in.
	onDst atomic.Pointer[func(*http.Request)]
}

// ltFixtureTransport marks the fixture builder's requests, which skip the stand-in.
type ltFixtureTransport struct{}

func (ltFixtureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(ltFixtureHeader, "1")
	return http.DefaultTransport.RoundTrip(r)
}

func ltBypass(ecrWrapped, real http.Handler, hook func(*http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(ltFixtureHeader) != "" {
			real.ServeHTTP(w, r)
			return
		}
		if hook != nil {
			hook(r)
		}
		ecrWrapped.ServeHTTP(w, r)
	})
}

// newLTPair starts the pair; a non-zero slow delays a fifth of the destination's requests by
// up to that much (seeded), so that copies finish in another order than they started.
func newLTPair(t *testing.T, slow time.Duration, repos ...string) *ltPair {
	t.Helper()
	ctx := context.Background()
	p := &ltPair{std: ecrstandin.New()}
	t.Cleanup(p.std.Close)
	p.srcECR = p.std.Registry(ltSrcAccount, ltSrcRegion)
	p.dstECR = p.std.Registry(ltDstAccount, ltDstRegion)
	for _, r := range repos {
		p.srcECR.CreateRepository(r, false)
		p.dstECR.CreateRepository(r, false)
	}
	var err error
	p.src, err = devstack.Start(ctx, devstack.Options{Wrap: func(h http.Handler) http.Handler {
		return ltBypass(p.srcECR.Wrap(h), h, nil)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.src.Close() })
	p.dst, err = devstack.Start(ctx, devstack.Options{Wrap: func(h http.Handler) http.Handler {
		inner := h
		if slow > 0 {
			inner = fault.Wrap(h, fault.Config{Seed: 7, Rate: 0.2, Kinds: []fault.Kind{fault.Latency}, Delay: slow})
		}
		return ltBypass(p.dstECR.Wrap(inner), h, func(r *http.Request) {
			if f := p.onDst.Load(); f != nil {
				(*f)(r)
			}
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.dst.Close() })
	p.push = &devstack.Pusher{C: registry.New(registry.Options{Keychain: devstack.Anonymous{}, Transport: ltFixtureTransport{}})}
	p.aws = aws.Config{Region: ltSrcRegion, BaseEndpoint: aws.String(p.std.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFAULTS", "faults-secret", "")}
	return p
}

func (p *ltPair) config(t *testing.T) *rules.Config {
	t.Helper()
	doc := fmt.Sprintf(`
source: {registry: %q, account_id: %q, region: %q}
rules:
  - repositories: ["**"]
    destinations:
      - {registry: %q, account_id: %q, region: %q}
`, p.src.Addr, ltSrcAccount, ltSrcRegion, p.dst.Addr, ltDstAccount, ltDstRegion)
	cfg, err := rules.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (p *ltPair) handler(t *testing.T) *lambda.Handler {
	t.Helper()
	return newHandler(t, p.config(t), app.Options{AWS: &p.aws,
		Fallback: devstack.Anonymous{}, Retry: registry.RetryPolicy{Base: 5 * time.Millisecond, Max: 200 * time.Millisecond}}, app.HandlerOptions{})
}

// ltPushEvent is the EventBridge event ECR sends for a push to the source.
func ltPushEvent(id, repo, tag string, d digest.Digest) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"ECR Image Action","source":"aws.ecr",`+
		`"account":%q,"time":"2026-01-01T00:00:00Z","region":%q,"resources":[],"detail":{"result":"SUCCESS",`+
		`"repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":%q}}`, id, ltSrcAccount, ltSrcRegion, repo, d, tag))
}

// ltTagAt returns the digest repo:tag points at ("" if none), after checking with raw HTTP that
// whatever it points at is complete: every child manifest and blob, with the bytes its digest names.
func ltTagAt(t *testing.T, host, repo, tag string) string {
	t.Helper()
	d, err := faults.CheckWith(context.Background(), &http.Client{Transport: ltFixtureTransport{}}, host, repo, tag)
	if err != nil {
		t.Fatalf("%s/%s:%s: %v", host, repo, tag, err)
	}
	return d
}

// TestHandlersUnderLoad runs 50 handlers at once, as 50 Lambda instances would, on overlapping
// images and tags while the source tags keep moving: pushes land while earlier pushes' events
// are still being handled, every event is delivered twice, and some arrive late. When all are
// done, every destination tag must be complete and at the digest the source tag points at.
func TestHandlersUnderLoad(t *testing.T) {
	t.Parallel()
	repos := []string{"app", "team/api", "team/web"}
	tags := []string{"latest", "v1"}
	p := newLTPair(t, 300*time.Millisecond, repos...)
	ctx := context.Background()
	base := devstack.RandomBytes(96<<10, 1) // one layer in every image: uploads of it overlap

	type push struct {
		repo, tag string
		d         digest.Digest
	}
	var (
		mu     sync.Mutex
		pushes []push
	)
	events := make(chan push, 64)
	var wg sync.WaitGroup
	var invocations, failures atomic.Int32
	const handlers = 50
	// 50 invocations: each push's event twice (EventBridge delivers at least once) and late
	// replays of the first pushes; each invocation is its own Lambda instance with its own
	// client and token cache.
	for i := range handlers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := <-events
			h := p.handler(t)
			_, err := h.Handle(ctx, ltPushEvent(fmt.Sprintf("ev-%d", i), ev.repo, ev.tag, ev.d))
			invocations.Add(1)
			if err != nil {
				// A failed invocation is retried by Lambda; do that here once, as it would.
				failures.Add(1)
				if _, err := p.handler(t).Handle(ctx, ltPushEvent(fmt.Sprintf("ev-%d-retry", i), ev.repo, ev.tag, ev.d)); err != nil {
					t.Errorf("event %d (%s:%s@%s) failed twice: %v", i, ev.repo, ev.tag, ev.d, err)
				}
			}
		}()
	}
	sent := 0
	send := func(ev push) {
		if sent < handlers {
			events <- ev
			sent++
		}
	}
	for round := range 4 {
		for ri, repo := range repos {
			r, err := p.push.Repo(p.src.Addr + "/" + repo)
			if err != nil {
				t.Fatal(err)
			}
			for ti, tag := range tags {
				if sent >= handlers {
					break
				}
				own := devstack.RandomBytes(32<<10, uint64(1000*round+10*ri+ti+2))
				d, err := p.push.Image(ctx, r, tag, devstack.ImageSpec{Layers: [][]byte{base, own}})
				if err != nil {
					t.Fatal(err)
				}
				ev := push{repo, tag, d.Digest}
				mu.Lock()
				pushes = append(pushes, ev)
				mu.Unlock()
				send(ev)
				send(ev)
			}
		}
	}
	for _, ev := range pushes { // late, out of order: the oldest events again
		send(ev)
	}
	wg.Wait()
	if invocations.Load() != handlers {
		t.Fatalf("%d invocations, want %d", invocations.Load(), handlers)
	}
	var stale []string
	for _, repo := range repos {
		for _, tag := range tags {
			want := ltTagAt(t, p.src.Addr, repo, tag)
			got := ltTagAt(t, p.dst.Addr, repo, tag) // whatever a tag points at is complete, always
			if got != want {
				stale = append(stale, fmt.Sprintf("%s:%s at %.19s, source at %.19s", repo, tag, got, want))
			}
		}
	}
	if len(stale) > 0 {
		// Was a bug found here: a handler that started before the last push could put the older
		// digest last. Handlers now look again after a copy that put something.
		t.Errorf("%d destination tags left behind the source by copies finishing out of order: %v", len(stale), stale)
	}
	// One more event per tag, as a late delivery or the periodic reconcile brings: now every
	// destination tag must be at the source's digest, complete.
	for _, repo := range repos {
		for _, tag := range tags {
			want := ltTagAt(t, p.src.Addr, repo, tag)
			if _, err := p.handler(t).Handle(ctx, ltPushEvent("ev-final", repo, tag, digest.Digest(want))); err != nil {
				t.Fatalf("%s:%s: %v", repo, tag, err)
			}
			if got := ltTagAt(t, p.dst.Addr, repo, tag); got != want {
				t.Fatalf("%s:%s: destination at %q, source at %s", repo, tag, got, want)
			}
		}
	}
	t.Logf("%d invocations, %d failed once and were retried, %d pushes, %d tokens issued, %d throttled",
		invocations.Load(), failures.Load(), len(pushes), p.std.Calls("GetAuthorizationToken"), p.dstECR.Throttled())
}

// TestTokenExpiresMidCopy expires every ECR token while a copy is uploading blobs, at a
// different upload for each seed: the handler must drop its cached token, log in again and
// finish with the exact image.
func TestTokenExpiresMidCopy(t *testing.T) {
	t.Parallel()
	seeds := 20
	if testing.Short() {
		seeds = 3
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			p := newLTPair(t, 0, "app")
			ctx := context.Background()
			r, err := p.push.Repo(p.src.Addr + "/app")
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.push.MultiPlatform(ctx, r, "v1", []string{"linux/amd64", "linux/arm64"}, 64<<10, uint64(seed))
			if err != nil {
				t.Fatal(err)
			}
			var n atomic.Int32
			at := int32(seed%7) + 1 // expire on the at-th request to the destination
			hook := func(r *http.Request) {
				if n.Add(1) == at {
					p.std.ExpireTokens()
				}
			}
			p.onDst.Store(&hook)
			h := p.handler(t)
			if _, err := h.Handle(ctx, ltPushEvent("ev", "app", "v1", d.Digest)); err != nil {
				t.Fatalf("seed %d (tokens expired at destination request %d): %v", seed, at, err)
			}
			if got := ltTagAt(t, p.dst.Addr, "app", "v1"); got != d.Digest.String() {
				t.Fatalf("destination at %q, want %s", got, d.Digest)
			}
			if c := p.std.Calls("GetAuthorizationToken"); c < 3 {
				t.Fatalf("%d GetAuthorizationToken calls: the expired token was never replaced", c)
			}
			t.Logf("seed %d: tokens expired at destination request %d; %d logins", seed, at, p.std.Calls("GetAuthorizationToken"))
		})
	}
}
