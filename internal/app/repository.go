package app

import (
	"maps"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// RepositorySettings turns a destination's create_repository into what ecr.Creator creates the
// repository with; settings the config leaves out are read from the source repository. The
// config (rules) stays free of the AWS SDK, so the translation lives here, at the root.
func RepositorySettings(c *rules.CreateRepository) ecr.RepositorySettings {
	if c == nil {
		return ecr.RepositorySettings{}
	}
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
