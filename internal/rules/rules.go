// Package rules is ecrsync's configuration: which repositories and tags of a source registry go
// to which destinations, under what name. One document, shared by the Lambda, `ecrsync handle`,
// `ecrsync dev` and `ecrsync sync`, read from YAML or JSON:
//
//	source:
//	  registry: 111111111111.dkr.ecr.us-east-1.amazonaws.com   # any registry host[:port]
//	rules:
//	  - repositories: ["app", "team/*"]      # globs; omitted = all
//	    tags: ["dev", "v*"]                  # globs; omitted = all
//	    destinations:
//	      - registry: 222222222222.dkr.ecr.eu-west-1.amazonaws.com
//	        repository: "mirror/{repository}"  # optional template; default the same name
//	    platforms: ["linux/amd64"]           # optional; omitted = every platform, bit for bit
//
// A registry may instead be given as account_id + region (the host is derived for the aws,
// aws-cn and aws-us-gov partitions; fips and dual_stack on request), with an optional role_arn
// to assume. Both may be given: then the host is reached as that ECR registry (a VPC endpoint's
// private name, or a stand-in in tests).
package rules

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/ecrsync/ecrsync/internal/awsname"
)

// EnvConfig is the environment variable that may hold the whole config document.
const EnvConfig = "ECRSYNC_CONFIG"

// The seed's environment variables (its lambda.py and Terraform), accepted as a shortcut.
var seedVars = []string{"SOURCE_ACCOUNT_ID", "SOURCE_REGION", "DESTINATION_ACCOUNT_ID", "DESTINATION_REGION", "REPO_NAME", "APPENV"}

// MaxConfigSize bounds a config document (Lambda's whole environment is 4 KB; a file can be larger).
const MaxConfigSize = 1 << 20

// RepositoryPlaceholder is replaced by the source repository's name in a destination template.
const RepositoryPlaceholder = "{repository}"

// Registry names a registry: by host, or by ECR account and Region, or both.
type Registry struct {
	Registry  string `json:"registry,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	Region    string `json:"region,omitempty"`
	// RoleARN, if set, is assumed (sts:AssumeRole) for this registry's ECR credentials.
	RoleARN   string `json:"role_arn,omitempty"`
	FIPS      bool   `json:"fips,omitempty"`
	DualStack bool   `json:"dual_stack,omitempty"`

	host string // resolved by Validate
}

// Host returns the registry's host[:port] (after Validate).
func (r *Registry) Host() string { return r.host }

// ECR returns the ECR location of the registry and whether it is one: given by account_id and
// region, or read from an ECR host name.
func (r *Registry) ECR() (awsname.Location, bool) {
	if r.AccountID != "" {
		return awsname.Location{Account: r.AccountID, Region: r.Region, FIPS: r.FIPS, DualStack: r.DualStack}, true
	}
	return awsname.ParseHost(r.host)
}

// Destination is where a rule copies to.
type Destination struct {
	Registry
	// Repository is the destination repository's name; RepositoryPlaceholder stands for the
	// source's. Empty means the source's name.
	Repository string `json:"repository,omitempty"`
	// CreateRepository, if enabled, creates a missing destination repository (create.go).
	CreateRepository *CreateRepository `json:"create_repository,omitempty"`
}

// Rule selects repositories and tags and names their destinations.
type Rule struct {
	Repositories []string      `json:"repositories,omitempty"`
	Tags         []string      `json:"tags,omitempty"`
	Destinations []Destination `json:"destinations"`
	// Require, if set, gates promotion on a signature and a scan (require.go).
	Require *Require `json:"require,omitempty"`
	// Platforms, if set, copies only these platforms (os/architecture[/variant]) of a
	// multi-platform image: one is copied as that platform's manifest under the tag, several as
	// a new index of them (a new digest, which the source index's signatures do not cover).
	// Omitted: every platform, bit for bit.
	Platforms []string `json:"platforms,omitempty"`
	// PropagateDeletes, if true, makes a tag deleted in the source go from every destination
	// of the rule too (internal/lambda's delete handling, sync --prune). Off by default.
	PropagateDeletes bool `json:"propagate_deletes,omitempty"`

	repos, tags []*regexp.Regexp
}

// Config is the whole document.
type Config struct {
	Source Registry `json:"source"`
	Rules  []Rule   `json:"rules"`

	lines    map[string]int // field path -> line in the document it was loaded from
	warnings []string       // set by Validate
}

// Target is one copy a push calls for.
type Target struct {
	Rule       int          // index of the rule that matched
	Dst        *Destination // the destination as configured
	Host       string       // destination registry host[:port]
	Repository string       // destination repository, the template applied
	Tag        string
}

// String is host/repository:tag.
func (t Target) String() string { return t.Host + "/" + t.Repository + ":" + t.Tag }

// Load parses a YAML or JSON document and validates it. Values are read as written (an
// unquoted account_id of 12 digits is those digits, never a number); unknown keys are errors
// that name the nearest known key; every error is a *FieldError with the path and line, but
// for a document that is not YAML at all. See Warnings for what is accepted with a doubt.
func Load(data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("config is %d bytes, more than %d", len(data), MaxConfigSize)
	}
	var c Config
	if err := decode(data, &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadFile loads the document in path.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Load(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ErrNoConfig means neither a file, nor ECRSYNC_CONFIG, nor the seed's variables were given.
var ErrNoConfig = errors.New("no config: pass --config FILE, or set " + EnvConfig + " (YAML or JSON), or the seed's " + strings.Join(seedVars, ", "))

// Resolve finds the config: the file if path is set, else the document in ECRSYNC_CONFIG, else
// the seed's variables. getenv is os.Getenv outside tests.
func Resolve(path string, getenv func(string) string) (*Config, error) {
	if path != "" {
		return LoadFile(path)
	}
	if doc := getenv(EnvConfig); strings.TrimSpace(doc) != "" {
		c, err := Load([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvConfig, err)
		}
		return c, nil
	}
	if getenv("SOURCE_ACCOUNT_ID") != "" || getenv("REPO_NAME") != "" {
		return FromSeed(getenv)
	}
	return nil, ErrNoConfig
}

// FromSeed builds the config the seed's variables describe: REPO_NAME (tagged APPENV, or every tag
// when APPENV is empty) from SOURCE_ACCOUNT_ID in SOURCE_REGION to the repository of the same
// name in DESTINATION_ACCOUNT_ID in DESTINATION_REGION (default: SOURCE_REGION).
func FromSeed(getenv func(string) string) (*Config, error) {
	dstRegion := getenv("DESTINATION_REGION")
	if dstRegion == "" {
		dstRegion = getenv("SOURCE_REGION")
	}
	r := Rule{Repositories: []string{getenv("REPO_NAME")},
		Destinations: []Destination{{Registry: Registry{AccountID: getenv("DESTINATION_ACCOUNT_ID"), Region: dstRegion}}}}
	if tag := getenv("APPENV"); tag != "" {
		r.Tags = []string{tag}
	}
	c := &Config{Source: Registry{AccountID: getenv("SOURCE_ACCOUNT_ID"), Region: getenv("SOURCE_REGION")}, Rules: []Rule{r}}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("seed variables (%s): %w", strings.Join(seedVars, ", "), err)
	}
	return c, nil
}

// Registries calls fn for the source and every destination's registry, in order.
func (c *Config) Registries(fn func(*Registry)) {
	fn(&c.Source)
	for i := range c.Rules {
		for j := range c.Rules[i].Destinations {
			fn(&c.Rules[i].Destinations[j].Registry)
		}
	}
}
