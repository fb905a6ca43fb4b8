package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// A task that an endpoint queue's redrive policy moved to the DLQ reads
// as a dead letter, and can be deleted.
func TestDeadLettersRedrivenMessage(t *testing.T) {
	c := client(t)
	dlqURL := createQueue(t, c, prefix+"dlq", nil)
	createQueue(t, c, prefix+"whk_1", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:` + prefix + `dlq","maxReceiveCount":"1"}`,
	})
	q := New(c, Options{Prefix: prefix})
	dlq := NewDeadLetters(c, Options{DLQURL: dlqURL})
	ctx := t.Context()

	mustPut := func(dl *webhook.DeadLetter) {
		t.Helper()
		if err := dlq.PutDeadLetter(ctx, dl); err != nil {
			t.Fatalf("PutDeadLetter: %v", err)
		}
	}
	mustPut(webhooktest.NewDeadLetter("dlv_a", "whk_1", webhooktest.Base))

	task := `{"delivery_id":"dlv_b","endpoint_id":"whk_1","event":{"id":"evt_1","type":"call.completed","time":"2025-06-03T12:00:00Z","environment":"production","data":{"x":1}},"attempt":2}`
	if err := q.SendMessages(ctx, "whk_1", []webhook.OutMessage{{ID: "0", Body: []byte(task)}}); err != nil {
		t.Fatal(err)
	}
	ms, err := q.ReceiveMessages(ctx, "whk_1", 1, 0, time.Second) // received once, shown again
	if err != nil || len(ms) != 1 {
		t.Fatalf("ReceiveMessages: %d, %v", len(ms), err)
	}
	if ms, err := q.ReceiveMessages(ctx, "whk_1", 1, time.Minute, 0); err != nil || len(ms) != 0 {
		t.Fatalf("second receive = %d, %v; want none (moved to the DLQ)", len(ms), err)
	}

	dls, next, err := dlq.ListDeadLetters(ctx, webhook.Page{})
	if err != nil || next != "" || len(dls) != 2 {
		t.Fatalf("ListDeadLetters = %d, %q, %v; want 2 on one page", len(dls), next, err)
	}
	moved := dls[1] // sent now, after Base
	if !strings.HasPrefix(moved.ID, "sqs_") || moved.Raw != task || moved.EndpointID != "whk_1" ||
		moved.Event == nil || moved.Event.ID != "evt_1" || string(moved.Event.Data) != `{"x":1}` {
		t.Errorf("moved task read as %+v", moved)
	}
	if time.Since(moved.At) > time.Minute {
		t.Errorf("moved task At = %s, want its send time", moved.At)
	}
	if err := dlq.DeleteDeadLetter(ctx, moved.ID); err != nil {
		t.Fatalf("DeleteDeadLetter(%s): %v", moved.ID, err)
	}
	if _, err := dlq.GetDeadLetter(ctx, moved.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("GetDeadLetter after delete = %v, want ErrNotFound", err)
	}
	// Reads leave the rest visible.
	if err := dlq.DeleteDeadLetter(ctx, "dlv_a"); err != nil {
		t.Fatalf("DeleteDeadLetter(dlv_a): %v", err)
	}
	if ms, err := New(c, Options{}).ReceiveMessages(ctx, prefix+"dlq", 10, time.Minute, 0); err != nil || len(ms) != 0 {
		t.Errorf("DLQ after deleting both: %d messages, %v", len(ms), err)
	}
}

