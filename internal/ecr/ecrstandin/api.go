package ecrstandin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
)

// The control plane's listing calls read the real registry behind a Registry, so what they say is
// what the registry holds.

type repositoryOut struct {
	RepositoryArn                      string            `json:"repositoryArn"`
	RegistryID                         string            `json:"registryId"`
	RepositoryName                     string            `json:"repositoryName"`
	RepositoryURI                      string            `json:"repositoryUri"`
	CreatedAt                          float64           `json:"createdAt"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration         scanning          `json:"imageScanningConfiguration"`
	EncryptionConfiguration            encryption        `json:"encryptionConfiguration"`
}

func (s *Server) describeRepositories(region, account string, names []string, next string, max int) (any, *apiError) {
	reg, aerr := s.registryFor(region, account)
	if aerr != nil {
		return nil, aerr
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	want := names
	if len(want) == 0 {
		want = sortedKeys(reg.repos)
	}
	var all []repositoryOut
	for _, n := range want {
		repo, ok := reg.repos[n]
		if !ok {
			return nil, &apiError{400, "RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", n, reg.account)}
		}
		all = append(all, reg.describe(n, repo))
	}
	p, tok := page(all, next, max)
	out := map[string]any{"repositories": p}
	if tok != "" {
		out["nextToken"] = tok
	}
	return out, nil
}

type imageID struct {
	ImageDigest string `json:"imageDigest"`
	ImageTag    string `json:"imageTag,omitempty"`
}

// images lists a repository's tags and their digests from the real registry.
func (reg *Registry) images(name string) ([]imageID, map[string]string, *apiError) {
	reg.mu.Lock()
	_, ok := reg.repos[name]
	next := reg.next
	reg.mu.Unlock()
	if !ok || next == nil {
		return nil, nil, &apiError{400, "RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", name, reg.account)}
	}
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/"+name+"/tags/list?n=10000", nil))
	var tl struct {
		Tags []string `json:"tags"`
	}
	json.Unmarshal(rec.Body.Bytes(), &tl)
	sort.Strings(tl.Tags)
	var ids []imageID
	media := map[string]string{}
	for _, t := range tl.Tags {
		req := httptest.NewRequest(http.MethodHead, "/v2/"+name+"/manifests/"+t, nil)
		req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json")
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		if d := rec.Header().Get("Docker-Content-Digest"); rec.Code == http.StatusOK && d != "" {
			ids = append(ids, imageID{ImageDigest: d, ImageTag: t})
			media[d] = rec.Header().Get("Content-Type")
		}
	}
	return ids, media, nil
}

func (s *Server) listImages(region, account, name, next string, max int) (any, *apiError) {
	reg, aerr := s.registryFor(region, account)
	if aerr != nil {
		return nil, aerr
	}
	ids, _, aerr := reg.images(name)
	if aerr != nil {
		return nil, aerr
	}
	p, tok := page(ids, next, max)
	out := map[string]any{"imageIds": p}
	if tok != "" {
		out["nextToken"] = tok
	}
	return out, nil
}

type imageDetail struct {
	RegistryID             string   `json:"registryId"`
	RepositoryName         string   `json:"repositoryName"`
	ImageDigest            string   `json:"imageDigest"`
	ImageTags              []string `json:"imageTags,omitempty"`
	ImageManifestMediaType string   `json:"imageManifestMediaType,omitempty"`
}

func (s *Server) describeImages(region, account, name string, filter []string, next string, max int) (any, *apiError) {
	reg, aerr := s.registryFor(region, account)
	if aerr != nil {
		return nil, aerr
	}
	ids, media, aerr := reg.images(name)
	if aerr != nil {
		return nil, aerr
	}
	byDigest := map[string]*imageDetail{}
	var order []string
	for _, id := range ids {
		if len(filter) > 0 && !contains(filter, id.ImageDigest+"|") && !contains(filter, "|"+id.ImageTag) && !contains(filter, id.ImageDigest+"|"+id.ImageTag) {
			continue
		}
		d, ok := byDigest[id.ImageDigest]
		if !ok {
			d = &imageDetail{RegistryID: reg.account, RepositoryName: name, ImageDigest: id.ImageDigest, ImageManifestMediaType: media[id.ImageDigest]}
			byDigest[id.ImageDigest] = d
			order = append(order, id.ImageDigest)
		}
		d.ImageTags = append(d.ImageTags, id.ImageTag)
	}
	var all []imageDetail
	for _, dg := range order {
		all = append(all, *byDigest[dg])
	}
	p, tok := page(all, next, max)
	out := map[string]any{"imageDetails": p}
	if tok != "" {
		out["nextToken"] = tok
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
