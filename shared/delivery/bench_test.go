package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// The benchmarks below measure the Deliverer's own CPU per delivery, with
// every port answering from memory at once (no store, no network).

type benchEndpoints map[string]*webhook.Endpoint

func (m benchEndpoints) GetEndpoint(_ context.Context, id string) (*webhook.Endpoint, error) {
	if ep, ok := m[id]; ok {
		return ep, nil
	}
	return nil, webhook.ErrNotFound
}

type benchStore struct{}

func (benchStore) AppendAttempt(context.Context, *webhook.Delivery, webhook.Attempt) error {
	return nil
}
func (benchStore) SendMessages(context.Context, string, []webhook.OutMessage) error { return nil }
func (benchStore) PutDeadLetter(context.Context, *webhook.DeadLetter) error         { return nil }

type benchHTTP struct{}

func (benchHTTP) Send(_ context.Context, req sender.Request) sender.Result {
	return sender.Result{StatusCode: 200, Latency: time.Millisecond}
}

// benchTasks returns first-attempt task bodies of the catalog's
// call.completed sample for n endpoints, and a Deliverer for them.
func benchTasks(b *testing.B, n int) ([][]byte, *delivery.Deliverer) {
	b.Helper()
	sample, err := catalog.Sample("call.completed")
	if err != nil {
		b.Fatal(err)
	}
	ev, err := catalog.Parse(sample.DetailType, []byte(sample.Detail), "evt_bench", time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	eps := benchEndpoints{}
	var ids []string
	for i := range n {
		secret, _ := signature.GenerateSecret()
		ep := &webhook.Endpoint{ID: fmt.Sprintf("whk_bench%02d", i), URL: "https://hooks.example.com/x", EventTypes: []string{"*"},
			Status: webhook.StatusActive, Secret: webhook.Secret(secret), Version: 1,
			Headers: map[string]string{"X-Tenant": "acme", "Authorization": "Bearer sk_live_123"}}
		eps[ep.ID] = ep
		ids = append(ids, ep.ID)
	}
	bodies, err := delivery.FirstAttempts(ev, ids)
	if err != nil {
		b.Fatal(err)
	}
	d := &delivery.Deliverer{Endpoints: eps, Keys: webhooktest.GrantAll{}, Log: benchStore{}, Queue: benchStore{}, DeadLetters: benchStore{},
		HTTP: benchHTTP{}, Plan: webhook.Enterprise, QueueName: func(id string) string { return id },
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))}
	return bodies, d
}

// BenchmarkDecodeTask decodes a first-attempt task of the call.completed
// sample (about 2.7 KB).
func BenchmarkDecodeTask(b *testing.B) {
	bodies, _ := benchTasks(b, 1)
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := delivery.DecodeTask(bodies[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcess runs whole successful deliveries (decode, endpoint,
// render, sign, log record) to 10 endpoints in turn.
func BenchmarkProcess(b *testing.B) {
	bodies, d := benchTasks(b, 10)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A fresh copy, as the handler passes Process.
		body := append([]byte(nil), bodies[i%len(bodies)]...)
		if err := d.Process(ctx, body); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
