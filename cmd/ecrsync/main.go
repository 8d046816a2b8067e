// Command ecrsync keeps container images in sync across registries, AWS accounts and Regions.
// It is a CLI, and the same binary runs as the AWS Lambda function when the Lambda runtime
// starts it. Built with -tags lambdaonly (the Lambda package's bootstrap) it is that function
// alone: the same code without the CLI, whose command framework and templates would only add to
// the package and its start-up.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" && len(os.Args) == 1 {
		// Started by the Lambda runtime (provided.al2023): serve invocations.
		code = app.Lambda(ctx, "ecrsync/"+buildinfo.Get().Version+" (lambda)")
	} else {
		code = runCLI(ctx, os.Args[1:])
	}
	stop()
	os.Exit(code)
}
