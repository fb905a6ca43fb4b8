package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

type recordingPublisher struct {
	got []*webhook.Event
	err error
}

func (p *recordingPublisher) Dispatch(_ context.Context, ev *webhook.Event) error {
	p.got = append(p.got, ev)
	return p.err
}

type recordingDLQ struct {
	mu  sync.Mutex
	got []*webhook.DeadLetter
}

func (d *recordingDLQ) PutDeadLetter(_ context.Context, dl *webhook.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, dl)
	return nil
}

// bridgeEvent is an event as EventBridge hands it to a Lambda target.
func bridgeEvent(t *testing.T, detailType, detail string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detailType,
		"source": "phoneshield", "account": "111122223333", "time": "2026-11-27T08:00:00Z",
		"region": "us-east-1", "resources": []string{}, "detail": json.RawMessage(detail),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFilterHandler(t *testing.T) {
	sample, _ := catalog.Sample("call.completed")
	for _, tc := range []struct {
		name       string
		raw        []byte
		publishErr error
		wantErr    bool
		wantPub    int
		wantDLQ    string // a reason fragment, "" for none
	}{
		{"valid event", bridgeEvent(t, "call.completed", sample.Detail), nil, false, 1, ""},
		{"event_id falls back to the EventBridge id", bridgeEvent(t, "call.completed", `{"data":`+dataOf(t, sample.Detail)+`}`), nil, false, 1, ""},
		{"unknown type is poison", bridgeEvent(t, "call.exploded", sample.Detail), nil, false, 0, "detail-type"},
		{"invalid detail is poison", bridgeEvent(t, "call.completed", `{"data":{"call_id":1}}`), nil, false, 0, "detail.data.call_id"},
		{"store trouble is retried by EventBridge", bridgeEvent(t, "call.completed", sample.Detail), errors.New("dynamo down"), true, 1, ""},
		{"other invalid fan-out errors are retried", bridgeEvent(t, "call.completed", sample.Detail), webhook.Invalid("queue", "no such queue"), true, 1, ""},
		{"an event too big to queue is poison", bridgeEvent(t, "call.completed", sample.Detail), fmt.Errorf("fanout: %w: %w", delivery.ErrTaskTooBig, webhook.Invalid("detail", "300000 bytes is over the 262144 byte limit")), false, 1, "over the 262144 byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, dlq := &recordingPublisher{err: tc.publishErr}, &recordingDLQ{}
			h := &handler.Filter{Fanout: pub, DeadLetters: dlq, Logger: quiet}
			_, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), tc.raw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Invoke error = %v, want error %v", err, tc.wantErr)
			}
			if len(pub.got) != tc.wantPub {
				t.Fatalf("published %d events, want %d", len(pub.got), tc.wantPub)
			}
			if tc.wantDLQ == "" && len(dlq.got) > 0 {
				t.Errorf("dead-lettered: %+v", dlq.got[0])
			}
			if tc.wantDLQ != "" && (len(dlq.got) != 1 || !strings.Contains(dlq.got[0].Reason, tc.wantDLQ) || dlq.got[0].Raw == "") {
				t.Errorf("DLQ = %+v, want one record naming %s with the raw input", dlq.got, tc.wantDLQ)
			}
		})
	}
	// The parsed event carries the detail's id, environment and time.
	pub := &recordingPublisher{}
	h := &handler.Filter{Fanout: pub, DeadLetters: &recordingDLQ{}, Logger: quiet}
	if _, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), bridgeEvent(t, "call.completed", `{"data":`+dataOf(t, sample.Detail)+`,"environment":"sandbox"}`)); err != nil {
		t.Fatal(err)
	}
	ev := pub.got[0]
	if got, want := fmt.Sprint(ev.ID, " ", ev.Environment, " ", ev.Time.UTC().Format(time.RFC3339)), "6a7e8feb-b491-4cf7-a9f1-bf3703467718 sandbox 2026-11-27T08:00:00Z"; got != want {
		t.Errorf("event = %s, want %s", got, want)
	}
}

func dataOf(t *testing.T, detail string) string {
	t.Helper()
	var d struct{ Data json.RawMessage }
	if err := json.Unmarshal([]byte(detail), &d); err != nil {
		t.Fatal(err)
	}
	return string(d.Data)
}

// barrierProcessor holds every record until n are in flight at once (or
// a generous timeout passes), then fails bodies that say "fail". If the
// handler ran records one after another, none would see the barrier open.
type barrierProcessor struct {
	n        int
	mu       sync.Mutex
	inflight int
	open     chan struct{}
	sawAll   int
}

func (p *barrierProcessor) Process(ctx context.Context, body []byte) error {
	p.mu.Lock()
	p.inflight++
	if p.inflight == p.n {
		close(p.open)
	}
	p.mu.Unlock()
	select {
	case <-p.open:
		p.mu.Lock()
		p.sawAll++
		p.mu.Unlock()
	case <-time.After(5 * time.Second):
	}
	if string(body) == "fail" {
		return errors.New("retry me")
	}
	return nil
}

