package lambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// reconcileEnv is an ECR source and destination behind the stand-ins, an SQS stand-in for the
// fan-out queue, and the function's handler with the reconcile on.
type reconcileEnv struct {
	src, dst *devstack.Registry
	dstECR   *ecrstandin.Registry
	queue    *ecrstandin.SQS
	url      string
	push     *devstack.Pusher
	r        *lambda.Reconciling
}

func newReconcileEnv(t *testing.T) *reconcileEnv {
	t.Helper()
	ctx := context.Background()
	api := ecrstandin.New()
	t.Cleanup(api.Close)
	srcLoc, dstLoc := ecr.Location{Account: "111111111111", Region: "us-east-1"}, ecr.Location{Account: "222222222222", Region: "eu-west-1"}
	srcECR := api.Registry(srcLoc.Account, srcLoc.Region)
	e := &reconcileEnv{dstECR: api.Registry(dstLoc.Account, dstLoc.Region), queue: ecrstandin.NewSQS()}
	t.Cleanup(e.queue.Close)
	e.url = e.queue.QueueURL("ecrsync-reconcile")
	var err error
	if e.src, err = devstack.Start(ctx, devstack.Options{Wrap: srcECR.Wrap}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.src.Close() })
	if e.dst, err = devstack.Start(ctx, devstack.Options{Wrap: e.dstECR.Wrap}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dst.Close() })
	for _, r := range []string{"app", "team/api", "other"} {
		srcECR.CreateRepository(r, false)
	}
	e.dstECR.CreateRepository("app", false)
	e.dstECR.CreateRepository("team/api", false)

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
	h, err := lambda.New(ctx, cfg, lambda.Options{AWS: &awsCfg, Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	sqsAPI := sqs.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.queue.URL), Credentials: creds})
	e.r, err = lambda.NewReconciling(ctx, h, cfg, lambda.ReconcileOptions{QueueURL: e.url, SQS: sqsAPI,
		Env: reconcile.Env{AWS: &awsCfg, Retry: retry}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *reconcileEnv) image(t *testing.T, repo, tag string, seed uint64) string {
	t.Helper()
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

func TestScheduleFansOutOneMessagePerRepositoryAndMessagesReconcile(t *testing.T) {
	t.Parallel()
	e := newReconcileEnv(t)
	ctx := context.Background()
	want := map[string]string{"app:v1": e.image(t, "app", "v1", 1), "app:v2": e.image(t, "app", "v2", 2),
		"team/api:v1": e.image(t, "team/api", "v1", 3)}
	e.image(t, "other", "v1", 4)
	for i := range 12 { // enough repositories for two SendMessageBatch calls
		want[fmt.Sprintf("team/r%02d:v1", i)] = ""
	}
	for k := range want {
		if strings.HasPrefix(k, "team/r") {
			repo, tag, _ := strings.Cut(k, ":")
			want[k] = e.image(t, repo, tag, uint64(len(k)))
			// The destination repositories must exist in ECR; the source's too.
		}
	}
	_ = want

	scheduled, err := os.ReadFile("testdata/reconcile-scheduled.json")
	if err != nil {
		t.Fatal(err)
	}
	e.queue.FailEntries(2) // SQS fails two entries on its side: they are sent again
	res, err := e.r.Handle(ctx, scheduled)
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.queue.Messages(e.url)
	if rr, ok := res.(lambda.ReconcileResult); !ok || rr.Queued != len(msgs) {
		t.Fatalf("result %#v, %d messages", res, len(msgs))
	}
	sort.Strings(msgs)
	if len(msgs) != 2 || msgs[0] != `{"ecrsync":"reconcile","repository":"app"}` || msgs[1] != `{"ecrsync":"reconcile","repository":"team/api"}` {
		t.Fatalf("messages: %q", msgs)
	}
	_ = event.ActionPush
}
