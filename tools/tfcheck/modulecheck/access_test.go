package modulecheck

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ecrsync/ecrsync/tools/tfcheck/tfeval"
)

// readerARN is the source reader role the module creates in the source account (name "ecrsync", in
// the source Region: IAM names are global to an account).
const readerARN = "arn:aws:iam::" + srcAccount + ":role/ecrsync-reader-" + region

var (
	srcARNs = []string{
		"arn:aws:ecr:" + region + ":" + srcAccount + ":repository/my-repository-name",
		"arn:aws:ecr:" + region + ":" + srcAccount + ":repository/team/*",
	}
	srcRegistryARN = "arn:aws:ecr:" + region + ":" + srcAccount + ":repository/*"
	dstARNs        = []string{
		"arn:aws:ecr:" + dstRegion + ":" + dstAccount + ":repository/mirror/my-repository-name",
		"arn:aws:ecr:" + dstRegion + ":" + dstAccount + ":repository/mirror/team/*",
	}
)

// grantsOf returns every action (any service) per resource of a policy.
func grantsOf(p policy) map[string][]string {
	out := map[string][]string{}
	for _, s := range p.Statement {
		for _, a := range list(s.Action) {
			for _, r := range list(s.Resource) {
				out[r] = set(out[r], []string{a})
			}
		}
	}
	return out
}

func checkGrants(t *testing.T, who string, got, want map[string][]string) {
	t.Helper()
	for arn, w := range want {
		if !slices.Equal(got[arn], set(w)) {
			t.Errorf("%s: actions on %s:\n got  %v\n want %v", who, arn, got[arn], set(w))
		}
	}
	for arn, a := range got {
		if _, ok := want[arn]; !ok {
			t.Errorf("%s: unexpected grant %v on %s", who, a, arn)
		}
	}
}

// The reader role may do exactly what the engine and the reconcile do to the source: pull and
// ListImages on the selected repositories, DescribeRepositories on repository/* only when the
// reconcile lists over globs, the settings reads only with repository creation, tokens on *.
func TestSourceReaderRoleReadsExactlyTheSource(t *testing.T) {
	actions := engineActions(t)
	m := load(t)
	tests := []struct {
		name     string
		vars     map[string]cty.Value
		list     bool // ListImages on the repositories
		registry bool // DescribeRepositories on repository/*
		settings bool // the settings reads for repository creation
	}{
		{"reconcile over globs", nil, true, true, false},
		{"no reconcile", map[string]cty.Value{"reconcile_enabled": cty.False}, false, false, false},
		{"reconcile, names only", map[string]cty.Value{"repositories": strings_("my-repository-name")}, true, false, false},
		{"repository creation", map[string]cty.Value{"create_repositories": cty.StringVal("ecrsync")}, true, true, true},
		{"creation template (no settings read)", map[string]cty.Value{"create_repositories": cty.StringVal("template"),
			"repository_creation_template_prefix": cty.StringVal("mirror")}, true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := evaluate(t, m, tt.vars)
			if n, _ := e.Count("aws_iam_role.source_reader"); n != 1 {
				t.Fatalf("%d reader roles, want 1", n)
			}
			p := decodePolicy(t, mustString(t, e, "aws_iam_role_policy.source_reader", "policy"))
			repoActions := set(actions["PullActions"])
			if tt.list {
				repoActions = set(repoActions, actions["ListActions"])
			}
			if tt.settings {
				repoActions = set(repoActions, actions["SettingsReadActions"])
			}
			want := map[string][]string{"*": actions["AuthActions"]}
			arns := srcARNs
			if tt.vars["repositories"] != cty.NilVal {
				arns = srcARNs[:1]
			}
			for _, a := range arns {
				want[a] = repoActions
			}
			if tt.registry {
				want[srcRegistryARN] = actions["RegistryListActions"]
			}
			checkGrants(t, "reader role", grantsOf(p), want)
			if got := mustString(t, e, "aws_iam_role.source_reader", "name"); "arn:aws:iam::"+srcAccount+":role/"+got != readerARN {
				t.Errorf("reader role named %s, but the config and the function's policy say %s", got, readerARN)
			}
		})
	}
}

// Only the function's role may assume the reader role, with an ecrsync session name, and the
// function's role may assume exactly that role.
func TestSourceReaderRoleTrustsOnlyTheFunction(t *testing.T) {
	m := load(t)
	e := evaluate(t, m, nil)
	trust := decodePolicy(t, mustString(t, e, "aws_iam_role.source_reader", "assume_role_policy"))
	if len(trust.Statement) != 1 {
		t.Fatalf("trust has %d statements, want 1", len(trust.Statement))
	}
	s := trust.Statement[0]
	if got := list(s.Principal["AWS"]); !slices.Equal(got, []string{tfeval.Mock("aws_iam_role.this", "arn")}) || len(s.Principal) != 1 {
		t.Errorf("trust principal %v, want the function's role only", s.Principal)
	}
	if !slices.Equal(list(s.Action), []string{"sts:AssumeRole"}) {
		t.Errorf("trust actions %v", s.Action)
	}
	if s.Condition["StringLike"]["sts:RoleSessionName"] != "ecrsync-*" {
		t.Errorf("trust conditions %v, want the session name pinned to ecrsync-*", s.Condition)
	}
	p := decodePolicy(t, mustString(t, e, "aws_iam_role_policy.this", "policy"))
	var assume []string
	for r, a := range grantsOf(p) {
		if slices.Contains(a, "sts:AssumeRole") {
			assume = append(assume, r)
		}
	}
	if !slices.Equal(assume, []string{readerARN}) {
		t.Errorf("the function may assume %v, want only %s", assume, readerARN)
	}
}