// Putting an ID again leaves one message: the scan deletes the older put.
func TestDeadLettersReplacedPutIsDeleted(t *testing.T) {
	c := client(t)
	dlqURL := createQueue(t, c, prefix+"dlq", nil)
	dlq := NewDeadLetters(c, Options{DLQURL: dlqURL})
	ctx := t.Context()
	for i := range 3 {
		if err := dlq.PutDeadLetter(ctx, webhooktest.NewDeadLetter("dlv_x", "whk_1", webhooktest.Base.Add(time.Duration(i)))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dlq.GetDeadLetter(ctx, "dlv_x"); err != nil {
		t.Fatal(err)
	}
	ms, err := New(c, Options{}).ReceiveMessages(ctx, prefix+"dlq", 10, time.Minute, 0)
	if err != nil || len(ms) != 1 {
		t.Fatalf("DLQ after a read: %d messages, %v; want 1", len(ms), err)
	}
}

func TestDeadLettersScanLimit(t *testing.T) {
	c := client(t)
	dlqURL := createQueue(t, c, prefix+"dlq", nil)
	ctx := t.Context()
	all := NewDeadLetters(c, Options{DLQURL: dlqURL})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if err := all.PutDeadLetter(ctx, webhooktest.NewPoisonDeadLetter(id, webhooktest.Base)); err != nil {
			t.Fatal(err)
		}
	}
	dls, _, err := NewDeadLetters(c, Options{DLQURL: dlqURL, ScanLimit: 3}).ListDeadLetters(ctx, webhook.Page{})
	if err != nil || len(dls) != 3 {
		t.Errorf("ListDeadLetters with ScanLimit 3 = %d, %v; want 3", len(dls), err)
	}
	dls, _, err = all.ListDeadLetters(ctx, webhook.Page{})
	if err != nil || len(dls) != 5 {
		t.Errorf("ListDeadLetters after a limited scan = %d, %v; want all 5 visible again", len(dls), err)
	}
}

func TestEncodeRecordCutsDown(t *testing.T) {
	big := strings.Repeat("é", 200<<10) // 400 KiB
	dl := webhooktest.NewDeadLetter("dlv_big", "whk_1", webhooktest.Base)
	for i := range dl.Attempts {
		dl.Attempts[i].Response = strings.Repeat("r", webhook.MaxResponseExcerpt)
	}
	dl.Raw = big
	b, err := encodeRecord(dl, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxRecordSize || !utf8.Valid(b) {
		t.Fatalf("record of %d bytes (valid UTF-8: %t), limit %d", len(b), utf8.Valid(b), MaxRecordSize)
	}
	got, _, err := unmarshalRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Raw) == 0 || !strings.HasPrefix(big, got.Raw) || len(got.Attempts[0].Response) != trimmedText ||
		!strings.Contains(got.Reason, "raw cut to") || string(got.Event.Data) != string(dl.Event.Data) {
		t.Errorf("cut down to raw %d bytes, response %d bytes, reason %q", len(got.Raw), len(got.Attempts[0].Response), got.Reason)
	}
	if dl.Raw != big || len(dl.Attempts[0].Response) != webhook.MaxResponseExcerpt {
		t.Error("encodeRecord changed the dead letter passed in")
	}

	dl = webhooktest.NewDeadLetter("dlv_bigdata", "whk_1", webhooktest.Base)
	dl.Event.Data = json.RawMessage(`"` + strings.Repeat("x", 300<<10) + `"`)
	if b, err = encodeRecord(dl, 1); err != nil || len(b) > MaxRecordSize {
		t.Fatalf("big event data: %d bytes, %v", len(b), err)
	}
	got, _, _ = unmarshalRecord(b)
	if got.Event == nil || got.Event.ID != dl.Event.ID || got.Event.Data != nil || !strings.Contains(got.Reason, "event data") {
		t.Errorf("big event data: event %+v, reason %q", got.Event, got.Reason)
	}
}

// TestEncodeRecordKeepsLargeEventData: an event's data is stored as its
// JSON, byte for byte (whitespace, characters HTML would escape, and
// noncharacters SQS refuses, escaped in the body, included), so data as
// large as any event the pipeline queues fits a dead letter whole; as
// base64 it was a third larger, and data over about 187 KiB was dropped
// (and a redrive then sent the event without it). Records of version 1
// (base64) are still read.
func TestEncodeRecordKeepsLargeEventData(t *testing.T) {
	dl := webhooktest.NewDeadLetter("dlv_large", "whk_1", webhooktest.Base)
	dl.Event.Data = json.RawMessage("{\n  \"transcript\": \"<b>&amp;</b> \uFFFF " + strings.Repeat("x", 240<<10) + "\"\n}")
	b, err := encodeRecord(dl, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxRecordSize || strings.ContainsRune(string(b), '\uFFFF') {
		t.Fatalf("record of %d bytes (limit %d), noncharacter escaped: %t", len(b), MaxRecordSize, !strings.ContainsRune(string(b), '\uFFFF'))
	}
	got, _, err := unmarshalRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	var gotData, wantData any
	if err := json.Unmarshal(got.Event.Data, &gotData); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(dl.Event.Data, &wantData)
	if !reflect.DeepEqual(gotData, wantData) || strings.Contains(got.Reason, "cut") {
		t.Errorf("event data read back: %d bytes, equal %t; reason %q", len(got.Event.Data), reflect.DeepEqual(gotData, wantData), got.Reason)
	}
	plain := webhooktest.NewDeadLetter("dlv_plain", "whk_1", webhooktest.Base)
	if b, err = encodeRecord(plain, 1); err != nil {
		t.Fatal(err)
	}
	if got, _, err = unmarshalRecord(b); err != nil || string(got.Event.Data) != string(plain.Event.Data) {
		t.Errorf("event data %q (%v), want %q byte for byte", got.Event.Data, err, plain.Event.Data)
	}

	v1 := `{"v":1,"put_at":1,"id":"dlv_v1","endpoint_id":"whk_1","reason":"r","at":"2026-11-27T10:00:00Z",` +
		`"event":{"id":"evt_1","type":"call.received","time":"2026-11-27T09:00:00Z","environment":"production","data":"eyJhIjogMX0="}}`
	got, _, err = unmarshalRecord([]byte(v1))
	if err != nil || got.Event == nil || string(got.Event.Data) != `{"a": 1}` {
		t.Errorf("version 1 record: %+v, %v; want its data decoded from base64", got, err)
	}
}

// Characters SQS refuses in a body are escaped, and round-trip.
func TestEncodeRecordEscapesNonCharacters(t *testing.T) {
	dl := webhooktest.NewPoisonDeadLetter("poison_1", webhooktest.Base)
	dl.Raw = "a\uFFFEb\uFFFFc\x00d"
	b, err := encodeRecord(dl, 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(b), "\uFFFE\uFFFF\x00") {
		t.Errorf("record holds characters SQS rejects: %q", b)
	}
	got, _, err := unmarshalRecord(b)
	if err != nil || got.Raw != dl.Raw {
		t.Errorf("Raw round-tripped to %q, %v", got.Raw, err)
	}
}

// receiveCounter counts ReceiveMessage calls.
type receiveCounter struct {
	API
	n int
}

func (c *receiveCounter) ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, o ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error) {
	c.n++
	return c.API.ReceiveMessage(ctx, in, o...)
}

// TestDeleteDeadLettersScansOnce: removing many dead letters takes one
// scan of the queue, not one per dead letter (a bulk redrive of 100 from
// a DLQ of a few hundred outran the management function's timeout).
func TestDeleteDeadLettersScansOnce(t *testing.T) {
	c := client(t)
	dlqURL := createQueue(t, c, prefix+"dlq", nil)
	ctx := t.Context()
	counter := &receiveCounter{API: c}
	dlq := NewDeadLetters(counter, Options{DLQURL: dlqURL})
	var gone []string
	for i := range 30 {
		id := fmt.Sprintf("dlv_%02d", i)
		if err := dlq.PutDeadLetter(ctx, webhooktest.NewDeadLetter(id, "whk_1", webhooktest.Base.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			gone = append(gone, id)
		}
	}
	counter.n = 0
	if err := dlq.DeleteDeadLetters(ctx, append(gone, "dlv_unknown")); err != nil {
		t.Fatal(err)
	}
	if counter.n > 6 { // 30 messages, 10 a receive, then an empty one or two
		t.Errorf("%d receives to delete %d dead letters, want one scan's", counter.n, len(gone))
	}
	dls, _, err := dlq.ListDeadLetters(ctx, webhook.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, dl := range dls {
		if slices.Contains(gone, dl.ID) {
			t.Errorf("%s still listed", dl.ID)
		}
	}
	if len(dls) != 20 {
		t.Errorf("%d dead letters left, want 20", len(dls))
	}
}
