package apiclient

import (
	"encoding/json"
	"strings"
	"time"
)

// The API's resources as the client reads them. Unknown fields are
// ignored, so a newer server does not break an older client.

// Endpoint is a webhook endpoint. Secret is set only in the answers to
// create and rotate-secret.
type Endpoint struct {
	ID                 string            `json:"id"`
	URL                string            `json:"url"`
	Description        string            `json:"description"`
	EventTypes         []string          `json:"event_types"`
	Status             string            `json:"status"`
	Headers            map[string]string `json:"headers"`
	Retry              Retry             `json:"retry"`
	Filter             json.RawMessage   `json:"filter,omitempty"`
	FilterText         string            `json:"filter_text,omitempty"`
	RateLimitPerMinute int               `json:"rate_limit_per_minute,omitempty"`
	Version            int64             `json:"version"`
	CreatedAt          time.Time         `json:"created_at"`
	UpdatedAt          time.Time         `json:"updated_at"`
	Secret             string            `json:"secret,omitempty"`
}

// Retry is an endpoint's retry settings; nil MaxRetries means the
// default (5).
type Retry struct {
	MaxRetries    *int  `json:"max_retries,omitempty"`
	DelaysSeconds []int `json:"delays_seconds,omitempty"`
}

// EndpointInput is the body of create and update: nil fields are left
// out (defaults on create, unchanged on update). An empty, non-nil
// Headers is sent as {}: it removes every custom header.
type EndpointInput struct {
	URL                *string           `json:"url,omitempty"`
	Description        *string           `json:"description,omitempty"`
	EventTypes         []string          `json:"event_types,omitempty"`
	Status             *string           `json:"status,omitempty"`
	Headers            map[string]string `json:"headers,omitzero"`
	Retry              *Retry            `json:"retry,omitempty"`
	Filter             json.RawMessage   `json:"filter,omitempty"`
	FilterText         *string           `json:"filter_text,omitempty"`
	RateLimitPerMinute *int              `json:"rate_limit_per_minute,omitempty"`
	Version            *int64            `json:"version,omitempty"`
}

// List is a page of a listing.
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Delivery is one (event, endpoint) delivery with its attempts.
type Delivery struct {
	ID         string    `json:"id"`
	EndpointID string    `json:"endpoint_id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Status     string    `json:"status"` // pending | delivered | dead_lettered
	Request    Request   `json:"request"`
	Attempts   []Attempt `json:"attempts"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Request is what was (or would be) sent.
type Request struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// Attempt is one HTTP attempt.
type Attempt struct {
	N          int           `json:"attempt"`
	Generation int           `json:"generation,omitempty"` // redrive round; 0 before any
	At         time.Time     `json:"at"`
	StatusCode int           `json:"status_code,omitempty"`
	Latency    time.Duration `json:"latency_ns"`
	Error      string        `json:"error,omitempty"`
	Response   string        `json:"response,omitempty"`
}

// DeadLetter is a delivery that ended without success, or poison input.
type DeadLetter struct {
	ID         string    `json:"id"`
	EndpointID string    `json:"endpoint_id,omitempty"`
	Event      *Event    `json:"event,omitempty"`
	Attempts   []Attempt `json:"attempts,omitempty"`
	Reason     string    `json:"reason"`
	Raw        string    `json:"raw,omitempty"`
	At         time.Time `json:"at"`
}

// Event is a PhoneShield event as the pipeline parsed it.
type Event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Time        time.Time       `json:"time"`
	Environment string          `json:"environment"`
	Data        json.RawMessage `json:"data"`
}

// Selector picks dead letters for redrive and purge: one ID, or those
// matching every filter given (All: no filter needed).
type Selector struct {
	ID         string     `json:"id,omitempty"`
	EndpointID string     `json:"endpoint_id,omitempty"`
	EventType  string     `json:"event_type,omitempty"`
	Since      *time.Time `json:"since,omitempty"`
	Until      *time.Time `json:"until,omitempty"`
	All        bool       `json:"all,omitempty"`
	Limit      int        `json:"limit,omitempty"` // per call; 0: the server's default
}

