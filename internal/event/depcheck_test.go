package event_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/depcheck"
)

// event decodes what AWS sends without the SDK: only aws-lambda-go's plain event structs may come in.
func TestStaysPure(t *testing.T) {
	t.Parallel()
	depcheck.Forbid(t, "internal/event", depcheck.Pure...)
}
