package reconcile

import (
	"context"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// Blocked is a tag the rule's gates refuse (require: unsigned, untrusted signature, findings
// above max_severity, no completed scan): nothing is sent, and Reason says why. A blocked tag
// is the state the rules ask for, so it does not keep a reconcile from converging.
const Blocked Status = "blocked"

// Gate checks an image against a rule's gates; *promote.Checker is the one in use.
type Gate interface {
	Check(ctx context.Context, repo name.Repository, ref string, p *gate.Policy) (*gate.Verdict, error)
}

// gateTarget checks the gates of the rule behind it, if it has any. It returns the ref to copy
// (the checked digest, so a tag moved meanwhile is never copied unchecked) and whether the item
// is settled (blocked or failed). A reconcile never waits for a scan in progress: that image
// is held, and the scan-complete event or the next reconcile releases it.
func (r *Reconciler) gateTarget(ctx context.Context, src name.Repository, tag string, p *gate.Policy, it *Item) (string, bool) {
	if p == nil {
		return tag, false
	}
	if r.opts.Gate == nil {
		it.Status, it.Reason = Failed, "the rule has gates (require) but the reconciler has no gate checker"
		return "", true
	}
	if p.Scan != nil {
		q, s := *p, *p.Scan
		s.Wait = time.Nanosecond
		q.Scan = &s
		p = &q
	}
	v, err := r.opts.Gate.Check(ctx, src, tag, p)
	if err != nil {
		it.Status, it.Reason, it.Fix, it.Retryable = Failed, err.Error(), replicate.Hint(err), replicate.Retryable(err)
		return "", true
	}
	if v.Blocked {
		it.Status, it.Reason = Blocked, strings.Join(v.Reasons, "; ")
		return "", true
	}
	return v.Digest, false
}
