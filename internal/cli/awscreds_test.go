package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoAWSCredentialsSaysHowToProvideThem runs `sync --dry-run` on ECR rules as a user with no
// AWS credentials would (HOME empty, no AWS_* variables, no instance role): it exits 1, says
// that no AWS credentials were found and how to provide them, never shows the SDK's chain, and
// every log line on stderr honours --log-format json (issue 14.7).
func TestNoAWSCredentialsSaysHowToProvideThem(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(cfg, []byte(`source:
  account_id: 111111111111
  region: us-east-1
rules:
  - repositories: [app]
    destinations:
      - account_id: 222222222222
        region: eu-west-1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runEcrsync(t, []string{"AWS_EC2_METADATA_DISABLED=true"}, "sync", "--config", cfg, "--dry-run", "--log-format", "json")
	if code != 1 {
		t.Errorf("exit %d, want 1 (someone must provide credentials; a rerun cannot help)", code)
	}
	all := out + errs
	for _, want := range []string{"no AWS credentials were found", "aws sso login", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(all, "IMDS") || strings.Contains(all, "failed to refresh cached credentials") {
		t.Errorf("the SDK's credential chain shows:\n%s\n%s", out, errs)
	}
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		if line == "" || strings.HasPrefix(line, "ecrsync: ") {
			continue
		}
		if !json.Valid([]byte(line)) {
			t.Errorf("a log line ignores --log-format json: %s", line)
		}
	}
}
