package rules_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/depcheck"
)

// rules reads and matches the config without AWS: validation is pure.
func TestStaysPure(t *testing.T) {
	t.Parallel()
	depcheck.Forbid(t, "internal/rules", append(depcheck.Pure, "github.com/aws")...)
}
