package event

import (
	"encoding/json"
	"fmt"
	"github.com/ecrsync/ecrsync/internal/ref"
)

// ReconcileMarker is the value of the "ecrsync" key that marks a reconcile request.
const ReconcileMarker = "reconcile"

// Reconcile asks for a reconcile: of one repository ({"ecrsync":"reconcile","repository":"app"},
// the body of each fan-out message), or of everything ({"ecrsync":"reconcile"}, what a schedule
// sends; an EventBridge "Scheduled Event" means the same).
type Reconcile struct {
	Ecrsync    string `json:"ecrsync"`
	Repository string `json:"repository,omitempty"`
}

// ReconcileMessage returns the body of a reconcile request for repository ("" for everything).
func ReconcileMessage(repository string) ([]byte, error) {
	return json.Marshal(Reconcile{Ecrsync: ReconcileMarker, Repository: repository})
}

// Scheduled events: what an EventBridge schedule (a rule with schedule_expression) sends.
const (
	SourceSchedule     = "aws.events"
	DetailTypeSchedule = "Scheduled Event"
)

// onFailure is Lambda's record of an asynchronous invocation that failed, as an on-failure
// destination receives it (AWS Lambda Developer Guide, "Capturing records of Lambda asynchronous
// invocations"): the event itself is requestPayload.
type onFailure struct {
	Version        string          `json:"version"`
	RequestPayload json.RawMessage `json:"requestPayload"`
	RequestContext struct {
		RequestID string `json:"requestId"`
		Condition string `json:"condition"`
	} `json:"requestContext"`
}

// decodeOne reads one item: an EventBridge event (an ECR event, or a schedule, which asks for a
// reconcile), a reconcile request, or, if unwrap, an on-failure record holding one of them.
func decodeOne(data []byte, unwrap bool) (string, Record, error) {
	var probe struct {
		DetailType     *string         `json:"detail-type"`
		Source         string          `json:"source"`
		Ecrsync        *string         `json:"ecrsync"`
		RequestPayload json.RawMessage `json:"requestPayload"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return "", Record{}, notAnObject(data, err)
	}
	switch {
	case probe.DetailType != nil && *probe.DetailType == DetailTypeSchedule && probe.Source == SourceSchedule:
		p, err := decodeEventBridge(data)
		return KindEventBridge, Record{ID: p.ID, Reconcile: &Reconcile{Ecrsync: ReconcileMarker}}, err
	case probe.DetailType != nil:
		p, err := decodeEventBridge(data)
		return KindEventBridge, Record{ID: p.ID, Push: p}, err
	case probe.Ecrsync != nil:
		var r Reconcile
		if err := json.Unmarshal(data, &r); err != nil {
			return KindReconcile, Record{}, malformed("reconcile request: %v", err)
		}
		if r.Ecrsync != ReconcileMarker {
			return KindReconcile, Record{}, malformed("unknown ecrsync request %q: want %q", r.Ecrsync, ReconcileMarker)
		}
		if r.Repository != "" && !ref.ValidRepository(r.Repository) {
			return KindReconcile, Record{}, malformed("reconcile request: repository %q is not a valid repository name", r.Repository)
		}
		return KindReconcile, Record{Reconcile: &r}, nil
	case probe.RequestPayload != nil && unwrap:
		var f onFailure
		if err := json.Unmarshal(data, &f); err != nil {
			return "", Record{}, malformed("on-failure record: %v", err)
		}
		kind, r, err := decodeOne(f.RequestPayload, false)
		if err != nil {
			return kind, r, fmt.Errorf("requestPayload of the on-failure record of request %s: %w", f.RequestContext.RequestID, err)
		}
		return kind, r, nil
	}
	return "", Record{}, malformed("neither an EventBridge event (detail-type), an SQS batch (Records), a registry notification (events), " +
		"a reconcile request (ecrsync) nor a Lambda on-failure record (requestPayload)")
}
