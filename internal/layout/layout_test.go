package layout_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/layout"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/tmpcheck"
)

// TestMain fails the run if a test leaves anything in the temp dir.
func TestMain(m *testing.M) { os.Exit(tmpcheck.Main(m, nil)) }

func newCopier() *replicate.Copier {
	return replicate.New(registry.New(registry.Options{Keychain: devstack.Anonymous{},
		Retry: registry.RetryPolicy{Base: 5e6, Max: 5e7, Budget: time.Second}}), replicate.Options{})
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture pushes, to host/app, a multi-platform index (with a buildx attestation) tagged v1,
// an OCI 1.1 signature of it (listed under the fallback tag: distribution has no referrers API)
// and a cosign-style sha256-<hex>.sig tag.
func fixture(t *testing.T, p *devtest.Pair) (repo *registry.Repository, top ocispec.Descriptor, sig ocispec.Descriptor) {
	t.Helper()
	ctx := ctxFor(t)
	repo, err := p.Push.Repo(p.Src.Addr + "/app")
	if err != nil {
		t.Fatal(err)
	}
	if top, err = p.Push.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 256<<10, 7); err != nil {
		t.Fatal(err)
	}
	if sig, err = p.Push.Signature(ctx, repo, top); err != nil {
		t.Fatal(err)
	}
	cosign, err := p.Push.Image(ctx, repo, registry.TagFor(top.Digest)+".sig", devstack.ImageSpec{
		ConfigMediaType: "application/vnd.oci.image.config.v1+json", Layers: [][]byte{devstack.CosignPayload(top.Digest)}})
	if err != nil || cosign.Digest == "" {
		t.Fatal(err)
	}
	return repo, top, sig
}

// checkLayout verifies a layout on its own, without the package under test: oci-layout is
// there, and every blob that index.json reaches exists and hashes to its name.
func checkLayout(t *testing.T, dir string) (tags map[string]digest.Digest, untagged []digest.Digest) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, "oci-layout")); err != nil || !bytes.Contains(b, []byte(`"imageLayoutVersion":"1.0.0"`)) {
		t.Fatalf("oci-layout: %s %v", b, err)
	}
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || json.Unmarshal(b, &idx) != nil {
		t.Fatalf("index.json: %s %v", b, err)
	}
	tags = map[string]digest.Digest{}
	var walk func(d ocispec.Descriptor)
	walk = func(d ocispec.Descriptor) {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded()))
		if err != nil {
			t.Fatalf("blob %s missing: %v", d.Digest, err)
		}
		if sum := sha256.Sum256(b); "sha256:"+hex.EncodeToString(sum[:]) != d.Digest.String() || int64(len(b)) != d.Size {
			t.Fatalf("blob %s: wrong content or size", d.Digest)
		}
		if d.MediaType != ocispec.MediaTypeImageIndex && d.MediaType != ocispec.MediaTypeImageManifest &&
			d.MediaType != registry.MediaTypeDockerManifestList && d.MediaType != registry.MediaTypeDockerManifest {
			return
		}
		var m struct {
			Config    *ocispec.Descriptor
			Layers    []ocispec.Descriptor
			Manifests []ocispec.Descriptor
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(m.Manifests, m.Layers...) {
			if len(c.URLs) == 0 {
				walk(c)
			}
		}
		if m.Config != nil {
			walk(*m.Config)
		}
	}
	for _, m := range idx.Manifests {
		walk(m)
		if tag := m.Annotations[ocispec.AnnotationRefName]; tag != "" {
			tags[tag] = m.Digest
		} else {
			untagged = append(untagged, m.Digest)
		}
	}
	return tags, untagged
}

