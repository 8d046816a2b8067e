package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigValidateShowsWarningsAndPathsWithLines: a Region ecrsync does not know is accepted
// and the warning is printed (text and JSON); a typo is refused with its path, line and the fix.
func TestConfigValidateShowsWarningsAndPathsWithLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const base = "source: {registry: 127.0.0.1:5000}\nrules:\n  - destinations:\n      - account_id: 222222222222\n        region: %s\n"
	newRegion := write("new.yaml", strings.Replace(base, "%s", "ap-southeast-9", 1))
	typo := write("typo.yaml", strings.Replace(base, "%s", "eu-westt-1", 1))
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"config", "validate"}, args...), nil, &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := run(newRegion)
	if code != ExitOK || !strings.Contains(out, "warning: rules[0].destinations[0].region: ap-southeast-9 is not a Region ecrsync knows") {
		t.Fatalf("new Region: exit %d, stdout %q, stderr %q; want exit 0 and the warning", code, out, errs)
	}
	code, out, errs = run(newRegion, "-o", "json")
	var res struct {
		Valid    bool
		Warnings []string
	}
	if err := json.Unmarshal([]byte(out), &res); code != ExitOK || err != nil || !res.Valid || len(res.Warnings) != 1 {
		t.Fatalf("new Region, JSON: exit %d, %v, stdout %q, stderr %q; want valid with one warning", code, err, out, errs)
	}
	code, _, errs = run(typo)
	if code != ExitUsage || !strings.Contains(errs, "rules[0].destinations[0].region (line 5): eu-westt-1 is not an AWS Region; did you mean eu-west-1?") {
		t.Fatalf("typo: exit %d, stderr %q; want exit 2 with the path, line and suggestion", code, errs)
	}
}
