package webhooktest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// UniqueID returns prefix followed by 16 random hex digits, so that suites
// sharing one server (moto) never collide.
func UniqueID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// NewSecret returns a fresh signing secret: "whsec_" + base64 of 24 random
// bytes.
func NewSecret() webhook.Secret {
	b := make([]byte, 24)
	rand.Read(b)
	return webhook.Secret("whsec_" + base64.StdEncoding.EncodeToString(b))
}

// zone is a non-UTC zone, so that round trips that lose the offset show.
var zone = time.FixedZone("CEST", 2*60*60)

// Base is a fixed instant with nanoseconds, in a non-UTC zone.
var Base = time.Date(2025, 6, 3, 14, 7, 21, 123456789, zone)

// Now returns the current time with nanoseconds, no monotonic reading and
// a non-UTC zone, for values that must be near the store's clock.
func Now() time.Time { return time.Now().Round(0).In(zone) }

// NewEndpoint returns a realistic endpoint with every field set: current
// and previous secret, custom headers, retry settings, an enterprise filter
// kept as raw JSON (with whitespace and characters encoding/json would
// escape), times with nanoseconds, version 1.
func NewEndpoint(id string) *webhook.Endpoint {
	maxRetries := 3
	return &webhook.Endpoint{
		ID:                    id,
		URL:                   "https://hooks.acme.example/phoneshield/calls?tenant=acme&env=prod",
		Description:           "Acme CRM — call sync <prod> & “quotes”",
		EventTypes:            []string{"call.completed", "voicemail.*", "system.error"},
		Status:                webhook.StatusActive,
		Secret:                NewSecret(),
		PreviousSecret:        NewSecret(),
		PreviousSecretExpires: Base.Add(24*time.Hour + 7),
		Headers: map[string]string{
			"Authorization": "Bearer acme-7f3c9e",
			"X-Acme-Tenant": "acme-prod",
		},
		Retry: webhook.RetrySettings{MaxRetries: &maxRetries, DelaysSeconds: []int{10, 60, 300}},
		Filter: json.RawMessage(`{"and": [
  {"field": "duration_seconds", "op": "gt", "value": 120},
  {"or": [{"contains": "pricing"}, {"contains": "quote <b>&</b>"}]}
]}`),
		RateLimitPerMinute: 100,
		Version:            1,
		CreatedAt:          Base,
		UpdatedAt:          Base.Add(90*time.Second + 1),
	}
}

// NewEvent returns a call.completed event (or of type eventType) with
// realistic data, kept as raw JSON with whitespace and escapes.
func NewEvent(id, eventType string) webhook.Event {
	return webhook.Event{
		ID:          id,
		Type:        eventType,
		Time:        Base.Add(-time.Minute),
		Environment: webhook.EnvProduction,
		Data: json.RawMessage(`{
  "call_id": "call_9f8e7d6c",
  "caller_number": "+14155550123",
  "duration_seconds": 245,
  "summary": "Asked for a quote <urgent> & pricing for 12 seats — “ASAP”",
  "topics": ["pricing", "quote"],
  "transcript": "Hi, this is Dana from Acme…\nCould you send a quote?"
}`),
	}
}

// NewAttempt returns attempt n made at at with the given HTTP status (0:
// no response, a connection error).
func NewAttempt(n int, at time.Time, status int) webhook.Attempt {
	a := webhook.Attempt{N: n, At: at, StatusCode: status, Latency: 187*time.Millisecond + 654321}
	switch {
	case status == 0:
		a.Error = "dial tcp 203.0.113.7:443: connect: connection refused"
	case status >= 200 && status < 300:
		a.Response = `{"received":true}`
	default:
		a.Error = fmt.Sprintf("HTTP %d", status)
		a.Response = `{"error":"upstream unavailable","retry":true}`
	}
	return a
}

// NewDelivery returns the pending delivery of event eventID to endpoint
// endpointID, created at createdAt and expiring 30 days later, with the
// request that was sent. Attempts is empty: AppendAttempt ignores it.
func NewDelivery(endpointID, eventID string, createdAt time.Time) *webhook.Delivery {
	id := webhook.DeliveryID(endpointID, eventID)
	return &webhook.Delivery{
		ID:         id,
		EndpointID: endpointID,
		EventID:    eventID,
		EventType:  "call.completed",
		Status:     webhook.DeliveryPending,
		Request: webhook.Request{
			URL: "https://hooks.acme.example/phoneshield/calls",
			Headers: map[string]string{
				"Content-Type":              "application/json",
				"User-Agent":                webhook.UserAgent,
				"X-PhoneShield-Event-Id":    eventID,
				"X-PhoneShield-Event-Type":  "call.completed",
				"X-PhoneShield-Delivery-Id": id,
				"X-Acme-Tenant":             "acme-prod",
			},
			Body: `{"event_type":"call.completed","timestamp":"2025-06-03T12:06:21.123Z","version":"1.0","environment":"production","webhook_id":"` +
				endpointID + `","event_id":"` + eventID + `","data":{"call_id":"call_9f8e7d6c","summary":"quote <urgent> — “ASAP”"}}`,
		},
		CreatedAt: createdAt,
		UpdatedAt: createdAt,
		ExpiresAt: createdAt.Add(30 * 24 * time.Hour),
	}
}

// NewDeadLetter returns a dead letter for a delivery to endpointID that
// failed all six attempts, dead-lettered at at.
func NewDeadLetter(id, endpointID string, at time.Time) *webhook.DeadLetter {
	ev := NewEvent(UniqueID("evt_"), "call.completed")
	var attempts []webhook.Attempt
	for n := 1; n <= webhook.MaxAttempts; n++ {
		attempts = append(attempts, NewAttempt(n, at.Add(-time.Duration(webhook.MaxAttempts-n)*time.Hour), 503))
	}
	return &webhook.DeadLetter{
		ID:         id,
		EndpointID: endpointID,
		Event:      &ev,
		Attempts:   attempts,
		Reason:     "6 attempts failed; last: HTTP 503",
		At:         at,
	}
}

// NewPoisonDeadLetter returns a dead letter for input that could not be
// parsed: no endpoint, no event, the raw input kept.
func NewPoisonDeadLetter(id string, at time.Time) *webhook.DeadLetter {
	return &webhook.DeadLetter{
		ID:     id,
		Reason: "body: not a delivery task: invalid character '}'",
		Raw:    "{\"delivery_id\": \"dlv_x\", }\n\t<garbage> “quoted”",
		At:     at,
	}
}

// GrantAll is a webhook.Idempotency that grants every key at once and
// remembers nothing: for benchmarks and tests that measure or check the
// code around a store, not the store.
type GrantAll struct{}

// Acquire implements webhook.Idempotency.
func (GrantAll) Acquire(_ context.Context, key string, n int, _ time.Duration) (webhook.Lease, error) {
	return webhook.Lease{Key: key, Attempt: n}, nil
}

// Finish implements webhook.Idempotency.
func (GrantAll) Finish(context.Context, webhook.Lease) error { return nil }

// Release implements webhook.Idempotency.
func (GrantAll) Release(context.Context, webhook.Lease) error { return nil }
