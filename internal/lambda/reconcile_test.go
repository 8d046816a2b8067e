package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/queue"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// reconcileEnv is an ECR source and destination behind the stand-ins, an SQS stand-in for the
// fan-out queue, and the function's handler with the reconcile on.
type reconcileEnv struct {
	src, dst *devstack.Registry
	srcECR   *ecrstandin.Registry
	dstECR   *ecrstandin.Registry
	queue    *ecrstandin.SQS
	url      string
	push     *devstack.Pusher
	r        *lambda.Handler
}

func newReconcileEnv(t *testing.T) *reconcileEnv {
	t.Helper()
	api := ecrstandin.New()
	t.Cleanup(api.Close)
	srcLoc, dstLoc := ecr.Location{Account: "111111111111", Region: "us-east-1"}, ecr.Location{Account: "222222222222", Region: "eu-west-1"}
	e := &reconcileEnv{srcECR: api.Registry(srcLoc.Account, srcLoc.Region), dstECR: api.Registry(dstLoc.Account, dstLoc.Region),
		queue: ecrstandin.NewSQS()}
	t.Cleanup(e.queue.Close)
	e.url = e.queue.QueueURL("ecrsync-reconcile")
	pair := devtest.NewPair(t, devtest.Options{WrapSrc: e.srcECR.Wrap, WrapDst: e.dstECR.Wrap})
	e.src, e.dst = pair.Src, pair.Dst

	creds := credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin-secret", "")
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(api.URL), Credentials: creds}
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: awsCfg})
	kc.Add(e.src.Addr, srcLoc, "")
	kc.Add(e.dst.Addr, dstLoc, "")
	e.push = &devstack.Pusher{C: registry.New(registry.Options{Keychain: kc})}

	cfg, err := rules.Load([]byte(fmt.Sprintf(`
source: {registry: "%s", account_id: "%s", region: %s}
rules:
  - repositories: ["app", "team/*"]
    tags: ["v*"]
    destinations: [{registry: "%s", account_id: "%s", region: %s}]
`, e.src.Addr, srcLoc.Account, srcLoc.Region, e.dst.Addr, dstLoc.Account, dstLoc.Region)))
	if err != nil {
		t.Fatal(err)
	}
	retry := registry.RetryPolicy{Base: time.Millisecond, Max: 20 * time.Millisecond}
	sqsAPI := sqs.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.queue.URL), Credentials: creds})
	e.r = newHandler(t, cfg, app.Options{AWS: &awsCfg, Retry: retry}, app.HandlerOptions{Queue: &queue.SQS{API: sqsAPI, URL: e.url}})
	return e
}

