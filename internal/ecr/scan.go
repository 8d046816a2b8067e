package ecr

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrsync/ecrsync/internal/gate"
)

// ScanAPI is the ECR call a ScanReader makes.
type ScanAPI interface {
	DescribeImageScanFindings(ctx context.Context, in *awsecr.DescribeImageScanFindingsInput, optFns ...func(*awsecr.Options)) (*awsecr.DescribeImageScanFindingsOutput, error)
}

// maxFindingPages bounds the pages of findings read for the top CVE IDs: the severity counts
// come whole with the first page; the IDs only name the worst for people to look up.
const maxFindingPages = 5

// ScanReader reads one ECR registry's scan findings, basic and enhanced, with
// DescribeImageScanFindings. Give it the source reader role's client (Roles.Client or
// Keychain.API with the source's role_arn): enhanced scanning's findings are readable only in the
// registry's own account, not through a repository policy from another one.
type ScanReader struct {
	API     ScanAPI
	Account string // the registry's account ID
	Role    string // the role API acts as, for error messages; "" = own credentials
}

// Findings returns the scan of repository@digest. An image without any scan (scanning off, or
// pushed before it was on) is an error wrapping gate.ErrNoScan.
func (s *ScanReader) Findings(ctx context.Context, repository, digest string) (*gate.ScanResult, error) {
	in := &awsecr.DescribeImageScanFindingsInput{RepositoryName: aws.String(repository),
		ImageId: &types.ImageIdentifier{ImageDigest: aws.String(digest)}, MaxResults: aws.Int32(1000)}
	if s.Account != "" {
		in.RegistryId = aws.String(s.Account)
	}
	r := &gate.ScanResult{Digest: digest, Counts: map[string]int{}}
	for page := 0; page < maxFindingPages; page++ {
		out, err := s.API.DescribeImageScanFindings(ctx, in)
		if err != nil {
			var nf *types.ScanNotFoundException
			if errors.As(err, &nf) {
				return nil, fmt.Errorf("%s@%s: %w (%s)", repository, digest, gate.ErrNoScan, nf.ErrorMessage())
			}
			return nil, Explain(err, "ecr:DescribeImageScanFindings", s.Role)
		}
		if page == 0 {
			if st := out.ImageScanStatus; st != nil {
				r.Status, r.Reason = string(st.Status), aws.ToString(st.Description)
			}
			if f := out.ImageScanFindings; f != nil {
				for sev, n := range f.FindingSeverityCounts {
					r.Counts[sev] = int(n)
				}
			}
		}
		if f := out.ImageScanFindings; f != nil {
			for _, x := range f.Findings {
				r.Findings = append(r.Findings, gate.Finding{ID: aws.ToString(x.Name), Severity: string(x.Severity)})
			}
			for _, x := range f.EnhancedFindings {
				id := aws.ToString(x.Title)
				if d := x.PackageVulnerabilityDetails; d != nil && d.VulnerabilityId != nil {
					id = *d.VulnerabilityId
				}
				r.Findings = append(r.Findings, gate.Finding{ID: id, Severity: aws.ToString(x.Severity)})
			}
		}
		if out.NextToken == nil || !gate.ScanDone(r.Status) {
			break
		}
		in.NextToken = out.NextToken
	}
	return r, nil
}
