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
	"time"
)

// SQS stands in for Amazon SQS over the AWS JSON 1.0 protocol that aws-sdk-go-v2's sqs client
// speaks (X-Amz-Target: AmazonSQS.<Action>): SendMessageBatch for the reconcile's fan-out, and
// ReceiveMessage and DeleteMessage for `ecrsync replay`. It keeps what it was sent, answers with
// the MD5 of each body as SQS does (the SDK checks it), hides a received message for its
// visibility timeout, and can fail chosen entries the way SQS reports partial failures.
type SQS struct {
	// URL is the endpoint to give the SDK (BaseEndpoint); QueueURL(name) names a queue on it.
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	messages map[string][]*sqsMessage // queue URL -> messages not deleted, in order
	next     int                      // message and receipt counter
	calls    int
	failNext int // fail this many entries from now on, with a retryable error
	deletes  int
}

type sqsMessage struct {
	id, body, receipt string
	hiddenUntil       time.Time
	receives          int
}

// sqsDefaultVisibility is a queue's default visibility timeout (Amazon SQS Developer Guide).
const sqsDefaultVisibility = 30 * time.Second

// NewSQS starts the stand-in on 127.0.0.1.
func NewSQS() *SQS {
	q := &SQS{messages: map[string][]*sqsMessage{}}
	q.srv = httptest.NewServer(http.HandlerFunc(q.serve))
	q.URL = q.srv.URL
	return q
}

// Put adds a message to a queue, as a producer's SendMessage would (Lambda's on-failure
// destination, EventBridge's dead-letter queue, SQS's redrive), and returns its ID.
func (q *SQS) Put(queueURL, body string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.put(queueURL, body)
}

func (q *SQS) put(queueURL, body string) string {
	q.next++
	m := &sqsMessage{id: fmt.Sprintf("msg-%d", q.next), body: body}
	q.messages[queueURL] = append(q.messages[queueURL], m)
	return m.id
}

// Deletes reports how many DeleteMessage calls succeeded.
func (q *SQS) Deletes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.deletes
}

// Close stops the server.
func (q *SQS) Close() { q.srv.Close() }

// QueueURL returns the URL of a queue named name (any name exists).
func (q *SQS) QueueURL(name string) string { return q.URL + "/123456789012/" + name }

// Messages returns the bodies in queueURL now: sent and not deleted.
func (q *SQS) Messages(queueURL string) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, m := range q.messages[queueURL] {
		out = append(out, m.body)
	}
	return out
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
	body, _ := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	switch target {
	case "AmazonSQS.SendMessageBatch":
		q.sendBatch(w, body)
	case "AmazonSQS.ReceiveMessage":
		q.receive(w, body)
	case "AmazonSQS.DeleteMessage":
		q.delete(w, body)
	default:
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#UnsupportedOperation", "the stand-in does not implement "+target)
	}
}

// receive answers ReceiveMessage: up to MaxNumberOfMessages (1-10) visible messages, each
// hidden for VisibilityTimeout seconds (absent: the queue's 30) with a new receipt handle.
func (q *SQS) receive(w http.ResponseWriter, body []byte) {
	var in struct {
		QueueURL            string `json:"QueueUrl"`
		MaxNumberOfMessages *int   `json:"MaxNumberOfMessages"`
		VisibilityTimeout   *int   `json:"VisibilityTimeout"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#InvalidParameterValue", err.Error())
		return
	}
	n := 1
	if in.MaxNumberOfMessages != nil {
		n = *in.MaxNumberOfMessages
	}
	if n < 1 || n > 10 {
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#InvalidParameterValue",
			fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", n))
		return
	}
	hide := sqsDefaultVisibility
	if in.VisibilityTimeout != nil && *in.VisibilityTimeout > 0 {
		hide = time.Duration(*in.VisibilityTimeout) * time.Second
	}
	type msg struct {
		MessageID     string `json:"MessageId"`
		ReceiptHandle string `json:"ReceiptHandle"`
		MD5OfBody     string `json:"MD5OfBody"`
		Body          string `json:"Body"`
	}
	out := struct {
		Messages []msg `json:"Messages,omitempty"`
	}{}
	q.mu.Lock()
	now := time.Now()
	for _, m := range q.messages[in.QueueURL] {
		if len(out.Messages) == n {
			break
		}
		if now.Before(m.hiddenUntil) {
			continue
		}
		q.next++
		m.receives++
		m.receipt = fmt.Sprintf("receipt-%s-%d", m.id, q.next)
		m.hiddenUntil = now.Add(hide)
		sum := md5.Sum([]byte(m.body)) //nolint:gosec // SQS's checksum
		out.Messages = append(out.Messages, msg{MessageID: m.id, ReceiptHandle: m.receipt, MD5OfBody: hex.EncodeToString(sum[:]), Body: m.body})
	}
	q.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

// delete answers DeleteMessage: the receipt handle of the message's latest receive deletes it.
func (q *SQS) delete(w http.ResponseWriter, body []byte) {
	var in struct {
		QueueURL      string `json:"QueueUrl"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#InvalidParameterValue", err.Error())
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs := q.messages[in.QueueURL]
	for i, m := range msgs {
		if m.receipt != "" && m.receipt == in.ReceiptHandle {
			q.messages[in.QueueURL] = append(msgs[:i:i], msgs[i+1:]...)
			q.deletes++
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Write([]byte("{}"))
			return
		}
	}
	sqsError(w, http.StatusBadRequest, "com.amazonaws.sqs#ReceiptHandleIsInvalid",
		fmt.Sprintf("The input receipt handle \"%s\" is not a valid receipt handle.", in.ReceiptHandle))
}

// sendBatch answers SendMessageBatch.
func (q *SQS) sendBatch(w http.ResponseWriter, body []byte) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []struct {
			ID          string `json:"Id"`
			MessageBody string `json:"MessageBody"`
		} `json:"Entries"`
	}
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
		id := q.put(in.QueueURL, e.MessageBody)
		out.Successful = append(out.Successful, ok{ID: e.ID, MessageID: id, MD5OfMessageBody: hex.EncodeToString(sum[:])})
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
