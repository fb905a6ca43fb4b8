package webhook

import (
	"encoding/json"
	"time"
)

// Source is the EventBridge Source of every PhoneShield event.
const Source = "phoneshield"

// Environments an event can belong to (DESIGN §3).
const (
	EnvProduction = "production"
	EnvSandbox    = "sandbox"
)

// Event is one PhoneShield event as accepted from the bus: the EventBridge
// detail-type and time plus the detail's event_id, environment and data.
type Event struct {
	ID          string          `json:"id"`          // detail.event_id, or the EventBridge event id
	Type        string          `json:"type"`        // EventBridge detail-type, e.g. call.completed
	Time        time.Time       `json:"time"`        // when the event occurred (EventBridge time)
	Environment string          `json:"environment"` // production | sandbox
	Data        json.RawMessage `json:"data"`        // detail.data exactly as received
}

// Detail is the EventBridge Detail of a PhoneShield event (DESIGN §3).
type Detail struct {
	EventID     string          `json:"event_id,omitempty"`
	Environment string          `json:"environment,omitempty"`
	Data        json.RawMessage `json:"data"`
}
