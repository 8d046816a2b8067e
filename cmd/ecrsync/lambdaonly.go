//go:build lambdaonly

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ecrsync/ecrsync/internal/buildinfo"
)

// runCLI of the Lambda build knows `version` alone: everything else is the CLI's, which this
// build leaves out.
func runCLI(_ context.Context, args []string) int {
	if len(args) == 1 && (args[0] == "version" || args[0] == "--version") {
		fmt.Println(buildinfo.String())
		return 0
	}
	fmt.Fprintln(os.Stderr, "ecrsync: this is the Lambda function's build (bootstrap, -tags lambdaonly): it serves the Lambda runtime only (AWS_LAMBDA_RUNTIME_API set, no arguments). For the commands, build or download the ecrsync CLI (make build).")
	return 2
}
