package lambda_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// newHandler builds the function's handler for cfg through the composition root, as the Lambda
// entry point does: one client, pacer and copier behind events and reconcile requests.
func newHandler(t *testing.T, cfg *rules.Config, o app.Options, ho app.HandlerOptions) *lambda.Handler {
	t.Helper()
	o.Rules = cfg
	o.QuietCopies = true // the handler writes one line per event and destination
	a, err := app.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return a.Handler(cfg, ho)
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
