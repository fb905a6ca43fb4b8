package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// API is the part of the SQS client the adapters call; *sqs.Client
// implements it.
type API interface {
	GetQueueUrl(ctx context.Context, in *awssqs.GetQueueUrlInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *awssqs.GetQueueAttributesInput, optFns ...func(*awssqs.Options)) (*awssqs.GetQueueAttributesOutput, error)
	SendMessage(ctx context.Context, in *awssqs.SendMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error)
	ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *awssqs.DeleteMessageInput, optFns ...func(*awssqs.Options)) (*awssqs.DeleteMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *awssqs.DeleteMessageBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *awssqs.ChangeMessageVisibilityInput, optFns ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *awssqs.ChangeMessageVisibilityBatchInput, optFns ...func(*awssqs.Options)) (*awssqs.ChangeMessageVisibilityBatchOutput, error)
}

// Options configure the adapters. Queue uses Prefix; DeadLetters uses
// DLQURL and the scan settings.
type Options struct {
	// Prefix is put before every queue name: queue "whk_1" is the SQS
	// queue Prefix+"whk_1", so IAM policies can be scoped to the prefix.
	Prefix string
	// DLQURL is the URL of the shared dead-letter queue.
	DLQURL string
	// PeekVisibility is how long a DLQ scan hides the messages it reads
	// before it shows them again; it bounds how long a crashed scan keeps
	// them hidden. Default 30 s.
	PeekVisibility time.Duration
	// ScanLimit bounds the messages one DLQ scan reads. Default 1000.
	ScanLimit int
	// ScanWait is the long poll a DLQ scan makes when short polls come
	// back empty before the queue's approximate count is reached.
	// Default 1 s.
	ScanWait time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Defaults and SQS limits.
const (
	DefaultPeekVisibility = 30 * time.Second
	DefaultScanLimit      = 1000
	DefaultScanWait       = time.Second

	// MaxMessageSize is the largest body SendMessages accepts: SQS's
	// classic limit (AWS raised it to 1 MiB in 2025; the port keeps 256 KiB).
	MaxMessageSize = webhook.MaxMessageSize
	// MaxVisibility is SQS's longest visibility timeout.
	MaxVisibility = 12 * time.Hour

	maxBatch         = 10        // entries in one SQS batch call
	maxBatchBytes    = 256 << 10 // bodies in one SendMessageBatch
	maxWait          = 20 * time.Second
	maxQueueNameSize = webhook.MaxQueueName
	maxEntryIDSize   = 80
)

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Queue is the SQS adapter of webhook.Queue: queue name n is the SQS queue
// Prefix+n, which must exist (package provision creates them). Its methods
// are safe for concurrent use.
type Queue struct {
	api  API
	opts Options
	urls sync.Map // queue name (without prefix) → URL
}

var _ webhook.Queue = (*Queue)(nil)

// New returns the queue adapter over api.
func New(api API, opts Options) *Queue {
	return &Queue{api: api, opts: opts}
}

// url returns the URL of queue name, asking SQS once and caching it.
func (q *Queue) url(ctx context.Context, name string) (string, error) {
	if u, ok := q.urls.Load(name); ok {
		return u.(string), nil
	}
	full := q.opts.Prefix + name
	if err := checkQueueName(full); err != nil {
		return "", err
	}
	out, err := q.api.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(full)})
	if err != nil {
		return "", classify(err)
	}
	u := aws.ToString(out.QueueUrl)
	q.urls.Store(name, u)
	return u, nil
}

// fail wraps err from operation op on queue name, forgetting the queue's
// URL when SQS says the queue is gone.
func (q *Queue) fail(op, name string, err error) error {
	err = classify(err)
	if errors.Is(err, webhook.ErrNotFound) {
		q.urls.Delete(name)
	}
	return fmt.Errorf("sqs: %s queue %s: %w", op, q.opts.Prefix+name, err)
}

