package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/opencontainers/go-digest"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// TestECRListingThroughTheStandIn lists an ECR source through the control-plane stand-in
// (DescribeRepositories and ListImages, two results a page) and copies into another ECR
// registry; a destination repository that does not exist fails alone, with what to do.
func TestECRListingThroughTheStandIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := ecrstandin.New()
	t.Cleanup(s.Close)
	srcLoc := ecr.Location{Account: "111111111111", Region: "us-east-1"}
	dstLoc := ecr.Location{Account: "222222222222", Region: "eu-west-1"}
	srcECR, dstECR := s.Registry(srcLoc.Account, srcLoc.Region), s.Registry(dstLoc.Account, dstLoc.Region)
	srcReq := &counter{}
	pair := devtest.NewPair(t, devtest.Options{WrapSrc: func(h http.Handler) http.Handler { return srcReq.wrap(srcECR.Wrap(h)) }, WrapDst: dstECR.Wrap})
	src, dst := pair.Src, pair.Dst
	for _, r := range []string{"app", "lib", "team/api", "team/web"} {
		srcECR.CreateRepository(r, false)
	}
	dstECR.CreateRepository("app", false)
	dstECR.CreateRepository("team/api", false)

	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "standin", "")}
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: awsCfg, Fallback: devstack.Anonymous{}})
	kc.Add(src.Addr, srcLoc, "")
	kc.Add(dst.Addr, dstLoc, "")
	push := &devstack.Pusher{C: registry.New(registry.Options{Keychain: kc})}
	want := map[string]digest.Digest{}
	image := func(host, repo, tag string, seed uint64) digest.Digest {
		r, err := push.Repo(host + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		d, err := push.Image(ctx, r, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(1024, seed)}})
		if err != nil {
			t.Fatal(err)
		}
		return d.Digest
	}
	for i := range 5 {
		tag := fmt.Sprintf("v%d", i)
		want[dst.Addr+"/app:"+tag] = image(src.Addr, "app", tag, uint64(i))
	}
	image(dst.Addr, "app", "v0", 0)   // in sync
	image(dst.Addr, "app", "v1", 100) // stale
	for i := range 3 {
		tag := fmt.Sprintf("v%d", i)
		want[dst.Addr+"/team/api:"+tag] = image(src.Addr, "team/api", tag, uint64(10+i))
	}
	image(src.Addr, "team/api", "nightly", 20) // no rule selects the tag
	image(src.Addr, "team/web", "v1", 30)      // the destination repository is missing
	image(src.Addr, "lib", "v1", 40)           // no rule selects the repository

	cfg, err := rules.Load([]byte(fmt.Sprintf(`
source: {registry: "%s", account_id: "%s", region: %s}
rules:
  - repositories: ["app", "team/*"]
    tags: ["v*"]
    destinations: [{registry: "%s", account_id: "%s", region: %s}]
`, src.Addr, srcLoc.Account, srcLoc.Region, dst.Addr, dstLoc.Account, dstLoc.Region)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Options{Rules: cfg, AWS: &awsCfg, Fallback: devstack.Anonymous{}, ListPageSize: 2,
		Retry: registry.RetryPolicy{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	r, lim := a.Reconciler(cfg, reconcile.Options{}), a.Pacer
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repositories != 3 || rep.Tags != 9 || rep.InSync != 1 || rep.Copied != 7 || rep.Failed != 1 {
		t.Fatalf("report: %+v", rep)
	}
	for _, it := range rep.Items {
		if it.Status == reconcile.Failed && (it.Tag != "v1" || !strings.Contains(it.Dst, "/team/web:") ||
			!strings.Contains(it.Fix, "team/web") || !strings.Contains(it.Fix, "create_repository") || !strings.Contains(it.Fix, "CREATE_ON_PUSH")) {
			t.Errorf("unexpected failure: %+v", it)
		}
	}
	for ref, d := range want {
		i := strings.LastIndex(ref, ":")
		repo, _ := push.Repo(ref[:i])
		if got, err := repo.Head(ctx, ref[i+1:]); err != nil || got.Digest != d {
			t.Errorf("%s: %v %v, want %s", ref, got.Digest, err, d)
		}
	}
	// Pagination: 4 repositories at 2 a page; tags of app (5), team/api (4) and team/web (1).
	if n := s.Calls("DescribeRepositories"); n != 2 {
		t.Errorf("%d DescribeRepositories calls, want 2", n)
	}
	if n := s.Calls("ListImages"); n != 3+2+1 {
		t.Errorf("%d ListImages calls, want 6", n)
	}
	if lim.Waited() < 0 {
		t.Fatal("negative wait")
	}

	// In sync now: the listing names every digest, so the source registry is not asked at all.
	srcReq.reset()
	rep, err = r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 0 || rep.InSync != 8 || rep.Failed != 1 {
		t.Fatalf("second run: %+v", rep)
	}
	got := srcReq.reset()
	delete(got, "GET manifests") // the failing team/web copy reads its source manifest
	delete(got, "GET tags/list") // and looks for cosign-style tags of it
	delete(got, "HEAD blobs")
	if got["HEAD manifests"] != 0 {
		t.Errorf("second run sent HEADs to the ECR source: %v", got)
	}
}
