package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The targets of issue 6, as ratios measured in one run.
const (
	targetCold    = 0.8  // ecrsync cold median <= 0.8 x the fastest peer's
	targetWarm    = 0.5  // ecrsync warm median <= 0.5 x the fastest peer's
	targetBigRSS  = 64   // MiB, ecrsync peak RSS on the big layer
	targetBurst   = 2.0  // ecrsync images/s >= 2 x the fastest peer's
	targetCeiling = 0.80 // ecrsync cold throughput >= 80% of the parallel ceiling's
)

var (
	workloadOrder = []string{"cold", "index", "warm", "burst", "burst-batch", "big"}
	toolOrder     = []string{"ecrsync", "crane", "regctl", "regsync", "oras", "skopeo", "ceiling-seq", "ceiling-par"}
	peers         = []string{"crane", "regctl", "regsync", "oras", "skopeo"}
	workloadTitle = map[string]string{
		"cold": "1. Cold copy", "index": "2. Multi-platform index", "warm": "3. Warm copy (everything already there)",
		"burst": "4. Burst of tags, one invocation per tag", "burst-batch": "4b. Burst of tags, batch modes",
		"big": "5. One big layer",
	}
)

type sample struct {
	secs     float64
	rss      int64   // KiB
	cpu, srv float64 // seconds of CPU: the tool's, the registries'
	ok       bool
}

type stats struct {
	n, ok          int
	med, lo, hi    float64
	rssMed, rssMax int64 // KiB
	cpuMed, srvMed float64
	statuses       []string
}

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	resultsPath := fs.String("results", "", "results.tsv from run.sh")
	metaPath := fs.String("meta", "", "meta.tsv from run.sh")
	out := fs.String("out", "RESULTS.md", "report to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	meta := map[string]string{}
	lines, err := readLines(*metaPath)
	if err != nil {
		return err
	}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "\t")
		meta[k] = v
	}
	samples := map[string]map[string][]sample{}
	statuses := map[string]map[string][]string{}
	lines, err = readLines(*resultsPath)
	if err != nil {
		return err
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 8 {
			return fmt.Errorf("bad result line %q", l)
		}
		secs, _ := strconv.ParseFloat(f[3], 64)
		rss, _ := strconv.ParseInt(f[4], 10, 64)
		cpu, _ := strconv.ParseFloat(f[5], 64)
		srv, _ := strconv.ParseFloat(f[6], 64)
		if samples[f[0]] == nil {
			samples[f[0]], statuses[f[0]] = map[string][]sample{}, map[string][]string{}
		}
		samples[f[0]][f[1]] = append(samples[f[0]][f[1]], sample{secs, rss, cpu, srv, f[7] == "ok"})
		if f[7] != "ok" {
			statuses[f[0]][f[1]] = append(statuses[f[0]][f[1]], "run "+f[2]+": "+f[7])
		}
	}
	st := map[string]map[string]stats{}
	for w, byTool := range samples {
		st[w] = map[string]stats{}
		for t, ss := range byTool {
			s := summarize(ss)
			s.statuses = statuses[w][t]
			st[w][t] = s
		}
	}
	var b strings.Builder
	writeReport(&b, meta, st)
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

func summarize(ss []sample) stats {
	s := stats{n: len(ss)}
	var secs []float64
	var rss []int64
	var cpu, srv []float64
	for _, x := range ss {
		if !x.ok {
			continue
		}
		s.ok++
		secs = append(secs, x.secs)
		rss = append(rss, x.rss)
		cpu = append(cpu, x.cpu)
		srv = append(srv, x.srv)
	}
	if s.ok == 0 {
		return s
	}
	slices.Sort(secs)
	slices.Sort(rss)
	s.med, s.lo, s.hi = median(secs), secs[0], secs[len(secs)-1]
	s.rssMed, s.rssMax = int64(median(toF(rss))), rss[len(rss)-1]
	slices.Sort(cpu)
	slices.Sort(srv)
	s.cpuMed, s.srvMed = median(cpu), median(srv)
	return s
}

