package lambda

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ecrsync/ecrsync/internal/rules"
)

// The EMF dimensions are bounded: the destination registry and the outcome, never the repository
// (a metric per repository would make thousands of billed custom metrics); the repository stays a
// plain property of the line.
func TestEMFDimensionsAreRegistryAndOutcomeNotRepository(t *testing.T) {
	h := &Handler{}
	fields := h.emf(Outcome{Outcome: OutcomeCopied, Bytes: 10, DurationMs: 5},
		rules.Target{Host: "222222222222.dkr.ecr.eu-west-1.amazonaws.com", Repository: "mirror/team/app", Tag: "v1"})
	line := map[string]any{}
	for i := 0; i < len(fields); i += 2 {
		line[fields[i].(string)] = fields[i+1]
	}
	b, err := json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		AWS struct {
			CloudWatchMetrics []struct{ Dimensions [][]string }
		} `json:"_aws"`
		Registry, Outcome, DestinationRepository string
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	dims := m.AWS.CloudWatchMetrics[0].Dimensions
	want := [][]string{{"Registry", "Outcome"}, {"Outcome"}}
	if !slices.EqualFunc(dims, want, slices.Equal) {
		t.Errorf("dimension sets %v, want %v", dims, want)
	}
	for _, set := range dims {
		for _, d := range set {
			if _, ok := line[d]; !ok {
				t.Errorf("dimension %s has no value in the line (CloudWatch would drop the metric)", d)
			}
		}
	}
	if m.Registry != "222222222222.dkr.ecr.eu-west-1.amazonaws.com" || m.Outcome != OutcomeCopied {
		t.Errorf("Registry %q, Outcome %q", m.Registry, m.Outcome)
	}
	if m.DestinationRepository != "mirror/team/app" {
		t.Errorf("DestinationRepository property %q, want the repository kept out of the dimensions but in the line", m.DestinationRepository)
	}
}
