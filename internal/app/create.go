package app

import (
	"context"
	"fmt"
	"maps"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/reconcile"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// createsRepositories reports whether some destination of cfg has create_repository.
func createsRepositories(cfg *rules.Config) bool {
	for _, r := range cfg.Rules {
		for i := range r.Destinations {
			if r.Destinations[i].CreatesRepository() {
				return true
			}
		}
	}
	return false
}

// creator returns the Creator the handler and the reconcile of cfg use, or nil (a nil interface,
// not a nil pointer in one) when the App creates no repositories.
func (a *App) creator(cfg *rules.Config) reconcile.Creator {
	if a.Creator == nil {
		return nil
	}
	return creator{c: a.Creator, src: &cfg.Source}
}

// creator adapts ecr.Creator to reconcile.Creator: a rule's target and the source repository's
// name become the two ecr.Repository, create_repository the settings.
type creator struct {
	c   *ecr.Creator
	src *rules.Registry
}

func (c creator) CreateRepository(ctx context.Context, srcRepository string, tg rules.Target) (reconcile.Creation, error) {
	loc, ok := tg.Dst.ECR()
	if !ok || !tg.Dst.CreatesRepository() {
		return reconcile.Creation{}, fmt.Errorf("%s: create_repository is only for ECR destinations", tg.Host)
	}
	want := repositorySettings(tg.Dst.CreateRepository)
	src := ecr.Repository{Name: srcRepository, Role: c.src.RoleARN}
	if l, ok := c.src.ECR(); ok {
		src.Location = l
	} else {
		// A source that is not ECR has no settings to read: ECR's defaults stand in for them.
		want = notFromSource(want)
	}
	res, err := c.c.Ensure(ctx, ecr.Repository{Location: loc, Name: tg.Repository, Role: tg.Dst.RoleARN}, src, want)
	return reconcile.Creation{Created: res.Created, NeedsAction: res.NeedsAction}, err
}

// repositorySettings are what ecr.Creator creates a repository with, from create_repository;
// its unset fields are read from the source repository.
func repositorySettings(c *rules.CreateRepository) ecr.RepositorySettings {
	s := ecr.RepositorySettings{TagMutability: c.ImageTagMutability, ExclusionFilters: c.ImageTagMutabilityExclusionFilters,
		ScanOnPush: c.ScanOnPush, Tags: maps.Clone(c.Tags)}
	if c.LifecyclePolicy != nil {
		s.LifecyclePolicy, s.NoLifecyclePolicy = *c.LifecyclePolicy, *c.LifecyclePolicy == ""
	}
	if c.Encryption != nil {
		s.Encryption, s.KMSKey = c.Encryption.Type, c.Encryption.KMSKey
	}
	return s
}

// notFromSource fills the settings s leaves to the source with ECR's defaults: mutable tags, no
// scan on push, no lifecycle policy, no tags.
func notFromSource(s ecr.RepositorySettings) ecr.RepositorySettings {
	if s.TagMutability == "" {
		s.TagMutability = ecr.Mutable
	}
	if s.ScanOnPush == nil {
		no := false
		s.ScanOnPush = &no
	}
	if s.LifecyclePolicy == "" {
		s.NoLifecyclePolicy = true
	}
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	return s
}
