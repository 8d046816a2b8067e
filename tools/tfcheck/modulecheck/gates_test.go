package modulecheck

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// The promotion gates grant exactly what internal/ecr/actions.go says each needs, and only when
// an input asks: DescribeImageScanFindings on the source repositories (reader role) and the scan
// event rule for max_severity, kms:GetPublicKey on named KMS keys, BatchDeleteImage (and
// ListImages for --prune) on the destinations and DELETE in the event pattern for
// propagate_deletes.
func TestGatesGrantExactly(t *testing.T) {
	actions := engineActions(t)
	m := load(t)
	kms := "arn:aws:kms:" + region + ":" + srcAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	pem := "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
	tests := []struct {
		name               string
		vars               map[string]cty.Value
		scan, kms, deletes bool
	}{
		{"no gates", nil, false, false, false},
		{"inline key only", map[string]cty.Value{"signature_keys": strings_(pem)}, false, false, false},
		{"KMS key", map[string]cty.Value{"signature_keys": strings_("awskms:///" + kms)}, false, true, false},
		{"scan gate", map[string]cty.Value{"max_severity": cty.StringVal("HIGH")}, true, false, false},
		{"propagate deletes", map[string]cty.Value{"propagate_deletes": cty.True}, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := evaluate(t, m, tt.vars)
			fn := grantsOf(decodePolicy(t, mustString(t, e, "aws_iam_role_policy.this", "policy")))
			reader := grantsOf(decodePolicy(t, mustString(t, e, "aws_iam_role_policy.source_reader", "policy")))
			for _, a := range srcARNs {
				if got := slices.Contains(reader[a], actions["ScanReadActions"][0]); got != tt.scan {
					t.Errorf("reader role: %s on %s = %v, want %v", actions["ScanReadActions"][0], a, got, tt.scan)
				}
			}
			if got := fn[kms]; tt.kms != slices.Equal(got, actions["KMSVerifyActions"]) {
				t.Errorf("function: on the KMS key %v, want %v: %v", got, actions["KMSVerifyActions"], tt.kms)
			}
			for _, a := range dstARNs {
				want := set(actions["PushActions"])
				if tt.deletes {
					want = set(want, actions["DeleteActions"], actions["PruneListActions"])
				}
				if !slices.Equal(fn[a], want) {
					t.Errorf("function on %s:\n got  %v\n want %v", a, fn[a], want)
				}
			}
			if n, _ := e.Count("aws_cloudwatch_event_rule.scan"); (n == 1) != tt.scan {
				t.Errorf("scan rule count %d", n)
			}
			var pattern struct {
				Detail struct {
					ActionType []string `json:"action-type"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(mustString(t, e, "aws_cloudwatch_event_rule.this", "event_pattern")), &pattern); err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(pattern.Detail.ActionType, "DELETE"); got != tt.deletes {
				t.Errorf("event pattern action-type %v", pattern.Detail.ActionType)
			}
		})
	}
}
