// Package event decodes everything an invocation of ecrsync can carry — Amazon EventBridge "ECR
// Image Action" events, CNCF distribution's registry notifications, reconcile requests (a
// schedule's, or the fan-out's one message per repository), an SQS batch of any of these, and
// Lambda's on-failure destination record that wraps one of them — into records of one Push type
// or one Reconcile request. The Lambda function, `ecrsync handle` and `ecrsync replay` share it.
// It is pure: it decodes and checks, and never reaches a network.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ecrsync/ecrsync/internal/awsname"
	"github.com/ecrsync/ecrsync/internal/ref"
)

// Kinds of input Decode recognises.
const (
	KindEventBridge  = "eventbridge"  // one EventBridge event (any source, any detail-type)
	KindSQS          = "sqs"          // an SQS batch whose message bodies are EventBridge events
	KindNotification = "notification" // a distribution registry notification envelope
	KindReconcile    = "reconcile"    // a reconcile request: {"ecrsync":"reconcile",...}
)

// Actions of a Push.
const (
	ActionPush   = "PUSH"
	ActionDelete = "DELETE"
)

// Sources of a Push.
const (
	SourceECR      = "aws.ecr"  // EventBridge's source for Amazon ECR events
	SourceRegistry = "registry" // a distribution registry notification
)

// DetailTypeImageAction is the EventBridge detail-type of ECR pushes and deletes.
const DetailTypeImageAction = "ECR Image Action"

// MaxInput bounds an input: Lambda's asynchronous payload limit is 1 MB, an SQS batch of ten
// messages of 256 KiB is 2.5 MiB; anything larger is not an event.
const MaxInput = 6 << 20

// ErrMalformed is wrapped by every decoding error: the input is not something any retry can fix.
var ErrMalformed = errors.New("malformed event")

