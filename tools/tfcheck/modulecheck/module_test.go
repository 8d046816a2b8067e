package modulecheck

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/ecrsync/ecrsync/tools/tfcheck/eventpattern"
	"github.com/ecrsync/ecrsync/tools/tfcheck/tfeval"
)

const (
	repoRoot  = "../../.."
	moduleDir = repoRoot + "/deploy/terraform/modules/ecrsync"
	// actionsFile is where the engine lists the ECR actions it calls.
	actionsFile = repoRoot + "/internal/ecr/actions.go"
	// lambdaFixtures are the Lambda's event fixtures; ownFixtures stand in until they exist.
	lambdaFixtures = repoRoot + "/internal/event/testdata"
	ownFixtures    = "../testdata/events"

	srcAccount = "111111111111"
	dstAccount = "222222222222"
	region     = "us-west-2" // the Region of the documented push event
	dstRegion  = "eu-west-1"
)

// fallbackActions is a copy of internal/ecr/actions.go for as long as that file does not exist;
// once it does, the test reads the lists from it (engineActions) and this copy is not used.
var fallbackActions = map[string][]string{
	"PullActions": {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"},
	"PushActions": {
		"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
		"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
	},
	"ListActions":            {"ecr:ListImages"},
	"RegistryListActions":    {"ecr:DescribeRepositories"},
	"AuthActions":            {"ecr:GetAuthorizationToken"},
	"SettingsReadActions":    {"ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource"},
	"CreateActions":          {"ecr:CreateRepository"},
	"CreateLifecycleActions": {"ecr:PutLifecyclePolicy"},
	"CreateTagActions":       {"ecr:TagResource"},
	"KMSCreateActions":       {"kms:CreateGrant", "kms:DescribeKey"},
	"ScanReadActions":        {"ecr:DescribeImageScanFindings"},
	"KMSVerifyActions":       {"kms:GetPublicKey"},
	"DeleteActions":          {"ecr:BatchDeleteImage"},
	"PruneListActions":       {"ecr:ListImages"},
}

// engineActions reads the string literals of the action lists (fallbackActions' names) from
// internal/ecr/actions.go, so the policies follow the engine.
func engineActions(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, actionsFile, nil, 0)
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("%s does not exist yet: using the copy in this test", actionsFile)
		return fallbackActions
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if _, wanted := fallbackActions[name.Name]; !wanted || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.CompositeLit)
			if !ok {
				t.Fatalf("%s: %s is not a composite literal of strings", actionsFile, name.Name)
			}
			for _, e := range lit.Elts {
				bl, ok := e.(*ast.BasicLit)
				if !ok || bl.Kind != token.STRING {
					t.Fatalf("%s: %s holds something other than string literals", actionsFile, name.Name)
				}
				s, _ := strconv.Unquote(bl.Value)
				out[name.Name] = append(out[name.Name], s)
			}
		}
		return true
	})
	for name := range fallbackActions {
		if len(out[name]) == 0 {
			t.Fatalf("%s has no %s list", actionsFile, name)
		}
	}
	return out
}

func load(t *testing.T) *tfeval.Module {
	t.Helper()
	m, err := tfeval.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func baseVars() map[string]cty.Value {
	return map[string]cty.Value{
		"name":                   cty.StringVal("ecrsync"),
		"source_account_id":      cty.StringVal(srcAccount),
		"destination_account_id": cty.StringVal(dstAccount),
		"destination_region":     cty.StringVal(dstRegion),
		"repositories":           strings_("my-repository-name", "team/*"),
		"image_tags":             strings_("latest", "v*"),
		"destination_repository": cty.StringVal("mirror/{repository}"),
		"package_file":           cty.StringVal("dist/ecrsync-lambda-arm64.zip"),
	}
}

func strings_(s ...string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(s))
	for i, x := range s {
		vals[i] = cty.StringVal(x)
	}
	return cty.ListVal(vals)
}

