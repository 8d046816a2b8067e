// Package queue speaks to Amazon SQS for ecrsync: the reconcile's fan-out sends one message per
// repository (SendMessageBatch), and `ecrsync replay` drains a failure or dead-letter queue
// (ReceiveMessage, then DeleteMessage only for what was handled).
package queue

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// API is the part of the SQS client the queue calls (*sqs.Client from aws-sdk-go-v2).
type API interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// SQS is one queue.
type SQS struct {
	API API
	URL string
}

// maxBatch is SendMessageBatch's and ReceiveMessage's maximum number of messages (Amazon SQS
// API Reference).
const maxBatch = 10

// sendAttempts bounds how often one entry that SQS failed on its side is sent.
const sendAttempts = 3

// Send sends bodies, ten a call, sending again the entries SQS reports as failed on its side.
// It implements reconcile.Queue.
func (q *SQS) Send(ctx context.Context, bodies []string) error {
	for start := 0; start < len(bodies); start += maxBatch {
		chunk := bodies[start:min(start+maxBatch, len(bodies))]
		pending := map[string]string{}
		for i, b := range chunk {
			pending[strconv.Itoa(start+i)] = b
		}
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > sendAttempts {
				return fmt.Errorf("sqs:SendMessageBatch: %d entries not accepted after %d attempts", len(pending), sendAttempts)
			}
			var entries []sqstypes.SendMessageBatchRequestEntry
			for id, b := range pending {
				entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(b)})
			}
			out, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
			if err != nil {
				return fmt.Errorf("sqs:SendMessageBatch: %w", err)
			}
			for _, s := range out.Successful {
				delete(pending, aws.ToString(s.Id))
			}
			for _, f := range out.Failed {
				if f.SenderFault {
					return fmt.Errorf("sqs:SendMessageBatch: entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
				}
			}
		}
	}
	return nil
}

// Message is one message received.
type Message struct {
	ID            string
	Body          string
	ReceiptHandle string
}

// Receive takes up to ten messages, hiding them from other consumers for visibility (0: the
// queue's own visibility timeout). It does not wait for messages to arrive: an empty answer
// means the queue looks empty.
func (q *SQS) Receive(ctx context.Context, visibility int32) ([]Message, error) {
	out, err := q.API.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL),
		MaxNumberOfMessages: maxBatch, VisibilityTimeout: visibility})
	if err != nil {
		return nil, fmt.Errorf("sqs:ReceiveMessage %s: %w", q.URL, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msgs = append(msgs, Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), ReceiptHandle: aws.ToString(m.ReceiptHandle)})
	}
	return msgs, nil
}

// Delete deletes a received message.
func (q *SQS) Delete(ctx context.Context, m Message) error {
	if _, err := q.API.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
		return fmt.Errorf("sqs:DeleteMessage %s: %w", m.ID, err)
	}
	return nil
}

// DrainReport says what Drain did.
type DrainReport struct {
	Received int      `json:"received"` // distinct messages received
	Handled  int      `json:"handled"`  // handled and deleted
	Failed   []string `json:"failed"`   // IDs of messages whose handling failed: they stay in the queue
}

// Drain receives the queue's messages and hands each to handle; a message is deleted only
// after handle returned nil, so nothing is lost: a failed one becomes visible again after its
// visibility timeout. It stops when the queue answers with no message it has not seen yet, or
// when ctx ends.
func (q *SQS) Drain(ctx context.Context, visibility int32, handle func(ctx context.Context, m Message) error) (DrainReport, error) {
	rep := DrainReport{Failed: []string{}}
	seen := map[string]bool{}
	for {
		msgs, err := q.Receive(ctx, visibility)
		if err != nil {
			return rep, err
		}
		fresh := 0
		for _, m := range msgs {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			fresh++
			rep.Received++
			if err := handle(ctx, m); err != nil {
				rep.Failed = append(rep.Failed, m.ID)
				continue
			}
			if err := q.Delete(ctx, m); err != nil {
				return rep, err
			}
			rep.Handled++
		}
		if fresh == 0 {
			return rep, nil
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
}
