// Package fanout decides which endpoints receive an event and enqueues one
// delivery task per matching endpoint on that endpoint's queue. It is the
// filter Lambda's domain (and local mode's): the handler package turns an
// EventBridge event into a webhook.Event and calls Publish.
//
// Matching (DESIGN §3, §6): the endpoint is active, one of its event_types
// selects the type (exact, "group.*" or "*"), and the deployment's plan
// allows the type. Duplicate events (same event_id) are fanned out once:
// Publish takes the idempotency key "event:<id>" for the fan-out.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// EndpointLister lists endpoint configurations (usually a Cache).
type EndpointLister interface {
	ListEndpoints(ctx context.Context) ([]*webhook.Endpoint, error)
}

// Fanout matches events to endpoints and enqueues their delivery tasks.
type Fanout struct {
	Endpoints EndpointLister
	Keys      webhook.Idempotency
	Queue     delivery.MessageSender
	Plan      webhook.Plan
	QueueName func(endpointID string) string
	// Lease bounds how long a fan-out that crashed midway blocks the
	// event's redelivery. Default 30 s.
	Lease  time.Duration
	Logger *slog.Logger
}

// maxParallelSends bounds the concurrent queue sends of one fan-out.
const maxParallelSends = 16

// Result says what Publish did with an event.
type Result struct {
	Duplicate bool     // the event was fanned out before; nothing was done
	Endpoints []string // the endpoints a task was enqueued for
	// Skipped maps endpoint ids that subscribe to the type but were not
	// sent it to the reason (inactive, not allowed by the plan).
	Skipped map[string]string
}

// Match returns the endpoints of eps that receive ev, and those that
// subscribe to it but are skipped, with why.
func Match(eps []*webhook.Endpoint, ev *webhook.Event, plan webhook.Plan) (match []*webhook.Endpoint, skipped map[string]string) {
	for _, ep := range eps {
		if !ep.Subscribes(ev.Type) {
			continue
		}
		reason := ""
		switch {
		case ep.Status != webhook.StatusActive:
			reason = "endpoint is inactive"
		case !plan.Allows(ev.Type):
			reason = fmt.Sprintf("event type %s is not available on the %s plan", ev.Type, plan.Name)
		}
		if reason != "" {
			if skipped == nil {
				skipped = map[string]string{}
			}
			skipped[ep.ID] = reason
			continue
		}
		match = append(match, ep)
	}
	return match, skipped
}

// Publish fans ev out. An error means nothing is known to be done for sure
// and the event must be handed in again (EventBridge retries the Lambda;
// local mode keeps it queued): tasks already enqueued are deduplicated by
// the delivery stage.
func (f *Fanout) Publish(ctx context.Context, ev *webhook.Event) (Result, error) {
	lease, err := f.Keys.Acquire(ctx, "event:"+ev.ID, 1, f.lease())
	switch {
	case errors.Is(err, webhook.ErrDone), errors.Is(err, webhook.ErrStale):
		f.logger().Info("duplicate event ignored", "event_id", ev.ID, "event_type", ev.Type)
		return Result{Duplicate: true}, nil
	case err != nil:
		return Result{}, fmt.Errorf("fanout: acquire event %s: %w", ev.ID, err)
	}
	eps, err := f.Endpoints.ListEndpoints(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("fanout: list endpoints: %w", err)
	}
	match, skipped := Match(eps, ev, f.Plan)
	res := Result{Skipped: skipped}
	// Each endpoint has its own queue, so sends can't share a batch; they
	// go out concurrently (bounded) so an event's fan-out costs about one
	// send's latency, not one per endpoint.
	ids := make([]string, len(match))
	for i, ep := range match {
		ids[i] = ep.ID
	}
	bodies, err := delivery.FirstAttempts(ev, ids)
	if err != nil {
		return Result{}, fmt.Errorf("fanout: %w", err)
	}
	errs := make([]error, len(match))
	sem := make(chan struct{}, maxParallelSends)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f.Queue.SendMessages(ctx, f.QueueName(id), []webhook.OutMessage{{ID: "0", Body: bodies[i]}}); err != nil {
				errs[i] = fmt.Errorf("fanout: enqueue event %s for %s: %w", ev.ID, id, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	res.Endpoints = ids
	for id, why := range skipped {
		f.logger().Info("event not sent to endpoint", "event_id", ev.ID, "event_type", ev.Type, "endpoint_id", id, "reason", why)
	}
	if err := f.Keys.Finish(ctx, lease); err != nil {
		return Result{}, fmt.Errorf("fanout: finish event %s: %w", ev.ID, err)
	}
	return res, nil
}

func (f *Fanout) lease() time.Duration {
	if f.Lease > 0 {
		return f.Lease
	}
	return 30 * time.Second
}

func (f *Fanout) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}
