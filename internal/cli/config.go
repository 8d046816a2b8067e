package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/rules"
)

func newConfig(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the rules file",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE|-",
		Short: "Check a rules file and name the first bad field",
		Long: `Check a rules file (YAML or JSON; - reads standard input) as the Lambda function and every
command read it. On success it
prints each rule's source and resolved destinations, and warnings (a Region it does not know,
which may be new); on failure it names the bad field and its line, e.g.
rules[0].destinations[1].region (line 7), with the fix when it can guess it, and exits 2.`,
		Example: `  ecrsync config validate ecrsync.yaml
  ecrsync config validate ecrsync.yaml -o json      # on failure: {"error": ..., "exitCode": 2}
  echo "$ECRSYNC_CONFIG" | ecrsync config validate -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			var c *rules.Config
			var err error
			if args[0] == "-" {
				var data []byte
				if data, err = io.ReadAll(io.LimitReader(g.stdin, maxConfig+1)); err != nil {
					return fmt.Errorf("reading the config from standard input: %w", err)
				}
				if len(data) > maxConfig {
					return usageError{fmt.Errorf("standard input: a config larger than %d bytes", maxConfig)}
				}
				if c, err = rules.Load(data); err != nil {
					err = fmt.Errorf("standard input: %w", err)
				}
			} else {
				c, err = rules.LoadFile(args[0])
			}
			if err != nil {
				return usageError{err}
			}
			type dst struct {
				Registry   string `json:"registry"`
				Repository string `json:"repository"`
				ECR        bool   `json:"ecr"`
			}
			type rule struct {
				Repositories []string `json:"repositories"`
				Tags         []string `json:"tags"`
				Destinations []dst    `json:"destinations"`
			}
			out := struct {
				Valid    bool     `json:"valid"`
				Source   string   `json:"source"`
				Rules    []rule   `json:"rules"`
				Warnings []string `json:"warnings"`
			}{Valid: true, Source: c.Source.Host(), Warnings: c.Warnings()}
			if out.Warnings == nil {
				out.Warnings = []string{}
			}
			for _, r := range c.Rules {
				rr := rule{Repositories: orAll(r.Repositories), Tags: orAll(r.Tags)}
				for i := range r.Destinations {
					d := &r.Destinations[i]
					_, isECR := d.ECR()
					rr.Destinations = append(rr.Destinations, dst{Registry: d.Host(), Repository: d.Render(rules.RepositoryPlaceholder), ECR: isECR})
				}
				out.Rules = append(out.Rules, rr)
			}
			if g.output == "json" {
				return json.NewEncoder(g.stdout).Encode(out)
			}
			fmt.Fprintf(g.stdout, "%s: valid; source %s\n", args[0], out.Source)
			for i, r := range out.Rules {
				for _, d := range r.Destinations {
					fmt.Fprintf(g.stdout, "  rule %d: repositories %v tags %v -> %s/%s\n", i, r.Repositories, r.Tags, d.Registry, d.Repository)
				}
			}
			for _, w := range out.Warnings {
				fmt.Fprintf(g.stdout, "warning: %s\n", w)
			}
			return nil
		},
	})
	return cmd
}

// maxConfig bounds a config read from standard input (a file is read whole by rules.LoadFile).
const maxConfig = 4 << 20

func orAll(s []string) []string {
	if len(s) == 0 {
		return []string{"*"}
	}
	return s
}
