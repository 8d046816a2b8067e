package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	goPlat := runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH
	vcs := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/ecrsync/ecrsync", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, c := range []struct {
		name, version, commit string
		bi                    *debug.BuildInfo
		want                  string
	}{
		{"stamped wins over the toolchain's", "v1.2.3", "abc1234", vcs, "ecrsync v1.2.3 (commit abc1234, " + goPlat + ")"},
		{"go install @version with VCS data", "", "", vcs, "ecrsync v1.4.0 (commit 0123456-dirty, " + goPlat + ")"},
		{"plain build outside Git", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "ecrsync dev (commit unknown, " + goPlat + ")"},
		{"no build info", "", "", nil, "ecrsync dev (commit unknown, " + goPlat + ")"},
	} {
		if got := resolve(c.version, c.commit, c.bi).String(); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}