func TestDeliverHandlerReportsFailuresAndRunsConcurrently(t *testing.T) {
	records := make([]map[string]any, 10)
	for i := range records {
		body := "ok"
		if i == 3 || i == 7 {
			body = "fail"
		}
		records[i] = map[string]any{"messageId": fmt.Sprintf("m%d", i), "receiptHandle": "r", "body": body,
			"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:ps-whk_1", "awsRegion": "us-east-1",
			"attributes": map[string]string{"ApproximateReceiveCount": "1"}}
	}
	raw, _ := json.Marshal(map[string]any{"Records": records})
	proc := &barrierProcessor{n: 10, open: make(chan struct{})}
	h := &handler.Deliver{Deliverer: proc, Logger: quiet}
	out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	if got := fmt.Sprint(slices.Sorted(slices.Values(ids))); got != "[m3 m7]" {
		t.Errorf("batch item failures = %s, want [m3 m7]", got)
	}
	if proc.sawAll != 10 {
		t.Errorf("%d of 10 records were in flight together, want all 10 (a batch runs concurrently)", proc.sawAll)
	}
}

// panickyProcessor panics on the body "panic", fails "fail" and accepts
// anything else.
type panickyProcessor struct{}

func (panickyProcessor) Process(_ context.Context, body []byte) error {
	switch string(body) {
	case "panic":
		var m map[string]int
		m["boom"]++ // a nil map write: a runtime panic
	case "fail":
		return errors.New("receiver down")
	}
	return nil
}

// TestDeliverHandlerSurvivesAPanic: a record whose processing panics fails
// alone, with the panic logged; the process goes on, and the batch's other
// records end as they would have.
func TestDeliverHandlerSurvivesAPanic(t *testing.T) {
	var logs webhooktest.Logs
	h := &handler.Deliver{Deliverer: panickyProcessor{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	var ev events.SQSEvent
	for i, body := range []string{"ok", "panic", "fail", "ok"} {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), Body: body})
	}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	if got, want := fmt.Sprint(slices.Sorted(slices.Values(ids))), "[m1 m2]"; got != want {
		t.Errorf("batch item failures = %s, want %s", got, want)
	}
	if out := logs.String(); !strings.Contains(out, `"message_id":"m1"`) || !strings.Contains(out, "assignment to entry in nil map") || !strings.Contains(out, "panicked") {
		t.Errorf("log = %s; want the panic logged with its message id", out)
	}
}

type oneEndpoint struct{ ep *webhook.Endpoint }

func (o oneEndpoint) GetEndpoint(_ context.Context, id string) (*webhook.Endpoint, error) {
	if id == o.ep.ID {
		return o.ep, nil
	}
	return nil, webhook.ErrNotFound
}

type nopLog struct{}

func (nopLog) AppendAttempt(context.Context, *webhook.Delivery, webhook.Attempt) error { return nil }

type okHTTP struct {
	mu   sync.Mutex
	sent []string
}

func (h *okHTTP) Send(_ context.Context, req sender.Request) sender.Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, string(req.Body))
	return sender.Result{StatusCode: 200}
}

// The handler passes each record's Body to the Deliverer without a copy:
// the Deliverer must only read it, here even from a string constant (which
// lives in read-only memory: a write would crash).
func TestDeliverHandlerOnRealDeliverer(t *testing.T) {
	const task = `{"delivery_id":"dlv_1","endpoint_id":"whk_1","event":{"id":"evt_1","type":"call.completed",` +
		`"time":"2026-11-27T08:00:00Z","environment":"production","data":{"call_id":"c1","n":[1,2.5,true,null]}},"attempt":1}`
	ep := &webhook.Endpoint{ID: "whk_1", URL: "https://hooks.example.com/x", Status: webhook.StatusActive,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="}
	dlq, h := &recordingDLQ{}, &okHTTP{}
	d := &delivery.Deliverer{Endpoints: oneEndpoint{ep}, Keys: webhooktest.GrantAll{}, Log: nopLog{}, Queue: discardQueue{}, DeadLetters: dlq,
		HTTP: h, Plan: webhook.Enterprise, QueueName: func(id string) string { return id }, Logger: quiet}
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: task}, {MessageId: "m2", Body: ""}, {MessageId: "m3", Body: "{not json"}}}
	resp, _ := (&handler.Deliver{Deliverer: d, Logger: quiet}).Handle(context.Background(), ev)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures: %v", resp.BatchItemFailures)
	}
	want := `{"event_type":"call.completed","timestamp":"2026-11-27T08:00:00Z","version":"1.0","environment":"production",` +
		`"webhook_id":"whk_1","event_id":"evt_1","data":{"call_id":"c1","n":[1,2.5,true,null]}}`
	if len(h.sent) != 1 || h.sent[0] != want {
		t.Errorf("sent %q, want one %s", h.sent, want)
	}
	if len(dlq.got) != 2 || ev.Records[0].Body != task {
		t.Errorf("%d poison records dead-lettered, want 2; body now %q", len(dlq.got), ev.Records[0].Body)
	}
}
