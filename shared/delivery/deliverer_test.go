package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/bolt"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/ratelimit"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// fakeHTTP answers attempts from a script and records the requests.
type fakeHTTP struct {
	mu      sync.Mutex
	answers []sender.Result
	reqs    []sender.Request
	during  func() // if set, called in every Send
}

func (f *fakeHTTP) Send(_ context.Context, req sender.Request) sender.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.during != nil {
		f.during()
	}
	if len(f.answers) == 0 {
		return sender.Result{StatusCode: 200, Latency: time.Millisecond}
	}
	r := f.answers[0]
	f.answers = f.answers[1:]
	return r
}

// fakeQueue records sent messages.
type fakeQueue struct {
	mu   sync.Mutex
	sent []webhook.OutMessage
	fail error
}

func (q *fakeQueue) SendMessages(_ context.Context, queue string, msgs []webhook.OutMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	q.sent = append(q.sent, msgs...)
	return nil
}

type env struct {
	db   *bolt.DB
	q    *fakeQueue
	http *fakeHTTP
	d    *delivery.Deliverer
	ep   *webhook.Endpoint
	now  time.Time
}

func setup(t *testing.T) *env {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	secret, _ := signature.GenerateSecret()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ep := &webhook.Endpoint{ID: "whk_test", URL: "https://hooks.example.com/x", EventTypes: []string{"*"},
		Status: webhook.StatusActive, Secret: webhook.Secret(secret), Version: 1, CreatedAt: now, UpdatedAt: now,
		Headers: map[string]string{"X-Tenant": "acme", "Authorization": "Bearer sk_live_123"}}
	if err := db.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, q: &fakeQueue{}, http: &fakeHTTP{}, ep: ep, now: now}
	e.d = &delivery.Deliverer{
		Endpoints: db, Keys: db, Log: db, Queue: e.q, DeadLetters: db, HTTP: e.http,
		Plan: webhook.Enterprise, QueueName: func(id string) string { return "q_" + id },
		Now: func() time.Time { return e.now }, Rand: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	return e
}

func event(id string) *webhook.Event {
	return &webhook.Event{ID: id, Type: "call.completed", Time: time.Date(2026, 11, 27, 9, 59, 0, 0, time.UTC),
		Environment: "production", Data: json.RawMessage(`{"call_id":"call_1","duration_seconds":135}`)}
}

