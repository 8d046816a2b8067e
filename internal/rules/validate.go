package rules

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/event"
)

// FieldError names the field of the document that is wrong.
type FieldError struct {
	Field string // e.g. rules[0].destinations[1].repository
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

var (
	// The role's path and name are at most 512 characters: checked with len, since a counted
	// repetition that large makes the regexp cost 3 ms to compile at every start.
	roleARNRE = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
	hostRE    = regexp.MustCompile(`^(\[[0-9a-fA-F:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:[0-9][0-9]?[0-9]?[0-9]?[0-9]?)?$`)
	// Glob shapes: a repository glob is a repository name in which '*' and '?' may stand for
	// name characters; a tag glob likewise for tags.
	repoGlobRE = regexp.MustCompile(`^[a-z0-9*?]+(([._]|__|-+)[a-z0-9*?]+)*(/[a-z0-9*?]+(([._]|__|-+)[a-z0-9*?]+)*)*$`)
	tagGlobRE  = regexp.MustCompile(`^[a-zA-Z0-9_*?][a-zA-Z0-9._*?-]*$`) // at most 128 characters, checked with len
)

// Validate checks the whole document, resolves registry hosts and compiles globs. Its error names
// the first bad field.
func (c *Config) Validate() error {
	if err := c.Source.validate("source"); err != nil {
		return err
	}
	if len(c.Rules) == 0 {
		return fieldErr("rules", "at least one rule is needed")
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		f := fmt.Sprintf("rules[%d]", i)
		r.repos, r.tags = nil, nil
		for j, g := range r.Repositories {
			re, err := compileGlob(g, true)
			if err != nil {
				return fieldErr(fmt.Sprintf("%s.repositories[%d]", f, j), "%v", err)
			}
			r.repos = append(r.repos, re)
		}
		for j, g := range r.Tags {
			re, err := compileGlob(g, false)
			if err != nil {
				return fieldErr(fmt.Sprintf("%s.tags[%d]", f, j), "%v", err)
			}
			r.tags = append(r.tags, re)
		}
		if len(r.Destinations) == 0 {
			return fieldErr(f+".destinations", "at least one destination is needed")
		}
		for j := range r.Destinations {
			d := &r.Destinations[j]
			df := fmt.Sprintf("%s.destinations[%d]", f, j)
			if err := d.validate(df); err != nil {
				return err
			}
			if err := checkTemplate(d.Repository); err != nil {
				return fieldErr(df+".repository", "%v", err)
			}
			if err := d.validateCreate(df); err != nil {
				return err
			}
			if d.host == c.Source.host && (d.Repository == "" || d.Repository == RepositoryPlaceholder) {
				return fieldErr(df, "copies every repository onto itself (same registry %s, same name): give another registry or a repository template", d.host)
			}
		}
	}
	return nil
}

func (r *Registry) validate(field string) error {
	for _, s := range []struct{ name, v string }{{"registry", r.Registry}, {"account_id", r.AccountID}, {"region", r.Region}, {"role_arn", r.RoleARN}} {
		if err := printable(s.v); err != nil {
			return fieldErr(field+"."+s.name, "%v", err)
		}
	}
	if r.Registry == "" && r.AccountID == "" && r.Region == "" {
		return fieldErr(field, "give registry (host[:port]) or account_id and region")
	}
	if r.AccountID != "" || r.Region != "" {
		if !ecr.ValidAccount(r.AccountID) {
			return fieldErr(field+".account_id", "%q: want the 12-digit AWS account ID", r.AccountID)
		}
		if !ecr.ValidRegion(r.Region) {
			return fieldErr(field+".region", "%q is not an AWS Region name (like eu-west-1)", r.Region)
		}
	}
	switch {
	case r.Registry != "":
		if len(r.Registry) > 253 || !hostRE.MatchString(r.Registry) {
			return fieldErr(field+".registry", "%q: want a registry host[:port] in lower case, no scheme or path", r.Registry)
		}
		if l, ok := ecr.ParseHost(r.Registry); ok && r.AccountID != "" && (l.Account != r.AccountID || l.Region != r.Region) {
			return fieldErr(field+".registry", "%s is account %s in %s, but account_id and region say %s in %s", r.Registry, l.Account, l.Region, r.AccountID, r.Region)
		}
		r.host = r.Registry
	default:
		h, err := ecr.Host(ecr.Location{Account: r.AccountID, Region: r.Region, FIPS: r.FIPS, DualStack: r.DualStack})
		if err != nil {
			return fieldErr(field, "%v", err)
		}
		r.host = h
	}
	if (r.FIPS || r.DualStack) && r.Registry != "" && r.AccountID == "" {
		return fieldErr(field, "fips and dual_stack choose the host derived from account_id and region; with registry, name that host directly")
	}
	if r.RoleARN != "" {
		if !roleARNRE.MatchString(r.RoleARN) || len(r.RoleARN[strings.Index(r.RoleARN, ":role/")+6:]) > 512 {
			return fieldErr(field+".role_arn", "%q: want arn:PARTITION:iam::ACCOUNT:role/NAME", r.RoleARN)
		}
		if _, ok := r.ECR(); !ok {
			return fieldErr(field+".role_arn", "a role is assumed for ECR credentials, but %s is not an ECR registry (give account_id and region)", r.host)
		}
	}
	return nil
}

// printable rejects control characters and other invisible runes anywhere in a value.
func printable(s string) error {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return fmt.Errorf("%q holds a control or space character", s)
		}
	}
	return nil
}

// compileGlob turns a glob into an anchored regexp. In repository globs '*' matches within one
// path segment and '**' across segments; '?' is one character. Tags have no segments.
func compileGlob(g string, repo bool) (*regexp.Regexp, error) {
	if err := printable(g); err != nil {
		return nil, err
	}
	if g == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	if repo {
		if len(g) > event.MaxRepositoryLength || !repoGlobRE.MatchString(strings.ReplaceAll(g, "**", "*")) {
			return nil, fmt.Errorf("%q: want a repository name (lower case letters, digits, . _ - separators, / between components) with * or ? as wildcards", g)
		}
	} else if len(g) > 128 || !tagGlobRE.MatchString(g) {
		return nil, fmt.Errorf("%q: want a tag (letters, digits, . _ -; at most 128) with * or ? as wildcards", g)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; {
		case c == '*' && repo && i+1 < len(g) && g[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*' && repo:
			b.WriteString("[^/]*")
		case c == '*':
			b.WriteString(".*")
		case c == '?' && repo:
			b.WriteString("[^/]")
		case c == '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// checkTemplate accepts a repository name in which {repository} may appear.
func checkTemplate(t string) error {
	if t == "" {
		return nil
	}
	if err := printable(t); err != nil {
		return err
	}
	rest := strings.ReplaceAll(t, RepositoryPlaceholder, "x")
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("%q: the only placeholder is %s", t, RepositoryPlaceholder)
	}
	if !event.ValidRepository(rest) {
		return fmt.Errorf("%q does not make a valid repository name", t)
	}
	return nil
}