// TestRegistryLayoutArchiveRoundTrip: registry → oci:DIR → oci-archive:FILE → registry keeps
// every digest: the index, each platform, the attestation, the OCI signature (a layout lists it
// in index.json, untagged, by its subject) and the cosign tag.
func TestRegistryLayoutArchiveRoundTrip(t *testing.T) {
	t.Parallel()
	p := devtest.NewPair(t, devtest.Options{})
	_, top, sig := fixture(t, p)
	ctx := ctxFor(t)
	cp := newCopier()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "layout")
	srcRepo, _ := p.Push.Repo(p.Src.Addr + "/app")

	l, err := layout.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cp.CopyTarget(ctx, srcRepo, "v1", l, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != top.Digest || res.Referrers < 2 || res.Dst != "oci:"+dir+":v1" {
		t.Fatalf("to layout: %+v", res)
	}
	tags, untagged := checkLayout(t, dir)
	cosignTag := registry.TagFor(top.Digest) + ".sig"
	if tags["v1"] != top.Digest || tags[cosignTag] == "" {
		t.Fatalf("layout tags %v, want v1=%s and %s", tags, top.Digest, cosignTag)
	}
	if len(untagged) != 1 || untagged[0] != sig.Digest {
		t.Fatalf("layout's untagged entries %v, want the signature %s", untagged, sig.Digest)
	}
	if _, ok := tags[registry.TagFor(top.Digest)]; ok {
		t.Fatal("the registry's fallback tag became a layout tag; a layout lists referrers in index.json")
	}

	// Copying again sends nothing.
	again, err := cp.CopyTarget(ctx, srcRepo, "v1", l, "")
	if err != nil || !again.UpToDate || again.BytesSent != 0 {
		t.Fatalf("second copy to the layout: %+v %v", again, err)
	}

	// Layout → archive → registry.
	archive := filepath.Join(tmp, "app.tar")
	arc, finish, err := layout.OpenDestination(layout.Ref{Kind: layout.KindArchive, Path: archive}, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.CopyTarget(ctx, l, "v1", arc, ""); err != nil {
		t.Fatal(err)
	}
	if err := finish(true); err != nil {
		t.Fatal(err)
	}
	src, done, err := layout.OpenSource(layout.Ref{Kind: layout.KindArchive, Path: archive}, tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	dstRepo, _ := p.Push.Repo(p.Dst.Addr + "/app")
	back, err := cp.CopyTarget(ctx, src, "v1", dstRepo, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest != top.Digest {
		t.Fatalf("round trip digest %s, want %s", back.Digest, top.Digest)
	}
	// The destination registry holds the same manifests as the source, by the registry's word.
	for _, ref := range []string{"v1", cosignTag, registry.TagFor(top.Digest), sig.Digest.String()} {
		want, err := srcRepo.Head(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dstRepo.Head(ctx, ref)
		if err != nil || got.Digest != want.Digest {
			t.Fatalf("%s in the destination: %v %v, want %s", ref, got.Digest, err, want.Digest)
		}
	}
	srcTop, _ := srcRepo.Manifest(ctx, "v1")
	for _, c := range srcTop.Manifests {
		if _, err := dstRepo.Head(ctx, c.Digest.String()); err != nil {
			t.Fatalf("platform %s missing after the round trip: %v", c.Digest, err)
		}
	}
}

// TestLayoutNeverTagsAPartialImage: a source layout missing one layer, or holding a layer whose
// bytes were changed, fails the copy, and the destination layout's index.json gets no tag.
func TestLayoutNeverTagsAPartialImage(t *testing.T) {
	t.Parallel()
	p := devtest.NewPair(t, devtest.Options{})
	_, top, _ := fixture(t, p)
	ctx := ctxFor(t)
	cp := newCopier()
	srcRepo, _ := p.Push.Repo(p.Src.Addr + "/app")
	for _, damage := range []string{"missing", "corrupt"} {
		t.Run(damage, func(t *testing.T) {
			src, err := layout.Create(filepath.Join(t.TempDir(), "src"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cp.CopyTarget(ctx, srcRepo, "v1", src, ""); err != nil {
				t.Fatal(err)
			}
			m, err := src.Manifest(ctx, "v1")
			if err != nil {
				t.Fatal(err)
			}
			child, err := src.Manifest(ctx, m.Manifests[1].Digest.String())
			if err != nil {
				t.Fatal(err)
			}
			layer := filepath.Join(src.Dir(), "blobs", "sha256", child.Layers[len(child.Layers)-1].Digest.Encoded())
			if damage == "missing" {
				err = os.Remove(layer)
			} else {
				b, _ := os.ReadFile(layer)
				b[len(b)/2] ^= 0xff
				err = os.WriteFile(layer, b, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			dst, err := layout.Create(filepath.Join(t.TempDir(), "dst"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = cp.CopyTarget(ctx, src, "v1", dst, "")
			if err == nil {
				t.Fatal("copy of a damaged layout succeeded")
			}
			if damage == "corrupt" && !errors.Is(err, registry.ErrDigestMismatch) {
				t.Fatalf("err = %v, want a digest mismatch", err)
			}
			if damage == "missing" && !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("err = %v, want not found", err)
			}
			tags, untagged := checkLayout(t, dst.Dir())
			if len(tags) != 0 || len(untagged) != 0 {
				t.Fatalf("after a failed copy index.json lists %v %v; want nothing", tags, untagged)
			}
			if _, err := os.Stat(filepath.Join(dst.Dir(), "blobs", "sha256", top.Digest.Encoded())); err == nil {
				t.Fatal("the top manifest was stored though a layer is missing")
			}
			ents, _ := os.ReadDir(filepath.Join(dst.Dir(), "blobs", "sha256"))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".") {
					t.Fatalf("temporary file %s left in the layout", e.Name())
				}
			}
		})
	}
}

// TestTargetSuite runs one suite on both Targets, a registry repository and a layout: they
// must answer the engine alike.
func TestTargetSuite(t *testing.T) {
	t.Parallel()
	p := devtest.NewPair(t, devtest.Options{})
	repo, _ := p.Push.Repo(p.Dst.Addr + "/suite")
	l, err := layout.Create(filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tgt := range map[string]replicate.Target{"registry": repo, "layout": l} {
		t.Run(name, func(t *testing.T) { targetSuite(t, tgt) })
	}
}

func targetSuite(t *testing.T, tgt replicate.Target) {
	ctx := ctxFor(t)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := digest.FromBytes(cfg)
	if ok, err := tgt.BlobExists(ctx, cd); ok || err != nil {
		t.Fatalf("BlobExists before upload: %v %v", ok, err)
	}
	if _, err := tgt.Blob(ctx, cd, int64(len(cfg))); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Blob of a missing blob: %v, want ErrNotFound", err)
	}
	body, _ := json.Marshal(ocispec.Manifest{Versioned: ocispecV2, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cfg))}, Layers: []ocispec.Descriptor{}})
	m, err := registry.ParseManifest(ocispec.MediaTypeImageManifest, body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.PutManifest(ctx, "t1", m); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("PutManifest naming a missing blob: %v, want ErrBlobUnknown", err)
	}
	if _, err := tgt.Head(ctx, "t1"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Head of a tag never put: %v, want ErrNotFound", err)
	}
	loc, err := tgt.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Replace(cfg, []byte("amd64"), []byte("arm64"), 1)
	if err := tgt.FinishUpload(ctx, loc, cd, int64(len(wrong)), bytes.NewReader(wrong)); err == nil {
		t.Fatal("an upload whose bytes do not hash to its digest was accepted")
	}
	if ok, _ := tgt.BlobExists(ctx, cd); ok {
		t.Fatal("a refused upload left the blob")
	}
	if loc, err = tgt.StartUpload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tgt.FinishUpload(ctx, loc, cd, int64(len(cfg)), bytes.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	rc, err := tgt.Blob(ctx, cd, int64(len(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, cfg) {
		t.Fatalf("Blob read %q %v", got, err)
	}
	if _, err := tgt.PutManifest(ctx, "t1", m); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"t1", m.Descriptor.Digest.String()} {
		d, err := tgt.Head(ctx, ref)
		if err != nil || d.Digest != m.Descriptor.Digest {
			t.Fatalf("Head %s: %v %v", ref, d.Digest, err)
		}
		back, err := tgt.Manifest(ctx, ref)
		if err != nil || !bytes.Equal(back.Body, body) || back.Descriptor.MediaType != ocispec.MediaTypeImageManifest {
			t.Fatalf("Manifest %s: %v", ref, err)
		}
	}
	tags, err := tgt.Tags(ctx)
	if err != nil || len(tags) != 1 || tags[0] != "t1" {
		t.Fatalf("Tags = %v %v", tags, err)
	}
}

var ocispecV2 = ocispec.Index{}.Versioned

func init() { ocispecV2.SchemaVersion = 2 }

// tool finds a pinned client binary (crane, oras) on PATH or in GOPATH/bin.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (.ci/deps.d/10-clients.sh installs it)", name)
	}
	t.Skipf("%s is not installed: run .ci/deps.d/10-clients.sh", name)
	return ""
}

func run(t *testing.T, ctx context.Context, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// TestLayoutInteropWithOras: a layout oras writes (oras copy -r --to-oci-layout) is copied by
// ecrsync to a registry with the same digests and referrers; a layout ecrsync writes is read by
// oras (oras copy -r --from-oci-layout) into a registry with the same digests, and oras finds
// the signature in it by its subject.
func TestLayoutInteropWithOras(t *testing.T) {
	t.Parallel()
	oras := tool(t, "oras")
	p := devtest.NewPair(t, devtest.Options{})
	_, top, sig := fixture(t, p)
	ctx := ctxFor(t)
	cp := newCopier()
	home := t.TempDir()
	srcRepo, _ := p.Push.Repo(p.Src.Addr + "/app")

	// oras writes, ecrsync reads.
	orasDir := filepath.Join(home, "by-oras")
	run(t, ctx, home, oras, "copy", "-r", "--from-plain-http", "--to-oci-layout", p.Src.Addr+"/app:v1", orasDir+":v1")
	l, err := layout.Open(orasDir)
	if err != nil {
		t.Fatal(err)
	}
	dstRepo, _ := p.Push.Repo(p.Dst.Addr + "/from-oras")
	res, err := cp.CopyTarget(ctx, l, "v1", dstRepo, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != top.Digest || res.Referrers < 1 {
		t.Fatalf("from oras's layout: %+v, want digest %s and its signature", res, top.Digest)
	}
	if d, err := dstRepo.Head(ctx, sig.Digest.String()); err != nil || d.Digest != sig.Digest {
		t.Fatalf("signature from oras's layout: %v", err)
	}

	// ecrsync writes, oras reads.
	ourDir := filepath.Join(home, "by-ecrsync")
	ours, err := layout.Create(ourDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.CopyTarget(ctx, srcRepo, "v1", ours, ""); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, home, oras, "copy", "-r", "--to-plain-http", "--from-oci-layout", ourDir+":v1", p.Dst.Addr+"/from-ecrsync:v1")
	back, _ := p.Push.Repo(p.Dst.Addr + "/from-ecrsync")
	if d, err := back.Head(ctx, "v1"); err != nil || d.Digest != top.Digest {
		t.Fatalf("oras copied our layout as %s (%v), want %s", d.Digest, err, top.Digest)
	}
	out := run(t, ctx, home, oras, "discover", "--oci-layout", "--format", "json", ourDir+":v1")
	if !strings.Contains(out, sig.Digest.String()) {
		t.Fatalf("oras discover in our layout does not find the signature %s:\n%s", sig.Digest, out)
	}
}

// TestLayoutInteropWithCrane: crane pull --format=oci writes a layout that ecrsync copies to a
// registry with the same digest; crane push reads a layout ecrsync wrote (crane pushes the one
// image of a layout, so this one is copied without referrers).
func TestLayoutInteropWithCrane(t *testing.T) {
	t.Parallel()
	crane := tool(t, "crane")
	p := devtest.NewPair(t, devtest.Options{})
	_, top, _ := fixture(t, p)
	ctx := ctxFor(t)
	cp := newCopier()
	home := t.TempDir()
	srcRepo, _ := p.Push.Repo(p.Src.Addr + "/app")

	craneDir := filepath.Join(home, "by-crane")
	run(t, ctx, home, crane, "pull", "--insecure", "--format=oci", p.Src.Addr+"/app:v1", craneDir)
	l, err := layout.Open(craneDir)
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	b, _ := os.ReadFile(filepath.Join(craneDir, "index.json"))
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("crane's index.json: %s", b)
	}
	dstRepo, _ := p.Push.Repo(p.Dst.Addr + "/from-crane")
	res, err := cp.CopyTarget(ctx, l, idx.Manifests[0].Digest.String(), dstRepo, "v1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := srcRepo.Head(ctx, idx.Manifests[0].Digest.String())
	if res.Digest != want.Digest {
		t.Fatalf("from crane's layout: digest %s, want %s", res.Digest, want.Digest)
	}

	ourDir := filepath.Join(home, "by-ecrsync")
	ours, err := layout.Create(ourDir)
	if err != nil {
		t.Fatal(err)
	}
	bare := replicate.New(registry.New(registry.Options{Keychain: devstack.Anonymous{}}), replicate.Options{NoReferrers: true})
	if _, err := bare.CopyTarget(ctx, srcRepo, "v1", ours, ""); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, home, crane, "push", "--insecure", ourDir, p.Dst.Addr+"/pushed-by-crane:v1")
	back, _ := p.Push.Repo(p.Dst.Addr + "/pushed-by-crane")
	if d, err := back.Head(ctx, "v1"); err != nil || d.Digest != top.Digest {
		t.Fatalf("crane pushed our layout as %s (%v), want %s", d.Digest, err, top.Digest)
	}
}

// TestParse reads oci: and oci-archive: references, and leaves registry ones alone.
func TestParse(t *testing.T) {
	t.Parallel()
	hex64 := strings.Repeat("ab", 32)
	for _, c := range []struct {
		in   string
		want layout.Ref
		ok   bool
		err  bool
	}{
		{in: "oci:/tmp/x", want: layout.Ref{Kind: "oci", Path: "/tmp/x"}, ok: true},
		{in: "oci:/tmp/x:v1", want: layout.Ref{Kind: "oci", Path: "/tmp/x", Ref: "v1"}, ok: true},
		{in: "oci:rel/dir@sha256:" + hex64, want: layout.Ref{Kind: "oci", Path: "rel/dir", Ref: "sha256:" + hex64}, ok: true},
		{in: "oci-archive:app.tar:v2", want: layout.Ref{Kind: "oci-archive", Path: "app.tar", Ref: "v2"}, ok: true},
		{in: "oci:/a:b/c", want: layout.Ref{Kind: "oci", Path: "/a:b/c"}, ok: true},
		{in: "oci:", ok: true, err: true},
		{in: "oci:/x:", ok: true, err: true},
		{in: "oci:/x@sha256:12", ok: true, err: true},
		{in: "127.0.0.1:5000/app:v1"},
		{in: "ocean/app:v1"},
	} {
		got, ok, err := layout.Parse(c.in)
		if ok != c.ok || (err != nil) != c.err || err == nil && got != c.want {
			t.Errorf("Parse(%q) = %+v %v %v, want %+v %v err=%v", c.in, got, ok, err, c.want, c.ok, c.err)
		}
	}
}
