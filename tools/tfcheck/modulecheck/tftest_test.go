package modulecheck

import (
	"archive/zip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/tools/tfcheck/tftest"
)

// moduleCopy copies the module into a temp dir with a package/ fixture zip, as the release archive
// has one (package_source = "release"), and runs terraform init there.
func moduleCopy(t *testing.T, env *tftest.Env) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ecrsync")
	tftest.CopyDir(t, moduleDir, dir)
	writeZip(t, filepath.Join(dir, "package", "ecrsync-lambda-arm64.zip"), "bootstrap", "#!/bin/sh\n")
	if out, err := env.Run(dir, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	return dir
}

func writeZip(t *testing.T, path, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create(name)
	if err == nil {
		_, err = w.Write([]byte(body))
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// edit replaces old with new in file of the module copy; old must occur exactly once.
func edit(t *testing.T, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), old); n != 1 {
		t.Fatalf("%s holds %q %d times, want once: the mutation no longer fits the module; update this test", file, old, n)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The module's terraform tests pass as they are.
func TestTerraformTestPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	env := tftest.New(t, repoRoot)
	dir := moduleCopy(t, env)
	out, err := env.Run(dir, "test", "-no-color")
	if err != nil {
		t.Fatalf("terraform test failed on the module as it is: %v\n%s", err, out)
	}
	t.Logf("%s", lastLine(out))
}

// A test of the tests: each guarded property is broken in a copy of the module, and the run that
// guards it must then fail, by an assertion or by an expected failure that no longer happens (a
// mutation that only breaks the configuration proves nothing). One mutation per assertion family (or
// more where a family guards several properties). Each runs that run alone (singleRun); the suite
// as a whole passes on the module as it is (TestTerraformTestPasses).
func TestTerraformTestFailsWhenAGuardedPropertyBreaks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	env := tftest.New(t, repoRoot)
	for _, m := range []struct {
		name, file, old, new string
		run                  string // the run that must fail
	}{
		{name: "IAM action widened to ecr:*", file: "locals.tf", old: `"ecr:PutImage"`, new: `"ecr:*"`, run: "iam_function_role"},
		{name: "IAM push on every repository", file: "locals.tf",
			old: `"arn:${local.partition}:ecr:${local.destination_region}:${var.destination_account_id}:repository/${r}"]`,
			new: `"arn:${local.partition}:ecr:${local.destination_region}:${var.destination_account_id}:repository/*"]`, run: "iam_function_role"},
		{name: "function role assumable from any account", file: "locals.tf",
			old: `Condition = { StringEquals = { "aws:SourceAccount" = var.destination_account_id } }`, new: ``, run: "iam_function_role"},
		{name: "permission for anyone", file: "main.tf", old: `principal     = var.source_account_id`, new: `principal     = "*"`, run: "lambda_permissions"},
		{name: "reconcile permission without its rule", file: "reconcile.tf", old: `source_arn     = local.reconcile_rule_arn`, new: ``, run: "lambda_permissions"},
		{name: "invoke role trust for any rule", file: "locals.tf",
			old: `"aws:SourceArn" = local.rule_arn },`, new: `"aws:SourceArn" = "arn:${local.partition}:events:${local.source_region}:${var.source_account_id}:rule/*" },`, run: "invoke_role"},
		{name: "invoke role may invoke any function", file: "locals.tf",
			old: `Resource = [local.function_arn]`, new: `Resource = ["*"]`, run: "invoke_role"},
		{name: "event pattern takes failed pushes", file: "locals.tf", old: `result        = ["SUCCESS"]`, new: `result        = ["SUCCESS", "FAILURE"]`, run: "event_pattern"},
		{name: "every tag includes untagged", file: "locals.tf", old: `{ "anything-but" = "" }`, new: `{ wildcard = "*" }`, run: "every_tag"},
		{name: "dead-letter queue open to every rule", file: "locals.tf",
			old: `Condition = { ArnEquals = { "aws:SourceArn" = local.rule_arn } }`, new: `Condition = { ArnLike = { "aws:SourceArn" = "arn:${local.partition}:events:*" } }`, run: "dead_letter_queue_policy"},
		{name: "region precondition gone", file: "main.tf",
			old: "condition     = local.function_region == local.source_region\n      error_message = \"The default provider", new: "condition     = local.function_region != \"\"\n      error_message = \"The default provider",
			run: "cross_region_without_the_documented_path_fails"},
		{name: "package file not deployed", file: "main.tf", old: `filename          = local.package_filename`, new: `filename          = null`, run: "package_file"},
		{name: "package hash check gone", file: "package.tf", old: `var.package_source == "file" ? var.package_file != null && var.package_hash != null :`, new: `var.package_source == "file" ? true :`, run: "package_file_missing_fails"},
		{name: "S3 object not deployed", file: "main.tf", old: `s3_bucket         = local.package_s3_bucket`, new: `s3_bucket         = null`, run: "package_s3"},
		{name: "release zip not the module's", file: "package.tf", old: `var.package_source == "release" ? local.release_package_file : null`, new: `var.package_source == "release" ? var.package_file : null`, run: "package_release"},
		{name: "reserved concurrency unchecked", file: "main.tf", old: `coalesce(var.reserved_concurrency, 1000) >= (var.reconcile_enabled ? var.reconcile_maximum_concurrency : 1)`, new: `coalesce(var.reserved_concurrency, 1000) >= 0`, run: "reserved_concurrency_below_reconcile_fails"},
		{name: "IAM role name without the Region", file: "locals.tf", old: `function_role_name = "${var.name}-${local.function_region}"`, new: `function_role_name = var.name`, run: "names_eu_central_1"},
		{name: "alarm without action", file: "alarms.tf", old: "alarm_actions       = local.source_alarm_actions", new: "alarm_actions       = []", run: "alarms_have_actions"},
		{name: "queue alarm on depth, not age", file: "alarms.tf", old: `metric_name = "ApproximateAgeOfOldestMessage"`, new: `metric_name = "ApproximateNumberOfMessagesVisible"`, run: "alarms_have_actions"},
		{name: "source alarms to the destination's topic", file: "alarms.tf", old: `aws_sns_topic.source_alarms[*].arn,`, new: `aws_sns_topic.alarms[*].arn,`, run: "alarms_have_actions"},
		{name: "EventBridge delivery alarm missing", file: "alarms.tf", old: `metric_name = "FailedInvocations"`, new: `metric_name = "Invocations"`, run: "alarms_have_actions"},
		// Access to the source account (source_reader.tf, source.tf).
		{name: "function may assume any role", file: "source_reader.tf", old: `Resource = [local.source_reader_arn]`, new: `Resource = ["*"]`, run: "iam_function_role"},
		{name: "function pulls the source itself too", file: "locals.tf",
			old: `local.access_statements,`, new: `local.access_statements, [{ Sid = "EcrReadSource", Effect = "Allow", Action = local.ecr_pull_actions, Resource = local.source_repository_arns }],`, run: "iam_function_role"},
		{name: "reader role widened to ecr:*", file: "source_reader.tf",
			old: "Sid      = \"EcrReadSource\"\n        Effect   = \"Allow\"\n        Action   = local.source_repository_actions",
			new: "Sid      = \"EcrReadSource\"\n        Effect   = \"Allow\"\n        Action   = [\"ecr:*\"]", run: "source_reader_role"},
		{name: "reader role reads repository settings without repository creation", file: "source_reader.tf",
			old: `local.repository_creation_by_ecrsync ? local.ecr_settings_read_actions : [],`, new: `local.ecr_settings_read_actions,`, run: "source_reader_role"},
		{name: "reader role lists the registry unconditionally", file: "source_reader.tf",
			old: `source_registry_listing = var.reconcile_enabled && local.source_uses_globs`, new: `source_registry_listing = true`, run: "source_reader_without_globs"},
		{name: "reader role lists images without the reconcile", file: "source_reader.tf",
			old: `var.reconcile_enabled ? local.ecr_list_actions : [],`, new: `local.ecr_list_actions,`, run: "source_reader_without_reconcile"},
		{name: "reader role name without the Region", file: "source_reader.tf",
			old: `source_reader_name = "${var.name}-reader-${local.source_region}"`, new: `source_reader_name = "${var.name}-reader"`, run: "names_eu_central_1"},
		{name: "config without the reader role", file: "source_reader.tf",
			old: `local.source_policy_access ? {} : { role_arn = local.source_reader_arn },`, new: `{},`, run: "source_reader_role"},
		{name: "reader role trust without the session name condition", file: "source_reader.tf",
			old: `Condition = { StringLike = { "sts:RoleSessionName" = "ecrsync-*" } }`, new: ``, run: "source_reader_trust"},
		{name: "reader role trusts the whole destination account", file: "source_reader.tf",
			old: `Principal = { AWS = aws_iam_role.this.arn }`, new: `Principal = { AWS = "arn:${local.partition}:iam::${var.destination_account_id}:root" }`, run: "source_reader_trust"},
		{name: "repository policy without opting in", file: "source.tf",
			old: `for_each = local.source_policy_access ? toset(local.literal_repositories) : toset([])`, new: `for_each = toset(local.literal_repositories)`, run: "source_reader_role"},
		{name: "repository policy for anyone", file: "locals.tf",
			old: `Principal = { AWS = concat([aws_iam_role.this.arn], var.source_repository_policy_principal_arns) }`, new: `Principal = { AWS = "*" }`, run: "source_repository_policy_opt_in"},
		{name: "unset access model does not warn", file: "source_reader.tf",
			old: `condition     = var.manage_source_repository_policy != null`, new: `condition     = var.name != ""`, run: "source_repository_policy_unset_warns"},
		{name: "repository policy with globs does not warn", file: "source_reader.tf",
			old: `condition     = !(local.source_policy_access && local.source_registry_listing)`, new: `condition     = var.name != ""`, run: "source_repository_policy_with_globs_warns"},
		// Repository creation (repository_creation.tf).
		{name: "creation granted without create_repositories", file: "repository_creation.tf",
			old: `var.create_repositories == "none" ? [] : [{`, new: `false ? [] : [{`, run: "iam_function_role"},
		{name: "template creation may set lifecycle policies", file: "repository_creation.tf",
			old: `local.repository_creation_by_ecrsync && local.repository_lifecycle_possible ?`, new: `local.repository_lifecycle_possible ?`, run: "repository_creation_template"},
		{name: "creation KMS key usable outside ECR", file: "repository_creation.tf",
			old: `Condition = { StringEquals = { "kms:ViaService" = "ecr.${local.destination_region}.amazonaws.com" } }`, new: ``, run: "repository_creation_ecrsync"},
		{name: "template without its prefix", file: "repository_creation.tf",
			old: `condition     = var.repository_creation_template_prefix != null`, new: `condition     = var.name != ""`, run: "repository_creation_template_without_prefix_fails"},
		// Gates (gates.tf) and the function's /tmp.
		{name: "scan findings read without a scan gate", file: "gates.tf",
			old: `gate_source_actions = local.gate_scan ? ["ecr:DescribeImageScanFindings"] : []`, new: `gate_source_actions = ["ecr:DescribeImageScanFindings"]`, run: "source_reader_role"},
		{name: "scan target missing", file: "gates.tf", old: "count    = local.gate_scan ? 1 : 0\n\n  rule", new: "count    = 0\n\n  rule", run: "gate_scan"},
		{name: "scan rule without Inspector's events", file: "gates.tf", old: `source        = ["aws.ecr", "aws.inspector2"]`, new: `source        = ["aws.ecr"]`, run: "gate_scan"},
		{name: "invoke role trusts any rule with a scan gate", file: "locals.tf",
			old: `local.gate_scan ? { "aws:SourceArn" = [local.rule_arn, "${local.rule_arn}-scan"] } : {},`,
			new: `local.gate_scan ? { "aws:SourceArn" = ["arn:${local.partition}:events:${local.source_region}:${var.source_account_id}:rule/*"] } : {},`, run: "gate_scan"},
		{name: "kms:GetPublicKey on every key", file: "gates.tf", old: `Resource = local.gate_kms_keys`, new: `Resource = ["*"]`, run: "gate_signature_and_deletes"},
		{name: "BatchDeleteImage without propagate_deletes", file: "gates.tf", old: `var.propagate_deletes ? [{`, new: `true ? [{`, run: "iam_function_role"},
		{name: "deletes not matched by the rule", file: "locals.tf", old: `var.propagate_deletes ? ["PUSH", "DELETE"] : ["PUSH"]`, new: `["PUSH"]`, run: "gate_signature_and_deletes"},
		{name: "blocked alarm always", file: "gates.tf", old: `count = var.blocked_alarm ? 1 : 0`, new: `count = 1`, run: "gates_off"},
		{name: "ephemeral storage ignored", file: "main.tf", old: `size = var.ephemeral_storage`, new: `size = 512`, run: "ephemeral_storage"},
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			dir := moduleCopy(t, env)
			edit(t, dir, m.file, m.old, m.new)
			// Only the run that guards the property (and the runs it refers to).
			out, err := env.Run(dir, "test", "-no-color", "-filter="+singleRun(t, dir, m.run))
			if err == nil {
				t.Fatalf("terraform test passed with %q broken:\n%s", m.name, out)
			}
			if !strings.Contains(out, `run "`+m.run+`"... fail`) {
				t.Errorf("run %q did not fail (it guards this property):\n%s", m.run, out)
			}
			// Failed by what it checks (an assertion, or an expected failure that no longer
			// happens), not by a mutation that breaks the configuration.
			if !strings.Contains(out, "Error: Test assertion failed") && !strings.Contains(out, "Error: Missing expected failure") {
				t.Errorf("run %q failed, but not by an assertion or a missing expected failure:\n%s", m.run, out)
			}
		})
	}
}