// With manage_source_repository_policy = true the old model is whole: no reader role, the config
// has no role_arn, the function pulls with its own role.
func TestRepositoryPolicyModelHasNoReaderRole(t *testing.T) {
	actions := engineActions(t)
	m := load(t)
	e := evaluate(t, m, map[string]cty.Value{"manage_source_repository_policy": cty.True, "repositories": strings_("my-repository-name")})
	for _, r := range []string{"aws_iam_role.source_reader", "aws_iam_role_policy.source_reader"} {
		if n, _ := e.Count(r); n != 0 {
			t.Errorf("%s count %d with the repository policy model", r, n)
		}
	}
	p := decodePolicy(t, mustString(t, e, "aws_iam_role_policy.this", "policy"))
	got := grantsOf(p)
	if w := set(actions["PullActions"], actions["ListActions"]); !slices.Equal(got[srcARNs[0]], w) {
		t.Errorf("function's actions on the source %v, want %v", got[srcARNs[0]], w)
	}
	if _, ok := got[readerARN]; ok {
		t.Error("the function may assume a reader role that does not exist")
	}
	cfg, err := e.Local("config")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GetAttr("source").Type().IsObjectType() && cfg.GetAttr("source").Type().HasAttribute("role_arn") {
		t.Error("the config names a role in the repository policy model")
	}
	if n, err := e.ForEachKeys("aws_ecr_repository_policy.source"); err != nil || len(n) != 1 {
		t.Errorf("repository policies %v, %v; want one", n, err)
	}
}

// Repository creation adds exactly CreateRepository, TagResource only when tags can be set,
// PutLifecyclePolicy only when a lifecycle policy can be set, and the KMS actions on a named key.
func TestRepositoryCreationGrantsExactly(t *testing.T) {
	actions := engineActions(t)
	m := load(t)
	key := "arn:aws:kms:" + dstRegion + ":" + dstAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name   string
		vars   map[string]cty.Value
		create []string
		kms    bool
	}{
		{"off", nil, nil, false},
		{"like the source", map[string]cty.Value{"create_repositories": cty.StringVal("ecrsync")},
			set(actions["CreateActions"], actions["CreateLifecycleActions"], actions["CreateTagActions"]), false},
		{"no lifecycle policy, no tags", map[string]cty.Value{"create_repositories": cty.StringVal("ecrsync"),
			"repository_lifecycle_policy": cty.StringVal(""), "repository_tags": cty.MapValEmpty(cty.String)}, actions["CreateActions"], false},
		{"tags, no lifecycle policy", map[string]cty.Value{"create_repositories": cty.StringVal("ecrsync"),
			"repository_lifecycle_policy": cty.StringVal(""), "repository_tags": cty.MapVal(map[string]cty.Value{"team": cty.StringVal("platform")})},
			set(actions["CreateActions"], actions["CreateTagActions"]), false},
		{"a KMS key", map[string]cty.Value{"create_repositories": cty.StringVal("ecrsync"), "repository_kms_key": cty.StringVal(key),
			"repository_lifecycle_policy": cty.StringVal(`{"rules":[]}`), "repository_tags": cty.MapValEmpty(cty.String)},
			set(actions["CreateActions"], actions["CreateLifecycleActions"]), true},
		{"CREATE_ON_PUSH template", map[string]cty.Value{"create_repositories": cty.StringVal("template"),
			"repository_creation_template_prefix": cty.StringVal("mirror")}, actions["CreateActions"], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := evaluate(t, m, tt.vars)
			p := decodePolicy(t, mustString(t, e, "aws_iam_role_policy.this", "policy"))
			got := grantsOf(p)
			for _, a := range dstARNs {
				if w := set(actions["PushActions"], tt.create); !slices.Equal(got[a], w) {
					t.Errorf("actions on %s:\n got  %v\n want %v", a, got[a], w)
				}
			}
			if tt.kms != (got[key] != nil) || (tt.kms && !slices.Equal(got[key], set(actions["KMSCreateActions"]))) {
				t.Errorf("actions on the KMS key: %v (want them: %v)", got[key], tt.kms)
			}
			for _, s := range p.Statement {
				if slices.Contains(list(s.Action), "kms:CreateGrant") && s.Condition["StringEquals"]["kms:ViaService"] != "ecr."+dstRegion+".amazonaws.com" {
					t.Errorf("KMS grant without kms:ViaService ECR: %v", s.Condition)
				}
			}
			n, _ := e.Count("aws_ecr_repository_creation_template.this")
			if template := tt.vars["create_repositories"] == cty.StringVal("template"); (n == 1) != template {
				t.Errorf("creation template count %d", n)
			}
			if n == 1 {
				applied, err := e.Attribute("aws_ecr_repository_creation_template.this", []string{"applied_for"}, "")
				if err != nil || applied.LengthInt() != 1 || applied.Index(cty.NumberIntVal(0)).AsString() != "CREATE_ON_PUSH" {
					t.Errorf("template applied_for %#v, %v", applied, err)
				}
			}
		})
	}
}

