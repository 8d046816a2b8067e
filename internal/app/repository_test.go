package app_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// TestRepositorySettingsKeepNoneApartFromNotGiven: "" and {} in the config mean none, which
// the creator must not read from the source; an omitted field (nil) is the source's.
func TestRepositorySettingsKeepNoneApartFromNotGiven(t *testing.T) {
	t.Parallel()
	none := ""
	got := app.RepositorySettings(&rules.CreateRepository{Enabled: true, LifecyclePolicy: &none, Tags: map[string]string{}})
	if !got.NoLifecyclePolicy || got.Tags == nil || len(got.Tags) != 0 {
		t.Errorf("none given: %+v, want NoLifecyclePolicy and empty (not nil) tags", got)
	}
	got = app.RepositorySettings(&rules.CreateRepository{Enabled: true, Encryption: &rules.CreateEncryption{Type: "KMS", KMSKey: "alias/k"}})
	if got.NoLifecyclePolicy || got.Tags != nil || got.Encryption != "KMS" || got.KMSKey != "alias/k" {
		t.Errorf("like the source but the key: %+v", got)
	}
	if got := app.RepositorySettings(nil); got.TagMutability != "" || got.Tags != nil {
		t.Errorf("nil: %+v", got)
	}
}
