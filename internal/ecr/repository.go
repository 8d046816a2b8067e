package ecr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrsync/ecrsync/internal/awsname"
)

// Tag mutability settings of a repository (Amazon ECR API Reference, CreateRepository).
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// Encryption types a created repository may have.
const (
	EncryptionAES256 = "AES256"
	EncryptionKMS    = "KMS"
)

// RepositorySettings are what a created repository gets. The zero value of each field means "as
// the source repository has it", except encryption: a source's KMS key belongs to the source
// account and cannot encrypt another account's repository, so encryption is AES256 unless
// Encryption or KMSKey says KMS.
type RepositorySettings struct {
	// TagMutability is one of the four ECR settings; "" = the source's.
	TagMutability string
	// ExclusionFilters are the wildcard tag filters of the *_WITH_EXCLUSION settings (1-5); used
	// only when TagMutability is set here, otherwise the source's come with its setting.
	ExclusionFilters []string
	// ScanOnPush: nil = the source's.
	ScanOnPush *bool
	// Encryption is AES256 or KMS; "" = AES256, or KMS when KMSKey is set.
	Encryption string
	// KMSKey is the key's ARN, ID or alias in the destination account ("" with KMS = the AWS
	// managed key aws/ecr).
	KMSKey string
	// LifecyclePolicy is an ECR lifecycle policy JSON; "" = the source's (none if it has none),
	// unless NoLifecyclePolicy.
	LifecyclePolicy string
	// NoLifecyclePolicy creates the repository without a lifecycle policy, whatever the source has.
	NoLifecyclePolicy bool
	// Tags are the repository's resource tags; nil = the source's, empty = none.
	Tags map[string]string
}

// fromSource reports whether any setting has to be read from the source.
func (s RepositorySettings) fromSource() (repo, lifecycle, tags bool) {
	return s.TagMutability == "" || s.ScanOnPush == nil, s.LifecyclePolicy == "" && !s.NoLifecyclePolicy, s.Tags == nil
}

// Repository names one repository of an ECR registry, and the role to act as there ("" = the
// process's own credentials).
type Repository struct {
	Location
	Name string
	Role string
}

func (r Repository) String() string { return r.Account + "/" + r.Region + "/" + r.Name }

func (r Repository) arn() string {
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", awsname.Partition(r.Region), r.Region, r.Account, r.Name)
}

// Created is what Ensure did.
type Created struct {
	// Created is true for the one call that created the repository; false for calls that waited
	// for it or came later, and when it existed already (RepositoryAlreadyExistsException: another
	// process was first, which is success).
	Created bool
	// Settings are what the repository was created with.
	Settings RepositorySettings
	// NeedsAction holds the settings that failed after the repository was created (lifecycle
	// policy, tags): the copy goes on, each error says what to do. Log them as needs_action.
	NeedsAction []error
	// Calls counts the ECR API calls made (source reads and destination writes).
	Calls int
	// Took is how long the reads and the creation took.
	Took time.Duration
}

// CreatorOptions configure a Creator. Roles is required.
type CreatorOptions struct {
	// Roles gives the ECR clients, acting as each repository's role (the source reader role for
	// the source's settings).
	Roles *Roles
	// API, if set, gives the ECR client of the registry at l acting as roleARN, so creation
	// shares the process's clients (the composition root passes Keychain.API); nil builds one
	// from Roles per call.
	API func(l Location, roleARN string) *awsecr.Client
	// Logger gets an Info line per repository created; nil discards.
	Logger *slog.Logger
}

// Creator creates missing destination repositories like their source, at most once per process
// per repository: concurrent Ensure calls for one repository wait for the first, and a repository
// created (or found existing) is remembered. A failed creation is not remembered, so a later
// copy tries again.
type Creator struct {
	opts CreatorOptions
	mu   sync.Mutex
	m    map[string]*creation
}

type creation struct {
	done chan struct{}
	res  Created
	err  error
}

// NewCreator returns a Creator.
func NewCreator(opts CreatorOptions) *Creator {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Creator{opts: opts, m: map[string]*creation{}}
}

// client is the ECR client of the registry at l acting as role (CreatorOptions.API).
func (c *Creator) client(l Location, role string) *awsecr.Client {
	if c.opts.API != nil {
		return c.opts.API(l, role)
	}
	return c.opts.Roles.Client(l, role)
}

