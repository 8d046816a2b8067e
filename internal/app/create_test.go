package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

const (
	// readerRole is the source reader role the config's source.role_arn names.
	readerRole = "arn:aws:iam::111111111111:role/ecrsync-source-reader"
	// functionKey is the function's own credentials: its execution role, in the destination account.
	functionKey = "AKIAFUNCTIONROLE"
	newRepo     = "team/newservice"
	lifecycle   = `{"rules":[{"rulePriority":1,"description":"keep 30","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`
)

// createStack is an ECR source whose team owns team/newservice (with settings that are not ECR's
// defaults) and an ECR destination that lacks it, both real registries behind the ECR stand-in;
// the function acts with its own credentials in the destination account and reads the source
// through the reader role.
type createStack struct {
	api            *ecrstandin.Server
	pair           *devtest.Pair
	push           *devstack.Pusher
	dstRequests    atomic.Int64 // registry requests the destination answered
	srcRequests    atomic.Int64
	srcAddr, dstID string
}

func newCreateStack(t testing.TB) *createStack {
	t.Helper()
	s := &createStack{api: ecrstandin.New()}
	t.Cleanup(s.api.Close)
	srcECR, dstECR := s.api.Registry(srcAccount, srcRegion), s.api.Registry(dstAccount, dstRegion)
	count := func(n *atomic.Int64, wrap func(http.Handler) http.Handler) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			h := wrap(next)
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); h.ServeHTTP(w, r) })
		}
	}
	s.pair = devtest.NewPair(t, devtest.Options{WrapSrc: count(&s.srcRequests, srcECR.Wrap), WrapDst: count(&s.dstRequests, dstECR.Wrap)})
	s.api.AddCredentials(functionKey, dstAccount)

	s.api.AddCredentials("AKIASOURCETEAM", srcAccount)
	s.sourceRepository(t, newRepo)
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: s.team()})
	kc.Add(s.pair.Src.Addr, ecr.Location{Account: srcAccount, Region: srcRegion}, "")
	s.push = &devstack.Pusher{C: registry.New(registry.Options{Keychain: kc})}
	return s
}

