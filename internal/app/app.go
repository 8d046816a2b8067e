// Package app is ecrsync's composition root: it builds, once per process, what the commands and
// the Lambda function share — the AWS configuration (loaded only when an ECR registry or an SQS
// queue needs it), one keychain (ECR logins and the ECR API, one credentials cache per role), one
// manifest-PUT pacer per ECR account and Region, one registry client with one retry policy, and
// one copier — and hands them to the event handler, the reconciler and the CLI. Packages below it
// construct none of these themselves.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/pace"
	"github.com/ecrsync/ecrsync/internal/queue"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// DefaultECRPutRate is ECR's default PutImage quota: 10 transactions per second per account and
// Region (Amazon ECR service quotas; adjustable). Every manifest PUT over the OCI API is a
// PutImage, and an index costs one per child manifest plus one for itself.
const DefaultECRPutRate = 10

// DefaultECRUploadRate is ECR's default InitiateLayerUpload quota: 100 transactions per second
// per account and Region (Amazon ECR service quotas). Every blob upload starts with one.
const DefaultECRUploadRate = 100

// Options configure New. The zero value copies with the engine's defaults, logs nothing, paces
// manifest PUTs to ECR at DefaultECRPutRate and loads the AWS configuration only if needed.
type Options struct {
	// Rules is the config whose registries the process talks to; nil for a plain copy.
	Rules *rules.Config
	// Hosts are further registries by host name (a copy's SRC and DST); ECR host names among
	// them log in with ECR.
	Hosts []string
	// AWS is the AWS configuration; nil means the default chain (environment, shared config, the
	// Lambda role), loaded once, and only when an ECR registry or an SQS queue is used.
	AWS *aws.Config
	// Fallback resolves registries that are not ECR; nil means the Docker config and its
	// credential helpers.
	Fallback authn.Keychain
	// Retry is the registry client's retry policy; zero means registry.DefaultRetryPolicy.
	Retry registry.RetryPolicy
	// Insecure allows plain HTTP and unverified TLS for registries not on loopback.
	Insecure bool
	// InsecureHosts are hosts that get Insecure's treatment alone (a copy's one side).
	InsecureHosts []string
	UserAgent     string
	Logger        *slog.Logger
	// QuietCopies logs the engine's one line per copy at Debug: for callers that write their
	// own line per copy (the event handler).
	QuietCopies bool
	// Copy configures the copier (Jobs, NoReferrers, Progress); its Logger is set here.
	Copy replicate.Options
	// ECRPutRate is manifest PUTs a second per ECR account and Region, for every copy of the
	// process; 0 means DefaultECRPutRate, less than 0 not paced.
	ECRPutRate float64
	// PutRate is manifest PUTs a second per host for registries that are not ECR; 0 or less
	// means not paced.
	PutRate float64
	// Pace configures the pacer's clock (tests); its Rate is set here.
	Pace pace.Options
	// ListPageSize is the page size of repository and tag listings; 0 means the largest each
	// API allows (tests set it small to walk the pagination).
	ListPageSize int
	// Roles configures assumed roles (session name, duration, clock); its zero value is usable.
	Roles ecr.RoleOptions
}

// App holds what the process shares. Build it with New; its fields are read-only after.
type App struct {
	// Client is the one registry client: connections, logins and retries are shared.
	Client *registry.Client
	// Copier is the one copier, on Client: the knowledge of what destinations hold is shared.
	Copier *replicate.Copier
	// Pacer paces manifest PUTs per ECR account and Region (and per host, if PutRate is set).
	Pacer *pace.Pacer
	// Keychain is the ECR keychain, nil when no ECR registry is used.
	Keychain *ecr.Keychain
	// Roles is the one credentials cache per assumed role, shared by the keychain's logins and
	// listings and by Creator; nil when no ECR registry is used.
	Roles *ecr.Roles
	// Creator creates missing destination repositories; nil when no destination of the config
	// has create_repository.
	Creator *ecr.Creator

	opts    Options
	log     *slog.Logger
	awsOnce sync.Once
	aws     aws.Config
	awsErr  error
	kmsOnce sync.Once
	kms     *ecr.KMSKeys // gate.go
}