func body(t *testing.T, task *delivery.Task) []byte {
	t.Helper()
	b, err := task.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// next decodes the one message on the queue.
func (e *env) next(t *testing.T) (*delivery.Task, time.Duration) {
	t.Helper()
	if len(e.q.sent) != 1 {
		t.Fatalf("%d messages queued, want 1", len(e.q.sent))
	}
	m := e.q.sent[0]
	e.q.sent = nil
	task, err := delivery.DecodeTask(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	return task, m.Delay
}

func TestSuccessSignsAndLogs(t *testing.T) {
	e := setup(t)
	task := delivery.NewTask(event("evt_1"), e.ep.ID)
	if err := e.d.Process(context.Background(), body(t, task)); err != nil {
		t.Fatal(err)
	}
	if len(e.http.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(e.http.reqs))
	}
	req := e.http.reqs[0]
	if err := signature.VerifyPhoneShield(string(e.ep.Secret), req.Body, req.Headers.Get("X-PhoneShield-Signature")); err != nil {
		t.Errorf("seed signature: %v", err)
	}
	if err := signature.VerifyStandard([]string{string(e.ep.Secret)}, req.Headers, req.Body, time.Hour*24*365*10, e.now); err != nil {
		t.Errorf("standard signature: %v", err)
	}
	for k, want := range map[string]string{
		"X-PhoneShield-Event-Id": "evt_1", "X-PhoneShield-Event-Type": "call.completed", "X-PhoneShield-Attempt": "1",
		"X-PhoneShield-Delivery-Id": task.DeliveryID, "webhook-id": "evt_1", "X-Tenant": "acme",
		"webhook-timestamp": fmt.Sprint(e.now.Unix()),
	} {
		if got := req.Headers.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	want := `{"event_type":"call.completed","timestamp":"2026-11-27T09:59:00Z","version":"1.0","environment":"production","webhook_id":"whk_test","event_id":"evt_1","data":{"call_id":"call_1","duration_seconds":135}}`
	if got := string(req.Body); got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
	d, err := e.db.GetDelivery(context.Background(), task.DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 1 {
		t.Errorf("log = %s with %d attempts", d.Status, len(d.Attempts))
	}
	for k, v := range d.Request.Headers {
		if strings.Contains(strings.ToLower(k), "signature") {
			t.Errorf("log keeps signature header %s", k)
		}
		if strings.Contains(v, "sk_live_123") || strings.Contains(v, string(e.ep.Secret)) {
			t.Errorf("log keeps a secret in %s: %q", k, v)
		}
	}
	if got := d.Request.Headers["Authorization"]; got != "[redacted]" {
		t.Errorf("logged Authorization = %q, want [redacted]", got)
	}
	// The same message again (SQS at-least-once) is dropped.
	if err := e.d.Process(context.Background(), body(t, task)); err != nil {
		t.Fatal(err)
	}
	if len(e.http.reqs) != 1 {
		t.Errorf("duplicate message sent again: %d requests", len(e.http.reqs))
	}
}

func TestFailureSchedulesNextAttemptWithJitteredDelay(t *testing.T) {
	for _, tc := range []struct {
		name       string
		result     sender.Result
		wantDelay  time.Duration // queue delay of the next attempt
		wantBefore time.Duration // NotBefore offset, 0 if none
	}{
		{"500 uses the schedule", sender.Result{StatusCode: 500, Err: errors.New("HTTP 500")}, 10 * time.Second, 0},
		{"Retry-After longer than the schedule wins", sender.Result{StatusCode: 429, Err: errors.New("HTTP 429"), RetryAfter: 40 * time.Second}, 40 * time.Second, 0},
		{"Retry-After shorter than the schedule is a floor only", sender.Result{StatusCode: 503, Err: errors.New("HTTP 503"), RetryAfter: time.Second}, 10 * time.Second, 0},
		{"Retry-After over 15 min hops with NotBefore", sender.Result{StatusCode: 503, Err: errors.New("HTTP 503"), RetryAfter: time.Hour}, 15 * time.Minute, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			e.http.answers = []sender.Result{tc.result}
			if err := e.d.Process(context.Background(), body(t, delivery.NewTask(event("evt_f"), e.ep.ID))); err != nil {
				t.Fatal(err)
			}
			next, delay := e.next(t)
			if delay != tc.wantDelay {
				t.Errorf("next attempt delayed %v, want %v", delay, tc.wantDelay)
			}
			var wantNB time.Time
			if tc.wantBefore > 0 {
				wantNB = e.now.Add(tc.wantBefore)
			}
			if !next.NotBefore.Equal(wantNB) {
				t.Errorf("NotBefore = %v, want %v", next.NotBefore, wantNB)
			}
			if next.Attempt != 2 || len(next.Previous) != 1 || next.Previous[0].StatusCode != tc.result.StatusCode {
				t.Errorf("next task = attempt %d with previous %+v", next.Attempt, next.Previous)
			}
			d, err := e.db.GetDelivery(context.Background(), next.DeliveryID)
			if err != nil || d.Status != webhook.DeliveryPending || len(d.Attempts) != 1 {
				t.Errorf("log = %+v, %v; want pending with 1 attempt", d, err)
			}
		})
	}
}

// TestAttemptCutShortByShutdown: the caller's context ends while the
// attempt is in flight (local mode closing). An attempt the receiver did
// not answer 2xx is logged as cut short but not counted: nothing is
// queued, the message is handed out again, and after a restart the same
// attempt number is made again, its outcome replacing the line. A 2xx
// whose body read was cut short is a delivery.
func TestAttemptCutShortByShutdown(t *testing.T) {
	t.Run("no reply", func(t *testing.T) {
		e := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.http.during = cancel
		e.http.answers = []sender.Result{{Err: fmt.Errorf("attempt canceled by the caller while waiting for the response: %w", context.Canceled)}}
		task := delivery.NewTask(event("evt_cut"), e.ep.ID)
		if err := e.d.Process(ctx, body(t, task)); err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Process: %v, want the message handed out again (context canceled)", err)
		}
		d, err := e.db.GetDelivery(context.Background(), task.DeliveryID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != webhook.DeliveryPending || len(d.Attempts) != 1 || d.Attempts[0].N != 1 || !strings.Contains(d.Attempts[0].Error, "canceled") {
			t.Errorf("logged %s with attempts %+v, want pending with attempt 1 cut short", d.Status, d.Attempts)
		}
		if len(e.q.sent) != 0 {
			t.Errorf("%d messages queued, want none: the attempt is not used up", len(e.q.sent))
		}
		// A restart drops the dead process's leases; the message comes back.
		e.http.during = nil
		if err := e.db.ReleaseAllLeases(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := e.d.Process(context.Background(), body(t, task)); err != nil {
			t.Fatal(err)
		}
		d, _ = e.db.GetDelivery(context.Background(), task.DeliveryID)
		if d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 1 || d.Attempts[0].N != 1 || !d.Attempts[0].OK() {
			t.Errorf("after the restart: %s with attempts %+v, want delivered by attempt 1", d.Status, d.Attempts)
		}
	})
	t.Run("the receiver failed it first", func(t *testing.T) {
		e := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.http.during = cancel
		e.http.answers = []sender.Result{{StatusCode: 500, Err: errors.New("HTTP 500")}}
		task := delivery.NewTask(event("evt_cut_500"), e.ep.ID)
		if err := e.d.Process(ctx, body(t, task)); err != nil {
			t.Fatalf("Process: %v, want the failed attempt settled", err)
		}
		if next, _ := e.next(t); next.Attempt != 2 {
			t.Errorf("queued attempt %d, want 2: a failure the receiver gave counts", next.Attempt)
		}
	})
	t.Run("2xx received", func(t *testing.T) {
		e := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.http.during = cancel
		e.http.answers = []sender.Result{{StatusCode: 200, Body: []byte("o"), Err: fmt.Errorf("attempt canceled by the caller while reading the response body: %w", context.Canceled)}}
		task := delivery.NewTask(event("evt_cut_ok"), e.ep.ID)
		if err := e.d.Process(ctx, body(t, task)); err != nil {
			t.Fatalf("Process: %v, want the delivery settled", err)
		}
		d, err := e.db.GetDelivery(context.Background(), task.DeliveryID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 1 || !d.Attempts[0].OK() || len(e.q.sent) != 0 {
			t.Errorf("logged %s with attempts %+v and %d queued, want delivered", d.Status, d.Attempts, len(e.q.sent))
		}
	})
}

// sizedTask returns a first-attempt task for evt_big whose encoded body is
// exactly size bytes.
func sizedTask(t *testing.T, endpointID string, size int) *delivery.Task {
	t.Helper()
	ev := event("evt_big")
	pad := 0
	for range 2 { // the second pass lands exactly: the size grows one for one with pad
		ev.Data = json.RawMessage(`{"call_id":"call_1","pad":"` + strings.Repeat("x", pad) + `"}`)
		got := len(body(t, delivery.NewTask(ev, endpointID)))
		pad += size - got
	}
	task := delivery.NewTask(ev, endpointID)
	if got := len(body(t, task)); got != size {
		t.Fatalf("task of %d bytes, want %d", got, size)
	}
	return task
}

// TestRetryNearTheQueueLimit: each retry carries the earlier outcomes, so
// the task of a big event grows. Over the queue's limit it first sheds the
// outcomes' response excerpts (the log keeps them); when even that is too
// big, the delivery is dead-lettered at once, not retried forever.
func TestRetryNearTheQueueLimit(t *testing.T) {
	fail := sender.Result{StatusCode: 500, Err: errors.New("HTTP 500"), Body: []byte(strings.Repeat("e", 600))}
	t.Run("sheds excerpts", func(t *testing.T) {
		e := setup(t)
		e.http.answers = []sender.Result{fail, fail}
		task := sizedTask(t, e.ep.ID, webhook.MaxMessageSize-900) // room for one outcome with its excerpt, not two
		if err := e.d.Process(context.Background(), body(t, task)); err != nil {
			t.Fatal(err)
		}
		second, _ := e.next(t)
		if len(second.Previous) != 1 || second.Previous[0].Response == "" {
			t.Fatalf("attempt 2 carries %+v, want attempt 1's outcome with its excerpt", second.Previous)
		}
		if err := e.d.Process(context.Background(), body(t, second)); err != nil {
			t.Fatal(err)
		}
		third, _ := e.next(t)
		if third.Attempt != 3 || len(third.Previous) != 2 || third.Previous[0].Response != "" || third.Previous[1].Response != "" ||
			third.Previous[1].StatusCode != 500 || third.Previous[1].Error != "HTTP 500" {
			t.Errorf("attempt %d carries %+v, want attempts 1 and 2 without their excerpts", third.Attempt, third.Previous)
		}
		d, err := e.db.GetDelivery(context.Background(), task.DeliveryID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Attempts) != 2 || d.Attempts[1].Response != string(fail.Body) {
			t.Errorf("log holds %d attempts, the last with response %q; want 2, with the excerpt", len(d.Attempts), d.Attempts[len(d.Attempts)-1].Response)
		}
	})
	t.Run("dead-letters what cannot be queued", func(t *testing.T) {
		e := setup(t)
		e.http.answers = []sender.Result{fail}
		task := sizedTask(t, e.ep.ID, webhook.MaxMessageSize-20) // no room for any outcome
		if err := e.d.Process(context.Background(), body(t, task)); err != nil {
			t.Fatalf("Process: %v, want the delivery ended", err)
		}
		if len(e.q.sent) != 0 {
			t.Errorf("%d messages queued, want none", len(e.q.sent))
		}
		d, err := e.db.GetDelivery(context.Background(), task.DeliveryID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != webhook.DeliveryDeadLettered || len(d.Attempts) != 1 {
			t.Errorf("logged %s with %d attempts, want dead_lettered with 1", d.Status, len(d.Attempts))
		}
		dl, err := e.db.GetDeadLetter(context.Background(), task.Key())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dl.Reason, "attempt 2 cannot be queued") || len(dl.Attempts) != 1 || dl.Attempts[0].StatusCode != 500 {
			t.Errorf("dead letter: reason %q, %d outcomes; want the queue limit named and attempt 1's outcome", dl.Reason, len(dl.Attempts))
		}
		// The key is finished: the same message handed in again is a
		// duplicate, not another attempt.
		if err := e.d.Process(context.Background(), body(t, task)); err != nil || len(e.http.reqs) != 1 {
			t.Errorf("redelivered message: %v, %d requests; want dropped, 1 request", err, len(e.http.reqs))
		}
	})
}

func TestEarlyTaskHopsWithoutAnAttempt(t *testing.T) {
	e := setup(t)
	task := delivery.NewTask(event("evt_early"), e.ep.ID)
	task.Attempt = 5
	task.NotBefore = e.now.Add(40 * time.Minute)
	if err := e.d.Process(context.Background(), body(t, task)); err != nil {
		t.Fatal(err)
	}
	if len(e.http.reqs) != 0 {
		t.Fatal("an early task made an attempt")
	}
	next, delay := e.next(t)
	if delay != webhook.MaxQueueDelay || next.Attempt != 5 || !next.NotBefore.Equal(task.NotBefore) {
		t.Errorf("hop = attempt %d after %v until %v; want attempt 5 after 15m until %v", next.Attempt, delay, next.NotBefore, task.NotBefore)
	}
	e.now = e.now.Add(40 * time.Minute)
	if err := e.d.Process(context.Background(), body(t, next)); err != nil {
		t.Fatal(err)
	}
	if len(e.http.reqs) != 1 {
		t.Errorf("%d attempts once due, want 1", len(e.http.reqs))
	}
}

func TestLastFailureDeadLettersWithEveryOutcome(t *testing.T) {
	e := setup(t)
	two := 2
	e.ep.Retry = webhook.RetrySettings{MaxRetries: &two}
	e.ep.Version = 2
	if err := e.db.UpdateEndpoint(context.Background(), e.ep); err != nil {
		t.Fatal(err)
	}
	e.http.answers = []sender.Result{
		{StatusCode: 500, Err: errors.New("HTTP 500"), Body: []byte("boom")},
		{Err: errors.New("connection refused")},
		{StatusCode: 404, Err: errors.New("HTTP 404")},
	}
	task := delivery.NewTask(event("evt_dl"), e.ep.ID)
	for i := 0; i < 3; i++ {
		if err := e.d.Process(context.Background(), body(t, task)); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			task, _ = e.next(t)
		}
	}
	if len(e.q.sent) != 0 {
		t.Errorf("a 4th attempt was scheduled with max_retries 2")
	}
	dl, err := e.db.GetDeadLetter(context.Background(), task.DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range dl.Attempts {
		got = append(got, fmt.Sprintf("%d:%d:%s", a.N, a.StatusCode, a.Error))
	}
	if want := "[1:500:HTTP 500 2:0:connection refused 3:404:HTTP 404]"; fmt.Sprint(got) != want {
		t.Errorf("outcomes = %v, want %s", got, want)
	}
	if dl.Event == nil || dl.Event.ID != "evt_dl" || dl.EndpointID != e.ep.ID || !strings.Contains(dl.Reason, "3 attempts failed") {
		t.Errorf("dead letter = %+v", dl)
	}
	d, _ := e.db.GetDelivery(context.Background(), task.DeliveryID)
	if d.Status != webhook.DeliveryDeadLettered || len(d.Attempts) != 3 {
		t.Errorf("log = %s with %d attempts", d.Status, len(d.Attempts))
	}
}

func TestUndeliverableTasks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prep   func(e *env)
		body   func(t *testing.T, e *env) []byte
		reason string
	}{
		{"poison body", nil, func(*testing.T, *env) []byte { return []byte("{not json") }, "poison input"},
		{"task without endpoint", nil, func(*testing.T, *env) []byte { return []byte(`{"delivery_id":"dlv_x","attempt":1}`) }, "endpoint_id"},
		{"endpoint deleted", func(e *env) { e.db.DeleteEndpoint(context.Background(), e.ep.ID) }, nil, "deleted"},
		{"endpoint inactive", func(e *env) {
			e.ep.Status, e.ep.Version = webhook.StatusInactive, 2
			e.db.UpdateEndpoint(context.Background(), e.ep)
		}, nil, "inactive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			if tc.prep != nil {
				tc.prep(e)
			}
			b := body(t, delivery.NewTask(event("evt_u"), e.ep.ID))
			if tc.body != nil {
				b = tc.body(t, e)
			}
			if err := e.d.Process(context.Background(), b); err != nil {
				t.Fatalf("Process = %v, want nil (dead-lettered, not retried)", err)
			}
			dls, _, err := e.db.ListDeadLetters(context.Background(), webhook.Page{})
			if err != nil || len(dls) != 1 || !strings.Contains(dls[0].Reason, tc.reason) {
				t.Fatalf("DLQ = %+v (%v), want one record whose reason mentions %q", dls, err, tc.reason)
			}
			if len(e.http.reqs) != 0 {
				t.Error("an attempt was made")
			}
		})
	}
}

