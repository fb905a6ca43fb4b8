package localmode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// start runs local mode on a free loopback port with retries scaled so a
// full 6-attempt failure takes a few seconds.
func start(t *testing.T, mod func(*Config)) (*Server, *Client) {
	t.Helper()
	cfg := Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Plan: webhook.Enterprise,
		Allow: egress.Loopback, AllowHTTP: true, RetryScale: 0.0005,
		AttemptTimeout: 2 * time.Second,
		Logger:         slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &Client{Base: s.URL()}
}

type endpoint struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

func register(t *testing.T, c *Client, rcv *Receiver, types ...string) endpoint {
	t.Helper()
	if len(types) == 0 {
		types = []string{"*"}
	}
	var ep endpoint
	if err := c.Do(context.Background(), "POST", "/v1/webhooks", map[string]any{"url": rcv.URL(), "event_types": types}, &ep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("create returned secret %q, want whsec_...", ep.Secret)
	}
	rcv.SetSecret(ep.Secret)
	return ep
}

func receiver(t *testing.T) *Receiver {
	t.Helper()
	r, err := StartReceiver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// sample returns the sample of type typ with its event id replaced.
func sample(t *testing.T, typ, eventID string) catalog.Entry {
	t.Helper()
	e, err := catalog.Sample(typ)
	if err == nil {
		e, err = e.WithEventID(eventID)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// waitSettled polls the delivery log until n deliveries are settled
// (delivered or dead-lettered), for at most limit.
func waitSettled(t *testing.T, c *Client, epID string, n int, limit time.Duration) []*webhook.Delivery {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ds, err := c.Deliveries(context.Background(), epID)
		if err != nil {
			t.Fatal(err)
		}
		if settled(ds) >= n {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d deliveries settled: %s", limit, settled(ds), n, summary(ds))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func summary(ds []*webhook.Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s %s attempts=%d; ", d.EventType, d.Status, len(d.Attempts))
	}
	return b.String()
}

func TestDemoDeliversEverySampleWithBothSignatures(t *testing.T) {
	s, _ := start(t, func(c *Config) { c.RetryScale = 0.01 })
	var out strings.Builder
	cleanup, err := Demo(context.Background(), s.URL(), &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	defer cleanup()
	got := out.String()
	for _, typ := range catalog.Types() {
		if !strings.Contains(got, typ.Name) {
			t.Errorf("demo table lacks %s:\n%s", typ.Name, got)
		}
	}
	if want := fmt.Sprintf("%d of %d events delivered and verified", len(catalog.Types()), len(catalog.Types())); !strings.Contains(got, want) {
		t.Errorf("demo output lacks %q:\n%s", want, got)
	}
	if strings.Contains(got, "\tno\n") || strings.Contains(got, " no\n") {
		t.Errorf("a signature failed verification:\n%s", got)
	}
}

// TestDemoOnTheStandardPlan: on a plan that delivers only some types, the
// demo expects those and names the others; it used to wait out its 60 s
// for all 19 and fail.
func TestDemoOnTheStandardPlan(t *testing.T) {
	s, _ := start(t, func(c *Config) { c.RetryScale = 0.01; c.Plan = webhook.Standard })
	var out strings.Builder
	begun := time.Now()
	cleanup, err := Demo(context.Background(), s.URL(), &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	defer cleanup()
	got := out.String()
	n := len(webhook.Standard.EventTypes)
	if want := fmt.Sprintf("%d of %d events delivered and verified", n, n); !strings.Contains(got, want) {
		t.Errorf("demo output lacks %q:\n%s", want, got)
	}
	if want := fmt.Sprintf("%d of them are not in this deployment's plan", len(catalog.Types())-n); !strings.Contains(got, want) {
		t.Errorf("demo output lacks %q:\n%s", want, got)
	}
	if took := time.Since(begun); took > 30*time.Second {
		t.Errorf("the demo took %v", took)
	}
}

func TestFailTwiceThenSucceedLogsThreeAttempts(t *testing.T) {
	_, c := start(t, nil)
	rcv := receiver(t)
	rcv.Fail = func(_ string, n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return 0
	}
	ep := register(t, c, rcv)
	if err := c.PutEvents(context.Background(), []catalog.Entry{sample(t, "call.completed", "evt_three")}); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 1, 20*time.Second)
	d := ds[0]
	if got, want := d.Status, webhook.DeliveryDelivered; got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
	var codes []int
	for _, a := range d.Attempts {
		codes = append(codes, a.StatusCode)
	}
	if got, want := fmt.Sprint(codes), "[500 500 200]"; got != want {
		t.Errorf("attempt status codes = %s, want %s", got, want)
	}
	for i, a := range d.Attempts {
		if a.N != i+1 {
			t.Errorf("attempt %d numbered %d", i+1, a.N)
		}
	}
	if got, _ := rcv.Get("evt_three"); got.Requests != 3 {
		t.Errorf("receiver saw %d requests, want 3", got.Requests)
	}
	if got := d.Request.Headers["X-Phoneshield-Signature"] + d.Request.Headers["Webhook-Signature"]; got != "" {
		t.Errorf("delivery log keeps signatures: %q", got)
	}
	if !strings.Contains(d.Request.Body, `"event_id":"evt_three"`) {
		t.Errorf("logged body lacks the event id: %.200s", d.Request.Body)
	}
}

func TestAlwaysFailingGoesToDLQAfterSixAttempts(t *testing.T) {
	_, c := start(t, nil)
	rcv := receiver(t)
	rcv.Fail = func(string, int) int { return http.StatusBadGateway }
	ep := register(t, c, rcv, "call.*")
	if err := c.PutEvents(context.Background(), []catalog.Entry{sample(t, "call.received", "evt_doomed")}); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 1, 30*time.Second)
	if got, want := ds[0].Status, webhook.DeliveryDeadLettered; got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
	if got, want := len(ds[0].Attempts), 6; got != want {
		t.Fatalf("attempts logged = %d, want %d", got, want)
	}
	var dlq struct {
		Data []*webhook.DeadLetter `json:"data"`
	}
	if err := c.Do(context.Background(), "GET", "/v1/dlq", nil, &dlq); err != nil {
		t.Fatal(err)
	}
	if len(dlq.Data) != 1 {
		t.Fatalf("DLQ holds %d records, want 1", len(dlq.Data))
	}
	dl := dlq.Data[0]
	if dl.EndpointID != ep.ID || dl.Event == nil || dl.Event.ID != "evt_doomed" {
		t.Errorf("dead letter = %+v, want endpoint %s and event evt_doomed", dl, ep.ID)
	}
	if got, want := len(dl.Attempts), 6; got != want {
		t.Fatalf("dead letter holds %d outcomes, want %d", got, want)
	}
	for i, a := range dl.Attempts {
		if a.N != i+1 || a.StatusCode != http.StatusBadGateway || a.Error == "" {
			t.Errorf("outcome %d = %+v, want attempt %d, 502, an error", i, a, i+1)
		}
	}
	if got, _ := rcv.Get("evt_doomed"); got.Requests != 6 {
		t.Errorf("receiver saw %d requests, want 6", got.Requests)
	}
}

func TestHangingReceiverTimesOutAsFailedAttempt(t *testing.T) {
	_, c := start(t, func(c *Config) { c.AttemptTimeout = 300 * time.Millisecond })
	rcv := receiver(t)
	var calls atomic.Int32
	rcv.Fail = func(string, int) int {
		if calls.Add(1) == 1 {
			time.Sleep(2 * time.Second) // hang past the attempt timeout
		}
		return 0
	}
	ep := register(t, c, rcv)
	if err := c.PutEvents(context.Background(), []catalog.Entry{sample(t, "system.status", "evt_hang")}); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 1, 20*time.Second)
	d := ds[0]
	if d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 2 {
		t.Fatalf("got %s after %d attempts, want delivered after 2", d.Status, len(d.Attempts))
	}
	first := d.Attempts[0]
	if !strings.Contains(first.Error, "timeout") {
		t.Errorf("first attempt error = %q, want a timeout", first.Error)
	}
	if first.Latency < 300*time.Millisecond || first.Latency > 1500*time.Millisecond {
		t.Errorf("first attempt latency = %v, want about the 300ms timeout", first.Latency)
	}
}

func TestDuplicateEventsDeliveredOnce(t *testing.T) {
	_, c := start(t, nil)
	rcv := receiver(t)
	ep := register(t, c, rcv)
	e := sample(t, "voicemail.recorded", "evt_dup")
	ctx := context.Background()
	// The same event three times: in one request and in two more.
	if err := c.PutEvents(ctx, []catalog.Entry{e, e}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutEvents(ctx, []catalog.Entry{e}); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, c, ep.ID, 1, 10*time.Second)
	// A late duplicate after delivery.
	if err := c.PutEvents(ctx, []catalog.Entry{e}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	ds := waitSettled(t, c, ep.ID, 1, 10*time.Second)
	if len(ds) != 1 || len(ds[0].Attempts) != 1 {
		t.Fatalf("deliveries = %s, want one with one attempt", summary(ds))
	}
	if got, _ := rcv.Get("evt_dup"); got.Requests != 1 {
		t.Errorf("receiver saw %d requests, want 1", got.Requests)
	}
}

func TestSSRFTargetsRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("at save time", func(t *testing.T) {
		_, c := start(t, nil)
		for _, u := range []string{
			"http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
			"http://[::ffff:192.168.1.1]/", "http://0.0.0.0:8080/", "ftp://example.com/",
		} {
			err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": u, "event_types": []string{"*"}}, nil)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Field != "url" {
				t.Errorf("create with %s: err = %v, want 400 naming url", u, err)
			}
		}
	})
	t.Run("at dial time", func(t *testing.T) {
		// The endpoint is saved while loopback is allowed; local mode is
		// then restarted on the same data with no allow-list. The stored
		// URL passes no check at save time any more, but the guard refuses
		// the address when it is dialed, before connecting.
		data := t.TempDir()
		s, c := start(t, func(c *Config) { c.DataDir = data })
		rcv := receiver(t)
		ep := register(t, c, rcv, "system.*")
		s.Close()
		_, c = start(t, func(c *Config) { c.DataDir = data; c.Allow = nil })
		if err := c.PutEvents(ctx, []catalog.Entry{sample(t, "system.error", "evt_ssrf")}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			ds, err := c.Deliveries(ctx, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 1 && len(ds[0].Attempts) >= 1 {
				if a := ds[0].Attempts[0]; !strings.Contains(a.Error, "SSRF") || a.StatusCode != 0 {
					t.Errorf("attempt = %+v, want refused by the SSRF guard", a)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no attempt logged")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got, ok := rcv.Get("evt_ssrf"); ok {
			t.Errorf("receiver was reached: %+v", got)
		}
	})
}

func TestBadInputNamesTheField(t *testing.T) {
	s, c := start(t, nil)
	ctx := context.Background()
	post := func(body string, target string) (int, string) {
		req, _ := http.NewRequest("POST", s.URL()+"/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	rcv := receiver(t)
	ep := register(t, c, rcv)
	good := sample(t, "call.received", "evt_good")
	goodJSON, _ := json.Marshal(good)
	for _, tc := range []struct {
		name, body, target string
		wantStatus         int
		want               string
	}{
		{"malformed body", `{"Entries":[`, "AWSEvents.PutEvents", 400, "SerializationException"},
		{"no entries", `{"Entries":[]}`, "AWSEvents.PutEvents", 400, "Entries: must hold 1 to 10"},
		{"other operation", `{}`, "AWSEvents.ListRules", 400, "UnknownOperationException"},
		{"unknown type", `{"Entries":[{"Source":"phoneshield","DetailType":"call.exploded","Detail":"{\"data\":{}}"}]}`, "AWSEvents.PutEvents", 200, "Entries[0].DetailType"},
		{"bad source", `{"Entries":[{"Source":"acme","DetailType":"call.received","Detail":"{}"}]}`, "AWSEvents.PutEvents", 200, "Entries[0].Source"},
		{"detail not JSON", `{"Entries":[{"Source":"phoneshield","DetailType":"call.received","Detail":"{nope"}]}`, "AWSEvents.PutEvents", 200, "Entries[0].Detail"},
		{"missing required field", `{"Entries":[{"Source":"phoneshield","DetailType":"call.received","Detail":"{\"data\":{\"phone_number\":\"+15551234567\"}}"}]}`, "AWSEvents.PutEvents", 200, "detail.data.call_id"},
		{"one bad one good", `{"Entries":[{"Source":"phoneshield","DetailType":"nope","Detail":"{}"},` + string(goodJSON) + `]}`, "AWSEvents.PutEvents", 200, `"FailedEntryCount":1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.body, tc.target)
			if status != tc.wantStatus || !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s, want %d containing %q", status, body, tc.wantStatus, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name      string
		body      any
		wantField string
	}{
		{"no url", map[string]any{"event_types": []string{"*"}}, "url"},
		{"unknown field", map[string]any{"url": "https://example.com/h", "event_types": []string{"*"}, "colour": "red"}, "colour"},
		{"bad type", map[string]any{"url": "https://example.com/h", "event_types": []string{"call.exploded"}}, "event_types[0]"},
		{"reserved header", map[string]any{"url": "https://example.com/h", "event_types": []string{"*"}, "headers": map[string]string{"X-PhoneShield-Signature": "x"}}, "headers.X-PhoneShield-Signature"},
		{"header CRLF", map[string]any{"url": "https://example.com/h", "event_types": []string{"*"}, "headers": map[string]string{"X-Tenant": "a\r\nb"}}, "headers.X-Tenant"},
		{"too many retries", map[string]any{"url": "https://example.com/h", "event_types": []string{"*"}, "retry": map[string]any{"max_retries": 9}}, "retry.max_retries"},
		{"wrong JSON type", map[string]any{"url": 7, "event_types": []string{"*"}}, "url"},
	} {
		t.Run("api "+tc.name, func(t *testing.T) {
			err := c.Do(ctx, "POST", "/v1/webhooks", tc.body, nil)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Field != tc.wantField {
				t.Errorf("err = %v, want 400 naming %s", err, tc.wantField)
			}
		})
	}
	// The good entry of the mixed request was accepted and delivered.
	if ds := waitSettled(t, c, ep.ID, 1, 10*time.Second); ds[0].EventID != "evt_good" || ds[0].Status != webhook.DeliveryDelivered {
		t.Errorf("deliveries = %s, want evt_good delivered", summary(ds))
	}
	if err := c.Do(ctx, "GET", "/v1/webhooks/whk_nope", nil, nil); !isStatus(err, 404) {
		t.Errorf("get unknown id: %v, want 404", err)
	}
}

func isStatus(err error, status int) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == status
}

func TestManagementAPI(t *testing.T) {
	_, c := start(t, nil)
	ctx := context.Background()
	var created struct {
		endpoint
		URL        string   `json:"url"`
		Status     string   `json:"status"`
		EventTypes []string `json:"event_types"`
		Version    int      `json:"version"`
	}
	in := map[string]any{"url": "https://hooks.example.com/ps", "description": "CRM", "event_types": []string{"call.completed"},
		"headers": map[string]string{"X-Tenant": "acme"}, "retry": map[string]any{"max_retries": 2, "delays_seconds": []int{5, 60}}}
	if err := c.Do(ctx, "POST", "/v1/webhooks", in, &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.ID, "whk_") || created.Status != "active" || created.Version != 1 {
		t.Fatalf("created = %+v", created)
	}
	var raw map[string]any
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+created.ID, nil, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["secret"]; ok {
		t.Errorf("GET shows the secret: %v", raw)
	}
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if err := c.Do(ctx, "GET", "/v1/webhooks", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Data) != 1 || list.Data[0]["secret"] != nil {
		t.Errorf("list = %v, want one endpoint without its secret", list.Data)
	}
	var patched map[string]any
	if err := c.Do(ctx, "PATCH", "/v1/webhooks/"+created.ID, map[string]any{"status": "inactive", "event_types": []string{"call.*", "voicemail.recorded"}}, &patched); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%v %v %v %v", patched["status"], patched["event_types"], patched["description"], patched["version"]), "inactive [call.* voicemail.recorded] CRM 2"; got != want {
		t.Errorf("after PATCH: %s, want %s", got, want)
	}
	if _, ok := patched["secret"]; ok {
		t.Errorf("PATCH shows the secret: %v", patched)
	}
	if err := c.Do(ctx, "PATCH", "/v1/webhooks/"+created.ID, map[string]any{"status": "paused"}, nil); !isStatus(err, 400) {
		t.Errorf("PATCH bad status: %v, want 400", err)
	}
	var dl struct {
		Data []any  `json:"data"`
		Next string `json:"next_cursor"`
	}
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+created.ID+"/deliveries", nil, &dl); err != nil || len(dl.Data) != 0 {
		t.Errorf("deliveries = %v, %v; want none", dl, err)
	}
	if err := c.Do(ctx, "DELETE", "/v1/webhooks/"+created.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "DELETE", "/v1/webhooks/"+created.ID, nil, nil); !isStatus(err, 404) {
		t.Errorf("second DELETE: %v, want 404", err)
	}
}

func TestPlanLimits(t *testing.T) {
	_, c := start(t, func(c *Config) { c.Plan = webhook.Standard })
	ctx := context.Background()
	if err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": "https://a.example.com/", "event_types": []string{"call.greeting"}}, nil); !isStatus(err, 403) {
		t.Errorf("standard plan, call.greeting: %v, want 403", err)
	}
	for i := range 3 {
		if err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": fmt.Sprintf("https://%d.example.com/", i), "event_types": []string{"*"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": "https://4.example.com/", "event_types": []string{"*"}}, nil); !isStatus(err, 403) {
		t.Errorf("4th endpoint on standard: %v, want 403", err)
	}
}

func TestStandardPlanGetsCoreFieldsOnly(t *testing.T) {
	_, c := start(t, func(c *Config) { c.Plan = webhook.Standard })
	rcv := receiver(t)
	ep := register(t, c, rcv)
	ctx := context.Background()
	if err := c.PutEvents(ctx, []catalog.Entry{sample(t, "call.completed", "evt_core"), sample(t, "transcription.completed", "evt_nope")}); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 1, 10*time.Second)
	got, _ := rcv.Get("evt_core")
	var env struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got.Body, &env); err != nil {
		t.Fatal(err)
	}
	for k := range env.Data {
		if !webhook.IsCoreField(k) {
			t.Errorf("standard plan payload holds %q", k)
		}
	}
	for _, k := range []string{"call_id", "caller_number", "duration_seconds"} {
		if _, ok := env.Data[k]; !ok {
			t.Errorf("standard plan payload lacks core field %q", k)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if ds, _ = c.Deliveries(ctx, ep.ID); len(ds) != 1 {
		t.Errorf("deliveries = %s, want only call.completed (transcription.* is not on the standard plan)", summary(ds))
	}
}

// TestEventBatchSettled puts a batch on the event queue as Accept does,
// with a poison body among valid events: the valid ones are delivered, the
// poison one is dead-lettered, and the whole batch is deleted from the
// event queue, so nothing is handed out again.
func TestEventBatchSettled(t *testing.T) {
	s, c := start(t, nil)
	rcv := receiver(t)
	ep := register(t, c, rcv, "call.*")
	ctx := context.Background()
	var msgs []webhook.OutMessage
	for i := range 3 {
		id := fmt.Sprintf("evt_batch_%d", i)
		e := sample(t, "call.completed", id)
		// What Accept stores for an entry.
		body, err := json.Marshal(events.EventBridgeEvent{Version: "0", ID: id, Source: e.Source,
			DetailType: e.DetailType, Time: time.Now(), Detail: json.RawMessage(e.Detail)})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, webhook.OutMessage{ID: fmt.Sprint(i), Body: body})
	}
	msgs = append(msgs, webhook.OutMessage{ID: "poison", Body: []byte("{not json")})
	if err := s.db.SendMessages(ctx, EventQueue, msgs); err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 3, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		visible, inflight, delayed := s.db.QueueDepth(EventQueue)
		if visible+inflight+delayed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event queue still holds %d visible, %d in flight, %d delayed", visible, inflight, delayed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var dlq struct{ Data []*webhook.DeadLetter }
	if err := c.Do(ctx, "GET", "/v1/dlq", nil, &dlq); err != nil {
		t.Fatal(err)
	}
	if len(dlq.Data) != 1 || !strings.HasPrefix(dlq.Data[0].Reason, "poison input on event queue") {
		t.Fatalf("DLQ = %+v, want the poison event only", dlq.Data)
	}
	time.Sleep(200 * time.Millisecond)
	got, err := c.Deliveries(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ds) {
		t.Errorf("%d deliveries after the batch settled, want %d: %s", len(got), len(ds), summary(got))
	}
	for i := range 3 {
		if got, _ := rcv.Get(fmt.Sprintf("evt_batch_%d", i)); got.Requests != 1 {
			t.Errorf("evt_batch_%d: receiver saw %d requests, want 1", i, got.Requests)
		}
	}
}

// TestFailedBatchItemHandedOutAgain: a task whose delivery's lease is held
// elsewhere (a duplicate queue delivery still in flight) is reported as a
// batch item failure; the poller must hand it out again after RetryBackoff,
// not delete it, and it is delivered once the lease has expired.
func TestFailedBatchItemHandedOutAgain(t *testing.T) {
	retried := &watchLog{msg: "delivery message will be retried", seen: make(chan struct{})}
	s, c := start(t, func(c *Config) { c.Logger = slog.New(retried) })
	rcv := receiver(t)
	ep := register(t, c, rcv)
	ctx := context.Background()
	ev, err := catalog.Parse("voicemail.recorded", []byte(sample(t, "voicemail.recorded", "evt_held").Detail), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := delivery.FirstAttempts(ev, []string{ep.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Acquire(ctx, webhook.DeliveryID(ep.ID, ev.ID), 1, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.db.SendMessages(ctx, ep.ID, []webhook.OutMessage{{ID: "0", Body: bodies[0]}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-retried.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the held lease was never reported")
	}
	// Still queued, not visible, for a while (a delete would take
	// milliseconds).
	for range 10 {
		if visible, inflight, delayed := s.db.QueueDepth(ep.ID); inflight != 1 || visible+delayed != 0 {
			t.Fatalf("after the failure the queue holds %d visible, %d in flight, %d delayed; want 1 in flight", visible, inflight, delayed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ds := waitSettled(t, c, ep.ID, 1, 10*time.Second)
	if len(ds) != 1 || ds[0].Status != webhook.DeliveryDelivered || len(ds[0].Attempts) != 1 {
		t.Fatalf("deliveries = %s, want one delivered at the first attempt", summary(ds))
	}
	if got, _ := rcv.Get(ev.ID); got.Requests != 1 {
		t.Errorf("receiver saw %d requests, want 1", got.Requests)
	}
}

// watchLog is a slog.Handler that closes seen at the first record whose
// message is msg, and drops every record.
type watchLog struct {
	msg  string
	seen chan struct{}
	once sync.Once
}

func (h *watchLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *watchLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *watchLog) WithGroup(string) slog.Handler            { return h }
func (h *watchLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

// TestRestartMidRetry is the in-process half of the binary's kill -9 test
// (scripts/local: TestKillDashNineMidRetry): local mode is closed while
// every delivery of a first batch of events has failed and has a retry
// scheduled, and a second batch has just been accepted; reopened on the
// same data, it delivers every event, with its earlier attempts kept (an
// attempt Close cuts short is logged as failed), and the receiver answers
// 2xx exactly once per event.
func TestRestartMidRetry(t *testing.T) {
	data := t.TempDir()
	s, c := start(t, func(c *Config) { c.DataDir = data })
	ctx := context.Background()
	rcv := receiver(t)
	var healthy atomic.Bool
	var successes atomic.Int32
	rcv.Fail = func(string, int) int {
		if !healthy.Load() {
			return http.StatusServiceUnavailable
		}
		successes.Add(1)
		return 0
	}
	ep := register(t, c, rcv, "*")
	const n = 10
	publish := func(from, to int) {
		var batch []catalog.Entry
		for i := from; i < to; i++ {
			batch = append(batch, sample(t, "call.received", fmt.Sprintf("evt_restart_%02d", i)))
		}
		if err := c.PutEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	publish(0, n/2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ds, err := c.Deliveries(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, d := range ds {
			if d.Status == webhook.DeliveryPending && len(d.Attempts) >= 3 {
				failed++
			}
		}
		if failed == n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first batch never had 3 failed attempts each: %s", summary(ds))
		}
		time.Sleep(20 * time.Millisecond)
	}
	publish(n/2, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// An attempt Close cut short may still be in the receiver's hands:
	// let it fail too, so that every 2xx counted below comes after the
	// restart.
	time.Sleep(500 * time.Millisecond)
	healthy.Store(true)

	_, c = start(t, func(c *Config) { c.DataDir = data })
	ds := waitSettled(t, c, ep.ID, n, 30*time.Second)
	if len(ds) != n {
		t.Fatalf("%d deliveries logged, want %d: %s", len(ds), n, summary(ds))
	}
	for _, d := range ds {
		last := d.Attempts[len(d.Attempts)-1]
		if d.Status != webhook.DeliveryDelivered || !last.OK() || last.N != len(d.Attempts) {
			t.Errorf("%s: %s, attempts %+v; want delivered by its last attempt", d.EventID, d.Status, d.Attempts)
		}
		var i int
		fmt.Sscanf(d.EventID, "evt_restart_%d", &i)
		if i < n/2 && len(d.Attempts) < 4 {
			t.Errorf("%s: %d attempts logged, want the 3 failed before the restart and the one after", d.EventID, len(d.Attempts))
		}
	}
	if got := successes.Load(); got != n {
		t.Errorf("the receiver answered 2xx %d times for %d events, want once each", got, n)
	}
}

// TestHoldsOutlastTheAttempt: whatever the attempt timeout, a delivery
// message stays hidden, and its lease held, longer than the attempt and
// the logging after it; the defaults are unchanged.
func TestHoldsOutlastTheAttempt(t *testing.T) {
	for _, tt := range []struct {
		attempt, wantVisibility, wantLease time.Duration
	}{
		{0, Visibility, delivery.DefaultLease},
		{10 * time.Second, Visibility, delivery.DefaultLease},
		{90 * time.Second, 105 * time.Second, 210 * time.Second},
		{MaxAttemptTimeout, MaxAttemptTimeout + 15*time.Second, 2 * (MaxAttemptTimeout + 15*time.Second)},
	} {
		visibility, lease := holds(tt.attempt)
		if visibility != tt.wantVisibility || lease != tt.wantLease {
			t.Errorf("holds(%v) = %v, %v; want %v, %v", tt.attempt, visibility, lease, tt.wantVisibility, tt.wantLease)
		}
		if attempt := max(tt.attempt, 10*time.Second) + delivery.SettleTimeout; visibility <= attempt || lease <= visibility {
			t.Errorf("holds(%v) = %v, %v: does not outlast the attempt and its logging (%v)", tt.attempt, visibility, lease, attempt)
		}
	}
	// Start passes them on to the delivery pollers and the deliverer.
	s, _ := start(t, func(c *Config) { c.AttemptTimeout = 90 * time.Second })
	d, ok := s.deliver.Deliverer.(*delivery.Deliverer)
	if !ok {
		t.Fatalf("the delivery handler runs a %T", s.deliver.Deliverer)
	}
	if s.visibility != 105*time.Second || d.Lease != 210*time.Second {
		t.Errorf("with a 90s attempt timeout: visibility %v, lease %v; want 1m45s, 3m30s", s.visibility, d.Lease)
	}
	for _, bad := range []time.Duration{-time.Second, MaxAttemptTimeout + time.Second} {
		if s, err := Start(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AttemptTimeout: bad}); err == nil || !strings.Contains(err.Error(), "attempt timeout") {
			if s != nil {
				s.Close()
			}
			t.Errorf("Start with attempt timeout %v: %v, want refused naming the attempt timeout", bad, err)
		}
	}
}

// TestStartRefusesBadConfig: a retry scale that isn't a fraction up to 1
// (a huge one overflowed the retry delays, stalling every failing
// delivery at attempt 1) and too many pollers are refused, naming them.
func TestStartRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.RetryScale = 2 }, "retry scale"},
		{func(c *Config) { c.RetryScale = 1e12 }, "retry scale"},
		{func(c *Config) { c.RetryScale = -0.5 }, "retry scale"},
		{func(c *Config) { c.RetryScale = math.NaN() }, "retry scale"},
		{func(c *Config) { c.RetryScale = math.Inf(1) }, "retry scale"},
		{func(c *Config) { c.Concurrency = MaxConcurrency + 1 }, "concurrency"},
	} {
		cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()}
		tc.mod(&cfg)
		if s, err := Start(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Start(%+v) = %v, want refused naming the %s", cfg, err, tc.want)
		}
	}
}
