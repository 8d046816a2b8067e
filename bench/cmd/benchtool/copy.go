package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ecrsync/ecrsync/bench/internal/reg"
)

func waitCmd(ctx context.Context, hosts []string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c := reg.New()
	for _, h := range hosts {
		if err := c.Ping(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// node is one manifest of an image graph, children before parents.
type node struct {
	digest, mediaType string
	body              []byte
	m                 *reg.Manifest
}

// graph fetches the manifest at r and, for an index, every child manifest.
// It returns the manifests (children first, r's own last) and the blobs they reference.
func graph(ctx context.Context, c *reg.Client, r reg.Ref) ([]node, map[string]int64, error) {
	body, ct, err := c.GetManifest(ctx, r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r, err)
	}
	m, err := reg.DecodeManifest(body, ct)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r, err)
	}
	blobs := map[string]int64{}
	var nodes []node
	if m.IsIndex() {
		for _, d := range m.Manifests {
			cn, cb, err := graph(ctx, c, reg.Ref{Host: r.Host, Repo: r.Repo, Ref: d.Digest})
			if err != nil {
				return nil, nil, err
			}
			nodes = append(nodes, cn...)
			for k, v := range cb {
				blobs[k] = v
			}
		}
	} else {
		if m.Config != nil {
			blobs[m.Config.Digest] = m.Config.Size
		}
		for _, l := range m.Layers {
			blobs[l.Digest] = l.Size
		}
	}
	nodes = append(nodes, node{reg.Digest(body), m.MediaType, body, m})
	return nodes, blobs, nil
}

// refPairs expands SRC DST (and an optional tag file, which turns SRC and DST
// into repositories) into the pairs of references to handle.
func refPairs(src, dst, tagFile string) ([][2]reg.Ref, error) {
	if tagFile == "" {
		s, err := reg.ParseRef(src)
		if err != nil {
			return nil, err
		}
		d, err := reg.ParseRef(dst)
		if err != nil {
			return nil, err
		}
		return [][2]reg.Ref{{s, d}}, nil
	}
	tags, err := readLines(tagFile)
	if err != nil {
		return nil, err
	}
	var out [][2]reg.Ref
	for _, t := range tags {
		s, err := reg.ParseRef(src + ":" + t)
		if err != nil {
			return nil, err
		}
		d, err := reg.ParseRef(dst + ":" + t)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]reg.Ref{s, d})
	}
	return out, nil
}

// parallel runs f(i) for i in [0,n) on at most jobs goroutines and returns the first error.
func parallel(n, jobs int, f func(i int) error) error {
	sem := make(chan struct{}, max(jobs, 1))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func verifyCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	tagFile := fs.String("tags", "", "file of tags; SRC and DST are then repositories")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("want SRC DST")
	}
	pairs, err := refPairs(fs.Arg(0), fs.Arg(1), *tagFile)
	if err != nil {
		return err
	}
	c := reg.New()
	return parallel(len(pairs), 8, func(i int) error { return verify(ctx, c, pairs[i][0], pairs[i][1]) })
}

// verify checks that dst's manifest bytes hash to src's digest, and that every
// child manifest and blob of the graph exists in dst's repository.
func verify(ctx context.Context, c *reg.Client, src, dst reg.Ref) error {
	sb, _, err := c.GetManifest(ctx, src)
	if err != nil {
		return fmt.Errorf("source %s: %w", src, err)
	}
	nodes, blobs, err := graph(ctx, c, dst)
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if got, want := nodes[len(nodes)-1].digest, reg.Digest(sb); got != want {
		return fmt.Errorf("%s has digest %s, source %s has %s", dst, got, src, want)
	}
	for d := range blobs {
		ok, err := c.HeadBlob(ctx, dst.Host, dst.Repo, d)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: blob %s missing", dst, d)
		}
	}
	return nil
}

func ceilingCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	tagFile := fs.String("tags", "", "file of tags; SRC and DST are then repositories")
	jobs := fs.Int("jobs", 1, "blobs (and tags) copied at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("want SRC DST")
	}
	pairs, err := refPairs(fs.Arg(0), fs.Arg(1), *tagFile)
	if err != nil {
		return err
	}
	c := reg.New()
	start := time.Now()
	type once struct {
		sync.Once
		err error
	}
	var (
		mu     sync.Mutex
		nbytes int64
		blobs  = map[string]*once{} // one upload per blob and destination repository, as a client would
	)
	copyBlob := func(src, dst reg.Ref, dgst string) error {
		rc, n, err := c.GetBlob(ctx, src.Host, src.Repo, dgst)
		if err != nil {
			return err
		}
		defer rc.Close()
		if err := c.PutBlob(ctx, dst.Host, dst.Repo, dgst, n, rc); err != nil {
			return fmt.Errorf("blob %s: %w", dgst, err)
		}
		mu.Lock()
		nbytes += n
		mu.Unlock()
		return nil
	}
	err = parallel(len(pairs), *jobs, func(i int) error {
		src, dst := pairs[i][0], pairs[i][1]
		nodes, refs, err := graph(ctx, c, src)
		if err != nil {
			return err
		}
		var todo []string
		var onces []*once
		mu.Lock()
		for d := range refs {
			k := dst.Repo + "@" + d
			if blobs[k] == nil {
				blobs[k] = &once{}
			}
			todo, onces = append(todo, d), append(onces, blobs[k])
		}
		mu.Unlock()
		err = parallel(len(todo), *jobs, func(j int) error {
			o := onces[j]
			o.Do(func() { o.err = copyBlob(src, dst, todo[j]) })
			return o.err
		})
		if err != nil {
			return err
		}
		for k, n := range nodes {
			ref := n.digest
			if k == len(nodes)-1 {
				ref = dst.Ref
			}
			if err := c.PutManifest(ctx, reg.Ref{Host: dst.Host, Repo: dst.Repo, Ref: ref}, n.mediaType, n.body); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "ceiling: jobs=%d %d refs %d MiB in %v (%.0f MiB/s)\n", *jobs, len(pairs), nbytes>>20, el.Round(time.Millisecond), float64(nbytes)/(1<<20)/el.Seconds())
	return nil
}
