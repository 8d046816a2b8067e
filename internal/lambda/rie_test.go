package lambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/lambda"
)

// findRIE returns the Lambda Runtime Interface Emulator's path. Outside CI a machine without it
// skips the test; in CI (.ci/deps.d/20-lambda.sh installs it) its absence is a failure.
func findRIE(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("aws-lambda-rie is not installed, and CI must run this test: .ci/deps.d/20-lambda.sh installs it")
	}
	t.Skip("aws-lambda-rie is not installed: run .ci/deps.d/20-lambda.sh (go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@<pinned>)")
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestBootstrapUnderTheLambdaEmulator builds the function's bootstrap as `make lambda` does (for
// this machine's architecture), runs it under the real Runtime Interface Emulator, and posts
// EventBridge events to the emulator's invoke endpoint: the image must land in the real
// destination registry, behind the ECR stand-in, with ECR logins through the control-plane
// stand-in (AWS_ENDPOINT_URL_ECR).
func TestBootstrapUnderTheLambdaEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds bootstrap")
	}
	t.Parallel()
	rie := findRIE(t)
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc,lambdaonly", "-trimpath", "-o", bootstrap, "./cmd/ecrsync")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building bootstrap: %v\n%s", err, out)
	}

	e := newEnv(t, "app", "mirror/app") // team/api has no destination repository: a failing sync
	d := e.image(t, "app", "v1", 7)
	e.image(t, "team/api", "v1", 8)
	cfg := fmt.Sprintf(`{"source":{"registry":%q,"account_id":%q,"region":%q},"rules":[{"repositories":["app","team/*"],"tags":["v*"],`+
		`"destinations":[{"registry":%q,"account_id":%q,"region":%q},{"registry":%q,"account_id":%q,"region":%q,"repository":"mirror/{repository}"}]}]}`,
		e.src.Addr, srcAccount, srcRegion, e.dst.Addr, dstAccount, dstRegion, e.dst.Addr, dstAccount, dstRegion)

	invokeAddr, apiAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"ECRSYNC_CONFIG=" + cfg,
		"AWS_ENDPOINT_URL_ECR=" + e.api.URL,
		"AWS_ACCESS_KEY_ID=AKIDSTANDIN", "AWS_SECRET_ACCESS_KEY=standin-secret", "AWS_REGION=" + srcRegion,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_FUNCTION_TIMEOUT=120",
		"DOCKER_CONFIG=" + dir, // no credentials of this machine's user
	}
	out := &syncBuffer{} // written by the emulator's output copiers while the test reads it
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() || testing.Verbose() {
			t.Logf("emulator and function output:\n%s", out.String())
		}
	})

	invoke := func(payload []byte) (int, []byte) {
		t.Helper()
		url := "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
			if err != nil {
				if time.Now().After(deadline) {
					t.Fatalf("invoking: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
	}

	// A push is copied to both destinations.
	ev := pushEvent(t, event.Push{Repository: "app", Tag: "v1", Digest: d.Digest.String()})
	_, body := invoke(ev)
	var res lambda.Result
	if err := json.Unmarshal(body, &res); err != nil || len(res.Outcomes) != 2 {
		t.Fatalf("response %s (%v), want two outcomes", body, err)
	}
	for _, o := range res.Outcomes {
		if o.Outcome != lambda.OutcomeCopied {
			t.Errorf("%+v, want copied", o)
		}
	}
	for _, repo := range []string{"app", "mirror/app"} {
		if got := e.dstDigest(t, repo, "v1"); got != d.Digest.String() {
			t.Errorf("destination %s:v1 = %q, want %s", repo, got, d.Digest)
		}
	}
	// The same event again sends nothing.
	_, body = invoke(ev)
	res = lambda.Result{}
	json.Unmarshal(body, &res)
	for _, o := range res.Outcomes {
		if o.Outcome != lambda.OutcomeInSync || o.Bytes != 0 {
			t.Errorf("redelivery: %+v, want in_sync", o)
		}
	}
	// Another ECR detail-type is acknowledged.
	scan, _ := os.ReadFile("../event/testdata/scan.json")
	_, body = invoke(scan)
	if !strings.Contains(string(body), `"outcome":"skipped"`) {
		t.Errorf("scan event: %s, want skipped", body)
	}
	// A sync that cannot succeed is an invocation error that says what to fix.
	_, body = invoke(pushEvent(t, event.Push{Repository: "team/api", Tag: "v1"}))
	var fail struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(body, &fail) != nil || fail.ErrorType != "SyncError" || !strings.Contains(fail.ErrorMessage, "create the destination repository") {
		t.Errorf("failing sync: %s, want a SyncError naming the fix", body)
	}

	// The function's log lines are JSON with the request ID; the emulator reports the cold start.
	time.Sleep(200 * time.Millisecond)
	logs := out.String()
	if !regexp.MustCompile(`\{[^\n]*"message":"sync"[^\n]*"requestId":"[^"]+"`).MatchString(logs) {
		t.Errorf("no JSON sync line with a requestId in the function's output:\n%s", logs)
	}
	// The emulator's INIT REPORT is the time from starting bootstrap to its first request for
	// work: the function's cold start, config and AWS setup included.
	if m := regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`).FindStringSubmatch(logs); m != nil {
		t.Logf("cold start under the emulator: init %s ms", m[1])
	} else {
		t.Errorf("the emulator reported no init")
	}
	if fi, err := os.Stat(bootstrap); err == nil {
		t.Logf("bootstrap (%s, not stripped): %d bytes", "host arch", fi.Size())
	}
	if strings.Contains(logs, "standin-") {
		t.Errorf("a token reached the logs")
	}
}
