package replicate

import (
	"context"
	"errors"
	"fmt"

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
	return fmt.Sprintf("%s: %s %s: %v%s", e.Side, e.Op, e.Ref, e.Err, hint(e.Side, e.Err))
}

func (e *CopyError) Unwrap() error { return e.Err }

// hint tells the user what to do about a permanent failure.
func hint(side Side, err error) string {
	switch {
	case errors.Is(err, registry.ErrTokenExpired):
		return " (credentials expired; they are refreshed on retry)"
	case errors.Is(err, registry.ErrUnauthorized):
		return fmt.Sprintf(" (log in to the %s registry: docker login, or check the credentials the config names)", side)
	case errors.Is(err, registry.ErrDenied):
		if side == Src {
			return " (allow pull: on ECR, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer in the source repository policy)"
		}
		return " (allow push on the destination repository: on ECR, ecr:InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, PutImage)"
	case errors.Is(err, registry.ErrRepositoryNotFound) && side == Dst:
		return " (create the destination repository, or give the account an ECR repository creation template with CREATE_ON_PUSH)"
	case errors.Is(err, registry.ErrTagImmutable):
		return " (the destination tag is immutable and points at another image: push a new tag, or make the repository's tags mutable)"
	case registry.IsCertificateError(err):
		return " (the registry's TLS certificate does not verify: add its CA to the system's trust store, or pass --insecure)"
	case errors.Is(err, registry.ErrNotFound) && side == Src:
		return " (the image is gone from the source)"
	}
	return ""
}

// Retryable reports whether a failed copy may succeed if tried again later without anyone
// changing anything: throttling, server errors, timeouts, dropped connections, expired tokens.
// Access denied, missing images or repositories, immutable tags and bad input are not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the invocation ran out of time; the next one may not
	}
	var re *registry.Error
	if errors.As(err, &re) {
		// A manifest naming a blob the destination lacks: a blob believed present was deleted
		// meanwhile; the next attempt checks again and uploads it.
		return re.Temporary() || retryableCode(re.Code) || errors.Is(re, registry.ErrBlobUnknown)
	}
	var pe *PermanentError
	if errors.As(err, &pe) || registry.IsCertificateError(err) {
		return false
	}
	return true // connection refused or reset, EOF, digest mismatch: transport trouble
}

// retryableCode lists upload answers that mean the bytes were damaged or the upload session
// was lost on the way: starting the blob again fixes them.
func retryableCode(code string) bool {
	return code == "DIGEST_INVALID" || code == "BLOB_UPLOAD_UNKNOWN" || code == "BLOB_UPLOAD_INVALID" || code == "SIZE_INVALID"
}

// PermanentError marks a failure no retry can fix (bad reference, unsupported manifest).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func permanent(format string, a ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, a...)}
}