// The config's create_repository carries only what the variables set; the function reads the rest
// from the source repository.
func TestConfigCarriesRepositoryCreation(t *testing.T) {
	m := load(t)
	e := evaluate(t, m, map[string]cty.Value{"create_repositories": cty.StringVal("ecrsync"), "repository_scan_on_push": cty.True,
		"repository_tags": cty.MapVal(map[string]cty.Value{"team": cty.StringVal("platform")})})
	doc := configDocument(t, e)
	var cfg struct {
		Rules []struct {
			Destinations []struct {
				CreateRepository map[string]any `json:"create_repository"`
			} `json:"destinations"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	got := cfg.Rules[0].Destinations[0].CreateRepository
	if len(got) != 2 || got["scan_on_push"] != true || got["tags"].(map[string]any)["team"] != "platform" {
		t.Errorf("create_repository = %v, want scan_on_push and tags only", got)
	}
}

// configDocument is the config the function gets, from its environment or from the parameter.
func configDocument(t *testing.T, e *tfeval.Evaluated) string {
	t.Helper()
	env, err := e.Attribute("aws_lambda_function.this", []string{"environment", "variables"}, "")
	if err != nil {
		t.Fatal(err)
	}
	vars := env.AsValueMap()
	if v, ok := vars["ECRSYNC_CONFIG"]; ok {
		return v.AsString()
	}
	return mustString(t, e, "aws_ssm_parameter.config", "value")
}

// A config too large for Lambda's environment goes to an SSM parameter the function may read.
func TestLargeConfigGoesToTheParameter(t *testing.T) {
	m := load(t)
	rules := make([]string, 40)
	for i := range rules {
		rules[i] = `{"rulePriority":` + strconv.Itoa(i+1) + `,"description":"keep the last 30 images of this kind of tag","selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":30},"action":{"type":"expire"}}`
	}
	policyDoc := `{"rules":[` + strings.Join(rules, ",") + `]}`
	for _, large := range []bool{false, true} {
		vars := map[string]cty.Value{"create_repositories": cty.StringVal("ecrsync")}
		if large {
			vars["repository_lifecycle_policy"] = cty.StringVal(policyDoc)
		}
		e := evaluate(t, m, vars)
		env, err := e.Attribute("aws_lambda_function.this", []string{"environment", "variables"}, "")
		if err != nil {
			t.Fatal(err)
		}
		envVars := env.AsValueMap()
		_, inEnv := envVars["ECRSYNC_CONFIG"]
		param, inParam := envVars["ECRSYNC_CONFIG_PARAMETER"]
		n, _ := e.Count("aws_ssm_parameter.config")
		if inEnv == large || inParam != large || (n == 1) != large {
			t.Fatalf("large=%v: ECRSYNC_CONFIG %v, ECRSYNC_CONFIG_PARAMETER %v, parameter count %d", large, inEnv, inParam, n)
		}
		p := decodePolicy(t, mustString(t, e, "aws_iam_role_policy.this", "policy"))
		paramARN := "arn:aws:ssm:" + region + ":" + dstAccount + ":parameter/ecrsync/config"
		if got := grantsOf(p)[paramARN]; large != slices.Equal(got, []string{"ssm:GetParameter"}) {
			t.Errorf("large=%v: actions on %s: %v", large, paramARN, got)
		}
		if !large {
			continue
		}
		if param.AsString() != mustString(t, e, "aws_ssm_parameter.config", "name") {
			t.Errorf("ECRSYNC_CONFIG_PARAMETER %s names another parameter", param.AsString())
		}
		doc := configDocument(t, e)
		if len(doc) <= 4096 || !strings.Contains(doc, "keep the last 30") {
			t.Errorf("the parameter holds %d bytes without the lifecycle policy", len(doc))
		}
		if tier := mustString(t, e, "aws_ssm_parameter.config", "tier"); tier != "Advanced" {
			t.Errorf("a %d-byte parameter in tier %s (Standard holds 4 KB)", len(doc), tier)
		}
		if typ := mustString(t, e, "aws_ssm_parameter.config", "type"); typ != "String" {
			t.Errorf("parameter type %s", typ)
		}
	}
}
