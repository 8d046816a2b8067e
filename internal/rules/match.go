package rules

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/ref"
)

// FromSource reports whether p happened in the configured source registry, and if not, why.
// When the source is an ECR registry the event's account and Region must be the source's (the
// host in an EventBridge event is derived from them); otherwise the registry hosts must be equal.
func (c *Config) FromSource(p event.Push) (bool, string) {
	if l, ok := c.Source.ECR(); ok && p.Source == event.SourceECR {
		if p.Account != l.Account || p.Region != l.Region {
			return false, fmt.Sprintf("event from account %s in %s, but the source is account %s in %s", p.Account, p.Region, l.Account, l.Region)
		}
		return true, ""
	}
	if !strings.EqualFold(p.Registry, c.Source.host) {
		return false, fmt.Sprintf("event from registry %s, but the source is %s", p.Registry, c.Source.host)
	}
	return true, ""
}

// Match returns the copies a push of repository:tag calls for, across every rule, without
// duplicates (two rules naming one destination copy once, under the rule with gates if one has
// them) and never onto the source itself.
// It does not check that the push came from the source: see FromSource.
func (c *Config) Match(repository, tag string) []Target {
	if !ref.ValidRepository(repository) || !ref.ValidTag(tag) {
		return nil
	}
	var out []Target
	seen := map[string]int{} // destination host/repository -> its index in out
	for i := range c.Rules {
		r := &c.Rules[i]
		if !matchAny(r.repos, repository) || !matchAny(r.tags, tag) {
			continue
		}
		for j := range r.Destinations {
			d := &r.Destinations[j]
			t := Target{Rule: i, Dst: d, Host: d.host, Repository: d.Render(repository), Tag: tag}
			if !ref.ValidRepository(t.Repository) {
				continue // a template that makes the name too long: Validate cannot know every name
			}
			key := t.Host + "/" + t.Repository
			if t.Host == c.Source.host && t.Repository == repository {
				continue
			}
			if k, dup := seen[key]; dup {
				// Two rules select one destination: it is copied once, under a rule with gates if
				// either has them, so an earlier rule without require can never let an image past
				// a later rule's gate.
				if c.Rules[out[k].Rule].Policy() == nil && r.Policy() != nil {
					out[k] = t
				}
				continue
			}
			seen[key] = len(out)
			out = append(out, t)
		}
	}
	return out
}

// Render applies the destination's repository template to a source repository name.
func (d *Destination) Render(repository string) string {
	if d.Repository == "" {
		return repository
	}
	return strings.ReplaceAll(d.Repository, RepositoryPlaceholder, repository)
}

// MatchRepository reports whether any rule selects repository (for listing in a reconcile).
func (c *Config) MatchRepository(repository string) bool {
	for i := range c.Rules {
		if matchAny(c.Rules[i].repos, repository) {
			return true
		}
	}
	return false
}

// matchAny: no patterns means everything.
func matchAny(res []*regexp.Regexp, s string) bool {
	if len(res) == 0 {
		return true
	}
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
