package bolt

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
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
		c0, w0 := db.commitStats()
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
		if commits, writes := db.commitStats(); commits > c0 {
			b.ReportMetric(float64(writes-w0)/float64(commits-c0), "writes/commit")
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

// BenchmarkPipeline makes the store calls local mode makes per delivery,
// with bodies of the sizes it stores, and no HTTP: events published in
// batches of 10 on an event queue; two event pollers fan each event out
// to 10 endpoint queues (one SendEach) under an idempotency key, deleting
// each event when done; four pollers per endpoint queue take batches of
// 10 and, per task, acquire its key and settle it with its attempt, then
// delete the batch (one DeleteMessages). It reports deliveries/s and the
// store's pages written per delivery.
func BenchmarkPipeline(b *testing.B) {
	const (
		endpoints = 10
		vis       = time.Minute
	)
	ctx := context.Background()
	db := open(b, Options{})
	eventBody := bytes.Repeat([]byte("e"), 2400)
	taskBody := bytes.Repeat([]byte("t"), 2300)
	reqBody := strings.Repeat("r", 2200)
	n := max(b.N/endpoints, 1) * endpoints
	var queues []string
	var bodies [][]byte
	for e := range endpoints {
		queues, bodies = append(queues, fmt.Sprint("ep", e)), append(bodies, taskBody)
	}
	var delivered atomic.Int64
	done := make(chan struct{})
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil && pctx.Err() == nil {
			b.Error(err)
		}
	}
	handle := func(ms []webhook.InMessage, fn func(m webhook.InMessage)) {
		var hw sync.WaitGroup
		for _, m := range ms {
			hw.Go(func() { fn(m) })
		}
		hw.Wait()
	}
	for range 2 {
		wg.Go(func() {
			for pctx.Err() == nil {
				ms, err := db.ReceiveMessages(pctx, "_events", 10, vis, 100*time.Millisecond)
				fail(err)
				handle(ms, func(m webhook.InMessage) {
					l, err := db.Acquire(ctx, "event:"+m.ID, 1, vis)
					if err != nil {
						fail(err)
						return
					}
					fail(db.SendEach(ctx, queues, bodies))
					fail(db.Finish(ctx, l))
					fail(db.DeleteMessage(ctx, "_events", m.Receipt))
				})
			}
		})
	}
	for e := range endpoints {
		for range 4 {
			wg.Go(func() {
				queue := fmt.Sprint("ep", e)
				for pctx.Err() == nil {
					ms, err := db.ReceiveMessages(pctx, queue, 10, vis, 100*time.Millisecond)
					fail(err)
					handle(ms, func(m webhook.InMessage) {
						now := time.Now()
						d := webhooktest.NewDelivery(queue, m.ID, now)
						d.Request.Body = reqBody
						l, err := db.Acquire(ctx, d.ID, 1, vis)
						if err != nil {
							fail(err)
							return
						}
						fail(db.Settle(ctx, l, true, d, webhooktest.NewAttempt(1, now, 200)))
						if delivered.Add(1) == int64(n) {
							close(done)
						}
					})
					receipts := make([]string, len(ms))
					for i, m := range ms {
						receipts[i] = m.Receipt
					}
					fail(db.DeleteMessages(ctx, queue, receipts))
				}
			})
		}
	}
	c0, w0 := db.commitStats()
	p0 := pagesWritten(db)
	cpu0 := webhooktest.CPUTime()
	b.ResetTimer()
	var next atomic.Int64
	var pub sync.WaitGroup
	for range 4 {
		pub.Go(func() {
			for next.Add(10) <= int64(n/endpoints)+9 {
				msgs := make([]webhook.OutMessage, 10)
				for i := range msgs {
					msgs[i] = webhook.OutMessage{ID: fmt.Sprint(i), Body: eventBody}
				}
				fail(db.SendMessages(ctx, "_events", msgs))
			}
		})
	}
	pub.Wait()
	<-done
	b.StopTimer()
	stop()
	wg.Wait()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64((webhooktest.CPUTime()-cpu0).Microseconds())/float64(n), "cpu-µs/delivery")
	if commits, writes := db.commitStats(); commits > c0 {
		b.ReportMetric(float64(writes-w0)/float64(commits-c0), "writes/commit")
		b.ReportMetric(float64(commits-c0)/float64(n), "commits/delivery")
	}
	b.ReportMetric(float64(pagesWritten(db)-p0)/float64(n), "pages/delivery")
}

// pagesWritten is how many pages db's commits have written.
func pagesWritten(db *DB) int64 {
	st := db.bolt.Stats()
	return st.TxStats.GetWrite()
}

// commitStats returns how many transactions the group committer committed
// and how many writes they carried.
func (db *DB) commitStats() (commits, writes int64) {
	return db.commits.Load(), db.writes.Load()
}
