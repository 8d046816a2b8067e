package ecr_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

const lifecycle = `{"rules":[{"rulePriority":1,"description":"keep 30","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}]}`

// sourceRepository creates, as the source account's own team would, a repository with settings
// that are not ECR's defaults.
func sourceRepository(t *testing.T, s *ecrstandin.Server, name string) {
	t.Helper()
	ctx := context.Background()
	s.AddCredentials("AKIASOURCETEAM", srcAccount)
	c := awsecr.NewFromConfig(aws.Config{Region: srcLoc.Region, BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASOURCETEAM", "secret", "")})
	_, err := c.CreateRepository(ctx, &awsecr.CreateRepositoryInput{
		RepositoryName:     aws.String(name),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []ecrtypes.ImageTagMutabilityExclusionFilter{
			{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("latest")},
			{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("dev-*")},
		},
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
		// The source account's own key: it cannot encrypt a repository of another account.
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms,
			KmsKey: aws.String("arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555")},
		Tags: []ecrtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}, {Key: aws.String("cost-center"), Value: aws.String("42")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutLifecyclePolicy(ctx, &awsecr.PutLifecyclePolicyInput{RepositoryName: aws.String(name), LifecyclePolicyText: aws.String(lifecycle)}); err != nil {
		t.Fatal(err)
	}
}

// described is a destination repository as the stand-in's API reports it.
type described struct {
	mutability string
	filters    []string
	scanOnPush bool
	encryption string
	kmsKey     string
	lifecycle  string
	tags       map[string]string
}

func describe(t *testing.T, c *awsecr.Client, account, region, name string) described {
	t.Helper()
	ctx := context.Background()
	d, err := c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RegistryId: aws.String(account), RepositoryNames: []string{name}})
	if err != nil {
		t.Fatalf("DescribeRepositories %s: %v", name, err)
	}
	r := d.Repositories[0]
	out := described{mutability: string(r.ImageTagMutability), scanOnPush: r.ImageScanningConfiguration.ScanOnPush,
		encryption: string(r.EncryptionConfiguration.EncryptionType), kmsKey: aws.ToString(r.EncryptionConfiguration.KmsKey), tags: map[string]string{}}
	for _, f := range r.ImageTagMutabilityExclusionFilters {
		out.filters = append(out.filters, aws.ToString(f.Filter))
	}
	lp, err := c.GetLifecyclePolicy(ctx, &awsecr.GetLifecyclePolicyInput{RegistryId: aws.String(account), RepositoryName: aws.String(name)})
	var none *ecrtypes.LifecyclePolicyNotFoundException
	if err != nil && !errors.As(err, &none) {
		t.Fatal(err)
	}
	if err == nil {
		out.lifecycle = aws.ToString(lp.LifecyclePolicyText)
	}
	tl, err := c.ListTagsForResource(ctx, &awsecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:" + region + ":" + account + ":repository/" + name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tl.Tags {
		out.tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return out
}

func TestCreatorCreatesLikeTheSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := ecrstandin.New()
	defer s.Close()
	s.Registry(srcAccount, srcLoc.Region)
	s.Registry(dstAccount, dstLoc.Region)
	sourceRepository(t, s, "team/newservice")
	roles := ecr.NewRoles(functionConfig(s), ecr.RoleOptions{})
	creator := ecr.NewCreator(ecr.CreatorOptions{Roles: roles})
	src := ecr.Repository{Location: srcLoc, Name: "team/newservice", Role: readerRole}
	dstClient := roles.Client(dstLoc, "")

	t.Run("like the source", func(t *testing.T) {
		dst := ecr.Repository{Location: dstLoc, Name: "mirror/team/newservice"}
		res, err := creator.Ensure(ctx, dst, src, ecr.RepositorySettings{})
		if err != nil || !res.Created || len(res.NeedsAction) != 0 {
			t.Fatalf("Ensure = %+v, %v", res, err)
		}
		got := describe(t, dstClient, dstAccount, dstLoc.Region, dst.Name)
		want := described{mutability: "IMMUTABLE_WITH_EXCLUSION", filters: []string{"latest", "dev-*"}, scanOnPush: true,
			encryption: "AES256", lifecycle: lifecycle, tags: map[string]string{"team": "platform", "cost-center": "42"}}
		if got.mutability != want.mutability || !slices.Equal(got.filters, want.filters) || got.scanOnPush != want.scanOnPush ||
			got.encryption != want.encryption || got.kmsKey != "" || got.lifecycle != want.lifecycle || !maps.Equal(got.tags, want.tags) {
			t.Errorf("created\n got  %+v\n want %+v", got, want)
		}
		// Three reads of the source, one creation, then the lifecycle policy and the tags.
		if res.Calls != 6 {
			t.Errorf("%d ECR calls, want 6", res.Calls)
		}
	})

	t.Run("explicit settings win, the rest from the source", func(t *testing.T) {
		dst := ecr.Repository{Location: dstLoc, Name: "explicit/newservice"}
		no := false
		key := "arn:aws:kms:eu-west-1:222222222222:key/99999999-8888-7777-6666-555555555555"
		res, err := creator.Ensure(ctx, dst, src, ecr.RepositorySettings{TagMutability: ecr.Immutable, ScanOnPush: &no, KMSKey: key,
			Tags: map[string]string{"owner": "mirror"}})
		if err != nil || !res.Created {
			t.Fatalf("Ensure = %+v, %v", res, err)
		}
		got := describe(t, dstClient, dstAccount, dstLoc.Region, dst.Name)
		if got.mutability != "IMMUTABLE" || len(got.filters) != 0 || got.scanOnPush || got.encryption != "KMS" || got.kmsKey != key ||
			got.lifecycle != lifecycle || !maps.Equal(got.tags, map[string]string{"owner": "mirror"}) {
			t.Errorf("created %+v", got)
		}
		// Only the lifecycle policy was read: one read, one creation, lifecycle, tags.
		if res.Calls != 4 {
			t.Errorf("%d ECR calls, want 4", res.Calls)
		}
	})

	t.Run("no lifecycle policy and no tags, whatever the source has", func(t *testing.T) {
		dst := ecr.Repository{Location: dstLoc, Name: "bare/newservice"}
		res, err := creator.Ensure(ctx, dst, src, ecr.RepositorySettings{NoLifecyclePolicy: true, Tags: map[string]string{}})
		if err != nil || !res.Created {
			t.Fatalf("Ensure = %+v, %v", res, err)
		}
		got := describe(t, dstClient, dstAccount, dstLoc.Region, dst.Name)
		if got.lifecycle != "" || len(got.tags) != 0 || got.mutability != "IMMUTABLE_WITH_EXCLUSION" {
			t.Errorf("created %+v, want the source's mutability, no lifecycle policy, no tags", got)
		}
		// DescribeRepositories and CreateRepository only: no PutLifecyclePolicy, no TagResource,
		// which the Terraform module then does not grant.
		if res.Calls != 2 {
			t.Errorf("%d ECR calls, want 2", res.Calls)
		}
	})

	t.Run("a repository another process created is success", func(t *testing.T) {
		dst := ecr.Repository{Location: dstLoc, Name: "mirror/team/newservice"}
		other := ecr.NewCreator(ecr.CreatorOptions{Roles: roles}) // another process
		res, err := other.Ensure(ctx, dst, src, ecr.RepositorySettings{})
		if err != nil || res.Created {
			t.Fatalf("Ensure on an existing repository = %+v, %v; want success, not created", res, err)
		}
	})

	t.Run("a setting that fails after creation does not block", func(t *testing.T) {
		s2 := ecrstandin.New()
		defer s2.Close()
		s2.Registry(srcAccount, srcLoc.Region)
		s2.Registry(dstAccount, dstLoc.Region)
		sourceRepository(t, s2, "team/newservice")
		s2.Deny(dstAccount, "ecr:PutLifecyclePolicy")
		roles2 := ecr.NewRoles(functionConfig(s2), ecr.RoleOptions{})
		dst := ecr.Repository{Location: dstLoc, Name: "team/newservice"}
		res, err := ecr.NewCreator(ecr.CreatorOptions{Roles: roles2}).Ensure(ctx, dst, src, ecr.RepositorySettings{})
		if err != nil || !res.Created {
			t.Fatalf("Ensure = %+v, %v; want created despite the lifecycle policy", res, err)
		}
		if len(res.NeedsAction) != 1 || !strings.Contains(res.NeedsAction[0].Error(), "lifecycle policy") ||
			!strings.Contains(res.NeedsAction[0].Error(), "ecr:PutLifecyclePolicy") {
			t.Fatalf("NeedsAction = %v, want one error about the lifecycle policy and its grant", res.NeedsAction)
		}
		got := describe(t, roles2.Client(dstLoc, ""), dstAccount, dstLoc.Region, dst.Name)
		if got.lifecycle != "" || got.tags["team"] != "platform" {
			t.Errorf("after a failed lifecycle policy: %+v; want no policy and the tags set", got)
		}
	})

	t.Run("source settings the reader role may not read fail with the fix", func(t *testing.T) {
		s3 := ecrstandin.New()
		defer s3.Close()
		s3.Registry(srcAccount, srcLoc.Region)
		s3.Registry(dstAccount, dstLoc.Region)
		sourceRepository(t, s3, "team/newservice")
		s3.Deny(srcAccount, "ecr:GetLifecyclePolicy")
		_, err := ecr.NewCreator(ecr.CreatorOptions{Roles: ecr.NewRoles(functionConfig(s3), ecr.RoleOptions{})}).
			Ensure(ctx, ecr.Repository{Location: dstLoc, Name: "x/y"}, src, ecr.RepositorySettings{})
		var ae *ecr.AccessError
		if !errors.As(err, &ae) || ae.Role != readerRole || ae.Action != "ecr:GetLifecyclePolicy" {
			t.Fatalf("got %v, want an AccessError for ecr:GetLifecyclePolicy as the reader role", err)
		}
		if s3.Calls("CreateRepository") != 1 { // the source team's own
			t.Errorf("a repository was created without the source's settings")
		}
	})
}

func TestConcurrentEnsureCreatesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := ecrstandin.New()
	defer s.Close()
	s.Registry(srcAccount, srcLoc.Region)
	s.Registry(dstAccount, dstLoc.Region)
	sourceRepository(t, s, "team/newservice")
	before := s.Calls("CreateRepository")
	creator := ecr.NewCreator(ecr.CreatorOptions{Roles: ecr.NewRoles(functionConfig(s), ecr.RoleOptions{})})
	dst := ecr.Repository{Location: dstLoc, Name: "team/newservice"}
	src := ecr.Repository{Location: srcLoc, Name: "team/newservice", Role: readerRole}
	var wg sync.WaitGroup
	results := make([]ecr.Created, 10)
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = creator.Ensure(ctx, dst, src, ecr.RepositorySettings{})
		}()
	}
	wg.Wait()
	created := 0
	for i := range 10 {
		if errs[i] != nil {
			t.Errorf("Ensure %d: %v", i, errs[i])
		}
		if results[i].Created {
			created++
		}
	}
	if n := s.Calls("CreateRepository") - before; n != 1 || created != 1 {
		t.Errorf("%d CreateRepository calls and %d callers saw Created, want 1 and 1", n, created)
	}
	if n := s.Calls("ListTagsForResource"); n != 1 {
		t.Errorf("the source's tags were read %d times, want once", n)
	}
}

