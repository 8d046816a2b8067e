package gate

import "fmt"

// Policy is what a rule requires of an image before it is promoted. The zero value requires
// nothing.
type Policy struct {
	// Keys: at least one valid signature by one of them over the exact digest; none = no
	// signature needed.
	Keys []Key
	// Scan, if set, asks for a completed scan no worse than its MaxSeverity.
	Scan *ScanPolicy
}

// Empty reports whether the policy requires nothing.
func (p *Policy) Empty() bool { return p == nil || len(p.Keys) == 0 && p.Scan == nil }

// Verdict is the outcome of checking one image against a Policy.
type Verdict struct {
	Digest string `json:"digest"`
	// Blocked is true when the image may not be promoted; Reasons say why.
	Blocked bool     `json:"blocked"`
	Reasons []string `json:"reasons,omitempty"`
	// Pending is true when it was blocked only because a scan had not completed within the
	// wait: the scan-complete event will release it.
	Pending bool `json:"pending,omitempty"`
	// SignedBy names the key that verified a signature, when one did.
	SignedBy string `json:"signedBy,omitempty"`
	// KeysTried names the keys the signatures were checked against.
	KeysTried []string `json:"keysTried,omitempty"`
	// Signatures counts the signatures looked at (every layer of the .sig manifest, every
	// bundle referrer).
	Signatures int `json:"signatures"`
	// Scans are the scan results judged: the image's, or each child's of an index.
	Scans []*ScanResult `json:"scans,omitempty"`
}

// Block marks the verdict blocked for reason.
func (v *Verdict) Block(format string, a ...any) {
	v.Blocked = true
	v.Reasons = append(v.Reasons, fmt.Sprintf(format, a...))
}

// BlockedError is returned by operations (ecrsync copy) that refuse an image its gates block.
type BlockedError struct{ Verdict *Verdict }

func (e *BlockedError) Error() string {
	s := "blocked " + e.Verdict.Digest + ":"
	for i, r := range e.Verdict.Reasons {
		if i > 0 {
			s += ";"
		}
		s += " " + r
	}
	return s
}
