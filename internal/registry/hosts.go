package registry

import (
	"net/http"
	"slices"
)

// NewHostTransport returns NewTransport(insecure), or, when only some hosts are insecure, a
// transport that sends requests for those hosts through an unverified-TLS transport and every
// other request through a verifying one (--src-insecure, --dst-insecure).
func NewHostTransport(insecure bool, insecureHosts []string) http.RoundTripper {
	if insecure || len(insecureHosts) == 0 {
		return NewTransport(insecure)
	}
	return &hostTransport{hosts: slices.Clone(insecureHosts), secure: NewTransport(false), insecure: NewTransport(true)}
}

// hostTransport routes each request by its host.
type hostTransport struct {
	hosts            []string
	secure, insecure http.RoundTripper
}

// RoundTrip sends req through the transport of its host.
func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if slices.Contains(t.hosts, req.URL.Host) {
		return t.insecure.RoundTrip(req)
	}
	return t.secure.RoundTrip(req)
}
