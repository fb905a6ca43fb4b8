package webhook

import (
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending      DeliveryStatus = "pending"       // attempted, a retry is scheduled
	DeliveryDelivered    DeliveryStatus = "delivered"     // a 2xx was received
	DeliveryDeadLettered DeliveryStatus = "dead_lettered" // no attempt left (or never deliverable); see the DLQ
	// DeliveryFiltered: the endpoint's custom filter turned the event
	// down. The record holds no HTTP attempt; its one entry (number 1,
	// no status code) carries in Error which part of the filter failed.
	DeliveryFiltered DeliveryStatus = "filtered"
)

// MaxResponseExcerpt is how much of a response body the delivery log keeps.
const MaxResponseExcerpt = 4096

// DeliveryID returns the id of the delivery of event eventID to endpoint
// endpointID. It is derived, not random, so duplicate events and duplicate
// queue messages map to the same delivery and the same idempotency key.
func DeliveryID(endpointID, eventID string) string {
	sum := sha256.Sum256([]byte(endpointID + "\x00" + eventID))
	return "dlv_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

// Delivery is the log of one event's delivery to one endpoint: the request
// sent (kept once, not per attempt; no secrets or signatures) and every
// attempt's outcome.
type Delivery struct {
	ID         string         `json:"id"`
	EndpointID string         `json:"endpoint_id"`
	EventID    string         `json:"event_id"`
	EventType  string         `json:"event_type"`
	Status     DeliveryStatus `json:"status"`
	Request    Request        `json:"request"`
	Attempts   []Attempt      `json:"attempts"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	ExpiresAt  time.Time      `json:"expires_at"` // the log's TTL
}

// Request is what was sent: the body and the headers, less the signatures.
type Request struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// Attempt is the outcome of one HTTP attempt.
type Attempt struct {
	N int `json:"attempt"` // 1..6
	// Generation is the redrive round the attempt belongs to: 0 before any
	// redrive from the DLQ, n after the n-th (which starts again at
	// attempt 1). The log keeps each round's attempts.
	Generation int           `json:"generation,omitempty"`
	At         time.Time     `json:"at"`
	StatusCode int           `json:"status_code,omitempty"` // 0 when no response was received
	Latency    time.Duration `json:"latency_ns"`
	Error      string        `json:"error,omitempty"`    // why it failed, "" on success
	Response   string        `json:"response,omitempty"` // first 4 KiB of the response body
}

// Compare orders attempts as the log lists them: by generation, then
// number.
func (a Attempt) Compare(b Attempt) int {
	if a.Generation != b.Generation {
		return a.Generation - b.Generation
	}
	return a.N - b.N
}

// OK reports whether the attempt succeeded (a 2xx, no error).
func (a Attempt) OK() bool { return a.Error == "" && a.StatusCode >= 200 && a.StatusCode < 300 }

// DeadLetter is a delivery that ended without success: the envelope that
// would have been sent, the endpoint, every attempt's outcome and why it
// stopped. Poison input (an event or queue message that can't be parsed)
// is dead-lettered too, with Reason saying why and Raw holding the input.
type DeadLetter struct {
	ID         string    `json:"id"` // the delivery id, or "poison_..." for poison input
	EndpointID string    `json:"endpoint_id,omitempty"`
	Event      *Event    `json:"event,omitempty"`
	Attempts   []Attempt `json:"attempts,omitempty"`
	// Generation counts the redrives the delivery has had (0: none); a
	// redrive runs under the key "<delivery id>#<generation+1>".
	Generation int       `json:"generation,omitempty"`
	Reason     string    `json:"reason"`
	Raw        string    `json:"raw,omitempty"` // poison input, as received
	At         time.Time `json:"at"`
}

// DeadLetterPosition is a place in the DLQ's order, At then ID, which
// every DeadLetters adapter lists by; its Cursor is an opaque page
// cursor. A listing that resumes after a position, rather than after a
// dead letter, resumes in place even once that dead letter is gone.
type DeadLetterPosition struct {
	At time.Time `json:"at"`
	ID string    `json:"id"`
}

// PositionOf returns dl's position.
func PositionOf(dl *DeadLetter) DeadLetterPosition { return DeadLetterPosition{At: dl.At, ID: dl.ID} }

// Compare orders p against dl's position: negative if p comes first.
func (p DeadLetterPosition) Compare(dl *DeadLetter) int {
	return cmp.Or(p.At.Compare(dl.At), cmp.Compare(p.ID, dl.ID))
}

// Cursor returns p as a page cursor.
func (p DeadLetterPosition) Cursor() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseDeadLetterCursor reads a cursor Cursor made; anything else is an
// invalid "cursor".
func ParseDeadLetterCursor(s string) (DeadLetterPosition, error) {
	var p DeadLetterPosition
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil || p.ID == "" {
		return DeadLetterPosition{}, Invalid("cursor", "not a cursor this listing returned")
	}
	return p, nil
}
