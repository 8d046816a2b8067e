package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecrsync/ecrsync/internal/app"
	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// ExitBlocked is `ecrsync copy`'s code when the image's gates (--require-signature,
// --max-severity) refuse it: nothing was sent. Distinct from ExitPending (4, sync --dry-run's
// "would copy").
const ExitBlocked = 5

// gateFlags are `copy`'s promotion gates: the same as a rule's require.
type gateFlags struct {
	keys         []string
	maxSeverity  string
	scanWait     time.Duration
	scanOptional bool
}

func (f *gateFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.keys, "require-signature", nil, "copy only if signed (cosign) by this public key: a PEM file, or awskms:///ARN; repeat for any of several; blocked: exit 5, nothing sent")
	cmd.Flags().StringVar(&f.maxSeverity, "max-severity", "", "copy only if the source's ECR scan has no finding above this severity (NONE, INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL); every platform of an index")
	cmd.Flags().DurationVar(&f.scanWait, "scan-wait", gate.DefaultScanWait, "with --max-severity: how long to wait for a scan in progress")
	cmd.Flags().BoolVar(&f.scanOptional, "scan-optional", false, "with --max-severity: copy an image that has no scan at all")
}

// policy builds the gates the flags ask for; nil when none.
func (f *gateFlags) policy() (*gate.Policy, error) {
	p := &gate.Policy{}
	for _, ref := range f.keys {
		k, err := gate.LoadKey(ref, os.ReadFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--require-signature: %w", err)}
		}
		p.Keys = append(p.Keys, k)
	}
	if f.maxSeverity != "" {
		sev, err := gate.ParseSeverity(f.maxSeverity)
		if err != nil {
			return nil, usageError{fmt.Errorf("--max-severity: %w", err)}
		}
		p.Scan = &gate.ScanPolicy{MaxSeverity: sev, Wait: f.scanWait, Optional: f.scanOptional}
	}
	if p.Empty() {
		return nil, nil
	}
	return p, nil
}

// gatedCopy checks src against p and copies exactly the digest it checked to dst (a dst without
// tag or digest takes src's tag). A blocked image exits ExitBlocked with the reasons.
func gatedCopy(ctx context.Context, g *globals, a *app.App, p *gate.Policy, src, dst string) (*replicate.Result, error) {
	srcRepo, srcRef, dstRepo, dstRef, err := parseSrcDst(src, dst)
	if err != nil {
		return nil, err
	}
	if srcRef == "" {
		srcRef = "latest"
	}
	v, err := a.Checker(nil).Check(ctx, srcRepo, srcRef, p)
	if err != nil {
		return nil, err
	}
	if v.Blocked {
		if g.output == "json" {
			json.NewEncoder(g.stdout).Encode(v)
		}
		// Permanent: a blocked image stays blocked until someone signs it or fixes it.
		return nil, exitError{ExitBlocked, &replicate.PermanentError{Err: &gate.BlockedError{Verdict: v}}}
	}
	if dstRef == "" && !isDigestRef(srcRef) {
		dstRef = srcRef
	}
	return a.Copier.CopyRef(ctx, srcRepo, v.Digest, dstRepo, dstRef)
}

func isDigestRef(ref string) bool { return strings.Contains(ref, ":") }

// copyImage copies src to dst, through the gates of p when there are any.
func copyImage(ctx context.Context, g *globals, a *app.App, p *gate.Policy, src, dst string) (*replicate.Result, error) {
	if p == nil {
		return a.Copier.Copy(ctx, src, dst)
	}
	return gatedCopy(ctx, g, a, p, src, dst)
}
