package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/buildinfo"
)

// newVersion prints buildinfo's one line, the same `ecrsync --version` prints (root.go sets the
// version template to it) and the Lambda logs at init.
func newVersion(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			if g.output == "json" {
				return json.NewEncoder(g.stdout).Encode(buildinfo.Get())
			}
			fmt.Fprintln(g.stdout, buildinfo.String())
			return nil
		},
	}
}
