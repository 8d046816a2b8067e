package lambda

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Options configure New. The zero value copies with the engine's defaults and logs nothing.
type Options struct {
	Logger      *slog.Logger
	Jobs        int  // 0 means replicate.DefaultJobs
	NoReferrers bool // skip signatures, SBOMs and other referrers
	Metrics     bool // CloudWatch EMF fields on every sync line
	UserAgent   string
	// AWS is the AWS configuration for ECR logins; nil means the default chain (environment,
	// shared config, the Lambda role), loaded once here. Endpoint overrides such as
	// AWS_ENDPOINT_URL_ECR are honoured.
	AWS *aws.Config
	// Fallback resolves credentials of registries that are not ECR; nil means the Docker config.
	Fallback authn.Keychain
	// Retry is the per-request retry policy; zero means registry.DefaultRetryPolicy.
	Retry registry.RetryPolicy
	// Insecure allows plain HTTP and unverified TLS for registries not on loopback.
	Insecure bool
}

// New builds a Handler for cfg: ECR registries (named by account and Region, or by an ECR host)
// log in with GetAuthorizationToken, through their role_arn if set; others use Docker
// credentials or none; loopback registries are spoken to over plain HTTP.
func New(ctx context.Context, cfg *rules.Config, o Options) (*Handler, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var awsCfg aws.Config
	if o.AWS != nil {
		awsCfg = *o.AWS
	} else {
		c, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		awsCfg = c
	}
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: awsCfg, Fallback: o.Fallback, Logger: log})
	cfg.Registries(func(r *rules.Registry) {
		if l, ok := r.ECR(); ok {
			kc.Add(r.Host(), l, r.RoleARN)
		}
	})
	client := registry.New(registry.Options{Keychain: kc, Logger: log, UserAgent: o.UserAgent, Retry: o.Retry, Insecure: o.Insecure})
	// The engine's own "copied" line is Debug here: the handler writes the one line per
	// event and destination.
	cp := replicate.New(client, replicate.Options{Jobs: o.Jobs, NoReferrers: o.NoReferrers, Logger: quiet(log)})
	return &Handler{Rules: cfg, Copier: cp, Logger: log, Metrics: o.Metrics}, nil
}

// quiet lowers a logger's Info lines to Debug.
func quiet(l *slog.Logger) *slog.Logger { return slog.New(&demote{l.Handler()}) }

type demote struct{ slog.Handler }

func (d *demote) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return d.Handler.Enabled(ctx, l)
}

func (d *demote) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return d.Handler.Handle(ctx, r)
}

func (d *demote) WithAttrs(a []slog.Attr) slog.Handler { return &demote{d.Handler.WithAttrs(a)} }
func (d *demote) WithGroup(n string) slog.Handler      { return &demote{d.Handler.WithGroup(n)} }
