package rules_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/rules"
)

func requireDoc(require string) string {
	return "source: {registry: 127.0.0.1:5000}\nrules:\n  - repositories: [app]\n    tags: [prod]\n    require: " + require +
		"\n    destinations: [{registry: 127.0.0.1:5001}]\n"
}

func TestRequireBuildsThePolicy(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	path := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := rules.Load([]byte(requireDoc(`{signature: {keys: ["` + path + `", "awskms:///arn:aws:kms:us-east-1:111111111111:key/k1"]}, scan: {max_severity: medium, wait: 10m, required: false}}`)))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Rules[0].Policy()
	if p == nil || len(p.Keys) != 2 || p.Keys[0].Name != path || p.Keys[1].KMS == "" || p.Scan.MaxSeverity != "MEDIUM" || p.Scan.Wait != 10*time.Minute || !p.Scan.Optional {
		t.Fatalf("policy %+v (scan %+v)", p, p.Scan)
	}
	c, err = rules.Load([]byte(requireDoc(`{scan: {}}`)))
	if err != nil || c.Rules[0].Policy().Scan.MaxSeverity != "HIGH" || c.Rules[0].Policy().Scan.Optional {
		t.Fatalf("defaults: %v %+v", err, c.Rules[0].Policy())
	}
}

func TestRequireRejectsBadGates(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, require, field, says string }{
		{"unknown severity", `{scan: {max_severity: SEVERE}}`, "require.scan.max_severity", "want one of NONE"},
		{"bad wait", `{scan: {wait: forever}}`, "require.scan.wait", "duration"},
		{"too long a wait", `{scan: {wait: 1h}}`, "require.scan.wait", "15m"},
		{"missing key file", `{signature: {keys: [/nonexistent/cosign.pub]}}`, "require.signature.keys[0]", "reading /nonexistent/cosign.pub"},
		{"bad PEM", `{signature: {keys: ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]}}`, "require.signature.keys[0]", "bad public key"},
		{"no keys", `{signature: {keys: []}}`, "require.signature.keys", "at least one key"},
		{"nothing", `{}`, "require", "names no gate"},
		{"unknown field", `{signed: true}`, "require.signed", "unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rules.Load([]byte(requireDoc(tt.require)))
			var fe *rules.FieldError
			if !errors.As(err, &fe) || fe.Field != "rules[0]."+tt.field || !strings.Contains(err.Error(), tt.says) || fe.Line == 0 {
				t.Errorf("error %v, want it on rules[0].%s (with a line) saying %q", err, tt.field, tt.says)
			}
		})
	}
}

// TestAnUngatedRuleCannotBypassAGatedOne: two rules select the same destination; the copy runs
// under the rule with gates whichever comes first, so listing a broad ungated rule before a
// gated prod rule does not promote unchecked images.
func TestAnUngatedRuleCannotBypassAGatedOne(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"ungated first", "gated first"} {
		ungated := "  - repositories: ['*']\n    destinations: [{registry: 127.0.0.1:5001}]\n"
		gated := "  - repositories: [app]\n    tags: [prod]\n    require: {scan: {}}\n    destinations: [{registry: 127.0.0.1:5001}]\n"
		rs := ungated + gated
		if order == "gated first" {
			rs = gated + ungated
		}
		c, err := rules.Load([]byte("source: {registry: 127.0.0.1:5000}\nrules:\n" + rs))
		if err != nil {
			t.Fatal(err)
		}
		ts := c.Match("app", "prod")
		if len(ts) != 1 || c.Rules[ts[0].Rule].Policy() == nil {
			t.Errorf("%s: targets %+v, want one, under the gated rule", order, ts)
		}
		if ts := c.Match("app", "dev"); len(ts) != 1 || c.Rules[ts[0].Rule].Policy() != nil {
			t.Errorf("%s: app:dev targets %+v, want one under the ungated rule", order, ts)
		}
	}
}
