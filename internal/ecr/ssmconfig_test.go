package ecr_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
)

func TestLoadConfigParameter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := ecrstandin.New()
	defer s.Close()
	cfg := functionConfig(s)
	// Larger than Lambda's whole 4 KB environment: the reason the parameter exists.
	doc := `{"source":{"account_id":"111111111111","region":"us-east-1"},"rules":[{"destinations":[{"account_id":"222222222222","region":"eu-west-1",` +
		`"create_repository":{"lifecycle_policy":"` + strings.Repeat("x", 6000) + `"}}]}]}`
	s.PutParameter("/ecrsync/config", doc, true)

	t.Run("a SecureString is read decrypted", func(t *testing.T) {
		got, err := ecr.LoadConfigParameter(ctx, cfg, "/ecrsync/config")
		if err != nil || string(got) != doc {
			t.Fatalf("LoadConfigParameter = %d bytes, %v; want the %d-byte document", len(got), err, len(doc))
		}
	})
	t.Run("by ARN", func(t *testing.T) {
		got, err := ecr.LoadConfigParameter(ctx, cfg, "arn:aws:ssm:us-east-1:222222222222:parameter/ecrsync/config")
		if err != nil || string(got) != doc {
			t.Fatalf("LoadConfigParameter by ARN = %d bytes, %v", len(got), err)
		}
	})
	t.Run("a missing parameter names itself and the fix", func(t *testing.T) {
		_, err := ecr.LoadConfigParameter(ctx, cfg, "/ecrsync/other")
		if err == nil {
			t.Fatal("no error for a missing parameter")
		}
		for _, want := range []string{"/ecrsync/other", ecr.EnvConfigParameter, "does not exist", "ParameterNotFound"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("a denied read names the grant", func(t *testing.T) {
		s2 := ecrstandin.New()
		defer s2.Close()
		s2.PutParameter("/ecrsync/config", doc, true)
		s2.Deny(dstAccount, "ssm:GetParameter")
		_, err := ecr.LoadConfigParameter(ctx, functionConfig(s2), "/ecrsync/config")
		if err == nil || !strings.Contains(err.Error(), "ssm:GetParameter") || !strings.Contains(err.Error(), "kms:Decrypt") {
			t.Fatalf("got %v, want an error naming ssm:GetParameter and kms:Decrypt", err)
		}
	})
}