// BulkResult is the answer to one POST /v1/dlq/redrive or /v1/dlq/purge:
// a bounded amount of work; call again while Remaining > 0.
type BulkResult struct {
	// Done is how many were redriven (or purged) by this call.
	Done int
	// Skipped lists the dead letters that can't be redriven ("id: why"):
	// they stay in the DLQ and are reported again by every call.
	Skipped []string
	// SkippedCount is how many were skipped (len(Skipped) when listed).
	SkippedCount int
	// Remaining is how many selected dead letters are left to do,
	// skipped ones not included.
	Remaining int
}

// UnmarshalJSON reads {"done", "skipped":[...], "remaining"}, and also
// the spellings {"redriven"|"purged", "skipped": n, "remaining"}.
func (r *BulkResult) UnmarshalJSON(b []byte) error {
	var v struct {
		Done      *int            `json:"done"`
		Redriven  *int            `json:"redriven"`
		Purged    *int            `json:"purged"`
		Skipped   json.RawMessage `json:"skipped"`
		Remaining int             `json:"remaining"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = BulkResult{Remaining: v.Remaining}
	for _, n := range []*int{v.Done, v.Redriven, v.Purged} {
		if n != nil {
			r.Done = *n
			break
		}
	}
	if len(v.Skipped) > 0 && string(v.Skipped) != "null" {
		if v.Skipped[0] == '[' {
			if err := json.Unmarshal(v.Skipped, &r.Skipped); err != nil {
				return err
			}
			r.SkippedCount = len(r.Skipped)
		} else if err := json.Unmarshal(v.Skipped, &r.SkippedCount); err != nil {
			return err
		}
	}
	return nil
}

// SkippedID returns the id of an entry of Skipped ("id: why").
func SkippedID(s string) string {
	id, _, _ := strings.Cut(s, ": ")
	return id
}

// DLQCounts is GET /v1/dlq/counts.
type DLQCounts struct {
	Total       int            `json:"total"`
	ByEndpoint  map[string]int `json:"by_endpoint"`
	ByEventType map[string]int `json:"by_event_type"`
}

// EventType is an entry of the event catalog.
type EventType struct {
	Name        string `json:"name"`
	Group       string `json:"group"`
	Description string `json:"description"`
	Available   bool   `json:"available"` // on the deployment's plan
}

// Plan is the deployment's plan and its use.
type Plan struct {
	Name              string   `json:"name"`
	MaxEndpoints      int      `json:"max_endpoints"`
	RequestsPerMinute int      `json:"requests_per_minute"`
	EventTypes        []string `json:"event_types"` // empty: every type
	CorePayloadOnly   bool     `json:"core_payload_only"`
	CustomFilters     bool     `json:"custom_filters"`
	EndpointsUsed     int      `json:"endpoints_used"`
}

// RotateResult is the answer to rotate-secret.
type RotateResult struct {
	ID                    string    `json:"id"`
	Version               int64     `json:"version"`
	Secret                string    `json:"secret"`
	PreviousSecretExpires time.Time `json:"previous_secret_expires"`
}

// TestResult is the answer to a test delivery.
type TestResult struct {
	EventID    string  `json:"event_id"`
	EventType  string  `json:"event_type"`
	StatusCode int     `json:"status_code"`
	LatencyMS  float64 `json:"latency_ms"`
	Error      string  `json:"error"`
	Response   string  `json:"response"`
	Request    Request `json:"request"`
}

// FilterTestResult is the answer to POST /v1/filters/test.
type FilterTestResult struct {
	Match      bool            `json:"match"`
	Why        json.RawMessage `json:"why"`         // the failing part (a string)
	Filter     json.RawMessage `json:"filter"`      // the compiled filter, canonical JSON
	FilterText string          `json:"filter_text"` // and in text form
	EventID    string          `json:"event_id"`
	EventType  string          `json:"event_type"`
}
