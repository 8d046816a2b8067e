//go:build !devstack

package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// errNoDevStack is what `ecrsync dev` says in a build without the dev stack.
var errNoDevStack = errors.New("`ecrsync dev` is not in this build: the embedded registries it runs would slow every other " +
	"command's start-up, so the ecrsync users download and the Lambda's bootstrap leave them out. " +
	"Run `make demo`, or build the dev binary with `make dev` (go build -tags devstack -o bin/ecrsync-dev ./cmd/ecrsync) " +
	"and run `bin/ecrsync-dev dev`")

func newDev(*globals) *cobra.Command {
	return &cobra.Command{
		Use:                "dev",
		Short:              "The whole event-driven sync on this machine (in the dev build: make dev, then bin/ecrsync-dev dev)",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errNoDevStack}
		},
	}
}
