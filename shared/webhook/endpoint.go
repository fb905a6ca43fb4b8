package webhook

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// EndpointStatus is whether an endpoint receives deliveries.
type EndpointStatus string

// Endpoint statuses.
const (
	StatusActive   EndpointStatus = "active"
	StatusInactive EndpointStatus = "inactive"
)

// EndpointIDPrefix starts every endpoint id. On AWS an endpoint's queue is
// named <stack queue prefix><endpoint id>, and the stack's IAM grants cover
// <stack queue prefix>whk_*: a stack name can't hold "_", so no other
// stack's queues fall under it, even one whose name extends this stack's.
const EndpointIDPrefix = "whk_"

// Secret is an endpoint signing secret ("whsec_" + base64). Its String,
// GoString and LogValue never reveal it, so a secret printed (any fmt verb)
// or logged by mistake shows as "whsec_…"; use string(s) where the value is
// really needed (signing, storage, the one API response that returns it).
// Its JSON is the secret (endpoints are stored as JSON): never log a value
// that holds an Endpoint through encoding/json.
type Secret string

func (s Secret) String() string { return redacted(string(s)) }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return `"` + redacted(string(s)) + `"` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted(string(s))) }

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "whsec_…"
}

// Endpoint is a customer's webhook endpoint configuration (DESIGN §6).
type Endpoint struct {
	ID          string         `json:"id"` // whk_...
	URL         string         `json:"url"`
	Description string         `json:"description,omitempty"`
	EventTypes  []string       `json:"event_types"` // exact types, "group.*" or "*"
	Status      EndpointStatus `json:"status"`
	Secret      Secret         `json:"secret"`
	// PreviousSecret is the secret replaced by the last rotation; deliveries
	// are signed with it too until PreviousSecretExpires.
	PreviousSecret        Secret            `json:"previous_secret,omitempty"`
	PreviousSecretExpires time.Time         `json:"previous_secret_expires,omitzero"`
	Headers               map[string]string `json:"headers,omitempty"`
	Retry                 RetrySettings     `json:"retry,omitzero"`
	Filter                json.RawMessage   `json:"filter,omitempty"`
	RateLimitPerMinute    int               `json:"rate_limit_per_minute,omitempty"` // 0 = the plan's limit
	Version               int64             `json:"version"`                         // bumped by every update
	CreatedAt             time.Time         `json:"created_at"`
	UpdatedAt             time.Time         `json:"updated_at"`
}

// LogValue implements slog.LogValuer: an endpoint (or a pointer to one)
// logs as its id and URL host only, never its secrets, custom header
// values, or the URL's path and query (which can hold a token).
func (e Endpoint) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", e.ID), slog.String("host", e.host()))
}

// String implements fmt.Stringer (%v, %+v, %s) as LogValue does.
func (e Endpoint) String() string { return "endpoint " + e.ID + " (" + e.host() + ")" }

// host is the URL's host, or "" if it has none.
func (e Endpoint) host() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return ""
	}
	return u.Host
}

// Secrets returns the secrets deliveries are signed with at now: the current
// one first, then the previous one while its overlap window lasts.
func (e *Endpoint) Secrets(now time.Time) []Secret {
	if e.PreviousSecret != "" && now.Before(e.PreviousSecretExpires) {
		return []Secret{e.Secret, e.PreviousSecret}
	}
	return []Secret{e.Secret}
}

// Subscribes reports whether the endpoint's event_types select eventType:
// an exact type, "group.*" for every type of a group, or "*".
func (e *Endpoint) Subscribes(eventType string) bool {
	for _, t := range e.EventTypes {
		if SubscriptionMatches(t, eventType) {
			return true
		}
	}
	return false
}

// SubscriptionMatches reports whether one subscription entry selects eventType.
func SubscriptionMatches(sub, eventType string) bool {
	switch {
	case sub == "*":
		return true
	case strings.HasSuffix(sub, ".*"):
		group := strings.TrimSuffix(sub, "*") // "call."
		return strings.HasPrefix(eventType, group)
	default:
		return sub == eventType
	}
}

// Clone returns a deep copy of e.
func (e *Endpoint) Clone() *Endpoint {
	c := *e
	c.EventTypes = append([]string(nil), e.EventTypes...)
	if e.Headers != nil {
		c.Headers = make(map[string]string, len(e.Headers))
		for k, v := range e.Headers {
			c.Headers[k] = v
		}
	}
	c.Retry.DelaysSeconds = append([]int(nil), e.Retry.DelaysSeconds...)
	c.Filter = append(json.RawMessage(nil), e.Filter...)
	return &c
}
