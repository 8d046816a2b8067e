package ecr_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/gate"
)

// ScanReader against the control-plane stand-in: in progress then complete (basic findings),
// enhanced findings with their CVE IDs, and no scan at all (ScanNotFoundException).
func TestScanReader(t *testing.T) {
	t.Parallel()
	s := ecrstandin.New()
	t.Cleanup(s.Close)
	reg := s.Registry("111111111111", "us-east-1")
	reg.CreateRepository("app", false)
	const a, b, c = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	reg.SetScans("app", a, ecrstandin.Scan{Status: "IN_PROGRESS"},
		ecrstandin.Scan{Status: "COMPLETE", Findings: []ecrstandin.ScanFinding{{ID: "CVE-2024-0001", Severity: "CRITICAL"}, {ID: "CVE-2024-0002", Severity: "LOW"}}})
	reg.SetScans("app", b, ecrstandin.Scan{Status: "ACTIVE", Enhanced: true, Findings: []ecrstandin.ScanFinding{{ID: "CVE-2024-0003", Severity: "HIGH"}}})
	api := awsecr.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "secret", "")})
	r := &ecr.ScanReader{API: api, Account: "111111111111"}
	ctx := context.Background()

	got, err := r.Findings(ctx, "app", a)
	if err != nil || got.Status != gate.ScanInProgress || len(got.Findings) != 0 {
		t.Fatalf("first: %+v %v", got, err)
	}
	got, err = r.Findings(ctx, "app", a)
	if err != nil || got.Status != gate.ScanComplete || got.Counts["CRITICAL"] != 1 || got.Counts["LOW"] != 1 || len(got.Findings) != 2 || got.Findings[0].ID != "CVE-2024-0001" {
		t.Fatalf("complete: %+v %v", got, err)
	}
	got, err = r.Findings(ctx, "app", b)
	if err != nil || got.Status != gate.ScanActive || got.Counts["HIGH"] != 1 || len(got.Findings) != 1 || got.Findings[0] != (gate.Finding{ID: "CVE-2024-0003", Severity: "HIGH"}) {
		t.Fatalf("enhanced: %+v %v", got, err)
	}
	if _, err := r.Findings(ctx, "app", c); !errors.Is(err, gate.ErrNoScan) {
		t.Fatalf("no scan: %v, want gate.ErrNoScan", err)
	}
}