// New builds the process's shared parts. It reaches no network: the AWS configuration is loaded
// (from the environment and files) only if some registry is ECR.
func New(ctx context.Context, o Options) (*App, error) {
	a := &App{opts: o, log: o.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if o.Fallback == nil {
		o.Fallback = authn.DefaultKeychain
	}
	type ecrReg struct {
		host string
		loc  ecr.Location
		role string
	}
	var ecrs []ecrReg
	if o.Rules != nil {
		o.Rules.Registries(func(r *rules.Registry) {
			if l, ok := r.ECR(); ok {
				ecrs = append(ecrs, ecrReg{r.Host(), l, r.RoleARN})
			}
		})
	}
	for _, h := range o.Hosts {
		if l, ok := ecr.ParseHost(strings.ToLower(h)); ok {
			ecrs = append(ecrs, ecrReg{h, l, ""})
		}
	}
	keychain := o.Fallback
	if len(ecrs) > 0 {
		cfg, err := a.AWS(ctx)
		if err != nil {
			return nil, err
		}
		a.Roles = ecr.NewRoles(cfg, o.Roles)
		a.Keychain = ecr.NewKeychain(ecr.KeychainOptions{AWS: cfg, Fallback: o.Fallback, Logger: a.log, Roles: a.Roles, Now: o.Roles.Now})
		for _, e := range ecrs {
			a.Keychain.Add(e.host, e.loc, e.role)
		}
		keychain = a.Keychain
		if o.Rules != nil && createsRepositories(o.Rules) {
			a.Creator = ecr.NewCreator(ecr.CreatorOptions{Roles: a.Roles, API: a.Keychain.API, Logger: a.log})
		}
	}

	po := o.Pace
	po.Rate = a.rate
	a.Pacer = pace.New(po)
	transport := a.Pacer.Transport(registry.NewHostTransport(o.Insecure, o.InsecureHosts), a.paceKey)
	a.Client = registry.New(registry.Options{Keychain: keychain, Transport: transport, Insecure: o.Insecure, InsecureHosts: o.InsecureHosts,
		Retry: o.Retry, Logger: a.log, UserAgent: o.UserAgent})
	co := o.Copy
	co.Logger = a.log
	if o.QuietCopies {
		co.Logger = quiet(a.log)
	}
	a.Copier = replicate.New(a.Client, co)
	return a, nil
}

// AWS returns the AWS configuration: Options.AWS, or the default chain, loaded on first use.
func (a *App) AWS(ctx context.Context) (aws.Config, error) {
	a.awsOnce.Do(func() {
		if a.opts.AWS != nil {
			a.aws = *a.opts.AWS
			return
		}
		a.aws, a.awsErr = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(sdkLogger(a.log)))
		if a.awsErr != nil {
			a.awsErr = fmt.Errorf("loading AWS configuration: %w", a.awsErr)
			return
		}
		if a.aws.Credentials != nil {
			a.aws.Credentials = noCredentials{a.aws.Credentials, os.Getenv, a.log}
		}
	})
	return a.aws, a.awsErr
}

// paceKey names the quota a registry host's manifest PUTs count against: its ECR account and
// Region (shared by every repository and host name of that registry), else the host itself.
func (a *App) paceKey(host string) string {
	if a.Keychain != nil {
		if l, ok := a.Keychain.Lookup(host); ok {
			return "ecr/" + l.Account + "/" + l.Region
		}
	} else if l, ok := ecr.ParseHost(strings.ToLower(host)); ok {
		return "ecr/" + l.Account + "/" + l.Region
	}
	return "host/" + strings.ToLower(host)
}

