package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ecrsync/ecrsync/internal/ref"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	docHost   = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
	docDigest = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234"
)

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		kind string
		want Push   // compared field by field where set
		skip string // prefix of SkipReason; "" = needs a copy
	}{
		{"push.json", KindEventBridge, Push{Registry: docHost, Repository: "my-repository-name", Digest: docDigest, Tag: "latest", Action: "PUSH", Result: "SUCCESS", Account: "123456789012", Region: "us-west-2"}, ""},
		{"push-index-media-types.json", KindEventBridge, Push{Tag: "latest", MediaType: "application/vnd.oci.image.index.v1+json", ArtifactMediaType: "application/vnd.oci.image.config.v1+json"}, ""},
		{"delete.json", KindEventBridge, Push{Action: "DELETE", Tag: "latest"}, "delete"},
		{"push-failed.json", KindEventBridge, Push{Result: "FAILURE"}, "push result FAILURE"},
		{"untagged-child.json", KindEventBridge, Push{Tag: "", MediaType: "application/vnd.oci.image.manifest.v1+json"}, "untagged push"},
		{"scan.json", KindEventBridge, Push{DetailType: "ECR Image Scan", Region: "us-east-1", Action: ActionScan, Result: "COMPLETE", Repository: "my-repository-name",
			Digest: "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234"}, "scan event"},
		{"inspector-scan.json", KindEventBridge, Push{Source: SourceInspector, DetailType: DetailTypeInspectorScan, Action: ActionScan, Result: "INITIAL_SCAN_COMPLETE",
			Repository: "amazon/amazon-ecs-sample", Registry: "123456789012.dkr.ecr.us-east-2.amazonaws.com", Tags: []string{"latest"}}, "scan event"},
		{"replication.json", KindEventBridge, Push{DetailType: "ECR Replication Action"}, "not an image action: ECR Replication Action"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			in, err := Decode(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != tt.kind || len(in.Records) != 1 {
				t.Fatalf("kind %s with %d records, want %s with 1", in.Kind, len(in.Records), tt.kind)
			}
			r := in.Records[0]
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			assertFields(t, r.Push, tt.want)
			if got := r.Push.SkipReason(); !strings.HasPrefix(got, tt.skip) || (tt.skip == "") != (got == "") {
				t.Errorf("SkipReason() = %q, want %q", got, tt.skip)
			}
		})
	}
}

