package dynamo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// The cost target: a successful delivery costs at most two writes
// and one read.
func TestCallsPerDelivery(t *testing.T) {
	c := fresh(t, testTables)
	api := count(c)
	s := New(api, testTables, Options{})
	ctx := t.Context()

	t.Run("AcquireSettle", func(t *testing.T) {
		d := webhooktest.NewDelivery("whk_cost", webhooktest.UniqueID("evt_"), webhooktest.Now())
		api.reset()
		l, err := s.Acquire(ctx, d.ID, 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		d.Status = webhook.DeliveryDelivered
		if err := s.Settle(ctx, l, true, d, webhooktest.NewAttempt(1, d.CreatedAt, 200)); err != nil {
			t.Fatal(err)
		}
		if calls := api.reset(); !maps.Equal(calls, map[string]int{"UpdateItem": 2}) {
			t.Errorf("Acquire + Settle made %v, want 2 UpdateItems and no read", calls)
		}

		// A duplicate is refused by one write, the item it returns
		// telling why: no read either.
		if _, err := s.Acquire(ctx, d.ID, 1, time.Minute); !errors.Is(err, webhook.ErrDone) {
			t.Fatalf("duplicate Acquire = %v, want ErrDone", err)
		}
		if calls := api.reset(); !maps.Equal(calls, map[string]int{"UpdateItem": 1}) {
			t.Errorf("a refused Acquire made %v, want 1 UpdateItem", calls)
		}

		// A retry: acquire attempt 2 of a released delivery, settle.
		d2 := webhooktest.NewDelivery("whk_cost", webhooktest.UniqueID("evt_"), webhooktest.Now())
		l, _ = s.Acquire(ctx, d2.ID, 1, time.Minute)
		if err := s.Settle(ctx, l, false, d2, webhooktest.NewAttempt(1, d2.CreatedAt, 503)); err != nil {
			t.Fatal(err)
		}
		api.reset()
		l, err = s.Acquire(ctx, d2.ID, 2, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(ctx, l, true, d2, webhooktest.NewAttempt(2, d2.CreatedAt, 200)); err != nil {
			t.Fatal(err)
		}
		if calls := api.reset(); !maps.Equal(calls, map[string]int{"UpdateItem": 2}) {
			t.Errorf("a retry's Acquire + Settle made %v, want 2 UpdateItems", calls)
		}
	})

	// The whole delivery handler with the Store as every port it has:
	// one read (the endpoint), two writes (acquire, settle), and a rate-
	// limit reservation every few deliveries.
	t.Run("Deliverer", func(t *testing.T) {
		ep := webhooktest.NewEndpoint(webhooktest.UniqueID("whk_"))
		ep.RateLimitPerMinute = 100 // chunks of 10
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		dl := &delivery.Deliverer{
			Endpoints: s, Keys: s, Log: s, Limiter: s,
			Queue: nopQueue{}, DeadLetters: nopDLQ{}, HTTP: okHTTP{},
			Plan: webhook.Enterprise, QueueName: func(id string) string { return "q_" + id },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		const n = 10
		var ids []string
		api.reset()
		for range n {
			ev := webhooktest.NewEvent(webhooktest.UniqueID("evt_"), "call.completed")
			task := delivery.NewTask(&ev, ep.ID)
			body, _ := task.Encode()
			if err := dl.Process(ctx, body); err != nil {
				t.Fatalf("Process: %v", err)
			}
			ids = append(ids, task.DeliveryID)
		}
		calls := api.reset()
		t.Logf("%d successful deliveries: %v", n, calls)
		want := map[string]int{"GetItem": n, "UpdateItem": 2*n + n/10}
		if !maps.Equal(calls, want) {
			t.Errorf("%d deliveries made %v, want %v: per delivery 1 read (endpoint), 2 writes (acquire, settle), 1/10 limiter write", n, calls, want)
		}
		for _, id := range ids {
			if d := mustGet(t, s, id); d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 1 || d.Request.Body == "" {
				t.Errorf("delivery %s logged as %s with %d attempts", id, d.Status, len(d.Attempts))
			}
		}
	})
}

type okHTTP struct{}

func (okHTTP) Send(context.Context, sender.Request) sender.Result {
	return sender.Result{StatusCode: 200, Latency: time.Millisecond, Body: []byte("ok")}
}

type nopQueue struct{}

func (nopQueue) SendMessages(context.Context, string, []webhook.OutMessage) error { return nil }

type nopDLQ struct{}

func (nopDLQ) PutDeadLetter(context.Context, *webhook.DeadLetter) error { return nil }