// Push is one registry event about one manifest, whatever carried it.
type Push struct {
	Source     string    `json:"source"`               // SourceECR or SourceRegistry; the EventBridge source otherwise
	DetailType string    `json:"detailType,omitempty"` // EventBridge detail-type, e.g. "ECR Image Action"
	ID         string    `json:"id,omitempty"`         // the event's ID
	Time       time.Time `json:"time,omitzero"`
	Account    string    `json:"account,omitempty"` // AWS account of an ECR event
	Region     string    `json:"region,omitempty"`  // AWS Region of an ECR event
	// Registry is the host[:port] of the registry the push happened in: derived from account and
	// Region for ECR events, the request's host for registry notifications.
	Registry   string `json:"registry,omitempty"`
	Repository string `json:"repository,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Tag        string `json:"tag,omitempty"`    // empty for a push by digest (a child manifest of an index)
	Action     string `json:"action,omitempty"` // ActionPush, ActionDelete, or as the event says
	Result     string `json:"result,omitempty"` // SUCCESS or FAILURE for ECR events
	// MediaType is the manifest's media type (ECR's manifest-media-type, distribution's
	// target.mediaType); ArtifactMediaType is ECR's artifact-media-type (the config's type).
	MediaType         string `json:"mediaType,omitempty"`
	ArtifactMediaType string `json:"artifactMediaType,omitempty"`
	// Tags are a scan event's image-tags (ActionScan; scan.go).
	Tags []string `json:"tags,omitempty"`
}

// String names the pushed manifest: host/repo:tag@digest.
func (p Push) String() string {
	s := p.Registry + "/" + p.Repository
	if p.Tag != "" {
		s += ":" + p.Tag
	}
	if p.Digest != "" {
		s += "@" + p.Digest
	}
	return s
}

// SkipReason says why a push needs no copy, or "" when it does: only successful pushes of a
// tagged manifest do. Untagged pushes are the children of an index pushed by digest before the
// index itself (REFERENCE.md, inferred); the tagged index event that follows brings them along.
func (p Push) SkipReason() string {
	switch {
	case p.Action == ActionScan:
		return "scan event: no rule with a scan gate holds this image"
	case p.Source == SourceECR && p.DetailType != DetailTypeImageAction:
		return "not an image action: " + p.DetailType
	case p.Source != SourceECR && p.Source != SourceRegistry:
		return fmt.Sprintf("not an ECR event: source %q, detail-type %q", p.Source, p.DetailType)
	case p.Action == ActionDelete:
		return "delete (delete sync is not enabled)"
	case p.Action != ActionPush:
		return "action " + p.Action
	case p.Result != "" && p.Result != "SUCCESS":
		return "push result " + p.Result
	case p.Tag == "":
		return "untagged push (a child manifest, or a push by digest)"
	}
	return ""
}

// Record is one item of an input: a Push, a reconcile request (Reconcile not nil), or why it
// could not be read. ID is what an SQS batch response names a failed item by (the message ID);
// for other inputs it is the event ID.
type Record struct {
	ID        string     `json:"id,omitempty"`
	Push      Push       `json:"push"`
	Reconcile *Reconcile `json:"reconcile,omitempty"`
	Err       error      `json:"-"`
}

// Input is a decoded invocation payload.
type Input struct {
	Kind    string
	Records []Record
}

// Decode reads a payload: an EventBridge event, a registry notification envelope, a reconcile
// request, an SQS batch whose messages are any of these, or Lambda's on-failure destination
// record of one (Decode unwraps its requestPayload). An error (wrapping ErrMalformed) means the
// whole payload is unreadable; a batch whose single items are bad returns those items with Err
// set, so the rest can still be handled.
func Decode(data []byte) (*Input, error) {
	if len(data) > MaxInput {
		return nil, malformed("input of %d bytes is larger than %d", len(data), MaxInput)
	}
	var probe struct {
		Records []json.RawMessage `json:"Records"`
		Events  []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, notAnObject(data, err)
	}
	switch {
	case probe.Records != nil:
		return decodeSQS(probe.Records)
	case probe.Events != nil:
		return decodeNotification(probe.Events)
	}
	kind, r, err := decodeOne(data, true)
	if err != nil {
		return nil, err
	}
	return &Input{Kind: kind, Records: []Record{r}}, nil
}

// notAnObject says what input that does not decode as a JSON object is instead, in words: the
// decoder's own message names Go types.
func notAnObject(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformed("not JSON: %v (at byte %d)", se, se.Offset)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	what := "nothing"
	if len(trimmed) > 0 {
		switch trimmed[0] {
		case '[':
			what = "a JSON array"
		case '"':
			what = "a JSON string"
		case 't', 'f':
			what = "a JSON boolean"
		case 'n':
			what = "JSON null"
		default:
			what = "a JSON number"
		}
	}
	return malformed("%s, not an event: give one JSON object (an event, a reconcile request, an on-failure record; several events as an SQS batch {\"Records\": [...]})", what)
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// eventBridge is the EventBridge envelope; Detail is read according to DetailType.
type eventBridge struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// ImageActionDetail is the detail of an "ECR Image Action" event (Amazon ECR User Guide,
// "Amazon ECR events and EventBridge"). aws-lambda-go's events.ECRImageActionEventDetailType
// lacks the newer manifest-media-type and artifact-media-type.
type ImageActionDetail struct {
	Result            string `json:"result"`
	RepositoryName    string `json:"repository-name"`
	ImageDigest       string `json:"image-digest"`
	ActionType        string `json:"action-type"`
	ImageTag          string `json:"image-tag"`
	ManifestMediaType string `json:"manifest-media-type,omitempty"`
	ArtifactMediaType string `json:"artifact-media-type,omitempty"`
}

func decodeEventBridge(data []byte) (Push, error) {
	var e eventBridge
	if err := json.Unmarshal(data, &e); err != nil {
		return Push{}, malformed("EventBridge event: %v", err)
	}
	p := Push{Source: e.Source, DetailType: e.DetailType, ID: e.ID, Time: e.Time, Account: e.Account, Region: e.Region}
	if isScanEvent(e.Source, e.DetailType) {
		return decodeScan(e, p)
	}
	if e.Source != SourceECR || e.DetailType != DetailTypeImageAction {
		// Another ECR detail-type (Image Scan, Replication Action...) or another source
		// (a scheduled event): acknowledged by the handler, never decoded further here.
		return p, nil
	}
	var d ImageActionDetail
	if len(e.Detail) == 0 || bytes.Equal(e.Detail, []byte("null")) {
		return p, malformed("ECR Image Action event %s has no detail", e.ID)
	}
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return p, malformed("ECR Image Action event %s: detail: %v", e.ID, err)
	}
	host, err := awsname.Host(awsname.Location{Account: e.Account, Region: e.Region})
	if err != nil {
		return p, malformed("ECR Image Action event %s: %v", e.ID, err)
	}
	p.Registry, p.Repository, p.Digest, p.Tag = host, d.RepositoryName, d.ImageDigest, d.ImageTag
	p.Action, p.Result, p.MediaType, p.ArtifactMediaType = d.ActionType, d.Result, d.ManifestMediaType, d.ArtifactMediaType
	return p, check(p)
}

func decodeSQS(records []json.RawMessage) (*Input, error) {
	in := &Input{Kind: KindSQS}
	for i, raw := range records {
		var m events.SQSMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, malformed("SQS record %d: %v", i, err)
		}
		if m.EventSource != "aws:sqs" {
			return nil, malformed("record %d comes from %q, not aws:sqs", i, m.EventSource)
		}
		if m.MessageId == "" {
			return nil, malformed("SQS record %d has no messageId", i)
		}
		_, r, err := decodeOne([]byte(m.Body), true)
		if err != nil {
			r.Err = fmt.Errorf("SQS message %s: %w", m.MessageId, err)
		}
		r.ID = m.MessageId
		in.Records = append(in.Records, r)
	}
	return in, nil
}

// notification is one event of distribution's notification envelope
// (application/vnd.docker.distribution.events.v2+json, distribution docs "Notifications").
type notification struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Action    string    `json:"action"`
	Target    struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"target"`
	Request struct {
		Host string `json:"host"`
	} `json:"request"`
}

