package replicate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestCopyPlatformsSelects copies selections of a three-platform index between real registries
// through the engine: several make a new index whose digest SelectPlatforms predicts, and the
// same copy again is UpToDate; asking for every platform copies the source index bit for bit
// (its digest, its signatures' subject); none found is a PlatformError that no retry fixes.
func TestCopyPlatformsSelects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newPair(t, nil)
	src := p.repo(t, p.src.Addr+"/app")
	idx, err := p.push.MultiPlatform(ctx, src, "v1", []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, 512, 41)
	if err != nil {
		t.Fatal(err)
	}
	dst := p.repo(t, p.dst.Addr+"/app")
	cp := newCopier(replicate.Options{})
	top, err := src.Manifest(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}

	two := []string{"linux/arm/v7", "linux/arm64"}
	sel, err := replicate.SelectPlatforms(top, two)
	if err != nil || sel.Whole || sel.Index == nil || len(sel.Children) != 2 {
		t.Fatalf("SelectPlatforms(%v) = %+v, %v; want a new index of two", two, sel, err)
	}
	res, err := cp.CopyPlatforms(ctx, src, "v1", dst, "two", two)
	if err != nil || res.UpToDate || res.Digest != sel.Digest {
		t.Fatalf("first copy: %+v, %v; want the selection %s put", res, err, sel.Digest)
	}
	if d, err := dst.Head(ctx, "two"); err != nil || d.Digest != sel.Digest {
		t.Fatalf("two = %v, %v; want %s", d.Digest, err, sel.Digest)
	}
	res, err = cp.CopyPlatforms(ctx, src, "v1", dst, "two", two)
	if err != nil || !res.UpToDate || res.Manifests != 0 || res.BytesSent != 0 {
		t.Errorf("the same copy again: %+v, %v; want UpToDate with nothing put", res, err)
	}

	// The same index written by another tool (indented): every platform copies those bytes.
	var b bytes.Buffer
	if err := json.Indent(&b, top.Body, "", "   "); err != nil {
		t.Fatal(err)
	}
	other := &registry.Manifest{Body: b.Bytes(), Manifests: top.Manifests,
		Descriptor: ocispec.Descriptor{MediaType: idx.MediaType, Digest: digest.FromBytes(b.Bytes()), Size: int64(b.Len())}}
	if _, err := src.PutManifest(ctx, "indented", other); err != nil {
		t.Fatal(err)
	}
	res, err = cp.CopyPlatforms(ctx, src, "indented", dst, "all", []string{"linux/arm/v7", "linux/amd64", "linux/arm64"})
	if d, herr := dst.Head(ctx, "all"); err != nil || herr != nil || res.Digest != other.Descriptor.Digest || d.Digest != other.Descriptor.Digest {
		t.Errorf("every platform: %+v, %v; want the source index %s bit for bit", res, err, other.Descriptor.Digest)
	}

	_, err = cp.CopyPlatforms(ctx, src, "v1", dst, "none", []string{"linux/s390x"})
	var pe *replicate.PlatformError
	if !errors.As(err, &pe) || replicate.Retryable(err) || len(pe.Have) != 3 || replicate.Hint(err) == "" {
		t.Errorf("a platform the image lacks: %v; want a permanent PlatformError listing three platforms, with a hint", err)
	}
}
