package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/awsname"
	"github.com/ecrsync/ecrsync/internal/event"
	"github.com/ecrsync/ecrsync/internal/ref"
)

func mustLoad(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMatchFollowsRepositoryAndTagGlobs(t *testing.T) {
	t.Parallel()
	c, err := LoadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, repo, tag string
		want            []string
	}{
		{"exact repository and tag", "app", "dev", []string{
			"222222222222.dkr.ecr.eu-west-1.amazonaws.com/mirror/app:dev", "333333333333.dkr.ecr.cn-north-1.amazonaws.com.cn/app:dev"}},
		{"glob within one segment", "team/api", "v1.2", []string{
			"222222222222.dkr.ecr.eu-west-1.amazonaws.com/mirror/team/api:v1.2", "333333333333.dkr.ecr.cn-north-1.amazonaws.com.cn/team/api:v1.2"}},
		{"single star does not cross slashes", "team/a/b", "dev", nil},
		{"double star crosses slashes", "team/a/b", "release-1", []string{"444444444444.dkr.ecr-fips.us-gov-west-1.amazonaws.com/team/a/b:release-1"}},
		{"tag not selected", "app", "prod", nil},
		{"repository not selected", "other", "dev", nil},
		{"two rules, both destinations", "app", "release-2", []string{"444444444444.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app:release-2"}},
		{"hostile name never matches", "../x", "dev", nil},
		{"upper case never matches", "App", "dev", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, tg := range c.Match(tt.repo, tt.tag) {
				got = append(got, tg.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Match(%q, %q) = %q, want %q", tt.repo, tt.tag, got, tt.want)
			}
		})
	}
}

func TestOmittedGlobsSelectEverythingAndDuplicatesCopyOnce(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, `{"source":{"registry":"127.0.0.1:5000"},"rules":[
		{"destinations":[{"registry":"127.0.0.1:5001"}]},
		{"tags":["v1"],"destinations":[{"registry":"127.0.0.1:5001"},{"registry":"127.0.0.1:5000","repository":"backup/{repository}"}]}]}`)
	got := c.Match("a/b", "v1")
	if len(got) != 2 || got[0].String() != "127.0.0.1:5001/a/b:v1" || got[1].String() != "127.0.0.1:5000/backup/a/b:v1" {
		t.Fatalf("Match = %v", got)
	}
}

func TestFromSourceChecksAccountAndRegionOrHost(t *testing.T) {
	t.Parallel()
	ecrSrc := mustLoad(t, `{"source":{"registry":"127.0.0.1:5000","account_id":"111111111111","region":"us-east-1"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001"}]}]}`)
	plain := mustLoad(t, `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001"}]}]}`)
	tests := []struct {
		name string
		c    *Config
		p    event.Push
		want bool
	}{
		{"ECR event of the source account and Region", ecrSrc, event.Push{Source: event.SourceECR, Account: "111111111111", Region: "us-east-1"}, true},
		{"ECR event of another account", ecrSrc, event.Push{Source: event.SourceECR, Account: "999999999999", Region: "us-east-1"}, false},
		{"ECR event of another Region", ecrSrc, event.Push{Source: event.SourceECR, Account: "111111111111", Region: "eu-west-1"}, false},
		{"notification from the source host", plain, event.Push{Source: event.SourceRegistry, Registry: "127.0.0.1:5000"}, true},
		{"notification from another host", plain, event.Push{Source: event.SourceRegistry, Registry: "127.0.0.1:6000"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, why := tt.c.FromSource(tt.p); got != tt.want {
				t.Fatalf("FromSource = %v (%s), want %v", got, why, tt.want)
			}
		})
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	t.Parallel()
	const dst = `"destinations":[{"registry":"127.0.0.1:5001"}]`
	tests := []struct {
		name, doc, field string
	}{
		{"no source", `{"rules":[{` + dst + `}]}`, "source"},
		{"short account", `{"source":{"account_id":"1234","region":"us-east-1"},"rules":[{` + dst + `}]}`, "source.account_id"},
		{"bad region", `{"source":{"account_id":"111111111111","region":"Mars"},"rules":[{` + dst + `}]}`, "source.region"},
		{"registry with a path", `{"source":{"registry":"evil.example/x"},"rules":[{` + dst + `}]}`, "source.registry"},
		{"registry with a scheme", `{"source":{"registry":"https://evil.example"},"rules":[{` + dst + `}]}`, "source.registry"},
		{"registry in upper case", `{"source":{"registry":"Registry.Example"},"rules":[{` + dst + `}]}`, "source.registry"},
		{"no rules", `{"source":{"registry":"127.0.0.1:5000"}}`, "rules"},
		{"no destinations", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"repositories":["a"]}]}`, "rules[0].destinations"},
		{"traversal glob", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"repositories":["../x"],` + dst + `}]}`, "rules[0].repositories[0]"},
		{"upper-case glob", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"repositories":["App"],` + dst + `}]}`, "rules[0].repositories[0]"},
		{"300-char glob", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"repositories":["` + strings.Repeat("a", 300) + `"],` + dst + `}]}`, "rules[0].repositories[0]"},
		{"control char in tag", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"tags":["v\u0001"],` + dst + `}]}`, "rules[0].tags[0]"},
		{"bad template", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001","repository":"{repo}/x"}]}]}`, "rules[0].destinations[0].repository"},
		{"template with traversal", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001","repository":"../{repository}"}]}]}`, "rules[0].destinations[0].repository"},
		{"copy onto itself", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5000"}]}]}`, "rules[0].destinations[0]"},
		{"bad role", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"account_id":"222222222222","region":"eu-west-1","role_arn":"arn:aws:iam::2:user/x"}]}]}`, "rules[0].destinations[0].role_arn"},
		{"role for a registry that is not ECR", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001","role_arn":"arn:aws:iam::222222222222:role/x"}]}]}`, "rules[0].destinations[0].role_arn"},
		{"host and account disagree", `{"source":{"registry":"111111111111.dkr.ecr.us-east-1.amazonaws.com","account_id":"222222222222","region":"us-east-1"},"rules":[{` + dst + `}]}`, "source.registry"},
		{"fips in China", `{"source":{"account_id":"111111111111","region":"cn-north-1","fips":true},"rules":[{` + dst + `}]}`, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]byte(tt.doc))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Load: %v; want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestLoadRejectsUnknownKeysByName(t *testing.T) {
	t.Parallel()
	_, err := Load([]byte("source:\n  registry: 127.0.0.1:5000\nrules:\n  - destinatons: []\n"))
	if err == nil || !strings.Contains(err.Error(), "destinatons") {
		t.Fatalf("Load: %v; want an error naming destinatons", err)
	}
}

