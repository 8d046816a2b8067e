package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// classRows is every HTTP status and transport error the code tells apart, with its class.
// Each row is checked against Classify, Error.Temporary and the retry transport's decision, so
// the three can never disagree again (501 once was retryable in one and final in another).
var classRows = []struct {
	name string
	err  error // a transport error, or an *Error built from the status below
	want Class
}{
	// Answers the registry gave.
	{"400 bad request", status(400, "", ""), Permanent},
	{"400 TAG_INVALID (immutable tag)", status(400, "TAG_INVALID", "tag already exists"), Permanent},
	{"400 MANIFEST_INVALID", status(400, "MANIFEST_INVALID", ""), Permanent},
	{"400 DIGEST_INVALID (bytes damaged on the way)", status(400, "DIGEST_INVALID", ""), Transient},
	{"400 SIZE_INVALID", status(400, "SIZE_INVALID", ""), Transient},
	{"404 BLOB_UPLOAD_UNKNOWN (session lost)", status(404, "BLOB_UPLOAD_UNKNOWN", ""), Transient},
	{"400 BLOB_UPLOAD_INVALID", status(400, "BLOB_UPLOAD_INVALID", ""), Transient},
	{"400 MANIFEST_BLOB_UNKNOWN (blob deleted meanwhile)", status(400, "MANIFEST_BLOB_UNKNOWN", ""), Transient},
	{"401 unauthorized", status(401, "UNAUTHORIZED", ""), Permanent},
	{"403 denied", status(403, "DENIED", "not allowed"), Permanent},
	{"403 ECR expired token", status(403, "", "Your authorization token has expired. Reauthenticate and try again."), Transient},
	{"404 MANIFEST_UNKNOWN", status(404, "MANIFEST_UNKNOWN", ""), Permanent},
	{"404 NAME_UNKNOWN", status(404, "NAME_UNKNOWN", ""), Permanent},
	{"405 method not allowed", status(405, "UNSUPPORTED", ""), Permanent},
	{"408 request timeout", status(408, "", ""), Transient},
	{"409 conflict", status(409, "", ""), Permanent},
	{"413 too large", status(413, "", ""), Permanent},
	{"425 too early", status(425, "", ""), Transient},
	{"429 throttled", status(429, "TOOMANYREQUESTS", "Rate exceeded"), Transient},
	{"500 internal error", status(500, "", ""), Transient},
	{"501 not implemented (RFC 9110: the server lacks the feature)", status(501, "", ""), Permanent},
	{"502 bad gateway", status(502, "", ""), Transient},
	{"503 unavailable", status(503, "", ""), Transient},
	{"504 gateway timeout", status(504, "", ""), Transient},
	{"505 HTTP version not supported", status(505, "", ""), Permanent},
	{"507 insufficient storage (other 5xx)", status(507, "", ""), Transient},

	// Failures before any answer.
	{"connection refused", opErr("dial", syscall.ECONNREFUSED), Unreachable},
	{"no route to host", opErr("dial", syscall.EHOSTUNREACH), Unreachable},
	{"network unreachable", opErr("dial", syscall.ENETUNREACH), Unreachable},
	{"unknown host", &net.DNSError{Err: "no such host", Name: "regsitry.example", IsNotFound: true}, Unreachable},
	{"DNS timeout", &net.DNSError{Err: "i/o timeout", Name: "registry.example", IsTimeout: true}, Transient},
	{"DNS server failure", &net.DNSError{Err: "server misbehaving", Name: "registry.example", IsTemporary: true}, Transient},
	{"connection reset", opErr("read", syscall.ECONNRESET), Transient},
	{"broken pipe", opErr("write", syscall.EPIPE), Transient},
	{"EOF mid-body", fmt.Errorf("reading blob: %w", io.ErrUnexpectedEOF), Transient},
	{"EOF before the answer", io.EOF, Transient},
	{"dial or read timeout", opErr("dial", os.ErrDeadlineExceeded), Transient},
	{"digest mismatch", fmt.Errorf("blob: %w", ErrDigestMismatch), Transient},
	{"deadline of the invocation", context.DeadlineExceeded, Transient},
	{"cancelled", context.Canceled, Permanent},
	{"plain HTTP answering TLS (transport)", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'H', 'T', 'T', 'P', '/'}}, Permanent},
	{"plain HTTP answering TLS (http.Client)", &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: http.ErrSchemeMismatch}, Permanent},
	{"not TLS at all", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{0, 0, 0, 0, 0}}, Permanent},
	{"unknown certificate authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, Permanent},
	{"certificate for another host", x509.HostnameError{Host: "r.example", Certificate: &x509.Certificate{}}, Permanent},
	{"expired certificate", x509.CertificateInvalidError{Reason: x509.Expired}, Permanent},
	{"TLS alert from the peer", opErr("remote error", errors.New("tls: handshake failure")), Permanent},
	{"TLS alert (QUIC)", tls.AlertError(40), Permanent},
	{"anything else", errors.New("something unforeseen"), Transient},
}

