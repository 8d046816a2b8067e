package ecrstandin

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/ecrsync/ecrsync/internal/awsname"
)

// Repository management as the Amazon ECR API Reference documents it: CreateRepository (with tag
// mutability and its exclusion filters, scan on push, encryption, tags), the settings in
// DescribeRepositories, Get/PutLifecyclePolicy, ListTagsForResource and TagResource, with
// RepositoryAlreadyExistsException, RepositoryNotFoundException and
// LifecyclePolicyNotFoundException. A repository created here exists for the registry side at once
// (no more NAME_UNKNOWN).

type exclusionFilter struct {
	FilterType string `json:"filterType"`
	Filter     string `json:"filter"`
}

type scanning struct {
	ScanOnPush bool `json:"scanOnPush"`
}

type encryption struct {
	EncryptionType string `json:"encryptionType"`
	KMSKey         string `json:"kmsKey,omitempty"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type repoSettings struct {
	mutability string
	filters    []exclusionFilter
	scanOnPush bool
	encryption encryption
	lifecycle  string // "" = none
	tags       map[string]string
}

func defaultSettings(mutability string) repoSettings {
	return repoSettings{mutability: mutability, encryption: encryption{EncryptionType: "AES256"}, tags: map[string]string{}}
}

func (s *Server) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// immutableTag says whether a tag of the repository may not be moved: IMMUTABLE and
// MUTABLE_WITH_EXCLUSION's filtered tags are, IMMUTABLE_WITH_EXCLUSION's filtered tags are not.
func (repo *repository) immutableTag(tag string) bool {
	matched := false
	for _, f := range repo.settings.filters {
		if ok, _ := path.Match(f.Filter, tag); ok {
			matched = true
		}
	}
	switch repo.settings.mutability {
	case "IMMUTABLE":
		return true
	case "IMMUTABLE_WITH_EXCLUSION":
		return !matched
	case "MUTABLE_WITH_EXCLUSION":
		return matched
	}
	return false
}

func (reg *Registry) arn(name string) string {
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", awsname.Partition(reg.region), reg.region, reg.account, name)
}

// describe is a repository as DescribeRepositories and CreateRepository answer it; reg.mu is held.
func (reg *Registry) describe(name string, repo *repository) repositoryOut {
	st := repo.settings
	return repositoryOut{
		RepositoryArn: reg.arn(name), RegistryID: reg.account, RepositoryName: name,
		RepositoryURI: fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", reg.account, reg.region, name),
		CreatedAt:     float64(repo.created.Unix()), ImageTagMutability: st.mutability,
		ImageTagMutabilityExclusionFilters: st.filters, ImageScanningConfiguration: scanning{st.scanOnPush},
		EncryptionConfiguration: st.encryption,
	}
}

// repositoryNameRE is CreateRepository's documented repositoryName pattern (2-256 characters).
var repositoryNameRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// kmsKeyRE accepts a key ID, a key ARN or an alias (ARN), as encryptionConfiguration.kmsKey does.
var kmsKeyRE = regexp.MustCompile(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+|alias/.+|[0-9a-f-]{36})$`)

