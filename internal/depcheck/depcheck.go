// Package depcheck keeps packages pure: a test in each package that must stay free of the AWS
// SDK, the Lambda runtime, the CLI framework or the embedded registry asks `go list -deps` what
// it links and fails on anything forbidden (as go-containerregistry's internal/depcheck does).
// Only tests import it.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// Module is ecrsync's module path.
const Module = "github.com/ecrsync/ecrsync"

// Pure lists what no pure package may link: the AWS SDK (and smithy under it), the Lambda
// runtime loop, cobra, CNCF distribution (the dev stack's registry), and the packages of
// ecrsync built on them. aws-lambda-go/events (plain structs) is not in it.
var Pure = []string{
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/smithy-go",
	"github.com/aws/aws-lambda-go/lambda",
	"github.com/spf13/cobra",
	"github.com/distribution/distribution",
	Module + "/internal/ecr",
	Module + "/internal/lambda",
	Module + "/internal/cli",
	Module + "/internal/devstack",
	Module + "/internal/reconcile",
}

// Forbid fails t if pkg (a path inside the module, like "internal/event") links any package
// whose import path is, or is under, one of forbidden.
func Forbid(t testing.TB, pkg string, forbidden ...string) {
	t.Helper()
	path := Module + "/" + pkg
	deps := Deps(t, path)
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") || strings.HasPrefix(d, f+".") {
				t.Errorf("%s depends on %s (forbidden: %s)", pkg, d, f)
			}
		}
	}
}

// Deps returns the import paths pkg links, itself and the standard library included.
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || deps[len(deps)-1] != pkg {
		t.Fatalf("go list found %d deps of %s: the check would prove nothing", len(deps), pkg)
	}
	return deps
}
