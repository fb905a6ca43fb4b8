package localmode

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/putevents"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// httpReceiver serves h over HTTP on a loopback port until the test or
// benchmark ends, and returns its URL.
func httpReceiver(tb testing.TB, h http.HandlerFunc) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/hook"
}

// TestHostileReceivers publishes one event to four endpoints, three of
// them hostile, through the whole pipeline: a huge 200 body is a success
// whose first 4 KiB are logged; a body dripping past the attempt timeout
// and a reply that is not HTTP are failed attempts, each logged with its
// reason, six times, then dead-lettered; and the well-behaved endpoint
// beside them gets its delivery.
func TestHostileReceivers(t *testing.T) {
	_, c := start(t, func(c *Config) { c.AttemptTimeout = 300 * time.Millisecond })
	ctx := context.Background()

	huge := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB, sent 160 times: 10 MiB
	hugeURL := httpReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		for range 160 {
			if _, err := w.Write(huge); err != nil {
				return
			}
		}
	})
	dripURL := httpReceiver(t, webhooktest.DripBody(100, 50*time.Millisecond)) // at most 5 s
	// Six attempts, with room to spare.
	garbageURL := webhooktest.RawServer(t, 12, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n\r\n"))
	})
	rcv := receiver(t)
	good := register(t, c, rcv, "call.*")

	ids := map[string]string{}
	for name, url := range map[string]string{"huge": hugeURL, "drip": dripURL, "garbage": garbageURL} {
		var ep endpoint
		if err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": url, "event_types": []string{"call.*"}}, &ep); err != nil {
			t.Fatal(err)
		}
		ids[name] = ep.ID
	}
	if err := c.PutEvents(ctx, []catalog.Entry{sample(t, "call.received", "evt_hostile")}); err != nil {
		t.Fatal(err)
	}

	// The attempt timeout is short, and applies to these two as well: on
	// a loaded machine one of their attempts may time out and be retried,
	// so what counts is the attempt that delivered.
	if d := waitSettled(t, c, good.ID, 1, 30*time.Second)[0]; d.Status != webhook.DeliveryDelivered || !d.Attempts[len(d.Attempts)-1].OK() {
		t.Errorf("well-behaved endpoint: %s, attempts %+v; want delivered", d.Status, d.Attempts)
	}
	if got, ok := rcv.Get("evt_hostile"); !ok || !got.PhoneShieldOK || !got.StandardOK {
		t.Errorf("well-behaved receiver saw %+v, want the event, verified", got)
	}

	d := waitSettled(t, c, ids["huge"], 1, 30*time.Second)[0]
	last := d.Attempts[len(d.Attempts)-1]
	if d.Status != webhook.DeliveryDelivered || !last.OK() {
		t.Fatalf("huge body: %s, attempts %+v; want delivered", d.Status, d.Attempts)
	}
	if got, want := last.Response, string(huge[:webhook.MaxResponseExcerpt]); got != want {
		t.Errorf("huge body: logged response of %d bytes, want its first %d", len(got), len(want))
	}

	for _, tc := range []struct{ name, want string }{
		{"drip", "timeout after 300ms while reading the response body"},
		{"garbage", "malformed HTTP response"},
	} {
		d := waitSettled(t, c, ids[tc.name], 1, 30*time.Second)[0]
		if d.Status != webhook.DeliveryDeadLettered || len(d.Attempts) != 6 {
			t.Errorf("%s: %s after %d attempts, want dead-lettered after 6", tc.name, d.Status, len(d.Attempts))
		}
		for _, a := range d.Attempts {
			if a.OK() || !strings.Contains(a.Error, tc.want) {
				t.Errorf("%s: attempt %d logged error %q, want a failure containing %q", tc.name, a.N, a.Error, tc.want)
			}
		}
	}

	// Each hostile endpoint's dead letter holds its six outcomes.
	var dlq struct {
		Data []*webhook.DeadLetter `json:"data"`
	}
	if err := c.Do(ctx, "GET", "/v1/dlq", nil, &dlq); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, dl := range dlq.Data {
		got[dl.EndpointID] = len(dl.Attempts)
	}
	for _, name := range []string{"drip", "garbage"} {
		if got[ids[name]] != 6 {
			t.Errorf("%s: dead letter with %d outcomes, want 6 (DLQ: %v)", name, got[ids[name]], got)
		}
	}
	if len(got) != 2 {
		t.Errorf("DLQ holds %d endpoints' records, want 2: %v", len(got), got)
	}
}

