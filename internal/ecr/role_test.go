package ecr_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

const (
	srcAccount = "111111111111"
	dstAccount = "222222222222"
	readerRole = "arn:aws:iam::111111111111:role/ecrsync-source-reader"
	// functionKey is the function's own access key: the destination account's execution role.
	functionKey = "AKIAFUNCTIONROLE"
)

var (
	srcLoc = ecr.Location{Account: srcAccount, Region: "us-east-1"}
	dstLoc = ecr.Location{Account: dstAccount, Region: "eu-west-1"}
)

// functionConfig is the AWS config of the function: its own role's credentials, in the
// destination account, and every service at the stand-in.
func functionConfig(s *ecrstandin.Server) aws.Config {
	s.AddCredentials(functionKey, dstAccount)
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider(functionKey, "secret", "")}
}

func TestSessionNameIsEcrsyncsAndFitsSTS(t *testing.T) {
	t.Parallel()
	env := func(fn string) func(string) string {
		return func(k string) string {
			if k == "AWS_LAMBDA_FUNCTION_NAME" {
				return fn
			}
			return ""
		}
	}
	host := func(h string, err error) func() (string, error) { return func() (string, error) { return h, err } }
	long := strings.Repeat("f", 80)
	tests := []struct {
		name, fn string
		host     func() (string, error)
		want     string
	}{
		{"the function's name in Lambda", "ecrsync-prod", host("ip-10-0-0-1", nil), "ecrsync-ecrsync-prod"},
		{"the host's name elsewhere", "", host("build-7.example.com", nil), "ecrsync-build-7.example.com"},
		{"characters STS refuses become dashes", "", host("my host/with:colons", nil), "ecrsync-my-host-with-colons"},
		{"cut to 64 characters", long, nil, ("ecrsync-" + long)[:64]},
		{"no name at all", "", host("", errors.New("no hostname")), "ecrsync-cli"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ecr.SessionName(env(tt.fn), tt.host)
			if got != tt.want {
				t.Errorf("SessionName = %q, want %q", got, tt.want)
			}
		})
	}
}

// A listing without repository names of another account's registry is denied to the function's
// own credentials, whatever a repository policy says, and works through the source reader role.
func TestRegistryListingOfTheSourceNeedsTheReaderRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := ecrstandin.New()
	defer s.Close()
	src := s.Registry(srcAccount, srcLoc.Region)
	for _, r := range []string{"team/api", "team/web", "other"} {
		src.CreateRepository(r, false)
	}
	roles := ecr.NewRoles(functionConfig(s), ecr.RoleOptions{SessionName: "ecrsync-test"})
	in := &awsecr.DescribeRepositoriesInput{RegistryId: aws.String(srcAccount)}

	_, err := roles.Client(srcLoc, "").DescribeRepositories(ctx, in)
	var ae *ecr.AccessError
	if err = ecr.Explain(err, "ecr:DescribeRepositories", ""); !errors.As(err, &ae) {
		t.Fatalf("listing the source registry with the function's own credentials: %v, want an AccessError", err)
	}
	if !strings.Contains(err.Error(), "no resource-based policy allows") {
		t.Errorf("the error lost AWS's reason: %v", err)
	}

	out, err := roles.Client(srcLoc, readerRole).DescribeRepositories(ctx, in)
	if err != nil {
		t.Fatalf("listing through the reader role: %v", err)
	}
	if len(out.Repositories) != 3 {
		t.Errorf("listed %d repositories, want 3", len(out.Repositories))
	}
	if got := s.SessionNames(); len(got) != 1 || got[0] != "ecrsync-test" {
		t.Errorf("AssumeRole sessions %v, want one named ecrsync-test", got)
	}
	// One cache per role: a second client of the same role assumes nothing more.
	if _, err := roles.Client(srcLoc, readerRole).DescribeRepositories(ctx, in); err != nil || s.Calls("AssumeRole") != 1 {
		t.Errorf("second client: %v, %d AssumeRole calls, want 1", err, s.Calls("AssumeRole"))
	}
}

