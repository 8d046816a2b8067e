package cli

import (
	"context"
	"fmt"

	"github.com/ecrsync/ecrsync/internal/layout"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// layoutArgs reports which of a copy's SRC and DST are OCI layouts (oci:DIR[:TAG],
// oci-archive:FILE[:TAG]); a malformed one is a usage error.
func layoutArgs(args []string) (refs [2]*layout.Ref, any bool, err error) {
	for i, a := range args[:2] {
		r, ok, err := layout.Parse(a)
		if err != nil {
			return refs, false, usageError{err}
		}
		if ok {
			refs[i], any = &r, true
		}
	}
	return refs, any, nil
}

// hostOf is the registry host of a copy argument; "" for an OCI layout.
func hostOf(arg string) string {
	if _, ok, _ := layout.Parse(arg); ok {
		return ""
	}
	if h := hosts(arg); len(h) == 1 {
		return h[0]
	}
	return ""
}

// copyLayout copies between a registry and an OCI layout or archive, or between two layouts,
// through the engine's Target interface: bit for bit, every platform and referrer, as between
// registries. An archive destination is written whole only when the copy succeeded.
func copyLayout(ctx context.Context, c *registry.Client, cp *replicate.Copier, args []string, refs [2]*layout.Ref) (res *replicate.Result, err error) {
	var src, dst replicate.Target
	var srcRef, dstRef string
	if r := refs[0]; r != nil {
		l, done, err := layout.OpenSource(*r, "")
		if err != nil {
			return nil, usageError{err}
		}
		defer done()
		if srcRef = r.Ref; srcRef == "" {
			if srcRef, err = l.Default(ctx); err != nil {
				return nil, usageError{err}
			}
		}
		src = l
	} else {
		repo, ref, err := replicate.ParseReference(args[0])
		if err != nil {
			return nil, usageError{err}
		}
		src, srcRef = c.Repository(repo), ref
		if srcRef == "" {
			srcRef = "latest"
		}
	}
	if r := refs[1]; r != nil {
		l, finish, err := layout.OpenDestination(*r, "")
		if err != nil {
			return nil, usageError{err}
		}
		defer func() {
			if ferr := finish(err == nil); ferr != nil && err == nil {
				err = fmt.Errorf("%s: %w", r.Path, ferr)
			}
		}()
		dst, dstRef = l, r.Ref
	} else {
		repo, ref, err := replicate.ParseReference(args[1])
		if err != nil {
			return nil, usageError{err}
		}
		dst, dstRef = c.Repository(repo), ref
	}
	return cp.CopyTarget(ctx, src, srcRef, dst, dstRef)
}
