package ecr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Defaults of assumed roles, with their reasons.
const (
	// DefaultRoleDuration is the session length asked of AssumeRole: one hour is every role's
	// default MaxSessionDuration, so it never fails for being too long, and a long `sync` assumes
	// the role four times fewer than with STS's own 15-minute default.
	DefaultRoleDuration = time.Hour
	// DefaultRoleExpiryWindow is how long before their expiry role credentials are replaced, so no
	// request is signed with credentials that run out while it is in flight.
	DefaultRoleExpiryWindow = 5 * time.Minute
	// sessionPrefix starts every session name, so CloudTrail shows the calls as ecrsync's.
	sessionPrefix = "ecrsync-"
)

// sessionUnsafeRE matches what RoleSessionName may not hold ([\w+=,.@-] only, AWS STS API
// Reference, AssumeRole).
var sessionUnsafeRE = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionName is the RoleSessionName ecrsync assumes roles with: "ecrsync-" and the Lambda
// function's name (AWS_LAMBDA_FUNCTION_NAME), else the host's name, else "cli"; characters STS
// refuses become '-', and the whole is cut to STS's 64 characters. getenv and hostname are
// os.Getenv and os.Hostname outside tests.
func SessionName(getenv func(string) string, hostname func() (string, error)) string {
	who := getenv("AWS_LAMBDA_FUNCTION_NAME")
	if who == "" && hostname != nil {
		if h, err := hostname(); err == nil {
			who = h
		}
	}
	if who == "" {
		who = "cli"
	}
	name := sessionPrefix + sessionUnsafeRE.ReplaceAllString(who, "-")
	return name[:min(len(name), 64)]
}

// RoleOptions configure assumed roles. The zero value is usable.
type RoleOptions struct {
	// SessionName: "" means SessionName(os.Getenv, os.Hostname).
	SessionName string
	// Duration of each session: 0 means DefaultRoleDuration.
	Duration time.Duration
	// ExpiryWindow: 0 means DefaultRoleExpiryWindow.
	ExpiryWindow time.Duration
	// Now is the clock that decides when credentials are due; nil means time.Now.
	Now func() time.Time
}

// Roles hands out one credentials cache per role ARN, so event copies, listings, repository
// creation and the reconcile of one process share a role's session instead of each assuming it.
// The composition root builds one and passes it to everything that acts as a role.
type Roles struct {
	base aws.Config
	opts RoleOptions
	mu   sync.Mutex
	m    map[string]*RoleCredentials
}

// NewRoles returns Roles that assume roles with the credentials of base.
func NewRoles(base aws.Config, opts RoleOptions) *Roles {
	if opts.SessionName == "" {
		opts.SessionName = SessionName(os.Getenv, os.Hostname)
	}
	if opts.Duration <= 0 {
		opts.Duration = DefaultRoleDuration
	}
	if opts.ExpiryWindow <= 0 {
		opts.ExpiryWindow = DefaultRoleExpiryWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Roles{base: base, opts: opts, m: map[string]*RoleCredentials{}}
}

// Credentials returns roleARN's credentials cache. The first caller's region picks the regional
// STS endpoint (it works in every partition and needs no global endpoint).
func (r *Roles) Credentials(roleARN, region string) *RoleCredentials {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.m[roleARN]; ok {
		return c
	}
	cfg := r.base.Copy()
	if region != "" {
		cfg.Region = region
	}
	p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = r.opts.SessionName
		o.Duration = r.opts.Duration
	})
	c := &RoleCredentials{role: roleARN, session: r.opts.SessionName, provider: p, now: r.opts.Now, window: r.opts.ExpiryWindow}
	r.m[roleARN] = c
	return c
}

// Config returns base for the registry at l: its Region, and roleARN's credentials when set.
func (r *Roles) Config(l Location, roleARN string) aws.Config {
	cfg := r.base.Copy()
	cfg.Region = l.Region
	if roleARN != "" {
		cfg.Credentials = r.Credentials(roleARN, l.Region)
	}
	return cfg
}

// Client returns an ECR API client for the registry at l, acting as roleARN when set, with the
// registry's FIPS and dual-stack endpoint choices.
func (r *Roles) Client(l Location, roleARN string) *awsecr.Client {
	return newECRClient(r.Config(l, roleARN), l)
}

