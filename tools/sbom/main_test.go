package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The test binary itself carries Go build information: the SBOM names its module, is the same
// bytes twice, and takes its timestamp from SOURCE_DATE_EPOCH only.
func TestSBOMOfABuiltBinaryIsDeterministic(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := run(&a, "v1.2.3", "315532800", []string{exe}); err != nil {
		t.Fatal(err)
	}
	if err := run(&b, "v1.2.3", "315532800", []string{exe}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two SBOMs of one binary differ")
	}
	var bom BOM
	if err := json.Unmarshal(a.Bytes(), &bom); err != nil {
		t.Fatal(err)
	}
	if bom.Format != "CycloneDX" || bom.SpecVersion != "1.5" {
		t.Errorf("format %s %s", bom.Format, bom.SpecVersion)
	}
	if c := bom.Metadata.Component; c.Name != "github.com/ecrsync/ecrsync" || c.PURL != "pkg:golang/github.com/ecrsync/ecrsync@v1.2.3" {
		t.Errorf("main component %+v", c)
	}
	if bom.Metadata.Timestamp != "1980-01-01T00:00:00Z" {
		t.Errorf("timestamp %q, want SOURCE_DATE_EPOCH's", bom.Metadata.Timestamp)
	}
}

func TestSBOMRefusesWhatIsNotAGoBinary(t *testing.T) {
	f := t.TempDir() + "/not-go"
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := run(&bytes.Buffer{}, "v1", "", []string{f})
	if err == nil || !strings.Contains(err.Error(), "not-go") {
		t.Fatalf("err %v, want one naming the file", err)
	}
}
