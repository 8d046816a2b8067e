package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// CreateRepository is a destination's create_repository: whether ecrsync creates a missing
// destination repository, and with what settings. It is written either as a boolean
// (`create_repository: true` = like the source repository) or as an object whose omitted fields
// are taken from the source repository:
//
//	create_repository:
//	  image_tag_mutability: IMMUTABLE_WITH_EXCLUSION   # MUTABLE | IMMUTABLE | *_WITH_EXCLUSION
//	  image_tag_mutability_exclusion_filters: ["latest", "dev-*"]
//	  scan_on_push: true
//	  encryption: {type: KMS, kms_key: "arn:aws:kms:eu-west-1:222222222222:key/..."}  # or AES256
//	  lifecycle_policy: '{"rules": [...]}'   # "" = none
//	  tags: {team: platform}                # {} = none
//
// Encryption is never taken from the source (its KMS key belongs to the source account): it is
// AES256 unless a KMS key is named here.
type CreateRepository struct {
	// Enabled is true for `true` and for an object.
	Enabled bool `json:"-"`

	ImageTagMutability                 string            `json:"image_tag_mutability,omitempty"`
	ImageTagMutabilityExclusionFilters []string          `json:"image_tag_mutability_exclusion_filters,omitempty"`
	ScanOnPush                         *bool             `json:"scan_on_push,omitempty"`
	Encryption                         *CreateEncryption `json:"encryption,omitempty"`
	LifecyclePolicy                    *string           `json:"lifecycle_policy,omitempty"` // nil = the source's, "" = none
	Tags                               map[string]string `json:"tags"`                       // nil = the source's, {} = none
}

// CreateEncryption is the encryption of a created repository.
type CreateEncryption struct {
	Type   string `json:"type"`              // AES256 or KMS
	KMSKey string `json:"kms_key,omitempty"` // with KMS: a key of the destination account; "" = aws/ecr
}

// createFields is CreateRepository's object form, decoded strictly.
type createFields CreateRepository

// UnmarshalJSON accepts true, false, null or the object form; an unknown field of the object is
// an error that names it.
func (c *CreateRepository) UnmarshalJSON(b []byte) error {
	switch t := string(bytes.TrimSpace(b)); t {
	case "true", "false":
		*c = CreateRepository{Enabled: t == "true"}
		return nil
	case "null":
		*c = CreateRepository{}
		return nil
	}
	if len(b) == 0 || bytes.TrimSpace(b)[0] != '{' {
		return fmt.Errorf("create_repository: want true, false or an object of settings, got %s", b)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var f createFields
	if err := d.Decode(&f); err != nil {
		return fmt.Errorf("create_repository: %w (known: image_tag_mutability, image_tag_mutability_exclusion_filters, scan_on_push, encryption, lifecycle_policy, tags)", err)
	}
	*c = CreateRepository(f)
	c.Enabled = true
	return nil
}

// decodeNode is UnmarshalJSON for the config's YAML node tree: true, false or the object form,
// whose unknown fields are errors that name the nearest known one.
func (c *CreateRepository) decodeNode(d *decoder, n *yaml.Node, path string) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err == nil {
			*c = CreateRepository{Enabled: b}
			return nil
		}
	}
	if n.Kind != yaml.MappingNode {
		return &FieldError{Field: path, Line: n.Line, Msg: fmt.Sprintf("want true, false or an object of settings, not %s", describe(n))}
	}
	var f createFields
	if err := d.mapping(n, reflect.ValueOf(&f).Elem(), path); err != nil {
		return err
	}
	*c = CreateRepository(f)
	c.Enabled = true
	return nil
}

// MarshalJSON writes the boolean form when no setting is given, the object form otherwise.
func (c CreateRepository) MarshalJSON() ([]byte, error) {
	if c.ImageTagMutability == "" && c.ImageTagMutabilityExclusionFilters == nil && c.ScanOnPush == nil && c.Encryption == nil &&
		c.LifecyclePolicy == nil && c.Tags == nil {
		return json.Marshal(c.Enabled)
	}
	return json.Marshal(createFields(c))
}

// CreatesRepository reports whether a missing repository of this destination is created.
func (d *Destination) CreatesRepository() bool {
	return d.CreateRepository != nil && d.CreateRepository.Enabled
}

// ECR's settings of a repository (Amazon ECR API Reference, CreateRepository), as
// create_repository spells them.
const (
	mutable                = "MUTABLE"
	immutable              = "IMMUTABLE"
	immutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	mutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
	encryptionAES256       = "AES256"
	encryptionKMS          = "KMS"
)

