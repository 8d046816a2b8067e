package rules_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/depcheck"
)

// rules reads and matches the config without the AWS SDK: validation is pure (it matches
// event.Push, so aws-lambda-go's plain event structs come in through event).
func TestStaysPure(t *testing.T) {
	t.Parallel()
	depcheck.Forbid(t, "internal/rules", depcheck.Pure...)
}
