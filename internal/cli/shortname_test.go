package cli

import "testing"

// TestExpandShortResolvesAsDockerDoes: short names get Docker Hub, library/ and latest as docker
// gives them; names with a host (a dot, a port, localhost) are left alone.
func TestExpandShortResolvesAsDockerDoes(t *testing.T) {
	for _, tt := range []struct {
		in     string
		latest bool
		want   string
	}{
		{"alpine", true, "docker.io/library/alpine:latest"},
		{"alpine:3.20", true, "docker.io/library/alpine:3.20"},
		{"team/app", true, "docker.io/team/app:latest"},
		{"team/app", false, "docker.io/team/app"},
		{"alpine@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true, "docker.io/library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"127.0.0.1:5000/app", false, "127.0.0.1:5000/app"},
		{"127.0.0.1:5000/app", true, "127.0.0.1:5000/app"},
		{"localhost/app:v1", true, "localhost/app:v1"},
		{"ghcr.io/org/app:v1", true, "ghcr.io/org/app:v1"},
		{"127.0.0.1:5000", true, "127.0.0.1:5000"},
		{"localhost:5000", false, "localhost:5000"},
		{"registry.example.com", true, "registry.example.com"},
		{"", true, ""},
		{"/app", true, "/app"},
	} {
		if got := expandShort(tt.in, tt.latest); got != tt.want {
			t.Errorf("expandShort(%q, %v) = %q, want %q", tt.in, tt.latest, got, tt.want)
		}
	}
}
