package replicate_test

import (
	"context"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

func TestCopyKinds(t *testing.T) {
	t.Parallel()
	p := newPair(t, nil)
	ctx := context.Background()
	src := p.repo(t, p.src.Addr+"/kinds")
	arm := ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	must := func(d ocispec.Descriptor, err error) ocispec.Descriptor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	img := func(seed uint64, docker bool) ocispec.Descriptor {
		return must(p.push.Image(ctx, src, "", devstack.ImageSpec{Docker: docker, Platform: &arm,
			Layers: [][]byte{devstack.RandomBytes(3000, seed), devstack.RandomBytes(70000, seed+1)}}))
	}
	cases := []struct {
		name  string
		build func() ocispec.Descriptor
	}{
		{"oci image", func() ocispec.Descriptor { return img(1, false) }},
		{"docker schema 2 image", func() ocispec.Descriptor { return img(3, true) }},
		{"oci index with attestation", func() ocispec.Descriptor {
			return must(p.push.MultiPlatform(ctx, src, "", []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 5000, 10))
		}},
		{"docker manifest list", func() ocispec.Descriptor {
			a, b := img(20, true), img(22, true)
			a.Platform, b.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}, &arm
			return must(p.push.Index(ctx, src, "", true, a, b))
		}},
		{"nested index", func() ocispec.Descriptor {
			inner := must(p.push.MultiPlatform(ctx, src, "", []string{"linux/amd64", "linux/s390x"}, 4000, 30))
			return must(p.push.Index(ctx, src, "", false, inner, img(35, false)))
		}},
		{"helm chart artifact", func() ocispec.Descriptor {
			return must(p.push.Image(ctx, src, "", devstack.ImageSpec{ConfigMediaType: "application/vnd.cncf.helm.config.v1+json",
				Layers: [][]byte{devstack.RandomBytes(2000, 40)}}))
		}},
		{"wasm artifact", func() ocispec.Descriptor {
			return must(p.push.Image(ctx, src, "", devstack.ImageSpec{ConfigMediaType: "application/vnd.wasm.config.v0+json",
				ArtifactType: "application/wasm", Layers: [][]byte{devstack.RandomBytes(2000, 41)}}))
		}},
		{"empty and zero-byte layers", func() ocispec.Descriptor {
			return must(p.push.Image(ctx, src, "", devstack.ImageSpec{Layers: [][]byte{{}, devstack.RandomBytes(10, 42), {}}}))
		}},
		{"no layers", func() ocispec.Descriptor { return must(p.push.Image(ctx, src, "", devstack.ImageSpec{})) }},
		{"foreign layer kept as reference", func() ocispec.Descriptor {
			return must(p.push.Image(ctx, src, "", devstack.ImageSpec{Foreign: true, Docker: true,
				Layers: [][]byte{devstack.RandomBytes(500, 43)}}))
		}},
	}
	cp := newCopier(replicate.Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.build()
			tag := "t" + d.Digest.Encoded()[:12]
			if _, err := src.PutManifest(ctx, tag, mustManifest(t, src, d.Digest.String())); err != nil {
				t.Fatal(err)
			}
			res, err := cp.Copy(ctx, p.src.Addr+"/kinds:"+tag, p.dst.Addr+"/mirror/kinds")
			if err != nil {
				t.Fatal(err)
			}
			if res.Digest != d.Digest || res.UpToDate {
				t.Fatalf("result %+v, want digest %s copied", res, d.Digest)
			}
			if got := tagDigest(t, p.dst.Addr, "mirror/kinds", tag); got != d.Digest.String() {
				t.Fatalf("dst tag %s = %s, want %s", tag, got, d.Digest)
			}
			assertSame(t, p, "kinds", "mirror/kinds", d.Digest.String())

			again, err := cp.Copy(ctx, p.src.Addr+"/kinds:"+tag, p.dst.Addr+"/mirror/kinds")
			if err != nil {
				t.Fatal(err)
			}
			if !again.UpToDate || again.BytesSent != 0 || again.Manifests != 0 {
				t.Fatalf("second copy sent something: %+v", again)
			}
		})
	}
}

func mustManifest(t *testing.T, r *registry.Repository, ref string) *registry.Manifest {
	t.Helper()
	m, err := r.Manifest(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
