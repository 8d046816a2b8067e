package lambda

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/promote"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// OutcomeBlocked: the rule's gates refused the image (unsigned, signed by no trusted key, a scan
// with findings above the rule's max_severity, or no completed scan). Nothing was sent and the
// destination is as it was. It is not an error: Lambda does not retry it and nothing goes to the
// failure destination; the line's gate field says why, and the scan-complete event or a new
// signature followed by a new push releases a held image.
const OutcomeBlocked = "blocked"

// errNoChecker is a rule with gates in a handler built without a gate checker (a bug in the
// composition root, never a configuration error).
var errNoChecker = errors.New("the rule has gates (require) but the handler has no gate checker")

// gateMemo shares one gate check per rule among the destinations of one event: the image is the
// same, and a scan wait is waited once.
type gateMemo struct {
	mu   sync.Mutex
	done map[*gate.Policy]*gateCall
}

type gateCall struct {
	once sync.Once
	v    *gate.Verdict
	err  error
}

func (m *gateMemo) check(ctx context.Context, c *promote.Checker, repo name.Repository, ref string, p *gate.Policy) (*gate.Verdict, error) {
	m.mu.Lock()
	if m.done == nil {
		m.done = map[*gate.Policy]*gateCall{}
	}
	call, ok := m.done[p]
	if !ok {
		call = &gateCall{}
		m.done[p] = call
	}
	m.mu.Unlock()
	call.once.Do(func() { call.v, call.err = c.Check(ctx, repo, ref, p) })
	return call.v, call.err
}

// copyGated promotes tag of srcRepo to dstRepo only if the image passes p: it checks what the
// tag points at now, then copies that digest (never the tag again, which may have moved to an
// image nobody checked). If the source tag moved during the copy, the new image is checked and
// copied in turn, up to maxFollow times, so that the last writer leaves the newest image or
// nothing newer. For a rule with platforms, the gate checks the source image (its signature is
// on the source's digest) and the selection is made from that checked digest: one platform is
// a manifest the source index lists, so its signature, if any, comes along; several are a new
// index that no signature covers, which the engine's log says when it puts it.
func (h *Handler) copyGated(ctx context.Context, o Outcome, start time.Time, srcRepo, dstRepo name.Repository, t rules.Target, tag string, p *gate.Policy, memo *gateMemo) Outcome {
	if h.Gate == nil {
		o.Outcome, o.Reason, o.Fix, o.err = OutcomeNeedsAction, errNoChecker.Error(), "report this as a bug", errNoChecker
		return o
	}
	fail := func(err error) Outcome {
		o.DurationMs = time.Since(start).Milliseconds()
		o.failWith(err, t)
		return o
	}
	copied := false
	for attempt := 0; attempt < maxFollow; attempt++ {
		var v *gate.Verdict
		var err error
		if attempt == 0 {
			v, err = memo.check(ctx, h.Gate, srcRepo, tag, p)
		} else {
			v, err = h.Gate.Check(ctx, srcRepo, tag, p)
		}
		if err != nil {
			return fail(err)
		}
		o.Gate = v
		if v.Blocked {
			o.DurationMs = time.Since(start).Milliseconds()
			o.Outcome, o.Reason = OutcomeBlocked, strings.Join(v.Reasons, "; ")
			return o
		}
		res, err := h.copy(ctx, srcRepo, v.Digest, dstRepo, tag, t)
		if !o.RepositoryCreated {
			var again bool
			if again, err = h.createMissing(ctx, srcRepo.RepositoryStr(), t, err); again {
				o.RepositoryCreated = true
				res, err = h.copy(ctx, srcRepo, v.Digest, dstRepo, tag, t)
			}
		}
		if res != nil {
			o.Digest = res.Digest.String()
			o.Bytes += res.BytesSent
			o.BlobsSkipped += res.BlobsSkipped
			copied = copied || !res.UpToDate
		}
		if err != nil {
			return fail(err)
		}
		if res.UpToDate {
			break
		}
		now, err := h.Gate.Client.Repository(srcRepo).Head(ctx, tag)
		if err != nil || now.Digest.String() == v.Digest {
			break // gone or unchanged: what was checked is what the tag points at
		}
	}
	o.DurationMs = time.Since(start).Milliseconds()
	o.Outcome = OutcomeInSync
	if copied {
		o.Outcome = OutcomeCopied
	}
	return o
}
