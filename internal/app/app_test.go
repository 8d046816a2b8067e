package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/pace"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// awsEnv points the default AWS configuration at the ECR stand-in, with static credentials and
// no file of this machine's user. Tests that call it are not parallel.
func awsEnv(t *testing.T, endpoint string) {
	t.Setenv("AWS_ENDPOINT_URL_ECR", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTANDIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "standin-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

// TestCopyLogsIntoECR: a copy naming an ECR host gets its password from GetAuthorizationToken
// (the control-plane stand-in, through AWS_ENDPOINT_URL_ECR), in the registry's Region, with the
// environment's AWS credentials; other hosts keep Docker credentials.
func TestCopyLogsIntoECR(t *testing.T) {
	api := ecrstandin.New()
	defer api.Close()
	awsEnv(t, api.URL)
	const host = "222222222222.dkr.ecr.eu-west-1.amazonaws.com"
	a, err := app.New(context.Background(), app.Options{Hosts: []string{"127.0.0.1:5000", host}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Keychain == nil {
		t.Fatal("no ECR keychain for a copy naming an ECR host")
	}
	reg, _ := name.NewRegistry(host)
	auth, err := a.Keychain.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Username != "AWS" || cfg.Password == "" {
		t.Fatalf("ECR credentials %q / %d-byte password, want AWS and a token", cfg.Username, len(cfg.Password))
	}
	if n := api.Calls("GetAuthorizationToken"); n != 1 {
		t.Fatalf("GetAuthorizationToken called %d times, want 1", n)
	}
	local, _ := name.NewRegistry("127.0.0.1:5000")
	if auth, err := a.Keychain.Resolve(local); err != nil || auth != authn.Anonymous {
		t.Fatalf("a non-ECR host: %v %v, want the Docker config's (anonymous)", auth, err)
	}
}

// TestNoAWSConfigurationWithoutECR: copying between registries that are not ECR never loads the
// AWS configuration, so a broken one (here: a profile that does not exist) neither fails the
// copy nor prints AWS errors; naming an ECR host does load it, and says so when it fails.
func TestNoAWSConfigurationWithoutECR(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "no-such-profile")
	t.Setenv("DOCKER_CONFIG", dir)
	a, err := app.New(context.Background(), app.Options{Hosts: []string{"127.0.0.1:5000", "registry.example.com"}})
	if err != nil {
		t.Fatalf("a copy between non-ECR registries: %v", err)
	}
	if a.Keychain != nil {
		t.Fatal("an ECR keychain was built for non-ECR registries")
	}
	_, err = app.New(context.Background(), app.Options{Hosts: []string{"222222222222.dkr.ecr.eu-west-1.amazonaws.com"}})
	if err == nil || !strings.Contains(err.Error(), "loading AWS configuration") {
		t.Fatalf("an ECR host with a broken AWS configuration: %v, want the loading error", err)
	}
}

// stack is an ECR source and destination (real registries behind the ECR stand-in) and the
// function's handler built as the Lambda entry point builds it.
type stack struct {
	api            *ecrstandin.Server
	srcECR, dstECR *ecrstandin.Registry
	pair           *devtest.Pair
	push           *devstack.Pusher
	cfg            string
}

const (
	srcAccount, srcRegion = "111111111111", "us-east-1"
	dstAccount, dstRegion = "222222222222", "eu-west-1"
)

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{api: ecrstandin.New()}
	t.Cleanup(s.api.Close)
	s.srcECR, s.dstECR = s.api.Registry(srcAccount, srcRegion), s.api.Registry(dstAccount, dstRegion)
	s.pair = devtest.NewPair(t, devtest.Options{WrapSrc: s.srcECR.Wrap, WrapDst: s.dstECR.Wrap})
	for _, r := range []string{"app", "web"} {
		s.srcECR.CreateRepository(r, false)
		s.dstECR.CreateRepository(r, false)
	}
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: s.aws()})
	kc.Add(s.pair.Src.Addr, ecr.Location{Account: srcAccount, Region: srcRegion}, "")
	s.push = &devstack.Pusher{C: registry.New(registry.Options{Keychain: kc})}
	s.cfg = fmt.Sprintf(`{"source":{"registry":%q,"account_id":%q,"region":%q},"rules":[{"destinations":[{"registry":%q,"account_id":%q,"region":%q}]}]}`,
		s.pair.Src.Addr, srcAccount, srcRegion, s.pair.Dst.Addr, dstAccount, dstRegion)
	return s
}