// The patterns below are compiled on first use, not at every start of the function and the CLI:
// counted repetitions ({12}, {1,128}) make regexp compilation costly.
var (
	// exclusionFilterRE is ECR's wildcard tag filter: tag characters and '*', 1-128 long.
	exclusionFilterRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-Za-z._*-]{1,128}$`) })
	kmsKeyARNRE       = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:kms:([a-z0-9-]+):([0-9]{12}):(key|alias)/.+$`)
	})
	kmsKeyIDRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]+)$`)
	})
)

// ECR's limits on resource tags (Amazon ECR User Guide, "Tagging a private repository").
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// validateCreate checks create_repository of the destination d (field names the destination).
func (d *Destination) validateCreate(field string) error {
	c := d.CreateRepository
	if c == nil || !c.Enabled {
		return nil
	}
	field += ".create_repository"
	l, isECR := d.ECR()
	if !isECR {
		return fieldErr(field, "%s is not an ECR registry: ecrsync creates repositories with ECR's CreateRepository API, and other registries have none (most create a repository on the first push; the rest need it made by hand). Remove create_repository, or give account_id and region for an ECR destination", d.host)
	}
	switch c.ImageTagMutability {
	case "", mutable, immutable:
		if len(c.ImageTagMutabilityExclusionFilters) > 0 {
			return fieldErr(field+".image_tag_mutability_exclusion_filters", "exclusion filters need image_tag_mutability IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION")
		}
	case immutableWithExclusion, mutableWithExclusion:
		if n := len(c.ImageTagMutabilityExclusionFilters); n == 0 || n > 5 {
			return fieldErr(field+".image_tag_mutability_exclusion_filters", "%s needs 1 to 5 exclusion filters (tag wildcards such as \"latest\" or \"dev-*\"), got %d", c.ImageTagMutability, n)
		}
	default:
		return fieldErr(field+".image_tag_mutability", "%q: want MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION", c.ImageTagMutability)
	}
	for i, f := range c.ImageTagMutabilityExclusionFilters {
		if !exclusionFilterRE().MatchString(f) {
			return fieldErr(fmt.Sprintf("%s.image_tag_mutability_exclusion_filters[%d]", field, i), "%q: want a tag wildcard (letters, digits, . _ - and *; at most 128)", f)
		}
	}
	if e := c.Encryption; e != nil {
		switch {
		case e.Type != encryptionAES256 && e.Type != encryptionKMS:
			return fieldErr(field+".encryption.type", "%q: want AES256 or KMS", e.Type)
		case e.Type == encryptionAES256 && e.KMSKey != "":
			return fieldErr(field+".encryption.kms_key", "a KMS key needs type KMS")
		case e.KMSKey != "":
			if m := kmsKeyARNRE().FindStringSubmatch(e.KMSKey); m != nil {
				if m[3] != l.Account || m[2] != l.Region {
					return fieldErr(field+".encryption.kms_key", "%s is in account %s, %s, but the repository is in %s, %s: ECR encrypts a repository only with a key of its own account and Region (a source repository's key cannot be used); name a key of the destination", e.KMSKey, m[3], m[2], l.Account, l.Region)
				}
			} else if !kmsKeyIDRE().MatchString(e.KMSKey) {
				return fieldErr(field+".encryption.kms_key", "%q: want a key ARN, key ID or alias/NAME of the destination account", e.KMSKey)
			}
		}
	}
	if c.LifecyclePolicy != nil && *c.LifecyclePolicy != "" {
		var doc struct {
			Rules []json.RawMessage `json:"rules"`
		}
		if err := json.Unmarshal([]byte(*c.LifecyclePolicy), &doc); err != nil || len(doc.Rules) == 0 {
			return fieldErr(field+".lifecycle_policy", "want an ECR lifecycle policy: a JSON object with a non-empty \"rules\" array (%v)", err)
		}
	}
	if len(c.Tags) > maxTags {
		return fieldErr(field+".tags", "%d tags, ECR allows %d", len(c.Tags), maxTags)
	}
	for k, v := range c.Tags {
		if k == "" || len(k) > maxTagKeyLen || len(v) > maxTagValueLen || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return fieldErr(field+".tags", "%q=%q: keys are 1-%d characters and may not start with aws:, values at most %d", k, v, maxTagKeyLen, maxTagValueLen)
		}
	}
	return nil
}
