package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/devstack"
	"github.com/ecrsync/ecrsync/internal/devstack/devtest"
	"github.com/ecrsync/ecrsync/internal/reconcile"
)

// TestSyncCommand runs `ecrsync sync` against two real registries: the dry run exits 4 and
// copies nothing, the real run exits 0, a second run copies nothing.
func TestSyncCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pair := devtest.NewPair(t, devtest.Options{})
	src, dst := pair.Src.Addr, pair.Dst.Addr
	push := pair.Push
	for i, ref := range []string{"app:v1", "app:v2", "web:v1"} {
		repo, tag, _ := strings.Cut(ref, ":")
		r, err := push.Repo(src + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := push.Image(ctx, r, tag, devstack.ImageSpec{Layers: [][]byte{devstack.RandomBytes(512, uint64(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "ecrsync.yaml")
	doc := fmt.Sprintf("source: {registry: %q}\nrules:\n  - repositories: [app, web]\n    destinations: [{registry: %q}]\n", src, dst)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, *reconcile.Report, string) {
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"sync", "--config", cfg, "--log-level", "warn"}, args...), nil, &out, &errb)
		var rep reconcile.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			return code, nil, out.String() + errb.String()
		}
		return code, &rep, errb.String()
	}

	code, rep, msg := run("--dry-run", "-o", "json")
	if code != ExitPending || rep == nil || rep.Planned != 3 || rep.Copied != 0 {
		t.Fatalf("dry run: exit %d, %+v, %s", code, rep, msg)
	}
	code, rep, msg = run("-o", "json")
	if code != ExitOK || rep == nil || rep.Copied != 3 {
		t.Fatalf("sync: exit %d, %+v, %s", code, rep, msg)
	}
	code, _, out := run()
	if code != ExitOK || !strings.Contains(out, "2 repositories, 3 tags: 3 in sync, 0 copied") {
		t.Fatalf("second sync: exit %d: %s", code, out)
	}
}
