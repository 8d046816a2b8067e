package modulecheck

import (
	"archive/zip"
	"os"
	"path/filepath"
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
// guards it must then fail. One mutation per assertion family (or more where a family guards
// several properties).
func TestTerraformTestFailsWhenAGuardedPropertyBreaks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	env := tftest.New(t, repoRoot)
	for _, m := range []struct {
		name, file, old, new string
		run                  string // the run that must fail
		message              string // and a text the output must hold, if any
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
			old: `"aws:SourceArn"     = local.rule_arn`, new: `"aws:SourceArn"     = "arn:${local.partition}:events:${local.source_region}:${var.source_account_id}:rule/*"`, run: "invoke_role"},
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
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			dir := moduleCopy(t, env)
			edit(t, dir, m.file, m.old, m.new)
			out, err := env.Run(dir, "test", "-no-color")
			if err == nil {
				t.Fatalf("terraform test passed with %q broken:\n%s", m.name, out)
			}
			if !strings.Contains(out, `run "`+m.run+`"... fail`) {
				t.Errorf("run %q did not fail (it guards this property):\n%s", m.run, out)
			}
		})
	}
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
			head := string(plan[:strings.Index(string(plan), "run \"")])
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
