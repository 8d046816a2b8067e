package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of manifests the engine walks.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeOCIManifest        = ocispec.MediaTypeImageManifest
	MediaTypeOCIIndex           = ocispec.MediaTypeImageIndex
)

// accept lists every manifest type we copy. Registries that down-convert when a type is missing
// from Accept (ECR's BatchGetImage, REFERENCE.md) then hand us the manifest as it was pushed.
var accept = strings.Join([]string{MediaTypeOCIIndex, MediaTypeOCIManifest,
	MediaTypeDockerManifestList, MediaTypeDockerManifest}, ", ")

// MaxManifestSize bounds a manifest read into memory (distribution's own limit is 4 MiB).
const MaxManifestSize = 4 << 20

// Manifest is a manifest's exact bytes with the fields the engine needs to walk it.
type Manifest struct {
	Descriptor ocispec.Descriptor // media type, digest and size of Body
	Body       []byte

	Config    *ocispec.Descriptor
	Layers    []ocispec.Descriptor
	Manifests []ocispec.Descriptor // children of an index
	Subject   *ocispec.Descriptor

	ArtifactType string
	Annotations  map[string]string
}

// ReferrerDescriptor is m's entry in a referrers index: the artifact type is the manifest's own
// or, failing that, its config's media type (OCI distribution spec, "Listing Referrers").
func (m *Manifest) ReferrerDescriptor() ocispec.Descriptor {
	d := m.Descriptor
	d.ArtifactType = m.ArtifactType
	if d.ArtifactType == "" && m.Config != nil {
		d.ArtifactType = m.Config.MediaType
	}
	d.Annotations = m.Annotations
	return d
}

// IsIndex reports whether the manifest lists other manifests.
func (m *Manifest) IsIndex() bool {
	return m.Descriptor.MediaType == MediaTypeOCIIndex || m.Descriptor.MediaType == MediaTypeDockerManifestList
}

// ParseManifest decodes body as a manifest of mediaType (the Content-Type it was served with;
// empty means take the body's own mediaType field).
func ParseManifest(mediaType string, body []byte) (*Manifest, error) {
	var f struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Config        *ocispec.Descriptor  `json:"config"`
		Layers        []ocispec.Descriptor `json:"layers"`
		Manifests     []ocispec.Descriptor `json:"manifests"`
		Subject       *ocispec.Descriptor  `json:"subject"`
		ArtifactType  string               `json:"artifactType"`
		Annotations   map[string]string    `json:"annotations"`
		FSLayers      json.RawMessage      `json:"fsLayers"`
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	mt, _, _ := strings.Cut(mediaType, ";")
	mt = strings.TrimSpace(mt)
	if mt == "" || mt == "application/json" || mt == "text/plain" || mt == "application/octet-stream" {
		mt = f.MediaType
	}
	if mt == "" { // OCI allows an absent mediaType; tell the kinds apart by their fields
		if f.Manifests != nil {
			mt = MediaTypeOCIIndex
		} else {
			mt = MediaTypeOCIManifest
		}
	}
	if f.SchemaVersion == 1 || f.FSLayers != nil || mt == MediaTypeDockerSchema1 || mt == MediaTypeDockerSchema1JWS {
		return nil, errors.New("docker schema 1 manifests are not supported (deprecated since 2019; push the image again with a current client)")
	}
	if f.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schemaVersion %d, want 2", f.SchemaVersion)
	}
	m := &Manifest{
		Descriptor: ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(body), Size: int64(len(body))},
		Body:       body, Config: f.Config, Layers: f.Layers, Manifests: f.Manifests, Subject: f.Subject,
		ArtifactType: f.ArtifactType, Annotations: f.Annotations,
	}
	switch mt {
	case MediaTypeOCIIndex, MediaTypeDockerManifestList:
		if f.Config != nil || f.Layers != nil {
			return nil, fmt.Errorf("index %s has config or layers", m.Descriptor.Digest)
		}
	default:
		if f.Config == nil {
			return nil, fmt.Errorf("manifest %s (%s) has no config", m.Descriptor.Digest, mt)
		}
		if f.Manifests != nil {
			return nil, fmt.Errorf("image manifest %s lists manifests", m.Descriptor.Digest)
		}
	}
	for _, d := range m.children() {
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("manifest %s: bad digest %q: %w", m.Descriptor.Digest, d.Digest, err)
		}
		if d.Size < 0 {
			return nil, fmt.Errorf("manifest %s: negative size for %s", m.Descriptor.Digest, d.Digest)
		}
	}
	return m, nil
}

func (m *Manifest) children() []ocispec.Descriptor {
	out := append([]ocispec.Descriptor{}, m.Manifests...)
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	return append(out, m.Layers...)
}

// Manifest fetches a manifest by tag or digest. When ref is a digest the body is checked against it.
func (r *Repository) Manifest(ctx context.Context, ref string) (*Manifest, error) {
	req := r.newRequest(ctx, http.MethodGet, r.base(ctx)+"/manifests/"+ref, nil)
	req.Header.Set("Accept", accept)
	resp, err := r.do(req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s@%s: %w", r, ref, err)
	}
	if len(body) > MaxManifestSize {
		return nil, fmt.Errorf("manifest %s@%s is larger than %d bytes", r, ref, MaxManifestSize)
	}
	m, err := ParseManifest(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, fmt.Errorf("manifest %s@%s: %w", r, ref, err)
	}
	if want, err := digest.Parse(ref); err == nil && want != m.Descriptor.Digest {
		return nil, fmt.Errorf("manifest %s@%s: got content with digest %s: %w", r, ref, m.Descriptor.Digest, ErrDigestMismatch)
	}
	return m, nil
}

