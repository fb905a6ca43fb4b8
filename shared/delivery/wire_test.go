package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// recordLog keeps the last delivery log record.
type recordLog struct {
	benchStore
	rec *webhook.Delivery
}

func (l *recordLog) AppendAttempt(_ context.Context, d *webhook.Delivery, _ webhook.Attempt) error {
	l.rec = d
	return nil
}

// TestWireFormat pins the exact request an attempt sends (headers,
// signatures, body) and the copy of it that is logged, for an endpoint
// with custom headers and a previous secret still in its overlap window.
func TestWireFormat(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ep := &webhook.Endpoint{ID: "whk_wire", URL: "https://hooks.example.com/x", EventTypes: []string{"*"}, Status: webhook.StatusActive,
		Secret:         "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=",
		PreviousSecret: "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", PreviousSecretExpires: now.Add(time.Hour),
		Headers: map[string]string{"X-Tenant": "acme", "Authorization": "Bearer sk_live_123", "X-Session-Ref": "s1"}}
	h, log := &fakeHTTP{}, &recordLog{}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	d := &delivery.Deliverer{Endpoints: benchEndpoints{ep.ID: ep}, Keys: webhooktest.GrantAll{}, Log: log, Queue: benchStore{}, DeadLetters: benchStore{},
		HTTP: h, Plan: webhook.Enterprise, QueueName: func(id string) string { return id }, Now: func() time.Time { return now }, Logger: logger}
	for i, c := range []struct {
		at              time.Time
		headers, logged string
	}{
		// Signed with both secrets.
		{now, wireHeaders2, wireLogged2},
		// Past the overlap window: the current secret only.
		{now.Add(2 * time.Hour), wireHeaders3, wireLogged3},
	} {
		now = c.at
		task := delivery.NewTask(event("evt_wire"), ep.ID)
		task.Attempt = 2 + i
		b, _ := task.Encode()
		if err := d.Process(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		req := h.reqs[len(h.reqs)-1]
		wantBody := `{"event_type":"call.completed","timestamp":"2026-11-27T09:59:00Z","version":"1.0","environment":"production","webhook_id":"whk_wire","event_id":"evt_wire","data":{"call_id":"call_1","duration_seconds":135}}`
		if string(req.Body) != wantBody || req.URL != ep.URL {
			t.Errorf("request to %s with body %s", req.URL, req.Body)
		}
		if hj, _ := json.Marshal(req.Headers); string(hj) != c.headers {
			t.Errorf("headers = %s\nwant      %s", hj, c.headers)
		}
		if lj, _ := json.Marshal(log.rec.Request.Headers); string(lj) != c.logged {
			t.Errorf("logged headers = %s\nwant             %s", lj, c.logged)
		}
		if log.rec.Request.Body != wantBody || log.rec.Request.URL != ep.URL {
			t.Errorf("logged request to %s with body %s", log.rec.Request.URL, log.rec.Request.Body)
		}
	}
	// A last attempt that fails is logged and dead-lettered.
	h.answers = []sender.Result{{StatusCode: 500, Err: errors.New("HTTP 500"), Latency: 3 * time.Millisecond}}
	task := delivery.NewTask(event("evt_wire"), ep.ID)
	task.Attempt = webhook.MaxAttempts
	b, _ := task.Encode()
	if err := d.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(logs.String()); got != wireLogLines {
		t.Errorf("log lines:\n%s\nwant\n%s", got, wireLogLines)
	}
}

// Goldens, as the code before the allocation work produced them.
const (
	wireHeaders2 = `{"Authorization":["Bearer sk_live_123"],"Webhook-Id":["evt_wire"],"Webhook-Signature":["v1,XSggBtJgJqqW942UvNOnQ3qo37Z67XSXGeC8zFciKh0= v1,sGjYT696H6epdNKdSwa0EzkqKs5jB0OFRxLia0KZa7M="],"Webhook-Timestamp":["1795773600"],"X-Phoneshield-Attempt":["2"],"X-Phoneshield-Delivery-Id":["dlv_vieeeq3y5nwkw6whodknk6ph"],"X-Phoneshield-Event-Id":["evt_wire"],"X-Phoneshield-Event-Type":["call.completed"],"X-Phoneshield-Signature":["c69bd34b4a2b92bcf7e23ed22fd3ddfd52993bf0bd7e5e54b493cb3b19c58b48"],"X-Session-Ref":["s1"],"X-Tenant":["acme"]}`
	wireLogged2  = `{"Authorization":"[redacted]","Content-Type":"application/json","User-Agent":"PhoneShield-Webhooks/0.1.0","X-Phoneshield-Attempt":"2","X-Phoneshield-Delivery-Id":"dlv_vieeeq3y5nwkw6whodknk6ph","X-Phoneshield-Event-Id":"evt_wire","X-Phoneshield-Event-Type":"call.completed","X-Session-Ref":"[redacted]","X-Tenant":"acme","webhook-id":"evt_wire","webhook-timestamp":"1795773600"}`
	wireHeaders3 = `{"Authorization":["Bearer sk_live_123"],"Webhook-Id":["evt_wire"],"Webhook-Signature":["v1,nRpSgaKUfYZ/Wfrh8w2MVLVTOP9d+JtyMsmc/YuSzQc="],"Webhook-Timestamp":["1795780800"],"X-Phoneshield-Attempt":["3"],"X-Phoneshield-Delivery-Id":["dlv_vieeeq3y5nwkw6whodknk6ph"],"X-Phoneshield-Event-Id":["evt_wire"],"X-Phoneshield-Event-Type":["call.completed"],"X-Phoneshield-Signature":["c69bd34b4a2b92bcf7e23ed22fd3ddfd52993bf0bd7e5e54b493cb3b19c58b48"],"X-Session-Ref":["s1"],"X-Tenant":["acme"]}`
	wireLogged3  = `{"Authorization":"[redacted]","Content-Type":"application/json","User-Agent":"PhoneShield-Webhooks/0.1.0","X-Phoneshield-Attempt":"3","X-Phoneshield-Delivery-Id":"dlv_vieeeq3y5nwkw6whodknk6ph","X-Phoneshield-Event-Id":"evt_wire","X-Phoneshield-Event-Type":"call.completed","X-Session-Ref":"[redacted]","X-Tenant":"acme","webhook-id":"evt_wire","webhook-timestamp":"1795780800"}`
	wireLogLines = `{"level":"INFO","msg":"delivered","delivery_id":"dlv_vieeeq3y5nwkw6whodknk6ph","endpoint_id":"whk_wire","event_id":"evt_wire","event_type":"call.completed","attempt":2,"status":200,"latency_ms":1}
{"level":"INFO","msg":"delivered","delivery_id":"dlv_vieeeq3y5nwkw6whodknk6ph","endpoint_id":"whk_wire","event_id":"evt_wire","event_type":"call.completed","attempt":3,"status":200,"latency_ms":1}
{"level":"INFO","msg":"attempt failed","delivery_id":"dlv_vieeeq3y5nwkw6whodknk6ph","endpoint_id":"whk_wire","event_id":"evt_wire","event_type":"call.completed","attempt":6,"status":500,"error":"HTTP 500","latency_ms":3}
{"level":"WARN","msg":"dead-lettered","delivery_id":"dlv_vieeeq3y5nwkw6whodknk6ph","endpoint_id":"whk_wire","event_id":"evt_wire","event_type":"call.completed","attempt":6,"reason":"6 attempts failed; last: HTTP 500","attempts":1}`
)

// A custom header saved in any case is sent under its canonical name and,
// if it looks like a credential, logged redacted.
func TestLoggedHeadersRedactedInAnyCase(t *testing.T) {
	ep := &webhook.Endpoint{ID: "whk_case", URL: "https://hooks.example.com/x", Status: webhook.StatusActive,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=", Headers: map[string]string{"x-api-key": "k1", "x-tenant": "acme"}}
	h, log := &fakeHTTP{}, &recordLog{}
	d := &delivery.Deliverer{Endpoints: benchEndpoints{ep.ID: ep}, Keys: webhooktest.GrantAll{}, Log: log, Queue: benchStore{}, DeadLetters: benchStore{},
		HTTP: h, Plan: webhook.Enterprise, QueueName: func(id string) string { return id }, Logger: slog.New(slog.DiscardHandler)}
	b, _ := delivery.NewTask(event("evt_case"), ep.ID).Encode()
	if err := d.Process(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if got := h.reqs[0].Headers["X-Api-Key"]; len(got) != 1 || got[0] != "k1" {
		t.Errorf("sent X-Api-Key = %q", got)
	}
	if got := log.rec.Request.Headers["X-Api-Key"]; got != "[redacted]" {
		t.Errorf("logged X-Api-Key = %q, want [redacted]", got)
	}
	if got := log.rec.Request.Headers["X-Tenant"]; got != "acme" {
		t.Errorf("logged X-Tenant = %q, want acme", got)
	}
}
