package faults

import (
	"os"
	"os/exec"
	"path/filepath"
)

// Tool is a copier under test: a binary and how to ask it for one copy.
type Tool struct {
	Name string
	Path string
	Args func(srcHost, dstHost, src, dst string) []string
}

// Ecrsync is the tool under test, built at bin.
func Ecrsync(bin string) Tool {
	return Tool{Name: "ecrsync", Path: bin, Args: func(_, _, src, dst string) []string {
		// A retry budget inside the runner's timeout, so that a copy that cannot converge says
		// so (exit 3, with what it tried) rather than being killed.
		return []string{"copy", src, dst, "--output", "json", "--log-level", "debug", "--log-format", "json", "--retry-time", "40s"}
	}}
}

// Peers returns the peers found on PATH or in $GOPATH/bin: crane, regctl and oras, each told
// that the loopback registries speak plain HTTP.
func Peers() (found []Tool, missing []string) {
	peers := []Tool{
		{Name: "crane", Args: func(_, _, src, dst string) []string {
			return []string{"copy", "--insecure", src, dst}
		}},
		{Name: "regctl", Args: func(srcHost, dstHost, src, dst string) []string {
			return []string{"--host", "reg=" + srcHost + ",tls=disabled", "--host", "reg=" + dstHost + ",tls=disabled", "image", "copy", src, dst}
		}},
		{Name: "oras", Args: func(_, _, src, dst string) []string {
			return []string{"cp", "--from-plain-http", "--to-plain-http", src, dst}
		}},
	}
	for _, p := range peers {
		if path := lookPath(p.Name); path != "" {
			p.Path = path
			found = append(found, p)
		} else {
			missing = append(missing, p.Name)
		}
	}
	return found, missing
}

func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
