package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The ports. Each is implemented by the embedded adapter (package bolt) and
// by the AWS adapters, and each adapter passes the matching conformance
// suite in package webhooktest. Consumers that need less declare narrower
// interfaces of their own.

// EndpointStore holds endpoint configurations.
type EndpointStore interface {
	// CreateEndpoint stores e, which must carry an ID not yet used
	// (ErrConflict otherwise). It stores e.Version as given (1 for a new
	// endpoint).
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	// GetEndpoint returns the endpoint with id, or ErrNotFound.
	GetEndpoint(ctx context.Context, id string) (*Endpoint, error)
	// ListEndpoints returns every endpoint, ordered by CreatedAt then ID.
	ListEndpoints(ctx context.Context) ([]*Endpoint, error)
	// UpdateEndpoint replaces the stored endpoint e.ID if its stored Version
	// is e.Version-1 (ErrConflict otherwise; ErrNotFound if absent). Callers
	// bump e.Version before calling, so concurrent updates never lose writes.
	UpdateEndpoint(ctx context.Context, e *Endpoint) error
	// DeleteEndpoint removes the endpoint, or returns ErrNotFound.
	DeleteEndpoint(ctx context.Context, id string) error
}

// Lease is a held idempotency key, returned by Acquire and handed back to
// Finish or Release.
type Lease struct {
	Key     string
	Attempt int    // the attempt the lease was taken for
	Token   string // unique to this acquisition
}

// Idempotency keeps idempotency keys with leases. A key moves through
// attempts 1, 2, ... and ends done. Keys expire (TTL) after they end.
type Idempotency interface {
	// Acquire takes key for attempt n (n ≥ 1) until now+lease. It returns
	// ErrDone if the key was finished, ErrStale if attempt n (or a later one)
	// was already released under the key, and ErrHeld if another holder's
	// lease has not expired. An expired lease is taken over, so work lost to
	// a crash is redone under the same attempt number.
	Acquire(ctx context.Context, key string, n int, lease time.Duration) (Lease, error)
	// Finish marks the key done: every later Acquire returns ErrDone. It
	// returns ErrConflict if l is no longer the key's current lease.
	Finish(ctx context.Context, l Lease) error
	// Release records attempt l.Attempt as made and frees the lease, so the
	// next attempt (n+1) can be acquired. ErrConflict as for Finish.
	Release(ctx context.Context, l Lease) error
}

// Page asks for one page of a listing. Cursor is the opaque Next of the
// previous page ("" for the first).
type Page struct {
	Limit  int // ≤ 0 means the adapter's default (50); capped at 1000
	Cursor string
}

// DeliveryLog keeps each delivery's request and attempts until ExpiresAt.
type DeliveryLog interface {
	// AppendAttempt records attempt a of delivery d. The first call for d.ID
	// creates the record with d's fields (Request is kept from this first
	// call only); every call appends a (an attempt of the same number and
	// generation already recorded is replaced, not duplicated) and sets
	// Status, UpdatedAt and ExpiresAt from d. d.Attempts is ignored.
	// Attempts are listed in Attempt.Compare order.
	AppendAttempt(ctx context.Context, d *Delivery, a Attempt) error
	// GetDelivery returns a delivery with its attempts in order, or
	// ErrNotFound. A record past ExpiresAt is not found.
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	// ListDeliveries returns an endpoint's deliveries, newest CreatedAt first,
	// one page at a time; next is "" after the last page. Expired records
	// are left out.
	ListDeliveries(ctx context.Context, endpointID string, p Page) (ds []*Delivery, next string, err error)
}

// ErrLogNotWritten is wrapped by a combined write (delivery.Settler) whose
// other part succeeded when only its delivery-log write failed: the
// delivery moves on, and the failure is only reported.
var ErrLogNotWritten = errors.New("delivery log not written")

// OutMessage is a message to send to a queue.
type OutMessage struct {
	ID    string        // unique within one SendMessages call
	Body  []byte        // at most 256 KiB
	Delay time.Duration // 0..15 min: invisible until then
}

// InMessage is a received queue message.
type InMessage struct {
	ID           string // assigned by the queue
	Receipt      string // handle for DeleteMessage and ChangeVisibility
	Body         []byte
	ReceiveCount int // how many times it was received, this time included
	SentAt       time.Time
}

// MaxQueueDelay is the longest per-message delay a queue supports (SQS's
// DelaySeconds limit). Longer waits are made of several hops.
const MaxQueueDelay = 15 * time.Minute