// assertFields compares the non-zero fields of want with got.
func assertFields(t *testing.T, got, want Push) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range wv.NumField() {
		if wv.Field(i).IsZero() {
			continue
		}
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			t.Errorf("%s = %v, want %v", wv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
}

func TestDecodeSQSBatchKeepsGoodRecordsAndFlagsBadOnes(t *testing.T) {
	t.Parallel()
	in, err := Decode(fixture(t, "sqs-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != KindSQS || len(in.Records) != 4 {
		t.Fatalf("kind %s with %d records, want sqs with 4", in.Kind, len(in.Records))
	}
	wantSkip := []string{"", "untagged push", "scan event", ""}
	for i, r := range in.Records {
		if i == 3 {
			if !errors.Is(r.Err, ErrMalformed) || r.ID != "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" {
				t.Errorf("record 3: err %v, id %s; want malformed with its message ID", r.Err, r.ID)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("record %d: %v", i, r.Err)
		}
		if got := r.Push.SkipReason(); !strings.HasPrefix(got, wantSkip[i]) || (wantSkip[i] == "") != (got == "") {
			t.Errorf("record %d: SkipReason() = %q, want %q", i, got, wantSkip[i])
		}
	}
	if in.Records[0].ID != "059f36b4-87a3-44ab-83d2-661975830a7d" || in.Records[0].Push.Registry != docHost {
		t.Errorf("record 0 = %+v", in.Records[0])
	}
}

func TestDecodeRegistryNotificationKeepsManifestsAndSkipsBlobs(t *testing.T) {
	t.Parallel()
	in, err := Decode(fixture(t, "notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != KindNotification || len(in.Records) != 2 {
		t.Fatalf("kind %s with %d records", in.Kind, len(in.Records))
	}
	m := in.Records[0]
	if m.Err != nil || m.Push.SkipReason() != "" {
		t.Fatalf("manifest push: err %v, skip %q", m.Err, m.Push.SkipReason())
	}
	assertFields(t, m.Push, Push{Source: SourceRegistry, Registry: "127.0.0.1:5000", Repository: "hello-world", Tag: "1.0",
		Digest: "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf", MediaType: "application/vnd.oci.image.index.v1+json"})
	if s := in.Records[1].Push.SkipReason(); s == "" {
		t.Error("a blob push needs no copy, but SkipReason is empty")
	}
}

func TestDecodeRejectsMalformedInput(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/malformed*.json")
	inputs := map[string][]byte{
		"empty":           nil,
		"array":           []byte(`[]`),
		"unknown object":  []byte(`{"hello":"world"}`),
		"control chars":   []byte(`{"detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","region":"us-west-2","detail":{"result":"SUCCESS","repository-name":"a\u0000b","image-digest":"sha256:00","action-type":"PUSH","image-tag":"x"}}`),
		"upper case":      []byte(`{"detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","region":"us-west-2","detail":{"result":"SUCCESS","repository-name":"App","image-digest":"sha256:00","action-type":"PUSH","image-tag":"x"}}`),
		"300 chars":       []byte(`{"detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","region":"us-west-2","detail":{"result":"SUCCESS","repository-name":"` + strings.Repeat("a", 300) + `","image-digest":"sha256:00","action-type":"PUSH","image-tag":"x"}}`),
		"region as host":  []byte(`{"detail-type":"ECR Image Action","source":"aws.ecr","account":"123456789012","region":"evil.example:443/","detail":{"result":"SUCCESS","repository-name":"a","image-digest":"sha256:00","action-type":"PUSH","image-tag":"x"}}`),
		"notify bad host": []byte(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","repository":"a","tag":"x"},"request":{"host":"evil.example/x?"}}]}`),
		"sqs not sqs":     []byte(`{"Records":[{"messageId":"1","eventSource":"aws:sns","body":"{}"}]}`),
	}
	for _, f := range files {
		inputs[filepath.Base(f)] = fixture(t, filepath.Base(f))
	}
	assertMalformed(t, inputs)
}

func TestEventBridgeEventRoundTrips(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"push.json", "push-index-media-types.json", "delete.json", "untagged-child.json"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			in, err := Decode(fixture(t, file))
			if err != nil {
				t.Fatal(err)
			}
			p := in.Records[0].Push
			b, err := EventBridgeEvent(p)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again.Records[0].Push, p) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", again.Records[0].Push, p)
			}
			// The encoded event carries every field of the documented one, with the same values.
			var orig, enc map[string]any
			json.Unmarshal(fixture(t, file), &orig)
			json.Unmarshal(b, &enc)
			for k, v := range orig["detail"].(map[string]any) {
				if !reflect.DeepEqual(enc["detail"].(map[string]any)[k], v) {
					t.Errorf("detail.%s = %v, want %v", k, enc["detail"].(map[string]any)[k], v)
				}
			}
			// And Push itself survives JSON.
			pj, _ := json.Marshal(p)
			var back Push
			if err := json.Unmarshal(pj, &back); err != nil || !back.Time.Equal(p.Time) {
				t.Fatalf("Push JSON round trip: %v", err)
			}
			back.Time = p.Time
			if !reflect.DeepEqual(back, p) {
				t.Fatalf("Push JSON round trip:\n got %+v\nwant %+v", back, p)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, r := range in.Records {
			if r.Err == nil && r.Reconcile != nil {
				if r.Reconcile.Repository != "" && !ref.ValidRepository(r.Reconcile.Repository) {
					t.Fatalf("Decode accepted a reconcile request for %q", r.Reconcile.Repository)
				}
				continue
			}
			if r.Err != nil || r.Push.SkipReason() != "" {
				continue
			}
			// Whatever is left to copy has names a registry accepts.
			p := r.Push
			if !ref.ValidRepository(p.Repository) || !ref.ValidTag(p.Tag) || p.Digest != "" && !ref.ValidDigest(p.Digest) || !ref.ValidHost(p.Registry) || p.Registry != ref.CanonicalHost(p.Registry) {
				t.Fatalf("Decode accepted %+v", p)
			}
			if strings.ContainsAny(p.Registry+p.Repository+p.Tag, "/\\?#@ \x00") && strings.ContainsAny(p.Registry+p.Tag, "/\\?#@ \x00") {
				t.Fatalf("Decode accepted a host or tag with a separator: %+v", p)
			}
		}
	})
}

// TestInputThatIsNotAnObjectSaysWhatItIs: an array, a string or broken JSON is refused with
// words a user reads, not the decoder's Go types (issue 14.9).
func TestInputThatIsNotAnObjectSaysWhatItIs(t *testing.T) {
	for in, want := range map[string]string{
		"[]":        "a JSON array, not an event",
		` "push" `:  "a JSON string, not an event",
		`{"detail-`: "not JSON",
	} {
		_, err := Decode([]byte(in))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "struct") {
			t.Errorf("Decode(%q): %v; want ErrMalformed saying %q, without Go types", in, err, want)
		}
	}
}
