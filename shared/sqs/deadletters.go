package sqs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// DeadLetters is the SQS adapter of webhook.DeadLetters over the shared
// dead-letter queue (Options.DLQURL). SQS is a queue, not a database, so
// every read is a bounded scan; see the package documentation for what
// that implies. Its methods are safe for concurrent use, but concurrent
// reads hide messages from each other while they scan.
type DeadLetters struct {
	api  API
	opts Options
}

var _ webhook.DeadLetters = (*DeadLetters)(nil)

// NewDeadLetters returns the dead-letter adapter over api, reading and
// writing the queue at opts.DLQURL.
func NewDeadLetters(api API, opts Options) *DeadLetters {
	return &DeadLetters{api: api, opts: opts}
}

// Message attributes of a dead-letter record, for filtering by tools.
// A message without attrID was not put by PutDeadLetter: SQS moved it
// here from an endpoint queue (redrive after maxReceiveCount receives).
const (
	attrID        = "id"
	attrEndpoint  = "endpoint_id"
	attrEventType = "event_type"
)

// MaxRecordSize is the largest record body PutDeadLetter sends: under
// SQS's 256 KiB message limit with room for the attributes. Larger dead
// letters are cut down first (see PutDeadLetter).
const MaxRecordSize = 250 << 10

// trimmedText is how much of each attempt's response and error a dead
// letter keeps when it must be cut down.
const trimmedText = 512

// recordVersion is the format of the records PutDeadLetter writes: 2,
// the event's data as its JSON, byte for byte (but for U+FFFE and U+FFFF,
// which SQS refuses, escaped: the same value). Version 1 records (the
// data as base64, a third larger, so an event of over about 187 KiB lost
// its data to fit) are still read.
const recordVersion = 2

// record is a dead letter as stored in a message body: the domain JSON
// plus a format version and the time of the put (the latest put of an ID
// wins). The event's data is spliced in as is (encoding/json would compact
// and HTML-escape a RawMessage), see marshalRecord.
type record struct {
	V     int   `json:"v"`
	PutAt int64 `json:"put_at"` // Unix ns
	*webhook.DeadLetter
	Event *eventRecord `json:"event,omitempty"`
}

type eventRecord struct {
	*webhook.Event
	Data json.RawMessage `json:"data,omitempty"` // version 1: a base64 string
}

func marshalRecord(dl *webhook.DeadLetter, putAt int64) ([]byte, error) {
	b, err := json.Marshal(record{V: recordVersion, PutAt: putAt, DeadLetter: dl})
	if err != nil || dl.Event == nil {
		return webhook.QueueSafeJSON(b), err
	}
	ev, err := json.Marshal(eventRecord{Event: dl.Event}) // without its data
	if err != nil {
		return nil, err
	}
	if len(dl.Event.Data) > 0 {
		if !json.Valid(dl.Event.Data) {
			return nil, webhook.Invalid("event.data", "not valid JSON")
		}
		ev = append(append(append(ev[:len(ev)-1:len(ev)-1], `,"data":`...), dl.Event.Data...), '}')
	}
	b = append(append(append(b[:len(b)-1:len(b)-1], `,"event":`...), ev...), '}')
	return webhook.QueueSafeJSON(b), nil
}

func unmarshalRecord(b []byte) (*webhook.DeadLetter, int64, error) {
	r := record{DeadLetter: new(webhook.DeadLetter)}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, 0, err
	}
	if r.V != 1 && r.V != recordVersion {
		return nil, 0, fmt.Errorf("record version %d, want 1 or %d", r.V, recordVersion)
	}
	if r.Event != nil {
		ev := webhook.Event{}
		if r.Event.Event != nil {
			ev = *r.Event.Event
		}
		ev.Data = r.Event.Data
		if r.V == 1 {
			var data []byte // base64, or null
			if err := json.Unmarshal(r.Event.Data, &data); err != nil {
				return nil, 0, fmt.Errorf("record version 1: event data: %w", err)
			}
			ev.Data = data
		}
		if string(ev.Data) == "null" {
			ev.Data = nil
		}
		r.DeadLetter.Event = &ev
	}
	if r.DeadLetter.ID == "" {
		return nil, 0, errors.New("record without an id")
	}
	return r.DeadLetter, r.PutAt, nil
}

