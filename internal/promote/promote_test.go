package promote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/promote"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// fixture is a real registry with images in app.
type fixture struct {
	reg  *devstack.Registry
	push *devstack.Pusher
	repo *registry.Repository
	name name.Repository
	c    *promote.Checker
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg := devtest.Start(t, nil)
	push := devstack.NewPusher()
	repo, err := push.Repo(reg.Addr + "/app")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := name.NewRepository(reg.Addr+"/app", name.StrictValidation)
	return &fixture{reg: reg, push: push, repo: repo, name: n, c: &promote.Checker{Client: push.C}}
}

func (f *fixture) image(t *testing.T, tag string, seed uint64) ocispec.Descriptor {
	t.Helper()
	d, err := f.push.Image(context.Background(), f.repo, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(512, seed)}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) sign(t *testing.T, subject digest.Digest, payload []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	if err := f.push.CosignSign(context.Background(), f.repo, subject, payload, key); err != nil {
		t.Fatal(err)
	}
}

func payloadFor(d digest.Digest) []byte { return devstack.CosignPayload(d) }

func keyOf(t *testing.T, k *ecdsa.PrivateKey, name string) gate.Key {
	t.Helper()
	return gate.Key{Name: name, Public: &k.PublicKey}
}

func TestSignatureGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	trusted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed := f.image(t, "signed", 1)
	f.sign(t, signed.Digest, payloadFor(signed.Digest), trusted)
	f.image(t, "unsigned", 2)
	byStranger := f.image(t, "stranger", 3)
	f.sign(t, byStranger.Digest, payloadFor(byStranger.Digest), stranger)
	// A trusted key's signature of another image, stored as this image's signature: the payload
	// names the other digest.
	crafted := f.image(t, "crafted", 4)
	f.sign(t, crafted.Digest, payloadFor(signed.Digest), trusted)

	p := &gate.Policy{Keys: []gate.Key{keyOf(t, trusted, "cosign.pub")}}
	for _, c := range []struct {
		tag, want string
	}{
		{"signed", ""},
		{"unsigned", "not signed: no signature of"},
		{"stranger", "not by any trusted key"},
		{"crafted", "signed by cosign.pub, but signature payload does not sign this image: it signs " + signed.Digest.String()},
	} {
		v, err := f.c.Check(ctx, f.name, c.tag, p)
		if err != nil {
			t.Fatalf("%s: %v", c.tag, err)
		}
		if c.want == "" {
			if v.Blocked || v.SignedBy != "cosign.pub" || v.Digest != signed.Digest.String() {
				t.Errorf("%s: %+v, want passed, signed by cosign.pub", c.tag, v)
			}
			continue
		}
		if !v.Blocked || !strings.Contains(strings.Join(v.Reasons, "; "), c.want) {
			t.Errorf("%s: %+v, want blocked saying %q", c.tag, v, c.want)
		}
		if len(v.KeysTried) != 1 || v.KeysTried[0] != "cosign.pub" {
			t.Errorf("%s: keys tried %v", c.tag, v.KeysTried)
		}
	}
}

// scans is a gate.ScanReader answering from a script per digest (the ECR side is tested with
// the control-plane stand-in in internal/ecr).
type scans map[string][]*gate.ScanResult

func (s scans) Findings(_ context.Context, _, d string) (*gate.ScanResult, error) {
	seq, ok := s[d]
	if !ok {
		return nil, gate.ErrNoScan
	}
	r := seq[0]
	if len(seq) > 1 {
		s[d] = seq[1:]
	}
	return r, nil
}

// clock is an injected clock: Sleep advances it.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }
func (c *clock) Sleep(_ context.Context, d time.Duration) bool {
	c.t = c.t.Add(d)
	return true
}

