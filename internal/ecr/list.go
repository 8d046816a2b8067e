package ecr

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/opencontainers/go-digest"
)

// ListAPI is the part of the ECR API client a Lister calls (*ecr.Client from aws-sdk-go-v2;
// Keychain.API makes one).
type ListAPI interface {
	awsecr.DescribeRepositoriesAPIClient
	awsecr.ListImagesAPIClient
}

// MaxPage is the largest page DescribeRepositories and ListImages return (Amazon ECR API
// Reference, maxResults: 1-1000).
const MaxPage = 1000

// Lister lists an ECR registry through the ECR API: DescribeRepositories and ListImages filtered
// to tagged images, both paginated. ListImages names the digest of every tag, so a reconcile
// sends no HEAD to the source. (DescribeImages would add sizes and push times, which a reconcile
// does not need; it stays in ListActions for `describe`-style tooling.)
type Lister struct {
	API     ListAPI
	Account string // the registry ID; empty means the caller's account
	// PageSize is maxResults per call; 0 (or more than MaxPage) means MaxPage.
	PageSize int32
}

// TaggedImage is one tag of a repository and the digest it points at ("" if ECR named none
// that parses: the caller then asks the registry).
type TaggedImage struct {
	Tag    string
	Digest digest.Digest
}

func (e *Lister) pageSize() *int32 {
	if e.PageSize > 0 && e.PageSize <= MaxPage {
		return aws.Int32(e.PageSize)
	}
	return aws.Int32(MaxPage)
}

func (e *Lister) registryID() *string {
	if e.Account == "" {
		return nil
	}
	return aws.String(e.Account)
}

// Repositories returns every repository of the registry, sorted.
func (e *Lister) Repositories(ctx context.Context) ([]string, error) {
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

// Tags returns every tag of one repository with its digest, sorted by tag.
func (e *Lister) Tags(ctx context.Context, repository string) ([]TaggedImage, error) {
	var out []TaggedImage
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
			out = append(out, TaggedImage{Tag: t, Digest: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out, nil
}