// team is the source team's AWS configuration.
func (s *createStack) team() aws.Config {
	return aws.Config{Region: srcRegion, BaseEndpoint: aws.String(s.api.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASOURCETEAM", "secret", "")}
}

// sourceRepository creates, as the source team would, a repository with settings that are not
// ECR's defaults.
func (s *createStack) sourceRepository(t testing.TB, name string) {
	t.Helper()
	c := awsecr.NewFromConfig(s.team())
	ctx := context.Background()
	if _, err := c.CreateRepository(ctx, &awsecr.CreateRepositoryInput{
		RepositoryName:     aws.String(name),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []ecrtypes.ImageTagMutabilityExclusionFilter{
			{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("latest")}},
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
		Tags:                       []ecrtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutLifecyclePolicy(ctx, &awsecr.PutLifecyclePolicyInput{RepositoryName: aws.String(name), LifecyclePolicyText: aws.String(lifecycle)}); err != nil {
		t.Fatal(err)
	}
}

// function is the function's AWS configuration: its own credentials, every service at the stand-in.
func (s *createStack) function() *aws.Config {
	return &aws.Config{Region: srcRegion, BaseEndpoint: aws.String(s.api.URL),
		Credentials: credentials.NewStaticCredentialsProvider(functionKey, "secret", "")}
}

// config is the function's config: team/* from the source, through the reader role, to the
// destination with dst's extra keys (create_repository), and to explicit/{repository} with extra.
func (s *createStack) config(dst, explicit string) string {
	doc := fmt.Sprintf(`{"source":{"registry":%q,"account_id":%q,"region":%q,"role_arn":%q},"rules":[{"repositories":["team/*"],"destinations":[{"registry":%q,"account_id":%q,"region":%q%s}`,
		s.pair.Src.Addr, srcAccount, srcRegion, readerRole, s.pair.Dst.Addr, dstAccount, dstRegion, dst)
	if explicit != "" {
		doc += fmt.Sprintf(`,{"registry":%q,"account_id":%q,"region":%q,"repository":"explicit/{repository}"%s}`, s.pair.Dst.Addr, dstAccount, dstRegion, explicit)
	}
	return doc + `]}]}`
}

func (s *createStack) handler(t testing.TB, cfg string, log *slog.Logger) *lambda.Handler {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := app.LambdaHandler(context.Background(), func(k string) string {
		if k == rules.EnvConfig {
			return cfg
		}
		return ""
	}, app.Options{AWS: s.function(), Fallback: devstack.Anonymous{}, Logger: log,
		Retry: registry.RetryPolicy{Base: 1, Max: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (s *createStack) image(t testing.TB, tag string, seed uint64) string {
	t.Helper()
	return s.imageIn(t, newRepo, tag, seed)
}

func (s *createStack) imageIn(t testing.TB, repo, tag string, seed uint64) string {
	t.Helper()
	r, err := s.push.Repo(s.pair.Src.Addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.push.Image(context.Background(), r, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(4096, seed)}})
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}

func (s *createStack) event(t testing.TB, id, tag, digest string) json.RawMessage {
	t.Helper()
	return s.eventIn(t, newRepo, id, tag, digest)
}

func (s *createStack) eventIn(t testing.TB, repo, id, tag, digest string) json.RawMessage {
	t.Helper()
	ev, err := event.EventBridgeEvent(event.Push{ID: id, Source: event.SourceECR, Account: srcAccount, Region: srcRegion,
		Repository: repo, Tag: tag, Digest: digest, Action: event.ActionPush, Result: "SUCCESS"})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// dstDigest is what repository:tag points at in the destination ("" when missing).
func (s *createStack) dstDigest(t testing.TB, repo, tag string) string {
	t.Helper()
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: *s.function()})
	kc.Add(s.pair.Dst.Addr, ecr.Location{Account: dstAccount, Region: dstRegion}, "")
	r, err := (&devstack.Pusher{C: registry.New(registry.Options{Keychain: kc})}).Repo(s.pair.Dst.Addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Head(context.Background(), tag)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// repository is a destination repository as the stand-in's ECR API describes it.
type repository struct {
	mutability string
	filters    []string
	scanOnPush bool
	encryption string
	lifecycle  string
	tags       map[string]string
}

// describe reads name's settings in the destination with DescribeRepositories, GetLifecyclePolicy
// and ListTagsForResource; ok is false when it does not exist.
func (s *createStack) describe(t testing.TB, name string) (repository, bool) {
	t.Helper()
	ctx := context.Background()
	c := awsecr.NewFromConfig(*s.function(), func(o *awsecr.Options) { o.Region = dstRegion })
	d, err := c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RegistryId: aws.String(dstAccount), RepositoryNames: []string{name}})
	var nf *ecrtypes.RepositoryNotFoundException
	if errors.As(err, &nf) {
		return repository{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	r := d.Repositories[0]
	out := repository{mutability: string(r.ImageTagMutability), scanOnPush: r.ImageScanningConfiguration.ScanOnPush,
		encryption: string(r.EncryptionConfiguration.EncryptionType), tags: map[string]string{}}
	for _, f := range r.ImageTagMutabilityExclusionFilters {
		out.filters = append(out.filters, aws.ToString(f.Filter))
	}
	lp, err := c.GetLifecyclePolicy(ctx, &awsecr.GetLifecyclePolicyInput{RegistryId: aws.String(dstAccount), RepositoryName: aws.String(name)})
	var none *ecrtypes.LifecyclePolicyNotFoundException
	switch {
	case errors.As(err, &none):
	case err != nil:
		t.Fatal(err)
	default:
		out.lifecycle = aws.ToString(lp.LifecyclePolicyText)
	}
	tl, err := c.ListTagsForResource(ctx, &awsecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:" + dstRegion + ":" + dstAccount + ":repository/" + name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tl.Tags {
		out.tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return out, true
}

// createdCalls are the AWS API calls a first copy into a new repository may make.
var createdCalls = []string{"AssumeRole", "GetAuthorizationToken", "DescribeRepositories", "GetLifecyclePolicy", "ListTagsForResource",
	"CreateRepository", "PutLifecyclePolicy", "TagResource"}

func (s *createStack) calls() map[string]int {
	m := map[string]int{}
	for _, op := range createdCalls {
		m[op] = s.api.Calls(op)
	}
	return m
}

func since(before, after map[string]int) (map[string]int, int) {
	d, n := map[string]int{}, 0
	for k, v := range after {
		if v-before[k] != 0 {
			d[k] = v - before[k]
			n += v - before[k]
		}
	}
	return d, n
}

// A first push to a repository the destination lacks ends, in one invocation, with the
// repository created — like the source (mutability with its exclusion filter, scan on push,
// lifecycle policy, tags; AES256), or with the explicit settings of another destination — and the
// image copied.
func TestFirstPushCreatesTheDestinationRepository(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	s := newCreateStack(t)
	want := s.image(t, "v1", 1)
	h := s.handler(t, s.config(`,"create_repository":true`,
		`,"create_repository":{"image_tag_mutability":"MUTABLE","scan_on_push":false,"lifecycle_policy":"","tags":{"owner":"mirror"}}`), nil)
	before := s.calls()
	res, err := h.Handle(context.Background(), s.event(t, "e-1", "v1", want))
	if err != nil {
		t.Fatalf("one invocation: %v", err)
	}
	r := res.(lambda.Result)
	if len(r.Outcomes) != 2 {
		t.Fatalf("outcomes %+v", r.Outcomes)
	}
	for _, o := range r.Outcomes {
		if o.Outcome != lambda.OutcomeCopied || !o.RepositoryCreated || o.Digest != want {
			t.Errorf("outcome %+v, want copied into a created repository", o)
		}
	}
	calls, n := since(before, s.calls())
	t.Logf("first copy into two new repositories: %d AWS API calls %v", n, calls)
	if calls["CreateRepository"] != 2 {
		t.Errorf("%d CreateRepository calls, want 2", calls["CreateRepository"])
	}
	// One token per registry, though the source's expires with the reader role's one-hour session.
	if calls["GetAuthorizationToken"] != 2 || calls["AssumeRole"] != 1 {
		t.Errorf("%d GetAuthorizationToken and %d AssumeRole calls, want 2 (one per registry) and 1", calls["GetAuthorizationToken"], calls["AssumeRole"])
	}

	got, ok := s.describe(t, newRepo)
	like := repository{mutability: "IMMUTABLE_WITH_EXCLUSION", filters: []string{"latest"}, scanOnPush: true, encryption: "AES256",
		lifecycle: lifecycle, tags: map[string]string{"team": "platform"}}
	if !ok || got.mutability != like.mutability || !slices.Equal(got.filters, like.filters) || got.scanOnPush != like.scanOnPush ||
		got.encryption != like.encryption || got.lifecycle != like.lifecycle || !maps.Equal(got.tags, like.tags) {
		t.Errorf("%s created as\n %+v, want like the source\n %+v", newRepo, got, like)
	}
	got, ok = s.describe(t, "explicit/"+newRepo)
	if !ok || got.mutability != "MUTABLE" || got.scanOnPush || got.lifecycle != "" || !maps.Equal(got.tags, map[string]string{"owner": "mirror"}) {
		t.Errorf("explicit/%s created as %+v, want MUTABLE, no scan, no lifecycle policy, owner=mirror", newRepo, got)
	}
	for _, repo := range []string{newRepo, "explicit/" + newRepo} {
		if d := s.dstDigest(t, repo, "v1"); d != want {
			t.Errorf("%s:v1 in the destination: %q, want %s", repo, d, want)
		}
	}
}

// Ten events for one new repository at once, in one process: the repository is created once and
// every event's copy succeeds.
func TestConcurrentEventsCreateTheRepositoryOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	s := newCreateStack(t)
	h := s.handler(t, s.config(`,"create_repository":true`, ""), nil)
	digests := make([]string, 10)
	for i := range digests {
		digests[i] = s.image(t, fmt.Sprintf("v%d", i), uint64(i+1))
	}
	before := s.api.Calls("CreateRepository")
	var wg sync.WaitGroup
	errs := make([]error, 10)
	outs := make([]lambda.Result, 10)
	for i := range 10 {
		wg.Go(func() {
			res, err := h.Handle(context.Background(), s.event(t, fmt.Sprintf("e-%d", i), fmt.Sprintf("v%d", i), digests[i]))
			errs[i] = err
			if r, ok := res.(lambda.Result); ok {
				outs[i] = r
			}
		})
	}
	wg.Wait()
	created := 0
	for i := range 10 {
		if errs[i] != nil {
			t.Errorf("event %d: %v", i, errs[i])
			continue
		}
		for _, o := range outs[i].Outcomes {
			if o.Outcome != lambda.OutcomeCopied {
				t.Errorf("event %d: %+v", i, o)
			}
		}
		if d := s.dstDigest(t, newRepo, fmt.Sprintf("v%d", i)); d != digests[i] {
			t.Errorf("v%d in the destination: %q, want %s", i, d, digests[i])
		}
		created++
	}
	if n := s.api.Calls("CreateRepository") - before; n != 1 {
		t.Errorf("%d CreateRepository calls for 10 events, want 1", n)
	}
	if created != 10 {
		t.Errorf("%d of 10 events copied", created)
	}
}

// Without create_repository a missing destination repository stays needs_action: nothing is
// created, and the error and its fix name the repository, create_repository and the template.
func TestMissingRepositoryWithoutCreateRepositoryNeedsAction(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	s := newCreateStack(t)
	d := s.image(t, "v1", 1)
	h := s.handler(t, s.config("", ""), nil)
	before := s.api.Calls("CreateRepository")
	_, err := h.Handle(context.Background(), s.event(t, "e-1", "v1", d))
	var se *lambda.SyncError
	if !errors.As(err, &se) || se.Retryable || len(se.Failed) != 1 {
		t.Fatalf("got %v, want a needs-action SyncError", err)
	}
	o := se.Failed[0]
	if o.Outcome != lambda.OutcomeNeedsAction || !errors.Is(err, registry.ErrRepositoryNotFound) {
		t.Errorf("outcome %+v", o)
	}
	for _, want := range []string{newRepo, "create_repository", "CREATE_ON_PUSH", dstAccount} {
		if !strings.Contains(o.Fix, want) {
			t.Errorf("fix %q does not say %q", o.Fix, want)
		}
	}
	if !strings.Contains(o.Reason, newRepo) {
		t.Errorf("reason %q does not name the repository", o.Reason)
	}
	if n := s.api.Calls("CreateRepository") - before; n != 0 {
		t.Errorf("%d repositories created without create_repository", n)
	}
}

// A setting that fails after the repository exists (here the lifecycle policy, denied) is
// logged as needs_action with its fix, and the copy goes on.
func TestFailedSettingIsLoggedAndDoesNotBlockTheCopy(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	s := newCreateStack(t)
	d := s.image(t, "v1", 1)
	s.api.Deny(dstAccount, "ecr:PutLifecyclePolicy")
	var buf syncBuffer
	h := s.handler(t, s.config(`,"create_repository":true`, ""), slog.New(slog.NewJSONHandler(&buf, nil)))
	if _, err := h.Handle(context.Background(), s.event(t, "e-1", "v1", d)); err != nil {
		t.Fatalf("the copy was blocked: %v", err)
	}
	if got := s.dstDigest(t, newRepo, "v1"); got != d {
		t.Errorf("v1 in the destination: %q, want %s", got, d)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["outcome"] != "needs_action" {
			continue
		}
		reason, _ := l["reason"].(string)
		if strings.Contains(reason, "lifecycle policy") && strings.Contains(reason, "ecr:PutLifecyclePolicy") {
			found = true
		}
	}
	if !found {
		t.Errorf("no needs_action line about the lifecycle policy and its grant in:\n%s", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// The reconcile creates missing destination repositories too; its dry run lists them as
// "would create" and creates nothing.
func TestReconcileCreatesMissingRepositories(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	s := newCreateStack(t)
	want := s.image(t, "v1", 1)
	doc := s.config(`,"create_repository":true`, "")
	cfg, err := rules.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Rules: cfg, AWS: s.function(), Fallback: devstack.Anonymous{}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Creator == nil {
		t.Fatal("no Creator for a config with create_repository")
	}
	before := s.api.Calls("CreateRepository")
	dry, err := a.Reconciler(cfg, reconcile.Options{DryRun: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantRepo := s.pair.Dst.Addr + "/" + newRepo
	if !slices.Equal(dry.WouldCreate, []string{wantRepo}) || dry.Planned != 1 || len(dry.Items) != 1 ||
		dry.Items[0].Repository != reconcile.RepositoryWouldCreate || !strings.Contains(dry.Items[0].Reason, "would create") {
		t.Fatalf("dry run: %+v", dry)
	}
	if n := s.api.Calls("CreateRepository") - before; n != 0 {
		t.Fatalf("the dry run created %d repositories", n)
	}

	// The Lambda's reconcile request, in one invocation (no fan-out queue).
	h := s.handler(t, doc, nil)
	res, err := h.Handle(context.Background(), []byte(`{"ecrsync":"reconcile"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := res.(lambda.Result)
	if len(r.Reports) != 1 || r.Reports[0].Copied != 1 || !slices.Equal(r.Reports[0].Created, []string{wantRepo}) {
		t.Fatalf("reconcile: %+v", r.Reports)
	}
	if got, ok := s.describe(t, newRepo); !ok || got.mutability != "IMMUTABLE_WITH_EXCLUSION" || got.lifecycle != lifecycle {
		t.Errorf("created as %+v", got)
	}
	if d := s.dstDigest(t, newRepo, "v1"); d != want {
		t.Errorf("v1 in the destination: %q, want %s", d, want)
	}
}

// The function reads a config too long for Lambda's environment from the SSM parameter
// ECRSYNC_CONFIG_PARAMETER names; a missing parameter or a denied read fails the init with an
// error naming the parameter and the grant.
func TestLambdaReadsItsConfigFromTheParameter(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	s := newCreateStack(t)
	d := s.image(t, "v1", 1)
	// A lifecycle policy long enough that the document exceeds Lambda's 4 KB of environment.
	long := `{"rules":[` + strings.Repeat(`{"rulePriority":1,"description":"keep","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}},`, 30)
	long = strings.TrimSuffix(long, ",") + `]}`
	doc := s.config(`,"create_repository":{"lifecycle_policy":`+strconvQuote(long)+`}`, "")
	if len(doc) < 4096 {
		t.Fatalf("the document is %d bytes: it would fit in the environment", len(doc))
	}
	s.api.PutParameter("/ecrsync/config", doc, true)
	env := func(param string) func(string) string {
		return func(k string) string {
			if k == ecr.EnvConfigParameter {
				return param
			}
			return ""
		}
	}
	o := app.Options{AWS: s.function(), Fallback: devstack.Anonymous{}, Retry: registry.RetryPolicy{Base: 1, Max: 1}}
	before := s.api.Calls("GetParameter")
	h, err := app.LambdaHandler(context.Background(), env("/ecrsync/config"), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.api.Calls("GetParameter") - before; n != 1 {
		t.Errorf("%d GetParameter calls at init, want 1", n)
	}
	if _, err := h.Handle(context.Background(), s.event(t, "e-1", "v1", d)); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.describe(t, newRepo); !ok || got.lifecycle != long {
		t.Errorf("created with lifecycle policy %d bytes, want the parameter's %d", len(got.lifecycle), len(long))
	}

	t.Run("missing", func(t *testing.T) {
		_, err := app.LambdaHandler(context.Background(), env("/ecrsync/other"), o)
		if err == nil || !strings.Contains(err.Error(), "/ecrsync/other") || !strings.Contains(err.Error(), ecr.EnvConfigParameter) {
			t.Fatalf("got %v, want an init error naming the parameter and %s", err, ecr.EnvConfigParameter)
		}
	})
	t.Run("denied", func(t *testing.T) {
		s.api.Deny(dstAccount, "ssm:GetParameter")
		_, err := app.LambdaHandler(context.Background(), env("/ecrsync/config"), o)
		if err == nil || !strings.Contains(err.Error(), "/ecrsync/config") || !strings.Contains(err.Error(), "ssm:GetParameter") {
			t.Fatalf("got %v, want an init error naming the parameter and the grant", err)
		}
	})
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