func evaluate(t *testing.T, m *tfeval.Module, override map[string]cty.Value) *tfeval.Evaluated {
	t.Helper()
	vars := baseVars()
	for k, v := range override {
		vars[k] = v
	}
	e, err := m.Evaluate(tfeval.Inputs{
		Vars: vars,
		Data: map[string]map[string]cty.Value{
			"aws_partition.this":         {"partition": cty.StringVal("aws")},
			"aws_region.this":            {"region": cty.StringVal(region)},
			"aws_region.source":          {"region": cty.StringVal(region)},
			"aws_caller_identity.this":   {"account_id": cty.StringVal(dstAccount)},
			"aws_caller_identity.source": {"account_id": cty.StringVal(srcAccount)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustString(t *testing.T, e *tfeval.Evaluated, resource string, path ...string) string {
	t.Helper()
	s, err := e.String(resource, path, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// policy is an IAM policy document; Action, Resource and Principal may be a string or a list.
type policy struct {
	Statement []statement
}

type statement struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Principal map[string]any
	Condition map[string]map[string]any
}

func list(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = s.(string)
		}
		return out
	}
	panic("unexpected policy value")
}

func decodePolicy(t *testing.T, doc string) policy {
	t.Helper()
	var p policy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, doc)
	}
	return p
}

func set(xs ...[]string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// ecrGrants maps each resource ARN to the sorted ECR actions the policy allows on it.
func ecrGrants(t *testing.T, p policy) map[string][]string {
	t.Helper()
	grants := map[string][]string{}
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: Effect %q; the module only allows", s.Sid, s.Effect)
		}
		for _, a := range list(s.Action) {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s: wildcard action %q", s.Sid, a)
			}
			if !strings.HasPrefix(a, "ecr:") {
				continue
			}
			for _, r := range list(s.Resource) {
				grants[r] = set(grants[r], []string{a})
			}
		}
	}
	return grants
}

func TestFunctionPolicyGrantsExactlyTheEngineActions(t *testing.T) {
	actions := engineActions(t)
	m := load(t)
	for _, reconcile := range []bool{true, false} {
		t.Run("reconcile="+strconv.FormatBool(reconcile), func(t *testing.T) {
			e := evaluate(t, m, map[string]cty.Value{"reconcile_enabled": cty.BoolVal(reconcile)})
			p := decodePolicy(t, mustString(t, e, "aws_iam_role_policy.this", "policy"))

			// The function pushes; the source is read through the reader role (checked in
			// TestSourceReaderRoleReadsExactlyTheSource).
			want := map[string][]string{"*": set(actions["AuthActions"])}
			for _, a := range dstARNs {
				want[a] = set(actions["PushActions"])
			}
			got := ecrGrants(t, p)
			for arn, w := range want {
				if !slices.Equal(got[arn], w) {
					t.Errorf("ECR actions on %s:\n got  %v\n want %v", arn, got[arn], w)
				}
			}
			for arn := range got {
				if _, ok := want[arn]; !ok {
					t.Errorf("ECR actions granted on unexpected resource %s: %v", arn, got[arn])
				}
			}

			// Everything else: logs on its own log group, SQS on its own queues, nothing more.
			logGroup := mustString(t, e, "aws_cloudwatch_log_group.this", "name")
			failure := mustString(t, e, "aws_sqs_queue.failure", "name")
			reconcileQueue := mustString(t, e, "aws_sqs_queue.reconcile", "name")
			wantOther := map[string][]string{
				"arn:aws:logs:" + region + ":" + dstAccount + ":log-group:" + logGroup + ":*": {"logs:CreateLogStream", "logs:PutLogEvents"},
				"arn:aws:sqs:" + region + ":" + dstAccount + ":" + failure:                    {"sqs:SendMessage"},
			}
			wantOther[readerARN] = []string{"sts:AssumeRole"}
			if reconcile {
				wantOther["arn:aws:sqs:"+region+":"+dstAccount+":"+reconcileQueue] = []string{
					"sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage",
				}
			}
			gotOther := map[string][]string{}
			for _, s := range p.Statement {
				for _, a := range list(s.Action) {
					if strings.HasPrefix(a, "ecr:") {
						continue
					}
					for _, r := range list(s.Resource) {
						gotOther[r] = set(gotOther[r], []string{a})
					}
				}
			}
			for r, w := range wantOther {
				if !slices.Equal(gotOther[r], set(w)) {
					t.Errorf("actions on %s: got %v, want %v", r, gotOther[r], set(w))
				}
			}
			for r, a := range gotOther {
				if _, ok := wantOther[r]; !ok {
					t.Errorf("unexpected grant %v on %s", a, r)
				}
			}
		})
	}
}