func decodeNotification(events []json.RawMessage) (*Input, error) {
	in := &Input{Kind: KindNotification}
	for i, raw := range events {
		var n notification
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, malformed("notification event %d: %v", i, err)
		}
		r := Record{ID: n.ID, Push: Push{Source: SourceRegistry, ID: n.ID, Time: n.Timestamp,
			Registry: n.Request.Host, Repository: n.Target.Repository, Digest: n.Target.Digest, Tag: n.Target.Tag,
			Action: strings.ToUpper(n.Action), MediaType: n.Target.MediaType}}
		if r.Push.Action == ActionPush && !isManifestType(n.Target.MediaType) {
			// Blob pushes (layers, configs) are announced too; only manifests can be copied.
			r.Push.Action = "PUSH_BLOB"
		}
		if r.Push.Action == ActionPush || r.Push.Action == ActionDelete {
			// request.host is an HTTP Host header: any case (ref's case rules); kept canonical.
			if host, err := ref.ParseHost(r.Push.Registry); err != nil {
				r.Err = malformed("notification %s: request.host %q is not a registry host", n.ID, r.Push.Registry)
			} else {
				r.Push.Registry = host
				r.Err = check(r.Push)
			}
		}
		in.Records = append(in.Records, r)
	}
	return in, nil
}

// isManifestType reports whether a media type names a manifest rather than a blob. An empty one
// is taken as a manifest: older registries leave it out.
func isManifestType(mt string) bool {
	return mt == "" || strings.Contains(mt, "manifest") || strings.HasSuffix(mt, "index.v1+json")
}

// check rejects a push whose names no registry would accept: the handler must never build a
// request from them (a repository like ../x or one with control characters).
func check(p Push) error {
	if !ref.ValidRepository(p.Repository) {
		return malformed("event %s: repository %q is not a valid repository name", p.ID, p.Repository)
	}
	// The digest's grammar only: the ECR documentation's own example event carries a shortened one.
	if p.Digest != "" && !ref.ValidDigest(p.Digest) || p.Digest == "" && p.Tag == "" {
		return malformed("event %s: digest %q is not a valid digest", p.ID, p.Digest)
	}
	if p.Tag != "" && !ref.ValidTag(p.Tag) {
		return malformed("event %s: tag %q is not a valid tag", p.ID, p.Tag)
	}
	return nil
}

// EventBridgeEvent builds the "ECR Image Action" event EventBridge would deliver for p (p.Account
// and p.Region name the registry), in the format of the Amazon ECR documentation's example. Tests,
// the dev stack and replays use it to feed the handler what AWS sends.
func EventBridgeEvent(p Push) ([]byte, error) {
	if p.Time.IsZero() {
		p.Time = time.Now().UTC().Truncate(time.Second)
	}
	detail, err := json.Marshal(ImageActionDetail{Result: p.Result, RepositoryName: p.Repository, ImageDigest: p.Digest,
		ActionType: p.Action, ImageTag: p.Tag, ManifestMediaType: p.MediaType, ArtifactMediaType: p.ArtifactMediaType})
	if err != nil {
		return nil, err
	}
	dt := p.DetailType
	if dt == "" {
		dt = DetailTypeImageAction
	}
	return json.Marshal(eventBridge{Version: "0", ID: p.ID, DetailType: dt, Source: SourceECR, Account: p.Account,
		Time: p.Time, Region: p.Region, Resources: []string{}, Detail: detail})
}