// image creates repo in the source and the destination registry and pushes an image to the source.
func (e *reconcileEnv) image(t *testing.T, repo, tag string, seed uint64) string {
	t.Helper()
	e.srcECR.CreateRepository(repo, false)
	e.dstECR.CreateRepository(repo, false)
	r, err := e.push.Repo(e.src.Addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.push.Image(context.Background(), r, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(1024, seed)}})
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest.String()
}
func (e *reconcileEnv) dstDigest(t *testing.T, repo, tag string) string {
	t.Helper()
	r, err := e.push.Repo(e.dst.Addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Head(context.Background(), tag)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// sqsBatch wraps bodies as the SQS event source mapping delivers them.
func sqsBatch(t *testing.T, bodies ...string) []byte {
	t.Helper()
	var recs []map[string]any
	for i, b := range bodies {
		recs = append(recs, map[string]any{"messageId": fmt.Sprintf("m-%d", i), "body": b, "eventSource": "aws:sqs",
			"eventSourceARN": "arn:aws:sqs:us-east-1:222222222222:ecrsync-reconcile", "receiptHandle": "r"})
	}
	b, err := json.Marshal(map[string]any{"Records": recs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScheduleFansOutAndTheQueueReconciles runs the whole Lambda reconcile: a scheduled event
// queues one message per selected repository (14: two SendMessageBatch calls, with entries SQS
// failed on its side sent again, none twice), and an SQS batch of those messages, mixed with an
// ECR push event and a message for a repository no rule selects, converges the destination.
func TestScheduleFansOutAndTheQueueReconciles(t *testing.T) {
	t.Parallel()
	e := newReconcileEnv(t)
	ctx := context.Background()
	want := map[string]string{"app:v1": e.image(t, "app", "v1", 1), "app:v2": e.image(t, "app", "v2", 2),
		"team/api:v1": e.image(t, "team/api", "v1", 3)}
	for i := range 12 {
		want[fmt.Sprintf("team/r%02d:v1", i)] = e.image(t, fmt.Sprintf("team/r%02d", i), "v1", uint64(10+i))
	}
	e.image(t, "other", "v1", 4)

	scheduled, err := os.ReadFile("testdata/reconcile-scheduled.json")
	if err != nil {
		t.Fatal(err)
	}
	e.queue.FailEntries(2)
	res, err := e.r.Handle(ctx, scheduled)
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.queue.Messages(e.url)
	if rr, ok := res.(lambda.Result); !ok || rr.Queued != 14 || len(msgs) != 14 {
		t.Fatalf("result %#v, %d messages", res, len(msgs))
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m] {
			t.Fatalf("sent twice: %s", m)
		}
		seen[m] = true
	}
	if !seen[`{"ecrsync":"reconcile","repository":"app"}`] || seen[`{"ecrsync":"reconcile","repository":"other"}`] {
		t.Fatalf("messages: %q", msgs)
	}
	if n := e.queue.Calls(); n != 3 {
		t.Errorf("%d SendMessageBatch calls, want 2 and one for the failed entries", n)
	}

	push, err := event.EventBridgeEvent(event.Push{ID: "e-1", Source: event.SourceECR, Account: "111111111111", Region: "us-east-1",
		Registry: e.src.Addr, Repository: "app", Tag: "v2", Digest: want["app:v2"], Action: event.ActionPush, Result: "SUCCESS"})
	if err != nil {
		t.Fatal(err)
	}
	batch := append(append([]string{}, msgs...), string(push), `{"ecrsync":"reconcile","repository":"other"}`)
	res, err = e.r.Handle(ctx, sqsBatch(t, batch...))
	if err != nil {
		t.Fatal(err)
	}
	br, ok := res.(lambda.BatchResponse)
	if !ok || len(br.BatchItemFailures) != 0 || len(br.Reports) != 14 {
		t.Fatalf("batch response %#v", res)
	}
	if len(br.Outcomes) != 1 {
		t.Errorf("the push event in the batch went to the event handler: %+v", br.Outcomes)
	}
	for ref, d := range want {
		repo, tag, _ := strings.Cut(ref, ":")
		if got := e.dstDigest(t, repo, tag); got != d {
			t.Errorf("%s: %q, want %s", ref, got, d)
		}
	}
	if got := e.dstDigest(t, "other", "v1"); got != "" {
		t.Errorf("other:v1 was copied")
	}
}

// TestReconcileOutOfTimeReturnsTheMessage: what the invocation has no time for is skipped, and
// the message goes back to the queue for another invocation.
func TestReconcileOutOfTimeReturnsTheMessage(t *testing.T) {
	t.Parallel()
	e := newReconcileEnv(t)
	e.image(t, "app", "v1", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // less than the margin
	defer cancel()
	res, err := e.r.Handle(ctx, sqsBatch(t, `{"ecrsync":"reconcile","repository":"app"}`))
	if err != nil {
		t.Fatal(err)
	}
	br, ok := res.(lambda.BatchResponse)
	if !ok || len(br.BatchItemFailures) != 1 || br.BatchItemFailures[0].ItemIdentifier != "m-0" {
		t.Fatalf("batch response %#v", res)
	}
	if e.dstDigest(t, "app", "v1") != "" {
		t.Fatal("copied after the deadline")
	}
	// A direct request for one repository, with time, converges.
	res, err = e.r.Handle(context.Background(), []byte(`{"ecrsync":"reconcile","repository":"app"}`))
	if rr, ok := res.(lambda.Result); err != nil || !ok || rr.Reports[0].Copied != 1 {
		t.Fatalf("direct request: %#v, %v", res, err)
	}
}
