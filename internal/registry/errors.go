package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Sentinel errors. Branch on them with errors.Is; *Error unwraps to the one that fits.
var (
	// ErrNotFound: the manifest, blob or repository does not exist.
	ErrNotFound = errors.New("not found")
	// ErrRepositoryNotFound: the repository itself is missing (NAME_UNKNOWN). On ECR a push does
	// not create a repository unless a CREATE_ON_PUSH creation template exists.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrUnauthorized: credentials are missing or wrong (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDenied: credentials are valid but lack permission (403).
	ErrDenied = errors.New("access denied")
	// ErrTagImmutable: the destination refuses to move an existing tag (ECR immutable repositories
	// answer 400 TAG_INVALID, see REFERENCE.md "Tag mutability").
	ErrTagImmutable = errors.New("tag is immutable")
	// ErrThrottled: the registry answered 429 TOOMANYREQUESTS.
	ErrThrottled = errors.New("throttled")
	// ErrTokenExpired: ECR's "Your authorization token has expired" 403; refresh and retry.
	ErrTokenExpired = errors.New("authorization token expired")
	// ErrDigestMismatch: bytes read do not hash to the digest that named them.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrUnsupported: the registry does not implement the endpoint (e.g. no referrers API).
	ErrUnsupported = errors.New("unsupported")
	// ErrBlobUnknown: a manifest names a blob or child manifest the repository does not hold
	// (distribution's MANIFEST_BLOB_UNKNOWN, ECR's LayersNotFoundException /
	// ReferencedImagesNotFoundException through the OCI API).
	ErrBlobUnknown = errors.New("manifest references unknown blob")
	// ErrServer: a 5xx answer.
	ErrServer = errors.New("registry server error")
	// ErrNoCredentials: the environment provides no credentials to log in with (on ECR: no AWS
	// credentials in the environment, the shared files, SSO or an instance role). Permanent:
	// someone must provide them.
	ErrNoCredentials = errors.New("no credentials were found")
)

// Error is a failed registry request. It says which request failed, how the registry answered
// and whether trying again may help.
type Error struct {
	Method     string
	URL        string // without query string: presigned URLs carry credentials there
	StatusCode int
	Code       string // first OCI error code from the body, e.g. MANIFEST_UNKNOWN
	Message    string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is maps the answer to a sentinel error.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRepositoryNotFound:
		return e.Code == "NAME_UNKNOWN"
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrDenied:
		return e.StatusCode == http.StatusForbidden && !isExpiredToken(e.Message)
	case ErrTokenExpired:
		return e.StatusCode == http.StatusForbidden && isExpiredToken(e.Message)
	case ErrTagImmutable:
		return e.StatusCode == http.StatusBadRequest && e.Code == "TAG_INVALID" ||
			e.StatusCode == http.StatusConflict && strings.Contains(strings.ToLower(e.Message), "immutable")
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500
	case ErrBlobUnknown:
		return e.Code == "MANIFEST_BLOB_UNKNOWN" || e.Code == "BLOB_UNKNOWN" && e.Method == http.MethodPut ||
			strings.Contains(e.Message, "LayersNotFound") || strings.Contains(e.Message, "ReferencedImagesNotFound")
	}
	return false
}

// Temporary reports whether trying again may succeed (Classify: the request itself, or the
// operation it belongs to, like a blob upload started again).
func (e *Error) Temporary() bool { return Classify(e).Retryable() }

// isExpiredToken recognises ECR's expired-token 403
// (amazon-ecr-credential-helper#679: "Your authorization token has expired. Reauthenticate and try again.").
func isExpiredToken(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "token has expired")
}

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 64 << 10

// responseError turns a non-success response into *Error and closes its body.
func responseError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Method: resp.Request.Method, URL: redact(resp.Request.URL.String()), StatusCode: resp.StatusCode}
	var oci struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Message string `json:"message"` // some registries (and ECR's API) answer {"message": ...}
	}
	if json.Unmarshal(body, &oci) == nil {
		if len(oci.Errors) > 0 {
			e.Code, e.Message = oci.Errors[0].Code, oci.Errors[0].Message
		} else {
			e.Message = oci.Message
		}
	} else if len(body) > 0 && len(body) < 512 {
		e.Message = strings.TrimSpace(string(body))
	}
	return e
}

// MismatchError is a blob whose bytes do not hash to the digest that named them, or whose size
// is not the descriptor's. It is errors.Is ErrDigestMismatch. Got tells random damage on the way
// (another digest each time) from a source that stores bad bytes (the same wrong digest again).
type MismatchError struct {
	Want     digest.Digest
	Got      digest.Digest // "" when the registry announced the wrong size and nothing was read
	Size     int64         // bytes read, or announced
	WantSize int64
}

func (e *MismatchError) Error() string {
	switch {
	case e.Got == "":
		return fmt.Sprintf("blob %s: registry says %d bytes, descriptor says %d: %v", e.Want, e.Size, e.WantSize, ErrDigestMismatch)
	case e.WantSize >= 0 && e.Size != e.WantSize:
		return fmt.Sprintf("blob %s: read %d bytes, want %d: %v", e.Want, e.Size, e.WantSize, ErrDigestMismatch)
	}
	return fmt.Sprintf("blob %s: content does not match its digest (got %s): %v", e.Want, e.Got, ErrDigestMismatch)
}

// Is makes errors.Is(err, ErrDigestMismatch) hold.
func (e *MismatchError) Is(target error) bool { return target == ErrDigestMismatch }

// Same reports whether two mismatches read the same wrong bytes (or announced the same wrong size).
func (e *MismatchError) Same(o *MismatchError) bool {
	return o != nil && e.Want == o.Want && e.Got == o.Got && e.Size == o.Size
}

// redact drops the query string and user info of a URL: presigned URLs (S3 layer downloads on ECR)
// and upload locations carry credentials there.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '@'); j >= 0 && !strings.Contains(u[i+3:i+3+j], "/") {
			u = u[:i+3] + u[i+3+j+1:]
		}
	}
	return u
}
