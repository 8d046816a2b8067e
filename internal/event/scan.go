package event

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/ecrsync/ecrsync/internal/awsname"
)

// Scan-complete events: they release a promotion that a rule's scan gate holds (internal/lambda).
// Neither carries action-type, and both carry image-tags[] rather than one image-tag: they need
// their own EventBridge rule (the Terraform module's scan rule, created when a gate asks).
const (
	// DetailTypeImageScan is ECR's basic scanning event (source aws.ecr; Amazon ECR User Guide,
	// "Amazon ECR events and EventBridge", "Event for an image scan completion").
	DetailTypeImageScan = "ECR Image Scan"
	// SourceInspector and DetailTypeInspectorScan are Amazon Inspector's event when an enhanced
	// (initial) scan of an ECR image completes (Amazon ECR User Guide, "EventBridge events sent
	// for enhanced scanning in Amazon ECR").
	SourceInspector         = "aws.inspector2"
	DetailTypeInspectorScan = "Inspector2 Scan"
	// ActionScan is the Action of a Push decoded from either.
	ActionScan = "SCAN"
)

// ScanDetail is the detail of both scan events. Inspector's repository-name is the repository's
// ARN, ECR's its name.
type ScanDetail struct {
	ScanStatus            string         `json:"scan-status"`
	RepositoryName        string         `json:"repository-name"`
	FindingSeverityCounts map[string]int `json:"finding-severity-counts"`
	ImageDigest           string         `json:"image-digest"`
	ImageTags             []string       `json:"image-tags"`
}

// isScanEvent reports whether an EventBridge envelope is a scan-complete event.
func isScanEvent(source, detailType string) bool {
	return source == SourceECR && detailType == DetailTypeImageScan || source == SourceInspector && detailType == DetailTypeInspectorScan
}

// decodeScan fills p (the envelope's fields set) from a scan event's detail.
func decodeScan(e eventBridge, p Push) (Push, error) {
	var d ScanDetail
	if len(e.Detail) == 0 || bytes.Equal(e.Detail, []byte("null")) {
		return p, malformed("%s event %s has no detail", e.DetailType, e.ID)
	}
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return p, malformed("%s event %s: detail: %v", e.DetailType, e.ID, err)
	}
	repo := d.RepositoryName
	if strings.HasPrefix(repo, "arn:") { // Inspector: arn:aws:ecr:REGION:ACCOUNT:repository/NAME
		_, name, ok := strings.Cut(repo, ":repository/")
		if !ok {
			return p, malformed("%s event %s: repository-name %q is not a repository ARN", e.DetailType, e.ID, repo)
		}
		repo = name
	}
	host, err := awsname.Host(awsname.Location{Account: e.Account, Region: e.Region})
	if err != nil {
		return p, malformed("%s event %s: %v", e.DetailType, e.ID, err)
	}
	p.Registry, p.Repository, p.Digest, p.Tags = host, repo, d.ImageDigest, d.ImageTags
	p.Action, p.Result = ActionScan, d.ScanStatus
	if err := check(p); err != nil {
		return p, err
	}
	for _, t := range p.Tags {
		if err := check(Push{ID: p.ID, Repository: p.Repository, Tag: t, Digest: p.Digest}); err != nil {
			return p, err
		}
	}
	return p, nil
}