// Ensure makes sure dst exists, creating it with want, each unset setting read from src (through
// src.Role). Call it when a copy into an ECR destination fails because the repository is missing
// (registry.ErrRepositoryNotFound), then copy again. Only the caller that created the repository
// sees Created true and NeedsAction; callers that waited for it get the same result.
func (c *Creator) Ensure(ctx context.Context, dst, src Repository, want RepositorySettings) (Created, error) {
	key := dst.String()
	c.mu.Lock()
	if op, ok := c.m[key]; ok {
		c.mu.Unlock()
		select {
		case <-op.done:
		case <-ctx.Done():
			return Created{}, ctx.Err()
		}
		if op.err != nil {
			return Created{}, op.err
		}
		res := op.res
		res.Created, res.NeedsAction, res.Calls, res.Took = false, nil, 0, 0 // reported once, by the creator
		return res, nil
	}
	op := &creation{done: make(chan struct{})}
	c.m[key] = op
	c.mu.Unlock()

	op.res, op.err = c.create(ctx, dst, src, want)
	if op.err != nil {
		c.mu.Lock()
		delete(c.m, key)
		c.mu.Unlock()
	}
	close(op.done)
	return op.res, op.err
}

func (c *Creator) create(ctx context.Context, dst, src Repository, want RepositorySettings) (Created, error) {
	start := time.Now()
	var res Created
	settings, calls, err := c.settings(ctx, src, want)
	res.Calls += calls
	if err != nil {
		return res, err
	}
	res.Settings = settings
	in := &awsecr.CreateRepositoryInput{
		RepositoryName:             aws.String(dst.Name),
		RegistryId:                 aws.String(dst.Account),
		ImageTagMutability:         ecrtypes.ImageTagMutability(settings.TagMutability),
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: aws.ToBool(settings.ScanOnPush)},
		EncryptionConfiguration:    &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionType(settings.Encryption)},
	}
	if settings.KMSKey != "" {
		in.EncryptionConfiguration.KmsKey = aws.String(settings.KMSKey)
	}
	for _, f := range settings.ExclusionFilters {
		in.ImageTagMutabilityExclusionFilters = append(in.ImageTagMutabilityExclusionFilters,
			ecrtypes.ImageTagMutabilityExclusionFilter{FilterType: ecrtypes.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String(f)})
	}
	client := c.client(dst.Location, dst.Role)
	res.Calls++
	if _, err := client.CreateRepository(ctx, in); err != nil {
		var exists *ecrtypes.RepositoryAlreadyExistsException
		if errors.As(err, &exists) {
			// Another process created it first: its settings are its creator's to apply.
			res.Took = time.Since(start)
			return res, nil
		}
		return res, fmt.Errorf("creating repository %s: %w", dst.Name, explainCreate(err, dst, settings))
	}
	res.Created = true
	// Settings that are not part of CreateRepository: a failure leaves a repository that works,
	// so the copy goes on and the failure is reported for a person to fix.
	if settings.LifecyclePolicy != "" {
		res.Calls++
		if _, err := client.PutLifecyclePolicy(ctx, &awsecr.PutLifecyclePolicyInput{RepositoryName: aws.String(dst.Name),
			RegistryId: aws.String(dst.Account), LifecyclePolicyText: aws.String(settings.LifecyclePolicy)}); err != nil {
			res.NeedsAction = append(res.NeedsAction, fmt.Errorf("repository %s was created, but its lifecycle policy was not set: %w; set it by hand (aws ecr put-lifecycle-policy) or grant ecr:PutLifecyclePolicy (the module's repository creation does when a lifecycle policy is configured)",
				dst.Name, Explain(err, "ecr:PutLifecyclePolicy", dst.Role)))
		}
	}
	if len(settings.Tags) > 0 {
		tags := make([]ecrtypes.Tag, 0, len(settings.Tags))
		for _, k := range slices.Sorted(maps.Keys(settings.Tags)) {
			tags = append(tags, ecrtypes.Tag{Key: aws.String(k), Value: aws.String(settings.Tags[k])})
		}
		res.Calls++
		if _, err := client.TagResource(ctx, &awsecr.TagResourceInput{ResourceArn: aws.String(dst.arn()), Tags: tags}); err != nil {
			res.NeedsAction = append(res.NeedsAction, fmt.Errorf("repository %s was created, but its tags were not set: %w; tag it by hand (aws ecr tag-resource) or grant ecr:TagResource",
				dst.Name, Explain(err, "ecr:TagResource", dst.Role)))
		}
	}
	res.Took = time.Since(start)
	c.opts.Logger.InfoContext(ctx, "repository created", "dst", dst.String(), "src", src.String(), "tag_mutability", settings.TagMutability,
		"scan_on_push", aws.ToBool(settings.ScanOnPush), "encryption", settings.Encryption, "lifecycle_policy", settings.LifecyclePolicy != "",
		"tags", len(settings.Tags), "needs_action", len(res.NeedsAction))
	return res, nil
}

