package registry_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/depcheck"
)

// registry is the OCI client every entry point shares: no AWS, Lambda, CLI or rules.
func TestStaysPure(t *testing.T) {
	t.Parallel()
	depcheck.Forbid(t, "internal/registry", append(depcheck.Pure, "github.com/aws", depcheck.Module+"/internal/rules", depcheck.Module+"/internal/event")...)
}
