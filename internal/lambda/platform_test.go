package lambda_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// TestRulePlatformsCopyTheSelectionAndStayInSync drives rules with platforms between real
// registries: one platform puts that platform's manifest under the tag; two put a new index of
// exactly those (and the attestation of one of them), and the log says the source index's
// signatures do not cover it; the same event again and a reconcile find both in sync and put
// nothing; a platform the image lacks needs action, with a fix naming the platforms it has.
func TestRulePlatformsCopyTheSelectionAndStayInSync(t *testing.T) {
	t.Parallel()
	var puts atomic.Int64 // manifest PUTs the destination received
	pair := devtest.NewPair(t, devtest.Options{WrapDst: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				puts.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}})
	ctx := context.Background()
	srcRepo, err := pair.Push.Repo(pair.Src.Addr + "/app")
	if err != nil {
		t.Fatal(err)
	}
	// Three platforms, and an attestation of the first (devstack.Pusher.MultiPlatform).
	src, err := pair.Push.MultiPlatform(ctx, srcRepo, "v1", []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 1024, 21)
	if err != nil {
		t.Fatal(err)
	}
	top, err := srcRepo.Manifest(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	child := map[string]string{}
	for _, m := range top.Manifests {
		child[replicate.PlatformString(m.Platform)] = m.Digest.String()
	}

	cfg, err := rules.Load([]byte(fmt.Sprintf(`
source: {registry: "%[1]s"}
rules:
  - repositories: [app]
    platforms: [linux/arm64]
    destinations: [{registry: "%[2]s", repository: "one/{repository}"}]
  - repositories: [app]
    platforms: [linux/amd64, linux/arm/v7]
    destinations: [{registry: "%[2]s", repository: "two/{repository}"}]
  - repositories: [app]
    platforms: [linux/s390x]
    destinations: [{registry: "%[2]s", repository: "none/{repository}"}]
`, pair.Src.Addr, pair.Dst.Addr)))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	o := app.Options{Rules: cfg, Logger: log, QuietCopies: true, Fallback: devstack.Anonymous{},
		Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond, Budget: time.Second}}
	a, err := app.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler(cfg, app.HandlerOptions{})
	ev := event.Push{ID: "e1", Source: event.SourceRegistry, Registry: pair.Src.Addr, Action: event.ActionPush, Repository: "app", Tag: "v1", Digest: src.Digest.String()}
	byDst := func(outs []lambda.Outcome) map[string]lambda.Outcome {
		m := map[string]lambda.Outcome{}
		for _, o := range outs {
			m[strings.TrimPrefix(o.Dst, pair.Dst.Addr+"/")] = o
		}
		return m
	}
	dst := func(repo string) *registry.Repository {
		r, err := pair.Push.Repo(pair.Dst.Addr + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	outs, err := h.HandlePush(ctx, ev)
	got := byDst(outs)
	if err == nil || got["one/app:v1"].Outcome != lambda.OutcomeCopied || got["two/app:v1"].Outcome != lambda.OutcomeCopied {
		t.Fatalf("first event: %v, %+v; want one and two copied and none failed", err, outs)
	}
	if d, err := dst("one/app").Head(ctx, "v1"); err != nil || d.Digest.String() != child["linux/arm64"] || got["one/app:v1"].Digest != child["linux/arm64"] {
		t.Errorf("one platform: one/app:v1 = %v (%v), outcome %s; want the linux/arm64 manifest %s", d.Digest, err, got["one/app:v1"].Digest, child["linux/arm64"])
	}
	idx, err := dst("two/app").Manifest(ctx, "v1")
	if err != nil || !idx.IsIndex() || idx.Descriptor.Digest == src.Digest || got["two/app:v1"].Digest != idx.Descriptor.Digest.String() {
		t.Fatalf("two platforms: %v, %v, outcome %s; want a new index", idx, err, got["two/app:v1"].Digest)
	}
	var listed []string
	for _, m := range idx.Manifests {
		listed = append(listed, m.Digest.String())
		if _, err := dst("two/app").Head(ctx, m.Digest.String()); err != nil {
			t.Errorf("the new index lists %s, which the destination lacks: %v", m.Digest, err)
		}
	}
	// The source's order: amd64, arm/v7, then the attestation of amd64; never arm64.
	if want := []string{child["linux/amd64"], child["linux/arm/v7"], child["unknown/unknown"]}; strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Errorf("the new index lists %v, want %v", listed, want)
	}
	if !strings.Contains(logs.String(), "signatures and attestations of the source index do not apply") {
		t.Errorf("no log line says the new index carries none of the source index's signatures:\n%s", logs.String())
	}
	none := got["none/app:v1"]
	if none.Outcome != lambda.OutcomeNeedsAction || !strings.Contains(none.Fix, "linux/amd64, linux/arm64, linux/arm/v7") {
		t.Errorf("a platform the image lacks: %+v; want needs_action with a fix naming the platforms it has", none)
	}
	if _, err := dst("none/app").Head(ctx, "v1"); err == nil {
		t.Error("a platform the image lacks tagged something")
	}

	puts.Store(0)
	outs, _ = h.HandlePush(ctx, ev)
	got = byDst(outs)
	for _, d := range []string{"one/app:v1", "two/app:v1"} {
		if o := got[d]; o.Outcome != lambda.OutcomeInSync || o.Bytes != 0 {
			t.Errorf("second event, %s: %+v; want in_sync with nothing sent", d, o)
		}
	}
	// A reconcile (and its dry run, which only compares digests) finds the selections in sync.
	for _, dry := range []bool{true, false} {
		rep, err := a.Reconciler(cfg, reconcile.Options{DryRun: dry}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.InSync != 2 || rep.Copied != 0 || rep.Planned != 0 || rep.Failed != 1 || len(rep.Items) != 1 || !strings.Contains(rep.Items[0].Fix, "linux/arm/v7") {
			var b bytes.Buffer
			fmt.Fprintf(&b, "%+v", *rep)
			t.Errorf("reconcile (dry run %v): %s; want two in sync, none copied, none/app failed with a fix naming the platforms", dry, b.String())
		}
	}
	if n := puts.Load(); n != 0 {
		t.Errorf("the second event and the reconcile put %d manifests, want none", n)
	}
}

// TestGatedRuleWithPlatformsChecksTheSourceThenCopiesTheSelection: a rule with require and
// platforms checks the source image's signature (on the source index's digest), then copies
// the platform asked for from the digest it checked; an unsigned image is blocked and nothing
// is sent.
func TestGatedRuleWithPlatformsChecksTheSourceThenCopiesTheSelection(t *testing.T) {
	t.Parallel()
	e := &gateEnv{env: newEnv(t), clock: &fakeClock{t: time.Unix(1e9, 0)}}
	e.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&e.key.PublicKey)
	keyFile := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load([]byte(fmt.Sprintf(`
source: {registry: "%s", account_id: "%s", region: %s}
rules:
  - repositories: ["app"]
    tags: ["prod"]
    platforms: [linux/arm64]
    require: {signature: {keys: [%q]}}
    destinations: [{registry: "%s", account_id: "%s", region: %s}]
`, e.src.Addr, srcAccount, srcRegion, keyFile, e.dst.Addr, dstAccount, dstRegion)))
	if err != nil {
		t.Fatal(err)
	}
	e.h = newHandler(t, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), AWS: &e.awsCfg,
		Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 20 * time.Millisecond}}, app.HandlerOptions{})

	unsigned := e.image(t, "app", "prod", 31)
	o, err := e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod", Digest: unsigned.Digest.String()}))
	if err != nil || o.Outcome != lambda.OutcomeBlocked || e.dstDigest(t, "app", "prod") != "" {
		t.Fatalf("unsigned: %+v %v; want blocked and nothing in the destination", o, err)
	}
	img := e.image(t, "app", "prod", 32)
	e.sign(t, img.Digest, devstack.CosignPayload(img.Digest))
	arm := e.children(t, img.Digest)[1] // linux/amd64, linux/arm64, the attestation
	o, err = e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod", Digest: img.Digest.String()}))
	if err != nil || o.Outcome != lambda.OutcomeCopied || o.Gate == nil || o.Gate.Digest != img.Digest.String() ||
		o.Digest != arm || e.dstDigest(t, "app", "prod") != arm {
		t.Fatalf("signed: %+v %v; destination %s; want the signed index checked and its linux/arm64 manifest %s copied",
			o, err, e.dstDigest(t, "app", "prod"), arm)
	}
	o, err = e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod", Digest: img.Digest.String()}))
	if err != nil || o.Outcome != lambda.OutcomeInSync || o.Bytes != 0 {
		t.Errorf("the same event again: %+v %v; want in_sync", o, err)
	}
}
