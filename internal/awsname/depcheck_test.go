package awsname_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/depcheck"
)

// awsname names AWS things without the SDK: the pure packages build on it.
func TestStaysPure(t *testing.T) {
	t.Parallel()
	depcheck.Forbid(t, "internal/awsname", append(depcheck.Pure, "github.com/aws", "github.com/google/go-containerregistry")...)
}
