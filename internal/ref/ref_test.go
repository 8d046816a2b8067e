package ref_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/ref"
)

const sha = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

func TestParseFollowsTheDistributionGrammar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ref.Reference // zero: refused
	}{
		{"127.0.0.1:5000/app:v1", ref.Reference{Host: "127.0.0.1:5000", Repository: "app", Tag: "v1"}},
		{"localhost/a/b/c", ref.Reference{Host: "localhost", Repository: "a/b/c"}},
		{"localhost:5000/a__b/c-d/e.f/g---h", ref.Reference{Host: "localhost:5000", Repository: "a__b/c-d/e.f/g---h"}},
		{"111111111111.dkr.ecr.us-east-1.amazonaws.com/team/app@" + sha, ref.Reference{Host: "111111111111.dkr.ecr.us-east-1.amazonaws.com", Repository: "team/app", Digest: sha}},
		{"registry.test/app:V1_x.y-z@" + sha, ref.Reference{Host: "registry.test", Repository: "app", Tag: "V1_x.y-z", Digest: sha}},
		{"[::1]:5000/app", ref.Reference{Host: "[::1]:5000", Repository: "app"}},
		{"[fe80::1]/app:t", ref.Reference{Host: "[fe80::1]", Repository: "app", Tag: "t"}},
		// Hosts are case-insensitive and come back canonical (lower case).
		{"Registry.Example:443/app:v1", ref.Reference{Host: "registry.example:443", Repository: "app", Tag: "v1"}},
		{"LOCALHOST/app", ref.Reference{Host: "localhost", Repository: "app"}},
		{"r.io/" + strings.Repeat("a", ref.MaxRepository), ref.Reference{Host: "r.io", Repository: strings.Repeat("a", ref.MaxRepository)}},
		{"r.io/a:" + strings.Repeat("t", ref.MaxTag), ref.Reference{Host: "r.io", Repository: "a", Tag: strings.Repeat("t", ref.MaxTag)}},

		{"", ref.Reference{}},
		{"app:v1", ref.Reference{}},           // no host
		{"library/app", ref.Reference{}},      // a Docker Hub path, not a host
		{"r.io/App", ref.Reference{}},         // repository in upper case
		{"r.io/../x", ref.Reference{}},        // traversal
		{"r.io/a..b", ref.Reference{}},        // two separators
		{"r.io/a/", ref.Reference{}},          // empty component
		{"r.io/-a", ref.Reference{}},          // leading separator
		{"r.io/a:.v", ref.Reference{}},        // tag starting with '.'
		{"r.io/a:-v", ref.Reference{}},        // tag starting with '-'
		{"r.io/a:", ref.Reference{}},          // empty tag
		{"r.io/a@sha256:00", ref.Reference{}}, // shortened digest: a request cannot verify it
		{"r.io/a@md5:" + strings.Repeat("a", 32), ref.Reference{}},
		{"r.io/a@sha256:" + strings.Repeat("A", 64), ref.Reference{}},
		{"r.io/a@" + sha + "@" + sha, ref.Reference{}},
		{"r.io/" + strings.Repeat("a", ref.MaxRepository+1), ref.Reference{}},
		{"r.io/a:" + strings.Repeat("t", ref.MaxTag+1), ref.Reference{}},
		{"https://r.io/a", ref.Reference{}},
		{"r.io:0/a", ref.Reference{}},
		{"r.io:65536/a", ref.Reference{}},
		{"r.io:/a", ref.Reference{}},
		{"r.io:+5/a", ref.Reference{}},
		{"-r.io/a", ref.Reference{}},
		{"r_io.x/a", ref.Reference{}},
		{"[1.2.3.4]/a", ref.Reference{}},
		{"[::1/a", ref.Reference{}},
		{"[::1]x/a", ref.Reference{}},
		{"r.io/a b", ref.Reference{}},
		{"r.io/a\x00b", ref.Reference{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ref.Parse(tt.in)
			if tt.want == (ref.Reference{}) {
				if err == nil || !errors.Is(err, ref.ErrInvalid) {
					t.Fatalf("Parse(%q) = %+v, %v; want an error wrapping ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestHostCaseRules(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, canonical string
	}{
		{"registry.example", "registry.example"},
		{"Registry.Example", "registry.example"},
		{"127.0.0.1:5000", "127.0.0.1:5000"},
		{"[FE80::1]:443", "[fe80::1]:443"},
		{"111111111111.DKR.ECR.US-EAST-1.AMAZONAWS.COM", "111111111111.dkr.ecr.us-east-1.amazonaws.com"},
	} {
		got, err := ref.ParseHost(tt.in)
		if err != nil || got != tt.canonical || !ref.ValidHost(tt.in) || ref.CanonicalHost(tt.in) != tt.canonical {
			t.Errorf("ParseHost(%q) = %q, %v; want %q", tt.in, got, err, tt.canonical)
		}
	}
	for _, bad := range []string{"", "a/b", "a b", "a:b", "évil.example", "a.example.", strings.Repeat("a", 254), "evil.example/x?"} {
		if ref.ValidHost(bad) {
			t.Errorf("ValidHost(%q) = true", bad)
		}
	}
}

func TestDigestGrammarAndCheck(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in           string
		valid, check bool
	}{
		{sha, true, true},
		{"sha512:" + strings.Repeat("0", 128), true, true},
		{"sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234", true, false}, // ECR's doc example
		{"sha256:00", true, false},
		{"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", true, false},
		{"sha256:" + strings.Repeat("G", 64), true, false},
		{"SHA256:" + strings.Repeat("0", 64), false, false},
		{"sha256", false, false},
		{":abc", false, false},
		{"sha256:", false, false},
		{"sha256:a/b", false, false},
	} {
		if got := ref.ValidDigest(tt.in); got != tt.valid {
			t.Errorf("ValidDigest(%q) = %v, want %v", tt.in, got, tt.valid)
		}
		if err := ref.CheckDigest(tt.in); (err == nil) != tt.check {
			t.Errorf("CheckDigest(%q) = %v, want ok=%v", tt.in, err, tt.check)
		}
	}
}

// FuzzParse: every input is parsed or refused with ErrInvalid, never a panic; what is accepted
// round-trips through String, has a canonical host, and go-containerregistry's StrictValidation
// (which the engine builds its requests with) accepts it too.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5000/app:v1", "111111111111.dkr.ecr.us-east-1.amazonaws.com/team/app@" + sha,
		"host/../x", "HOST.io/App:TAG", "a.b/c:d@sha256:00", "", ":", "@", "localhost:5000/a/b/c", "[::1]:5000/a__b:V",
		"Registry.Example/a-b.c/d:e@" + sha, "docker.io/app", "r.io:08/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ref.Parse(s)
		if err != nil {
			if !errors.Is(err, ref.ErrInvalid) {
				t.Fatalf("Parse(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if back, err := ref.Parse(r.String()); err != nil || back != r {
			t.Fatalf("Parse(%q) = %+v; String %q parses to %+v, %v", s, r, r.String(), back, err)
		}
		if r.Host != strings.ToLower(r.Host) || !ref.ValidHost(r.Host) || !ref.ValidRepository(r.Repository) {
			t.Fatalf("Parse(%q) = %+v: not canonical", s, r)
		}
		if strings.Contains(r.Repository, "..") || strings.ContainsAny(r.Tag+r.Digest, "/ \t\n") {
			t.Fatalf("Parse(%q) = %+v: path trick accepted", s, r)
		}
		if _, err := name.NewRepository(r.Name(), name.StrictValidation); err != nil {
			t.Fatalf("Parse(%q) = %+v, but go-containerregistry refuses %q: %v", s, r, r.Name(), err)
		}
		if r.Tag != "" {
			if _, err := name.NewTag(r.Name()+":"+r.Tag, name.StrictValidation); err != nil {
				t.Fatalf("Parse(%q) = %+v, but go-containerregistry refuses the tag: %v", s, r, err)
			}
		}
		if r.Digest != "" {
			if _, err := name.NewDigest(r.Name()+"@"+r.Digest, name.StrictValidation); err != nil {
				t.Fatalf("Parse(%q) = %+v, but go-containerregistry refuses the digest: %v", s, r, err)
			}
		}
	})
}

func TestValidPlatform(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8", "windows/amd64", "linux/ppc64le", "wasip1/wasm"} {
		if !ref.ValidPlatform(s) {
			t.Errorf("ValidPlatform(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "linux", "linux/", "/amd64", "linux//amd64", "linux/arm/v7/x", "Linux/AMD64", "linux/amd 64", "linux/amd64/"} {
		if ref.ValidPlatform(s) {
			t.Errorf("ValidPlatform(%q) = true, want false", s)
		}
	}
}