// SendMessages implements webhook.Queue with SendMessageBatch, up to ten
// messages (and 256 KiB) a call. Entries SQS fails for its own reasons are
// retried once; what still fails is reported in one error naming each
// message's ID. On error, messages of other chunks may have been sent, so
// a retried call can duplicate them (delivery is at least once anyway).
func (q *Queue) SendMessages(ctx context.Context, name string, msgs []webhook.OutMessage) error {
	if err := checkOutMessages(msgs); err != nil {
		return fmt.Errorf("sqs: send to queue %s: %w", q.opts.Prefix+name, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	url, err := q.url(ctx, name)
	if err != nil {
		return q.fail("send to", name, err)
	}
	for start := 0; start < len(msgs); {
		end, size := start, 0
		for end < len(msgs) && end-start < maxBatch && size+len(msgs[end].Body) <= maxBatchBytes {
			size += len(msgs[end].Body)
			end++
		}
		if err := q.sendChunk(ctx, url, msgs[start:end]); err != nil {
			return q.fail("send to", name, err)
		}
		start = end
	}
	return nil
}

// sendChunk sends one batch, retrying once the entries that failed through
// no fault of the request.
func (q *Queue) sendChunk(ctx context.Context, url string, msgs []webhook.OutMessage) error {
	ids := entryIDs(msgs)
	byID := make(map[string]int, len(msgs))
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		byID[ids[i]] = i
		entries[i] = types.SendMessageBatchRequestEntry{
			Id:           aws.String(ids[i]),
			MessageBody:  aws.String(string(m.Body)),
			DelaySeconds: seconds(m.Delay), // 0 is not sent: the queue's default delay, 0
		}
	}
	// failed holds what is finally not sent: each try's failures not worth
	// retrying, and the last try's others.
	var failed []types.BatchResultErrorEntry
	for try := 0; try < 2 && len(entries) > 0; try++ {
		out, err := q.api.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			return err
		}
		entries = entries[:0:0]
		for _, f := range out.Failed {
			i, ok := byID[aws.ToString(f.Id)]
			if !ok || f.SenderFault || try == 1 {
				failed = append(failed, f) // not worth retrying, or retried
				continue
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id:           f.Id,
				MessageBody:  aws.String(string(msgs[i].Body)),
				DelaySeconds: seconds(msgs[i].Delay),
			})
		}
	}
	if len(failed) == 0 {
		return nil
	}
	kind := webhook.KindInvalid
	parts := make([]string, len(failed))
	for j, f := range failed {
		id := aws.ToString(f.Id)
		if i, ok := byID[id]; ok {
			id = msgs[i].ID
		}
		if !f.SenderFault {
			kind = webhook.KindTransient
		}
		parts[j] = fmt.Sprintf("message %q: %s: %s", id, aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return &webhook.Error{Kind: kind, Field: "messages", Message: fmt.Sprintf("%d of %d messages not sent: %s", len(failed), len(msgs), strings.Join(parts, "; "))}
}

// entryIDs derives batch entry ids from the messages' ids: SQS allows
// letters, digits, hyphens and underscores, up to 80, distinct in a batch.
func entryIDs(msgs []webhook.OutMessage) []string {
	ids := make([]string, len(msgs))
	used := make(map[string]bool, len(msgs))
	for i, m := range msgs {
		base := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				return r
			}
			return '_'
		}, m.ID)
		if len(base) > maxEntryIDSize-8 {
			base = base[:maxEntryIDSize-8]
		}
		if base == "" {
			base = "m"
		}
		id := base
		for n := i; used[id]; n += len(msgs) {
			id = base + "-" + strconv.Itoa(n)
		}
		used[id] = true
		ids[i] = id
	}
	return ids
}

// ReceiveMessages implements webhook.Queue. SQS long polls for at most
// 20 s, so a longer wait is several polls. A wait of 0 sends no
// WaitTimeSeconds (the SDK omits int32 zeros) and takes the queue's
// default, which is 0 on the queues package provision creates. A
// visibility of 0 likewise takes the queue's default for the receive and
// then sets each message's visibility to 0.
func (q *Queue) ReceiveMessages(ctx context.Context, name string, n int, visibility, wait time.Duration) ([]webhook.InMessage, error) {
	switch {
	case n < 1:
		return nil, fmt.Errorf("sqs: receive from queue %s: %w", q.opts.Prefix+name, webhook.Invalid("max", "must be at least 1, got %d", n))
	case visibility < 0 || visibility > MaxVisibility:
		return nil, fmt.Errorf("sqs: receive from queue %s: %w", q.opts.Prefix+name, webhook.Invalid("visibility", "must be between 0 and %s, got %s", MaxVisibility, visibility))
	case wait < 0:
		return nil, fmt.Errorf("sqs: receive from queue %s: %w", q.opts.Prefix+name, webhook.Invalid("wait", "must not be negative, got %s", wait))
	}
	url, err := q.url(ctx, name)
	if err != nil {
		return nil, q.fail("receive from", name, err)
	}
	deadline := time.Now().Add(wait)
	for {
		w := min(time.Until(deadline), maxWait)
		out, err := q.api.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         int32(min(n, maxBatch)),
			VisibilityTimeout:           seconds(visibility),
			WaitTimeSeconds:             seconds(max(w, 0)),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			return nil, q.fail("receive from", name, err)
		}
		if len(out.Messages) > 0 {
			ms := make([]webhook.InMessage, len(out.Messages))
			for i, m := range out.Messages {
				ms[i] = inMessage(m)
			}
			if visibility == 0 {
				if err := changeVisibilityBatch(ctx, q.api, url, receipts(out.Messages), 0); err != nil {
					return nil, q.fail("receive from", name, err)
				}
			}
			return ms, nil
		}
		if time.Until(deadline) <= 0 {
			return nil, nil
		}
	}
}