func TestSourceRepositoryPolicyLetsTheFunctionRolePull(t *testing.T) {
	actions := engineActions(t)
	m := load(t)
	e := evaluate(t, m, map[string]cty.Value{
		"manage_source_repository_policy":         cty.True,
		"source_repository_policy_principal_arns": strings_("arn:aws:iam::333333333333:role/ecrsync-dr"),
	})
	keys, err := e.ForEachKeys("aws_ecr_repository_policy.source")
	if err != nil {
		t.Fatal(err)
	}
	// Globs ("team/*") cannot carry a repository policy.
	if !slices.Equal(keys, []string{"my-repository-name"}) {
		t.Errorf("repository policies on %v, want only [my-repository-name]", keys)
	}
	doc, err := e.String("aws_ecr_repository_policy.source", []string{"policy"}, "my-repository-name")
	if err != nil {
		t.Fatal(err)
	}
	p := decodePolicy(t, doc)
	if len(p.Statement) != 1 {
		t.Fatalf("want one statement, got %d", len(p.Statement))
	}
	s := p.Statement[0]
	if got, want := set(list(s.Action)), set(actions["PullActions"], actions["ListActions"]); !slices.Equal(got, want) {
		t.Errorf("repository policy actions %v, want %v", got, want)
	}
	wantPrincipals := set([]string{tfeval.Mock("aws_iam_role.this", "arn"), "arn:aws:iam::333333333333:role/ecrsync-dr"})
	if got := set(list(s.Principal["AWS"])); !slices.Equal(got, wantPrincipals) {
		t.Errorf("repository policy principals %v, want the function's role and the extra ones %v", got, wantPrincipals)
	}

	for _, v := range []cty.Value{cty.False, cty.NullVal(cty.Bool)} {
		e = evaluate(t, m, map[string]cty.Value{"manage_source_repository_policy": v})
		if keys, _ := e.ForEachKeys("aws_ecr_repository_policy.source"); len(keys) != 0 {
			t.Errorf("manage_source_repository_policy=%#v still sets policies on %v", v, keys)
		}
	}
}

func TestInvokeRoleIsLimitedToTheRuleAndTheFunction(t *testing.T) {
	m := load(t)
	e := evaluate(t, m, nil)
	fn := mustString(t, e, "aws_lambda_function.this", "function_name")
	rule := mustString(t, e, "aws_cloudwatch_event_rule.this", "name")
	fnARN := "arn:aws:lambda:" + region + ":" + dstAccount + ":function:" + fn
	ruleARN := "arn:aws:events:" + region + ":" + srcAccount + ":rule/" + rule

	p := decodePolicy(t, mustString(t, e, "aws_iam_role_policy.invoke", "policy"))
	if len(p.Statement) != 1 || !slices.Equal(list(p.Statement[0].Action), []string{"lambda:InvokeFunction"}) ||
		!slices.Equal(list(p.Statement[0].Resource), []string{fnARN}) {
		t.Errorf("invoke policy %+v, want lambda:InvokeFunction on %s only", p.Statement, fnARN)
	}
	trust := decodePolicy(t, mustString(t, e, "aws_iam_role.invoke", "assume_role_policy"))
	c := trust.Statement[0].Condition["StringEquals"]
	if trust.Statement[0].Principal["Service"] != "events.amazonaws.com" || c["aws:SourceArn"] != ruleARN || c["aws:SourceAccount"] != srcAccount {
		t.Errorf("invoke role trust %+v, want events.amazonaws.com for %s only", trust.Statement[0], ruleARN)
	}
	// The source account (its IAM lets only the invoke role invoke, above); not the role's ARN,
	// which Lambda may not resolve yet on a first apply (terraform-provider-aws #41617).
	if got := mustString(t, e, "aws_lambda_permission.events", "principal"); got != srcAccount {
		t.Errorf("lambda permission principal %s, want the source account %s", got, srcAccount)
	}
	dlq := decodePolicy(t, mustString(t, e, "aws_sqs_queue_policy.dead_letter", "policy"))
	dlqName := mustString(t, e, "aws_sqs_queue.dead_letter", "name")
	if got := list(dlq.Statement[0].Resource); !slices.Equal(got, []string{"arn:aws:sqs:" + region + ":" + srcAccount + ":" + dlqName}) {
		t.Errorf("dead-letter queue policy on %v, want the rule's queue %s", got, dlqName)
	}
	if got := dlq.Statement[0].Condition["ArnEquals"]["aws:SourceArn"]; got != ruleARN {
		t.Errorf("dead-letter queue policy for %v, want %s", got, ruleARN)
	}
}

