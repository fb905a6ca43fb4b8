package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Dispatcher fans an event out to endpoints (fanout.Fanout). Declared
// here, with no fan-out types in it, so the delivery Lambda, which links
// this package too, doesn't link the fan-out and its filter engine.
type Dispatcher interface {
	Dispatch(ctx context.Context, ev *webhook.Event) error
}

// Filter is the filter Lambda's handler (an EventBridge rule target).
type Filter struct {
	Fanout      Dispatcher
	DeadLetters delivery.DeadLetterPutter
	Now         func() time.Time
	Logger      *slog.Logger
}

// Handle parses and validates one EventBridge event and fans it out. Poison
// input (wrong source, unknown type, a detail failing validation, an event
// too big to queue as a delivery task) is dead-lettered with the reason
// and returns nil, so EventBridge does not retry it; a transient failure
// returns an error, so EventBridge retries the whole event (the fan-out is
// idempotent).
func (h *Filter) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	e, err := ParseEventBridge(ev)
	if err == nil {
		err = h.Fanout.Dispatch(ctx, e)
		if !errors.Is(err, delivery.ErrTaskTooBig) {
			return err
		}
	}
	raw, _ := json.Marshal(ev)
	return delivery.PoisonDeadLetter(ctx, h.DeadLetters, h.logger(), "event bus", raw, err, h.now())
}

// ParseEventBridge turns an EventBridge event into a validated
// webhook.Event. Errors are KindInvalid and name the field.
func ParseEventBridge(ev events.EventBridgeEvent) (*webhook.Event, error) {
	if ev.Source != webhook.Source {
		return nil, webhook.Invalid("source", "must be %q, got %q", webhook.Source, ev.Source)
	}
	at := ev.Time
	if at.IsZero() {
		return nil, webhook.Invalid("time", "required")
	}
	e, err := catalog.Parse(ev.DetailType, ev.Detail, ev.ID, at)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	return e, nil
}

func (h *Filter) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Filter) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
