package lambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

const (
	srcAccount, srcRegion = "111111111111", "us-east-1"
	dstAccount, dstRegion = "222222222222", "eu-west-1"
)

// env is a source and a destination ECR registry, each a real registry behind the ECR
// stand-in, with the control-plane stand-in issuing their tokens.
type env struct {
	api            *ecrstandin.Server
	srcECR, dstECR *ecrstandin.Registry
	src, dst       *devstack.Registry
	push           *devstack.Pusher
	h              *lambda.Handler
	logs           *syncBuffer
	awsCfg         aws.Config
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testAWS(endpoint string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin-secret", "")}
}

func newEnv(t *testing.T, dstRepos ...string) *env {
	t.Helper()
	e := &env{api: ecrstandin.New(), logs: &syncBuffer{}}
	t.Cleanup(e.api.Close)
	e.srcECR = e.api.Registry(srcAccount, srcRegion)
	e.dstECR = e.api.Registry(dstAccount, dstRegion)
	pair := devtest.NewPair(t, devtest.Options{WrapSrc: e.srcECR.Wrap, WrapDst: e.dstECR.Wrap})
	e.src, e.dst = pair.Src, pair.Dst
	for _, r := range []string{"app", "team/api", "other"} {
		e.srcECR.CreateRepository(r, false)
	}
	if dstRepos == nil {
		dstRepos = []string{"app", "mirror/app", "team/api", "mirror/team/api"}
	}
	for _, r := range dstRepos {
		immutable := strings.HasPrefix(r, "immutable:")
		e.dstECR.CreateRepository(strings.TrimPrefix(r, "immutable:"), immutable)
	}
	e.awsCfg = testAWS(e.api.URL)
	// The fixtures are pushed through the same ECR login path, as a CI job would push.
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: e.awsCfg})
	kc.Add(e.src.Addr, ecr.Location{Account: srcAccount, Region: srcRegion}, "")
	kc.Add(e.dst.Addr, ecr.Location{Account: dstAccount, Region: dstRegion}, "")
	e.push = &devstack.Pusher{C: registry.New(registry.Options{Keychain: kc, Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}})}

	cfg, err := rules.Load([]byte(fmt.Sprintf(`
source: {registry: "%s", account_id: "%s", region: %s}
rules:
  - repositories: ["app", "team/*"]
    tags: ["v*", "latest"]
    destinations:
      - {registry: "%s", account_id: "%s", region: %s}
      - {registry: "%s", account_id: "%s", region: %s, repository: "mirror/{repository}"}
`, e.src.Addr, srcAccount, srcRegion, e.dst.Addr, dstAccount, dstRegion, e.dst.Addr, dstAccount, dstRegion)))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.h = newHandler(t, cfg, app.Options{Logger: log, AWS: &e.awsCfg,
		Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 20 * time.Millisecond, Budget: 3 * time.Second}}, app.HandlerOptions{Metrics: true})
	return e
}

func (e *env) image(t *testing.T, repo, tag string, seed uint64) ocispec.Descriptor {
	t.Helper()
	r, err := e.push.Repo(e.src.Addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.push.MultiPlatform(context.Background(), r, tag, []string{"linux/amd64", "linux/arm64"}, 4096, seed)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dstDigest is what a destination tag points at ("" if nothing), asked of the registry directly.
func (e *env) dstDigest(t *testing.T, repo, tag string) string {
	t.Helper()
	resp, err := e.push.C.Repository(mustRepo(t, e.dst.Addr+"/"+repo)).Head(context.Background(), tag)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return ""
		}
		t.Fatal(err)
	}
	return resp.Digest.String()
}

