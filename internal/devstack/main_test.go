package devstack

import (
	"os"
	"testing"

	"github.com/ecrsync/ecrsync/internal/tmpcheck"
)

// TestMain fails the run if a test leaves anything in the temp dir.
func TestMain(m *testing.M) { os.Exit(tmpcheck.Main(m, nil)) }
