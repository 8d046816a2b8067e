package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// TestReconcileOverGlobsThroughTheReaderRole: the function's own credentials (destination
// account) cannot list the source registry — a listing without names is denied across accounts,
// whatever a repository policy says — and the reconcile over team/* converges when the config's
// source.role_arn names the source account's reader role.
func TestReconcileOverGlobsThroughTheReaderRole(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	ctx := context.Background()
	s := ecrstandin.New()
	t.Cleanup(s.Close)
	srcLoc := ecr.Location{Account: "111111111111", Region: "us-east-1"}
	dstLoc := ecr.Location{Account: "222222222222", Region: "eu-west-1"}
	const reader = "arn:aws:iam::111111111111:role/ecrsync-source-reader"
	srcECR, dstECR := s.Registry(srcLoc.Account, srcLoc.Region), s.Registry(dstLoc.Account, dstLoc.Region)
	src, err := devstack.Start(ctx, devstack.Options{Wrap: srcECR.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	dst, err := devstack.Start(ctx, devstack.Options{Wrap: dstECR.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	for _, r := range []string{"team/api", "team/web"} {
		srcECR.CreateRepository(r, false)
		dstECR.CreateRepository(r, false)
	}
	s.AddCredentials("AKIAFUNCTIONROLE", dstLoc.Account)
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAFUNCTIONROLE", "secret", "")}
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: awsCfg, Fallback: devstack.Anonymous{}})
	kc.Add(src.Addr, srcLoc, "")
	kc.Add(dst.Addr, dstLoc, "")
	push := &devstack.Pusher{C: registry.New(registry.Options{Keychain: kc})}
	for i, repo := range []string{"team/api", "team/web"} {
		r, _ := push.Repo(src.Addr + "/" + repo)
		if _, err := push.Image(ctx, r, "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(1024, uint64(i))}}); err != nil {
			t.Fatal(err)
		}
	}

	run := func(role string) (*reconcile.Report, error) {
		roleLine := ""
		if role != "" {
			roleLine = ", role_arn: " + role
		}
		cfg, err := rules.Load([]byte(fmt.Sprintf(`
source: {registry: "%s", account_id: "%s", region: %s%s}
rules:
  - repositories: ["team/*"]
    destinations: [{registry: "%s", account_id: "%s", region: %s}]
`, src.Addr, srcLoc.Account, srcLoc.Region, roleLine, dst.Addr, dstLoc.Account, dstLoc.Region)))
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(ctx, app.Options{Rules: cfg, AWS: &awsCfg, Fallback: devstack.Anonymous{},
			Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		return a.Reconciler(cfg, reconcile.Options{}).Run(ctx)
	}

	if _, err := run(""); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("reconcile over globs with the function's own credentials: %v, want AccessDeniedException", err)
	}
	rep, err := run(reader)
	if err != nil {
		t.Fatalf("reconcile through the reader role: %v", err)
	}
	if rep.Repositories != 2 || rep.Copied != 2 || rep.Failed != 0 {
		t.Fatalf("report %+v, want both repositories listed and copied", rep)
	}
	if s.Calls("AssumeRole") == 0 {
		t.Error("the reconcile did not assume the reader role")
	}
	for _, repo := range []string{"team/api", "team/web"} {
		r, _ := push.Repo(dst.Addr + "/" + repo)
		if _, err := r.Head(ctx, "v1"); err != nil {
			t.Errorf("%s:v1 not in the destination: %v", repo, err)
		}
	}
}
