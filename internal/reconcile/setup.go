package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Env is what NewFromConfig takes from its surroundings. The zero value uses the default AWS
// credential chain (only if some registry is ECR), Docker credentials for the others, the
// engine's defaults and ECR's default PutImage rate.
type Env struct {
	// AWS is the base AWS configuration; nil means the default chain, loaded only when the
	// config names an ECR registry.
	AWS *aws.Config
	// Fallback resolves registries that are not ECR; nil means the Docker config.
	Fallback authn.Keychain
	// Insecure allows plain HTTP and unverified TLS for registries not on loopback.
	Insecure bool
	// CopyJobs bounds blobs per copy (replicate.Options.Jobs); 0 means the engine's default.
	CopyJobs    int
	NoReferrers bool
	// ECRPutRate and PutRate configure the Limiter (see there).
	ECRPutRate float64
	PutRate    float64
	// ListPageSize is the page size of repository and tag listings; 0 means the largest each
	// API allows (tests set it small to walk the pagination).
	ListPageSize int
	Retry        registry.RetryPolicy
	Logger       *slog.Logger
	UserAgent    string
}

// NewFromConfig wires a Reconciler for cfg: an ECR keychain where the config names ECR
// registries, one registry client whose manifest PUTs go through a Limiter, one Copier on it,
// and the lister that fits the source (the ECR API for ECR, the OCI API otherwise).
func NewFromConfig(ctx context.Context, cfg *rules.Config, env Env, opts Options) (*Reconciler, *Limiter, error) {
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Logger == nil {
		opts.Logger = log
	}
	fallback := env.Fallback
	if fallback == nil {
		fallback = authn.DefaultKeychain
	}
	lim := &Limiter{ECRRate: env.ECRPutRate, Rate: env.PutRate, Hosts: map[string]ecr.Location{}}
	type ecrReg struct {
		host string
		loc  ecr.Location
		role string
	}
	var ecrs []ecrReg
	cfg.Registries(func(r *rules.Registry) {
		if l, ok := r.ECR(); ok {
			ecrs = append(ecrs, ecrReg{r.Host(), l, r.RoleARN})
			lim.Hosts[strings.ToLower(r.Host())] = l
		}
	})

	keychain := fallback
	var awsCfg aws.Config
	if len(ecrs) > 0 {
		if env.AWS != nil {
			awsCfg = *env.AWS
		} else {
			c, err := awsconfig.LoadDefaultConfig(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("loading AWS configuration: %w", err)
			}
			awsCfg = c
		}
		kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: awsCfg, Fallback: fallback, Logger: log})
		for _, e := range ecrs {
			kc.Add(e.host, e.loc, e.role)
		}
		keychain = kc
	}

	base := registry.NewTransport(env.Insecure)
	client := registry.New(registry.Options{Keychain: keychain, Transport: lim.Transport(base), Insecure: env.Insecure,
		Retry: env.Retry, Logger: log, UserAgent: env.UserAgent})
	copier := replicate.New(client, replicate.Options{Jobs: env.CopyJobs, NoReferrers: env.NoReferrers, Logger: log})

	var lister Lister = &OCI{Client: client, Host: cfg.Source.Host(), PageSize: env.ListPageSize}
	if l, ok := cfg.Source.ECR(); ok {
		lister = &ECR{API: NewECRAPI(awsCfg, l, cfg.Source.RoleARN), Account: l.Account, PageSize: int32(min(env.ListPageSize, ecrPage))}
	}
	return New(cfg, lister, client, copier, opts), lim, nil
}
