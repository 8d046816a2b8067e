package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestCopyFromDebianDockerRegistry copies a signed multi-platform image out of Debian's
// docker-registry (distribution 2.8, its own process) into distribution v3 with the ecrsync
// binary, and checks every digest.
func TestCopyFromDebianDockerRegistry(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("docker-registry is not installed (.ci/deps.d/15-registries.sh installs it)")
		}
		t.Skip("docker-registry is not installed: apt-get install docker-registry")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n", filepath.Join(dir, "data"), addr)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve", cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Wait() })
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatal("docker-registry did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	dst, err := devstack.Start(ctx, devstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	p := devstack.NewPusher()
	repo, _ := p.Repo(addr + "/app")
	idx, err := p.MultiPlatform(ctx, repo, "prod", []string{"linux/amd64", "linux/arm64"}, 1<<20, 5)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := p.Signature(ctx, repo, idx)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEcrsync(t, nil, "copy", addr+"/app:prod", dst.Addr+"/mirror/app", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res replicate.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Digest != idx.Digest || res.Referrers == 0 {
		t.Fatalf("result %s: %v", out, err)
	}
	to, _ := p.Repo(dst.Addr + "/mirror/app")
	src, _ := p.Repo(addr + "/app")
	top, err := src.Manifest(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"prod", idx.Digest.String(), top.Manifests[0].Digest.String(), top.Manifests[1].Digest.String(), sig.Digest.String()} {
		s, serr := src.Head(ctx, ref)
		d, derr := to.Head(ctx, ref)
		if serr != nil || derr != nil || s.Digest != d.Digest {
			t.Errorf("%s: src %s %v, dst %s %v", ref, s.Digest, serr, d.Digest, derr)
		}
	}
}