// rate is the pacer's rate for a key made by paceKey and an operation (pace.Put, pace.Upload).
// Upload starts are paced only on ECR, whose quota is per account and Region.
func (a *App) rate(key string) float64 {
	if strings.HasSuffix(key, pace.Upload) {
		if strings.HasPrefix(key, "ecr/") && a.opts.ECRPutRate >= 0 {
			return DefaultECRUploadRate
		}
		return 0
	}
	if strings.HasPrefix(key, "ecr/") {
		switch r := a.opts.ECRPutRate; {
		case r == 0:
			return DefaultECRPutRate
		case r < 0:
			return 0
		default:
			return r
		}
	}
	return a.opts.PutRate
}

// Reconciler returns the reconciler of cfg on the shared client and copier, listing the source
// through the ECR API when it is ECR (DescribeRepositories, ListImages) and the OCI API otherwise.
func (a *App) Reconciler(cfg *rules.Config, o reconcile.Options) *reconcile.Reconciler {
	if o.Logger == nil {
		o.Logger = a.log
	}
	if o.Gate == nil {
		o.Gate = a.Checker(cfg)
	}
	if o.Untagger == nil {
		o.Untagger = a.Untagger()
	}
	var lister reconcile.Lister = &reconcile.OCI{Client: a.Client, Host: cfg.Source.Host(), PageSize: a.opts.ListPageSize}
	if l, ok := cfg.Source.ECR(); ok && a.Keychain != nil {
		lister = ecrLister{&ecr.Lister{API: a.Keychain.API(l, cfg.Source.RoleARN), Account: l.Account, PageSize: int32(a.opts.ListPageSize)}}
	}
	if o.Creator == nil {
		o.Creator = a.creator(cfg)
	}
	return reconcile.New(cfg, lister, a.Client, a.Copier, o)
}

// ecrLister adapts ecr.Lister to reconcile.Lister.
type ecrLister struct{ l *ecr.Lister }

func (e ecrLister) Repositories(ctx context.Context) ([]string, error) { return e.l.Repositories(ctx) }

func (e ecrLister) Tags(ctx context.Context, repository string) ([]reconcile.Tag, error) {
	imgs, err := e.l.Tags(ctx, repository)
	if err != nil {
		return nil, err
	}
	out := make([]reconcile.Tag, len(imgs))
	for i, im := range imgs {
		out[i] = reconcile.Tag{Name: im.Tag, Digest: im.Digest}
	}
	return out, nil
}

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Metrics adds CloudWatch Embedded Metric Format fields to the handler's lines.
	Metrics bool
	// Queue takes the reconcile fan-out; nil reconciles everything in one invocation.
	Queue reconcile.Queue
	// Reconcile configures the reconciler behind reconcile requests.
	Reconcile reconcile.Options
}

// Handler returns the invocation handler of cfg: events through the shared copier, reconcile
// requests through a reconciler on the same client, copier and pacer.
func (a *App) Handler(cfg *rules.Config, o HandlerOptions) *lambda.Handler {
	ro := o.Reconcile
	if a.opts.QuietCopies {
		ro.LogCopies = true
	}
	return &lambda.Handler{Rules: cfg, Copier: a.Copier, Reconciler: a.Reconciler(cfg, ro), Creator: a.creator(cfg), Queue: o.Queue,
		Logger: a.log, Metrics: o.Metrics, Gate: a.Checker(cfg), Untagger: a.Untagger()}
}

// Queue returns the SQS queue at queueURL, with an SQS client from the AWS configuration (its
// Region taken from the URL when the configuration names none).
func (a *App) Queue(ctx context.Context, queueURL string) (*queue.SQS, error) {
	cfg, err := a.AWS(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = regionOf(queueURL)
	}
	return &queue.SQS{API: sqs.NewFromConfig(cfg), URL: queueURL}, nil
}

// regionOf reads the Region from a queue URL such as https://sqs.us-east-1.amazonaws.com/1/q.
func regionOf(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 3 && parts[0] == "sqs" {
		return parts[1]
	}
	return ""
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
