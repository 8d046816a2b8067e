package eventpattern

import "testing"

const push = `{"version":"0","id":"13cde686-328b-6117-af20-0e5566167482","detail-type":"ECR Image Action",
 "source":"aws.ecr","account":"123456789012","time":"2019-11-16T01:54:34Z","region":"us-west-2",
 "resources":[],"detail":{"result":"SUCCESS","repository-name":"team/app",
 "image-digest":"sha256:7f5b","action-type":"PUSH","image-tag":"v1.2.3"}}`

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"exact values", `{"source":["aws.ecr"],"detail-type":["ECR Image Action"]}`, true},
		{"one of several values", `{"source":["aws.s3","aws.ecr"]}`, true},
		{"value differs", `{"source":["aws.s3"]}`, false},
		{"nested object", `{"detail":{"action-type":["PUSH"],"result":["SUCCESS"]}}`, true},
		{"nested value differs", `{"detail":{"action-type":["DELETE"]}}`, false},
		{"missing field", `{"detail":{"nope":["x"]}}`, false},
		{"exists false on missing field", `{"detail":{"nope":[{"exists":false}]}}`, true},
		{"exists true on present field", `{"detail":{"image-tag":[{"exists":true}]}}`, true},
		{"exists false on present field", `{"detail":{"image-tag":[{"exists":false}]}}`, false},
		{"prefix", `{"detail":{"image-tag":[{"prefix":"v1."}]}}`, true},
		{"prefix differs", `{"detail":{"image-tag":[{"prefix":"v2."}]}}`, false},
		{"suffix", `{"detail":{"image-tag":[{"suffix":".3"}]}}`, true},
		{"wildcard crosses slash", `{"detail":{"repository-name":[{"wildcard":"te*pp"}]}}`, true},
		{"wildcard prefix glob", `{"detail":{"repository-name":[{"wildcard":"team/*"}]}}`, true},
		{"wildcard differs", `{"detail":{"repository-name":[{"wildcard":"other/*"}]}}`, false},
		{"anything-but value", `{"detail":{"image-tag":[{"anything-but":""}]}}`, true},
		{"anything-but same value", `{"detail":{"image-tag":[{"anything-but":"v1.2.3"}]}}`, false},
		{"anything-but list", `{"detail":{"image-tag":[{"anything-but":["a","v1.2.3"]}]}}`, false},
		{"anything-but prefix", `{"detail":{"image-tag":[{"anything-but":{"prefix":"v"}}]}}`, false},
		{"anything-but on missing field", `{"detail":{"nope":[{"anything-but":"x"}]}}`, false},
		{"equals-ignore-case", `{"detail":{"action-type":[{"equals-ignore-case":"push"}]}}`, true},
		{"event array intersects", `{"resources":[{"exists":false}]}`, false},
		{"object field against leaf", `{"detail":["x"]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Match([]byte(tt.pattern), []byte(push))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Match(%s) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

func TestMatchEventArray(t *testing.T) {
	t.Parallel()
	ev := `{"resources":["arn:a","arn:b"]}`
	for pattern, want := range map[string]bool{
		`{"resources":["arn:b"]}`:              true,
		`{"resources":["arn:c"]}`:              false,
		`{"resources":[{"prefix":"arn:"}]}`:    true,
		`{"resources":[{"exists":true}]}`:      true,
		`{"resources":[{"anything-but":"x"}]}`: true,
	} {
		got, err := Match([]byte(pattern), []byte(ev))
		if err != nil || got != want {
			t.Errorf("Match(%s) = %v, %v; want %v", pattern, got, err, want)
		}
	}
}

func TestMatchNumbers(t *testing.T) {
	t.Parallel()
	got, err := Match([]byte(`{"n":[5.0]}`), []byte(`{"n":5}`))
	if err != nil || !got {
		t.Errorf("5.0 vs 5: %v, %v", got, err)
	}
	got, err = Match([]byte(`{"n":["5"]}`), []byte(`{"n":5}`))
	if err != nil || got {
		t.Errorf(`"5" vs 5: %v, %v`, got, err)
	}
}

func TestMatchUnsupportedOperatorIsAnError(t *testing.T) {
	t.Parallel()
	for _, p := range []string{`{"n":[{"numeric":[">",1]}]}`, `{"$or":[]}`, `{"n":"x"}`} {
		if _, err := Match([]byte(p), []byte(`{"n":2}`)); err == nil {
			t.Errorf("Match(%s): no error", p)
		}
	}
}

func TestWildcard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"v*", "v1", true},
		{"v*", "1v", false},
		{"*-rc*", "1.0-rc2", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
	}
	for _, tt := range tests {
		got, err := Wildcard(tt.pattern, tt.s)
		if err != nil || got != tt.want {
			t.Errorf("Wildcard(%q, %q) = %v, %v; want %v", tt.pattern, tt.s, got, err, tt.want)
		}
	}
	if _, err := Wildcard("a**", "a"); err == nil {
		t.Error("consecutive stars: no error")
	}
}
