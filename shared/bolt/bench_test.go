package bolt

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// parallelism is goroutines per GOMAXPROCS in the parallel benchmarks:
// writers wait on fsync, not CPU, so there are many more than cores.
const parallelism = 32

// benchWrites runs op (which makes writesPerOp durable writes) from one
// goroutine, then from many, and reports writes/s, writes per commit and
// the parallel/serial throughput ratio.
func benchWrites(b *testing.B, writesPerOp int, op func(db *DB, worker string, i int) error) {
	var serial float64
	run := func(b *testing.B, parallel bool) float64 {
		db := open(b, Options{})
		c0, w0 := db.commits.Load(), db.writes.Load()
		b.ResetTimer()
		if parallel {
			b.SetParallelism(parallelism)
			var workers atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				w := fmt.Sprintf("w%d", workers.Add(1))
				for i := 0; pb.Next(); i++ {
					if err := op(db, w, i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for i := range b.N {
				if err := op(db, "w0", i); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		rate := float64(writesPerOp*b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "writes/s")
		if commits := db.commits.Load() - c0; commits > 0 {
			b.ReportMetric(float64(db.writes.Load()-w0)/float64(commits), "writes/commit")
		}
		return rate
	}
	b.Run("serial", func(b *testing.B) { serial = run(b, false) })
	b.Run("parallel", func(b *testing.B) {
		rate := run(b, true)
		if serial > 0 {
			b.ReportMetric(rate/serial, "x-serial")
		}
	})
}

// BenchmarkQueueSendDelete sends a message, receives it and deletes it:
// two durable writes an op. Each parallel worker has a queue of its own.
func BenchmarkQueueSendDelete(b *testing.B) {
	ctx := context.Background()
	body := []byte(`{"delivery_id":"dlv_x","endpoint_id":"whk_x","event":{"id":"evt_x","type":"call.completed"},"attempt":1}`)
	benchWrites(b, 2, func(db *DB, w string, _ int) error {
		if err := db.SendMessages(ctx, w, []webhook.OutMessage{{ID: "0", Body: body}}); err != nil {
			return err
		}
		ms, err := db.ReceiveMessages(ctx, w, 1, time.Minute, time.Second)
		if err != nil {
			return err
		}
		if len(ms) != 1 {
			return fmt.Errorf("received %d messages, want 1", len(ms))
		}
		return db.DeleteMessage(ctx, w, ms[0].Receipt)
	})
}

// BenchmarkAppendAttempt appends one attempt to a new delivery: one write.
func BenchmarkAppendAttempt(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	benchWrites(b, 1, func(db *DB, w string, i int) error {
		d := webhooktest.NewDelivery("whk_"+w, fmt.Sprint("evt_", i), now)
		return db.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, now, 503))
	})
}

// BenchmarkAcquireFinish takes a fresh key and finishes it: two writes.
func BenchmarkAcquireFinish(b *testing.B) {
	ctx := context.Background()
	benchWrites(b, 2, func(db *DB, w string, i int) error {
		l, err := db.Acquire(ctx, fmt.Sprintf("%s-%d", w, i), 1, time.Minute)
		if err != nil {
			return err
		}
		return db.Finish(ctx, l)
	})
}
