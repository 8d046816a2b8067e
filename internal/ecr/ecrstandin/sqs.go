package ecrstandin

import (
	"crypto/md5" //nolint:gosec // SQS's own checksum of a message body, not security
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// SQS stands in for Amazon SQS's SendMessageBatch over the AWS JSON 1.0 protocol that
// aws-sdk-go-v2's sqs client speaks (X-Amz-Target: AmazonSQS.SendMessageBatch), for the
// reconcile's fan-out. It keeps what it was sent, answers with the MD5 of each body as SQS does
// (the SDK checks it), and can fail chosen entries the way SQS reports partial failures.
type SQS struct {
	// URL is the endpoint to give the SDK (BaseEndpoint); QueueURL(name) names a queue on it.
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	messages map[string][]string // queue URL -> bodies, in order
	calls    int
	failNext int // fail this many entries from now on, with a retryable error
}

// NewSQS starts the stand-in on 127.0.0.1.
func NewSQS() *SQS {
	q := &SQS{messages: map[string][]string{}}
	q.srv = httptest.NewServer(http.HandlerFunc(q.serve))
	q.URL = q.srv.URL
	return q
}

// Close stops the server.
func (q *SQS) Close() { q.srv.Close() }

// QueueURL returns the URL of a queue named name (any name exists).
func (q *SQS) QueueURL(name string) string { return q.URL + "/123456789012/" + name }

// Messages returns the bodies sent to queueURL so far.
func (q *SQS) Messages(queueURL string) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.messages[queueURL]...)
}

// Calls reports how many SendMessageBatch calls were made.
func (q *SQS) Calls() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

// FailEntries makes the next n entries fail as SQS fails them under load
// (InternalError, SenderFault false): the caller is expected to send them again.
func (q *SQS) FailEntries(n int) {
	q.mu.Lock()
	q.failNext = n
	q.mu.Unlock()
}

func (q *SQS) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || !strings.Contains(r.Header.Get("Authorization"), "/sqs/aws4_request") {
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#InvalidSecurity", "The request is not signed for SQS.")
		return
	}
	if target != "AmazonSQS.SendMessageBatch" {
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#UnsupportedOperation", "the stand-in does not implement "+target)
		return
	}
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []struct {
			ID          string `json:"Id"`
			MessageBody string `json:"MessageBody"`
		} `json:"Entries"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err := json.Unmarshal(body, &in); err != nil {
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#InvalidParameterValue", err.Error())
		return
	}
	// SendMessageBatch takes 1 to 10 entries (Amazon SQS API Reference).
	switch {
	case len(in.Entries) == 0:
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
		return
	case len(in.Entries) > 10:
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#TooManyEntriesInBatchRequest", fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", len(in.Entries)))
		return
	}
	type ok struct {
		ID               string `json:"Id"`
		MessageID        string `json:"MessageId"`
		MD5OfMessageBody string `json:"MD5OfMessageBody"`
	}
	type failed struct {
		ID          string `json:"Id"`
		Code        string `json:"Code"`
		Message     string `json:"Message"`
		SenderFault bool   `json:"SenderFault"`
	}
	out := struct {
		Successful []ok     `json:"Successful"`
		Failed     []failed `json:"Failed"`
	}{Successful: []ok{}, Failed: []failed{}}
	q.mu.Lock()
	q.calls++
	for _, e := range in.Entries {
		if q.failNext > 0 {
			q.failNext--
			out.Failed = append(out.Failed, failed{ID: e.ID, Code: "InternalError", Message: "stand-in: try again"})
			continue
		}
		sum := md5.Sum([]byte(e.MessageBody)) //nolint:gosec // SQS's checksum
		q.messages[in.QueueURL] = append(q.messages[in.QueueURL], e.MessageBody)
		out.Successful = append(out.Successful, ok{ID: e.ID, MessageID: fmt.Sprintf("msg-%d", len(q.messages[in.QueueURL])),
			MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	q.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

func sqsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
