package cli_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHostileReferencesAreRefusedBeforeAnyRequest gives `ecrsync copy` repository names and
// tags that a careless client would send somewhere: path tricks, upper case, names and tags too
// long for the OCI grammar, control characters, header injection. Each must end in a clear error
// (exit 1 or 2, never 3: no retry fixes it) and not one connection to the registry it names.
// (A NUL cannot be passed in argv; the fuzz target of replicate.ParseReference covers it.)
func TestHostileReferencesAreRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	trap := ln.Addr().String()
	good := trap + "/app:v1"
	hostile := map[string]string{
		"parent directory":         trap + "/../x:v1",
		"parent inside":            trap + "/team/../../x:v1",
		"dot segment":              trap + "/./x:v1",
		"percent-encoded dots":     trap + "/%2e%2e/x:v1",
		"upper case":               trap + "/App:v1",
		"300-character repository": trap + "/" + strings.Repeat("a", 300) + ":v1",
		"300-character tag":        trap + "/app:" + strings.Repeat("t", 300),
		"newline in tag":           trap + "/app:v1\n",
		"DEL in tag":               trap + "/app:v\x7f1",
		"header injection":         trap + "/app:v1\r\nHost: evil.example",
		"space":                    trap + "/app v1",
		"short digest":             trap + "/app@sha256:abc",
		"empty":                    "",
		"only a host":              trap,
		"user info":                "user:pass@" + trap + "/app:v1",
		"backslash":                trap + "/app\\..\\x:v1",
		"query string":             trap + "/app:v1?x=1",
		"fragment":                 trap + "/app#frag",
		"unicode lookalike":        trap + "/аpp:v1", // Cyrillic a
		"trailing slash":           trap + "/app/:v1",
		"double slash":             trap + "//app:v1",
		"tag starting with a dot":  trap + "/app:.v1",
		"tag starting with a dash": trap + "/app:-v1",
	}
	// The last two were a bug found here: go-containerregistry does not check a tag's first
	// character, so replicate.ParseReference now checks the OCI grammar itself.
	for what, ref := range hostile {
		for _, args := range [][]string{{"copy", ref, good}, {"copy", good, ref}} {
			code, stdout, stderr := runEcrsync(t, nil, args...)
			if code == 0 || code == 3 {
				t.Errorf("%s %q: exit %d, want 1 or 2 (a permanent error)\nstderr: %s", what, ref, code, stderr)
			}
			if !strings.Contains(stderr, "ecrsync:") || strings.Contains(stderr, "panic") {
				t.Errorf("%s %q: no clear error on stderr: %q", what, ref, stderr)
			}
			if stdout != "" {
				t.Errorf("%s %q: printed a result: %q", what, ref, stdout)
			}
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the registry the hostile references named", n)
	}
}
