package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ecrsync/ecrsync/internal/registry"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Creator creates missing destination repositories, as a destination's create_repository asks.
// internal/app adapts ecr.Creator to it, so this package and the event handler link no AWS SDK.
type Creator interface {
	// CreateRepository makes sure the destination repository of tg exists, creating it with
	// tg.Dst's create_repository settings, each unset one taken from the source repository
	// srcRepository. Concurrent and repeated calls for one repository create it at most once,
	// and a repository another process created first is success.
	CreateRepository(ctx context.Context, srcRepository string, tg rules.Target) (Creation, error)
}

// Creation is what a Creator did.
type Creation struct {
	// Created is true for the one call that created the repository.
	Created bool
	// NeedsAction are the settings that failed after the repository was created (a lifecycle
	// policy, tags): the repository works and the copy goes on; each error says what to do.
	NeedsAction []error
}

// MissingRepository reports whether err is a copy that failed because its destination repository
// does not exist (NAME_UNKNOWN from the destination registry).
func MissingRepository(err error) bool {
	return errors.Is(err, registry.ErrRepositoryNotFound) && isSide(err, replicate.Dst)
}

// WillCreate reports whether a missing destination repository of tg is created by c.
func WillCreate(c Creator, tg rules.Target) bool {
	return c != nil && tg.Dst != nil && tg.Dst.CreatesRepository()
}

// CreateMissing is called with copyErr, the failure of a copy from srcRepository to tg. When the
// destination repository is missing and tg's destination has create_repository, it creates the
// repository through c and returns true: copy again, in the same invocation. Settings that failed
// after the creation are logged as needs_action with their fix and do not stop the copy. A failed
// creation is returned, naming the repository, for the caller to report instead of copyErr.
func CreateMissing(ctx context.Context, c Creator, log *slog.Logger, srcRepository string, tg rules.Target, copyErr error) (created bool, err error) {
	if !MissingRepository(copyErr) || !WillCreate(c, tg) {
		return false, nil
	}
	res, err := c.CreateRepository(ctx, srcRepository, tg)
	if err != nil {
		return false, fmt.Errorf("destination repository %s/%s is missing and creating it failed: %w", tg.Host, tg.Repository, err)
	}
	for _, na := range res.NeedsAction {
		log.WarnContext(ctx, "repository created with settings missing", "outcome", "needs_action", "dst", tg.Host+"/"+tg.Repository,
			"reason", na.Error())
	}
	return true, nil
}

// Fix says what someone must change so that a failed copy to tg succeeds: for a missing
// destination repository of ECR, the repository and the two ways to have it created; otherwise
// the engine's hint (replicate.Hint).
func Fix(err error, tg rules.Target) string {
	if MissingRepository(err) && tg.Dst != nil {
		if l, ok := tg.Dst.ECR(); ok {
			return fmt.Sprintf("create the destination repository %s in account %s (%s), set create_repository on this destination in the config "+
				"(ecrsync then creates it like the source), or give that account an ECR repository creation template applied for CREATE_ON_PUSH",
				tg.Repository, l.Account, l.Region)
		}
	}
	return replicate.Hint(err)
}
