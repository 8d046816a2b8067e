// Command ecrsync keeps container images in sync across registries, AWS accounts and Regions.
// It is a CLI, and the same binary runs as the AWS Lambda function when the Lambda runtime
// starts it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecrsync/ecrsync/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
