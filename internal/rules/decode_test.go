package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// doc is a YAML config whose second destination of the first rule carries extra, as written.
func doc(extra string) string {
	return "source:\n  registry: 127.0.0.1:5000\nrules:\n  - tags: [dev]\n    destinations:\n      - registry: 127.0.0.1:5001\n      - region: eu-west-1\n        " + extra + "\n"
}

func TestLoadReadsAccountIDsAsWritten(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, want string }{
		{"unquoted", doc("account_id: 222222222222"), "222222222222"},
		{"unquoted with a leading zero", doc("account_id: 012345678901"), "012345678901"},
		{"unquoted, octal-looking", doc("account_id: 011111111111"), "011111111111"},
		{"quoted", doc(`account_id: "012345678901"`), "012345678901"},
		{"single-quoted", doc(`account_id: '011111111111'`), "011111111111"},
		{"JSON number", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001"},{"region":"eu-west-1","account_id":012345678901}]}]}`, "012345678901"},
		{"JSON string", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001"},{"region":"eu-west-1","account_id":"222222222222"}]}]}`, "222222222222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Rules[0].Destinations[1].AccountID; got != tt.want {
				t.Fatalf("account_id = %q, want %q", got, tt.want)
			}
			if got := c.Rules[0].Destinations[1].Host(); got != tt.want+".dkr.ecr.eu-west-1.amazonaws.com" {
				t.Fatalf("host = %q", got)
			}
		})
	}
}

func TestLoadRefusesAccountIDsThatAreNotTwelveDigits(t *testing.T) {
	t.Parallel()
	const field = "rules[0].destinations[1].account_id"
	for _, v := range []string{"0x19DE4F5B37", "1e11", "11111111111", "1111111111111", "-22222222222", "2222222222.2", "2.22222222222e11",
		"true", "[222222222222]", "{a: 1}", `"2222-2222-2222"`, "+222222222222", "222_222_222_222", "0o12345670123", ".inf", "!!binary MTIz"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]byte(doc("account_id: " + v)))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != field {
				t.Fatalf("Load: %v; want an error naming %s", err, field)
			}
			if !strings.Contains(err.Error(), "12-digit") {
				t.Fatalf("Load: %v; want it to say what an account ID is", err)
			}
		})
	}
	t.Run("JSON float", func(t *testing.T) {
		t.Parallel()
		_, err := Load([]byte(`{"source":{"account_id":2.22222222222e11,"region":"us-east-1"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001"}]}]}`))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "source.account_id" || !strings.Contains(err.Error(), "2.22222222222e11") {
			t.Fatalf("Load: %v; want an error naming source.account_id and the value as written", err)
		}
	})
}

func TestLoadNamesUnknownFieldsAndTheNearestKnownOne(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, field, hint string }{
		{"tag for tags", "source: {registry: 127.0.0.1:5000}\nrules:\n  - tag: [dev]\n    destinations: [{registry: 127.0.0.1:5001}]\n", "rules[0].tag", "did you mean tags?"},
		{"regoin for region", doc("regoin: eu-west-1"), "rules[0].destinations[1].regoin", "did you mean region?"},
		{"top level", "sources: {registry: 127.0.0.1:5000}\n", "sources", "did you mean source?"},
		{"in the source", "source: {registry: 127.0.0.1:5000, acount_id: \"111111111111\"}\n", "source.acount_id", "did you mean account_id?"},
		{"JSON", `{"source":{"registry":"127.0.0.1:5000"},"rules":[{"destinations":[{"registry":"127.0.0.1:5001","repositroy":"x"}]}]}`, "rules[0].destinations[0].repositroy", "did you mean repository?"},
		{"nothing near", doc("colour: blue"), "rules[0].destinations[1].colour", "registry, account_id, region, role_arn, fips, dual_stack, repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]byte(tt.doc))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(err.Error(), tt.hint) {
				t.Fatalf("Load: %v; want an error naming %s and saying %q", err, tt.field, tt.hint)
			}
		})
	}
}

func TestLoadChecksRegionsAgainstTheKnownList(t *testing.T) {
	t.Parallel()
	const field = "rules[0].destinations[1].region"
	for _, tt := range []struct{ region, suggestion string }{
		{"eu-westt-1", "eu-west-1"}, {"us-esat-1", "us-east-1"}, {"ap-southest-1", "ap-southeast-1"},
	} {
		t.Run(tt.region, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]byte(strings.Replace(doc("account_id: 222222222222"), "eu-west-1", tt.region, 1)))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != field || !strings.Contains(err.Error(), "did you mean "+tt.suggestion+"?") {
				t.Fatalf("Load: %v; want an error naming %s and suggesting %s", err, field, tt.suggestion)
			}
		})
	}
	for _, region := range []string{"ap-southeast-9", "moon-base-1", "eu-east-1"} {
		t.Run(region+" may be new", func(t *testing.T) {
			t.Parallel()
			c, err := Load([]byte(strings.Replace(doc("account_id: 222222222222"), "eu-west-1", region, 1)))
			if err != nil {
				t.Fatalf("Load: %v; a Region unlike any known one may be new, and is accepted", err)
			}
			w := c.Warnings()
			if len(w) != 1 || !strings.HasPrefix(w[0], field+": ") || !strings.Contains(w[0], region) {
				t.Fatalf("Warnings() = %q; want one naming %s and %s", w, field, region)
			}
		})
	}
	c := mustLoad(t, doc("account_id: 222222222222"))
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("Warnings() = %q for known Regions", w)
	}
}

