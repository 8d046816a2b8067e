package ref_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/depcheck"
)

// ref is the grammar every package shares: the standard library only.
func TestStaysPure(t *testing.T) {
	t.Parallel()
	depcheck.Forbid(t, "internal/ref", append(depcheck.Pure, "github.com/aws", "github.com/google/go-containerregistry", "github.com/opencontainers")...)
}
