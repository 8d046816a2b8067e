package reconcile

import (
	"context"
	"fmt"

	"github.com/ecrsync/ecrsync/internal/event"
)

// Queue takes message bodies; the Lambda's is SQS (SendMessageBatch, ten at a time).
type Queue interface {
	Send(ctx context.Context, bodies []string) error
}

// Fanout lists the repositories the rules select and sends one reconcile request per
// repository (event.ReconcileMessage), so that each is reconciled by its own invocation: a
// registry of any size converges in parallel and no invocation runs into Lambda's 15 minutes.
// It returns how many messages it sent.
func (r *Reconciler) Fanout(ctx context.Context, q Queue) (int, error) {
	repos, err := r.Repositories(ctx)
	if err != nil {
		return 0, err
	}
	bodies := make([]string, 0, len(repos))
	for _, repo := range repos {
		b, err := event.ReconcileMessage(repo)
		if err != nil {
			return 0, err
		}
		bodies = append(bodies, string(b))
	}
	if err := q.Send(ctx, bodies); err != nil {
		return 0, fmt.Errorf("queueing %d repositories: %w", len(bodies), err)
	}
	r.log.InfoContext(ctx, "reconcile fan-out", "repositories", len(bodies))
	return len(bodies), nil
}
