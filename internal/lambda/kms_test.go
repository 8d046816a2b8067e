package lambda_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// A rule whose signature key is a KMS key (awskms:///ARN): the handler reads its public half
// with kms:GetPublicKey (the KMS stand-in, through the composition root's one key source), once
// per process, and verifies a signature made with the private half. A key KMS will not give
// (key policy, disabled, missing) blocks with a reason naming the key and what to grant.
func TestKMSSignatureKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const (
		good     = "arn:aws:kms:us-east-1:" + srcAccount + ":key/1111aaaa-0000-4000-8000-000000000001"
		denied   = "arn:aws:kms:us-east-1:" + srcAccount + ":key/2222bbbb-0000-4000-8000-000000000002"
		disabled = "arn:aws:kms:us-east-1:" + srcAccount + ":key/3333cccc-0000-4000-8000-000000000003"
		missing  = "arn:aws:kms:us-east-1:" + srcAccount + ":key/4444dddd-0000-4000-8000-000000000004"
	)
	e.api.PutKMSKey(good, ecrstandin.KMSKey{Public: &priv.PublicKey, KeySpec: "ECC_NIST_P256"})
	e.api.PutKMSKey(denied, ecrstandin.KMSKey{Public: &priv.PublicKey, KeySpec: "ECC_NIST_P256", PolicyDenies: true})
	e.api.PutKMSKey(disabled, ecrstandin.KMSKey{Public: &priv.PublicKey, KeySpec: "ECC_NIST_P256", State: "Disabled"})
	rule := func(tag, key string) string {
		return fmt.Sprintf(`
  - repositories: ["app"]
    tags: [%q]
    require: {signature: {keys: ["awskms:///%s"]}}
    destinations: [{registry: "%s", account_id: "%s", region: %s}]`, tag, key, e.dst.Addr, dstAccount, dstRegion)
	}
	cfg, err := rules.Load([]byte(fmt.Sprintf("source: {registry: %q, account_id: %q, region: %s}\nrules:%s%s%s%s\n",
		e.src.Addr, srcAccount, srcRegion, rule("prod", good), rule("denied", denied), rule("disabled", disabled), rule("missing", missing))))
	if err != nil {
		t.Fatal(err)
	}
	e.h = newHandler(t, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), AWS: &e.awsCfg,
		Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 20 * time.Millisecond}}, app.HandlerOptions{})
	sign := func(tag string, seed uint64) string {
		img := e.image(t, "app", tag, seed)
		r, _ := e.push.Repo(e.src.Addr + "/app")
		if err := e.push.CosignSign(t.Context(), r, img.Digest, devstack.CosignPayload(img.Digest), priv); err != nil {
			t.Fatal(err)
		}
		return img.Digest.String()
	}
	handle := func(tag string) lambda.Outcome {
		t.Helper()
		res, err := e.h.Handle(t.Context(), pushEvent(t, event.Push{Repository: "app", Tag: tag}))
		outs := outcomes(t, res)
		if len(outs) != 1 {
			t.Fatalf("%s: %d outcomes %+v (%v)", tag, len(outs), outs, err)
		}
		if outs[0].Outcome == lambda.OutcomeBlocked && err != nil {
			t.Errorf("%s: blocked is an outcome, not an error: %v", tag, err)
		}
		return outs[0]
	}

	d := sign("prod", 1)
	if o := handle("prod"); o.Outcome != lambda.OutcomeCopied || o.Gate == nil || o.Gate.SignedBy != good || e.dstDigest(t, "app", "prod") != d {
		t.Fatalf("signed with the KMS key's private half: %+v", o)
	}
	d2 := sign("prod", 2)
	if o := handle("prod"); o.Outcome != lambda.OutcomeCopied || e.dstDigest(t, "app", "prod") != d2 {
		t.Fatalf("second image: %+v", o)
	}
	if n := e.api.Calls("GetPublicKey"); n != 1 {
		t.Errorf("kms:GetPublicKey called %d times for one key over two events, want 1 (cached per process)", n)
	}

	for _, c := range []struct{ tag, key, want string }{
		{"denied", denied, "key policy"},
		{"disabled", disabled, "DisabledException"},
		{"missing", missing, "NotFoundException"},
	} {
		sign(c.tag, 3)
		o := handle(c.tag)
		if o.Outcome != lambda.OutcomeBlocked || !strings.Contains(o.Reason, c.key) || !strings.Contains(o.Reason, "kms:GetPublicKey") || !strings.Contains(o.Reason, c.want) {
			t.Errorf("%s: %s %q; want blocked with a reason naming the key, kms:GetPublicKey and %q", c.tag, o.Outcome, o.Reason, c.want)
		}
		if e.dstDigest(t, "app", c.tag) != "" {
			t.Errorf("%s: reached the destination", c.tag)
		}
	}
}