// TestDisabledMidRetryEndsTheLog: an endpoint disabled while a retry is
// scheduled dead-letters the retry without an attempt, and the delivery's
// log record, pending since attempt 1, ends dead-lettered with attempt 1
// kept as it was logged.
func TestDisabledMidRetryEndsTheLog(t *testing.T) {
	e := setup(t)
	e.http.answers = []sender.Result{{StatusCode: 500, Err: errors.New("HTTP 500"), Body: []byte(strings.Repeat("r", 2000))}}
	task := delivery.NewTask(event("evt_off"), e.ep.ID)
	if err := e.d.Process(context.Background(), body(t, task)); err != nil {
		t.Fatal(err)
	}
	second, _ := e.next(t)
	e.ep.Status, e.ep.Version = webhook.StatusInactive, 2
	if err := e.db.UpdateEndpoint(context.Background(), e.ep); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Process(context.Background(), body(t, second)); err != nil {
		t.Fatal(err)
	}
	d, err := e.db.GetDelivery(context.Background(), task.DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != webhook.DeliveryDeadLettered || len(d.Attempts) != 1 || len(d.Attempts[0].Response) != 2000 || d.Attempts[0].StatusCode != 500 {
		t.Errorf("log: %s with %d attempts (first: %d, %d-byte response); want dead_lettered with attempt 1 as logged", d.Status, len(d.Attempts), d.Attempts[0].StatusCode, len(d.Attempts[0].Response))
	}
	if dl, err := e.db.GetDeadLetter(context.Background(), task.Key()); err != nil || !strings.Contains(dl.Reason, "inactive") || len(dl.Attempts) != 1 {
		t.Errorf("dead letter: %+v, %v; want one naming the inactive endpoint, with attempt 1", dl, err)
	}
	if len(e.http.reqs) != 1 {
		t.Errorf("%d requests, want only attempt 1", len(e.http.reqs))
	}

	// A settled record is left alone: a duplicate of a delivered task,
	// handled after its endpoint was disabled, doesn't rewrite it.
	e.ep.Status, e.ep.Version = webhook.StatusActive, 3
	if err := e.db.UpdateEndpoint(context.Background(), e.ep); err != nil {
		t.Fatal(err)
	}
	ok := delivery.NewTask(event("evt_on"), e.ep.ID)
	if err := e.d.Process(context.Background(), body(t, ok)); err != nil {
		t.Fatal(err)
	}
	e.ep.Status, e.ep.Version = webhook.StatusInactive, 4
	if err := e.db.UpdateEndpoint(context.Background(), e.ep); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Process(context.Background(), body(t, ok)); err != nil {
		t.Fatal(err)
	}
	if d, err := e.db.GetDelivery(context.Background(), ok.DeliveryID); err != nil || d.Status != webhook.DeliveryDelivered {
		t.Errorf("a delivered record after a duplicate: %+v, %v; want still delivered", d, err)
	}
	// Nor is it dead-lettered: a redrive of that would deliver it twice.
	if dl, err := e.db.GetDeadLetter(context.Background(), ok.Key()); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("dead letter for a delivered task's duplicate: %+v, %v; want none", dl, err)
	}
}

