package lambda_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// gateEnv is env with a prod rule gated on a signature by key and a clean scan, and a rule with
// propagate_deletes for dev*.
type gateEnv struct {
	*env
	key   *ecdsa.PrivateKey
	clock *fakeClock
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) bool {
	c.t = c.t.Add(d)
	return true
}

func newGateEnv(t *testing.T) *gateEnv {
	t.Helper()
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
    require:
      signature: {keys: [%q]}
      scan: {max_severity: HIGH, wait: 2m}
    destinations:
      - {registry: "%s", account_id: "%s", region: %s}
  - repositories: ["app"]
    tags: ["dev*"]
    propagate_deletes: true
    destinations:
      - {registry: "%s", account_id: "%s", region: %s}
`, e.src.Addr, srcAccount, srcRegion, keyFile, e.dst.Addr, dstAccount, dstRegion, e.dst.Addr, dstAccount, dstRegion)))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.h = newHandler(t, cfg, app.Options{Logger: log, AWS: &e.awsCfg,
		Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 20 * time.Millisecond}}, app.HandlerOptions{Metrics: true})
	e.h.Gate.Now, e.h.Gate.Sleep = e.clock.Now, e.clock.Sleep
	return e
}

// children are the platform manifests of the index d in the source: what ECR scans.
func (e *gateEnv) children(t *testing.T, d digest.Digest) []string {
	t.Helper()
	r, _ := e.push.Repo(e.src.Addr + "/app")
	m, err := r.Manifest(context.Background(), d.String())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range m.Manifests {
		out = append(out, c.Digest.String())
	}
	return out
}

func (e *gateEnv) sign(t *testing.T, d digest.Digest, payload []byte) {
	t.Helper()
	r, _ := e.push.Repo(e.src.Addr + "/app")
	if err := e.push.CosignSign(context.Background(), r, d, payload, e.key); err != nil {
		t.Fatal(err)
	}
}

func (e *gateEnv) scan(d string, scans ...ecrstandin.Scan) { e.srcECR.SetScans("app", d, scans...) }

func (e *gateEnv) handle(t *testing.T, payload []byte) (lambda.Outcome, error) {
	t.Helper()
	res, err := e.h.Handle(context.Background(), payload)
	outs := outcomes(t, res)
	if len(outs) != 1 {
		t.Fatalf("%d outcomes: %+v", len(outs), outs)
	}
	return outs[0], err
}

func TestGatedPromotion(t *testing.T) {
	t.Parallel()
	e := newGateEnv(t)
	clean := ecrstandin.Scan{Status: "COMPLETE", Findings: []ecrstandin.ScanFinding{{ID: "CVE-2024-1111", Severity: "HIGH"}}}
	critical := ecrstandin.Scan{Status: "COMPLETE", Enhanced: true, Findings: []ecrstandin.ScanFinding{
		{ID: "CVE-2024-2222", Severity: "CRITICAL"}, {ID: "CVE-2024-3333", Severity: "CRITICAL"}, {ID: "CVE-2024-4444", Severity: "MEDIUM"}}}

	// Signed, every child scanned clean: promoted.
	img := e.image(t, "app", "prod", 1)
	e.sign(t, img.Digest, devstack.CosignPayload(img.Digest))
	for _, c := range e.children(t, img.Digest) {
		e.scan(c, clean)
	}
	o, err := e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod", Digest: img.Digest.String()}))
	if err != nil || o.Outcome != lambda.OutcomeCopied || e.dstDigest(t, "app", "prod") != img.Digest.String() {
		t.Fatalf("signed and clean: %+v %v", o, err)
	}
	if o.Gate == nil || o.Gate.SignedBy == "" || len(o.Gate.Scans) != 2 {
		t.Errorf("gate verdict %+v: want signer and two children's scans", o.Gate)
	}

	// Unsigned: blocked, not an error, destination unchanged.
	unsigned := e.image(t, "app", "prod", 2)
	o, err = e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod", Digest: unsigned.Digest.String()}))
	if err != nil || o.Outcome != lambda.OutcomeBlocked || !strings.Contains(o.Reason, "not signed") {
		t.Fatalf("unsigned: %+v %v", o, err)
	}
	if got := e.dstDigest(t, "app", "prod"); got != img.Digest.String() {
		t.Errorf("blocked image reached the destination: %s", got)
	}

	// A trusted key's signature of the promoted image, put on another: blocked.
	e.sign(t, unsigned.Digest, devstack.CosignPayload(img.Digest))
	o, _ = e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod"}))
	if o.Outcome != lambda.OutcomeBlocked || !strings.Contains(o.Reason, "it signs "+img.Digest.String()) {
		t.Fatalf("signature of another digest: %+v", o)
	}

	// Signed, one child CRITICAL (enhanced findings): blocked with counts and CVE IDs.
	bad := e.image(t, "app", "prod", 3)
	e.sign(t, bad.Digest, devstack.CosignPayload(bad.Digest))
	kids := e.children(t, bad.Digest)
	e.scan(kids[0], clean)
	e.scan(kids[1], critical)
	o, _ = e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod"}))
	if o.Outcome != lambda.OutcomeBlocked || !strings.Contains(o.Reason, kids[1]+" has findings above HIGH: 2 CRITICAL (CVE-2024-2222 CRITICAL, CVE-2024-3333 CRITICAL)") {
		t.Fatalf("critical: %+v", o)
	}
	// The log line is the security reviewer's record, with the EMF metric's Outcome dimension.
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if strings.Contains(l, `"outcome":"blocked"`) && strings.Contains(l, "CVE-2024-2222") {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line == nil || line["Outcome"] != "blocked" || line["Syncs"] != float64(1) || line["gate"] == nil {
		t.Errorf("blocked log line %v: want EMF Outcome=blocked, Syncs=1, gate", line)
	}

	// Signed, scan in progress past the wait: held; the scan-complete event releases it.
	held := e.image(t, "app", "prod", 4)
	e.sign(t, held.Digest, devstack.CosignPayload(held.Digest))
	kids = e.children(t, held.Digest)
	e.scan(kids[0], clean)
	e.scan(kids[1], ecrstandin.Scan{Status: "IN_PROGRESS"})
	before := e.clock.t
	o, _ = e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod"}))
	if o.Outcome != lambda.OutcomeBlocked || !o.Gate.Pending || !strings.Contains(o.Reason, "IN_PROGRESS") {
		t.Fatalf("pending: %+v", o)
	}
	if waited := e.clock.t.Sub(before); waited != 2*time.Minute {
		t.Errorf("waited %s on the injected clock, want the rule's 2m", waited)
	}
	e.scan(kids[1], clean)
	scanEvent := fmt.Sprintf(`{"version":"0","id":"scan-1","detail-type":"ECR Image Scan","source":"aws.ecr","account":"%s","time":"2026-01-01T00:00:00Z","region":"%s","resources":[],"detail":{"scan-status":"COMPLETE","repository-name":"app","finding-severity-counts":{"HIGH":1},"image-digest":"%s","image-tags":[]}}`,
		srcAccount, srcRegion, kids[1])
	o, err = e.handle(t, []byte(scanEvent))
	if err != nil || o.Outcome != lambda.OutcomeCopied || e.dstDigest(t, "app", "prod") != held.Digest.String() {
		t.Fatalf("scan event: %+v %v; destination %s, want %s", o, err, e.dstDigest(t, "app", "prod"), held.Digest)
	}
}

func TestDeletesFollowOnlyWhereAsked(t *testing.T) {
	t.Parallel()
	e := newGateEnv(t)
	ctx := context.Background()
	img := e.image(t, "app", "dev", 5)
	e.image(t, "app", "dev-keep", 5) // the same image under a second tag
	for _, tag := range []string{"dev", "dev-keep"} {
		if _, err := e.h.Handle(ctx, pushEvent(t, event.Push{Repository: "app", Tag: tag})); err != nil {
			t.Fatal(err)
		}
	}
	del := pushEvent(t, event.Push{Repository: "app", Tag: "dev", Digest: img.Digest.String(), Action: event.ActionDelete, Result: "SUCCESS"})
	// The source still has the tag (the event is older than a new push): nothing is deleted.
	o, err := e.handle(t, del)
	if err != nil || o.Outcome != lambda.OutcomeSkipped || e.dstDigest(t, "app", "dev") == "" {
		t.Fatalf("delete while the source has the tag: %+v %v", o, err)
	}
	src, _ := e.push.Repo(e.src.Addr + "/app")
	if err := src.DeleteTag(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	o, err = e.handle(t, del)
	if err != nil || o.Outcome != lambda.OutcomeDeleted {
		t.Fatalf("delete: %+v %v", o, err)
	}
	if got := e.dstDigest(t, "app", "dev"); got != "" {
		t.Errorf("destination tag dev still points at %s", got)
	}
	if got := e.dstDigest(t, "app", "dev-keep"); got != img.Digest.String() {
		t.Errorf("dev-keep (same digest) = %q, want %s", got, img.Digest)
	}
	o, err = e.handle(t, del)
	if err != nil || o.Outcome != lambda.OutcomeInSync {
		t.Errorf("the same delete again: %+v %v", o, err)
	}
	// prod has no propagate_deletes: its delete is skipped as before.
	o, _ = e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod", Digest: img.Digest.String(), Action: event.ActionDelete, Result: "SUCCESS"}))
	if o.Outcome != lambda.OutcomeSkipped || !strings.Contains(o.Reason, "delete sync is not enabled") {
		t.Errorf("delete without propagate_deletes: %+v", o)
	}
}

// A gate whose scan findings cannot be read because the role lacks
// ecr:DescribeImageScanFindings is someone's to fix: needs_action naming the grant, not a retry
// (an unknown error used to be classified transient, so the event went round again for nothing).
func TestGateScanDeniedNeedsActionNotRetry(t *testing.T) {
	t.Parallel()
	e := newGateEnv(t)
	e.api.AddCredentials("AKIDSTANDIN", srcAccount)
	e.api.Deny(srcAccount, "ecr:DescribeImageScanFindings")
	img := e.image(t, "app", "prod", 1)
	e.sign(t, img.Digest, devstack.CosignPayload(img.Digest))
	o, err := e.handle(t, pushEvent(t, event.Push{Repository: "app", Tag: "prod", Digest: img.Digest.String()}))
	var se *lambda.SyncError
	if !errors.As(err, &se) || se.Retryable || o.Outcome != lambda.OutcomeNeedsAction {
		t.Fatalf("scan read denied: outcome %q, err %v; want needs_action and a SyncError that is not retryable", o.Outcome, err)
	}
	if !strings.Contains(o.Reason, "ecr:DescribeImageScanFindings") || !strings.Contains(o.Reason+o.Fix, "allow") {
		t.Errorf("reason %q fix %q: want the denied action and the grant", o.Reason, o.Fix)
	}
	if e.dstDigest(t, "app", "prod") != "" {
		t.Errorf("an image whose scan could not be read reached the destination")
	}
}
