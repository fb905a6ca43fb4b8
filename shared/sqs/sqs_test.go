package sqs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/phoneshield/webhooks/shared/mototest"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mototest.Stop()
	os.Exit(code)
}

const prefix = "test-"

// client returns an SQS client of a freshly reset moto server.
func client(t *testing.T) *awssqs.Client {
	t.Helper()
	url := mototest.Start(t)
	mototest.Reset(t)
	return awssqs.NewFromConfig(mototest.Config(url))
}

// autoCreate creates a queue the first time its URL is asked for, as
// package provision does for endpoint queues: the conformance suites use
// queue names of their own, made up as they go.
type autoCreate struct{ *awssqs.Client }

func (a autoCreate) GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error) {
	out, err := a.Client.GetQueueUrl(ctx, in, optFns...)
	if _, ok := errors.AsType[*types.QueueDoesNotExist](err); ok {
		created, err := a.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: in.QueueName})
		if err != nil {
			return nil, err
		}
		return &awssqs.GetQueueUrlOutput{QueueUrl: created.QueueUrl}, nil
	}
	return out, err
}

func createQueue(t *testing.T, c *awssqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(t.Context(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func TestQueue(t *testing.T) {
	c := client(t)
	webhooktest.TestQueue(t, func(t *testing.T) webhook.Queue {
		if strings.HasSuffix(t.Name(), "/DeleteWithStaleReceiptIsNoop") {
			// moto's Queue.delete_message deletes a message given any
			// receipt handle it ever had (Message.had_receipt_handle), and
			// SQS documents that such a delete "might not" remove it: the
			// adapter cannot promise the no-op (see webhooktest's doc).
			t.Skip("SQS (and moto) may delete a message given a stale receipt")
		}
		return New(autoCreate{c}, Options{Prefix: prefix})
	})
}

func TestDeadLetters(t *testing.T) {
	c := client(t)
	url := createQueue(t, c, prefix+"dlq", nil)
	webhooktest.TestDeadLetters(t, func(t *testing.T) webhook.DeadLetters {
		return NewDeadLetters(c, Options{DLQURL: url})
	})
}

// counting counts SendMessageBatch calls.
type counting struct {
	API
	batches atomic.Int32
}

func (c *counting) SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	c.batches.Add(1)
	return c.API.SendMessageBatch(ctx, in, optFns...)
}

func TestSendMessagesBatches(t *testing.T) {
	c := client(t)
	createQueue(t, c, prefix+"batched", nil)
	api := &counting{API: c}
	q := New(api, Options{Prefix: prefix})
	msgs := make([]webhook.OutMessage, 25)
	for i := range msgs {
		// Ids that are not valid batch entry ids, two alike once cleaned.
		msgs[i] = webhook.OutMessage{ID: fmt.Sprintf("msg %d/x", i), Body: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	msgs[1].ID = "msg 0?x"
	if err := q.SendMessages(t.Context(), "batched", msgs); err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
	if n := api.batches.Load(); n != 3 {
		t.Errorf("25 messages took %d SendMessageBatch calls, want 3", n)
	}
	got := map[string]bool{}
	for len(got) < 25 {
		ms, err := q.ReceiveMessages(t.Context(), "batched", 10, time.Minute, time.Second)
		if err != nil || len(ms) == 0 {
			t.Fatalf("ReceiveMessages after %d: %d messages, %v", len(got), len(ms), err)
		}
		for _, m := range ms {
			got[string(m.Body)] = true
			if err := q.DeleteMessage(t.Context(), "batched", m.Receipt); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
}

func TestQueueErrors(t *testing.T) {
	c := client(t)
	q := New(c, Options{Prefix: prefix})
	ctx := t.Context()
	msg := []webhook.OutMessage{{ID: "0", Body: []byte(`{}`)}}
	if err := q.SendMessages(ctx, "missing", msg); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("SendMessages(missing queue) = %v, want ErrNotFound", err)
	}
	if _, err := q.ReceiveMessages(ctx, "missing", 1, time.Second, 0); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("ReceiveMessages(missing queue) = %v, want ErrNotFound", err)
	}
	if err := q.SendMessages(ctx, "no spaces", msg); webhook.KindOf(err) != webhook.KindInvalid {
		t.Errorf("SendMessages(bad name) = %v, want KindInvalid", err)
	}
	createQueue(t, c, prefix+"errs", nil)
	if err := q.DeleteMessage(ctx, "errs", "bogus-receipt"); webhook.KindOf(err) != webhook.KindInvalid {
		t.Errorf("DeleteMessage(bogus receipt) = %v, want KindInvalid", err)
	}
}

func TestReceiveVisibilityZero(t *testing.T) {
	c := client(t)
	// A queue default that would hide a message for a minute.
	createQueue(t, c, prefix+"vis0", map[string]string{"VisibilityTimeout": "60"})
	q := New(c, Options{Prefix: prefix})
	if err := q.SendMessages(t.Context(), "vis0", []webhook.OutMessage{{ID: "0", Body: []byte(`{"n":1}`)}}); err != nil {
		t.Fatal(err)
	}
	first, err := q.ReceiveMessages(t.Context(), "vis0", 1, 0, time.Second)
	if err != nil || len(first) != 1 {
		t.Fatalf("ReceiveMessages(visibility 0) = %d, %v", len(first), err)
	}
	again, err := q.ReceiveMessages(t.Context(), "vis0", 1, time.Minute, 0)
	if err != nil || len(again) != 1 || again[0].ReceiveCount != 2 {
		t.Fatalf("received with visibility 0, then at once: %v, %v; want it again, count 2", again, err)
	}
	if err := q.DeleteMessage(t.Context(), "vis0", again[0].Receipt); err != nil {
		t.Fatal(err)
	}
}

// flaky fails chosen batch entries, through no fault of the sender, a
// number of times.
type flaky struct {
	API
	fail    map[string]int  // entry id → failures left
	refused map[string]bool // entry ids failed for the sender's fault, every time
	calls   int
}

func (f *flaky) SendMessageBatch(_ context.Context, in *awssqs.SendMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	f.calls++
	out := &awssqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		if f.refused[id] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, SenderFault: true, Code: aws.String("InvalidMessageContents"), Message: aws.String("Invalid characters found")})
			continue
		}
		if f.fail[id] > 0 {
			f.fail[id]--
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + id)})
	}
	return out, nil
}