func inMessage(m types.Message) webhook.InMessage {
	in := webhook.InMessage{
		ID:      aws.ToString(m.MessageId),
		Receipt: aws.ToString(m.ReceiptHandle),
		Body:    []byte(aws.ToString(m.Body)),
	}
	in.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		in.SentAt = time.UnixMilli(ms)
	}
	return in
}

func receipts(ms []types.Message) []string {
	rs := make([]string, len(ms))
	for i, m := range ms {
		rs[i] = aws.ToString(m.ReceiptHandle)
	}
	return rs
}

// changeVisibilityBatch sets the visibility of received messages, ten a
// call. Receipts SQS rejects as stale are skipped.
func changeVisibilityBatch(ctx context.Context, api API, url string, rs []string, d time.Duration) error {
	for start := 0; start < len(rs); start += maxBatch {
		chunk := rs[start:min(start+maxBatch, len(rs))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r), VisibilityTimeout: seconds(d)}
		}
		out, err := api.ChangeMessageVisibilityBatch(ctx, &awssqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			return err
		}
		for _, f := range out.Failed {
			if !f.SenderFault {
				return fmt.Errorf("change visibility of entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
			}
		}
	}
	return nil
}

// DeleteMessage implements webhook.Queue. SQS documents that a delete with
// a stale receipt "might not" remove the message (and moto removes it), so
// this adapter does not promise the no-op the port describes.
func (q *Queue) DeleteMessage(ctx context.Context, name, receipt string) error {
	if receipt == "" {
		return fmt.Errorf("sqs: delete from queue %s: %w", q.opts.Prefix+name, webhook.Invalid("receipt", "required"))
	}
	url, err := q.url(ctx, name)
	if err != nil {
		return q.fail("delete from", name, err)
	}
	if _, err := q.api.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(receipt)}); err != nil {
		return q.fail("delete from", name, err)
	}
	return nil
}

// ChangeVisibility implements webhook.Queue. A message no longer in flight
// (its visibility timeout ran out) is left alone, as with a stale receipt.
func (q *Queue) ChangeVisibility(ctx context.Context, name, receipt string, d time.Duration) error {
	switch {
	case receipt == "":
		return fmt.Errorf("sqs: change visibility in queue %s: %w", q.opts.Prefix+name, webhook.Invalid("receipt", "required"))
	case d < 0 || d > MaxVisibility:
		return fmt.Errorf("sqs: change visibility in queue %s: %w", q.opts.Prefix+name, webhook.Invalid("visibility", "must be between 0 and %s, got %s", MaxVisibility, d))
	}
	url, err := q.url(ctx, name)
	if err != nil {
		return q.fail("change visibility in", name, err)
	}
	_, err = q.api.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(receipt), VisibilityTimeout: seconds(d)})
	if err != nil {
		if _, ok := errors.AsType[*types.MessageNotInflight](err); ok {
			return nil
		}
		return q.fail("change visibility in", name, err)
	}
	return nil
}

// seconds rounds d up to whole seconds, SQS's unit.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}

func checkQueueName(name string) error { return webhook.CheckQueueName(name) }

func checkOutMessages(msgs []webhook.OutMessage) error { return webhook.CheckOutMessages(msgs) }

// classify gives an SQS error its kind: a missing queue wraps
// webhook.ErrNotFound, bad input is KindInvalid, throttling and everything
// else KindTransient. The SDK error stays in the chain.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*webhook.Error](err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if _, ok := errors.AsType[*types.QueueDoesNotExist](err); ok {
		return fmt.Errorf("%w: %w", webhook.ErrNotFound, err)
	}
	var code string
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		code = ae.ErrorCode()
	}
	switch code {
	case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
		return fmt.Errorf("%w: %w", webhook.ErrNotFound, err)
	case "InvalidParameterValue", "InvalidParameterValueException", "MissingParameter", "InvalidMessageContents",
		"ReceiptHandleIsInvalid", "InvalidAddress", "InvalidAttributeName", "InvalidAttributeValue",
		"InvalidBatchEntryId", "BatchEntryIdsNotDistinct", "TooManyEntriesInBatchRequest",
		"BatchRequestTooLong", "EmptyBatchRequest", "InvalidIdFormat", "UnsupportedOperation":
		return &webhook.Error{Kind: webhook.KindInvalid, Message: "rejected by SQS", Err: err}
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() || code == "RequestThrottled" || code == "KmsThrottled" {
		return webhook.Transient(err, "throttled")
	}
	return webhook.Transient(err, "SQS")
}