// The wiring the handler and the reconcile use: a copy into an ECR destination fails with
// registry.ErrRepositoryNotFound, Ensure creates the repository, the copy runs again and lands.
func TestCopyIntoAMissingRepositoryAfterEnsure(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two registries")
	}
	ctx := context.Background()
	s := ecrstandin.New()
	defer s.Close()
	srcECR, dstECR := s.Registry(srcAccount, srcLoc.Region), s.Registry(dstAccount, dstLoc.Region)
	sourceRepository(t, s, "team/newservice")
	srcReg, err := devstack.Start(ctx, devstack.Options{Wrap: srcECR.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer srcReg.Close()
	dstReg, err := devstack.Start(ctx, devstack.Options{Wrap: dstECR.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer dstReg.Close()
	roles := ecr.NewRoles(functionConfig(s), ecr.RoleOptions{})
	kc := ecr.NewKeychain(ecr.KeychainOptions{AWS: functionConfig(s), Roles: roles, Fallback: devstack.Anonymous{}})
	kc.Add(srcReg.Addr, srcLoc, readerRole)
	kc.Add(dstReg.Addr, dstLoc, "")
	push := &devstack.Pusher{C: registry.New(registry.Options{Keychain: kc})}
	repo, _ := push.Repo(srcReg.Addr + "/team/newservice")
	want, err := push.Image(ctx, repo, "v1", devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(2048, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cp := replicate.New(registry.New(registry.Options{Keychain: kc, Retry: registry.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}}), replicate.Options{})
	srcRef, dstRef := srcReg.Addr+"/team/newservice:v1", dstReg.Addr+"/team/newservice:v1"
	if _, err := cp.Copy(ctx, srcRef, dstRef); !errors.Is(err, registry.ErrRepositoryNotFound) {
		t.Fatalf("first copy: %v, want ErrRepositoryNotFound", err)
	}
	creator := ecr.NewCreator(ecr.CreatorOptions{Roles: roles})
	if _, err := creator.Ensure(ctx, ecr.Repository{Location: dstLoc, Name: "team/newservice"},
		ecr.Repository{Location: srcLoc, Name: "team/newservice", Role: readerRole}, ecr.RepositorySettings{}); err != nil {
		t.Fatal(err)
	}
	res, err := cp.Copy(ctx, srcRef, dstRef)
	if err != nil || res.Digest != want.Digest {
		t.Fatalf("copy after Ensure: %v, %v; want %s", res, err, want.Digest)
	}
	dst, _ := push.Repo(dstReg.Addr + "/team/newservice")
	if got, err := dst.Head(ctx, "v1"); err != nil || got.Digest != want.Digest {
		t.Errorf("destination v1 = %v, %v", got.Digest, err)
	}
}
