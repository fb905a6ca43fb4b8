package delivery

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/phoneshield/webhooks/shared/jsjson"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Task is the body of a message on an endpoint's queue: one event to deliver
// to one endpoint, at one attempt. The attempt count lives here, not in the
// queue's receive count, so throttling, deferrals and crashes (which make the
// queue hand the same message out again) never use up an attempt.
type Task struct {
	DeliveryID string        `json:"delivery_id"`
	EndpointID string        `json:"endpoint_id"`
	Event      webhook.Event `json:"event"`
	Attempt    int           `json:"attempt"` // 1..6
	// Generation counts redrives from the DLQ: each redrive gets a fresh
	// attempt budget under a fresh idempotency key.
	Generation int `json:"generation,omitempty"`
	// NotBefore delays the attempt past what one queue delay allows (SQS
	// stops at 15 min): a task received early is sent back with the rest
	// of its delay, without an attempt.
	NotBefore time.Time `json:"not_before,omitzero"`
	// Previous holds earlier attempts' outcomes (response excerpts cut to
	// PreviousExcerpt bytes) so the dead letter can hold every outcome
	// without reading the log.
	Previous []webhook.Attempt `json:"previous,omitempty"`
}

// PreviousExcerpt is how much of each earlier response a Task carries.
const PreviousExcerpt = 512

// Key returns the task's idempotency key.
func (t *Task) Key() string {
	if t.Generation == 0 {
		return t.DeliveryID
	}
	return fmt.Sprintf("%s#%d", t.DeliveryID, t.Generation)
}

// NewTask returns the first-attempt task delivering ev to endpointID.
func NewTask(ev *webhook.Event, endpointID string) *Task {
	return &Task{
		DeliveryID: webhook.DeliveryID(endpointID, ev.ID),
		EndpointID: endpointID,
		Event:      *ev,
		Attempt:    1,
	}
}

// Encode returns the task as a queue message body (one SQS accepts, see
// webhook.QueueSafeJSON).
func (t *Task) Encode() ([]byte, error) {
	b, err := json.Marshal(t)
	return webhook.QueueSafeJSON(b), err
}

// DecodeTask parses a queue message body, checking the fields a delivery
// needs; errors are KindInvalid and name the field. The result is what
// json.Unmarshal gives, but a body of the usual shape is decoded in one
// pass, and the task's Event.Data may alias body: the caller must not
// modify body while it uses the task.
func DecodeTask(body []byte) (*Task, error) {
	var t Task
	if !decodeTaskFast(body, &t) {
		return decodeTaskJSON(body)
	}
	return checkTask(&t)
}

// decodeTaskJSON is DecodeTask by json.Unmarshal alone: the reference for
// decodeTaskFast, and what decodes the bodies it leaves alone.
func decodeTaskJSON(body []byte) (*Task, error) {
	var t Task
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, &webhook.Error{Kind: webhook.KindInvalid, Field: "body", Message: "not a delivery task", Err: err}
	}
	return checkTask(&t)
}

// checkTask checks the fields of a decoded task a delivery needs.
func checkTask(t *Task) (*Task, error) {
	switch {
	case t.DeliveryID == "":
		return nil, webhook.Invalid("delivery_id", "required")
	case t.EndpointID == "":
		return nil, webhook.Invalid("endpoint_id", "required")
	case t.Event.ID == "":
		return nil, webhook.Invalid("event.id", "required")
	case t.Event.Type == "":
		return nil, webhook.Invalid("event.type", "required")
	case len(t.Event.Data) == 0:
		return nil, webhook.Invalid("event.data", "required")
	case t.Attempt < 1 || t.Attempt > webhook.MaxAttempts:
		return nil, webhook.Invalid("attempt", "must be 1..%d, got %d", webhook.MaxAttempts, t.Attempt)
	case t.Generation < 0:
		return nil, webhook.Invalid("generation", "must not be negative")
	}
	return t, nil
}

// FirstAttempts returns the queue message bodies of the first-attempt
// tasks delivering ev to each of endpointIDs. The event is marshalled once
// and spliced into every body (the filter fans one event out to up to 50
// endpoints; marshalling it per endpoint was most of its CPU). Each body
// decodes to what NewTask(ev, id).Encode() would give.
func FirstAttempts(ev *webhook.Event, endpointIDs []string) ([][]byte, error) {
	evJSON, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	evJSON = webhook.QueueSafeJSON(evJSON) // the ids are ASCII
	out := make([][]byte, len(endpointIDs))
	for i, id := range endpointIDs {
		b := make([]byte, 0, len(evJSON)+128)
		b = append(b, `{"delivery_id":`...)
		b = jsjson.AppendString(b, webhook.DeliveryID(id, ev.ID))
		b = append(b, `,"endpoint_id":`...)
		b = jsjson.AppendString(b, id)
		b = append(b, `,"event":`...)
		b = append(b, evJSON...)
		b = append(b, `,"attempt":1}`...)
		out[i] = b
	}
	return out, nil
}
