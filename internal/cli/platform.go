package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecrsync/ecrsync/internal/ref"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// checkPlatforms refuses --platform values that are not os/architecture[/variant].
func checkPlatforms(ps []string) error {
	for _, p := range ps {
		if !ref.ValidPlatform(p) {
			return usageError{fmt.Errorf("--platform %q: want os/architecture[/variant] in lower case, e.g. linux/amd64 or linux/arm/v7", p)}
		}
	}
	return nil
}

// copyPlatforms copies only the platforms asked for of src (the engine's CopyPlatforms: one
// platform is its manifest under the tag, several a new index of them). A platform the image
// lacks is a usage error that lists what it has.
func copyPlatforms(ctx context.Context, cp *replicate.Copier, src, dst string, platforms []string) (*replicate.Result, error) {
	srcRepo, srcRef, dstRepo, dstRef, err := parseSrcDst(src, dst)
	if err != nil {
		return nil, err
	}
	if srcRef == "" {
		srcRef = "latest"
	}
	res, err := cp.CopyRefPlatforms(ctx, srcRepo, srcRef, dstRepo, dstRef, platforms)
	if pe := (*replicate.PlatformError)(nil); errors.As(err, &pe) {
		return nil, usageError{err}
	}
	return res, err
}
