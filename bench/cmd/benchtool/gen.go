package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrsync/ecrsync/bench/internal/reg"
)

// genJobs bounds parallel uploads while generating; the machine has 2 cores.
const genJobs = 4

type generator struct {
	c     *reg.Client
	host  string
	repo  string
	bytes atomic.Int64 // unique blob and manifest bytes pushed

	mu     sync.Mutex
	layers map[[2]int64]layerDesc // (seed, size) -> pushed layer, so shared layers go up once
}

type layerDesc struct {
	reg.Descriptor
	diffID string
}

func genCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	var (
		dst       = fs.String("dst", "", "registry host:port")
		repo      = fs.String("repo", "", "repository")
		tag       = fs.String("tag", "v1", "tag (for burst: prefix of tags t000...)")
		kind      = fs.String("kind", "image", "image | index | burst")
		seed      = fs.Int64("seed", 1, "random seed; the same seed gives the same bytes")
		layers    = fs.Int("layers", 8, "image: number of layers; index: unique layers per platform")
		shared    = fs.Int("shared", 2, "index: layers shared by every platform")
		platforms = fs.Int("platforms", 4, "index: number of platforms (at most 4)")
		count     = fs.Int("count", 200, "burst: number of tags")
		tagsOut   = fs.String("tags-out", "", "burst: write the tag list here")
		size      sizeFlag
		sharedSz  sizeFlag
	)
	size, sharedSz = 64<<20, 32<<20
	fs.Var(&size, "size", "size of each (unique) layer's payload: 64Mi, 2Gi, 16Ki")
	fs.Var(&sharedSz, "shared-size", "size of each shared layer's payload (index, burst)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dst == "" || *repo == "" {
		return fmt.Errorf("-dst and -repo are required")
	}
	g := &generator{c: reg.New(), host: *dst, repo: *repo, layers: map[[2]int64]layerDesc{}}
	start := time.Now()
	var top string
	var err error
	switch *kind {
	case "image":
		var ls []layerSpec
		for i := range *layers {
			ls = append(ls, layerSpec{*seed*1000 + int64(i), int64(size)})
		}
		top, _, err = g.image(ctx, *tag, reg.Platform{Architecture: "amd64", OS: "linux"}, ls)
	case "index":
		top, err = g.index(ctx, *tag, *seed, *platforms, *shared, *layers, int64(sharedSz), int64(size))
	case "burst":
		top, err = g.burst(ctx, *seed, *count, int64(sharedSz), int64(size), *tagsOut)
	default:
		return fmt.Errorf("unknown -kind %q", *kind)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %s %s/%s in %v\n", *kind, *dst, *repo, time.Since(start).Round(time.Millisecond))
	fmt.Printf("%s %d\n", top, g.bytes.Load())
	return nil
}

type layerSpec struct {
	seed, size int64
}

