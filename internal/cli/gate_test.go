package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/cli"
	"github.com/ecrsync/ecrsync/internal/devstack"
)

func TestCopyGates(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	ctx := context.Background()
	p := devstack.NewPusher()
	repo, _ := p.Repo(src.Addr + "/app")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	signed, err := p.MultiPlatform(ctx, repo, "signed", []string{"linux/amd64"}, 512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CosignSign(ctx, repo, signed.Digest, devstack.CosignPayload(signed.Digest), key); err != nil {
		t.Fatal(err)
	}
	if _, err := p.MultiPlatform(ctx, repo, "unsigned", []string{"linux/amd64"}, 512, 2); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := run("copy", "--require-signature", pub, src.Addr+"/app:unsigned", dst.Addr+"/app")
	if code != cli.ExitBlocked || !strings.Contains(stderr, "not signed") {
		t.Errorf("unsigned: exit %d, %s; want %d, not signed", code, stderr, cli.ExitBlocked)
	}
	code, stdout, stderr := run("copy", "--require-signature", pub, src.Addr+"/app:signed", dst.Addr+"/app")
	if code != 0 || !strings.Contains(stdout, signed.Digest.String()) {
		t.Errorf("signed: exit %d, %s %s", code, stdout, stderr)
	}
	code, _, stderr = run("copy", "--max-severity", "HIGH", src.Addr+"/app:signed", dst.Addr+"/app:scanned")
	if code != cli.ExitBlocked || !strings.Contains(stderr, "no scan") {
		t.Errorf("no scan API: exit %d, %s", code, stderr)
	}
	if code, _, stderr = run("copy", "--max-severity", "HIGH", "--scan-optional", src.Addr+"/app:signed", dst.Addr+"/app:scanned"); code != 0 {
		t.Errorf("--scan-optional: exit %d, %s", code, stderr)
	}
	if code, _, stderr = run("copy", "--require-signature", "/nonexistent.pub", src.Addr+"/app:signed", dst.Addr+"/app"); code != cli.ExitUsage || !strings.Contains(stderr, "/nonexistent.pub") {
		t.Errorf("missing key file: exit %d, %s", code, stderr)
	}
	if code, _, _ = run("copy", "--max-severity", "SEVERE", src.Addr+"/app:signed", dst.Addr+"/app"); code != cli.ExitUsage {
		t.Errorf("unknown severity: exit %d", code)
	}
	r, _ := p.Repo(dst.Addr + "/app")
	if _, err := r.Head(ctx, "unsigned"); err == nil {
		t.Error("the blocked image reached the destination")
	}
}
