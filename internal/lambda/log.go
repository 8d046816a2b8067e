package lambda

import (
	"context"
	"log/slog"
	"strings"

	"github.com/ecrsync/ecrsync/internal/rules"
)

// outcomeAttrs are the keys of the one log line per event and destination. The strings come from
// the event, the config and error messages, which never hold credentials: registry errors carry
// URLs without query strings (presigned URLs keep theirs there) and never headers.
func outcomeAttrs(o Outcome) []any {
	a := []any{"outcome", o.Outcome}
	add := func(k, v string) {
		if v != "" {
			a = append(a, k, v)
		}
	}
	add("event", o.Event)
	add("src", o.Src)
	add("dst", o.Dst)
	add("tag", o.Tag)
	add("digest", o.Digest)
	add("eventDigest", o.EventDigest)
	add("reason", o.Reason)
	add("fix", o.Fix)
	if o.RepositoryCreated {
		a = append(a, "repositoryCreated", true)
	}
	if o.Gate != nil {
		a = append(a, "gate", o.Gate)
	}
	if o.Dst != "" {
		a = append(a, "bytes", o.Bytes, "blobsSkipped", o.BlobsSkipped, "durationMs", o.DurationMs)
	}
	return a
}

func (h *Handler) logOutcome(ctx context.Context, o Outcome, t rules.Target) {
	level := slog.LevelInfo
	switch o.Outcome {
	case OutcomeRetryable:
		level = slog.LevelWarn
	case OutcomeNeedsAction:
		level = slog.LevelError
	}
	attrs := outcomeAttrs(o)
	if h.Metrics {
		attrs = append(attrs, h.emf(o, t)...)
	}
	h.log().Log(ctx, level, "sync", attrs...)
}

// EMF dimension names. Every dimension value set is a custom metric CloudWatch bills, so only
// bounded values are dimensions: the destination registry (host, one per account and Region) and
// the outcome (one of six). The repository is a plain property of the line (DestinationRepository,
// beside dst), where Logs Insights can still group by it, never a dimension: thousands of
// repositories would be thousands of metrics.
const (
	dimRegistry = "Registry"
	dimOutcome  = "Outcome"
)

// emf returns CloudWatch Embedded Metric Format fields for one sync: the metrics are the root
// keys SyncDuration, BytesSent, BlobsSkipped and Syncs, with the dimension sets {Registry,
// Outcome} and {Outcome} (Amazon CloudWatch User Guide, "Embedded metric format specification").
// CloudWatch Logs extracts them from the JSON log line; nothing else is sent anywhere.
func (h *Handler) emf(o Outcome, t rules.Target) []any {
	ns := h.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return []any{
		"_aws", map[string]any{
			"Timestamp": nowMillis(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  ns,
				"Dimensions": [][]string{{dimRegistry, dimOutcome}, {dimOutcome}},
				"Metrics": []map[string]string{
					{"Name": "SyncDuration", "Unit": "Milliseconds"},
					{"Name": "BytesSent", "Unit": "Bytes"},
					{"Name": "BlobsSkipped", "Unit": "Count"},
					{"Name": "Syncs", "Unit": "Count"},
				},
			}},
		},
		dimRegistry, t.Host,
		dimOutcome, o.Outcome,
		"DestinationRepository", strings.TrimSuffix(t.Repository, "/"),
		"SyncDuration", o.DurationMs,
		"BytesSent", o.Bytes,
		"BlobsSkipped", o.BlobsSkipped,
		"Syncs", 1,
	}
}
