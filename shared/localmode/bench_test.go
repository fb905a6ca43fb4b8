package localmode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// countingReceiver answers 200 to every POST on any of its listeners (one
// per endpoint, as endpoints are distinct hosts) and counts them.
type countingReceiver struct {
	n    atomic.Int64
	urls []string
	done chan struct{}
	want int64
}

func newCountingReceiver(b *testing.B, listeners int) *countingReceiver {
	r := &countingReceiver{}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		if r.n.Add(1) == r.want {
			close(r.done)
		}
	})
	for range listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		r.urls = append(r.urls, "http://"+ln.Addr().String()+"/hook")
	}
	return r
}

func (r *countingReceiver) expect(n int64) {
	r.n.Store(0)
	r.want = n
	r.done = make(chan struct{})
}

// BenchmarkEndToEnd measures signed deliveries per second through local
// mode (PutEvents → durable event queue → filter handler → 10 endpoint
// queues → delivery handler → 10 loopback receivers, one per endpoint, with
// every write fsynced in group commits) against a baseline, in the same
// run, of a plain tuned net/http client POSTing bodies of the same size to
// the same receivers with 8 workers. It reports both rates and their ratio.
func BenchmarkEndToEnd(b *testing.B) {
	const endpoints = 10
	rcv := newCountingReceiver(b, endpoints)
	ev, _ := catalog.Sample("call.completed")
	n := max(b.N/endpoints, 1) * endpoints
	// A body like the ones the pipeline sends, for the baseline.
	body := bytes.Repeat([]byte("x"), 2048)

	// Baseline.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true}}
	rcv.expect(int64(n))
	start, cpu0 := time.Now(), webhooktest.CPUTime()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				i := next.Load()
				resp, err := client.Post(rcv.urls[i%endpoints], "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	baseline := float64(n) / time.Since(start).Seconds()
	baselineCPU := webhooktest.CPUTime() - cpu0

	// The pipeline.
	s, err := Start(Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Allow: egress.Loopback, AllowHTTP: true,
		Concurrency: 4, NoRateLimit: true, Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := &Client{Base: s.URL(), HTTP: client}
	ctx := context.Background()
	for i := range endpoints {
		if err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": rcv.urls[i], "event_types": []string{"*"}}, nil); err != nil {
			b.Fatal(err)
		}
	}
	events := n / endpoints
	entries := make([]catalog.Entry, 0, 10)
	rcv.expect(int64(n))
	st0 := s.db.Stats()
	b.ResetTimer()
	start, cpu0 = time.Now(), webhooktest.CPUTime()
	var pub sync.WaitGroup
	var sent atomic.Int64
	for range 4 {
		pub.Go(func() {
			batch := entries[:0:0]
			for {
				i := sent.Add(1) - 1
				if i >= int64(events) {
					break
				}
				e, err := ev.WithEventID(fmt.Sprintf("evt_bench_%d", i))
				if err != nil {
					b.Error(err)
					return
				}
				batch = append(batch, e)
				if len(batch) == 10 {
					if err := c.PutEvents(ctx, batch); err != nil {
						b.Error(err)
					}
					batch = batch[:0]
				}
			}
			if len(batch) > 0 {
				if err := c.PutEvents(ctx, batch); err != nil {
					b.Error(err)
				}
			}
		})
	}
	pub.Wait()
	select {
	case <-rcv.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d deliveries arrived", rcv.n.Load(), n)
	}
	pipeline := float64(n) / time.Since(start).Seconds()
	pipelineCPU := webhooktest.CPUTime() - cpu0
	b.StopTimer()
	st := s.db.Stats()
	b.ReportMetric(float64(st.LogGroups-st0.LogGroups)/float64(n), "log-groups/delivery")
	b.ReportMetric(float64(st.LogRecords-st0.LogRecords)/float64(st.LogGroups-st0.LogGroups), "records/log-group")
	b.ReportMetric(float64(st.Commits-st0.Commits)/float64(n), "commits/delivery")
	b.ReportMetric(baseline, "baseline-deliveries/s")
	b.ReportMetric(pipeline, "deliveries/s")
	b.ReportMetric(pipeline/baseline, "ratio")
	// CPU per delivery (the whole process: receiver included) is steadier
	// than rates on a shared machine.
	b.ReportMetric(float64(baselineCPU.Microseconds())/float64(n), "baseline-cpu-µs/delivery")
	b.ReportMetric(float64(pipelineCPU.Microseconds())/float64(n), "cpu-µs/delivery")
}
