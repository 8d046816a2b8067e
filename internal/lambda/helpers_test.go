package lambda_test

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
