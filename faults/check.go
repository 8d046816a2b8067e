package faults

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// accept lists every manifest type, so the registry answers what it stores.
const accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

var plain = &http.Client{Timeout: 30 * time.Second}

// Check reads tag in host/repo with plain HTTP, independently of every client under test. It
// returns the digest the tag points at ("" if there is no tag) and an error unless the image
// is complete: every child manifest and blob present, each with the bytes its digest names.
func Check(ctx context.Context, host, repo, tag string) (string, error) {
	return CheckWith(ctx, plain, host, repo, tag)
}

// CheckWith is Check through hc (a test that must reach the registry past a stand-in in front).
func CheckWith(ctx context.Context, hc *http.Client, host, repo, tag string) (string, error) {
	body, code, err := get(ctx, hc, "http://"+host+"/v2/"+repo+"/manifests/"+tag)
	if err != nil {
		return "", err
	}
	if code == http.StatusNotFound {
		return "", nil
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("tag %s: HTTP %d", tag, code)
	}
	d := sum(body)
	return d, walk(ctx, hc, host, repo, body, 0)
}

func walk(ctx context.Context, hc *http.Client, host, repo string, body []byte, depth int) error {
	if depth > 4 {
		return fmt.Errorf("manifests nested too deep")
	}
	var m struct {
		Config *struct {
			Digest string `json:"digest"`
			Size   int64  `json:"size"`
		} `json:"config"`
		Layers []struct {
			Digest string   `json:"digest"`
			Size   int64    `json:"size"`
			URLs   []string `json:"urls"`
		} `json:"layers"`
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	for _, c := range m.Manifests {
		b, code, err := get(ctx, hc, "http://"+host+"/v2/"+repo+"/manifests/"+c.Digest)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("child manifest %s: HTTP %d", c.Digest, code)
		}
		if sum(b) != c.Digest {
			return fmt.Errorf("child manifest %s has digest %s", c.Digest, sum(b))
		}
		if err := walk(ctx, hc, host, repo, b, depth+1); err != nil {
			return err
		}
	}
	type blob struct {
		digest string
		size   int64
	}
	var blobs []blob
	if m.Config != nil {
		blobs = append(blobs, blob{m.Config.Digest, m.Config.Size})
	}
	for _, l := range m.Layers {
		if len(l.URLs) == 0 {
			blobs = append(blobs, blob{l.Digest, l.Size})
		}
	}
	for _, bl := range blobs {
		b, code, err := get(ctx, hc, "http://"+host+"/v2/"+repo+"/blobs/"+bl.digest)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("blob %s: HTTP %d", bl.digest, code)
		}
		if sum(b) != bl.digest || int64(len(b)) != bl.size {
			return fmt.Errorf("blob %s: %d bytes with digest %s", bl.digest, len(b), sum(b))
		}
	}
	return nil
}

func get(ctx context.Context, hc *http.Client, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", accept)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