func TestLoadDecodesYAMLAsWritten(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, `
source: {registry: 127.0.0.1:5000}
rules:
  - repositories: [app]
    tags: [1.10, 2, true]
    destinations:
      - &dst {account_id: 222222222222, region: us-east-1, fips: true}
  - repositories: [other]
    destinations: [*dst, {<<: *dst, region: eu-west-1, fips: false}]
`)
	if got := c.Rules[0].Tags; !slices.Equal(got, []string{"1.10", "2", "true"}) {
		t.Fatalf("tags = %q: want them as written", got)
	}
	d := c.Rules[1].Destinations
	if len(d) != 2 || d[0].Host() != "222222222222.dkr.ecr-fips.us-east-1.amazonaws.com" || d[1].Host() != "222222222222.dkr.ecr.eu-west-1.amazonaws.com" {
		t.Fatalf("aliased destinations = %+v", d)
	}
}

func TestLoadRefusesAmbiguousYAML(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, field, say string }{
		{"key given twice", "source: {registry: 127.0.0.1:5000}\nsource: {registry: 127.0.0.1:5002}\n", "source", "twice"},
		{"bool spelt yes", doc("account_id: 222222222222\n        fips: yes"), "rules[0].destinations[1].fips", "true or false"},
		{"quoted bool", doc("account_id: 222222222222\n        fips: \"true\""), "rules[0].destinations[1].fips", "true or false"},
		{"list for a string", "source: {registry: [a]}\n", "source.registry", "want a string"},
		{"string for a list", "source: {registry: 127.0.0.1:5000}\nrules: [{tags: dev}]\n", "rules[0].tags", "want a list"},
		{"list for a mapping", "source: [registry]\n", "source", "want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]byte(tt.doc))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("Load: %v; want an error naming %s and saying %q", err, tt.field, tt.say)
			}
		})
	}
	if _, err := Load([]byte("source: {registry: 127.0.0.1:5000}\nrules: [{destinations: [{registry: 127.0.0.1:5001}]}]\n---\nsource: {}\n")); err == nil {
		t.Fatal("Load accepted two YAML documents")
	}
}

func TestFieldErrorsGiveTheLine(t *testing.T) {
	t.Parallel()
	_, err := Load([]byte(doc("tag: dev")))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line != 8 || !strings.Contains(err.Error(), "line 8") {
		t.Fatalf("Load: %v; want it to name line 8", err)
	}
	_, err = Load([]byte(doc("account_id: 222222222222\n        role_arn: nope")))
	if !errors.As(err, &fe) || fe.Field != "rules[0].destinations[1].role_arn" || fe.Line != 9 {
		t.Fatalf("Load: %v; want a Validate error naming role_arn on line 9", err)
	}
}

func TestLoadBoundsWhatAliasesExpandTo(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("source: {registry: 127.0.0.1:5000}\nd: &d {registry: 127.0.0.1:5001}\nrules:\n  - &r\n    destinations: [*d")
	b.WriteString(strings.Repeat(", *d", 999))
	b.WriteString("]\n")
	for range 999 {
		b.WriteString("  - *r\n")
	}
	_, err := Load([]byte(strings.Replace(b.String(), "d: &d {registry: 127.0.0.1:5001}\n", "", 1)))
	if err == nil {
		t.Fatal("Load accepted an alias used before its anchor")
	}
	doc := strings.Replace(b.String(), "d: &d {registry: 127.0.0.1:5001}\nrules:\n  - &r\n    destinations: [*d", "rules:\n  - &r\n    destinations: [&d {registry: 127.0.0.1:5001}", 1)
	_, err = Load([]byte(doc))
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("Load of %d bytes that expand to a million destinations: %v; want it refused", len(doc), err)
	}
}

// TestLoadReadsPlatformsAndNamesABadOne: a rule's platforms are os/architecture[/variant]; a
// bad one is refused with its path and line, and one listed twice too.
func TestLoadReadsPlatformsAndNamesABadOne(t *testing.T) {
	t.Parallel()
	const head = "source: {registry: 127.0.0.1:5000}\nrules:\n  - destinations: [{registry: 127.0.0.1:5001}]\n    platforms:\n"
	c, err := Load([]byte(head + "      - linux/amd64\n      - linux/arm/v7\n"))
	if err != nil || strings.Join(c.Rules[0].Platforms, ",") != "linux/amd64,linux/arm/v7" {
		t.Fatalf("Load: %v, %v; want platforms linux/amd64 and linux/arm/v7", c, err)
	}
	for _, tt := range []struct{ list, field, say string }{
		{"      - linux/amd64\n      - arm64\n", "rules[0].platforms[1]", "os/architecture"},
		{"      - Linux/AMD64\n", "rules[0].platforms[0]", "lower case"},
		{"      - linux/amd64\n      - linux/amd64\n", "rules[0].platforms[1]", "listed twice"},
	} {
		_, err := Load([]byte(head + tt.list))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || fe.Line == 0 || !strings.Contains(err.Error(), tt.say) {
			t.Errorf("Load(%q): %v; want an error naming %s with its line and saying %q", tt.list, err, tt.field, tt.say)
		}
	}
}