func (f *flaky) GetQueueUrl(context.Context, *awssqs.GetQueueUrlInput, ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error) {
	return &awssqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.example/q")}, nil
}

func TestSendMessagesPartialFailure(t *testing.T) {
	msgs := []webhook.OutMessage{{ID: "a", Body: []byte(`1`)}, {ID: "b", Body: []byte(`2`)}, {ID: "c", Body: []byte(`3`)}}

	f := &flaky{fail: map[string]int{"b": 1}}
	if err := New(f, Options{}).SendMessages(t.Context(), "q", msgs); err != nil || f.calls != 2 {
		t.Errorf("one failure, retried: err %v after %d calls; want nil after 2", err, f.calls)
	}

	f = &flaky{fail: map[string]int{"b": 2, "c": 1}}
	err := New(f, Options{}).SendMessages(t.Context(), "q", msgs)
	if err == nil || !strings.Contains(err.Error(), `message "b"`) || strings.Contains(err.Error(), `message "c"`) || f.calls != 2 {
		t.Errorf("b failing twice: err %v after %d calls; want an error naming b only, after 2 calls", err, f.calls)
	}
	if webhook.KindOf(err) != webhook.KindTransient {
		t.Errorf("kind %q, want transient", webhook.KindOf(err))
	}

	// A refused message is reported even when a retry of another one
	// succeeds (the retry's outcome used to replace the first try's).
	f = &flaky{fail: map[string]int{"c": 1}, refused: map[string]bool{"b": true}}
	err = New(f, Options{}).SendMessages(t.Context(), "q", msgs)
	if err == nil || !strings.Contains(err.Error(), `message "b"`) || strings.Contains(err.Error(), `message "c"`) || f.calls != 2 {
		t.Errorf("b refused, c failing once: err %v after %d calls; want an error naming b only, after 2 calls", err, f.calls)
	}
	if webhook.KindOf(err) != webhook.KindInvalid {
		t.Errorf("kind %q, want invalid", webhook.KindOf(err))
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want webhook.Kind
	}{
		{&smithy.GenericAPIError{Code: "RequestThrottled"}, webhook.KindTransient},
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, webhook.KindTransient},
		{&types.QueueDoesNotExist{}, webhook.KindNotFound},
		{&smithy.GenericAPIError{Code: "InvalidMessageContents"}, webhook.KindInvalid},
		{&smithy.GenericAPIError{Code: "InternalError"}, webhook.KindTransient},
	} {
		if got := webhook.KindOf(classify(tc.err)); got != tc.want {
			t.Errorf("classify(%v) kind %q, want %q", tc.err, got, tc.want)
		}
	}
	if !errors.Is(classify(&types.QueueDoesNotExist{}), webhook.ErrNotFound) {
		t.Error("QueueDoesNotExist does not wrap ErrNotFound")
	}
}

func TestEntryIDs(t *testing.T) {
	msgs := []webhook.OutMessage{{ID: "a b"}, {ID: "a_b"}, {ID: "a_b-1"}, {ID: ""}, {ID: strings.Repeat("x", 200)}}
	ids := entryIDs(msgs)
	seen := map[string]bool{}
	for i, id := range ids {
		if seen[id] || id == "" || len(id) > maxEntryIDSize || strings.ContainsAny(id, " ") {
			t.Errorf("entry id %d = %q: empty, too long, invalid or repeated (all: %q)", i, id, ids)
		}
		seen[id] = true
	}
}
