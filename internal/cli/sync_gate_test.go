package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// TestSyncGatesAndPrune: sync --dry-run says which tags the gates block and why, sync copies
// the signed one only; sync --prune --dry-run lists the destination tags gone from the source
// and sync --prune removes them, only for the rule with propagate_deletes, between real registries.
func TestSyncGatesAndPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pair := devtest.NewPair(t, devtest.Options{})
	src, dst, push := pair.Src.Addr, pair.Dst.Addr, pair.Push
	sr, _ := push.Repo(src + "/app")
	dr, _ := push.Repo(dst + "/app")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	img := func(r *registry.Repository, tag string, seed uint64) {
		t.Helper()
		d, err := push.Image(ctx, r, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(256, seed)}})
		if err != nil {
			t.Fatal(err)
		}
		if tag == "prod" {
			if err := push.CosignSign(ctx, r, d.Digest, devstack.CosignPayload(d.Digest), key); err != nil {
				t.Fatal(err)
			}
		}
	}
	img(sr, "prod", 1)
	img(sr, "prod-unsigned", 2)
	img(sr, "dev", 3)
	img(dr, "dev-old", 4)  // gone from the source
	img(dr, "keep-old", 5) // not selected by the propagate_deletes rule
	cfg := filepath.Join(t.TempDir(), "ecrsync.yaml")
	doc := fmt.Sprintf(`source: {registry: %q}
rules:
  - repositories: [app]
    tags: ["prod*"]
    require: {signature: {keys: [%q]}}
    destinations: [{registry: %q}]
  - repositories: [app]
    tags: ["dev*"]
    propagate_deletes: true
    destinations: [{registry: %q}]
`, src, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), dst, dst)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"sync", "--config", cfg, "--log-level", "warn"}, args...), nil, &out, &errb)
		return code, out.String() + errb.String()
	}
	code, out := run("--dry-run", "--prune")
	for _, want := range []string{"blocked    " + src + "/app:prod-unsigned", "not signed", "would_copy " + src + "/app:prod ",
		"would_delete " + src + "/app:dev-old -> " + dst + "/app:dev-old", "1 blocked", "1 pruned"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run: no %q in\n%s", want, out)
		}
	}
	if code != ExitPending || strings.Contains(out, "keep-old") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
	if _, err := dr.Head(ctx, "dev-old"); err != nil {
		t.Fatalf("the dry run deleted dev-old: %v", err)
	}
	if code, out = run("--prune"); code != ExitOK {
		t.Fatalf("sync --prune: exit %d\n%s", code, out)
	}
	for tag, want := range map[string]bool{"prod": true, "prod-unsigned": false, "dev": true, "dev-old": false, "keep-old": true} {
		_, err := dr.Head(ctx, tag)
		if got := err == nil; got != want || err != nil && !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("destination tag %s present = %v (%v), want %v", tag, got, err, want)
		}
	}
}
