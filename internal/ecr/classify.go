package ecr

import (
	"errors"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// apiCodeClass is the class of AWS API error codes (smithy.APIError.ErrorCode) that ecrsync's
// calls meet: ECR's control plane, KMS, STS, SSM. Exact codes first; then the patterns of
// codePatterns. Sources: the "Errors" sections of the ECR, KMS and STS API references and the
// AWS SDK's retryable codes (aws/retry: ThrottleErrorCodes, DefaultRetryableErrorCodes).
var apiCodeClass = map[string]registry.Class{
	"ValidationException":                 registry.Permanent,
	"InvalidParameterException":           registry.Permanent, // ECR: a malformed request
	"UnrecognizedClientException":         registry.Permanent, // the access key does not exist
	"InvalidSignatureException":           registry.Permanent,
	"MissingAuthenticationTokenException": registry.Permanent,
	"DisabledException":                   registry.Permanent, // KMS: the key is disabled
	"KMSInvalidStateException":            registry.Permanent, // KMS: pending deletion or import
	"InvalidArnException":                 registry.Permanent, // KMS: not a key ARN
	"UnsupportedOperationException":       registry.Permanent,
	"ExpiredToken":                        registry.Transient, // the SDK fetches fresh credentials
	"ExpiredTokenException":               registry.Transient,
	"RequestExpired":                      registry.Transient, // clock skew; the SDK corrects it on retry
	"ServiceUnavailable":                  registry.Transient,
	"ServiceUnavailableException":         registry.Transient,
	"ServerException":                     registry.Transient, // ECR's 500
	"InternalFailure":                     registry.Transient,
	"KMSInternalException":                registry.Transient,
	"DependencyTimeoutException":          registry.Transient, // KMS: a dependency timed out
	"RequestTimeout":                      registry.Transient,
	"RequestTimeoutException":             registry.Transient,
	"TooManyRequestsException":            registry.Transient,
	"SlowDown":                            registry.Transient,
	"PriorRequestNotComplete":             registry.Transient,
	"EC2ThrottledException":               registry.Transient,
	"RequestLimitExceeded":                registry.Transient,
}

// codePatterns classify codes by their shape, in order: every AccessDenied* and *NotFound* is
// the caller's to fix (a grant, a name), every Throttling* and InternalServer* passes.
var codePatterns = []struct {
	prefix, contains string
	class            registry.Class
}{
	{prefix: "AccessDenied", class: registry.Permanent},
	{contains: "NotFound", class: registry.Permanent}, // NotFoundException, RepositoryNotFoundException, ParameterNotFound...
	{prefix: "Throttl", class: registry.Transient},    // Throttling, ThrottlingException, ThrottledException
	{prefix: "InternalServer", class: registry.Transient},
}

// Classify says whether a failed AWS API call may succeed if made again unchanged, by its error
// code (apiCodeClass, codePatterns), else by whether AWS called it a server fault, else by its
// HTTP status (registry.ClassifyStatus). An error that holds no AWS API error (the network, a
// context) is registry.Classify's to judge. Explain marks the errors of ecrsync's calls with it
// (registry.WithClass), so registry.Classify, the one classification every caller asks, answers
// an AccessDenied of DescribeImageScanFindings or of kms:GetPublicKey as Permanent: the Lambda
// reports it as needs_action instead of retrying it.
func Classify(err error) registry.Class {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return registry.Classify(err)
	}
	code := ae.ErrorCode()
	if c, ok := apiCodeClass[code]; ok {
		return c
	}
	for _, p := range codePatterns {
		if p.prefix != "" && strings.HasPrefix(code, p.prefix) || p.contains != "" && strings.Contains(code, p.contains) {
			return p.class
		}
	}
	if ae.ErrorFault() == smithy.FaultServer {
		return registry.Transient
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		return registry.ClassifyStatus(re.HTTPStatusCode())
	}
	return registry.Permanent // a client fault AWS named but did not tell us how to take
}

// Classified returns err marked with its class (Classify), for registry.Classify to answer.
func Classified(err error) error {
	if err == nil {
		return nil
	}
	return registry.WithClass(err, Classify(err))
}

// apiCode returns the AWS API error code in err's chain (smithy.APIError.ErrorCode), or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