func newECRClient(cfg aws.Config, l Location) *awsecr.Client {
	return awsecr.NewFromConfig(cfg, func(o *awsecr.Options) {
		if l.FIPS {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
		if l.DualStack {
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}
	})
}

// RoleCredentials is one role's credentials, cached until ExpiryWindow before they expire by its
// own clock. It is the cache: the SDK's aws.CredentialsCache reads the wall clock, which an
// injected clock cannot move, so RoleCredentials tells the SDK it is a cache already
// (IsCredentialsProvider) and the SDK does not wrap it in another.
type RoleCredentials struct {
	role, session string
	provider      aws.CredentialsProvider
	now           func() time.Time
	window        time.Duration

	mu    sync.Mutex
	creds aws.Credentials
}

// Retrieve implements aws.CredentialsProvider. A failure is an *AssumeRoleError.
func (c *RoleCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.creds.HasKeys() && (!c.creds.CanExpire || c.now().Before(c.creds.Expires.Add(-c.window))) {
		return c.creds, nil
	}
	creds, err := c.provider.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &AssumeRoleError{Role: c.role, Session: c.session, Err: err}
	}
	c.creds = creds
	return creds, nil
}

// Invalidate drops the cached credentials: the next Retrieve assumes the role again.
func (c *RoleCredentials) Invalidate() {
	c.mu.Lock()
	c.creds = aws.Credentials{}
	c.mu.Unlock()
}

// IsCredentialsProvider reports whether target is a credentials cache (the SDK's test for
// "already cached", so it does not add a cache of its own on top, see the type's comment).
func (c *RoleCredentials) IsCredentialsProvider(target aws.CredentialsProvider) bool {
	_, isCache := target.(*aws.CredentialsCache)
	_, isSelf := target.(*RoleCredentials)
	return isCache || isSelf
}

// AssumeRoleError means a role could not be assumed; its message says why and what to change.
type AssumeRoleError struct {
	Role    string // the role's ARN
	Session string // the RoleSessionName asked for
	Err     error
}

func (e *AssumeRoleError) Error() string {
	code := apiCode(e.Err)
	var fix string
	switch code {
	case "AccessDenied":
		fix = "the role's trust policy must name this function's execution role (or the caller's identity) as a principal, and the caller's own policy must allow sts:AssumeRole on " + e.Role +
			" (the Terraform module sets both: check source.role_arn against its source_reader_role_arn output)"
	case "ExpiredToken", "ExpiredTokenException":
		fix = "the caller's own credentials have expired: renew them (aws sso login, or new environment credentials)"
	case "RegionDisabledException":
		fix = "STS is not activated in this Region for the caller's account: activate it in IAM > Account settings"
	case "MalformedPolicyDocument", "ValidationError":
		fix = "check role_arn in the config (arn:PARTITION:iam::ACCOUNT:role/NAME)"
	default:
		fix = "check that the role exists and that STS is reachable from here"
	}
	return fmt.Sprintf("cannot assume role %s (session %s): %v; %s", e.Role, e.Session, e.Err, fix)
}

func (e *AssumeRoleError) Unwrap() error { return e.Err }

// AccessError means an ECR call was denied to the identity that made it (an assumed role, or the
// function's own role); its message names the action, the identity and the fix.
type AccessError struct {
	Action string // e.g. ecr:DescribeRepositories
	Role   string // the role acted as; "" = the process's own credentials
	Err    error
}

func (e *AccessError) Error() string {
	who := "this process's own credentials (the function's execution role)"
	fix := "allow " + e.Action + " in that role's policy, or in the repository's policy for a repository of another account"
	if e.Role != "" {
		who = "role " + e.Role
		fix = "allow " + e.Action + " in the role's policy (the module's source reader role grants it when the rules need it)"
		if e.Action == "ecr:DescribeRepositories" {
			fix += "; a listing without repository names needs it on repository/* of the role's own registry"
		}
	}
	return fmt.Sprintf("%s was denied to %s: %v; %s", e.Action, who, e.Err, fix)
}

func (e *AccessError) Unwrap() error { return e.Err }

// Explain returns err, from an ECR API call of action made as roleARN ("" = own credentials),
// with the reason a person can act on: an *AssumeRoleError when the role could not be assumed,
// an *AccessError when ECR denied the call, err otherwise; each marked with its class (Classify)
// so that registry.Classify tells a denied call (needs action) from throttling (retry).
func Explain(err error, action, roleARN string) error {
	if err == nil {
		return nil
	}
	var are *AssumeRoleError
	if errors.As(err, &are) {
		return Classified(are)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "AccessDenied") {
		return Classified(&AccessError{Action: action, Role: roleARN, Err: err})
	}
	return Classified(err)
}
