package cli_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/devstack"
)

// TestDevDemo runs `ecrsync dev --demo` as a user would and checks its table and exit code.
func TestDevDemo(t *testing.T) {
	t.Parallel()
	bin := ecrsyncBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "dev", "--demo", "--log-level", "warn")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ecrsync dev --demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, what := range []string{"index", "linux/amd64", "linux/arm64", "linux/arm/v7", "attestation", "signature", "referrers tag"} {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(what) + `\s+(sha256:[0-9a-f]{12})\s+(sha256:[0-9a-f]{12})\s+yes$`)
		m := re.FindStringSubmatch(out)
		if m == nil || m[1] != m[2] {
			t.Errorf("no matching row for %q in:\n%s", what, out)
		}
	}
	if !strings.Contains(out, "in sync") {
		t.Errorf("no verdict in:\n%s", out)
	}
}

// TestDevSyncsCranePush pushes a two-platform image with the real crane binary to `ecrsync dev`
// and waits for the same digest in the destination.
func TestDevSyncsCranePush(t *testing.T) {
	t.Parallel()
	crane, err := exec.LookPath("crane")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("crane is not installed (.ci/deps.d/10-clients.sh installs it)")
		}
		t.Skip("crane is not installed: run .ci/deps.d/10-clients.sh")
	}
	bin := ecrsyncBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Not CommandContext: the context ends before the deferred stop, and a killed dev leaves
	// its storage behind. stop interrupts it and waits for it to clean up.
	dev := exec.Command(bin, "dev", "--log-level", "info", "--log-format", "json")
	stdout, err := dev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	dev.Stderr = &stderr
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopProcess(t, dev)
	lines := bufio.NewScanner(stdout)
	var src, dst string
	for lines.Scan() && (src == "" || dst == "") {
		f := strings.Fields(lines.Text())
		if len(f) == 2 && f[0] == "source" {
			src = f[1]
		}
		if len(f) == 2 && f[0] == "destination" {
			dst = f[1]
		}
	}
	if src == "" || dst == "" {
		t.Fatal("ecrsync dev printed no addresses")
	}
	go func() { // keep reading so the child never blocks on a full pipe
		for lines.Scan() {
		}
	}()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, crane, args...).Output()
		if err != nil {
			t.Fatalf("crane %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	dir := t.TempDir()
	for i, arch := range []string{"amd64", "arm64"} {
		layer := filepath.Join(dir, arch+".tar")
		writeTar(t, layer, "data-"+arch, devstack.RandomBytes(200<<10, uint64(i)))
		run("append", "-f", layer, "-t", src+"/team/app:"+arch, "--platform", "linux/"+arch)
	}
	run("index", "append", "-m", src+"/team/app:amd64", "-m", src+"/team/app:arm64", "-t", src+"/team/app:dev")
	want := run("digest", src+"/team/app:dev")
	for {
		out, err := exec.CommandContext(ctx, crane, "digest", dst+"/team/app:dev").Output()
		if err == nil && strings.TrimSpace(string(out)) == want {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the destination never got %s", want)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The index is the same to the byte, and crane finds every child complete in the destination.
	if s, d := run("manifest", src+"/team/app:dev"), run("manifest", dst+"/team/app:dev"); s != d {
		t.Fatalf("index differs:\nsrc %s\ndst %s", s, d)
	}
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(run("manifest", dst+"/team/app:dev")), &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index: %v %+v", err, idx)
	}
	for _, m := range idx.Manifests {
		run("validate", "--remote", dst+"/team/app@"+m.Digest)
	}
	// The commands `dev --help` suggests work as written (issue 14.4): its crane lines, run with
	// this stack's addresses, push an image and find it synced.
	runHelpExample(t, ctx, bin, crane, src, dst, dir)

	// Nothing failed, so no line says ERROR: the registry announces a push before its tag
	// exists, and that first look must not be reported as a failure (issue 14.2).
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("an ERROR line while converging: %s", line)
		}
	}
}

// runHelpExample runs the crane lines of `ecrsync dev --help`'s example against a running dev
// stack (its 127.0.0.1:5000 and :5001 replaced by src and dst, layer.tar by a real file): the push
// must work, and the digest line must find the pushed digest in the destination.
func runHelpExample(t *testing.T, ctx context.Context, bin, crane, src, dst, dir string) {
	t.Helper()
	help, err := exec.CommandContext(ctx, bin, "dev", "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "layer.tar")
	writeTar(t, layer, "hello", []byte("hello from the help text"))
	r := strings.NewReplacer("127.0.0.1:5000", src, "127.0.0.1:5001", dst, "layer.tar", layer)
	var cmds [][]string
	for _, line := range strings.Split(string(help), "\n") {
		line, _, _ = strings.Cut(strings.TrimSpace(line), "#")
		if f := strings.Fields(r.Replace(line)); len(f) > 1 && f[0] == "crane" {
			cmds = append(cmds, f[1:])
		}
	}
	if len(cmds) != 2 || cmds[1][0] != "digest" {
		t.Fatalf("want a crane push and a crane digest line in dev --help, got %q", cmds)
	}
	if out, err := exec.CommandContext(ctx, crane, cmds[0]...).CombinedOutput(); err != nil {
		t.Fatalf("dev --help's `crane %s` fails: %v\n%s", strings.Join(cmds[0], " "), err, out)
	}
	ref := cmds[1][1]
	want, err := exec.CommandContext(ctx, crane, "digest", strings.Replace(ref, dst, src, 1)).Output()
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := exec.CommandContext(ctx, crane, cmds[1]...).Output()
		if err == nil && string(got) == string(want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dev --help's `crane %s` never found %s", strings.Join(cmds[1], " "), want)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lockedBuffer is a bytes.Buffer a child process writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stopProcess interrupts cmd, as Ctrl-C would, and waits for it to exit (and clean up); it
// kills it if it has not exited within a minute.
func stopProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Error("the process did not stop within a minute of an interrupt")
	}
}

func writeTar(t *testing.T, path, name string, data []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