// TestDuplicatesOfEndedTasksOnADisabledEndpoint: a duplicate message of a
// task, handled after its endpoint was disabled or deleted, leaves the DLQ
// as it was when the task had already ended (its dead letter, holding
// every attempt's outcome, is not replaced by one holding none), and is
// retried later, with no dead letter, while another holder has its key.
func TestDuplicatesOfEndedTasksOnADisabledEndpoint(t *testing.T) {
	ctx := context.Background()
	for _, off := range []struct {
		name    string
		disable func(t *testing.T, e *env)
	}{
		{"inactive", func(t *testing.T, e *env) {
			e.ep.Status, e.ep.Version = webhook.StatusInactive, e.ep.Version+1
			if err := e.db.UpdateEndpoint(ctx, e.ep); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted", func(t *testing.T, e *env) {
			if err := e.db.DeleteEndpoint(ctx, e.ep.ID); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(off.name+"/dead-lettered", func(t *testing.T) {
			e := setup(t)
			zero := 0
			e.ep.Retry.MaxRetries, e.ep.Version = &zero, 2
			if err := e.db.UpdateEndpoint(ctx, e.ep); err != nil {
				t.Fatal(err)
			}
			e.http.answers = []sender.Result{{StatusCode: 500, Err: errors.New("HTTP 500"), Body: []byte("boom")}}
			task := delivery.NewTask(event("evt_dup_dl"), e.ep.ID)
			if err := e.d.Process(ctx, body(t, task)); err != nil {
				t.Fatal(err)
			}
			off.disable(t, e)
			if err := e.d.Process(ctx, body(t, task)); err != nil {
				t.Fatalf("duplicate: Process = %v, want nil (dropped)", err)
			}
			dl, err := e.db.GetDeadLetter(ctx, task.Key())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := dl.Reason, "1 attempts failed; last: HTTP 500"; got != want || len(dl.Attempts) != 1 || string(dl.Attempts[0].Response) != "boom" {
				t.Errorf("dead letter: reason %q with %d attempts, want %q with the attempt made", got, len(dl.Attempts), want)
			}
		})
		t.Run(off.name+"/held", func(t *testing.T) {
			e := setup(t)
			task := delivery.NewTask(event("evt_dup_held"), e.ep.ID)
			if _, err := e.db.Acquire(ctx, task.Key(), 1, time.Minute); err != nil {
				t.Fatal(err)
			}
			off.disable(t, e)
			if err := e.d.Process(ctx, body(t, task)); err == nil || !errors.Is(err, webhook.ErrHeld) {
				t.Errorf("Process = %v, want an error wrapping ErrHeld (retried later)", err)
			}
			if dls, _, err := e.db.ListDeadLetters(ctx, webhook.Page{}); err != nil || len(dls) != 0 {
				t.Errorf("DLQ = %+v, %v; want empty", dls, err)
			}
		})
	}
}

// TestRedriveKeepsEarlierAttempts: a delivery dead-lettered after its
// attempts, then redriven from the DLQ, logs the new round's attempts
// (numbered from 1 again, as the X-PhoneShield-Attempt header says) in
// generation 1, beside the first round's, which it used to overwrite.
func TestRedriveKeepsEarlierAttempts(t *testing.T) {
	e := setup(t)
	zero := 0
	e.ep.Retry.MaxRetries, e.ep.Version = &zero, 2
	if err := e.db.UpdateEndpoint(context.Background(), e.ep); err != nil {
		t.Fatal(err)
	}
	e.http.answers = []sender.Result{{StatusCode: 500, Err: errors.New("HTTP 500"), Body: []byte("boom")}}
	task := delivery.NewTask(event("evt_redrive"), e.ep.ID)
	if err := e.d.Process(context.Background(), body(t, task)); err != nil {
		t.Fatal(err)
	}
	svc := &manage.Service{Endpoints: e.db, Log: e.db, DeadLetters: e.db, Plan: webhook.Enterprise, Queue: e.q, QueueName: e.d.QueueName}
	if res, err := svc.Redrive(context.Background(), manage.DLQSelector{All: true}, 0); err != nil || res.Done != 1 {
		t.Fatalf("redrive: %+v, %v", res, err)
	}
	redriven, _ := e.next(t)
	if err := e.d.Process(context.Background(), body(t, redriven)); err != nil {
		t.Fatal(err)
	}
	if got := e.http.reqs[1].Headers.Get("X-PhoneShield-Attempt"); got != "1" {
		t.Errorf("the redriven attempt's X-PhoneShield-Attempt = %q, want 1", got)
	}
	d, err := e.db.GetDelivery(context.Background(), task.DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range d.Attempts {
		got = append(got, fmt.Sprintf("gen %d attempt %d: %d", a.Generation, a.N, a.StatusCode))
	}
	if want := []string{"gen 0 attempt 1: 500", "gen 1 attempt 1: 200"}; !slices.Equal(got, want) || d.Status != webhook.DeliveryDelivered {
		t.Errorf("log: %s, %q; want delivered, %q", d.Status, got, want)
	}
}

// logLostSettler settles through the store, then reports that the log
// part failed, as the DynamoDB adapter does with keys apart from the log.
type logLostSettler struct{ *bolt.DB }

func (s logLostSettler) Settle(ctx context.Context, l webhook.Lease, done bool, d *webhook.Delivery, a webhook.Attempt) error {
	if err := s.DB.Settle(ctx, l, done, d, a); err != nil {
		return err
	}
	return fmt.Errorf("settle: %w: item too large", webhook.ErrLogNotWritten)
}

// TestLogOnlyFailureMovesOn: a settle that ended the lease but failed to
// write the log is reported, not retried: the message is done with.
func TestLogOnlyFailureMovesOn(t *testing.T) {
	e := setup(t)
	e.d.Keys = logLostSettler{e.db}
	task := delivery.NewTask(event("evt_lost_line"), e.ep.ID)
	if err := e.d.Process(context.Background(), body(t, task)); err != nil {
		t.Fatalf("Process = %v, want nil: the delivery is done, only its log line is lost", err)
	}
	if err := e.d.Process(context.Background(), body(t, task)); err != nil || len(e.http.reqs) != 1 {
		t.Errorf("the same message again: %v, %d requests; want a dropped duplicate", err, len(e.http.reqs))
	}
}

func TestHeldLeaseAndFailedEnqueueAreRetriedWithoutBurningAnAttempt(t *testing.T) {
	e := setup(t)
	task := delivery.NewTask(event("evt_h"), e.ep.ID)
	ctx := context.Background()
	// Another worker holds the lease (a crash mid-attempt).
	if _, err := e.db.Acquire(ctx, task.Key(), 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Process(ctx, body(t, task)); err == nil {
		t.Fatal("Process with the lease held = nil, want an error (retry later)")
	}
	if len(e.http.reqs) != 0 {
		t.Fatal("attempt made while another worker holds the lease")
	}

	// A failed attempt whose next task cannot be enqueued keeps its lease:
	// the message comes back and, once the lease expires, attempt 1 is made
	// again rather than lost.
	e2 := setup(t)
	e2.d.Lease = 100 * time.Millisecond
	e2.http.answers = []sender.Result{{StatusCode: 500, Err: errors.New("HTTP 500")}}
	e2.q.fail = errors.New("queue down")
	task2 := delivery.NewTask(event("evt_q"), e2.ep.ID)
	if err := e2.d.Process(ctx, body(t, task2)); err == nil {
		t.Fatal("Process with the queue down = nil, want an error")
	}
	e2.q.fail = nil
	time.Sleep(200 * time.Millisecond)
	if err := e2.d.Process(ctx, body(t, task2)); err != nil {
		t.Fatal(err)
	}
	if got := e2.http.reqs[1].Headers.Get("X-PhoneShield-Attempt"); got != "1" {
		t.Errorf("retried request is attempt %s, want 1", got)
	}
}

type fixedLimiter struct {
	wait  time.Duration
	calls []string
}

func (l *fixedLimiter) Wait(_ context.Context, endpointID string, perMinute int) (time.Duration, error) {
	l.calls = append(l.calls, fmt.Sprintf("%s/%d", endpointID, perMinute))
	return l.wait, nil
}

func TestRateLimitedTaskIsDeferredWithoutAnAttempt(t *testing.T) {
	e := setup(t)
	lim := &fixedLimiter{wait: 20 * time.Second}
	e.d.Limiter = lim
	task := delivery.NewTask(event("evt_rl"), e.ep.ID)
	task.Attempt = 3
	if err := e.d.Process(context.Background(), body(t, task)); err != nil {
		t.Fatal(err)
	}
	if len(e.http.reqs) != 0 {
		t.Fatal("a rate-limited task made an attempt")
	}
	next, delay := e.next(t)
	if next.Attempt != 3 || delay != 20*time.Second {
		t.Errorf("deferred task = attempt %d after %v, want attempt 3 after 20s", next.Attempt, delay)
	}
	// The endpoint's own limit applies when below the plan's.
	e.ep.RateLimitPerMinute, e.ep.Version = 40, 2
	if err := e.db.UpdateEndpoint(context.Background(), e.ep); err != nil {
		t.Fatal(err)
	}
	lim.wait = 0
	if err := e.d.Process(context.Background(), body(t, next)); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(lim.calls), "[whk_test/1000 whk_test/40]"; got != want {
		t.Errorf("limiter calls = %s, want %s", got, want)
	}
	if len(e.http.reqs) != 1 || e.http.reqs[0].Headers.Get("X-PhoneShield-Attempt") != "3" {
		t.Errorf("after the deferral: %d requests, want attempt 3 made", len(e.http.reqs))
	}
}

// TestRateLimitDeferralHopsAtMostTwice: with RetryScale set (local mode's
// demos and tests) and a limiter on real minutes, a rate-limited task
// comes back early from its scaled hop and waits out the rest of the
// window unscaled: it used to be deferred again each time it came back,
// by a scaled fraction of what was left, hundreds of times a window.
func TestRateLimitDeferralHopsAtMostTwice(t *testing.T) {
	e := setup(t)
	e.ep.RateLimitPerMinute, e.ep.Version = 1, 2
	if err := e.db.UpdateEndpoint(context.Background(), e.ep); err != nil {
		t.Fatal(err)
	}
	e.d.Limiter = &ratelimit.Local{Now: func() time.Time { return e.now }}
	e.d.RetryScale = 0.01
	ctx := context.Background()
	if err := e.d.Process(ctx, body(t, delivery.NewTask(event("evt_a"), e.ep.ID))); err != nil {
		t.Fatal(err)
	}
	task := delivery.NewTask(event("evt_b"), e.ep.ID)
	hops := 0
	for len(e.http.reqs) < 2 && hops < 1000 {
		if err := e.d.Process(ctx, body(t, task)); err != nil {
			t.Fatal(err)
		}
		if len(e.q.sent) == 0 {
			break
		}
		var delay time.Duration
		task, delay = e.next(t)
		e.now = e.now.Add(delay + time.Millisecond) // handed back after its delay, handled in 1 ms
		hops++
	}
	if len(e.http.reqs) != 2 || hops != 2 {
		t.Errorf("the second delivery was made after %d hops (%d requests), want after 2 (the scaled one, then the rest of the window)", hops, len(e.http.reqs))
	}
}

func TestFirstAttemptsMatchesNewTask(t *testing.T) {
	ev := event("evt_\"quoted\"\\id")
	bodies, err := delivery.FirstAttempts(ev, []string{"whk_a", "whk_b"})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"whk_a", "whk_b"} {
		got, err := delivery.DecodeTask(bodies[i])
		if err != nil {
			t.Fatalf("body %s: %v", bodies[i], err)
		}
		want := delivery.NewTask(ev, id)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("FirstAttempts task = %s\nwant %s", gb, wb)
		}
	}
}
