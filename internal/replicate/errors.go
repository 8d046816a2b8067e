package replicate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ecrsync/ecrsync/internal/ref"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// Side names the end of a copy where something failed.
type Side string

// The two ends of a copy.
const (
	Src Side = "src"
	Dst Side = "dst"
)

// CopyError says which side of a copy failed, doing what, on which reference.
type CopyError struct {
	Side Side   // src or dst
	Op   string // e.g. "fetching manifest", "uploading blob"
	Ref  string // host/repo[@digest|:tag]
	Err  error
}

func (e *CopyError) Error() string {
	return fmt.Sprintf("%s: %s %s: %v", e.Side, e.Op, e.Ref, e.Err)
}

func (e *CopyError) Unwrap() error { return e.Err }

// NoAWSCredentialsHint says how to provide AWS credentials, for ECR registries.
const NoAWSCredentialsHint = "provide AWS credentials: a profile (AWS_PROFILE=name, set up with aws configure), " +
	"an SSO login (aws sso login --profile name), the environment variables AWS_ACCESS_KEY_ID and " +
	"AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or an instance or task role"

// Hint says what to do about a failed copy, or "" when there is nothing to say beyond the error:
// the one place fix text is written, for the CLI, the Lambda's log line and the reconcile
// report alike. It is kept out of Error() so an error reads the same wrapped at any depth, and
// so a caller that prints both never prints the hint twice. The side (src or dst) comes from
// the *CopyError in err's chain; without one the text speaks of "the registry".
func Hint(err error) string {
	if err == nil {
		return ""
	}
	var ce *CopyError
	side := Side("")
	if errors.As(err, &ce) {
		side = ce.Side
	}
	if pe := (*PlatformError)(nil); errors.As(err, &pe) {
		return fmt.Sprintf("the image has %s: ask only for platforms it has (a rule's platforms, or --platform), or push it with %s",
			strings.Join(pe.Have, ", "), strings.Join(pe.Want, " or "))
	}
	which := "the registry"
	if side != "" {
		which = "the " + string(side) + " registry"
	}
	switch {
	case errors.Is(err, ref.ErrInvalid):
		return "write the reference as host[:port]/repository[:tag|@digest], the repository in lower case"
	case errors.Is(err, registry.ErrNoCredentials):
		return NoAWSCredentialsHint
	case errors.Is(err, registry.ErrTokenExpired):
		return "the credentials expired; they are refreshed when the copy is tried again"
	case errors.Is(err, registry.ErrUnauthorized):
		return fmt.Sprintf("log in to %s (docker login, a credential helper, or on ECR the AWS credentials of the environment or the role the config names)", which)
	case errors.Is(err, registry.ErrDenied) && side == Src:
		return "allow pull from the source repository: on ECR, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and ecr:BatchCheckLayerAvailability in its repository policy, and ecr:GetAuthorizationToken"
	case errors.Is(err, registry.ErrDenied):
		return "allow push to the destination repository: on ECR, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage, ecr:BatchCheckLayerAvailability and ecr:BatchGetImage"
	case errors.Is(err, registry.ErrRepositoryNotFound) && side != Src:
		return "create the destination repository, or give the destination account an ECR repository creation template with CREATE_ON_PUSH"
	case errors.Is(err, registry.ErrTagImmutable):
		return "the destination tag is immutable and points at another image: push under a new tag, or make the destination repository's tags mutable"
	case registry.IsSchemeMismatch(err):
		return fmt.Sprintf("%s speaks plain HTTP: pass --insecure if that is intended, or give its HTTPS address", which)
	case registry.IsCertificateError(err):
		return fmt.Sprintf("the TLS certificate of %s does not verify: add its CA to the system's trust store, or pass --insecure", which)
	case errors.Is(err, registry.ErrRepositoryNotFound), errors.Is(err, registry.ErrNotFound) && side == Src:
		return "not found in the source: check the repository and tag (or digest), and push it there first"
	case registry.Classify(err) == registry.Unreachable:
		return fmt.Sprintf("nothing answers at the address of %s: check the host name and port", which)
	}
	return ""
}

// Classify says whether a failed copy may succeed if tried again unchanged: registry.Classify,
// except that what the engine itself found wrong (*PermanentError: a bad reference, a digest
// that cannot change, a source whose bytes never match their digest) is Permanent.
func Classify(err error) registry.Class {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return registry.Permanent
	}
	return registry.Classify(err)
}

// Retryable reports whether a failed copy may succeed if tried again later without anyone
// changing anything: throttling, server errors, timeouts, dropped connections, expired tokens,
// and (Classify says which) an address where nothing answers. Access denied, missing images or
// repositories, immutable tags, TLS and scheme mismatches, and bad input are not.
func Retryable(err error) bool { return err != nil && Classify(err).Retryable() }

// PermanentError marks a failure no retry can fix (bad reference, unsupported manifest).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func permanent(format string, a ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, a...)}
}
