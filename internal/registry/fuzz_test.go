package registry_test

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/registry"
)

// FuzzParseManifest feeds the manifest decoder arbitrary bytes: it must return a manifest or an
// error, never panic, and what it accepts must name only valid digests.
func FuzzParseManifest(f *testing.F) {
	f.Add("application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`))
	f.Add("application/vnd.oci.image.index.v1+json", []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"platform":{"os":"linux","architecture":"amd64"}}]}`))
	f.Add("application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(`{"schemaVersion":1,"fsLayers":[]}`))
	f.Add("", []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:zz","size":-1}]}`))
	f.Add("text/plain", []byte(`null`))
	f.Fuzz(func(t *testing.T, mediaType string, body []byte) {
		m, err := registry.ParseManifest(mediaType, body)
		if err != nil {
			return
		}
		for _, d := range append(append(m.Manifests, m.Layers...), m.ReferrerDescriptor()) {
			if d.Digest.Validate() != nil {
				t.Fatalf("accepted a manifest naming bad digest %q", d.Digest)
			}
		}
		if m.Descriptor.Size != int64(len(body)) {
			t.Fatalf("size %d for %d bytes", m.Descriptor.Size, len(body))
		}
	})
}