func notFound(name, account string) *apiError {
	return &apiError{400, "RepositoryNotFoundException", fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", name, account)}
}

func invalid(msg string) *apiError { return &apiError{400, "InvalidParameterException", msg} }

// repositoryOp serves the repository management operations; body is the request's JSON.
func (s *Server) repositoryOp(op, region, account string, body []byte) (any, *apiError) {
	var in struct {
		RepositoryName                     string            `json:"repositoryName"`
		ImageTagMutability                 string            `json:"imageTagMutability"`
		ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters"`
		ImageScanningConfiguration         *scanning         `json:"imageScanningConfiguration"`
		EncryptionConfiguration            *encryption       `json:"encryptionConfiguration"`
		Tags                               []tag             `json:"tags"`
		LifecyclePolicyText                string            `json:"lifecyclePolicyText"`
		ResourceArn                        string            `json:"resourceArn"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	if op == "ListTagsForResource" || op == "TagResource" {
		// arn:PARTITION:ecr:REGION:ACCOUNT:repository/NAME
		parts := strings.SplitN(in.ResourceArn, ":", 6)
		if len(parts) != 6 || parts[2] != "ecr" || !strings.HasPrefix(parts[5], "repository/") {
			return nil, invalid(fmt.Sprintf("Invalid parameter at 'resourceArn' failed to satisfy constraint: '%s' is not a repository ARN", in.ResourceArn))
		}
		region, account, in.RepositoryName = parts[3], parts[4], strings.TrimPrefix(parts[5], "repository/")
	}
	reg, aerr := s.registryFor(region, account)
	if aerr != nil {
		return nil, aerr
	}
	now := s.clock()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	repo := reg.repos[in.RepositoryName]
	if op != "CreateRepository" && repo == nil {
		return nil, notFound(in.RepositoryName, reg.account)
	}
	switch op {
	case "CreateRepository":
		if len(in.RepositoryName) < 2 || len(in.RepositoryName) > 256 || !repositoryNameRE.MatchString(in.RepositoryName) {
			return nil, invalid(fmt.Sprintf("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", repositoryNameRE))
		}
		if repo != nil {
			return nil, &apiError{400, "RepositoryAlreadyExistsException", fmt.Sprintf("The repository with name '%s' already exists in the registry with id '%s'", in.RepositoryName, reg.account)}
		}
		st := defaultSettings("MUTABLE")
		if in.ImageTagMutability != "" {
			st.mutability = in.ImageTagMutability
		}
		switch st.mutability {
		case "MUTABLE", "IMMUTABLE":
			if len(in.ImageTagMutabilityExclusionFilters) > 0 {
				return nil, invalid("Image tag mutability exclusion filters are only allowed with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION")
			}
		case "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION":
			if n := len(in.ImageTagMutabilityExclusionFilters); n == 0 || n > 5 {
				return nil, invalid(fmt.Sprintf("%s needs 1 to 5 image tag mutability exclusion filters, got %d", st.mutability, n))
			}
			for _, f := range in.ImageTagMutabilityExclusionFilters {
				if f.FilterType != "WILDCARD" || f.Filter == "" {
					return nil, invalid(fmt.Sprintf("Invalid exclusion filter %+v: filterType must be WILDCARD and filter non-empty", f))
				}
			}
			st.filters = in.ImageTagMutabilityExclusionFilters
		default:
			return nil, invalid(fmt.Sprintf("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]', got '%s'", st.mutability))
		}
		if in.ImageScanningConfiguration != nil {
			st.scanOnPush = in.ImageScanningConfiguration.ScanOnPush
		}
		if e := in.EncryptionConfiguration; e != nil {
			switch {
			case e.EncryptionType == "AES256" && e.KMSKey != "":
				return nil, invalid("Invalid parameter: kmsKey can only be specified with encryptionType KMS")
			case e.EncryptionType == "KMS" && e.KMSKey != "" && !kmsKeyRE.MatchString(e.KMSKey):
				return nil, &apiError{400, "KmsException", fmt.Sprintf("KMS key %s is not valid", e.KMSKey)}
			case e.EncryptionType == "KMS" && e.KMSKey == "":
				e.KMSKey = fmt.Sprintf("arn:%s:kms:%s:%s:alias/aws/ecr", awsname.Partition(reg.region), reg.region, reg.account) // the AWS managed key
			case e.EncryptionType != "AES256" && e.EncryptionType != "KMS" && e.EncryptionType != "KMS_DSSE":
				return nil, invalid(fmt.Sprintf("Invalid encryptionType '%s'", e.EncryptionType))
			}
			st.encryption = *e
		}
		for _, t := range in.Tags {
			st.tags[t.Key] = t.Value
		}
		repo = &repository{created: now, settings: st}
		reg.repos[in.RepositoryName] = repo
		return map[string]any{"repository": reg.describe(in.RepositoryName, repo)}, nil
	case "GetLifecyclePolicy":
		if repo.settings.lifecycle == "" {
			return nil, &apiError{400, "LifecyclePolicyNotFoundException", fmt.Sprintf("Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", in.RepositoryName, reg.account)}
		}
		return map[string]any{"registryId": reg.account, "repositoryName": in.RepositoryName, "lifecyclePolicyText": repo.settings.lifecycle,
			"lastEvaluatedAt": float64(now.Unix())}, nil
	case "PutLifecyclePolicy":
		var doc struct {
			Rules []json.RawMessage `json:"rules"`
		}
		if err := json.Unmarshal([]byte(in.LifecyclePolicyText), &doc); err != nil || len(doc.Rules) == 0 {
			return nil, invalid("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: the policy must be a JSON object with a non-empty \"rules\" array'")
		}
		repo.settings.lifecycle = in.LifecyclePolicyText
		return map[string]any{"registryId": reg.account, "repositoryName": in.RepositoryName, "lifecyclePolicyText": in.LifecyclePolicyText}, nil
	case "ListTagsForResource":
		tags := []tag{}
		for _, k := range sortedKeys(repo.settings.tags) {
			tags = append(tags, tag{k, repo.settings.tags[k]})
		}
		return map[string]any{"tags": tags}, nil
	case "TagResource":
		for _, t := range in.Tags {
			repo.settings.tags[t.Key] = t.Value
		}
		return map[string]any{}, nil
	}
	return nil, &apiError{400, "UnknownOperationException", "the stand-in does not implement " + op}
}
