package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// DeleteTag removes tag from the repository, and only the tag: DELETE /v2/<name>/manifests/<tag>
// (OCI distribution spec, "Deleting tags"; CNCF distribution v3 untags, the manifest and every
// other tag pointing at it stay). A registry that does not delete tags answers 405 or
// UNSUPPORTED: the error then wraps ErrUnsupported.
func (r *Repository) DeleteTag(ctx context.Context, tag string) error {
	if strings.Contains(tag, ":") {
		return fmt.Errorf("DeleteTag %s: %q is a digest; only tags are deleted", r, tag)
	}
	resp, err := r.do(r.newRequest(ctx, http.MethodDelete, r.base(ctx)+"/manifests/"+tag, nil), http.StatusAccepted, http.StatusOK)
	if err != nil {
		if e, ok := err.(*Error); ok && (e.StatusCode == http.StatusMethodNotAllowed || e.Code == "UNSUPPORTED") {
			return fmt.Errorf("deleting tag %s:%s: %w (%w)", r, tag, ErrUnsupported, err)
		}
		return fmt.Errorf("deleting tag %s:%s: %w", r, tag, err)
	}
	resp.Body.Close()
	return nil
}
