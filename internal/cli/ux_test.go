package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/cli"
)

// runIn runs the CLI in this process with stdin.
func runIn(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestConfigValidateReadsStandardInput: `config validate -` reads the config from stdin, as
// `handle -` reads the event (issue 14.9).
func TestConfigValidateReadsStandardInput(t *testing.T) {
	t.Parallel()
	code, out, errs := runIn("source: {registry: 127.0.0.1:5000}\nrules:\n  - destinations: [{registry: 127.0.0.1:5001}]\n", "config", "validate", "-")
	if code != cli.ExitOK || !strings.Contains(out, "valid; source 127.0.0.1:5000") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	code, _, errs = runIn("rules: [{destinations: [{regoin: x}]}]", "config", "validate", "-")
	if code != cli.ExitUsage || !strings.Contains(errs, "standard input") {
		t.Fatalf("a bad config on stdin: exit %d, stderr %s", code, errs)
	}
}

// TestFailuresWithOutputJSONWriteAnErrorObject: with -o json, a command that fails before its
// result writes {"error", "hint", "exitCode"} on stdout (issue 14.9).
func TestFailuresWithOutputJSONWriteAnErrorObject(t *testing.T) {
	t.Parallel()
	src, dst := startPair(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("rules: [{destinations: [{regoin: eu-west-1}]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		hint string
	}{
		{[]string{"copy", src.Addr + "/app:nope", dst.Addr + "/app", "-o", "json", "--log-level", "error"}, cli.ExitFailed, "not found in the source"},
		{[]string{"config", "validate", bad, "-o", "json"}, cli.ExitUsage, ""},
	} {
		code, out, errs := run(tt.args...)
		var obj struct {
			Error    string `json:"error"`
			Hint     string `json:"hint"`
			ExitCode int    `json:"exitCode"`
		}
		if err := json.Unmarshal([]byte(out), &obj); err != nil || code != tt.code || obj.ExitCode != code || obj.Error == "" || !strings.Contains(obj.Hint, tt.hint) {
			t.Errorf("%v: exit %d, stdout %q (%v), stderr %s", tt.args, code, out, err, errs)
		}
	}
}

// TestBadLogLevelIsRefusedByEveryCommand: --log-level bogus is a usage error (exit 2) whatever
// the command, before it does anything (issue 14.9).
func TestBadLogLevelIsRefusedByEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"version"}, {"config", "validate", "-"}, {"copy", "127.0.0.1:1/a:b", "127.0.0.1:1/c"}, {"handle", "-"},
		{"sync", "--config", "-"}, {"replay", "https://sqs.us-east-1.amazonaws.com/1/q"},
	} {
		for _, bad := range [][]string{{"--log-level", "bogus"}, {"--log-format", "xml"}, {"-o", "yaml"}} {
			a := append(append([]string{}, args...), bad...)
			if code, _, errs := runIn("{}", a...); code != cli.ExitUsage || !strings.Contains(errs, bad[0]) {
				t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", a, code, errs, bad[0])
			}
		}
	}
}

// TestHandleTextOutputAndNonObjectInput: `handle -o text` prints a line per outcome, not JSON;
// `[]` is refused in words, not with the decoder's Go types (issue 14.9).
func TestHandleTextOutputAndNonObjectInput(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(cfg, []byte("source: {registry: 127.0.0.1:5000}\nrules:\n  - destinations: [{registry: 127.0.0.1:5001}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runIn("[]", "handle", "--config", cfg, "-o", "text", "--log-level", "error", "-")
	if code != cli.ExitOK || strings.HasPrefix(strings.TrimSpace(out), "{") || !strings.Contains(out, "malformed") {
		t.Fatalf("handle -o text: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if !strings.Contains(out, "a JSON array, not an event") || strings.Contains(out+errs, "Go value") {
		t.Errorf("handle on []: %s", out)
	}
	// Without -o, handle keeps printing JSON: a replayed invocation's result is for machines.
	_, out, _ = runIn("[]", "handle", "--config", cfg, "--log-level", "error", "-")
	if !json.Valid([]byte(out)) {
		t.Errorf("handle without -o: %q is not JSON", out)
	}
}

// TestDevDemoWithRulesThatSkipTheDemoSaysSoAtOnce: `dev --demo --config` with rules that do not
// select the demo's repository fails at once with a usage error that names it, instead of
// waiting for a sync that never comes (issue 14.9).
func TestDevDemoWithRulesThatSkipTheDemoSaysSoAtOnce(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "rules.yaml")
	doc := fmt.Sprintf("source: {registry: 127.0.0.1:5000}\nrules:\n  - repositories: [app]\n    destinations: [{registry: 127.0.0.1:5001}]\n")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runEcrsync(t, nil, "dev", "--demo", "--config", cfg, "--timeout", "5s", "--log-level", "error")
	if code != cli.ExitUsage || !strings.Contains(errs, "no rule of") || !strings.Contains(errs, "demo/app") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
}

// TestUnknownCommandsAndFlagsSuggestTheNearest: a typo in a command or flag is a usage error
// that names what was probably meant.
func TestUnknownCommandsAndFlagsSuggestTheNearest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cpoy", "a", "b"}, `did you mean "copy"?`},
		{[]string{"config", "valdate", "x"}, `did you mean "validate"?`},
		{[]string{"copy", "--all-tag", "a", "b"}, "did you mean --all-tags?"},
		{[]string{"sync", "--dryrun"}, "did you mean --dry-run?"},
	} {
		if code, _, errs := run(tt.args...); code != cli.ExitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errs, tt.want)
		}
	}
}
