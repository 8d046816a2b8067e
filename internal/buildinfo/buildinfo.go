// Package buildinfo says which build of ecrsync is running: its version and commit, stamped at
// build time (make build, make lambda, make release) or, for a plain `go build`/`go install`,
// read from what the Go toolchain recorded in the binary.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version and Commit are stamped with -ldflags "-X github.com/ecrsync/ecrsync/internal/buildinfo.Version=v1.2.3
// -X github.com/ecrsync/ecrsync/internal/buildinfo.Commit=abc1234". Left empty, Info falls back to
// the binary's module version and VCS revision (go install ...@v1.2.3, or a build inside a Git
// work tree), then to "dev" and "unknown".
var (
	Version string
	Commit  string
)

// Info is one build's identity.
type Info struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// Get returns this binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(Version, Commit, bi)
}

// resolve fills Info from the stamped values, else from the build info the toolchain embedded.
func resolve(version, commit string, bi *debug.BuildInfo) Info {
	in := Info{Version: version, Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		if in.Commit == "" {
			var rev string
			dirty := false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if rev != "" {
				in.Commit = short(rev)
				if dirty {
					in.Commit += "-dirty"
				}
			}
		}
	}
	if in.Version == "" {
		in.Version = "dev"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}

// short cuts a full commit hash to the 7 characters `git rev-parse --short` usually prints.
func short(rev string) string {
	if len(rev) > 7 && strings.Trim(rev, "0123456789abcdef") == "" {
		return rev[:7]
	}
	return rev
}

// String is the one-line form `ecrsync version`, `ecrsync --version` and the Lambda's init log
// line print: "ecrsync v1.2.3 (commit abc1234, go1.26.8, linux/arm64)".
func (i Info) String() string {
	return "ecrsync " + i.Version + " (commit " + i.Commit + ", " + i.Go + ", " + i.Platform + ")"
}

// String is Get().String().
func String() string { return Get().String() }