func pushEvent(t *testing.T, p event.Push) []byte {
	t.Helper()
	if p.Account == "" {
		p.Account, p.Region = srcAccount, srcRegion
	}
	if p.Action == "" {
		p.Action, p.Result = event.ActionPush, "SUCCESS"
	}
	if p.ID == "" {
		p.ID = "e-" + p.Repository + "-" + p.Tag
	}
	b, err := event.EventBridgeEvent(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func outcomes(t *testing.T, res any) []lambda.Outcome {
	t.Helper()
	switch r := res.(type) {
	case lambda.Result:
		return r.Outcomes
	case lambda.BatchResponse:
		return r.Outcomes
	}
	t.Fatalf("result %T", res)
	return nil
}

func TestPushIsCopiedToEveryDestinationAndTheSameEventTwiceSendsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.image(t, "app", "v1", 1)
	ev := pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: d.Digest.String()})

	res, err := e.h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	outs := outcomes(t, res)
	if len(outs) != 2 {
		t.Fatalf("%d outcomes, want 2: %+v", len(outs), outs)
	}
	for _, o := range outs {
		if o.Outcome != lambda.OutcomeCopied || o.Digest != d.Digest.String() || o.Bytes == 0 {
			t.Errorf("first delivery: %+v", o)
		}
	}
	for _, repo := range []string{"app", "mirror/app"} {
		if got := e.dstDigest(t, repo, "v1"); got != d.Digest.String() {
			t.Errorf("%s:v1 = %q, want %s", repo, got, d.Digest)
		}
	}
	res, err = e.h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes(t, res) {
		if o.Outcome != lambda.OutcomeInSync || o.Bytes != 0 {
			t.Errorf("second delivery: %+v, want in_sync with nothing sent", o)
		}
	}
}

func TestDestinationFollowsTheSourceTagNotTheEventDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.image(t, "app", "latest", 1)
	cur := e.image(t, "app", "latest", 2) // the tag moved on before the first event was handled
	res, err := e.h.Handle(context.Background(), pushEvent(t, event.Push{Repository: "app", Tag: "latest", Digest: old.Digest.String()}))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes(t, res) {
		if o.Digest != cur.Digest.String() || o.EventDigest != old.Digest.String() {
			t.Errorf("%+v: want the current digest %s copied", o, cur.Digest)
		}
	}
	if got := e.dstDigest(t, "app", "latest"); got != cur.Digest.String() {
		t.Fatalf("app:latest = %s, want the current %s", got, cur.Digest)
	}
	// The newer event, arriving after, finds everything in sync.
	res, _ = e.h.Handle(context.Background(), pushEvent(t, event.Push{Repository: "app", Tag: "latest", Digest: cur.Digest.String()}))
	for _, o := range outcomes(t, res) {
		if o.Outcome != lambda.OutcomeInSync {
			t.Errorf("late event: %+v, want in_sync", o)
		}
	}
}

func TestEventsThatNeedNoWorkSucceedAndCopyNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.image(t, "app", "v1", 1)
	e.image(t, "other", "v1", 3)
	dg := d.Digest.String()
	tests := []struct {
		name    string
		payload []byte
		outcome string
	}{
		{"untagged child manifest", pushEvent(t, event.Push{Repository: "app", Digest: dg}), lambda.OutcomeSkipped},
		{"delete", pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: dg, Action: event.ActionDelete, Result: "SUCCESS"}), lambda.OutcomeSkipped},
		{"failed push", pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: dg, Action: event.ActionPush, Result: "FAILURE"}), lambda.OutcomeSkipped},
		{"image scan", pushEvent(t, event.Push{DetailType: "ECR Image Scan", Repository: "app", Tag: "v1", Digest: dg}), lambda.OutcomeSkipped},
		{"another account", pushEvent(t, event.Push{Account: "999999999999", Region: srcRegion, Repository: "app", Tag: "v1", Digest: dg}), lambda.OutcomeSkipped},
		{"another Region", pushEvent(t, event.Push{Account: srcAccount, Region: "eu-central-1", Repository: "app", Tag: "v1", Digest: dg}), lambda.OutcomeSkipped},
		{"no rule for the repository", pushEvent(t, event.Push{Repository: "other", Tag: "v1", Digest: dg}), lambda.OutcomeSkipped},
		{"no rule for the tag", pushEvent(t, event.Push{Repository: "app", Tag: "dev", Digest: dg}), lambda.OutcomeSkipped},
		{"not JSON", []byte(`{"detail-type":`), lambda.OutcomeMalformed},
		{"hostile repository", []byte(strings.Replace(string(pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: dg})), `"app"`, `"../x"`, 1)), lambda.OutcomeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.h.Handle(context.Background(), tt.payload)
			if err != nil {
				t.Fatalf("Handle: %v, want success", err)
			}
			outs := outcomes(t, res)
			if len(outs) != 1 || outs[0].Outcome != tt.outcome || outs[0].Reason == "" {
				t.Fatalf("outcomes %+v, want one %s with a reason", outs, tt.outcome)
			}
		})
	}
	if got := e.dstDigest(t, "app", "v1"); got != "" {
		t.Fatalf("something was copied: app:v1 = %s", got)
	}
}

