// Package devstack runs real container registries (CNCF distribution v3) in-process on
// 127.0.0.1, for `ecrsync dev`, `make demo` and the tests, and the dev stack around them: a
// webhook for the source registry's push notifications, a queue and workers (Stack). It is linked
// only into builds with the devstack tag (bin/ecrsync-dev) and into tests: distribution, redis,
// otel, grpc and prometheus come with it, and Go runs their package inits at every start.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // storage on disk
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"   // storage in memory
	"github.com/sirupsen/logrus"
)

// quietOnce silences distribution's logging, once, when the first registry starts.
var quietOnce sync.Once

// quiet silences logrus's global logger, which distribution logs through: its access lines would
// drown ours. A process-wide change, so it happens only when a dev registry starts (`ecrsync
// dev`, tests), never at package init: the Lambda and the lean CLI link no logrus at all.
func quiet() { quietOnce.Do(func() { logrus.SetOutput(io.Discard) }) }

// Options configure one registry. The zero value is an in-memory registry on a free port.
type Options struct {
	// Addr is the listen address; empty means 127.0.0.1:0 (a free port).
	Addr string
	// DataDir keeps storage on disk so it survives a restart; empty means in memory.
	DataDir string
	// NotifyURL, if set, receives the registry's push notifications (distribution's webhook
	// envelope, application/vnd.docker.distribution.events.v2+json).
	NotifyURL string
	// Wrap, if set, wraps the registry's handler: a test puts fault injection or an ECR
	// behaviour stand-in in front of the real registry this way.
	Wrap func(http.Handler) http.Handler
}

// Registry is a running registry.
type Registry struct {
	// Addr is host:port, what image references start with.
	Addr string
	srv  *http.Server
	app  *handlers.App
	done chan error
	stop chan struct{}
	once sync.Once
}

// Start runs a registry until Close or until ctx ends.
func Start(ctx context.Context, opts Options) (*Registry, error) {
	quiet()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	cfg := &configuration.Configuration{}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	if opts.DataDir != "" {
		cfg.Storage = configuration.Storage{"filesystem": configuration.Parameters{"rootdirectory": opts.DataDir}}
	} else {
		cfg.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	}
	// Foreign (non-distributable) layers name URLs; distribution refuses every URL unless told.
	cfg.Validation.Manifests.URLs.Allow = []string{"^https?://"}
	// The catalog (GET /v2/_catalog) lists nothing unless given a page size.
	cfg.Catalog.MaxEntries = 1000
	cfg.Storage["delete"] = configuration.Parameters{"enabled": true}
	cfg.Storage["maintenance"] = configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}}
	if opts.NotifyURL != "" {
		cfg.Notifications.Endpoints = []configuration.Endpoint{{
			Name: "ecrsync", URL: opts.NotifyURL, Timeout: 5 * time.Second, Threshold: 10, Backoff: time.Second,
			// Blob events are noise for a sync: only manifests matter.
			Ignore: configuration.Ignore{Actions: []string{"pull"}},
		}}
		cfg.Notifications.EventConfig.IncludeReferences = true
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", opts.Addr, err)
	}
	app := handlers.NewApp(ctx, cfg)
	var h http.Handler = app
	if opts.Wrap != nil {
		h = opts.Wrap(h)
	}
	r := &Registry{Addr: ln.Addr().String(), app: app, done: make(chan error, 1), stop: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}}
	go func() {
		err := r.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		r.done <- err
	}()
	go func() {
		select {
		case <-ctx.Done():
			r.Close()
		case <-r.stop:
		}
	}()
	return r, nil
}

// Close stops the registry and waits for it.
func (r *Registry) Close() error {
	var err error
	r.once.Do(func() { err = r.close() })
	return err
}

func (r *Registry) close() error {
	defer close(r.stop)
	// Graceful shutdown would wait up to 5 s for connections a client dialled and never used
	// (net/http counts them as new, not idle); these registries hold nothing worth waiting for.
	err := r.srv.Close()
	r.app.Shutdown()
	if serr := <-r.done; err == nil {
		err = serr
	}
	return err
}
