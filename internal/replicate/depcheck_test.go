package replicate_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/depcheck"
)

// replicate, the copy engine, is registry-agnostic (as in go-containerregistry's depcheck): no AWS, Lambda, CLI, rules or events.
func TestStaysPure(t *testing.T) {
	t.Parallel()
	depcheck.Forbid(t, "internal/replicate", append(depcheck.Pure, "github.com/aws", depcheck.Module+"/internal/rules", depcheck.Module+"/internal/event")...)
}
