package ecr

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// DeleteAPI is the ECR call DeleteTag makes.
type DeleteAPI interface {
	BatchDeleteImage(ctx context.Context, in *awsecr.BatchDeleteImageInput, optFns ...func(*awsecr.Options)) (*awsecr.BatchDeleteImageOutput, error)
}

// DeleteTag removes tag from an ECR repository with BatchDeleteImage by image tag: ECR removes
// the tag, and deletes the image only when that was its last tag, so an image another tag still
// names stays (Amazon ECR API Reference, BatchDeleteImage). A tag already gone is success.
func DeleteTag(ctx context.Context, api DeleteAPI, account, role, repository, tag string) error {
	out, err := api.BatchDeleteImage(ctx, &awsecr.BatchDeleteImageInput{RegistryId: aws.String(account),
		RepositoryName: aws.String(repository), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String(tag)}}})
	if err != nil {
		return fmt.Errorf("deleting tag %s:%s: %w", repository, tag, Explain(err, "ecr:BatchDeleteImage", role))
	}
	for _, f := range out.Failures {
		if f.FailureCode == types.ImageFailureCodeImageNotFound || f.FailureCode == types.ImageFailureCodeImageTagDoesNotMatchDigest {
			continue
		}
		return fmt.Errorf("deleting tag %s:%s: BatchDeleteImage failed: %s: %s", repository, tag, f.FailureCode, aws.ToString(f.FailureReason))
	}
	return nil
}
