package faults

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Plan is what to run.
type Plan struct {
	Scenarios []Scenario
	Tools     []Tool
	// Seeds is how many seeded runs ecrsync gets per scenario (seeds 1..Seeds); PeerSeeds how
	// many each peer gets (the first PeerSeeds of the same seeds).
	Seeds, PeerSeeds int
	// Parallel is how many runs go at once.
	Parallel int
}

// All runs the plan and calls done after each run (from one goroutine at a time).
func (rn *Runner) All(ctx context.Context, p Plan, done func(Run)) []Run {
	type job struct {
		sc   Scenario
		tool Tool
		seed uint64
	}
	var jobs []job
	for _, sc := range p.Scenarios {
		for _, t := range p.Tools {
			n := p.Seeds
			if t.Name != "ecrsync" {
				n = p.PeerSeeds
			}
			for s := 1; s <= n; s++ {
				jobs = append(jobs, job{sc, t, uint64(s)})
			}
		}
	}
	ch := make(chan job)
	var mu sync.Mutex
	var runs []Run
	var wg sync.WaitGroup
	for range max(p.Parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				r := rn.Run(ctx, j.sc, j.tool, j.seed)
				mu.Lock()
				runs = append(runs, r)
				if done != nil {
					done(r)
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	return runs
}

// Row sums the runs of one tool under one scenario.
type Row struct {
	Scenario  Scenario
	Tool      string
	Runs      int
	Outcomes  map[Outcome]int
	Exits     map[int]int
	Faults    int
	Requests  []int64
	Retries   []int
	Durations []time.Duration
	Err       string // one failure's message, as an example
	Problems  []string
	Seeds     []uint64 // seeds that did not end as expected
}

// Pass reports whether the row keeps the promise: transient faults end in the exact image every
// time; permanent ones fail every time, cleanly (exit 1 for ecrsync), and fast (within 10 s).
func (r Row) Pass() bool {
	if r.Outcomes[Broken] > 0 || r.Outcomes[Setup] > 0 || r.Outcomes[Timeout] > 0 {
		return false
	}
	if r.Scenario.MinOK > 0 {
		// The runs that did not converge must have failed as retryable, saying so (ecrsync: exit 3).
		need := int(math.Ceil(r.Scenario.MinOK * float64(r.Runs)))
		return r.Outcomes[OK] >= need && (r.Tool != "ecrsync" || r.Exits[3] == r.Outcomes[Failed])
	}
	if !r.Scenario.Permanent {
		return r.Outcomes[OK] == r.Runs
	}
	if r.Outcomes[Failed] != r.Runs || pct(r.Durations, 100) > 10*time.Second {
		return false
	}
	return r.Tool != "ecrsync" || r.Exits[1] == r.Runs
}

// Rows groups runs by scenario and tool, in the plan's order.
func Rows(p Plan, runs []Run) []Row {
	idx := map[string]*Row{}
	var rows []*Row
	for _, sc := range p.Scenarios {
		for _, t := range p.Tools {
			r := &Row{Scenario: sc, Tool: t.Name, Outcomes: map[Outcome]int{}, Exits: map[int]int{}}
			idx[sc.ID()+"|"+t.Name] = r
			rows = append(rows, r)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Seed < runs[j].Seed })
	for _, run := range runs {
		r := idx[run.Scenario.ID()+"|"+run.Tool]
		if r == nil {
			continue
		}
		r.Runs++
		r.Outcomes[run.Outcome]++
		if run.Outcome == Failed || run.Outcome == OK {
			r.Exits[run.Exit]++
		}
		r.Faults += run.Faults
		r.Requests = append(r.Requests, run.Requests)
		if run.Retries >= 0 {
			r.Retries = append(r.Retries, run.Retries)
		}
		r.Durations = append(r.Durations, run.Duration)
		if run.Err != "" && r.Err == "" {
			r.Err = run.Err
		}
		if run.Problem != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("seed %d: %s", run.Seed, run.Problem))
		}
		bad := run.Outcome != OK
		if run.Scenario.Permanent {
			bad = run.Outcome != Failed || run.Tool == "ecrsync" && run.Exit != 1
		}
		if bad {
			r.Seeds = append(r.Seeds, run.Seed)
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		if r.Runs > 0 {
			out = append(out, *r)
		}
	}
	return out
}

// Markdown writes the matrix.
func Markdown(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| fault | side | expect | tool | runs | ok | failed (exit codes) | broken | timeout | faults injected | requests (median) | retries (median / max) | time (median / max) | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---|---|---|")
	for _, r := range rows {
		expect := "exact digest"
		if r.Scenario.MinOK > 0 {
			expect = fmt.Sprintf("exact digest ≥ %.0f%%, else exit 3", 100*r.Scenario.MinOK)
		}
		if r.Scenario.Permanent {
			expect = "fail fast"
		}
		retries := "n/a"
		if len(r.Retries) > 0 {
			retries = fmt.Sprintf("%d / %d", pcti(r.Retries, 50), pcti(r.Retries, 100))
		}
		verdict := "pass"
		if !r.Pass() {
			verdict = "**FAIL**"
			if len(r.Seeds) > 0 {
				verdict += fmt.Sprintf(" (seeds %s)", seedList(r.Seeds))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %s | %d | %d | %d | %d | %s | %s / %s | %s |\n",
			r.Scenario.Name, r.Scenario.Side, expect, r.Tool, r.Runs, r.Outcomes[OK], failed(r), r.Outcomes[Broken],
			r.Outcomes[Timeout], r.Faults, pct64(r.Requests, 50), retries,
			round(pct(r.Durations, 50)), round(pct(r.Durations, 100)), verdict)
	}
}

// Errors writes, for every row with failures, one example of what the tool said.
func Errors(w io.Writer, rows []Row) {
	for _, r := range rows {
		if r.Err == "" && len(r.Problems) == 0 {
			continue
		}
		fmt.Fprintf(w, "- **%s (%s), %s**", r.Scenario.Name, r.Scenario.Side, r.Tool)
		if r.Err != "" {
			fmt.Fprintf(w, ": `%s`", strings.ReplaceAll(r.Err, "`", "'"))
		}
		fmt.Fprintln(w)
		for i, p := range r.Problems {
			if i == 3 {
				fmt.Fprintf(w, "  - … and %d more\n", len(r.Problems)-3)
				break
			}
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
}

func failed(r Row) string {
	n := r.Outcomes[Failed]
	if n == 0 {
		return "0"
	}
	var codes []int
	for c := range r.Exits {
		if c != 0 {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", r.Exits[c], c))
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

func seedList(s []uint64) string {
	var parts []string
	for i, v := range s {
		if i == 8 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ",")
}

func round(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)-1)*p/100)]
}

func pcti(ds []int, p int) int {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)-1)*p/100)]
}

func pct64(ds []int64, p int) int64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)-1)*p/100)]
}
