package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
)

// Class says whether a failure may go away if the same thing is tried again unchanged. It is
// decided here, once: the retry transport, Error.Temporary, the copy engine's Retryable and the
// Lambda's outcomes all ask Classify.
type Class int

// Classes of failure.
const (
	// Permanent: trying again cannot help; someone must change something (credentials, a
	// repository, a flag, the input).
	Permanent Class = iota
	// Transient: a passing fault — throttling, a server error, a timeout, a dropped connection,
	// an expired token, bytes damaged on the way. Retried with backoff.
	Transient
	// Unreachable: nothing answers at this address — the connection was refused, or the host
	// name does not resolve. It is retried like Transient (a registry restarting refuses
	// connections for a moment), but more often it is a typo: a caller may give it a short
	// budget and a hint to check the address.
	Unreachable
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Unreachable:
		return "unreachable"
	}
	return "permanent"
}

// Retryable reports whether a failure of class c is worth another try.
func (c Class) Retryable() bool { return c != Permanent }

// statusClass is the answer to every HTTP status the code distinguishes. A status not listed
// is Permanent below 500 and Transient from 500 on.
var statusClass = map[int]Class{
	http.StatusRequestTimeout:  Transient, // 408: the server gave up waiting for us
	http.StatusTooEarly:        Transient, // 425: replay after the handshake completes (RFC 8470)
	http.StatusTooManyRequests: Transient, // 429: throttled (ECR: TOOMANYREQUESTS "Rate exceeded")
	// 501: "the server does not support the functionality required" (RFC 9110 §15.6.2): asking
	// again gets the same answer. The referrers API's absence is told apart by 404, not 501.
	http.StatusNotImplemented:          Permanent,
	http.StatusHTTPVersionNotSupported: Permanent, // 505: likewise a property of the server
	http.StatusInternalServerError:     Transient, // 500
	http.StatusBadGateway:              Transient, // 502: a load balancer lost its backend
	http.StatusServiceUnavailable:      Transient, // 503: restarting or shedding load (Retry-After)
	http.StatusGatewayTimeout:          Transient, // 504
}

// ClassifyStatus classifies an HTTP answer by its status alone: what the retry transport knows
// before it reads a body. (A 403 may be ECR's expired token, which only the body tells: the
// transport peeks at it; Classify on an *Error reads the message.)
func ClassifyStatus(status int) Class {
	if c, ok := statusClass[status]; ok {
		return c
	}
	if status >= 500 {
		return Transient
	}
	return Permanent
}

// transientCodes are OCI error codes of an upload whose bytes were damaged or whose session was
// lost on the way: the caller starts the blob again from the source and it goes through.
var transientCodes = map[string]bool{
	"DIGEST_INVALID":      true,
	"BLOB_UPLOAD_UNKNOWN": true,
	"BLOB_UPLOAD_INVALID": true,
	"SIZE_INVALID":        true,
}

// Classify says whether err, from a request or from an operation built of requests, may go
// away if tried again unchanged. Errors it does not recognise are Transient: a budget bounds
// the retries, and a fault we cannot name is more often the network's than the user's.
func Classify(err error) Class {
	var re *Error
	var ce *classedError
	var rhe tls.RecordHeaderError
	var dns *net.DNSError
	var ne net.Error
	switch {
	case err == nil:
		return Permanent
	case errors.Is(err, context.Canceled):
		return Permanent // someone stopped us: not a failure to retry
	case errors.Is(err, ErrNoCredentials):
		return Permanent // nothing to log in with until someone provides it
	case errors.Is(err, context.DeadlineExceeded):
		return Transient // this invocation ran out of time; the next one may not
	case errors.As(err, &ce):
		return ce.class // classified where its API is known (ecr.Classify)
	case errors.As(err, &re):
		switch {
		case errors.Is(re, ErrTokenExpired):
			return Transient // fresh credentials fix it
		case transientCodes[re.Code]:
			return Transient
		case errors.Is(re, ErrBlobUnknown):
			// A manifest names a blob believed present that was deleted meanwhile (lifecycle
			// policy, garbage collection): the next attempt checks again and uploads it.
			return Transient
		}
		return ClassifyStatus(re.StatusCode)
	case IsSchemeMismatch(err):
		return Permanent // plain HTTP answered HTTPS: only --insecure (or an https registry) helps
	case IsCertificateError(err):
		return Permanent // a certificate that does not verify will not verify next time
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return Unreachable // no such host: usually a typo
		}
		return Transient // resolver timeout or failure
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Unreachable
	case errors.As(err, &ne) && ne.Timeout():
		return Transient // dial, TLS handshake or response header timeout
	case isTLSFailure(err):
		return Permanent // the two ends cannot agree on TLS (versions, ciphers, an alert)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Transient // the connection dropped, mid-body or before the answer
	case errors.Is(err, ErrDigestMismatch):
		return Transient // bytes damaged on the way; the caller counts repeats (bad source bytes)
	case errors.As(err, &rhe):
		return Permanent // not TLS at all on the other end
	}
	return Transient
}

// WithClass returns err marked as being of class c, for Classify to answer as it is: a failure
// of an API other than the registry's (ECR's control plane, KMS, STS), classified by the package
// that knows that API's error codes (ecr.Classify), so this one Classify still decides for every
// caller (the Lambda's outcomes, the engine's Retryable). A nil err stays nil.
func WithClass(err error, c Class) error {
	if err == nil {
		return nil
	}
	return &classedError{err: err, class: c}
}

type classedError struct {
	err   error
	class Class
}

func (e *classedError) Error() string { return e.err.Error() }
func (e *classedError) Unwrap() error { return e.err }

// IsSchemeMismatch reports whether err is a plain-HTTP server answering a TLS handshake.
// http.Client reports it as http.ErrSchemeMismatch; a bare Transport.RoundTrip (the retry
// transport, the scheme probe) gets the tls.RecordHeaderError that the client turns into it.
func IsSchemeMismatch(err error) bool {
	if errors.Is(err, http.ErrSchemeMismatch) {
		return true
	}
	var rhe tls.RecordHeaderError
	return errors.As(err, &rhe) && string(rhe.RecordHeader[:]) == "HTTP/"
}

// IsCertificateError reports whether err is a TLS certificate that failed verification: not a
// passing fault, but a registry to trust explicitly (or --insecure).
func IsCertificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// isTLSFailure reports a TLS handshake the peer refused with an alert (protocol version, no
// shared cipher, a client certificate it wanted). crypto/tls reports a peer's alert over TCP as
// a *net.OpError whose Op is "remote error", and as tls.AlertError over QUIC.
func isTLSFailure(err error) bool {
	var alert tls.AlertError
	var op *net.OpError
	return errors.As(err, &alert) || errors.As(err, &op) && op.Op == "remote error"
}