// image pushes the layers (in parallel), a config and a manifest under ref
// (a tag, or "" to push by digest). It returns the manifest digest and descriptor.
func (g *generator) image(ctx context.Context, ref string, p reg.Platform, specs []layerSpec) (string, reg.Descriptor, error) {
	descs := make([]layerDesc, len(specs))
	errs := make([]error, len(specs))
	sem := make(chan struct{}, genJobs)
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			descs[i], errs[i] = g.layer(ctx, s)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", reg.Descriptor{}, err
		}
	}
	diffIDs := make([]string, len(descs))
	layers := make([]reg.Descriptor, len(descs))
	for i, d := range descs {
		diffIDs[i], layers[i] = d.diffID, d.Descriptor
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": p.Architecture, "os": p.OS, "variant": p.Variant,
		"created": "1970-01-01T00:00:00Z",
		"config":  map[string]any{"Labels": map[string]string{"bench.seed": fmt.Sprint(specs[len(specs)-1].seed)}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cd, err := g.c.PutBytes(ctx, g.host, g.repo, reg.MediaOCIConfig, cfg)
	if err != nil {
		return "", reg.Descriptor{}, fmt.Errorf("config: %w", err)
	}
	g.bytes.Add(cd.Size)
	m, _ := json.Marshal(reg.Manifest{SchemaVersion: 2, MediaType: reg.MediaOCIManifest, Config: &cd, Layers: layers})
	md := reg.Descriptor{MediaType: reg.MediaOCIManifest, Digest: reg.Digest(m), Size: int64(len(m))}
	if ref == "" {
		ref = md.Digest
	}
	if err := g.c.PutManifest(ctx, reg.Ref{Host: g.host, Repo: g.repo, Ref: ref}, reg.MediaOCIManifest, m); err != nil {
		return "", reg.Descriptor{}, err
	}
	g.bytes.Add(md.Size)
	return md.Digest, md, nil
}

// layer pushes one layer, or returns the one already pushed for this spec.
func (g *generator) layer(ctx context.Context, s layerSpec) (layerDesc, error) {
	key := [2]int64{s.seed, s.size}
	g.mu.Lock()
	d, ok := g.layers[key]
	g.mu.Unlock()
	if ok {
		return d, nil
	}
	var diffID string
	var n int64
	dgst, err := g.c.StreamBlob(ctx, g.host, g.repo, func(w io.Writer) (string, error) {
		h := sha256.New()
		cw := &countWriter{w: io.MultiWriter(w, h)}
		var err error
		diffID, err = writeLayer(cw, s.seed, s.size)
		n = cw.n
		return hexDigest(h), err
	})
	if err != nil {
		return layerDesc{}, fmt.Errorf("layer seed %d: %w", s.seed, err)
	}
	d = layerDesc{reg.Descriptor{MediaType: reg.MediaOCILayerGzip, Digest: dgst, Size: n}, diffID}
	g.bytes.Add(n)
	g.mu.Lock()
	g.layers[key] = d
	g.mu.Unlock()
	return d, nil
}

var platforms = []reg.Platform{
	{Architecture: "amd64", OS: "linux"},
	{Architecture: "arm64", OS: "linux"},
	{Architecture: "arm", OS: "linux", Variant: "v7"},
	{Architecture: "s390x", OS: "linux"},
}

// index pushes one image per platform, each with the same shared layers
// (first, like a common base) and its own unique layers, then the index.
func (g *generator) index(ctx context.Context, tag string, seed int64, n, shared, unique int, sharedSize, size int64) (string, error) {
	if n > len(platforms) {
		return "", fmt.Errorf("at most %d platforms", len(platforms))
	}
	// Shared layers first, so that the platforms do not race to push them.
	var sharedSpecs []layerSpec
	for i := range shared {
		s := layerSpec{seed*1000 + int64(i), sharedSize}
		sharedSpecs = append(sharedSpecs, s)
		if _, err := g.layer(ctx, s); err != nil {
			return "", err
		}
	}
	var children []reg.Descriptor
	for p := range n {
		specs := append([]layerSpec(nil), sharedSpecs...)
		for i := range unique {
			specs = append(specs, layerSpec{seed*1000 + int64(100*(p+1)+i), size})
		}
		_, d, err := g.image(ctx, "", platforms[p], specs)
		if err != nil {
			return "", err
		}
		d.Platform = &platforms[p]
		children = append(children, d)
	}
	idx, _ := json.Marshal(reg.Manifest{SchemaVersion: 2, MediaType: reg.MediaOCIIndex, Manifests: children})
	if err := g.c.PutManifest(ctx, reg.Ref{Host: g.host, Repo: g.repo, Ref: tag}, reg.MediaOCIIndex, idx); err != nil {
		return "", err
	}
	g.bytes.Add(int64(len(idx)))
	return reg.Digest(idx), nil
}

// burst pushes count small images tagged t000..., each a shared base layer
// plus one small unique layer, and writes the tag list.
func (g *generator) burst(ctx context.Context, seed int64, count int, sharedSize, size int64, tagsOut string) (string, error) {
	base := layerSpec{seed * 1000, sharedSize}
	if _, err := g.layer(ctx, base); err != nil {
		return "", err
	}
	tags := make([]string, count)
	errs := make([]error, count)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range count {
		tags[i] = fmt.Sprintf("t%03d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, _, errs[i] = g.image(ctx, tags[i], platforms[0], []layerSpec{base, {seed*1000 + 1 + int64(i), size}})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return "", err
		}
	}
	if tagsOut != "" {
		var b []byte
		for _, t := range tags {
			b = append(b, t+"\n"...)
		}
		if err := os.WriteFile(tagsOut, b, 0o644); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d-tags", count), nil
}

// writeLayer writes a gzip'd tar holding one file of n pseudo-random bytes
// drawn from seed and returns the tar's digest (the diff ID). Gzip runs at
// level 0 (stored blocks): the stream is a real gzip, which tools that sniff
// compression (skopeo) accept as is, but costs almost no CPU to make.
func writeLayer(w io.Writer, seed, n int64) (string, error) {
	zw, _ := gzip.NewWriterLevel(w, gzip.NoCompression)
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diff))
	if err := tw.WriteHeader(&tar.Header{Name: "data.bin", Mode: 0o644, Size: n, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], uint64(seed))
	copy(key[8:], "ecrsync-bench")
	rnd := rand.NewChaCha8(key)
	buf := make([]byte, 1<<20)
	for left := n; left > 0; {
		k := min(left, int64(len(buf)))
		rnd.Read(buf[:k])
		if _, err := tw.Write(buf[:k]); err != nil {
			return "", err
		}
		left -= k
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return hexDigest(diff), nil
}

func hexDigest(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
