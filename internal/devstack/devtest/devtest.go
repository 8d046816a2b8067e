// Package devtest is for tests only: it starts a pair of real registries (CNCF distribution v3,
// in-process on 127.0.0.1) that stop when the test ends. Every package's tests that copy between
// registries use it.
package devtest

import (
	"context"
	"net/http"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
)

// Options configure NewPair. The zero value starts two plain in-memory registries.
type Options struct {
	// WrapSrc and WrapDst, if set, wrap a registry's handler: fault injection, a request
	// counter, or an ECR behaviour stand-in (ecrstandin.Registry.Wrap) in front of the registry.
	WrapSrc, WrapDst func(http.Handler) http.Handler
}

// Pair is a source and a destination registry, and a Pusher (anonymous) for fixtures.
type Pair struct {
	Src, Dst *devstack.Registry
	Push     *devstack.Pusher
}

// NewPair starts a source and a destination registry, stopped at the end of the test.
func NewPair(t testing.TB, o Options) *Pair {
	t.Helper()
	return &Pair{Src: Start(t, o.WrapSrc), Dst: Start(t, o.WrapDst), Push: devstack.NewPusher()}
}

// Start starts one in-memory registry behind wrap (nil: none), stopped at the end of the test.
func Start(t testing.TB, wrap func(http.Handler) http.Handler) *devstack.Registry {
	t.Helper()
	r, err := devstack.Start(context.Background(), devstack.Options{Wrap: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
