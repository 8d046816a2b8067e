package lambda_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
)

// TestBurstOfPushesConverges is a CI release as ECR sees it: 300 images (100 repositories × 3
// tags, single-platform) pushed at once, their events delivered as EventBridge delivers them —
// unordered, to many Lambda execution environments at once — against a destination whose
// PutImage quota is 10 TPS account-wide (and InitiateLayerUpload 100 TPS), enforced by the ECR
// stand-in across every process. Each environment is its own app.New (its own client, keychain
// and adaptive pacer: nothing is shared but the registries), serving 5 invocations at a time,
// each with a 60 s deadline. No invocation may fail (nothing would reach the failure queue),
// and every destination tag must end complete at its source's digest.
//
// The quota sets the pace: 300 PutImages take at least 30 s. -short shrinks it to 10
// repositories (30 events).
func TestBurstOfPushesConverges(t *testing.T) {
	t.Parallel()
	repos, tags := 100, []string{"v1", "v2", "latest"}
	const envs, perEnv = 10, 5
	if testing.Short() {
		repos = 10
	}
	names := make([]string, repos)
	for i := range names {
		names[i] = fmt.Sprintf("svc/app-%03d", i)
	}
	p := newLTPair(t, 0, names...)
	p.dstECR.SetLimits(ecrstandin.Limits{PutImage: 10, InitiateLayerUpload: 100})
	ctx := context.Background()

	// The release: every image shares a base layer and has one of its own.
	base := devstack.RandomBytes(64<<10, 1)
	type push struct {
		repo, tag string
		d         digest.Digest
	}
	var pushes []push
	for i, repo := range names {
		r, err := p.push.Repo(p.src.Addr + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		for j, tag := range tags {
			d, err := p.push.Image(ctx, r, tag, devstack.ImageSpec{Layers: [][]byte{base, devstack.RandomBytes(4<<10, uint64(10*i+j+2))}})
			if err != nil {
				t.Fatal(err)
			}
			pushes = append(pushes, push{repo, tag, d.Digest})
		}
	}
	rng := rand.New(rand.NewPCG(15, 15))
	rng.Shuffle(len(pushes), func(i, j int) { pushes[i], pushes[j] = pushes[j], pushes[i] })

	// The fleet: envs execution environments, perEnv invocations at a time each.
	events := make(chan int)
	var failed []string
	var mu sync.Mutex
	var longest atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range envs {
		o := app.Options{AWS: &p.aws, Fallback: devstack.Anonymous{}, Logger: slog.New(slog.DiscardHandler)}
		h := newHandler(t, p.config(t), o, app.HandlerOptions{})
		for range perEnv {
			wg.Go(func() {
				for i := range events {
					ev := pushes[i]
					ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
					began := time.Now()
					_, err := h.Handle(ictx, ltPushEvent(fmt.Sprintf("ev-%d", i), ev.repo, ev.tag, ev.d))
					cancel()
					for took := time.Since(began).Milliseconds(); ; {
						if old := longest.Load(); took <= old || longest.CompareAndSwap(old, took) {
							break
						}
					}
					if err != nil {
						mu.Lock()
						failed = append(failed, fmt.Sprintf("%s:%s: %v", ev.repo, ev.tag, err))
						mu.Unlock()
					}
				}
			})
		}
	}
	for i := range pushes {
		events <- i
	}
	close(events)
	wg.Wait()
	converged := time.Since(start)
	if len(failed) > 0 {
		t.Errorf("%d of %d invocations failed (they would go to the failure queue); first: %s", len(failed), len(pushes), failed[0])
	}
	var behind []string
	for _, ev := range pushes {
		want := ltTagAt(t, p.src.Addr, ev.repo, ev.tag)
		if got := ltTagAt(t, p.dst.Addr, ev.repo, ev.tag); got != want { // complete, or no tag
			behind = append(behind, fmt.Sprintf("%s:%s at %q", ev.repo, ev.tag, got))
		}
	}
	if len(behind) > 0 {
		t.Errorf("%d destination tags not at the source's digest: %s", len(behind), strings.Join(behind[:min(5, len(behind))], ", "))
	}

	puts := p.dstECR.PutImages()
	rate, peak := putRates(puts)
	t.Logf("%d events, %d environments × %d invocations: converged in %s (longest invocation %s); "+
		"429s: %d PutImage, %d InitiateLayerUpload; %d PutImages at %.1f/s on average, at most %d in any second (quota 10)",
		len(pushes), envs, perEnv, converged.Round(100*time.Millisecond), (time.Duration(longest.Load()) * time.Millisecond).Round(100*time.Millisecond),
		p.dstECR.Refused("PutImage"), p.dstECR.Refused("InitiateLayerUpload"), len(puts), rate, peak)
}

// putRates returns the average rate of the PutImages let through (over the span from the first
// to the last) and the most in any one-second window.
func putRates(ts []time.Time) (avg float64, peak int) {
	if len(ts) < 2 {
		return 0, len(ts)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	j := 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return float64(len(ts)-1) / ts[len(ts)-1].Sub(ts[0]).Seconds(), peak
}