func (s *stack) aws() aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.api.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin-secret", "")}
}

func (s *stack) awsPtr() *aws.Config {
	c := s.aws()
	return &c
}

func (s *stack) image(t *testing.T, repo, tag string, seed uint64) string {
	t.Helper()
	r, err := s.push.Repo(s.pair.Src.Addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.push.Image(context.Background(), r, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(1024, seed)}})
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

func (s *stack) getenv(extra map[string]string) func(string) string {
	return func(k string) string {
		if k == "ECRSYNC_CONFIG" {
			return s.cfg
		}
		return extra[k]
	}
}

// clock fires every pacer wait at once and records it.
type clock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *clock) after(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

func (c *clock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waits)
}

// TestLambdaSharesOneOfEachBetweenEventsAndReconcile: the function's event copies and its
// reconcile go through one keychain (one token per registry, not one per path) and one pacer
// (the reconcile's manifest PUT waits for the token the event's took: ECRSYNC_PUT_RATE=1 with a
// burst of 1, both to the same ECR account and Region).
func TestLambdaSharesOneOfEachBetweenEventsAndReconcile(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	want := map[string]string{"app": s.image(t, "app", "v1", 1), "web": s.image(t, "web", "v1", 2)}
	c := &clock{}
	tokens := s.api.Calls("GetAuthorizationToken") // the fixtures' pushes
	h, err := app.LambdaHandler(context.Background(), s.getenv(map[string]string{"ECRSYNC_PUT_RATE": "1"}),
		app.Options{AWS: s.awsPtr(), Fallback: devstack.Anonymous{}, Pace: pace.Options{After: c.after}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.EventBridgeEvent(event.Push{ID: "e-1", Source: event.SourceECR, Account: srcAccount, Region: srcRegion,
		Repository: "app", Tag: "v1", Digest: want["app"], Action: event.ActionPush, Result: "SUCCESS"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if n := c.count(); n != 0 {
		t.Fatalf("the first manifest PUT waited (%d waits): the burst should let it go", n)
	}
	res, err := h.Handle(context.Background(), []byte(`{"ecrsync":"reconcile"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res.(lambda.Result); !ok || len(r.Reports) != 1 || r.Reports[0].Copied != 1 || r.Reports[0].InSync != 1 {
		t.Fatalf("reconcile result %#v", res)
	}
	if n := c.count(); n < 1 {
		t.Errorf("the reconcile's manifest PUT did not wait for the pacer the event copy used")
	}
	if n := s.api.Calls("GetAuthorizationToken") - tokens; n != 2 {
		t.Errorf("%d GetAuthorizationToken calls, want 2: one per registry, shared by events and the reconcile", n)
	}
	for repo, d := range want {
		if got := s.dstDigest(t, repo, "v1"); got != d {
			t.Errorf("%s:v1 in the destination: %q, want %s", repo, got, d)
		}
	}
}

func (s *stack) dstDigest(t *testing.T, repo, tag string) string {
	t.Helper()
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: s.aws()})
	kc.Add(s.pair.Dst.Addr, ecr.Location{Account: dstAccount, Region: dstRegion}, "")
	r, err := name.NewRepository(s.pair.Dst.Addr+"/"+repo, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	d, err := registry.New(registry.Options{Keychain: kc}).Repository(r).Head(context.Background(), tag)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// ctxCheck is a slog handler that records, for every line, whether it was logged with the
// invocation's context (which carries the Lambda request ID).
type ctxCheck struct {
	mu      *sync.Mutex
	missing *[]string
	seen    *int
}

func (c ctxCheck) Enabled(context.Context, slog.Level) bool { return true }
func (c ctxCheck) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c ctxCheck) WithGroup(string) slog.Handler            { return c }
func (c ctxCheck) Handle(ctx context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.seen++
	if _, ok := lambdacontext.FromContext(ctx); !ok {
		*c.missing = append(*c.missing, r.Level.String()+" "+r.Message)
	}
	return nil
}

// TestRequestIDReachesEveryLineOfAnInvocation: every line the handler and the reconcile write
// inside an invocation is logged with its context, so the Lambda's request ID is on it. Lines
// below Info that lack it are the engine's (internal/replicate, internal/registry) and are
// listed, not failed: making those take the context is the engine's change.
func TestRequestIDReachesEveryLineOfAnInvocation(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	d := s.image(t, "app", "v1", 1)
	s.image(t, "web", "v1", 2)
	s.dstECR.Throttle(1) // one 429: a retry line
	var missing []string
	var seen int
	log := slog.New(ctxCheck{mu: &sync.Mutex{}, missing: &missing, seen: &seen})
	h, err := app.LambdaHandler(context.Background(), s.getenv(nil), app.Options{AWS: s.awsPtr(), Fallback: devstack.Anonymous{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	ev, _ := event.EventBridgeEvent(event.Push{ID: "e-1", Source: event.SourceECR, Account: srcAccount, Region: srcRegion,
		Repository: "app", Tag: "v1", Digest: d, Action: event.ActionPush, Result: "SUCCESS"})
	for _, payload := range [][]byte{ev, []byte(`{"ecrsync":"reconcile"}`), []byte(`{"hello":"world"}`)} {
		if _, err := h.Handle(ctx, json.RawMessage(payload)); err != nil {
			t.Fatal(err)
		}
	}
	if seen < 4 {
		t.Fatalf("only %d lines logged: the check would prove nothing", seen)
	}
	var engine []string
	for _, m := range missing {
		if strings.HasPrefix(m, "DEBUG ") {
			engine = append(engine, m)
			continue
		}
		t.Errorf("logged without the invocation's context: %s", m)
	}
	if len(engine) > 0 {
		t.Logf("engine lines without the context (the engine's *Context change): %q", engine)
	}
}

// TestNoAWSCredentialsSaysHowToProvideThem: with no AWS credentials anywhere (no variables, no
// files, HOME empty, no instance role), an ECR login fails with registry.ErrNoCredentials —
// permanent, and the hint says how to provide them — not with the SDK chain's last step.
func TestNoAWSCredentialsSaysHowToProvideThem(t *testing.T) {
	api := ecrstandin.New()
	defer api.Close()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_ECR", api.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	const host = "222222222222.dkr.ecr.eu-west-1.amazonaws.com"
	a, err := app.New(context.Background(), app.Options{Hosts: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := name.NewRegistry(host)
	auth, err := a.Keychain.Resolve(reg)
	if err == nil {
		_, err = auth.Authorization()
	}
	if !errors.Is(err, registry.ErrNoCredentials) {
		t.Fatalf("login without AWS credentials: %v, want ErrNoCredentials", err)
	}
	if replicate.Retryable(err) {
		t.Error("no credentials is retryable; want permanent")
	}
	if h := replicate.Hint(err); !strings.Contains(h, "aws sso login") || !strings.Contains(h, "AWS_PROFILE") {
		t.Errorf("hint %q does not say how to provide credentials", h)
	}
	if strings.Contains(err.Error(), "IMDS") {
		t.Errorf("error %q shows the SDK chain's last step", err)
	}
}
