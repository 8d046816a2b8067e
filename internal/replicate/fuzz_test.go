package replicate_test

import (
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/replicate"
)

// FuzzParseReference: every input is parsed or refused with an error, never a panic; what is
// accepted has a registry and a lower-case repository without path tricks.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5000/app:v1", "111111111111.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
		"host/../x", "HOST/App:TAG", "a/b:c@sha256:00", "", ":", "@", "localhost:5000/a/b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		repo, ref, err := replicate.ParseReference(s)
		if err != nil {
			return
		}
		name := repo.RepositoryStr()
		if name == "" || strings.Contains(name, "..") || strings.ToLower(name) != name {
			t.Fatalf("%q: accepted repository %q", s, name)
		}
		if strings.ContainsAny(ref, "/ \t\n") {
			t.Fatalf("%q: accepted reference %q", s, ref)
		}
	})
}