func TestFailuresSayWhetherARetryHelpsAndWhatToFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dstRepos  []string
		prepare   func(t *testing.T, e *env)
		retryable bool
		fix       string
		cause     error // the SyncError unwraps to it
		copied    int   // destinations that still succeed
	}{
		{name: "missing destination repository", dstRepos: []string{"app"}, fix: "create the destination repository", cause: registry.ErrRepositoryNotFound, copied: 1},
		{name: "immutable tag at another digest", dstRepos: []string{"immutable:app", "mirror/app"},
			prepare: func(t *testing.T, e *env) {
				r, _ := e.push.Repo(e.dst.Addr + "/app")
				if _, err := e.push.Image(context.Background(), r, "v1", devstack.ImageSpec{Layers: [][]byte{[]byte("older")}}); err != nil {
					t.Fatal(err)
				}
			}, fix: "immutable", cause: registry.ErrTagImmutable, copied: 1},
		{name: "destination registry down", prepare: downRegistry, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.dstRepos...)
			d := e.image(t, "app", "v1", 1)
			if tt.prepare != nil {
				tt.prepare(t, e)
			}
			res, err := e.h.Handle(context.Background(), pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: d.Digest.String()}))
			var se *lambda.SyncError
			if !errors.As(err, &se) || se.Retryable != tt.retryable {
				t.Fatalf("Handle: %v; want a SyncError with Retryable=%v", err, tt.retryable)
			}
			copied := 0
			for _, o := range outcomes(t, res) {
				if o.Outcome == lambda.OutcomeCopied {
					copied++
				}
			}
			if copied != tt.copied {
				t.Errorf("%d destinations copied, want %d: %+v", copied, tt.copied, outcomes(t, res))
			}
			if tt.fix != "" && (len(se.Failed) != 1 || !strings.Contains(se.Failed[0].Fix, tt.fix)) {
				t.Errorf("failed %+v, want one whose fix says %q", se.Failed, tt.fix)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("Handle: %v does not unwrap to %v: the error chain was lost", err, tt.cause)
			}
			var ce *replicate.CopyError
			if !errors.As(err, &ce) {
				t.Errorf("Handle: %v does not unwrap to the engine's *CopyError", err)
			}
		})
	}
}

func TestThrottlingAndExpiredTokensAreRiddenOutWithinTheInvocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.image(t, "app", "v1", 1)
	if _, err := e.h.Handle(context.Background(), pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: d.Digest.String()})); err != nil {
		t.Fatal(err)
	}
	before := e.api.Calls("GetAuthorizationToken")
	e.api.ExpireTokens()
	e.dstECR.Throttle(4)
	d2 := e.image(t, "app", "v2", 2)
	res, err := e.h.Handle(context.Background(), pushEvent(t, event.Push{Repository: "app", Tag: "v2", Digest: d2.Digest.String()}))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes(t, res) {
		if o.Outcome != lambda.OutcomeCopied {
			t.Errorf("%+v, want copied", o)
		}
	}
	if n := e.dstECR.Throttled(); n != 4 {
		t.Errorf("%d requests throttled, want 4", n)
	}
	if after := e.api.Calls("GetAuthorizationToken"); after <= before {
		t.Errorf("GetAuthorizationToken called %d times before and %d after the tokens expired: no refresh", before, after)
	}
	if got := e.dstDigest(t, "mirror/app", "v2"); got != d2.Digest.String() {
		t.Fatalf("mirror/app:v2 = %q", got)
	}
}

