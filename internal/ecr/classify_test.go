package ecr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// apiErr is an AWS API error as the SDK returns it: the API error inside an operation error.
func apiErr(code string, fault smithy.ErrorFault, status int) error {
	var err error = &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault}
	if status != 0 {
		err = &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
	}
	return &smithy.OperationError{ServiceID: "ECR", OperationName: "Op", Err: err}
}

func TestClassifyAWSAPIErrors(t *testing.T) {
	t.Parallel()
	rows := []struct {
		name string
		err  error
		want registry.Class
	}{
		{"ECR AccessDeniedException", apiErr("AccessDeniedException", smithy.FaultClient, 400), registry.Permanent},
		{"STS AccessDenied", apiErr("AccessDenied", smithy.FaultClient, 403), registry.Permanent},
		{"KMS NotFoundException", apiErr("NotFoundException", smithy.FaultClient, 400), registry.Permanent},
		{"ECR RepositoryNotFoundException", apiErr("RepositoryNotFoundException", smithy.FaultClient, 400), registry.Permanent},
		{"ECR ImageNotFoundException", apiErr("ImageNotFoundException", smithy.FaultClient, 400), registry.Permanent},
		{"SSM ParameterNotFound", apiErr("ParameterNotFound", smithy.FaultClient, 400), registry.Permanent},
		{"ValidationException", apiErr("ValidationException", smithy.FaultClient, 400), registry.Permanent},
		{"KMS DisabledException", apiErr("DisabledException", smithy.FaultClient, 400), registry.Permanent},
		{"KMS KMSInvalidStateException", apiErr("KMSInvalidStateException", smithy.FaultClient, 400), registry.Permanent},
		{"UnrecognizedClientException", apiErr("UnrecognizedClientException", smithy.FaultClient, 400), registry.Permanent},
		{"ThrottlingException", apiErr("ThrottlingException", smithy.FaultClient, 400), registry.Transient},
		{"Throttling (Query APIs)", apiErr("Throttling", smithy.FaultClient, 400), registry.Transient},
		{"TooManyRequestsException", apiErr("TooManyRequestsException", smithy.FaultClient, 429), registry.Transient},
		{"ServiceUnavailable", apiErr("ServiceUnavailable", smithy.FaultServer, 503), registry.Transient},
		{"InternalServerException", apiErr("InternalServerException", smithy.FaultServer, 500), registry.Transient},
		{"ECR ServerException", apiErr("ServerException", smithy.FaultServer, 500), registry.Transient},
		{"KMS KMSInternalException", apiErr("KMSInternalException", smithy.FaultServer, 500), registry.Transient},
		{"KMS DependencyTimeoutException", apiErr("DependencyTimeoutException", smithy.FaultServer, 503), registry.Transient},
		{"ExpiredTokenException (fresh credentials fix it)", apiErr("ExpiredTokenException", smithy.FaultClient, 400), registry.Transient},
		{"unknown server fault", apiErr("SomethingNew", smithy.FaultServer, 0), registry.Transient},
		{"unknown code, 502", apiErr("SomethingNew", smithy.FaultUnknown, 502), registry.Transient},
		{"unknown code, 400", apiErr("SomethingNew", smithy.FaultUnknown, 400), registry.Permanent},
		{"unknown client fault, no status", apiErr("SomethingNew", smithy.FaultClient, 0), registry.Permanent},
		{"no API error: the network's (registry.Classify)", fmt.Errorf("x: %w", context.DeadlineExceeded), registry.Transient},
		{"no API error: cancelled", context.Canceled, registry.Permanent},
	}
	for _, r := range rows {
		if got := ecr.Classify(r.err); got != r.want {
			t.Errorf("%s: ecr.Classify = %s, want %s", r.name, got, r.want)
		}
		// The mark reaches the one classification every caller asks, through wrapping.
		wrapped := fmt.Errorf("reading scan findings: %w", ecr.Classified(r.err))
		if got := registry.Classify(wrapped); got != r.want {
			t.Errorf("%s: registry.Classify(Classified) = %s, want %s", r.name, got, r.want)
		}
	}
}

// An AccessDenied of a real SDK call (the stand-in answers as ECR does) comes out of a reader
// Permanent, as an *AccessError: registry.Classify used to call it Transient.
func TestDeniedScanReadIsPermanent(t *testing.T) {
	t.Parallel()
	s := ecrstandin.New()
	t.Cleanup(s.Close)
	s.Registry("111111111111", "us-east-1").CreateRepository("app", false)
	s.AddCredentials("AKIDSTANDIN", "111111111111")
	s.Deny("111111111111", "ecr:DescribeImageScanFindings")
	api := awsecr.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "secret", "")})
	r := &ecr.ScanReader{API: api, Account: "111111111111"}
	_, err := r.Findings(context.Background(), "app", "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	var ae *ecr.AccessError
	if !errors.As(err, &ae) || registry.Classify(err) != registry.Permanent {
		t.Fatalf("denied: %v (class %s), want a Permanent *AccessError", err, registry.Classify(err))
	}
}