func toF(xs []int64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func mib(kib int64) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

// fastestPeer returns the peer with the lowest median among those with a successful run.
func fastestPeer(ws map[string]stats) (string, stats, bool) {
	var best string
	var bs stats
	for _, p := range peers {
		s, ok := ws[p]
		if !ok || s.ok == 0 {
			continue
		}
		if best == "" || s.med < bs.med {
			best, bs = p, s
		}
	}
	return best, bs, best != ""
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func writeReport(b *strings.Builder, meta map[string]string, st map[string]map[string]stats) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("# ecrsync benchmark results\n\n")
	p("Written by `make bench` (`bench/run.sh`) on %s. Do not edit by hand; rerun instead.\n", meta["date"])
	if meta["quick"] == "1" {
		p("\n**Quick mode (BENCH_QUICK=1): small sizes, a smoke test; the numbers say nothing about speed.**\n")
	}
	if peak, n := peakLoad(meta); peak > n && n > 0 {
		p("\n**The machine was shared and busy: the 1-minute load average reached %.2f on %.0f cores during the run.** "+
			"Wall times are inflated and noisy (see the ranges); a difference between two tools smaller than their ranges "+
			"is not a result. CPU seconds and peak RSS are less affected than wall time.\n", peak, n)
	}
	p("\n## Machine and versions\n\n| | |\n|---|---|\n")
	for _, k := range []string{"cpu", "nproc", "memory", "kernel", "storage", "go"} {
		p("| %s | %s |\n", k, meta[k])
	}
	p("| runs per tool and workload | %s, interleaved (tool order rotated each run) |\n", meta["runs"])
	if l := meta["load.start"]; l != "" {
		p("| load average (1/5/15 min) | %s at the start, %s at the end: the machine is shared, other work ran meanwhile (per workload below) |\n", l, meta["load.end"])
	}
	for _, t := range []string{"ecrsync", "crane", "regctl", "regsync", "oras", "skopeo", "registry"} {
		v := meta["version."+t]
		if v == "" {
			v = "not measured"
		}
		p("| %s | %s |\n", t, v)
	}

	// Targets.
	p("\n## Targets (issue 6)\n\n| target | measured | |\n|---|---|---|\n")
	ec := func(w string) (stats, bool) { s, ok := st[w]["ecrsync"]; return s, ok && s.ok > 0 }
	if e, ok := ec("cold"); ok {
		if name, f, ok := fastestPeer(st["cold"]); ok {
			r := e.med / f.med
			p("| cold ≤ %.1f × fastest peer | %.2f × %s (%.2fs vs %.2fs) | %s |\n", targetCold, r, name, e.med, f.med, verdict(r <= targetCold))
		}
		if c, ok := st["cold"]["ceiling-par"]; ok && c.ok > 0 {
			r := c.med / e.med
			p("| cold ≥ %.0f%% of parallel ceiling's throughput | %.0f%% (%.2fs vs ceiling %.2fs) | %s |\n", targetCeiling*100, r*100, e.med, c.med, verdict(r >= targetCeiling))
		}
	}
	if e, ok := ec("warm"); ok {
		if name, f, ok := fastestPeer(st["warm"]); ok {
			r := e.med / f.med
			p("| warm ≤ %.1f × fastest peer | %.2f × %s (%.3fs vs %.3fs) | %s |\n", targetWarm, r, name, e.med, f.med, verdict(r <= targetWarm))
		}
	}
	for _, w := range []string{"burst", "burst-batch"} {
		if e, ok := ec(w); ok {
			if name, f, ok := fastestPeer(st[w]); ok {
				r := f.med / e.med // images/s ratio
				p("| %s ≥ %.0f × fastest peer's images/s | %.2f × %s (%.1f vs %.1f images/s) | %s |\n", w, targetBurst, r, name,
					imagesPerSec(meta, w, e.med), imagesPerSec(meta, w, f.med), verdict(r >= targetBurst))
			}
		}
	}
	if e, ok := ec("big"); ok {
		p("| big layer peak RSS ≤ %d MiB | %s MiB (max of %d runs) | %s |\n", targetBigRSS, mib(e.rssMax), e.ok, verdict(e.rssMax <= targetBigRSS*1024))
	}
	if _, ok := ec("cold"); !ok {
		p("| all | ecrsync was not measured | |\n")
	}

	// Per workload.
	for _, w := range workloadOrder {
		ws, ok := st[w]
		if !ok {
			continue
		}
		p("\n## %s\n\n%s.", workloadTitle[w], meta["desc."+w])
		if lb, la := meta["load.before."+w], meta["load.after."+w]; lb != "" {
			p(" Load average %s before, %s after.", lb, la)
		}
		bytes, _ := strconv.ParseFloat(meta["bytes."+w], 64)
		images, _ := strconv.ParseFloat(meta["images."+w], 64)
		if bytes > 0 && w != "warm" {
			p(" Source: %.0f MiB of blobs and manifests.", bytes/(1<<20))
		}
		p("\n\n| tool | median s | range s | × ecrsync | ")
		switch {
		case images > 0:
			p("images/s | ")
		case bytes > 0 && w != "warm":
			p("MiB/s | ")
		}
		p("peak RSS MiB (median / max) | CPU s: tool | CPU s: registries | ok runs |\n|---|---:|---:|---:|")
		if images > 0 || (bytes > 0 && w != "warm") {
			p("---:|")
		}
		p("---:|---:|---:|---:|\n")
		e, hasE := ws["ecrsync"]
		for _, t := range toolOrder {
			s, ok := ws[t]
			if !ok {
				continue
			}
			if s.ok == 0 {
				p("| %s | – | – | – | ", t)
				if images > 0 || (bytes > 0 && w != "warm") {
					p("– | ")
				}
				p("– | – | – | 0/%d |\n", s.n)
				continue
			}
			ratio := "–"
			if hasE && e.ok > 0 {
				ratio = fmt.Sprintf("%.2f", s.med/e.med)
			}
			p("| %s | %.3f | %.3f – %.3f | %s | ", t, s.med, s.lo, s.hi, ratio)
			switch {
			case images > 0:
				p("%.1f | ", images/s.med)
			case bytes > 0 && w != "warm":
				p("%.0f | ", bytes/(1<<20)/s.med)
			}
			p("%s / %s | %.2f | %.2f | %d/%d |\n", mib(s.rssMed), mib(s.rssMax), s.cpuMed, s.srvMed, s.ok, s.n)
		}
		for _, t := range toolOrder {
			for _, m := range ws[t].statuses {
				p("\n- %s %s", t, m)
			}
		}
		if len(ws) > 0 {
			p("\n")
		}
	}

	p("\n## How each tool is run\n\n")
	for _, t := range toolOrder {
		if c := meta["cmd."+t]; c != "" {
			p("- **%s**: `%s`\n", t, c)
		}
	}
	if c := meta["cmd.batch"]; c != "" {
		p("- **batch modes (burst-batch)**: %s\n", c)
	}
	p(`
Notes:
- "× ecrsync" is the tool's median wall time over ecrsync's: above 1 means slower than ecrsync.
- Wall time is the whole process (start-up included). ` + "`benchtool exec`" + ` runs each command and reads
  wait4's rusage: peak RSS is ru_maxrss (what GNU time's %%M prints) of the largest process (for a
  per-tag loop: the largest invocation); "CPU s: tool" is user+system time of the tool's processes;
  "CPU s: registries" is what both registries spent meanwhile (/proc). The machine has 2 cores that the
  tool and both registries share, so CPU a tool spends is CPU the registries do not get.
- Every run is verified: the destination's manifest must hash to the source's digest, and every child
  manifest and blob must be in the destination repository. A run that fails either check is left out of
  the statistics and listed under its table.
- Each workload gets two fresh distribution registries on 127.0.0.1 with storage on tmpfs; skopeo's
  blob-info cache is deleted before every run so that it uploads instead of mounting.
- Every tool runs with its default concurrency; the images have no referrers.
- The ceiling is bench/cmd/benchtool: GET each blob from the source and stream it into one POST +
  monolithic PUT at the destination, no existence checks, then PUT the manifests.
`)
}

func imagesPerSec(meta map[string]string, w string, secs float64) float64 {
	n, _ := strconv.ParseFloat(meta["images."+w], 64)
	return n / secs
}

// peakLoad returns the highest 1-minute load average recorded (load.* meta keys) and nproc.
func peakLoad(meta map[string]string) (peak, nproc float64) {
	nproc, _ = strconv.ParseFloat(meta["nproc"], 64)
	for k, v := range meta {
		if !strings.HasPrefix(k, "load.") {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if x, err := strconv.ParseFloat(f[0], 64); err == nil && x > peak {
			peak = x
		}
	}
	return peak, nproc
}
