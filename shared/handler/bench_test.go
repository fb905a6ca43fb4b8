package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/bolt"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/fanout"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

type discardQueue struct{}

func (discardQueue) SendMessages(context.Context, string, []webhook.OutMessage) error { return nil }

type staticList []*webhook.Endpoint

func (l staticList) ListEndpoints(context.Context) ([]*webhook.Endpoint, error) { return l, nil }

// BenchmarkFilter50Endpoints measures the filter handler's CPU per event
// with 50 endpoints (all subscribed, so 50 tasks encoded per event),
// beside a baseline of decoding the same EventBridge event with
// encoding/json in the same run.
func BenchmarkFilter50Endpoints(b *testing.B) {
	sample, _ := catalog.Sample("call.completed")
	raw, _ := json.Marshal(map[string]any{"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": sample.DetailType,
		"source": "phoneshield", "account": "111122223333", "time": "2026-11-27T08:00:00Z", "region": "us-east-1",
		"resources": []string{}, "detail": json.RawMessage(sample.Detail)})
	var eps staticList
	for i := range 50 {
		types := []string{"*"}
		if i%2 == 1 {
			types = []string{"call.*", "voicemail.recorded"}
		}
		eps = append(eps, &webhook.Endpoint{ID: fmt.Sprintf("whk_%02d", i), Status: webhook.StatusActive, EventTypes: types})
	}
	h := &handler.Filter{Logger: quiet, DeadLetters: &recordingDLQ{}, Fanout: &fanout.Fanout{Endpoints: eps, Keys: webhooktest.GrantAll{},
		Queue: discardQueue{}, Plan: webhook.Enterprise, QueueName: func(id string) string { return id }, Logger: quiet}}
	ctx := context.Background()
	b.Run("baseline-decode", func(b *testing.B) {
		for b.Loop() {
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("filter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev events.EventBridgeEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				b.Fatal(err)
			}
			if err := h.Handle(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSlowBatch runs a batch of 10 deliveries to 10 receivers that
// take 20..200 ms each through the delivery handler (real Deliverer, bolt
// stores, real sender) and reports its wall time against the slowest
// receiver and against the sum of all ten.
func BenchmarkSlowBatch(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var slowest, sum time.Duration
	var eps []*webhook.Endpoint
	for i := range 10 {
		delay := time.Duration(20*(i+1)) * time.Millisecond
		sum += delay
		slowest = max(slowest, delay)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			time.Sleep(delay)
		}))
		defer srv.Close()
		secret, _ := signature.GenerateSecret()
		ep := &webhook.Endpoint{ID: fmt.Sprintf("whk_slow%d", i), URL: srv.URL, EventTypes: []string{"*"}, Status: webhook.StatusActive,
			Secret: webhook.Secret(secret), Version: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := db.CreateEndpoint(ctx, ep); err != nil {
			b.Fatal(err)
		}
		eps = append(eps, ep)
	}
	d := &delivery.Deliverer{Endpoints: db, Keys: db, Log: db, Queue: db, DeadLetters: db, Plan: webhook.Enterprise,
		HTTP: sender.New(sender.Options{Guard: egress.New(egress.Loopback...)}), QueueName: func(id string) string { return id }, Logger: quiet}
	h := &handler.Deliver{Deliverer: d, Logger: quiet}
	var total time.Duration
	n := 0
	for b.Loop() {
		ev := events.SQSEvent{}
		for i, ep := range eps {
			body, _ := delivery.NewTask(&webhook.Event{ID: fmt.Sprintf("evt_%d_%d", n, i), Type: "call.completed", Time: time.Now(),
				Environment: "production", Data: json.RawMessage(`{"call_id":"c1"}`)}, ep.ID).Encode()
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint(i), Body: string(body)})
		}
		start := time.Now()
		resp, _ := h.Handle(ctx, ev)
		total += time.Since(start)
		if len(resp.BatchItemFailures) > 0 {
			b.Fatalf("failures: %v", resp.BatchItemFailures)
		}
		n++
	}
	wall := total / time.Duration(n)
	b.ReportMetric(float64(wall.Milliseconds()), "ms-batch")
	b.ReportMetric(float64(wall)/float64(slowest), "x-slowest")
	b.ReportMetric(float64(wall)/float64(sum), "x-sum")
}

// deepStack uses about 32 KiB of stack, like a delivery's call chain
// (decode, render, sign, send, log) and more than a new goroutine starts
// with.
//
//go:noinline
func deepStack(depth int) byte {
	var frame [1024]byte
	frame[depth%len(frame)] = byte(depth)
	if depth == 0 {
		return frame[0]
	}
	return deepStack(depth-1) + frame[depth%len(frame)]
}

type stackProcessor struct{}

func (stackProcessor) Process(context.Context, []byte) error { deepStack(30); return nil }

// BenchmarkDeliverBatch runs batches of 10 records whose processing needs
// a deep stack, through Handle (workers kept between batches) and, as the
// baseline, through a new goroutine per record as Handle used to.
func BenchmarkDeliverBatch(b *testing.B) {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 10)}
	b.Run("workers", func(b *testing.B) {
		h := &handler.Deliver{Deliverer: stackProcessor{}}
		for b.Loop() {
			h.Handle(context.Background(), ev)
		}
	})
	b.Run("goroutine-per-record", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for range ev.Records {
				wg.Go(func() { stackProcessor{}.Process(context.Background(), nil) })
			}
			wg.Wait()
		}
	})
}