func TestScanGateEveryChildOfAnIndexAndTheWait(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	idx, err := f.push.MultiPlatform(ctx, f.repo, "multi", []string{"linux/amd64", "linux/arm64"}, 256, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.repo.Manifest(ctx, idx.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	amd, arm := m.Manifests[0].Digest.String(), m.Manifests[1].Digest.String()
	complete := func(d string, counts map[string]int, fs ...gate.Finding) *gate.ScanResult {
		return &gate.ScanResult{Digest: d, Status: gate.ScanComplete, Counts: counts, Findings: fs}
	}
	pending := func(d string) *gate.ScanResult { return &gate.ScanResult{Digest: d, Status: gate.ScanInProgress} }
	p := &gate.Policy{Scan: &gate.ScanPolicy{MaxSeverity: "HIGH", Wait: time.Minute}}
	for _, c := range []struct {
		name    string
		s       scans
		blocked bool
		pending bool
		want    string
	}{
		{"both clean", scans{amd: {complete(amd, map[string]int{"HIGH": 2})}, arm: {complete(arm, nil)}}, false, false, ""},
		{"one child critical", scans{amd: {complete(amd, nil)}, arm: {complete(arm, map[string]int{"CRITICAL": 1}, gate.Finding{ID: "CVE-2024-0001", Severity: "CRITICAL"})}},
			true, false, arm + " has findings above HIGH: 1 CRITICAL (CVE-2024-0001 CRITICAL)"},
		{"pending then clean within the wait", scans{amd: {pending(amd), pending(amd), complete(amd, nil)}, arm: {complete(arm, nil)}}, false, false, ""},
		{"pending past the wait", scans{amd: {pending(amd)}, arm: {complete(arm, nil)}}, true, true, "scan of " + amd + " is IN_PROGRESS"},
		{"no scan", scans{arm: {complete(arm, nil)}}, true, false, "no scan of " + amd},
	} {
		clk := &clock{t: time.Unix(0, 0)}
		c2 := *f.c
		c2.Scans = func(string) gate.ScanReader { return c.s }
		c2.Now, c2.Sleep = clk.Now, clk.Sleep
		v, err := c2.Check(ctx, f.name, "multi", p)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v.Blocked != c.blocked || v.Pending != c.pending || !strings.Contains(strings.Join(v.Reasons, "; "), c.want) {
			t.Errorf("%s: %+v, want blocked=%v pending=%v saying %q", c.name, v, c.blocked, c.pending, c.want)
		}
		if c.pending && clk.t.Sub(time.Unix(0, 0)) != time.Minute {
			t.Errorf("%s: waited %s on the injected clock, want the rule's 1m", c.name, clk.t.Sub(time.Unix(0, 0)))
		}
	}
	opt := &gate.Policy{Scan: &gate.ScanPolicy{MaxSeverity: "HIGH", Optional: true}}
	c2 := *f.c
	c2.Scans = func(string) gate.ScanReader { return scans{} }
	if v, err := c2.Check(ctx, f.name, "multi", opt); err != nil || v.Blocked {
		t.Errorf("required: false, no scan: %+v %v, want passed", v, err)
	}
}

// cosignBinary returns the pinned cosign (.ci/deps.d/40-cosign.sh), or skips.
func cosignBinary(t *testing.T) string {
	t.Helper()
	return findCosign(t, "COSIGN", "cosign-v2.6.5", "cosign v2.6.5 not installed (bash .ci/deps.d/40-cosign.sh)")
}

// cosignKey loads the public key cosign generate-key-pair wrote into dir.
func cosignKey(t *testing.T, dir string) gate.Key {
	t.Helper()
	k, err := gate.LoadKey(filepath.Join(dir, "cosign.pub"), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// findCosign returns the cosign binary named by $env, or $GOPATH/dir/cosign; it skips under
// -short, and with missing when neither exists.
func findCosign(t *testing.T, env, dir, missing string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs the cosign binary")
	}
	for _, p := range []string{os.Getenv(env), filepath.Join(build.Default.GOPATH, dir, "cosign")} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Skip(missing)
	return ""
}

// TestRealCosignSignatures signs with the cosign binary, offline (--tlog-upload=false), and
// checks: signed image passes with its key, is blocked for an untrusted key; an unsigned image
// and an image carrying another image's cosign signature are blocked.
func TestRealCosignSignatures(t *testing.T) {
	t.Parallel()
	bin := cosignBinary(t)
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	keygen := func(sub string) string {
		d := filepath.Join(dir, sub)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "generate-key-pair")
		cmd.Dir = d
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
		}
		return d
	}
	ours, theirs := keygen("ours"), keygen("theirs")
	sign := func(keyDir string, d digest.Digest) {
		cmd := exec.Command(bin, "sign", "--key", filepath.Join(keyDir, "cosign.key"), "--tlog-upload=false",
			"--allow-insecure-registry", "--yes", f.reg.Addr+"/app@"+d.String())
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign sign: %v\n%s", err, out)
		}
	}
	signed := f.image(t, "signed", 11)
	sign(ours, signed.Digest)
	other := f.image(t, "other", 12)
	sign(theirs, other.Digest)
	f.image(t, "unsigned", 13)
	// Move a real signature of "signed" onto "moved": cosign's bytes, another digest.
	moved := f.image(t, "moved", 14)
	sigm, err := f.repo.Manifest(ctx, registry.TagFor(signed.Digest)+".sig")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.repo.PutManifest(ctx, registry.TagFor(moved.Digest)+".sig", sigm); err != nil {
		t.Fatal(err)
	}

	ourKey, theirKey := cosignKey(t, ours), cosignKey(t, theirs)
	for _, c := range []struct {
		tag  string
		keys []gate.Key
		want string
	}{
		{"signed", []gate.Key{ourKey}, ""},
		{"signed", []gate.Key{theirKey, ourKey}, ""},
		{"signed", []gate.Key{theirKey}, "not by any trusted key"},
		{"other", []gate.Key{ourKey}, "not by any trusted key"},
		{"unsigned", []gate.Key{ourKey}, "not signed"},
		{"moved", []gate.Key{ourKey}, "it signs " + signed.Digest.String()},
	} {
		v, err := f.c.Check(ctx, f.name, c.tag, &gate.Policy{Keys: c.keys})
		if err != nil {
			t.Fatalf("%s: %v", c.tag, err)
		}
		if c.want == "" {
			if v.Blocked || v.SignedBy != ourKey.Name {
				t.Errorf("%s with %d keys: %+v, want passed by %s", c.tag, len(c.keys), v, ourKey.Name)
			}
			continue
		}
		if !v.Blocked || !strings.Contains(strings.Join(v.Reasons, "; "), c.want) {
			t.Errorf("%s: %+v, want blocked saying %q", c.tag, v, c.want)
		}
	}
}