// encodeRecord returns the message body of dl, cut down to MaxRecordSize
// if needed: first each attempt's response and error are trimmed to 512
// bytes, then Raw is cut, then the event's data is dropped (its type, id
// and time are kept). What was cut is noted at the end of Reason.
func encodeRecord(dl *webhook.DeadLetter, putAt int64) ([]byte, error) {
	b, err := marshalRecord(dl, putAt)
	if err != nil || len(b) <= MaxRecordSize {
		return b, err
	}
	c := *dl
	var notes []string

	if len(c.Attempts) > 0 {
		c.Attempts = slices.Clone(c.Attempts)
		for i := range c.Attempts {
			c.Attempts[i].Response = cutString(c.Attempts[i].Response, trimmedText)
			c.Attempts[i].Error = cutString(c.Attempts[i].Error, trimmedText)
		}
		notes = append(notes, fmt.Sprintf("attempt responses and errors cut to %d bytes", trimmedText))
	}
	note := func() string {
		return " [cut to fit an SQS message: " + strings.Join(notes, "; ") + "]"
	}
	c.Reason = dl.Reason + note()
	if b, err = marshalRecord(&c, putAt); err != nil || len(b) <= MaxRecordSize {
		return b, err
	}

	if c.Raw != "" {
		full := len(dl.Raw)
		notes = append(notes, "")
		for len(b) > MaxRecordSize && c.Raw != "" {
			keep := max(0, len(c.Raw)-(len(b)-MaxRecordSize)-64)
			if keep >= len(c.Raw) {
				keep = len(c.Raw) / 2
			}
			c.Raw = cutString(c.Raw, keep)
			notes[len(notes)-1] = fmt.Sprintf("raw cut to %d of %d bytes", len(c.Raw), full)
			c.Reason = dl.Reason + note()
			if b, err = marshalRecord(&c, putAt); err != nil {
				return nil, err
			}
		}
		if len(b) <= MaxRecordSize {
			return b, nil
		}
	}

	if c.Event != nil && len(c.Event.Data) > 0 {
		ev := *c.Event
		notes = append(notes, fmt.Sprintf("event data (%d bytes) dropped", len(ev.Data)))
		ev.Data = nil
		c.Event = &ev
		c.Reason = dl.Reason + note()
		if b, err = marshalRecord(&c, putAt); err != nil || len(b) <= MaxRecordSize {
			return b, err
		}
	}
	return nil, webhook.Invalid("dead_letter", "%d bytes even cut down, over the %d byte limit of an SQS dead letter", len(b), MaxRecordSize)
}

// cutString returns at most n bytes of s, ending on a rune boundary.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// PutDeadLetter implements webhook.DeadLetters with one SendMessage of the
// JSON record, carrying the message attributes id, endpoint_id and
// event_type. A record over MaxRecordSize is cut down (see encodeRecord).
// Putting an ID again sends a new message; reads keep the latest put of
// each ID and delete the ones it replaced.
func (d *DeadLetters) PutDeadLetter(ctx context.Context, dl *webhook.DeadLetter) error {
	if dl == nil || dl.ID == "" {
		return fmt.Errorf("sqs: put dead letter: %w", webhook.Invalid("id", "required"))
	}
	body, err := encodeRecord(dl, d.opts.now().UnixNano())
	if err != nil {
		return fmt.Errorf("sqs: put dead letter %s: %w", dl.ID, err)
	}
	attrs := map[string]types.MessageAttributeValue{attrID: stringAttr(dl.ID)}
	if dl.EndpointID != "" {
		attrs[attrEndpoint] = stringAttr(dl.EndpointID)
	}
	if dl.Event != nil && dl.Event.Type != "" {
		attrs[attrEventType] = stringAttr(dl.Event.Type)
	}
	_, err = d.api.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl:          aws.String(d.opts.DLQURL),
		MessageBody:       aws.String(string(body)),
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("sqs: put dead letter %s: %w", dl.ID, classify(err))
	}
	return nil
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// GetDeadLetter implements webhook.DeadLetters by scanning the queue.
func (d *DeadLetters) GetDeadLetter(ctx context.Context, id string) (*webhook.DeadLetter, error) {
	s, err := d.scan(ctx)
	defer s.release(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqs: get dead letter %s: %w", id, err)
	}
	for _, e := range s.entries {
		if e.dl.ID == id {
			return e.dl, nil
		}
	}
	return nil, fmt.Errorf("sqs: get dead letter %s: %w", id, webhook.ErrNotFound)
}

