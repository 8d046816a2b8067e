package cli

import (
	"context"

	"github.com/ecrsync/ecrsync/internal/lambda"
)

// When the Lambda runtime starts the binary (AWS_LAMBDA_RUNTIME_API set, no arguments), Main
// runs the runtime loop with the event handler instead of the CLI.
func init() {
	lambdaMain = func(ctx context.Context) int { return lambda.Run(ctx, "ecrsync/"+Version+" (lambda)") }
}
