package localmode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/envelope"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/webhook"
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
		r.received()
	})
	for range listeners {
		r.urls = append(r.urls, httpReceiver(b, h))
	}
	return r
}

// received counts one delivery.
func (r *countingReceiver) received() {
	if r.n.Add(1) == r.want {
		close(r.done)
	}
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
// run, of a plain tuned net/http client POSTing the body the pipeline
// sends to the same receivers with 8 workers. The pipeline runs as local
// mode ships (2 pollers per endpoint queue; 4, 8 and 16 measured the
// same). It reports both rates and their ratio. The events are built
// before the clock starts: making them is the producer's work, not the
// pipeline's.
func BenchmarkEndToEnd(b *testing.B) { endToEnd(b, false) }

// BenchmarkEndToEndWithoutHTTP is BenchmarkEndToEnd with the HTTP stage
// of every delivery replaced by one that counts the delivery as received
// and answers 200 at once: everything else (the events, the store, the
// render and signing, the handlers) runs as shipped. Its ratio, against
// the same plain net/http baseline measured in the same run, is the most
// any HTTP client could bring the pipeline to.
func BenchmarkEndToEndWithoutHTTP(b *testing.B) { endToEnd(b, true) }

// freeHTTP is an HTTP stage that costs nothing: each signed request it is
// handed counts as received by rcv, answered 200.
type freeHTTP struct {
	b   *testing.B
	rcv *countingReceiver
}

func (f freeHTTP) Send(_ context.Context, req sender.Request) sender.Result {
	if len(req.Body) == 0 || req.Headers.Get("Webhook-Signature") == "" || req.Headers.Get("X-PhoneShield-Signature") == "" {
		f.b.Errorf("request to %q: want a signed body, got %d bytes and headers %v", req.URL, len(req.Body), req.Headers)
	}
	f.rcv.received()
	return sender.Result{StatusCode: http.StatusOK, Latency: time.Microsecond}
}

func endToEnd(b *testing.B, withoutHTTP bool) {
	const endpoints = 10
	rcv := newCountingReceiver(b, endpoints)
	ev, _ := catalog.Sample("call.completed")
	n := max(b.N/endpoints, 1) * endpoints
	// The body the pipeline sends for ev, for the baseline.
	e, err := catalog.Parse(ev.DetailType, []byte(ev.Detail), "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	body, err := envelope.Render(e, "whk_0123456789abcdef", webhook.Enterprise)
	if err != nil {
		b.Fatal(err)
	}

	// Baseline, after a warm-up of a tenth as many requests (connections
	// made, buffers grown), as the pipeline gets below.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true}}
	post := func(count int) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 8 {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(count); i = next.Add(1) {
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
	}
	post(n / 10)
	rcv.expect(int64(n))
	start, cpu0 := time.Now(), webhooktest.CPUTime()
	post(n)
	baseline := float64(n) / time.Since(start).Seconds()
	baselineCPU := webhooktest.CPUTime() - cpu0

	// The pipeline.
	cfg := Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Allow: egress.Loopback, AllowHTTP: true,
		NoRateLimit: true, Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))}
	if withoutHTTP {
		cfg.send = freeHTTP{b, rcv}
	}
	s, err := Start(cfg)
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
	// PutEvents batches of 10 events, and about a tenth more (whole
	// batches) for the warm-up.
	var batches [][]catalog.Entry
	warm := n / endpoints / 100 * 10
	for i := range warm + n/endpoints {
		if i%10 == 0 {
			batches = append(batches, make([]catalog.Entry, 0, 10))
		}
		e, err := ev.WithEventID(fmt.Sprintf("evt_bench_%d", i))
		if err != nil {
			b.Fatal(err)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], e)
	}
	publish := func(batches [][]catalog.Entry, deliveries int) {
		rcv.expect(int64(deliveries))
		var pub sync.WaitGroup
		var sent atomic.Int64
		for range 4 {
			pub.Go(func() {
				for i := sent.Add(1) - 1; i < int64(len(batches)); i = sent.Add(1) - 1 {
					if err := c.PutEvents(ctx, batches[i]); err != nil {
						b.Error(err)
					}
				}
			})
		}
		pub.Wait()
		select {
		case <-rcv.done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("only %d of %d deliveries arrived", rcv.n.Load(), deliveries)
		}
	}
	if warm > 0 {
		publish(batches[:warm/10], warm*endpoints)
	}
	st0 := s.db.Stats()
	b.ResetTimer()
	start, cpu0 = time.Now(), webhooktest.CPUTime()
	publish(batches[warm/10:], n)
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