// DeleteDeadLetter implements webhook.DeadLetters by scanning the queue
// and deleting the message (and any older put of the same ID) by its
// receipt.
func (d *DeadLetters) DeleteDeadLetter(ctx context.Context, id string) error {
	s, err := d.scan(ctx)
	defer s.release(ctx)
	if err != nil {
		return fmt.Errorf("sqs: delete dead letter %s: %w", id, err)
	}
	i := slices.IndexFunc(s.entries, func(e entry) bool { return e.dl.ID == id })
	if i < 0 {
		return fmt.Errorf("sqs: delete dead letter %s: %w", id, webhook.ErrNotFound)
	}
	if err := s.delete(ctx, s.entries[i].receipt); err != nil {
		return fmt.Errorf("sqs: delete dead letter %s: %w", id, err)
	}
	return nil
}

// DeleteDeadLetters removes the dead letters ids (those not found are
// skipped) in one scan of the queue, where a DeleteDeadLetter per id
// scans it each time: a bulk redrive or purge of a hundred from a DLQ of
// a few hundred made thousands of receives, past the management
// function's timeout.
func (d *DeadLetters) DeleteDeadLetters(ctx context.Context, ids []string) error {
	s, err := d.scan(ctx)
	defer s.release(ctx)
	if err != nil {
		return fmt.Errorf("sqs: delete dead letters: %w", err)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var rs []string
	for _, e := range s.entries {
		if want[e.dl.ID] {
			rs = append(rs, e.receipt)
		}
	}
	if err := s.delete(ctx, rs...); err != nil {
		return fmt.Errorf("sqs: delete dead letters: %w", err)
	}
	return nil
}

// ListDeadLetters implements webhook.DeadLetters: it scans the queue,
// sorts what it read by At then ID (SQS keeps no order) and returns the
// page after the cursor. Each page is a new scan.
func (d *DeadLetters) ListDeadLetters(ctx context.Context, p webhook.Page) ([]*webhook.DeadLetter, string, error) {
	var after *webhook.DeadLetterPosition
	if p.Cursor != "" {
		c, err := webhook.ParseDeadLetterCursor(p.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("sqs: list dead letters: %w", err)
		}
		after = &c
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)

	s, err := d.scan(ctx)
	defer s.release(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("sqs: list dead letters: %w", err)
	}
	dls := make([]*webhook.DeadLetter, 0, len(s.entries))
	for _, e := range s.entries {
		if after == nil || after.Compare(e.dl) < 0 {
			dls = append(dls, e.dl)
		}
	}
	slices.SortFunc(dls, func(a, b *webhook.DeadLetter) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
	if len(dls) <= limit {
		return dls, "", nil
	}
	dls = dls[:limit]
	last := dls[len(dls)-1]
	return dls, webhook.PositionOf(last).Cursor(), nil
}

// entry is one dead letter read by a scan: the latest put of its ID.
type entry struct {
	dl      *webhook.DeadLetter
	putAt   int64
	receipt string
}

// scanned is what a scan read: the dead letters, and the receipts of every
// message it hid, to show again when done.
type scanned struct {
	d       *DeadLetters
	entries []entry
	hidden  map[string]bool // receipts still hidden by the scan
}

// scan reads the dead-letter queue, up to ScanLimit messages. Each
// receive hides what it returns for PeekVisibility, so the next receive
// returns other messages; release shows them all again. SQS returns
// messages in no particular order and short polls sample only some of its
// servers, so the scan takes the queue's approximate message count as a
// hint: it short-polls until it has read that many and, if a short poll
// comes back empty before then, long-polls once for ScanWait. Messages
// hidden by another reader at the time are not seen.
//
// When an ID was put more than once, the scan keeps the latest put and
// deletes the others. Messages that are not records (tasks moved here by
// an endpoint queue's redrive policy) are read as dead letters with the
// ID "sqs_" + their message id, the body as Raw.
func (d *DeadLetters) scan(ctx context.Context) (*scanned, error) {
	s := &scanned{d: d, hidden: map[string]bool{}}
	if d.opts.DLQURL == "" {
		return s, webhook.Invalid("dlq_url", "no dead-letter queue configured")
	}
	limit := cmp.Or(d.opts.ScanLimit, DefaultScanLimit)
	attrs, err := d.api.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(d.opts.DLQURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return s, classify(err)
	}
	hint, _ := strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])

	var msgs []types.Message
	seen := map[string]int{} // message id → index in msgs
	emptyShortPoll := false
	for len(msgs) < limit {
		var wait time.Duration
		if emptyShortPoll {
			// Short of the hint: a long poll asks every server.
			wait = cmp.Or(d.opts.ScanWait, DefaultScanWait)
		}
		out, err := d.api.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(d.opts.DLQURL),
			MaxNumberOfMessages:         int32(min(maxBatch, limit-len(msgs))),
			VisibilityTimeout:           seconds(cmp.Or(d.opts.PeekVisibility, DefaultPeekVisibility)),
			WaitTimeSeconds:             seconds(wait), // 0 is not sent: the DLQ's default, 0
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			return s, classify(err)
		}
		for _, m := range out.Messages {
			s.hidden[aws.ToString(m.ReceiptHandle)] = true
			if i, ok := seen[aws.ToString(m.MessageId)]; ok {
				msgs[i] = m // again: its visibility ran out during the scan
				continue
			}
			seen[aws.ToString(m.MessageId)] = len(msgs)
			msgs = append(msgs, m)
		}
		if len(out.Messages) > 0 {
			emptyShortPoll = false
			continue
		}
		if wait > 0 || len(msgs) >= hint {
			break
		}
		emptyShortPoll = true
	}

	latest := map[string]int{} // dead-letter id → index in s.entries
	var replaced []string
	for _, m := range msgs {
		e := readEntry(m)
		i, ok := latest[e.dl.ID]
		switch {
		case !ok:
			latest[e.dl.ID] = len(s.entries)
			s.entries = append(s.entries, e)
		case e.putAt > s.entries[i].putAt:
			replaced = append(replaced, s.entries[i].receipt)
			s.entries[i] = e
		default:
			replaced = append(replaced, e.receipt)
		}
	}
	if err := s.delete(ctx, replaced...); err != nil {
		return s, err
	}
	return s, nil
}