// settings completes want with what the source repository has.
func (c *Creator) settings(ctx context.Context, src Repository, want RepositorySettings) (RepositorySettings, int, error) {
	out := want
	out.Tags = maps.Clone(want.Tags)
	if out.Encryption == "" {
		out.Encryption = EncryptionAES256
		if out.KMSKey != "" {
			out.Encryption = EncryptionKMS
		}
	}
	readRepo, readLifecycle, readTags := want.fromSource()
	calls := 0
	if !readRepo && !readLifecycle && !readTags {
		return out, calls, nil
	}
	client := c.client(src.Location, src.Role)
	if readRepo {
		calls++
		d, err := client.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RegistryId: aws.String(src.Account), RepositoryNames: []string{src.Name}})
		if err != nil {
			return out, calls, fmt.Errorf("reading the settings of source repository %s: %w", src.Name, Explain(err, "ecr:DescribeRepositories", src.Role))
		}
		if len(d.Repositories) != 1 {
			return out, calls, fmt.Errorf("reading the settings of source repository %s: DescribeRepositories returned %d repositories", src.Name, len(d.Repositories))
		}
		r := d.Repositories[0]
		if out.TagMutability == "" {
			out.TagMutability = string(r.ImageTagMutability)
			out.ExclusionFilters = nil
			for _, f := range r.ImageTagMutabilityExclusionFilters {
				out.ExclusionFilters = append(out.ExclusionFilters, aws.ToString(f.Filter))
			}
		}
		if out.ScanOnPush == nil {
			scan := r.ImageScanningConfiguration != nil && r.ImageScanningConfiguration.ScanOnPush
			out.ScanOnPush = &scan
		}
	}
	if out.TagMutability == "" {
		out.TagMutability = Mutable
	}
	if readLifecycle {
		calls++
		lp, err := client.GetLifecyclePolicy(ctx, &awsecr.GetLifecyclePolicyInput{RegistryId: aws.String(src.Account), RepositoryName: aws.String(src.Name)})
		var none *ecrtypes.LifecyclePolicyNotFoundException
		switch {
		case errors.As(err, &none):
		case err != nil:
			return out, calls, fmt.Errorf("reading the lifecycle policy of source repository %s: %w", src.Name, Explain(err, "ecr:GetLifecyclePolicy", src.Role))
		default:
			out.LifecyclePolicy = aws.ToString(lp.LifecyclePolicyText)
		}
	}
	if readTags {
		calls++
		t, err := client.ListTagsForResource(ctx, &awsecr.ListTagsForResourceInput{ResourceArn: aws.String(src.arn())})
		if err != nil {
			return out, calls, fmt.Errorf("reading the tags of source repository %s: %w", src.Name, Explain(err, "ecr:ListTagsForResource", src.Role))
		}
		out.Tags = map[string]string{}
		for _, tg := range t.Tags {
			out.Tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
	}
	return out, calls, nil
}

// explainCreate says what to do about a failed CreateRepository.
func explainCreate(err error, dst Repository, s RepositorySettings) error {
	var kms *ecrtypes.KmsException
	if errors.As(err, &kms) {
		return fmt.Errorf("%w; the KMS key %s must be in the destination account and Region (%s, %s) and its key policy must let this role use it through ECR (kms:CreateGrant, kms:DescribeKey)",
			err, s.KMSKey, dst.Account, dst.Region)
	}
	var inv *ecrtypes.InvalidParameterException
	if errors.As(err, &inv) {
		return fmt.Errorf("%w; check create_repository in the config", err)
	}
	return Explain(err, "ecr:CreateRepository", dst.Role)
}
