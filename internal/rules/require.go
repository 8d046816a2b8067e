package rules

import (
	"fmt"
	"os"
	"time"

	"github.com/ecrsync/ecrsync/internal/gate"
)

// Require is a rule's promotion gates, all optional, checked before anything is sent:
//
//	require:
//	  signature:                 # at least one valid cosign signature by one of these keys
//	    keys: ["cosign.pub", "awskms:///arn:aws:kms:us-east-1:111111111111:key/...", "-----BEGIN PUBLIC KEY-----..."]
//	  scan:
//	    max_severity: HIGH       # the highest severity let through (NONE, INFORMATIONAL ... CRITICAL)
//	    wait: 10m                # how long one invocation waits for a scan in progress (default 60s)
//	    required: true           # false: an image without any scan passes
//
// An image its gates block is not copied; that is an outcome, not an error (internal/lambda).
type Require struct {
	Signature *RequireSignature `json:"signature,omitempty"`
	Scan      *RequireScan      `json:"scan,omitempty"`

	policy *gate.Policy // built by Validate
}

// RequireSignature lists the keys one of which must have signed the image.
type RequireSignature struct {
	// Keys are PEM public keys inline, paths of PEM files (read when the config is loaded;
	// relative to the working directory), or awskms:///ARN references.
	Keys []string `json:"keys"`
}

// RequireScan is what a rule asks of the image's scan findings.
type RequireScan struct {
	MaxSeverity string `json:"max_severity,omitempty"` // default gate.DefaultMaxSeverity
	Wait        string `json:"wait,omitempty"`         // a Go duration; default gate.DefaultScanWait
	Required    *bool  `json:"required,omitempty"`     // default true
}

// MaxScanWait bounds scan.wait: an invocation that waits longer than Lambda's 15 minutes is
// ended by Lambda, not by the gate.
const MaxScanWait = 15 * time.Minute

// readFile reads key files; a variable for tests of the error path only.
var readFile = os.ReadFile

// Policy returns the rule's gates as Validate built them; nil when the rule has none.
func (r *Rule) Policy() *gate.Policy {
	if r.Require == nil || r.Require.policy.Empty() {
		return nil
	}
	return r.Require.policy
}

// validateRequire checks require of a rule (field names the rule) and builds its policy.
func (r *Rule) validateRequire(field string) error {
	q := r.Require
	if q == nil {
		return nil
	}
	field += ".require"
	p := &gate.Policy{}
	if s := q.Signature; s != nil {
		if len(s.Keys) == 0 {
			return fieldErr(field+".signature.keys", "at least one key is needed: a PEM file path (cosign.pub), inline PEM, or awskms:///ARN")
		}
		for i, ref := range s.Keys {
			k, err := gate.LoadKey(ref, readFile)
			if err != nil {
				return fieldErr(fmt.Sprintf("%s.signature.keys[%d]", field, i), "%v", err)
			}
			p.Keys = append(p.Keys, k)
		}
	}
	if s := q.Scan; s != nil {
		sp := &gate.ScanPolicy{MaxSeverity: gate.DefaultMaxSeverity, Wait: gate.DefaultScanWait}
		if s.MaxSeverity != "" {
			sev, err := gate.ParseSeverity(s.MaxSeverity)
			if err != nil {
				return fieldErr(field+".scan.max_severity", "%v", err)
			}
			sp.MaxSeverity = sev
		}
		if s.Wait != "" {
			d, err := time.ParseDuration(s.Wait)
			if err != nil || d < 0 || d > MaxScanWait {
				return fieldErr(field+".scan.wait", "%q: want a duration from 0s to %s, like 60s or 10m", s.Wait, MaxScanWait)
			}
			sp.Wait = d
		}
		sp.Optional = s.Required != nil && !*s.Required
		p.Scan = sp
	}
	if p.Empty() {
		return fieldErr(field, "names no gate: give signature, scan or both (or remove require)")
	}
	q.policy = p
	return nil
}

// PropagatesDeletes reports whether a rule with propagate_deletes selects repository:tag.
func (c *Config) PropagatesDeletes(repository, tag string) bool {
	for _, t := range c.Match(repository, tag) {
		if c.Rules[t.Rule].PropagateDeletes {
			return true
		}
	}
	return false
}

// DeleteTargets lists the destinations (Tag empty) of the rules with propagate_deletes that
// select repository, each once: where `sync --prune` looks for tags the source no longer has.
func (c *Config) DeleteTargets(repository string) []Target {
	var out []Target
	seen := map[string]bool{}
	for i := range c.Rules {
		r := &c.Rules[i]
		if !r.PropagateDeletes || !matchAny(r.repos, repository) {
			continue
		}
		for j := range r.Destinations {
			d := &r.Destinations[j]
			t := Target{Rule: i, Dst: d, Host: d.host, Repository: d.Render(repository)}
			if key := t.Host + "/" + t.Repository; !seen[key] {
				seen[key] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// SelectsTag reports whether rule i selects tag.
func (c *Config) SelectsTag(i int, tag string) bool { return matchAny(c.Rules[i].tags, tag) }