var runRef = regexp.MustCompile(`\brun\.([A-Za-z0-9_-]+)\.`)

// singleRun writes tests/mutation.tftest.hcl into the module copy dir: the head (mock providers,
// overrides, variables) of the one test file that holds run, that run, and the runs it refers to
// (run.NAME.output), in their order. It returns the file's path for -filter: a mutation then costs
// one run, not the whole suite (two cores run them all).
func singleRun(t *testing.T, dir, run string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "tests", "*.tftest.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	var text string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "\nrun \""+run+"\" {\n") {
			found = append(found, filepath.Base(f))
			text = string(b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("run %q is in %d test files %v, want one: update this test", run, len(found), found)
	}
	// The files' layout: a run starts at a line `run "NAME" {` and ends at the next line "}".
	var head strings.Builder
	blocks := map[string]string{}
	var order []string
	current := ""
	for _, line := range strings.SplitAfter(text, "\n") {
		switch {
		case current == "" && strings.HasPrefix(line, `run "`) && strings.HasSuffix(line, "\" {\n"):
			current = strings.TrimSuffix(strings.TrimPrefix(line, `run "`), "\" {\n")
			order = append(order, current)
			blocks[current] = line
		case current != "":
			blocks[current] += line
			if line == "}\n" {
				current = ""
			}
		case len(order) == 0:
			head.WriteString(line)
		}
	}
	if current != "" {
		t.Fatalf("run %q in %s does not end with a line \"}\"", current, found[0])
	}
	want := map[string]bool{run: true}
	for _, m := range runRef.FindAllStringSubmatch(blocks[run], -1) {
		want[m[1]] = true
	}
	body := head.String()
	for _, name := range order {
		if want[name] {
			body += "\n" + blocks[name]
		}
	}
	const name = "mutation.tftest.hcl"
	if err := os.WriteFile(filepath.Join(dir, "tests", name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return "tests/" + name
}

// The preconditions fail with their messages, not just fail: a run without expect_failures shows
// the text a user would see.
func TestPreconditionMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	env := tftest.New(t, repoRoot)
	for _, c := range []struct{ name, run, want string }{
		{"cross-Region function", `
  override_data {
    target = data.aws_region.this
    values = { region = "eu-west-1" }
  }`, "EventBridge invokes a function in another account only within one Region"},
		{"release without its package", `
  variables {
    package_source = "release"
    package_file   = null
  }`, `needs the module from the release archive, which holds package/ecrsync-lambda-arm64.zip`},
		{"reserved concurrency below the reconcile's", `
  variables {
    reserved_concurrency = 3
  }`, "reserved_concurrency (3) must be at least reconcile_maximum_concurrency (10)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := moduleCopy(t, env)
			if err := os.RemoveAll(filepath.Join(dir, "package")); err != nil {
				t.Fatal(err)
			}
			plan, err := os.ReadFile(filepath.Join(dir, "tests", "plan.tftest.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			head := string(plan[:strings.Index(string(plan), "\nrun \"")+1])
			body := head + "run \"message\" {\n  command = plan\n" + c.run + "\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "tests", "message.tftest.hcl"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := env.Run(dir, "test", "-no-color", "-filter=tests/message.tftest.hcl")
			if err == nil {
				t.Fatalf("plan passed:\n%s", out)
			}
			if !strings.Contains(strings.Join(strings.Fields(out), " "), c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, out)
			}
		})
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