func TestResolveOrder(t *testing.T) {
	t.Parallel()
	seed := map[string]string{"SOURCE_ACCOUNT_ID": "111111111111", "SOURCE_REGION": "us-east-1",
		"DESTINATION_ACCOUNT_ID": "222222222222", "DESTINATION_REGION": "eu-west-1", "REPO_NAME": "my-app", "APPENV": "dev"}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	c, err := Resolve("", env(seed))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Match("my-app", "dev")
	if len(got) != 1 || got[0].String() != "222222222222.dkr.ecr.eu-west-1.amazonaws.com/my-app:dev" {
		t.Fatalf("seed shortcut: Match = %v", got)
	}
	if len(c.Match("my-app", "prod")) != 0 || len(c.Match("other", "dev")) != 0 {
		t.Fatal("seed shortcut copies more than REPO_NAME:APPENV")
	}
	if ok, _ := c.FromSource(event.Push{Source: event.SourceECR, Account: "111111111111", Region: "us-east-1"}); !ok {
		t.Fatal("seed shortcut: the source account's events are not from the source")
	}

	withDoc := map[string]string{EnvConfig: `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001"}]}]}`}
	for k, v := range seed {
		withDoc[k] = v
	}
	if c, err = Resolve("", env(withDoc)); err != nil || c.Source.Host() != "127.0.0.1:5000" {
		t.Fatalf("ECRSYNC_CONFIG does not win over the seed variables: %v", err)
	}
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte("source: {registry: 127.0.0.1:7000}\nrules: [{destinations: [{registry: 127.0.0.1:7001}]}]\n"), 0o600)
	if c, err = Resolve(f, env(withDoc)); err != nil || c.Source.Host() != "127.0.0.1:7000" {
		t.Fatalf("--config does not win over ECRSYNC_CONFIG: %v", err)
	}
	if _, err := Resolve("", env(nil)); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("nothing set: %v, want ErrNoConfig", err)
	}
	bad := map[string]string{"SOURCE_ACCOUNT_ID": "111111111111", "SOURCE_REGION": "us-east-1", "REPO_NAME": "my-app"}
	if _, err := Resolve("", env(bad)); err == nil || !strings.Contains(err.Error(), "account_id") {
		t.Fatalf("seed without a destination: %v, want an error naming account_id", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"source: {registry: 127.0.0.1:5000}\nrules: [{destinations: [{registry: 127.0.0.1:5001}]}]\n",
		`{"source":{"account_id":"111111111111","region":"us-east-1"},"rules":[{"repositories":["a/*"],"tags":["v*"],"destinations":[{"account_id":"222222222222","region":"eu-west-1","repository":"m/{repository}"}]}]}`,
		`{"source":{"account_id":011111111111,"region":"us-east-1"},"rules":[{"destinations":[{"account_id":222222222222,"region":"ap-southeast-9"}]}]}`,
		"source: {account_id: 012345678901, region: eu-westt-1}\nrules: [{tag: [v1], destinations: [{regoin: x}]}]\n",
		"source: {registry: 127.0.0.1:5000}\nrules:\n  - tags: [1.10, true]\n    destinations: [&d {account_id: 222222222222, region: us-east-1}, {<<: *d, fips: true}]\n  - destinations: [*d]\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nsource: {registry: 127.0.0.1:5000}\n",
	} {
		f.Add([]byte(s), "a/b", "v1")
	}
	if b, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(b, "team/x", "dev")
	}
	f.Fuzz(func(t *testing.T, doc []byte, repo, tag string) {
		c, err := Load(doc)
		if err != nil {
			return
		}
		// A valid config never sends a request to a host it does not name, nor to a bad name.
		named := map[string]bool{}
		for _, r := range c.Rules {
			for _, d := range r.Destinations {
				named[d.Host()] = true
			}
		}
		for _, tg := range c.Match(repo, tag) {
			if !named[tg.Host] || !ref.ValidRepository(tg.Repository) || !ref.ValidTag(tg.Tag) {
				t.Fatalf("Match(%q, %q) gave %+v", repo, tag, tg)
			}
		}
		// Values are kept as written: the same config written as JSON loads to the same one.
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Load(j)
		if err != nil {
			t.Fatalf("%s loads, but not as JSON %s: %v", doc, j, err)
		}
		if j2, _ := json.Marshal(c2); !bytes.Equal(j, j2) {
			t.Fatalf("%s loads as %s, then as %s", doc, j, j2)
		}
		c.Registries(func(r *Registry) {
			if r.AccountID != "" && !awsname.ValidAccount(r.AccountID) {
				t.Fatalf("account_id %q accepted", r.AccountID)
			}
		})
	})
}
