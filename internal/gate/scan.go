package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severities of ECR findings, basic (Clair-style) and enhanced (Amazon Inspector), lowest first.
// UNDEFINED (basic) and UNTRIAGED (enhanced) have no rank: they are counted and shown, and block
// only under max_severity NONE.
var Severities = []string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// SeverityNone as max_severity blocks on any finding at all.
const SeverityNone = "NONE"

// rank orders a severity: 1 for INFORMATIONAL to 5 for CRITICAL, 0 for an unranked one.
func rank(s string) int { return slices.Index(Severities, s) + 1 }

// ParseSeverity checks a max_severity: NONE or one of Severities, in any case; it returns the
// upper-case form.
func ParseSeverity(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == SeverityNone || rank(u) > 0 {
		return u, nil
	}
	return "", fmt.Errorf("%q: want one of NONE, %s (the highest severity let through)", s, strings.Join(Severities, ", "))
}

// Scan statuses of DescribeImageScanFindings (imageScanStatus.status).
const (
	ScanComplete   = "COMPLETE"    // basic scanning finished
	ScanActive     = "ACTIVE"      // enhanced scanning: scanned and watched continuously
	ScanInProgress = "IN_PROGRESS" // not done yet
	ScanPending    = "PENDING"     // enhanced scanning: queued
)

// ScanDone reports whether a status has findings to judge.
func ScanDone(status string) bool { return status == ScanComplete || status == ScanActive }

// ScanWaiting reports whether a status may still become ScanDone.
func ScanWaiting(status string) bool { return status == ScanInProgress || status == ScanPending }

// Finding is one vulnerability found in an image.
type Finding struct {
	ID       string `json:"id"`       // the CVE (or other advisory) ID
	Severity string `json:"severity"` // one of Severities, UNDEFINED or UNTRIAGED
}

// ScanResult is one manifest's scan, as ECR reports it.
type ScanResult struct {
	Digest   string         `json:"digest"`
	Status   string         `json:"status"`
	Reason   string         `json:"reason,omitempty"` // imageScanStatus.description
	Counts   map[string]int `json:"counts,omitempty"` // findings per severity
	Findings []Finding      `json:"-"`
}

// ErrNoScan means the image has no scan at all (ECR's ScanNotFoundException): scanning is not
// configured for the repository, or the image was pushed before it was.
var ErrNoScan = errors.New("no scan of this image")

// ScanReader reads a manifest's scan findings (ECR's DescribeImageScanFindings). It returns an
// error wrapping ErrNoScan when there is no scan.
type ScanReader interface {
	Findings(ctx context.Context, repository, digest string) (*ScanResult, error)
}

// ScanPolicy is what a rule asks of scans.
type ScanPolicy struct {
	// MaxSeverity is the highest severity let through; SeverityNone lets nothing through.
	MaxSeverity string
	// Wait is how long to wait, within one invocation, for a scan that is not complete;
	// 0 means DefaultScanWait.
	Wait time.Duration
	// Optional lets an image without any scan through (scan: {required: false}); by default it
	// is blocked.
	Optional bool
}

// DefaultScanWait is how long a promotion waits for a scan in progress when the rule does not
// say: short, because a waiting invocation holds one of the function's concurrent executions;
// the scan-complete event releases it later anyway.
const DefaultScanWait = 60 * time.Second

// DefaultMaxSeverity is max_severity when a rule asks for a scan without naming one: HIGH, so
// CRITICAL findings block.
const DefaultMaxSeverity = "HIGH"

// Judge says why results (one per manifest: an image, or every child of an index) do not pass
// the policy: nil when they do. Findings above MaxSeverity are listed per severity with the top
// CVE IDs, worst first.
func (p ScanPolicy) Judge(results []*ScanResult) []string {
	maxRank := rank(p.MaxSeverity)
	var reasons []string
	for _, r := range results {
		if !ScanDone(r.Status) {
			reasons = append(reasons, fmt.Sprintf("scan of %s is %s%s", r.Digest, r.Status, suffix(r.Reason)))
			continue
		}
		var over []string
		for i := len(Severities) - 1; i >= 0; i-- {
			s := Severities[i]
			if n := r.Counts[s]; n > 0 && (p.MaxSeverity == SeverityNone || rank(s) > maxRank) {
				over = append(over, fmt.Sprintf("%d %s", n, s))
			}
		}
		if p.MaxSeverity == SeverityNone {
			for _, s := range []string{"UNDEFINED", "UNTRIAGED"} {
				if n := r.Counts[s]; n > 0 {
					over = append(over, fmt.Sprintf("%d %s", n, s))
				}
			}
		}
		if len(over) == 0 {
			continue
		}
		msg := fmt.Sprintf("%s has findings above %s: %s", r.Digest, p.MaxSeverity, strings.Join(over, ", "))
		if top := TopFindings(r.Findings, p.MaxSeverity, 5); len(top) > 0 {
			msg += " (" + strings.Join(top, ", ") + ")"
		}
		reasons = append(reasons, msg)
	}
	return reasons
}

// TopFindings lists up to n finding IDs above max, worst first, each once.
func TopFindings(fs []Finding, max string, n int) []string {
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b Finding) int { return rank(b.Severity) - rank(a.Severity) })
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		if len(out) == n {
			break
		}
		if (max != SeverityNone && rank(f.Severity) <= rank(max)) || seen[f.ID] || f.ID == "" {
			continue
		}
		seen[f.ID] = true
		out = append(out, f.ID+" "+f.Severity)
	}
	return out
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