// fixture is one event file and whether the module's rule must let it through.
type fixture struct {
	path string
	body []byte
}

func fixtures(t *testing.T, dir string) []fixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fixture{f, b})
	}
	return out
}

// wantMatch is the oracle: what the rule must let through, written from the contract (successful
// pushes of a chosen repository and a non-empty chosen tag) rather than from EventBridge's syntax.
func wantMatch(body []byte, repos, tags []string) (match, ok bool) {
	var ev struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
		Detail     struct {
			Result     string `json:"result"`
			ActionType string `json:"action-type"`
			Repository string `json:"repository-name"`
			Tag        string `json:"image-tag"`
		} `json:"detail"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return false, false
	}
	glob := func(patterns []string, s string) bool {
		for _, p := range patterns {
			if m, _ := eventpattern.Wildcard(p, s); m {
				return true
			}
		}
		return false
	}
	return ev.Source == "aws.ecr" && ev.DetailType == "ECR Image Action" && ev.Detail.Result == "SUCCESS" &&
		ev.Detail.ActionType == "PUSH" && ev.Detail.Tag != "" &&
		glob(repos, ev.Detail.Repository) && glob(tags, ev.Detail.Tag), true
}

func TestEventPatternMatchesThePushFixtureOnly(t *testing.T) {
	m := load(t)
	dirs := []string{ownFixtures}
	if _, err := os.Stat(lambdaFixtures); err == nil {
		dirs = append(dirs, lambdaFixtures)
	} else {
		t.Logf("%s does not exist yet: checking this module's own fixtures only", lambdaFixtures)
	}
	for _, dir := range dirs {
		all := fixtures(t, dir)
		var push []byte
		for _, f := range all {
			if filepath.Base(f.path) == "push.json" {
				push = f.body
			}
		}
		if push == nil {
			t.Fatalf("%s has no push.json", dir)
		}
		var ev struct {
			Detail struct {
				Repository string `json:"repository-name"`
				Tag        string `json:"image-tag"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(push, &ev); err != nil || ev.Detail.Repository == "" || ev.Detail.Tag == "" {
			t.Fatalf("%s/push.json: no repository-name and image-tag (%v)", dir, err)
		}
		configs := []struct {
			name        string
			repos, tags []string
		}{
			{"names", []string{ev.Detail.Repository}, []string{ev.Detail.Tag}},
			{"globs", []string{"other", ev.Detail.Repository[:1] + "*"}, []string{"v*", ev.Detail.Tag[:1] + "*"}},
			{"every tag", []string{ev.Detail.Repository}, []string{"*"}},
		}
		for _, c := range configs {
			t.Run(filepath.Base(dir)+"/"+c.name, func(t *testing.T) {
				e := evaluate(t, m, map[string]cty.Value{"repositories": strings_(c.repos...), "image_tags": strings_(c.tags...)})
				pattern := mustString(t, e, "aws_cloudwatch_event_rule.this", "event_pattern")
				rejected := 0
				for _, f := range all {
					want, ok := wantMatch(f.body, c.repos, c.tags)
					if !ok {
						t.Logf("%s: not a JSON event, skipped", f.path)
						continue
					}
					got, err := eventpattern.Match([]byte(pattern), f.body)
					if err != nil {
						t.Fatalf("%s: %v", f.path, err)
					}
					if filepath.Base(f.path) == "push.json" && !got {
						t.Errorf("the rule does not match %s\npattern: %s", f.path, pattern)
					}
					if got != want {
						t.Errorf("%s: match = %v, want %v\npattern: %s", f.path, got, want, pattern)
					}
					if !got {
						rejected++
					}
				}
				if rejected == 0 {
					t.Errorf("no fixture in %s is rejected: the pattern lets everything through", dir)
				}
			})
		}
	}
}