// Head returns a manifest's descriptor without its body; a registry that leaves out
// Docker-Content-Digest is asked with GET instead.
func (r *Repository) Head(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	req := r.newRequest(ctx, http.MethodHead, r.base(ctx)+"/manifests/"+ref, nil)
	req.Header.Set("Accept", accept)
	resp, err := r.do(req, http.StatusOK)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	resp.Body.Close()
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		m, err := r.Manifest(ctx, ref)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		return m.Descriptor, nil
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return ocispec.Descriptor{MediaType: strings.TrimSpace(mt), Digest: d, Size: resp.ContentLength}, nil
}

// PutManifest uploads a manifest's exact bytes under ref (a tag or its digest). For a manifest
// with a subject it reports whether the registry indexed it for the referrers API (it answered
// with an OCI-Subject header); if not, the client maintains the sha256-<hex> fallback tag.
func (r *Repository) PutManifest(ctx context.Context, ref string, m *Manifest) (subjectIndexed bool, err error) {
	req := r.newRequest(ctx, http.MethodPut, r.base(ctx)+"/manifests/"+ref, m.Body)
	req.Header.Set("Content-Type", m.Descriptor.MediaType)
	resp, err := r.do(req, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != m.Descriptor.Digest.String() {
		return false, fmt.Errorf("registry %s stored manifest %s as %s: %w", r.Host(), m.Descriptor.Digest, got, ErrDigestMismatch)
	}
	return resp.Header.Get("OCI-Subject") != "", nil
}

// Referrers lists the manifests whose subject is d, through the OCI 1.1 referrers API.
// It returns ErrUnsupported when the registry has no such API; the caller then looks for the
// fallback tag (sha256-<hex>).
func (r *Repository) Referrers(ctx context.Context, d digest.Digest) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	next := r.base(ctx) + "/referrers/" + d.String()
	for next != "" {
		req := r.newRequest(ctx, http.MethodGet, next, nil)
		req.Header.Set("Accept", MediaTypeOCIIndex)
		resp, err := r.do(req, http.StatusOK)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && (e.StatusCode == http.StatusNotFound && e.Code != "MANIFEST_UNKNOWN" ||
				e.StatusCode == http.StatusMethodNotAllowed || e.StatusCode == http.StatusNotImplemented ||
				e.StatusCode == http.StatusBadRequest) {
				return nil, fmt.Errorf("referrers API of %s: %w", r.Host(), ErrUnsupported)
			}
			return nil, err
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, MediaTypeOCIIndex) {
			resp.Body.Close()
			return nil, fmt.Errorf("referrers API of %s answered %q: %w", r.Host(), ct, ErrUnsupported)
		}
		var idx struct {
			Manifests []ocispec.Descriptor `json:"manifests"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, MaxManifestSize)).Decode(&idx)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("decoding referrers of %s@%s: %w", r, d, err)
		}
		out = append(out, idx.Manifests...)
		next = nextLink(resp)
	}
	return out, nil
}

// Tags lists every tag of the repository, following pagination.
func (r *Repository) Tags(ctx context.Context) ([]string, error) {
	var out []string
	next := r.base(ctx) + "/tags/list?n=1000"
	for next != "" {
		resp, err := r.do(r.newRequest(ctx, http.MethodGet, next, nil), http.StatusOK)
		if err != nil {
			return nil, err
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("decoding tags of %s: %w", r, err)
		}
		out = append(out, page.Tags...)
		next = nextLink(resp)
	}
	return out, nil
}

// Catalog lists the repositories of the registry at host through /v2/_catalog (an extension of
// the Docker Registry HTTP API V2 that distribution, Harbor and Zot serve; most hosted registries
// refuse it), n per page, following pagination.
func (c *Client) Catalog(ctx context.Context, host string, n int) ([]string, error) {
	reg, err := name.NewRegistry(host, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %w", host, err)
	}
	// Any repository handle reaches the host; the catalog is not under a repository.
	r := &Repository{c: c, repo: reg.Repo("catalog")}
	var out []string
	next := c.Scheme(ctx, host) + "://" + host + "/v2/_catalog?n=" + strconv.Itoa(n)
	for next != "" {
		resp, err := r.do(r.newRequest(ctx, http.MethodGet, next, nil), http.StatusOK)
		if err != nil {
			return nil, err
		}
		var page struct {
			Repositories []string `json:"repositories"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("decoding the catalog of %s: %w", host, err)
		}
		out = append(out, page.Repositories...)
		next = nextLink(resp)
	}
	return out, nil
}

// nextLink returns the absolute URL of a Link: <...>; rel="next" header, or "".
func nextLink(resp *http.Response) string {
	for _, l := range resp.Header.Values("Link") {
		for _, part := range strings.Split(l, ",") {
			target, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.Contains(params, `rel="next"`) && !strings.Contains(params, "rel=next") {
				continue
			}
			u, err := resp.Request.URL.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
			if err != nil || u.Host != resp.Request.URL.Host {
				return "" // never follow a link to another host
			}
			return u.String()
		}
	}
	return ""
}

// TagFor returns the fallback tag the OCI distribution spec uses for referrers of d
// (sha256:abc -> sha256-abc), which cosign-style signatures extend with .sig, .att and .sbom.
func TagFor(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded()
}
