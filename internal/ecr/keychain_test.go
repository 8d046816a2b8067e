package ecr_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/registry"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTokensAreCachedPerRegistryAndRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	api := ecrstandin.New()
	defer api.Close()
	api.Registry("111111111111", "us-east-1")
	api.Registry("222222222222", "eu-west-1")
	clk := &clock{t: time.Now()}
	kc := ecr.NewKeychain(ecr.KeychainOptions{Now: clk.now, AWS: aws.Config{BaseEndpoint: aws.String(api.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}})
	resolve := func(host string) authn.Authenticator {
		t.Helper()
		reg, err := name.NewRegistry(host)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	east := resolve("111111111111.dkr.ecr.us-east-1.amazonaws.com")
	for range 5 {
		cfg, err := east.Authorization()
		if err != nil || cfg.Username != "AWS" || cfg.Password == "" {
			t.Fatalf("Authorization = %+v, %v", cfg, err)
		}
	}
	if n := api.Calls("GetAuthorizationToken"); n != 1 {
		t.Fatalf("%d token calls for five logins, want 1 (cached)", n)
	}
	// Another Region's registry gets its own token from its own Region's API.
	west, _ := resolve("222222222222.dkr.ecr.eu-west-1.amazonaws.com").Authorization()
	first, _ := east.Authorization()
	if west.Password == first.Password || api.Calls("GetAuthorizationToken") != 2 {
		t.Fatal("a token was shared across Regions")
	}
	// Eleven hours on, inside the refresh margin of the 12-hour token: a new one is fetched.
	clk.add(11*time.Hour + time.Minute)
	again, _ := east.Authorization()
	if again.Password == first.Password || api.Calls("GetAuthorizationToken") != 3 {
		t.Fatal("the token was not refreshed within an hour of its expiry")
	}
	// An expired-token 403 invalidates: the next login fetches anew.
	east.(registry.Invalidator).Invalidate()
	east.Authorization()
	if n := api.Calls("GetAuthorizationToken"); n != 4 {
		t.Fatalf("%d token calls after Invalidate, want 4", n)
	}
	// Hosts that are not ECR go to the fallback keychain.
	if a := resolve("127.0.0.1:5000"); a == east {
		t.Fatal("a loopback host got ECR credentials")
	}
}

// TestTokenFetchEndsWithTheCallersContext: the registry client passes the invocation's context
// (authn.ContextAuthenticator); a cancelled one fetches nothing and caches nothing.
func TestTokenFetchEndsWithTheCallersContext(t *testing.T) {
	t.Parallel()
	api := ecrstandin.New()
	defer api.Close()
	api.Registry("111111111111", "us-east-1")
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: aws.Config{BaseEndpoint: aws.String(api.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}})
	reg, _ := name.NewRegistry("111111111111.dkr.ecr.us-east-1.amazonaws.com")
	a, err := kc.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	ca, ok := a.(authn.ContextAuthenticator)
	if !ok {
		t.Fatalf("%T does not implement authn.ContextAuthenticator", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if cfg, err := ca.AuthorizationContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("AuthorizationContext(cancelled) = %+v, %v; want context.Canceled", cfg, err)
	}
	if n := api.Calls("GetAuthorizationToken"); n != 0 {
		t.Fatalf("%d token calls under a cancelled context", n)
	}
	if cfg, err := authn.Authorization(context.Background(), a); err != nil || cfg.Password == "" || api.Calls("GetAuthorizationToken") != 1 {
		t.Fatalf("Authorization after the cancelled one = %+v, %v", cfg, err)
	}
}
