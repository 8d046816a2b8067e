package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// Tag is one tag of a source repository. Digest is what it points at when the listing says so
// (ECR's ListImages does); empty means the reconcile asks the registry with one HEAD.
type Tag struct {
	Name   string
	Digest digest.Digest
}

// Lister lists a source registry's repositories and their tags.
type Lister interface {
	// Repositories returns every repository of the registry, following pagination.
	Repositories(ctx context.Context) ([]string, error)
	// Tags returns every tag of one repository, following pagination.
	Tags(ctx context.Context, repository string) ([]Tag, error)
}

// ErrNoCatalog means the registry does not list its repositories (Docker Hub, GHCR and most
// hosted registries refuse /v2/_catalog): name the repositories in the rules without globs.
var ErrNoCatalog = errors.New("the registry does not list its repositories (/v2/_catalog)")

// OCI lists through the OCI distribution API: /v2/_catalog for repositories (a Docker Registry
// HTTP API V2 extension that distribution, Harbor and Zot serve, paginated with n= and Link
// headers) and /v2/<name>/tags/list for tags. The tag list carries no digests, so each tag costs
// one HEAD later.
type OCI struct {
	Client *registry.Client
	Host   string // the registry's host[:port]
	// PageSize is the catalog page size; 0 means 1000.
	PageSize int
}

// Repositories implements Lister.
func (o *OCI) Repositories(ctx context.Context) ([]string, error) {
	n := o.PageSize
	if n <= 0 {
		n = 1000
	}
	repos, err := o.Client.Catalog(ctx, o.Host, n)
	var re *registry.Error
	if errors.As(err, &re) && re.Code == "PAGINATION_NUMBER_INVALID" {
		// distribution refuses an n above its catalog.maxentries: take its own page size.
		repos, err = o.Client.Catalog(ctx, o.Host, 100)
	}
	if err != nil {
		if errors.As(err, &re) && (re.StatusCode == 404 || re.StatusCode == 405 || re.StatusCode == 401 || re.StatusCode == 403) {
			return nil, fmt.Errorf("listing repositories of %s: %w: %v", o.Host, ErrNoCatalog, err)
		}
		return nil, fmt.Errorf("listing repositories of %s: %w", o.Host, err)
	}
	return repos, nil
}

// Tags implements Lister.
func (o *OCI) Tags(ctx context.Context, repository string) ([]Tag, error) {
	repo, err := name.NewRepository(o.Host+"/"+repository, name.StrictValidation)
	if err != nil {
		return nil, err
	}
	names, err := o.Client.Repository(repo).Tags(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	out := make([]Tag, 0, len(names))
	for _, t := range names {
		out = append(out, Tag{Name: t})
	}
	return out, nil
}

// literal returns the repository names the patterns spell without wildcards, and whether all
// of them do.
func literal(patterns []string) ([]string, bool) {
	var out []string
	for _, p := range patterns {
		if strings.ContainsAny(p, "*?") {
			return nil, false
		}
		out = append(out, p)
	}
	return out, len(out) > 0
}
