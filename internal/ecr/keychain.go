package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Defaults, with their reasons.
const (
	// DefaultRefreshMargin is how long before its expiry a token is replaced. ECR tokens live 12
	// hours; an hour's margin means no copy (at most 15 minutes in Lambda) starts with a token
	// that runs out under it, and a long CLI sync still refreshes well ahead.
	DefaultRefreshMargin = time.Hour
	// DefaultCallTimeout bounds one GetAuthorizationToken call, within the caller's context.
	DefaultCallTimeout = 30 * time.Second
	// tokenUser is the user name of every ECR registry login.
	tokenUser = "AWS"
)

// KeychainOptions configure a Keychain. The zero value is not usable: AWS is required.
type KeychainOptions struct {
	// AWS is the base AWS configuration: credentials, and endpoint overrides (BaseEndpoint or
	// AWS_ENDPOINT_URL_ECR) for tests. Its Region is not used: each registry's own is.
	AWS aws.Config
	// Fallback resolves hosts that are not ECR registries; nil means authn.DefaultKeychain (the
	// Docker config and its credential helpers), which is anonymous when there is none.
	Fallback authn.Keychain
	// RefreshMargin: 0 means DefaultRefreshMargin.
	RefreshMargin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets a Debug line per token fetched (never the token); nil discards.
	Logger *slog.Logger
	// Roles shares one credentials cache per role with the process's other ECR clients; nil means
	// NewRoles(AWS, RoleOptions{Now: Now}).
	Roles *Roles
}

// Keychain resolves credentials for registries: ECR hosts log in with GetAuthorizationToken in
// the registry's own Region (a token is valid only in the Region that issued it, REFERENCE.md),
// cached per registry; other hosts go to the fallback keychain. It also makes the ECR API
// clients of the control plane (API), so tokens and listings share one credentials cache per
// role.
type Keychain struct {
	opts    KeychainOptions
	mu      sync.Mutex
	regs    map[string]registryAuth // host -> explicit ECR location and role
	auth    map[string]*Authenticator
	clients map[apiKey]*awsecr.Client
}

type registryAuth struct {
	loc  Location
	role string
}

// apiKey names one ECR API client: the endpoint it reaches and whose credentials it signs with.
type apiKey struct {
	region          string
	fips, dualStack bool
	role            string
}

