// Command ecrsync keeps container images in sync across registries, AWS accounts and Regions.
// It is a CLI, and the same binary runs as the AWS Lambda function when the Lambda runtime
// starts it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" && len(os.Args) == 1 {
		// Started by the Lambda runtime (provided.al2023): serve invocations.
		code = app.Lambda(ctx, "ecrsync/"+cli.Version+" (lambda)")
	} else {
		code = cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}
