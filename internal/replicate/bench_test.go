package replicate_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// Benchmarks of the engine's hot paths against real registries on 127.0.0.1, for benchstat:
//
//	go test -run '^$' -bench . -count 10 ./internal/replicate/ > new.txt && benchstat old.txt new.txt
//
// The side-by-side comparison with crane, regctl, oras and skopeo is bench/ (make bench).

// benchPair starts two registries with storage on disk (tmpfs where there is one):
// distribution's in-memory driver copies a blob as it grows, which is slower than any client.
func benchPair(b *testing.B) (*devstack.Registry, *devstack.Registry, *devstack.Pusher) {
	b.Helper()
	dir := func() string {
		if d, err := os.MkdirTemp("/dev/shm", "ecrsync-bench-"); err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
		return b.TempDir()
	}
	src, err := devstack.Start(context.Background(), devstack.Options{DataDir: dir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	dst, err := devstack.Start(context.Background(), devstack.Options{DataDir: dir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dst.Close() })
	return src, dst, devstack.NewPusher()
}

// BenchmarkColdCopy: one image of 4 × 8 MiB layers into a new repository each iteration
// (blob streaming, digest verification, upload).
func BenchmarkColdCopy(b *testing.B) {
	src, dst, p := benchPair(b)
	ctx := context.Background()
	repo, _ := p.Repo(src.Addr + "/app")
	var layers [][]byte
	for i := range 4 {
		layers = append(layers, devstack.RandomBytes(8<<20, uint64(i)))
	}
	if _, err := p.Image(ctx, repo, "v1", devstack.ImageSpec{Layers: layers}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(32 << 20)
	b.ResetTimer()
	for i := range b.N {
		// A Copier of its own each time: one that copied before would mount from the repository
		// it filled last time instead of uploading.
		res, err := newCopier(replicate.Options{}).Copy(ctx, src.Addr+"/app:v1", fmt.Sprintf("%s/cold%d", dst.Addr, i))
		if err != nil || res.Blobs != 5 {
			b.Fatalf("%+v %v; want 5 blobs uploaded", res, err)
		}
	}
}

// BenchmarkWarmIndex: a 4-platform index already in the destination (manifest walk, skip checks).
func BenchmarkWarmIndex(b *testing.B) {
	src, dst, p := benchPair(b)
	ctx := context.Background()
	repo, _ := p.Repo(src.Addr + "/app")
	if _, err := p.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64", "linux/s390x", "linux/ppc64le"}, 4096, 1); err != nil {
		b.Fatal(err)
	}
	cp := newCopier(replicate.Options{})
	if _, err := cp.Copy(ctx, src.Addr+"/app:v1", dst.Addr+"/app"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		res, err := cp.Copy(ctx, src.Addr+"/app:v1", dst.Addr+"/app")
		if err != nil || !res.UpToDate {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

// BenchmarkNewTagSameBlobs: an index whose blobs the destination has, under a new tag each
// iteration (child manifest checks and puts; no blob moves).
func BenchmarkNewTagSameBlobs(b *testing.B) {
	src, dst, p := benchPair(b)
	ctx := context.Background()
	repo, _ := p.Repo(src.Addr + "/app")
	if _, err := p.MultiPlatform(ctx, repo, "v1", []string{"linux/amd64", "linux/arm64"}, 4096, 1); err != nil {
		b.Fatal(err)
	}
	cp := newCopier(replicate.Options{NoReferrers: true})
	b.ResetTimer()
	for i := range b.N {
		if _, err := cp.Copy(ctx, src.Addr+"/app:v1", fmt.Sprintf("%s/app:t%d", dst.Addr, i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifiedRead: reading one 64 MiB blob through the client's digest verification.
func BenchmarkVerifiedRead(b *testing.B) {
	src, _, p := benchPair(b)
	ctx := context.Background()
	repo, _ := p.Repo(src.Addr + "/blob")
	data := devstack.RandomBytes(64<<20, 7)
	d := digest.FromBytes(data)
	if _, err := p.Blob(ctx, repo, "application/octet-stream", data); err != nil {
		b.Fatal(err)
	}
	c := registry.New(registry.Options{Keychain: devstack.Anonymous{}})
	r, _ := p.Repo(src.Addr + "/blob")
	r = c.Repository(mustRepo(b, r))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		rc, err := r.Blob(ctx, d, int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

func mustRepo(b *testing.B, r *registry.Repository) name.Repository {
	b.Helper()
	n, err := name.NewRepository(r.String())
	if err != nil {
		b.Fatal(err)
	}
	return n
}