// A refused AssumeRole says which role, that it was the AssumeRole (not the ECR call) that was
// denied, and what to change; an ECR call denied to the role says the role's policy lacks it.
func TestDeniedAccessNamesTheRoleAndTheStep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := ecrstandin.New()
	defer s.Close()
	s.Registry(srcAccount, srcLoc.Region).CreateRepository("app", false)
	s.RefuseAssumeRole(readerRole)
	roles := ecr.NewRoles(functionConfig(s), ecr.RoleOptions{})

	_, err := roles.Client(srcLoc, readerRole).ListImages(ctx, &awsecr.ListImagesInput{RegistryId: aws.String(srcAccount), RepositoryName: aws.String("app")})
	err = ecr.Explain(err, "ecr:ListImages", readerRole)
	var are *ecr.AssumeRoleError
	if !errors.As(err, &are) || are.Role != readerRole {
		t.Fatalf("got %v, want an AssumeRoleError for %s", err, readerRole)
	}
	for _, want := range []string{readerRole, "AccessDenied", "trust policy", "sts:AssumeRole"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	other := "arn:aws:iam::111111111111:role/reader-without-list"
	s.Deny(srcAccount, "ecr:ListImages")
	_, err = roles.Client(srcLoc, other).ListImages(ctx, &awsecr.ListImagesInput{RegistryId: aws.String(srcAccount), RepositoryName: aws.String("app")})
	err = ecr.Explain(err, "ecr:ListImages", other)
	var ace *ecr.AccessError
	if !errors.As(err, &ace) || errors.As(err, &are) || !strings.Contains(err.Error(), "role "+other) || !strings.Contains(err.Error(), "role's policy") {
		t.Fatalf("got %v, want an AccessError naming role %s and its policy", err, other)
	}
}

// A copy from the source through the reader role outlives three credential lifetimes: the role's
// credentials (15 minutes here) and the ECR token they fetch run out again and again under it,
// and both are renewed by the injected clock (no waiting).
func TestCopyOutlivesThreeRoleSessions(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	ctx := context.Background()
	s := ecrstandin.New()
	defer s.Close()
	clk := &clock{t: time.Now()} // starts at the wall clock, which the SDK's own cache would read
	s.SetClock(clk.now)
	const lifetime = 15 * time.Minute
	s.SetCredentialTTL(lifetime)
	s.SetTokenTTL(20 * time.Minute)
	srcECR, dstECR := s.Registry(srcAccount, srcLoc.Region), s.Registry(dstAccount, dstLoc.Region)
	srcECR.CreateRepository("app", false)
	dstECR.CreateRepository("app", false)

	// Every source request during the copy moves the clock 4 minutes on.
	var copying atomic.Bool
	tick := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if copying.Load() {
				clk.add(4 * time.Minute)
			}
			next.ServeHTTP(w, r)
		})
	}
	srcReg, err := devstack.Start(ctx, devstack.Options{Wrap: func(h http.Handler) http.Handler { return tick(srcECR.Wrap(h)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer srcReg.Close()
	dstReg, err := devstack.Start(ctx, devstack.Options{Wrap: dstECR.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer dstReg.Close()

	// The image is pushed with other credentials, before the copy starts.
	setup := ecr.NewKeychain(ecr.KeychainOptions{Now: clk.now, Fallback: devstack.Anonymous{}, AWS: aws.Config{BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSETUP", "secret", "")}})
	setup.Add(srcReg.Addr, srcLoc, "")
	setup.Add(dstReg.Addr, dstLoc, "")
	push := &devstack.Pusher{C: registry.New(registry.Options{Keychain: setup})}
	repo, err := push.Repo(srcReg.Addr + "/app")
	if err != nil {
		t.Fatal(err)
	}
	layers := make([][]byte, 16)
	for i := range layers {
		layers[i] = devstack.RandomBytes(4096, uint64(i))
	}
	want, err := push.Image(ctx, repo, "v1", devstack.ImageSpec{Layers: layers})
	if err != nil {
		t.Fatal(err)
	}

	roles := ecr.NewRoles(functionConfig(s), ecr.RoleOptions{Now: clk.now, Duration: lifetime, ExpiryWindow: time.Minute})
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: functionConfig(s), Now: clk.now, RefreshMargin: time.Minute, Roles: roles, Fallback: devstack.Anonymous{}})
	kc.Add(srcReg.Addr, srcLoc, readerRole)
	kc.Add(dstReg.Addr, dstLoc, "")
	cp := replicate.New(registry.New(registry.Options{Keychain: kc, Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}}),
		replicate.Options{Jobs: 1})
	start := clk.now()
	copying.Store(true)
	res, err := cp.Copy(ctx, srcReg.Addr+"/app:v1", dstReg.Addr+"/app:v1")
	copying.Store(false)
	if err != nil {
		t.Fatalf("copy through the role: %v", err)
	}
	if took := clk.now().Sub(start); took < 3*lifetime {
		t.Fatalf("the copy took %v of the injected clock, less than three lifetimes (%v): the test proves nothing", took, 3*lifetime)
	}
	if res.Digest != want.Digest {
		t.Errorf("copied %s, want %s", res.Digest, want.Digest)
	}
	if n := s.Calls("AssumeRole"); n < 3 {
		t.Errorf("%d AssumeRole calls over %v, want at least 3 (one per %v session)", n, clk.now().Sub(start), lifetime)
	}
	dst, _ := push.Repo(dstReg.Addr + "/app")
	if got, err := dst.Head(ctx, "v1"); err != nil || got.Digest != want.Digest {
		t.Errorf("destination app:v1 = %v, %v; want %s", got.Digest, err, want.Digest)
	}
}
