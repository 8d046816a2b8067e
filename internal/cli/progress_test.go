package cli

import (
	"testing"

	"github.com/ecrsync/ecrsync/internal/replicate"
)

// TestProgressLineShowsTotalAndPercentWhenKnown: with a total (from a plan) the line says how
// much of it was sent; without one, only what was sent.
func TestProgressLineShowsTotalAndPercentWhenKnown(t *testing.T) {
	p := replicate.Progress{Ref: "r/app:v1", BytesSent: 512 << 10, BlobsDone: 1}
	b := &progressBar{total: 2 << 20}
	if got, want := b.line(p), "r/app:v1  sent 512.0 KiB of 2.0 MiB (25%), 1 blobs done, 0 skipped"; got != want {
		t.Errorf("with a total: %q, want %q", got, want)
	}
	b.total = 0
	if got, want := b.line(p), "r/app:v1  sent 512.0 KiB, 1 blobs done, 0 skipped"; got != want {
		t.Errorf("without: %q, want %q", got, want)
	}
}
