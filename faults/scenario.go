// Package faults is the fault matrix: it copies a real multi-platform image between two real
// registries (internal/devstack) on 127.0.0.1 while internal/fault breaks the traffic of one
// side, runs ecrsync and its peers (crane, regctl, oras) through the same faults from the same
// seeds, and checks every destination with raw HTTP. `make faults` runs it in full and writes
// docs/faults.md; its test runs one seed of every fault.
package faults

import (
	"time"

	"github.com/ecrsync/ecrsync/internal/fault"
)

// Side is the end of a copy whose traffic is broken.
type Side string

// The two sides, and both at once.
const (
	Src  Side = "src"
	Dst  Side = "dst"
	Both Side = "both"
)

// Scenario is one row of the matrix: one fault on one side.
type Scenario struct {
	Name string
	Side Side
	// Kinds, Rate, Burst, Delay and Bandwidth configure the injector on Side.
	Kinds     []fault.Kind
	Rate      float64
	Burst     int
	Delay     time.Duration
	Bandwidth int64
	// Restart closes the destination registry (storage on disk) during the copy and starts it
	// again on the same address.
	Restart bool
	// Mismatch flips a byte of every download of one layer: the source is corrupt for good.
	Mismatch bool
	// Token puts Basic auth with an expiring token in front of Side: the token a client got
	// from its credential helper expires after a few requests, as ECR's does after 12 hours.
	Token bool
	// Mix, if set, puts faults on both sides at once, each kind at its own rate (Side is Both).
	Mix map[Side][]fault.Share
	// MinOK, if set, is the share of runs that must end with the exact digest; the others must
	// fail retryably (ecrsync: exit 3), saying what they tried, and never break the destination.
	// Zero means every run.
	MinOK float64
	// Permanent says the copy must fail, fast, with a classified error (exit 1); otherwise it
	// must succeed with the exact digest.
	Permanent bool
}

// mixed is issue 15's pair of faulty registries, rates scaled by k: the destination answers 10%
// 503, 5% 429 with Retry-After and drops 10% of blob uploads half way; the source answers 5%
// 503 and damages 10% of blob downloads.
func mixed(k float64) map[Side][]fault.Share {
	return map[Side][]fault.Share{
		Dst: {{Kind: fault.Status503, Rate: 0.10 * k}, {Kind: fault.ThrottleAfter, Rate: 0.05 * k}, {Kind: fault.ResetRequest, Rate: 0.10 * k}},
		Src: {{Kind: fault.Status503, Rate: 0.05 * k}, {Kind: fault.Corrupt, Rate: 0.10 * k}},
	}
}

// ID is a short stable name for logs and -run filters.
func (s Scenario) ID() string { return s.Name + "/" + string(s.Side) }

// transient is the share of requests hit by passing faults: a tenth, as issue 7 asks.
const transient = 0.1

// Matrix returns every scenario, transient ones first.
func Matrix() []Scenario {
	var out []Scenario
	both := func(s Scenario) {
		for _, side := range []Side{Src, Dst} {
			s.Side = side
			out = append(out, s)
		}
	}
	out = append(out,
		Scenario{Name: "reset mid-blob (download)", Side: Src, Kinds: []fault.Kind{fault.ResetResponse}, Rate: transient},
		Scenario{Name: "reset mid-blob (upload)", Side: Dst, Kinds: []fault.Kind{fault.ResetRequest}, Rate: transient},
		Scenario{Name: "stalled body 3s", Side: Src, Kinds: []fault.Kind{fault.Stall}, Rate: transient, Delay: 3 * time.Second},
	)
	both(Scenario{Name: "latency 150ms every request", Kinds: []fault.Kind{fault.Latency}, Rate: 1, Delay: 150 * time.Millisecond})
	both(Scenario{Name: "bandwidth 1 MiB/s", Bandwidth: 1 << 20})
	both(Scenario{Name: "5xx bursts (500/502/503 x3)", Kinds: []fault.Kind{fault.Status500, fault.Status502, fault.Status503}, Rate: transient, Burst: 3})
	both(Scenario{Name: "429 without Retry-After", Kinds: []fault.Kind{fault.Throttle}, Rate: transient})
	both(Scenario{Name: "429 with Retry-After: 1", Kinds: []fault.Kind{fault.ThrottleAfter}, Rate: transient})
	both(Scenario{Name: "expired-token 403 (once)", Kinds: []fault.Kind{fault.ExpiredToken}, Rate: transient})
	both(Scenario{Name: "token expires mid-copy", Token: true})
	out = append(out,
		Scenario{Name: "truncated body", Side: Src, Kinds: []fault.Kind{fault.Truncate}, Rate: transient},
		Scenario{Name: "corrupted blob (flipped byte)", Side: Src, Kinds: []fault.Kind{fault.Corrupt}, Rate: transient},
		Scenario{Name: "registry restarted mid-copy", Side: Dst, Restart: true, Bandwidth: 2 << 20},
	)
	both(Scenario{Name: "403 denied", Kinds: []fault.Kind{fault.Forbidden}, Rate: 1, Permanent: true})
	both(Scenario{Name: "404 NAME_UNKNOWN", Kinds: []fault.Kind{fault.NotFoundUnknown}, Rate: 1, Permanent: true})
	out = append(out, Scenario{Name: "digest mismatch that persists", Side: Src, Mismatch: true, Permanent: true})
	out = append(out,
		Scenario{Name: "mixed: dst 10% 503, 5% 429+RA, 10% resets; src 5% 503, 10% corrupt", Side: Both, Mix: mixed(1)},
		Scenario{Name: "mixed x2: dst 20% 503, 10% 429+RA, 20% resets; src 10% 503, 20% corrupt", Side: Both, Mix: mixed(2), MinOK: 0.95},
	)
	return out
}
