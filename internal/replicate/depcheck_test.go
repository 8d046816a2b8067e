package replicate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineStaysRegistryAgnostic keeps the copy engine free of AWS, Lambda and CLI code, as in
// go-containerregistry's depcheck: the engine is the part every entry point shares.
func TestEngineStaysRegistryAgnostic(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"github.com/ecrsync/ecrsync/internal/replicate", "github.com/ecrsync/ecrsync/internal/registry"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list found only %d deps of %s: the check would prove nothing", len(deps), pkg)
		}
		for _, d := range deps {
			for _, banned := range []string{"github.com/aws/", "github.com/spf13/cobra", "/internal/cli", "/internal/lambda", "/internal/ecr", "/internal/rules"} {
				if strings.Contains(d, banned) {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
}
