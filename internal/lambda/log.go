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

// emf returns CloudWatch Embedded Metric Format fields for one sync: the metrics are the root
// keys SyncDuration, BytesSent, BlobsSkipped and Syncs, with the dimensions Destination and
// Outcome (Amazon CloudWatch User Guide, "Embedded metric format specification"). CloudWatch
// Logs extracts them from the JSON log line; nothing else is sent anywhere.
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
				"Dimensions": [][]string{{"Destination", "Outcome"}, {"Outcome"}},
				"Metrics": []map[string]string{
					{"Name": "SyncDuration", "Unit": "Milliseconds"},
					{"Name": "BytesSent", "Unit": "Bytes"},
					{"Name": "BlobsSkipped", "Unit": "Count"},
					{"Name": "Syncs", "Unit": "Count"},
				},
			}},
		},
		"Destination", t.Host + "/" + strings.TrimSuffix(t.Repository, "/"),
		"Outcome", o.Outcome,
		"SyncDuration", o.DurationMs,
		"BytesSent", o.Bytes,
		"BlobsSkipped", o.BlobsSkipped,
		"Syncs", 1,
	}
}