// TestLargestEventDelivered: an entry of PutEvents' largest accepted size
// is queued, fanned out and retried five times (each retry carrying the
// outcomes before it) to its sixth attempt, which delivers it whole; one
// byte more is refused, naming Detail.
func TestLargestEventDelivered(t *testing.T) {
	_, c := start(t, nil)
	ctx := context.Background()
	rcv := receiver(t)
	rcv.Fail = func(_ string, n int) int {
		if n < 6 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	ep := register(t, c, rcv, "call.*")
	entry := func(size int) catalog.Entry {
		e := padded(t, "evt_largest", "")
		e = padded(t, "evt_largest", strings.Repeat("x", size-len(e.Source)-len(e.DetailType)-len(e.Detail)))
		if got := len(e.Source) + len(e.DetailType) + len(e.Detail); got != size {
			t.Fatalf("entry of %d bytes, want %d", got, size)
		}
		return e
	}
	err := c.PutEvents(ctx, []catalog.Entry{entry(putevents.MaxEntrySize + 1)})
	if err == nil || !strings.Contains(err.Error(), "Entries[0].Detail") {
		t.Errorf("an entry one byte over the limit: %v, want refused naming Entries[0].Detail", err)
	}
	largest := entry(putevents.MaxEntrySize)
	if err := c.PutEvents(ctx, []catalog.Entry{largest}); err != nil {
		t.Fatal(err)
	}
	d := waitSettled(t, c, ep.ID, 1, 30*time.Second)[0]
	if d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 6 {
		t.Fatalf("%s after %d attempts, want delivered after 6: %+v", d.Status, len(d.Attempts), d.Attempts)
	}
	got, _ := rcv.Get("evt_largest")
	var body struct {
		Data struct {
			Pad string `json:"pad"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got.Body, &body); err != nil || len(body.Data.Pad) < putevents.MaxEntrySize-4096 {
		t.Errorf("the receiver got data.pad of %d bytes (%v), want the event whole", len(body.Data.Pad), err)
	}

	// The same for an event whose size comes from JSON escapes: '<' takes
	// 6 bytes encoded; padded to just under the encoded limit, it goes
	// through all six attempts too.
	e := padded(t, "evt_escaped", "")
	stored, _ := json.Marshal(events.EventBridgeEvent{Version: "0", ID: strings.Repeat("u", 36), DetailType: e.DetailType, Source: e.Source,
		AccountID: "000000000000", Time: time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC), Region: "local", Resources: []string{},
		Detail: json.RawMessage(e.Detail)})
	e = padded(t, "evt_escaped", strings.Repeat("<", (putevents.MaxEncodedSize-len(stored)-64)/6))
	if err := c.PutEvents(ctx, []catalog.Entry{e}); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 2, 30*time.Second)
	for _, d := range ds {
		if d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 6 {
			t.Errorf("%s: %s after %d attempts, want delivered after 6", d.EventID, d.Status, len(d.Attempts))
		}
	}
}

// padded is the call.received sample with event id id and pad as its
// data's "pad" field, its Detail encoded as a producer sends it: '<' and
// the like as themselves, not JSON escapes.
func padded(t *testing.T, id, pad string) catalog.Entry {
	t.Helper()
	e := sample(t, "call.received", id)
	var detail map[string]any
	if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil {
		t.Fatal(err)
	}
	detail["data"].(map[string]any)["pad"] = pad
	var sent strings.Builder
	enc := json.NewEncoder(&sent)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(detail); err != nil {
		t.Fatal(err)
	}
	e.Detail = strings.TrimSuffix(sent.String(), "\n")
	return e
}

// panicOnce panics on its first call, then does what next does: a bug
// that strikes once.
type panicOnce struct{ done atomic.Bool }

func (p *panicOnce) hit() {
	if p.done.CompareAndSwap(false, true) {
		var m map[string]int
		m["boom"]++ // assignment to entry in nil map
	}
}

type panickyDispatcher struct {
	panicOnce
	next handler.Dispatcher
}

func (d *panickyDispatcher) Dispatch(ctx context.Context, ev *webhook.Event) error {
	d.hit()
	return d.next.Dispatch(ctx, ev)
}

type panickyProcessor struct {
	panicOnce
	next handler.Processor
}

func (p *panickyProcessor) Process(ctx context.Context, body []byte) error {
	p.hit()
	return p.next.Process(ctx, body)
}

// TestPanicsFailOneMessage: a panic in the filter or in a delivery (a
// bug; injected here, once each) fails that one message: local mode keeps
// running, logs the panic, and hands the message out again, which then
// goes through, delivered once.
func TestPanicsFailOneMessage(t *testing.T) {
	var logs webhooktest.Logs
	s, c := start(t, func(cfg *Config) { cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	filterPanic := &panickyDispatcher{next: s.filter.Fanout}
	deliveryPanic := &panickyProcessor{next: s.deliver.Deliverer}
	s.filter.Fanout, s.deliver.Deliverer = filterPanic, deliveryPanic
	rcv := receiver(t)
	ep := register(t, c, rcv, "*")
	if err := c.PutEvents(context.Background(), []catalog.Entry{sample(t, "call.received", "evt_panics")}); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 1, 20*time.Second)
	if len(ds) != 1 || ds[0].Status != webhook.DeliveryDelivered || len(ds[0].Attempts) != 1 {
		t.Errorf("deliveries: %s; want one, delivered at the first attempt", summary(ds))
	}
	if !filterPanic.done.Load() || !deliveryPanic.done.Load() {
		t.Error("a panic was not injected")
	}
	if got, ok := rcv.Get("evt_panics"); !ok || got.Requests != 1 {
		t.Errorf("receiver saw %d requests, want 1", got.Requests)
	}
	for _, want := range []string{"filter panicked", "delivery message handling panicked", "assignment to entry in nil map"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
