package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
)

// MessageKind is the value of the "ecrsync" key that marks a reconcile request.
const MessageKind = "reconcile"

// Message asks for a reconcile: of one repository ({"ecrsync":"reconcile","repository":"app"},
// the body of each fan-out message), or of everything ({"ecrsync":"reconcile"}, what a schedule
// sends; with a queue it becomes the fan-out).
type Message struct {
	Ecrsync    string `json:"ecrsync"`
	Repository string `json:"repository,omitempty"`
}

// ParseMessage reads a reconcile request; ok is false for anything else (an ECR event, say).
func ParseMessage(body []byte) (m Message, ok bool) {
	if json.Unmarshal(body, &m) != nil || m.Ecrsync != MessageKind {
		return Message{}, false
	}
	return m, true
}

// Queue takes message bodies; the Lambda's is SQS (SendMessageBatch, ten at a time).
type Queue interface {
	Send(ctx context.Context, bodies []string) error
}

// Fanout lists the repositories the rules select and sends one message per repository, so that
// each is reconciled by its own invocation: a registry of any size converges in parallel and no
// invocation runs into Lambda's 15 minutes. It returns how many messages it sent.
func (r *Reconciler) Fanout(ctx context.Context, q Queue) (int, error) {
	repos, err := r.Repositories(ctx)
	if err != nil {
		return 0, err
	}
	bodies := make([]string, 0, len(repos))
	for _, repo := range repos {
		b, err := json.Marshal(Message{Ecrsync: MessageKind, Repository: repo})
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