// Queue is a set of named queues with at-least-once delivery, per-message
// delay and visibility timeouts (the SQS model).
type Queue interface {
	// SendMessages enqueues msgs on queue durably before returning. The
	// queue keeps no reference to the bodies given.
	SendMessages(ctx context.Context, queue string, msgs []OutMessage) error
	// ReceiveMessages returns up to max visible messages, hiding each for
	// visibility. It waits up to wait for at least one to be visible. The
	// returned bodies are read-only, for the queue and the caller alike: the
	// queue never modifies them afterwards (local mode hands them to the
	// handlers without copying), and the caller must not (the embedded
	// queue hands out the bodies it holds, not copies).
	ReceiveMessages(ctx context.Context, queue string, max int, visibility, wait time.Duration) ([]InMessage, error)
	// DeleteMessage removes a received message for good. Deleting with a
	// stale receipt (the message was received again since) is a no-op.
	DeleteMessage(ctx context.Context, queue, receipt string) error
	// ChangeVisibility makes a received message visible again after d.
	ChangeVisibility(ctx context.Context, queue, receipt string, d time.Duration) error
}

// DeadLetters is the shared dead-letter queue.
type DeadLetters interface {
	// PutDeadLetter stores dl durably; storing an ID again replaces it.
	PutDeadLetter(ctx context.Context, dl *DeadLetter) error
	// ListDeadLetters returns dead letters oldest first, a page at a time.
	ListDeadLetters(ctx context.Context, p Page) (dls []*DeadLetter, next string, err error)
	// GetDeadLetter returns one dead letter or ErrNotFound.
	GetDeadLetter(ctx context.Context, id string) (*DeadLetter, error)
	// DeleteDeadLetter removes one (after a redrive or a purge) or returns
	// ErrNotFound.
	DeleteDeadLetter(ctx context.Context, id string) error
}

// Limits every Queue adapter enforces (SQS's).
const (
	MaxMessageSize = 256 << 10 // bytes of an OutMessage body
	MaxQueueName   = 80        // bytes of a queue name, prefix included
)

// CheckQueueName validates a queue name the way every Queue adapter does.
func CheckQueueName(name string) error {
	if name == "" || len(name) > MaxQueueName || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return Invalid("queue", "must be 1 to %d letters, digits, hyphens or underscores, got %q", MaxQueueName, name)
	}
	return nil
}

// CheckMessageBody validates a message body, named field in the error, the
// way every Queue adapter does.
func CheckMessageBody(field string, body []byte) error {
	switch {
	case len(body) == 0:
		return Invalid(field, "required")
	case len(body) > MaxMessageSize:
		return Invalid(field, "%d bytes is over the %d byte limit", len(body), MaxMessageSize)
	}
	return nil
}

// QueueSafeJSON returns JSON text b with the two characters JSON allows
// raw but SQS refuses in a message body, U+FFFE and U+FFFF, written as
// escapes instead: the same JSON value, which any queue takes. (The other
// characters SQS refuses, controls below U+0020, are escaped by every JSON
// encoder.) It returns b itself when b has no byte sequence starting
// either (EF BF), which is cheap to tell; otherwise a copy.
func QueueSafeJSON(b []byte) []byte {
	if !bytes.Contains(b, []byte("\xef\xbf")) {
		return b
	}
	b = bytes.ReplaceAll(b, []byte("\uFFFE"), []byte(`\ufffe`))
	return bytes.ReplaceAll(b, []byte("\uFFFF"), []byte(`\uffff`))
}

// CheckAppend validates the arguments of AppendAttempt (and of a
// Settler's Settle) the way every DeliveryLog adapter does.
func CheckAppend(d *Delivery, a Attempt) error {
	switch {
	case d.ID == "":
		return Invalid("id", "required")
	case d.EndpointID == "":
		return Invalid("endpoint_id", "required")
	case a.N < 1:
		return Invalid("attempt", "must be at least 1, got %d", a.N)
	}
	return nil
}

// CheckOutMessages validates the messages of one SendMessages call the way
// every Queue adapter does.
func CheckOutMessages(msgs []OutMessage) error {
	seen := make(map[string]bool, len(msgs))
	for i, m := range msgs {
		field := func(f string) string { return fmt.Sprintf("messages[%d].%s", i, f) }
		switch {
		case m.ID == "":
			return Invalid(field("id"), "required")
		case seen[m.ID]:
			return Invalid(field("id"), "%q is used twice in the call", m.ID)
		}
		if err := CheckMessageBody(field("body"), m.Body); err != nil {
			return err
		}
		if m.Delay < 0 || m.Delay > MaxQueueDelay {
			return Invalid(field("delay"), "must be between 0 and %s, got %s", MaxQueueDelay, m.Delay)
		}
		seen[m.ID] = true
	}
	return nil
}