// readEntry decodes one message of the dead-letter queue.
func readEntry(m types.Message) entry {
	body := aws.ToString(m.Body)
	receipt := aws.ToString(m.ReceiptHandle)
	var sent time.Time
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		sent = time.UnixMilli(ms)
	}
	reason := "moved to the dead-letter queue by SQS: received more times than its queue's redrive policy allows, without being deleted"
	if _, ok := m.MessageAttributes[attrID]; ok {
		dl, putAt, err := unmarshalRecord([]byte(body))
		if err == nil {
			return entry{dl: dl, putAt: putAt, receipt: receipt}
		}
		reason = "unreadable dead-letter record: " + err.Error()
	}
	dl := &webhook.DeadLetter{ID: "sqs_" + aws.ToString(m.MessageId), Reason: reason, Raw: body, At: sent}
	// A delivery task names its endpoint and event: keep them when present.
	var task struct {
		EndpointID string         `json:"endpoint_id"`
		Event      *webhook.Event `json:"event"`
	}
	if json.Unmarshal([]byte(body), &task) == nil {
		dl.EndpointID = task.EndpointID
		if task.Event != nil && task.Event.ID != "" {
			dl.Event = task.Event
		}
	}
	return entry{dl: dl, putAt: sent.UnixNano(), receipt: receipt}
}

// delete deletes scanned messages by receipt, ten a call.
func (s *scanned) delete(ctx context.Context, rs ...string) error {
	for start := 0; start < len(rs); start += maxBatch {
		chunk := rs[start:min(start+maxBatch, len(rs))]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r)}
		}
		out, err := s.d.api.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.d.opts.DLQURL), Entries: entries})
		if err != nil {
			return classify(err)
		}
		for _, r := range chunk {
			delete(s.hidden, r)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return webhook.Transient(nil, "%d of %d deletes failed; first: %s: %s", len(out.Failed), len(chunk), aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return nil
}

// release shows every message the scan hid again. It runs even when ctx
// was cancelled; if it fails, the messages show again after
// PeekVisibility anyway.
func (s *scanned) release(ctx context.Context) {
	if s == nil || len(s.hidden) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rs := make([]string, 0, len(s.hidden))
	for r := range s.hidden {
		rs = append(rs, r)
	}
	_ = changeVisibilityBatch(ctx, s.d.api, s.d.opts.DLQURL, rs, 0)
	s.hidden = nil
}
