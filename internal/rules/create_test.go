package rules_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/rules"
)

func createDoc(dst string) string {
	return `
source: {account_id: "111111111111", region: us-east-1}
rules:
  - repositories: ["team/*"]
    destinations:
      - ` + dst + "\n"
}

func TestCreateRepositoryDecodesBothShapes(t *testing.T) {
	t.Parallel()
	yes, none := true, ""
	policy := `{"rules": [{"rulePriority": 1}]}`
	tests := []struct {
		name    string
		dst     string
		enabled bool
		want    rules.CreateRepository
	}{
		{"true: like the source", `{account_id: "222222222222", region: eu-west-1, create_repository: true}`, true, rules.CreateRepository{}},
		{"false", `{account_id: "222222222222", region: eu-west-1, create_repository: false}`, false, rules.CreateRepository{}},
		{"omitted", `{account_id: "222222222222", region: eu-west-1}`, false, rules.CreateRepository{}},
		{"an object", `account_id: "222222222222"
        region: eu-west-1
        create_repository:
          image_tag_mutability: IMMUTABLE_WITH_EXCLUSION
          image_tag_mutability_exclusion_filters: ["latest", "dev-*"]
          scan_on_push: true
          encryption: {type: KMS, kms_key: "arn:aws:kms:eu-west-1:222222222222:key/11111111-2222-3333-4444-555555555555"}
          lifecycle_policy: '{"rules": [{"rulePriority": 1}]}'
          tags: {team: platform}`, true, rules.CreateRepository{ImageTagMutability: "IMMUTABLE_WITH_EXCLUSION", ImageTagMutabilityExclusionFilters: []string{"latest", "dev-*"},
			ScanOnPush: &yes, Encryption: &rules.CreateEncryption{Type: "KMS", KMSKey: "arn:aws:kms:eu-west-1:222222222222:key/11111111-2222-3333-4444-555555555555"},
			LifecyclePolicy: &policy, Tags: map[string]string{"team": "platform"}}},
		{"an empty object: like the source", `{account_id: "222222222222", region: eu-west-1, create_repository: {}}`, true, rules.CreateRepository{}},
		{"no lifecycle policy, no tags", `{account_id: "222222222222", region: eu-west-1, create_repository: {lifecycle_policy: "", tags: {}}}`, true,
			rules.CreateRepository{LifecyclePolicy: &none, Tags: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := rules.Load([]byte(createDoc(tt.dst)))
			if err != nil {
				t.Fatal(err)
			}
			d := &c.Rules[0].Destinations[0]
			if d.CreatesRepository() != tt.enabled {
				t.Fatalf("CreatesRepository = %v, want %v", d.CreatesRepository(), tt.enabled)
			}
			if !tt.enabled {
				return
			}
			got := d.CreateRepository
			if !sameCreate(got, &tt.want) {
				t.Errorf("create_repository = %+v, want %+v", got, tt.want)
			}
			// The document round-trips through JSON (the Terraform module writes JSON).
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := rules.Load(b)
			if err != nil || again.Rules[0].Destinations[0].CreatesRepository() != tt.enabled {
				t.Fatalf("round trip: %v\n%s", err, b)
			}
			if back := again.Rules[0].Destinations[0].CreateRepository; !sameCreate(back, got) {
				t.Errorf("round trip lost \"none\": %+v, was %+v\n%s", back, got, b)
			}
		})
	}
}

// sameCreate compares two create_repository settings, "none" (an empty lifecycle policy, no
// tags) apart from "the source's" (nil).
func sameCreate(a, b *rules.CreateRepository) bool {
	str := func(p *string) string {
		if p == nil {
			return "<source>"
		}
		return "=" + *p
	}
	enc := func(e *rules.CreateEncryption) string {
		if e == nil {
			return ""
		}
		return e.Type + " " + e.KMSKey
	}
	return a.ImageTagMutability == b.ImageTagMutability &&
		strings.Join(a.ImageTagMutabilityExclusionFilters, ",") == strings.Join(b.ImageTagMutabilityExclusionFilters, ",") &&
		(a.ScanOnPush == nil) == (b.ScanOnPush == nil) && (a.ScanOnPush == nil || *a.ScanOnPush == *b.ScanOnPush) &&
		enc(a.Encryption) == enc(b.Encryption) && str(a.LifecyclePolicy) == str(b.LifecyclePolicy) &&
		maps.Equal(a.Tags, b.Tags) && (a.Tags == nil) == (b.Tags == nil)
}

func TestCreateRepositoryRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dst, field, says string
	}{
		{"not an ECR registry", `{registry: "ghcr.io", create_repository: true}`, "create_repository", "CreateRepository API"},
		{"unknown setting", `{account_id: "222222222222", region: eu-west-1, create_repository: {scan_on_pull: true}}`, "", "scan_on_pull"},
		{"a string", `{account_id: "222222222222", region: eu-west-1, create_repository: "yes"}`, "", "true, false or an object"},
		{"unknown mutability", `{account_id: "222222222222", region: eu-west-1, create_repository: {image_tag_mutability: FROZEN}}`, "create_repository.image_tag_mutability", "MUTABLE"},
		{"filters without exclusion", `{account_id: "222222222222", region: eu-west-1, create_repository: {image_tag_mutability: IMMUTABLE, image_tag_mutability_exclusion_filters: ["x"]}}`, "create_repository.image_tag_mutability_exclusion_filters", "WITH_EXCLUSION"},
		{"exclusion without filters", `{account_id: "222222222222", region: eu-west-1, create_repository: {image_tag_mutability: MUTABLE_WITH_EXCLUSION}}`, "create_repository.image_tag_mutability_exclusion_filters", "1 to 5"},
		{"the source's KMS key", `{account_id: "222222222222", region: eu-west-1, create_repository: {encryption: {type: KMS, kms_key: "arn:aws:kms:us-east-1:111111111111:key/k"}}}`, "create_repository.encryption.kms_key", "own account and Region"},
		{"a key with AES256", `{account_id: "222222222222", region: eu-west-1, create_repository: {encryption: {type: AES256, kms_key: "alias/x"}}}`, "create_repository.encryption.kms_key", "type KMS"},
		{"lifecycle policy not JSON", `{account_id: "222222222222", region: eu-west-1, create_repository: {lifecycle_policy: "keep 30"}}`, "create_repository.lifecycle_policy", "rules"},
		{"an aws: tag", `{account_id: "222222222222", region: eu-west-1, create_repository: {tags: {"aws:x": "v"}}}`, "create_repository.tags", "aws:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rules.Load([]byte(createDoc(tt.dst)))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			if tt.field != "" {
				var fe *rules.FieldError
				if !errors.As(err, &fe) || fe.Field != "rules[0].destinations[0]."+tt.field {
					t.Errorf("error %v, want it on rules[0].destinations[0].%s", err, tt.field)
				}
			}
		})
	}
}
