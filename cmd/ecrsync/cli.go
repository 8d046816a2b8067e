//go:build !lambdaonly

package main

import (
	"context"
	"os"

	"github.com/ecrsync/ecrsync/internal/cli"
)

// runCLI runs the command line.
func runCLI(ctx context.Context, args []string) int {
	return cli.Main(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}