// NewKeychain returns a Keychain.
func NewKeychain(opts KeychainOptions) *Keychain {
	if opts.Fallback == nil {
		opts.Fallback = authn.DefaultKeychain
	}
	if opts.RefreshMargin <= 0 {
		opts.RefreshMargin = DefaultRefreshMargin
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Roles == nil {
		opts.Roles = NewRoles(opts.AWS, RoleOptions{Now: opts.Now})
	}
	return &Keychain{opts: opts, regs: map[string]registryAuth{}, auth: map[string]*Authenticator{},
		clients: map[apiKey]*awsecr.Client{}}
}

// Add declares host an ECR registry at l, whose credentials come through roleARN if not empty.
// Hosts with an ECR name need no Add unless a role is to be assumed; other names (a VPC
// endpoint's, a stand-in's) must be added to use ECR auth.
func (k *Keychain) Add(host string, l Location, roleARN string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.regs[strings.ToLower(host)] = registryAuth{loc: l, role: roleARN}
	delete(k.auth, strings.ToLower(host))
}

// Lookup returns the ECR location of host: as declared with Add, or read from an ECR host name.
func (k *Keychain) Lookup(host string) (Location, bool) {
	k.mu.Lock()
	ra, ok := k.regs[strings.ToLower(host)]
	k.mu.Unlock()
	if ok {
		return ra.loc, true
	}
	return ParseHost(strings.ToLower(host))
}

// Resolve implements authn.Keychain.
func (k *Keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	host := strings.ToLower(res.RegistryStr())
	k.mu.Lock()
	defer k.mu.Unlock()
	if a, ok := k.auth[host]; ok {
		return a, nil
	}
	ra, ok := k.regs[host]
	if !ok {
		l, isECR := ParseHost(host)
		if !isECR {
			return k.opts.Fallback.Resolve(res)
		}
		ra = registryAuth{loc: l}
	}
	a := &Authenticator{host: host, loc: ra.loc, margin: k.opts.RefreshMargin, now: k.opts.Now, log: k.opts.Logger,
		client: k.api(ra.loc, ra.role)}
	k.auth[host] = a
	return a, nil
}

// tokenGetter is the one ECR API call the Authenticator makes.
type tokenGetter interface {
	GetAuthorizationToken(ctx context.Context, in *awsecr.GetAuthorizationTokenInput, optFns ...func(*awsecr.Options)) (*awsecr.GetAuthorizationTokenOutput, error)
}

// API returns the ECR API client of the registry at l, signing with roleARN's credentials if
// not empty (the Roles' one cache per role), else the base configuration's. Endpoint overrides
// of the base configuration (BaseEndpoint, AWS_ENDPOINT_URL_ECR) apply. One client per Region,
// endpoint variant and role, shared with the registry logins.
func (k *Keychain) API(l Location, roleARN string) *awsecr.Client {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.api(l, roleARN)
}

// Roles returns the credentials caches the keychain assumes roles through.
func (k *Keychain) Roles() *Roles { return k.opts.Roles }

// api is API with k.mu held.
func (k *Keychain) api(l Location, role string) *awsecr.Client {
	key := apiKey{region: l.Region, fips: l.FIPS, dualStack: l.DualStack, role: role}
	if c, ok := k.clients[key]; ok {
		return c
	}
	c := k.opts.Roles.Client(l, role)
	k.clients[key] = c
	return c
}

// Authenticator is one ECR registry's login: HTTP Basic with user AWS and the password from
// GetAuthorizationToken, cached until RefreshMargin before it expires. It implements
// registry.Invalidator, so an expired-token 403 drops the cache before the request is retried.
type Authenticator struct {
	host   string
	loc    Location
	client tokenGetter
	margin time.Duration
	now    func() time.Time
	log    *slog.Logger

	mu        sync.Mutex
	pass      string
	expires   time.Time
	refreshAt time.Time // when the cached token is replaced
}

// Authorization implements authn.Authenticator, for callers without a context; the registry
// client calls AuthorizationContext.
func (a *Authenticator) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

// AuthorizationContext implements authn.ContextAuthenticator: a token fetch runs under ctx (an
// invocation's), so it ends when the invocation does and its log line carries the request ID.
func (a *Authenticator) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pass != "" && a.now().Before(a.refreshAt) {
		return &authn.AuthConfig{Username: tokenUser, Password: a.pass}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultCallTimeout)
	defer cancel()
	out, err := a.client.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		return nil, fmt.Errorf("ecr:GetAuthorizationToken in %s for %s: %w", a.loc.Region, a.host, err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return nil, fmt.Errorf("ecr:GetAuthorizationToken in %s returned no token", a.loc.Region)
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(*d.AuthorizationToken)
	if err != nil {
		return nil, fmt.Errorf("ecr:GetAuthorizationToken in %s: token is not base64", a.loc.Region)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != tokenUser || pass == "" {
		return nil, errors.New("ecr:GetAuthorizationToken returned a token that is not AWS:<password>")
	}
	now := a.now()
	a.pass = pass
	a.expires = now.Add(12 * time.Hour)
	if d.ExpiresAt != nil {
		a.expires = *d.ExpiresAt
	}
	// A token asked for with an assumed role's credentials may expire with them, within the
	// hour: the margin is then a quarter of its lifetime, or every request would fetch a new one.
	a.refreshAt = a.expires.Add(-min(a.margin, a.expires.Sub(now)/4))
	a.log.DebugContext(ctx, "ecr token fetched", "registry", a.host, "region", a.loc.Region, "expires", a.expires)
	return &authn.AuthConfig{Username: tokenUser, Password: a.pass}, nil
}

var _ authn.ContextAuthenticator = (*Authenticator)(nil)

// Invalidate drops the cached token: the next Authorization fetches a new one.
func (a *Authenticator) Invalidate() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pass, a.expires, a.refreshAt = "", time.Time{}, time.Time{}
}

// Expires reports when the cached token expires (zero when none is cached).
func (a *Authenticator) Expires() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.expires
}