func TestFunctionConfigFollowsTheContract(t *testing.T) {
	m := load(t)
	for _, reconcile := range []bool{true, false} {
		e := evaluate(t, m, map[string]cty.Value{"reconcile_enabled": cty.BoolVal(reconcile)})
		env, err := e.Attribute("aws_lambda_function.this", []string{"environment", "variables"}, "")
		if err != nil {
			t.Fatal(err)
		}
		vars := env.AsValueMap()
		var cfg struct {
			Source struct {
				AccountID string `json:"account_id"`
				Region    string `json:"region"`
				RoleARN   string `json:"role_arn"`
			} `json:"source"`
			Rules []struct {
				Repositories []string `json:"repositories"`
				Tags         []string `json:"tags"`
				Destinations []struct {
					AccountID  string `json:"account_id"`
					Region     string `json:"region"`
					Repository string `json:"repository"`
				} `json:"destinations"`
			} `json:"rules"`
		}
		d := json.NewDecoder(strings.NewReader(vars["ECRSYNC_CONFIG"].AsString()))
		d.DisallowUnknownFields()
		if err := d.Decode(&cfg); err != nil {
			t.Fatalf("ECRSYNC_CONFIG: %v", err)
		}
		if cfg.Source.AccountID != srcAccount || cfg.Source.Region != region || cfg.Source.RoleARN != readerARN || len(cfg.Rules) != 1 ||
			!slices.Equal(cfg.Rules[0].Repositories, []string{"my-repository-name", "team/*"}) ||
			!slices.Equal(cfg.Rules[0].Tags, []string{"latest", "v*"}) || len(cfg.Rules[0].Destinations) != 1 ||
			cfg.Rules[0].Destinations[0].AccountID != dstAccount || cfg.Rules[0].Destinations[0].Region != dstRegion ||
			cfg.Rules[0].Destinations[0].Repository != "mirror/{repository}" {
			t.Errorf("ECRSYNC_CONFIG = %+v", cfg)
		}
		_, hasQueue := vars["ECRSYNC_RECONCILE_QUEUE_URL"]
		if hasQueue != reconcile {
			t.Errorf("reconcile_enabled=%v: ECRSYNC_RECONCILE_QUEUE_URL set = %v", reconcile, hasQueue)
		}
		for _, r := range []string{"aws_sqs_queue.reconcile", "aws_lambda_event_source_mapping.reconcile", "aws_cloudwatch_event_rule.reconcile", "aws_cloudwatch_event_target.reconcile", "aws_lambda_permission.reconcile"} {
			n, err := e.Count(r)
			if err != nil {
				t.Fatal(err)
			}
			if (n == 1) != reconcile {
				t.Errorf("reconcile_enabled=%v: %s count %d", reconcile, r, n)
			}
		}
		if reconcile {
			input := mustString(t, e, "aws_cloudwatch_event_target.reconcile", "input")
			if input != `{"ecrsync":"reconcile"}` {
				t.Errorf("reconcile schedule input %s", input)
			}
			types, err := e.Attribute("aws_lambda_event_source_mapping.reconcile", []string{"function_response_types"}, "")
			if err != nil || types.LengthInt() != 1 || types.Index(cty.NumberIntVal(0)).AsString() != "ReportBatchItemFailures" {
				t.Errorf("event source mapping function_response_types = %#v, %v", types, err)
			}
		}
	}
}

func TestVariablesRejectBadInput(t *testing.T) {
	m := load(t)
	tests := []struct {
		variable string
		value    cty.Value
	}{
		{"source_account_id", cty.StringVal("12345")},
		{"destination_account_id", cty.StringVal("22222222222a")},
		{"destination_region", cty.StringVal("Europe")},
		{"repositories", strings_()},
		{"repositories", strings_("App")},
		{"repositories", strings_("team/**")},
		{"repositories", strings_("team/?")},
		{"image_tags", strings_()},
		{"image_tags", strings_("-dev")},
		{"image_tags", strings_("dev tag")},
		{"destination_repository", cty.StringVal("Mirror/{repository}")},
		{"name", cty.StringVal("a-name-far-too-long-for-the-sqs-and-iam-suffixes")},
		{"memory_size", cty.NumberIntVal(64)},
		{"timeout", cty.NumberIntVal(901)},
		{"log_retention_in_days", cty.NumberIntVal(2)},
		{"log_level", cty.StringVal("VERBOSE")},
		{"reconcile_schedule", cty.StringVal("every hour")},
		{"vpc_subnet_ids", strings_("vpc-123")},
		{"package_file", cty.StringVal("bootstrap")},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value.GoString(), func(t *testing.T) {
			vars := baseVars()
			vars[tt.variable] = tt.value
			_, err := m.Evaluate(tfeval.Inputs{Vars: vars})
			var ve *tfeval.ValidationError
			if !errors.As(err, &ve) || ve.Variable != tt.variable {
				t.Errorf("got %v, want a validation error on %s", err, tt.variable)
			}
		})
	}
}