func status(code int, ociCode, msg string) *Error {
	return &Error{Method: http.MethodGet, URL: "https://r.example/v2/app/manifests/v1", StatusCode: code, Code: ociCode, Message: msg}
}

func opErr(op string, err error) error {
	return &url.Error{Op: "Get", URL: "https://r.example/v2/", Err: &net.OpError{Op: op, Net: "tcp", Err: &os.SyscallError{Syscall: op, Err: err}}}
}

func TestClassifyEveryStatusAndTransportError(t *testing.T) {
	t.Parallel()
	for _, tt := range classRows {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tt.err); got != tt.want {
				t.Fatalf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
			// Wrapped as callers wrap it, the class stays.
			if got := Classify(fmt.Errorf("putting manifest: %w", tt.err)); got != tt.want {
				t.Errorf("Classify(wrapped) = %v, want %v", got, tt.want)
			}
			var e *Error
			if errors.As(tt.err, &e) && e.Temporary() != tt.want.Retryable() {
				t.Errorf("Temporary() = %v, Classify says %v", e.Temporary(), tt.want)
			}
		})
	}
}

// TestRetryTransportFollowsTheTable: the transport retries a request exactly when the table says
// its failure is retryable — for answers, those whose status alone says so (a body's OCI code
// is for the operation, like an upload started again, not for the same request); for errors
// before an answer, every retryable row but a deadline (the caller's context is over).
func TestRetryTransportFollowsTheTable(t *testing.T) {
	t.Parallel()
	rt := &retryTransport{policy: DefaultRetryPolicy()}
	for _, tt := range classRows {
		var e *Error
		var resp *http.Response
		var err error
		if errors.As(tt.err, &e) {
			req, _ := http.NewRequest(e.Method, e.URL, nil)
			body := `{"errors":[{"code":"` + e.Code + `","message":"` + e.Message + `"}]}`
			resp = &http.Response{StatusCode: e.StatusCode, Request: req, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		} else {
			err = tt.err
		}
		want := tt.want.Retryable()
		switch {
		case resp != nil && e.Code != "" && transientCodes[e.Code], resp != nil && errors.Is(e, ErrBlobUnknown):
			want = ClassifyStatus(e.StatusCode).Retryable()
		case errors.Is(err, context.DeadlineExceeded):
			want = false
		}
		reauthed := 0
		if _, got := rt.classify(resp, err, &reauthed); got != want {
			t.Errorf("%s: transport retries = %v, want %v", tt.name, got, want)
		}
	}
}

func TestDefaultRetryPolicyCannotBeChangedFromOutside(t *testing.T) {
	t.Parallel()
	p := DefaultRetryPolicy()
	p.Budget = time.Second
	if DefaultRetryPolicy().Budget != DefaultBudget {
		t.Fatal("changing a returned policy changed the default")
	}
	c := New(Options{Retry: RetryPolicy{Budget: 3 * time.Second}})
	if got := c.RetryPolicy(); got.Budget != 3*time.Second || got.Base != DefaultBase || got.Max != DefaultMax || got.Unreachable != DefaultUnreachableBudget {
		t.Fatalf("RetryPolicy() = %+v, want a 3 s budget and the default backoff", got)
	}
}

// An error classified by the package that knows its API (ecr.Classify) is answered as marked,
// through any wrapping, whatever it wraps.
func TestWithClassIsAnsweredAsMarked(t *testing.T) {
	t.Parallel()
	for _, c := range []Class{Permanent, Transient, Unreachable} {
		err := fmt.Errorf("ctx: %w", WithClass(io.ErrUnexpectedEOF, c))
		if got := Classify(err); got != c {
			t.Errorf("WithClass(%s) = %s", c, got)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("WithClass hides what it wraps")
		}
	}
	if WithClass(nil, Transient) != nil {
		t.Error("WithClass(nil) is not nil")
	}
}
