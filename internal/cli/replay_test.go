package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/cli"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/queue"
)

// failFixture is a source with app:v1, web:v1 and denied:v1, a destination that refuses
// manifests of "denied", and a rules file for both.
type failFixture struct {
	pair   *devtest.Pair
	config string
	digest map[string]string
}

func newFailFixture(t *testing.T) *failFixture {
	t.Helper()
	deny := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/denied/manifests/") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"denied by the test"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	f := &failFixture{pair: devtest.NewPair(t, devtest.Options{WrapDst: deny}), digest: map[string]string{}}
	for i, repo := range []string{"app", "web", "denied"} {
		r, err := f.pair.Push.Repo(f.pair.Src.Addr + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.pair.Push.Image(context.Background(), r, "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(512, uint64(i))}})
		if err != nil {
			t.Fatal(err)
		}
		f.digest[repo] = d.Digest.String()
	}
	f.config = filepath.Join(t.TempDir(), "ecrsync.yaml")
	doc := fmt.Sprintf("source: {registry: %q}\nrules:\n  - destinations: [{registry: %q}]\n", f.pair.Src.Addr, f.pair.Dst.Addr)
	if err := os.WriteFile(f.config, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *failFixture) dstDigest(t *testing.T, repo string) string {
	t.Helper()
	r, err := f.pair.Push.Repo(f.pair.Dst.Addr + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Head(context.Background(), "v1")
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// notification is the registry notification a push of repo:v1 to the source sends.
func (f *failFixture) notification(repo string) string {
	return fmt.Sprintf(`{"events":[{"id":"n-%s","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"digest":%q,"repository":%q,"tag":"v1"},"request":{"host":%q}}]}`, repo, f.digest[repo], repo, f.pair.Src.Addr)
}

// onFailure wraps payload as Lambda's on-failure destination record, as the failure queue holds it.
func onFailure(payload string) string {
	return `{"version":"1.0","timestamp":"2026-11-29T09:00:00.000Z","requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e",` +
		`"functionArn":"arn:aws:lambda:us-east-1:222222222222:function:ecrsync:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},` +
		`"requestPayload":` + payload + `,"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},` +
		`"responsePayload":{"errorType":"ReconcileError","errorMessage":"reconcile did not converge"}}`
}

// TestHandleReplaysReconcileMessagesAndOnFailureRecords: what the failure and dead-letter
// queues hold replays with `ecrsync handle` — a reconcile request for one repository, and
// Lambda's on-failure record around one — and a failure still says so in the exit code.
func TestHandleReplaysReconcileMessagesAndOnFailureRecords(t *testing.T) {
	t.Parallel()
	f := newFailFixture(t)
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	code, out, errs := run("handle", "--config", f.config, "--log-level", "warn", file("reconcile.json", `{"ecrsync":"reconcile","repository":"app"}`))
	if code != cli.ExitOK || !strings.Contains(out, `"copied": 1`) {
		t.Fatalf("reconcile message: exit %d\n%s\n%s", code, out, errs)
	}
	if got := f.dstDigest(t, "app"); got != f.digest["app"] {
		t.Fatalf("app:v1 in the destination: %q, want %s", got, f.digest["app"])
	}
	code, out, errs = run("handle", "--config", f.config, "--log-level", "warn", file("record.json", onFailure(`{"ecrsync":"reconcile","repository":"web"}`)))
	if code != cli.ExitOK || f.dstDigest(t, "web") != f.digest["web"] {
		t.Fatalf("on-failure record: exit %d\n%s\n%s", code, out, errs)
	}
	// A push that still fails (the destination refuses it) is not reported as done.
	code, out, errs = run("handle", "--config", f.config, "--log-level", "error", file("denied.json", f.notification("denied")))
	if code != cli.ExitFailed || !strings.Contains(out, "needs_action") {
		t.Fatalf("failing push: exit %d, want %d\n%s\n%s", code, cli.ExitFailed, out, errs)
	}
}

// TestReplayDrainsAQueueAndKeepsWhatFails drains an SQS queue (the stand-in, over SQS's JSON
// protocol) holding an on-failure record, a dead-lettered notification, a push that still fails
// and a message nobody can read: the two that succeed are deleted, the other two stay.
// Not parallel: it sets the environment.
func TestReplayDrainsAQueueAndKeepsWhatFails(t *testing.T) {
	f := newFailFixture(t)
	sq := ecrstandin.NewSQS()
	defer sq.Close()
	url := sq.QueueURL("ecrsync-failures")
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL_SQS", sq.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTANDIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "standin-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("DOCKER_CONFIG", dir)

	record := sq.Put(url, onFailure(`{"ecrsync":"reconcile","repository":"web"}`))
	notified := sq.Put(url, f.notification("app"))
	denied := sq.Put(url, f.notification("denied"))
	unreadable := sq.Put(url, `{"hello":"world"}`)

	code, out, errs := run("replay", "--config", f.config, "--log-level", "error", url)
	if code != cli.ExitFailed {
		t.Fatalf("exit %d, want %d (two messages failed)\n%s\n%s", code, cli.ExitFailed, out, errs)
	}
	var rep queue.DrainReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if rep.Received != 4 || rep.Handled != 2 || strings.Join(rep.Failed, ",") != denied+","+unreadable {
		t.Fatalf("report %+v; want 4 received, 2 handled, %s and %s failed (record %s, notification %s)", rep, denied, unreadable, record, notified)
	}
	left := sq.Messages(url)
	if len(left) != 2 || !strings.Contains(left[0], `"denied"`) || left[1] != `{"hello":"world"}` || sq.Deletes() != 2 {
		t.Fatalf("left in the queue: %q (%d deleted)", left, sq.Deletes())
	}
	for _, repo := range []string{"app", "web"} {
		if got := f.dstDigest(t, repo); got != f.digest[repo] {
			t.Errorf("%s:v1 in the destination: %q, want %s", repo, got, f.digest[repo])
		}
	}
	if f.dstDigest(t, "denied") != "" {
		t.Error("denied:v1 reached the destination")
	}
}
