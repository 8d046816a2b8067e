package ecrstandin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// Scan is one answer of the stand-in's DescribeImageScanFindings for an image: a status and,
// once complete, findings. Basic findings come back in findings[], enhanced ones (Amazon
// Inspector's) in enhancedFindings[], as ECR sends them.
type Scan struct {
	Status      string // COMPLETE, IN_PROGRESS, ACTIVE, PENDING, FAILED, UNSUPPORTED_IMAGE...
	Description string
	Findings    []ScanFinding
	Enhanced    bool
}

// ScanFinding is one finding: a CVE ID and its severity.
type ScanFinding struct {
	ID       string
	Severity string
}

// SetScans sets the scans of repository@digest: each DescribeImageScanFindings call answers the
// next one, and the last stays (IN_PROGRESS, then COMPLETE). An image without scans answers
// ScanNotFoundException, as ECR does when scanning is off.
func (r *Registry) SetScans(repository, digest string, scans ...Scan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scans == nil {
		r.scans = map[string][]Scan{}
	}
	r.scans[repository+"@"+digest] = scans
}

// imageOp serves DescribeImageScanFindings and BatchDeleteImage.
func (s *Server) imageOp(op, region, account string, body []byte) (any, *apiError) {
	reg, aerr := s.registryFor(region, account)
	if aerr != nil {
		return nil, aerr
	}
	var in struct {
		RepositoryName string `json:"repositoryName"`
		ImageID        struct {
			ImageDigest string `json:"imageDigest"`
			ImageTag    string `json:"imageTag"`
		} `json:"imageId"`
		ImageIDs []imageID `json:"imageIds"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	reg.mu.Lock()
	_, ok := reg.repos[in.RepositoryName]
	reg.mu.Unlock()
	if !ok {
		return nil, &apiError{400, "RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", in.RepositoryName, reg.account)}
	}
	if op == "BatchDeleteImage" {
		return reg.batchDelete(in.RepositoryName, in.ImageIDs), nil
	}
	return reg.describeScan(in.RepositoryName, in.ImageID.ImageDigest, in.ImageID.ImageTag)
}

func (reg *Registry) describeScan(repo, digest, tag string) (any, *apiError) {
	reg.mu.Lock()
	key := repo + "@" + digest
	seq := reg.scans[key]
	if len(seq) == 0 {
		reg.mu.Unlock()
		if tag == "" {
			tag = "null"
		}
		return nil, &apiError{400, "ScanNotFoundException", fmt.Sprintf("Image scan does not exist for the image with '{imageDigest:'%s', imageTag:'%s'}' in the repository with name '%s' in the registry with id '%s'", digest, tag, repo, reg.account)}
	}
	sc := seq[0]
	if len(seq) > 1 {
		reg.scans[key] = seq[1:]
	}
	reg.mu.Unlock()
	desc := sc.Description
	if desc == "" && sc.Status == "COMPLETE" {
		desc = "The scan was completed successfully."
	}
	out := map[string]any{"registryId": reg.account, "repositoryName": repo,
		"imageId":         map[string]string{"imageDigest": digest},
		"imageScanStatus": map[string]string{"status": sc.Status, "description": desc}}
	if sc.Status != "COMPLETE" && sc.Status != "ACTIVE" {
		return out, nil
	}
	counts := map[string]int{}
	var basic, enhanced []map[string]any
	for _, f := range sc.Findings {
		counts[f.Severity]++
		if sc.Enhanced {
			enhanced = append(enhanced, map[string]any{"awsAccountId": reg.account, "severity": f.Severity, "status": "ACTIVE",
				"title": f.ID + " - package", "type": "PACKAGE_VULNERABILITY",
				"packageVulnerabilityDetails": map[string]any{"vulnerabilityId": f.ID, "source": "NVD"}})
		} else {
			basic = append(basic, map[string]any{"name": f.ID, "severity": f.Severity,
				"uri": "https://security-tracker.debian.org/tracker/" + f.ID})
		}
	}
	findings := map[string]any{"findingSeverityCounts": counts, "imageScanCompletedAt": float64(reg.s.clock().Unix())}
	if sc.Enhanced {
		findings["enhancedFindings"] = enhanced
	} else {
		findings["findings"] = basic
	}
	out["imageScanFindings"] = findings
	return out, nil
}

// batchDelete removes tags (never a digest another tag still names: ECR deletes an image only
// when its last tag goes, which the caller avoids) from the real registry behind.
func (reg *Registry) batchDelete(repo string, ids []imageID) any {
	reg.mu.Lock()
	next := reg.next
	reg.mu.Unlock()
	var done []imageID
	var failures []map[string]any
	for _, id := range ids {
		ref := id.ImageTag
		if ref == "" {
			ref = id.ImageDigest
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/v2/"+repo+"/manifests/"+ref, nil))
		switch {
		case rec.Code == http.StatusAccepted || rec.Code == http.StatusOK:
			done = append(done, id)
		case rec.Code == http.StatusNotFound:
			failures = append(failures, map[string]any{"imageId": id, "failureCode": "ImageNotFound",
				"failureReason": "Requested image not found"})
		default:
			failures = append(failures, map[string]any{"imageId": id, "failureCode": "UnknownError",
				"failureReason": strings.TrimSpace(rec.Body.String())})
		}
	}
	return map[string]any{"imageIds": done, "failures": failures}
}
