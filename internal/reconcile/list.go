package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/ecr"
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

// ECRAPI is the part of the ECR API client the ECR lister calls (*ecr.Client from aws-sdk-go-v2).
type ECRAPI interface {
	awsecr.DescribeRepositoriesAPIClient
	awsecr.ListImagesAPIClient
}

// ECR lists through the ECR API: DescribeRepositories and ListImages filtered to tagged images,
// both paginated at their maximum of 1,000 results a page. ListImages names the digest of every
// tag, so no HEAD is sent to the source. (DescribeImages would add sizes and push times, which a
// reconcile does not need; it stays in ecr.ListActions for `describe`-style tooling.)
type ECR struct {
	API     ECRAPI
	Account string // the registry ID; empty means the caller's account
	// PageSize is maxResults per call; 0 means 1,000, the largest ECR allows.
	PageSize int32
}

// NewECRAPI returns an ECR API client for the registry at l, through roleARN if set, with
// aws-sdk-go-v2 (endpoint overrides such as BaseEndpoint and AWS_ENDPOINT_URL_ECR apply).
func NewECRAPI(base aws.Config, l ecr.Location, roleARN string) *awsecr.Client {
	cfg := base.Copy()
	cfg.Region = l.Region
	if roleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), roleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "ecrsync-reconcile" }))
	}
	return awsecr.NewFromConfig(cfg, func(o *awsecr.Options) {
		if l.FIPS {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		if l.DualStack {
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}
	})
}

// ecrPage is the largest page DescribeRepositories and ListImages return (Amazon ECR API
// Reference, maxResults: 1-1000).
const ecrPage = 1000

func (e *ECR) pageSize() *int32 {
	if e.PageSize > 0 {
		return aws.Int32(e.PageSize)
	}
	return aws.Int32(ecrPage)
}

func (e *ECR) registryID() *string {
	if e.Account == "" {
		return nil
	}
	return aws.String(e.Account)
}

// Repositories implements Lister.
func (e *ECR) Repositories(ctx context.Context) ([]string, error) {
	var out []string
	p := awsecr.NewDescribeRepositoriesPaginator(e.API, &awsecr.DescribeRepositoriesInput{
		RegistryId: e.registryID(), MaxResults: e.pageSize()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ecr:DescribeRepositories: %w", err)
		}
		for _, r := range page.Repositories {
			out = append(out, aws.ToString(r.RepositoryName))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Tags implements Lister.
func (e *ECR) Tags(ctx context.Context, repository string) ([]Tag, error) {
	var out []Tag
	p := awsecr.NewListImagesPaginator(e.API, &awsecr.ListImagesInput{
		RepositoryName: aws.String(repository), RegistryId: e.registryID(), MaxResults: e.pageSize(),
		Filter: &ecrtypes.ListImagesFilter{TagStatus: ecrtypes.TagStatusTagged}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ecr:ListImages %s: %w", repository, err)
		}
		for _, id := range page.ImageIds {
			t := aws.ToString(id.ImageTag)
			if t == "" {
				continue
			}
			d, err := digest.Parse(aws.ToString(id.ImageDigest))
			if err != nil {
				d = "" // fall back to a HEAD rather than trust a malformed digest
			}
			out = append(out, Tag{Name: t, Digest: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
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