func TestSQSBatchReturnsOnlyTheFailedMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "app", "mirror/app") // team/api has no destination repository
	a := e.image(t, "app", "v1", 1)
	b := e.image(t, "team/api", "v1", 2)
	rec := func(id string, body []byte) map[string]any {
		return map[string]any{"messageId": id, "body": string(body), "eventSource": "aws:sqs",
			"eventSourceARN": "arn:aws:sqs:us-east-1:222222222222:ecrsync", "awsRegion": "us-east-1", "attributes": map[string]string{}}
	}
	batch, _ := json.Marshal(map[string]any{"Records": []any{
		rec("ok", pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: a.Digest.String()})),
		rec("fails", pushEvent(t, event.Push{Repository: "team/api", Tag: "v1", Digest: b.Digest.String()})),
		rec("garbage", []byte("{")),
	}})
	res, err := e.h.Handle(context.Background(), batch)
	if err != nil {
		t.Fatalf("a batch reports failures per item, not as an error: %v", err)
	}
	br := res.(lambda.BatchResponse)
	if len(br.BatchItemFailures) != 1 || br.BatchItemFailures[0].ItemIdentifier != "fails" {
		t.Fatalf("batchItemFailures %+v, want only \"fails\"", br.BatchItemFailures)
	}
	out, _ := json.Marshal(br)
	if !strings.Contains(string(out), `"batchItemFailures":[{"itemIdentifier":"fails"}]`) {
		t.Fatalf("response JSON %s is not Lambda's partial batch response", out)
	}
}

func TestOneLogLinePerDestinationWithMetricsAndNoCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.image(t, "app", "v1", 1)
	if _, err := e.h.Handle(context.Background(), pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: d.Digest.String()})); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if m["msg"] == "sync" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d sync lines, want one per destination:\n%s", len(lines), logs)
	}
	for _, m := range lines {
		for _, k := range []string{"src", "dst", "digest", "tag", "bytes", "blobsSkipped", "durationMs", "outcome", "_aws", "SyncDuration", "BytesSent"} {
			if _, ok := m[k]; !ok {
				t.Errorf("sync line lacks %s: %v", k, m)
			}
		}
		emf := m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if emf["Namespace"] != "ecrsync" {
			t.Errorf("EMF namespace %v", emf["Namespace"])
		}
	}
	for _, secret := range []string{"standin-", "Authorization", "Basic ", "X-Amz-"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

// TestOnFailureRecordReplaysItsEvent: Lambda's on-failure record, as the failure queue holds it,
// is handled as the event in its requestPayload: the push is copied to both destinations.
func TestOnFailureRecordReplaysItsEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.image(t, "app", "v1", 11)
	rec := `{"version":"1.0","timestamp":"2026-11-29T09:00:00.000Z","requestContext":{"requestId":"r-1","condition":"RetriesExhausted",` +
		`"approximateInvokeCount":3},"requestPayload":` + string(pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: d.Digest.String()})) +
		`,"responseContext":{"statusCode":200,"functionError":"Unhandled"},"responsePayload":{"errorMessage":"sync failed"}}`
	res, err := e.h.Handle(context.Background(), []byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	outs := outcomes(t, res)
	if len(outs) != 2 || outs[0].Outcome != lambda.OutcomeCopied || outs[1].Outcome != lambda.OutcomeCopied {
		t.Fatalf("outcomes %+v, want two copies", outs)
	}
	for _, repo := range []string{"app", "mirror/app"} {
		if got := e.dstDigest(t, repo, "v1"); got != d.Digest.String() {
			t.Errorf("%s:v1 = %q, want %s", repo, got, d.Digest)
		}
	}
}

// downRegistry stops the destination registry and keeps its address taken by a listener that
// drops every connection, so no other test's server can take the freed port and answer in its
// place.
func downRegistry(t *testing.T, e *env) {
	addr := e.dst.Addr
	e.dst.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("keeping the stopped registry's address %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// TestPushOfAnImageGoneFromTheSourceSaysSo: a push event announces an image the source no
// longer has; the fix says it is gone (the event said it existed), and is not retried.
func TestPushOfAnImageGoneFromTheSourceSaysSo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.image(t, "app", "v1", 1)
	_, err := e.h.Handle(context.Background(), pushEvent(t, event.Push{Repository: "app", Tag: "v9", Digest: d.Digest.String()}))
	var se *lambda.SyncError
	if !errors.As(err, &se) || se.Retryable || len(se.Failed) == 0 {
		t.Fatalf("Handle: %v; want a SyncError, not retryable", err)
	}
	for _, o := range se.Failed {
		if !strings.Contains(o.Fix, "no longer has the image the push event announced") {
			t.Errorf("fix %q, want it to say the pushed image is gone", o.Fix)
		}
	}
}
