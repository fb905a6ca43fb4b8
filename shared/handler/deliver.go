package handler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
)

// Processor processes one delivery message body (delivery.Deliverer).
// Process must not modify body: it shares the memory of the record's Body
// string (a copy per record was a measurable share of a delivery's
// allocations).
type Processor interface {
	Process(ctx context.Context, body []byte) error
}

// Deliver is the delivery Lambda's handler (SQS event source with
// ReportBatchItemFailures).
type Deliver struct {
	Deliverer Processor
	Logger    *slog.Logger
}

// Handle processes a batch. Its records run concurrently — a batch of slow
// receivers takes about as long as the slowest, not the sum — on
// goroutines kept between batches (see workers), and each
// record that must be handed out again is reported as a batch item
// failure; the others are deleted by the event source mapping. It never
// returns an error: that would make SQS redeliver the whole batch.
func (h *Deliver) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
	)
	wg.Add(len(ev.Records))
	for i := range ev.Records {
		rec := &ev.Records[i]
		fail := func() {
			mu.Lock()
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			mu.Unlock()
		}
		deliveryWorkers.run(func() {
			defer wg.Done()
			// A panic (a bug: no input is known to cause one) fails its
			// record alone: on this goroutine nothing else would recover
			// it, and it would end the process with every record of the
			// batch. The record is handed out again; on AWS the queue's
			// redrive policy (maxReceiveCount) moves it to the DLQ if it
			// keeps failing.
			defer func() {
				if p := recover(); p != nil {
					h.logger().Error("delivery message handling panicked; it will be retried", "message_id", rec.MessageId,
						"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					fail()
				}
			}()
			body := unsafe.Slice(unsafe.StringData(rec.Body), len(rec.Body)) // read-only, see Processor
			if err := h.Deliverer.Process(ctx, body); err != nil {
				h.logger().Warn("delivery message will be retried", "message_id", rec.MessageId, "error", err.Error())
				fail()
			}
		})
	}
	wg.Wait()
	return resp, nil
}

func (h *Deliver) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
