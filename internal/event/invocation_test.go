package event

import (
	"errors"
	"testing"
)

// TestDecodeInvocations covers what an invocation carries besides a push: reconcile requests
// (direct, scheduled), and Lambda's on-failure record around either, as the failure queue
// holds them.
func TestDecodeInvocations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		kind      string
		reconcile *Reconcile // nil: a push
		id        string
	}{
		{"reconcile-repository.json", KindReconcile, &Reconcile{Ecrsync: "reconcile", Repository: "team/api"}, ""},
		{"scheduled.json", KindEventBridge, &Reconcile{Ecrsync: "reconcile"}, "89d1a02d-5ec7-412e-82f5-13505f849b41"},
		{"on-failure-reconcile.json", KindReconcile, &Reconcile{Ecrsync: "reconcile"}, ""},
		{"on-failure.json", KindEventBridge, nil, "13cde686-328b-6117-af20-0e5566167482"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			in, err := Decode(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != tt.kind || len(in.Records) != 1 || in.Records[0].Err != nil || in.Records[0].ID != tt.id {
				t.Fatalf("%+v, want kind %s, one good record with ID %q", in, tt.kind, tt.id)
			}
			r := in.Records[0]
			switch {
			case tt.reconcile == nil && r.Reconcile != nil:
				t.Fatalf("a push decoded as reconcile request %+v", r.Reconcile)
			case tt.reconcile == nil:
				assertFields(t, r.Push, Push{Registry: docHost, Repository: "my-repository-name", Digest: docDigest, Tag: "latest", Action: "PUSH", Result: "SUCCESS"})
			case r.Reconcile == nil || *r.Reconcile != *tt.reconcile:
				t.Fatalf("reconcile request %+v, want %+v", r.Reconcile, tt.reconcile)
			}
		})
	}
}

func TestDecodeSQSBatchOfEveryKind(t *testing.T) {
	t.Parallel()
	in, err := Decode(fixture(t, "sqs-mixed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != KindSQS || len(in.Records) != 3 {
		t.Fatalf("%+v", in)
	}
	if r := in.Records[0]; r.ID != "m-1" || r.Err != nil || r.Reconcile == nil || r.Reconcile.Repository != "app" {
		t.Errorf("reconcile message: %+v", r)
	}
	if r := in.Records[1]; r.ID != "m-2" || r.Err != nil || r.Reconcile != nil || r.Push.Repository != "my-repository-name" {
		t.Errorf("on-failure record in a message: %+v", r)
	}
	if r := in.Records[2]; r.ID != "m-3" || !errors.Is(r.Err, ErrMalformed) {
		t.Errorf("unknown ecrsync request: %+v", r)
	}
}

func TestDecodeRejectsBadRequests(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{}
	for name, data := range map[string]string{
		"unknown request":          `{"ecrsync":"delete-everything"}`,
		"hostile repository":       `{"ecrsync":"reconcile","repository":"../x"}`,
		"repository not a string":  `{"ecrsync":"reconcile","repository":7}`,
		"record of a record":       `{"requestPayload":{"requestPayload":{"ecrsync":"reconcile"}}}`,
		"record of nothing":        `{"requestPayload":{"hello":"world"}}`,
		"record payload not JSON":  `{"requestPayload":"not an event"}`,
		"record of a bad ECR push": `{"requestPayload":{"detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","region":"us-west-2","detail":{"result":"SUCCESS","repository-name":"../x","image-digest":"sha256:00","action-type":"PUSH","image-tag":"x"}}}`,
	} {
		inputs[name] = []byte(data)
	}
	assertMalformed(t, inputs)
}

// assertMalformed checks that Decode rejects each input, or every record of it, as malformed.
func assertMalformed(t *testing.T, inputs map[string][]byte) {
	t.Helper()
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in, err := Decode(data)
			if err == nil {
				for _, r := range in.Records {
					err = errors.Join(err, r.Err)
				}
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %+v, %v; want ErrMalformed", in, err)
			}
		})
	}
}

func TestReconcileMessageRoundTrips(t *testing.T) {
	t.Parallel()
	b, err := ReconcileMessage("team/api")
	if err != nil {
		t.Fatal(err)
	}
	in, err := Decode(b)
	if err != nil || in.Records[0].Reconcile == nil || in.Records[0].Reconcile.Repository != "team/api" {
		t.Fatalf("%s: %+v, %v", b, in, err)
	}
}
