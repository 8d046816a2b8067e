package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const (
	repoRoot = "../.."
	version  = "v9.8.7"
	commit   = "abc1234"
)

// build runs scripts/release.sh into a temp dir and returns it.
func build(t *testing.T) string {
	t.Helper()
	dist := t.TempDir()
	cmd := exec.Command("bash", "scripts/release.sh")
	cmd.Dir = repoRoot
	// A fixed commit: the work tree may be dirty while developing; what is compared is two builds.
	cmd.Env = append(os.Environ(), "VERSION="+version, "COMMIT="+commit, "DIST="+dist, "SOURCE_DATE_EPOCH=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	return dist
}

func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func TestReleaseIsReproducibleStampedAndComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 6 binaries twice")
	}
	a, b := files(t, build(t)), files(t, build(t))

	want := []string{
		"SHA256SUMS", "ecrsync-darwin-amd64", "ecrsync-darwin-arm64", "ecrsync-lambda-amd64.zip", "ecrsync-lambda-arm64.zip",
		"ecrsync-linux-amd64", "ecrsync-linux-arm64", "ecrsync-terraform-module-" + version + ".tar.gz", "ecrsync-" + version + ".cdx.json",
	}
	var names []string
	for n := range a {
		names = append(names, n)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("release holds %v, want %v", names, want)
	}
	for _, n := range names {
		if !bytes.Equal(a[n], b[n]) {
			t.Errorf("%s differs between two builds of one commit", n)
		}
	}

	// SHA256SUMS covers every other file, with the right sums.
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(a["SHA256SUMS"])), "\n") {
		f := strings.Fields(line)
		sums[f[1]] = f[0]
	}
	for _, n := range names {
		if n == "SHA256SUMS" {
			continue
		}
		h := sha256.Sum256(a[n])
		if sums[n] != hex.EncodeToString(h[:]) {
			t.Errorf("SHA256SUMS has %q for %s, want its sha256", sums[n], n)
		}
	}

	// The binary for this machine says its version and commit.
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		exe := filepath.Join(t.TempDir(), "ecrsync")
		if err := os.WriteFile(exe, a["ecrsync-"+runtime.GOOS+"-"+runtime.GOARCH], 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(exe, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		wantLine := "ecrsync " + version + " (commit " + commit + ", " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
		if string(out) != wantLine {
			t.Errorf("ecrsync version printed %q, want %q", out, wantLine)
		}
		if out, _ := exec.Command(exe, "--version").Output(); string(out) != wantLine {
			t.Errorf("ecrsync --version printed %q, want %q", out, wantLine)
		}
	}

	// The module archive: the module's .tf files, no tests, and the arm64 package as released.
	mod := untar(t, a["ecrsync-terraform-module-"+version+".tar.gz"])
	if !bytes.Equal(mod["package/ecrsync-lambda-arm64.zip"], a["ecrsync-lambda-arm64.zip"]) {
		t.Error("the module archive's package/ecrsync-lambda-arm64.zip is not the released zip")
	}
	for _, f := range []string{"main.tf", "package.tf", "variables.tf", "VERSION"} {
		if _, ok := mod[f]; !ok {
			t.Errorf("module archive lacks %s", f)
		}
	}
	for f := range mod {
		if strings.HasPrefix(f, "tests/") {
			t.Errorf("module archive holds the test file %s", f)
		}
	}

	// The SBOM names the release and the modules the binaries link.
	var bom struct {
		Metadata struct {
			Component struct{ Name, Version string }
		}
		Components []struct{ Name, Version, PURL string }
	}
	if err := json.Unmarshal(a["ecrsync-"+version+".cdx.json"], &bom); err != nil {
		t.Fatal(err)
	}
	if bom.Metadata.Component.Name != "github.com/ecrsync/ecrsync" || bom.Metadata.Component.Version != version {
		t.Errorf("SBOM is of %+v", bom.Metadata.Component)
	}
	found := false
	for _, c := range bom.Components {
		found = found || c.Name == "github.com/aws/aws-lambda-go"
	}
	if !found {
		t.Error("SBOM lacks github.com/aws/aws-lambda-go, which the Lambda links")
	}
}

func untar(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	m := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		m[strings.TrimPrefix(h.Name, "./")] = body
	}
}
