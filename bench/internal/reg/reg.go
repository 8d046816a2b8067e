// Package reg is a minimal OCI distribution client for the benchmark harness:
// plain HTTP to loopback registries, no auth, no retries, no client logic
// beyond what the spec requires. It is deliberately small so that the raw
// ceiling it measures is the registry's, not a library's.
package reg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Media types the harness writes and accepts.
const (
	MediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaOCIConfig      = "application/vnd.oci.image.config.v1+json"
	MediaOCILayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// acceptManifests lists every manifest type so that no registry down-converts.
var acceptManifests = strings.Join([]string{MediaOCIManifest, MediaOCIIndex, MediaDockerManifest, MediaDockerList}, ", ")

// Ref names a manifest: Host/Repo:Tag or Host/Repo@Digest (Ref holds either).
type Ref struct {
	Host, Repo, Ref string
}

// String returns the reference in the usual host/repo:tag or host/repo@digest form.
func (r Ref) String() string {
	if strings.HasPrefix(r.Ref, "sha256:") {
		return r.Host + "/" + r.Repo + "@" + r.Ref
	}
	return r.Host + "/" + r.Repo + ":" + r.Ref
}

// ParseRef parses host/repo[:tag|@digest]; the tag defaults to latest.
func ParseRef(s string) (Ref, error) {
	host, rest, ok := strings.Cut(s, "/")
	if !ok || rest == "" {
		return Ref{}, fmt.Errorf("reference %q: want host/repo[:tag]", s)
	}
	if repo, d, ok := strings.Cut(rest, "@"); ok {
		return Ref{host, repo, d}, nil
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		return Ref{host, rest[:i], rest[i+1:]}, nil
	}
	return Ref{host, rest, "latest"}, nil
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Platform  *Platform `json:"platform,omitempty"`
}

// Platform is the platform of an index entry.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest holds the fields of an image manifest or an index that the harness reads.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        *Descriptor  `json:"config,omitempty"`
	Layers        []Descriptor `json:"layers,omitempty"`
	Manifests     []Descriptor `json:"manifests,omitempty"`
}

// IsIndex reports whether m lists manifests rather than layers.
func (m *Manifest) IsIndex() bool {
	return m.MediaType == MediaOCIIndex || m.MediaType == MediaDockerList
}

// Digest returns the sha256 digest of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Client talks plain HTTP to registries; the zero value is not usable, use New.
type Client struct {
	http *http.Client
}

// New returns a client with a connection pool big enough for parallel copies.
func New() *Client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}
	return &Client{http: &http.Client{Transport: tr}}
}

func u(host, repo, path string) string { return "http://" + host + "/v2/" + repo + path }

// StatusError is an unexpected HTTP answer.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Code, strings.TrimSpace(e.Body))
}

func (c *Client) do(req *http.Request, want ...int) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return nil, &StatusError{req.Method, req.URL.Redacted(), resp.StatusCode, string(b)}
}

// Ping waits until the registry answers GET /v2/ or ctx ends.
func (c *Client) Ping(ctx context.Context, host string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry %s not ready: %w (last: %v)", host, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// GetManifest fetches a manifest and returns its bytes, media type and the
// digest of the bytes (computed here, not trusted from a header).
func (c *Client) GetManifest(ctx context.Context, r Ref) ([]byte, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u(r.Host, r.Repo, "/manifests/"+r.Ref), nil)
	req.Header.Set("Accept", acceptManifests)
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.Header.Get("Content-Type"), err
}

// PutManifest stores a manifest under r.Ref (a tag or its digest).
func (c *Client) PutManifest(ctx context.Context, r Ref, mediaType string, body []byte) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u(r.Host, r.Repo, "/manifests/"+r.Ref), bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaType)
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// HeadBlob reports whether the blob exists in the repository.
func (c *Client) HeadBlob(ctx context.Context, host, repo, dgst string) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, u(host, repo, "/blobs/"+dgst), nil)
	resp, err := c.do(req, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// GetBlob opens a blob for reading; the caller closes it.
func (c *Client) GetBlob(ctx context.Context, host, repo, dgst string) (io.ReadCloser, int64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u(host, repo, "/blobs/"+dgst), nil)
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// startUpload opens an upload session and returns its absolute location.
func (c *Client) startUpload(ctx context.Context, host, repo string) (*url.URL, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u(host, repo, "/blobs/uploads/"), nil)
	resp, err := c.do(req, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, fmt.Errorf("upload location: %w", err)
	}
	return req.URL.ResolveReference(loc), nil
}

func withDigest(loc *url.URL, dgst string) string {
	l := *loc
	q := l.Query()
	q.Set("digest", dgst)
	l.RawQuery = q.Encode()
	return l.String()
}

// PutBlob uploads a blob of known digest and size in one monolithic PUT
// (POST then PUT with the body), the way the ceiling copies.
func (c *Client) PutBlob(ctx context.Context, host, repo, dgst string, size int64, body io.Reader) error {
	loc, err := c.startUpload(ctx, host, repo)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, withDigest(loc, dgst), body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// StreamBlob uploads a blob whose digest is known only once it has been
// written: one streamed PATCH fed by write, then the closing PUT with the
// digest that write returns.
func (c *Client) StreamBlob(ctx context.Context, host, repo string, write func(io.Writer) (string, error)) (string, error) {
	loc, err := c.startUpload(ctx, host, repo)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	var dgst string
	done := make(chan error, 1)
	go func() {
		d, err := write(pw)
		dgst = d
		pw.CloseWithError(err)
		done <- err
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, loc.String(), pr)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req, http.StatusAccepted, http.StatusNoContent)
	if werr := <-done; werr != nil {
		return "", werr
	}
	if err != nil {
		pr.CloseWithError(err)
		return "", err
	}
	resp.Body.Close()
	next, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPut, withDigest(loc.ResolveReference(next), dgst), nil)
	req.ContentLength = 0
	resp, err = c.do(req, http.StatusCreated)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return dgst, nil
}

// PutBytes uploads a small blob held in memory and returns its descriptor.
func (c *Client) PutBytes(ctx context.Context, host, repo, mediaType string, b []byte) (Descriptor, error) {
	d := Descriptor{MediaType: mediaType, Digest: Digest(b), Size: int64(len(b))}
	if ok, err := c.HeadBlob(ctx, host, repo, d.Digest); err != nil || ok {
		return d, err
	}
	return d, c.PutBlob(ctx, host, repo, d.Digest, d.Size, bytes.NewReader(b))
}

// DecodeManifest parses manifest bytes, taking the media type from the body
// when the registry's Content-Type is missing.
func DecodeManifest(b []byte, contentType string) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if m.MediaType == "" {
		m.MediaType = contentType
		if m.MediaType == "" && len(m.Manifests) > 0 {
			m.MediaType = MediaOCIIndex
		}
	}
	return &m, nil
}
