package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/ecrsync/ecrsync/internal/awsname"
	"github.com/ecrsync/ecrsync/internal/awsregion"
	"github.com/ecrsync/ecrsync/internal/ref"
)

// FieldError names the field of the document that is wrong.
type FieldError struct {
	Field string // e.g. rules[0].destinations[1].repository; empty for the document as a whole
	Msg   string
	Line  int // 1-based line of the field in the document; 0 when not known (a Config built in code)
}

func (e *FieldError) Error() string {
	switch {
	case e.Line > 0 && e.Field != "":
		return fmt.Sprintf("%s (line %d): %s", e.Field, e.Line, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

var (
	// The role's path and name are at most 512 characters: checked with len, since a counted
	// repetition that large makes the regexp cost 3 ms to compile at every start.
	roleARNRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
	})
	// Glob shapes: a repository glob is a repository name in which '*' and '?' may stand for
	// name characters; a tag glob likewise for tags.
	repoGlobRE = regexp.MustCompile(`^[a-z0-9*?]+(([._]|__|-+)[a-z0-9*?]+)*(/[a-z0-9*?]+(([._]|__|-+)[a-z0-9*?]+)*)*$`)
	tagGlobRE  = regexp.MustCompile(`^[a-zA-Z0-9_*?][a-zA-Z0-9._*?-]*$`) // at most 128 characters, checked with len
)

// Validate checks the whole document, resolves registry hosts and compiles globs. Its error, a
// *FieldError, names the first bad field (and its line, when the Config was loaded from a
// document). What it accepts with a doubt, it lists in Warnings.
func (c *Config) Validate() error {
	c.warnings = nil
	err := c.validate()
	var fe *FieldError
	if errors.As(err, &fe) && fe.Line == 0 {
		for f := fe.Field; f != "" && fe.Line == 0; f = parent(f) {
			fe.Line = c.lines[f]
		}
	}
	return err
}

// parent is the path of the field that holds f: rules[0].tags[1] -> rules[0].tags -> rules[0]
// -> rules -> "".
func parent(f string) string {
	if strings.HasSuffix(f, "]") {
		return f[:strings.LastIndexByte(f, '[')]
	}
	if i := strings.LastIndexByte(f, '.'); i >= 0 {
		return f[:i]
	}
	return ""
}

// Warnings returns what the last Validate (or Load) accepted but doubts, each as "field: why":
// a Region not on the known list that is not a near miss of one (it may have opened since).
func (c *Config) Warnings() []string { return slices.Clone(c.warnings) }

// LogWarnings logs each of Warnings at warn level.
func (c *Config) LogWarnings(ctx context.Context, log *slog.Logger) {
	for _, w := range c.warnings {
		log.WarnContext(ctx, "config", "warning", w)
	}
}

func (c *Config) warn(field, format string, a ...any) {
	c.warnings = append(c.warnings, field+": "+fmt.Sprintf(format, a...))
}

func (c *Config) validate() error {
	if err := c.Source.validate("source", c.warn); err != nil {
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
		for j, p := range r.Platforms {
			pf := fmt.Sprintf("%s.platforms[%d]", f, j)
			switch {
			case !ref.ValidPlatform(p):
				return fieldErr(pf, "%q: want os/architecture[/variant] in lower case, like linux/amd64 or linux/arm/v7", p)
			case slices.Contains(r.Platforms[:j], p):
				return fieldErr(pf, "%s is listed twice", p)
			}
		}
		if len(r.Destinations) == 0 {
			return fieldErr(f+".destinations", "at least one destination is needed")
		}
		if err := r.validateRequire(f); err != nil {
			return err
		}
		for j := range r.Destinations {
			d := &r.Destinations[j]
			df := fmt.Sprintf("%s.destinations[%d]", f, j)
			if err := d.validate(df, c.warn); err != nil {
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

func (r *Registry) validate(field string, warn func(field, format string, a ...any)) error {
	for _, s := range []struct{ name, v string }{{"registry", r.Registry}, {"account_id", r.AccountID}, {"region", r.Region}, {"role_arn", r.RoleARN}} {
		if err := printable(s.v); err != nil {
			return fieldErr(field+"."+s.name, "%v", err)
		}
	}
	if r.Registry == "" && r.AccountID == "" && r.Region == "" {
		return fieldErr(field, "give registry (host[:port]) or account_id and region")
	}
	if r.AccountID != "" || r.Region != "" {
		if !awsname.ValidAccount(r.AccountID) {
			return fieldErr(field+".account_id", "%q: want the 12-digit AWS account ID", r.AccountID)
		}
		if err := checkRegion(field+".region", r.Region, warn); err != nil {
			return err
		}
	}
	switch {
	case r.Registry != "":
		// A config names each registry one way: the canonical (lower-case) host (ref's case rules).
		if h, err := ref.ParseHost(r.Registry); err != nil || h != r.Registry {
			return fieldErr(field+".registry", "%q: want a registry host[:port] in lower case, no scheme or path", r.Registry)
		}
		l, ok := awsname.ParseHost(r.Registry)
		if ok && r.AccountID != "" && (l.Account != r.AccountID || l.Region != r.Region) {
			return fieldErr(field+".registry", "%s is account %s in %s, but account_id and region say %s in %s", r.Registry, l.Account, l.Region, r.AccountID, r.Region)
		}
		if ok && r.AccountID == "" {
			if err := checkRegion(field+".registry", l.Region, warn); err != nil {
				return err
			}
		}
		r.host = r.Registry
	default:
		h, err := awsname.Host(awsname.Location{Account: r.AccountID, Region: r.Region, FIPS: r.FIPS, DualStack: r.DualStack})
		if err != nil {
			return fieldErr(field, "%v", err)
		}
		r.host = h
	}
	if (r.FIPS || r.DualStack) && r.Registry != "" && r.AccountID == "" {
		return fieldErr(field, "fips and dual_stack choose the host derived from account_id and region; with registry, name that host directly")
	}
	if r.RoleARN != "" {
		if !roleARNRE().MatchString(r.RoleARN) || len(r.RoleARN[strings.Index(r.RoleARN, ":role/")+6:]) > 512 {
			return fieldErr(field+".role_arn", "%q: want arn:PARTITION:iam::ACCOUNT:role/NAME", r.RoleARN)
		}
		if _, ok := r.ECR(); !ok {
			return fieldErr(field+".role_arn", "a role is assumed for ECR credentials, but %s is not an ECR registry (give account_id and region)", r.host)
		}
	}
	return nil
}

// checkRegion refuses a name that is not shaped like a Region or is a near miss of a known one
// (with the suggestion), and warns of one it does not know: Regions open every year, and a list
// of them is always a little old.
func checkRegion(field, region string, warn func(field, format string, a ...any)) error {
	s, typo := awsregion.Suggest(region)
	switch {
	case !awsname.ValidRegion(region) && typo:
		return fieldErr(field, "%q is not an AWS Region name; did you mean %s?", region, s)
	case !awsname.ValidRegion(region):
		return fieldErr(field, "%q is not an AWS Region name (like eu-west-1)", region)
	case typo:
		return fieldErr(field, "%s is not an AWS Region; did you mean %s?", region, s)
	case !awsregion.Known(region):
		warn(field, "%s is not a Region ecrsync knows: fine if AWS opened it recently, otherwise check the spelling", region)
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
		if len(g) > ref.MaxRepository || !repoGlobRE.MatchString(strings.ReplaceAll(g, "**", "*")) {
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
	if !ref.ValidRepository(rest) {
		return fmt.Errorf("%q does not make a valid repository name", t)
	}
	return nil
}
