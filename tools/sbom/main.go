// Command sbom writes a CycloneDX 1.5 JSON SBOM of the Go modules linked into one or more built
// ecrsync binaries, read from the build information the Go toolchain embeds in each binary (what
// `go version -m` prints: debug/buildinfo). It describes what was built, not what go.mod lists:
// a module the build did not link is not in it. The output is deterministic (sorted, no random
// serial number; the timestamp is SOURCE_DATE_EPOCH's, or absent), so a release SBOM is
// reproducible like the binaries.
//
//	go run ./tools/sbom -version v1.2.3 dist/ecrsync-linux-amd64 ... > dist/ecrsync.cdx.json
package main

import (
	"cmp"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

func main() {
	version := flag.String("version", "", "version of the main module (the release tag)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: sbom -version vX.Y.Z BINARY... > sbom.cdx.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(os.Stdout, *version, os.Getenv("SOURCE_DATE_EPOCH"), flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

// BOM is the subset of CycloneDX 1.5 this tool writes.
type BOM struct {
	Format      string      `json:"bomFormat"`
	SpecVersion string      `json:"specVersion"`
	Version     int         `json:"version"`
	Metadata    Metadata    `json:"metadata"`
	Components  []Component `json:"components"`
}

// Metadata describes the software the BOM is about.
type Metadata struct {
	Timestamp  string     `json:"timestamp,omitempty"`
	Tools      Tools      `json:"tools"`
	Component  Component  `json:"component"`
	Properties []Property `json:"properties,omitempty"`
}

// Tools names the tool that wrote the BOM.
type Tools struct {
	Components []Component `json:"components"`
}

// Component is one module (or the application itself).
type Component struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref,omitempty"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"`
	PURL       string     `json:"purl,omitempty"`
	Properties []Property `json:"properties,omitempty"`
}

// Property is a name/value pair.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func run(w io.Writer, version, epoch string, binaries []string) error {
	if version == "" || len(binaries) == 0 {
		return errors.New("need -version and at least one binary: sbom -version vX.Y.Z BINARY...")
	}
	deps := map[string]Component{} // by purl
	var main string
	var props []Property
	for _, b := range binaries {
		bi, err := buildinfo.ReadFile(b)
		if err != nil {
			return fmt.Errorf("read the Go build information of %s (built by go build?): %w", b, err)
		}
		if main != "" && bi.Main.Path != main {
			return fmt.Errorf("%s is built from module %s, the others from %s: one SBOM per module", b, bi.Main.Path, main)
		}
		main = bi.Main.Path
		props = append(props, Property{"ecrsync:binary:" + filepath.Base(b) + ":package", bi.Path})
		name := filepath.Base(b)
		props = append(props, Property{"ecrsync:binary:" + name + ":go", bi.GoVersion})
		for _, s := range bi.Settings {
			switch s.Key {
			case "GOOS", "GOARCH", "-tags", "CGO_ENABLED", "-trimpath":
				props = append(props, Property{"ecrsync:binary:" + name + ":" + s.Key, s.Value})
			}
		}
		for _, d := range bi.Deps {
			m := d
			if d.Replace != nil {
				m = d.Replace
			}
			c := Component{Type: "library", Name: m.Path, Version: m.Version, PURL: purl(m.Path, m.Version)}
			c.BOMRef = c.PURL
			if m.Sum != "" {
				// The go.sum hash (h1: SHA-256 over the module's file tree): what `go mod verify` checks.
				c.Properties = []Property{{"ecrsync:go.sum", m.Sum}}
			}
			if d.Replace != nil {
				c.Properties = append(c.Properties, Property{"ecrsync:replaces", d.Path + "@" + d.Version})
			}
			deps[c.PURL] = c
		}
	}
	bom := BOM{Format: "CycloneDX", SpecVersion: "1.5", Version: 1}
	if epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds: %w", epoch, err)
		}
		bom.Metadata.Timestamp = time.Unix(sec, 0).UTC().Format(time.RFC3339)
	}
	bom.Metadata.Tools.Components = []Component{{Type: "application", Name: "ecrsync tools/sbom"}}
	bom.Metadata.Component = Component{Type: "application", BOMRef: purl(main, version), Name: main, Version: version, PURL: purl(main, version)}
	bom.Metadata.Properties = props
	for _, c := range deps {
		bom.Components = append(bom.Components, c)
	}
	slices.SortFunc(bom.Components, func(a, b Component) int { return cmp.Compare(a.PURL, b.PURL) })
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(bom)
}

// purl is a Package URL of type golang (github.com/package-url/purl-spec): pkg:golang/PATH@VERSION.
func purl(path, version string) string {
	p := "pkg:golang/" + path
	if version != "" {
		p += "@" + version
	}
	return p
}
