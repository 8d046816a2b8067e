package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/rules"
)

func newConfig(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the rules file",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a rules file and name the first bad field",
		Long: `Check a rules file (YAML or JSON) as the Lambda function and every command read it. On success it
prints each rule's source and resolved destinations, and warnings (a Region it does not know,
which may be new); on failure it names the bad field and its line, e.g.
rules[0].destinations[1].region (line 7), with the fix when it can guess it, and exits 2.`,
		Example: `  ecrsync config validate ecrsync.yaml
  ecrsync config validate ecrsync.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			c, err := rules.LoadFile(args[0])
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

func orAll(s []string) []string {
	if len(s) == 0 {
		return []string{"*"}
	}
	return s
}
