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
	"github.com/phoneshield/webhooks/shared/filter"
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
	// Log records, per endpoint, an event its custom filter turned down
	// and which part of the filter failed (delivery status "filtered"),
	// so an integrator can tell why nothing arrived. Nil: logged only.
	Log delivery.AttemptLogger
	// LogTTL is how long those records are kept; default 30 days.
	LogTTL time.Duration
	Now    func() time.Time

	filters sync.Map // endpoint id → *compiled
}

// compiled is an endpoint's filter, compiled once per configuration
// version (never per event).
type compiled struct {
	version int64
	f       *filter.Filter
	err     error
}

// filterOf returns ep's compiled filter (nil if it has none).
func (f *Fanout) filterOf(ep *webhook.Endpoint) (*filter.Filter, error) {
	if len(ep.Filter) == 0 {
		return nil, nil
	}
	if c, ok := f.filters.Load(ep.ID); ok && c.(*compiled).version == ep.Version {
		return c.(*compiled).f, c.(*compiled).err
	}
	flt, err := filter.FromStoredJSON(ep.Filter)
	f.filters.Store(ep.ID, &compiled{version: ep.Version, f: flt, err: err})
	return flt, err
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
	// Filtered maps endpoint ids whose custom filter turned the event
	// down to the part of the filter that failed.
	Filtered map[string]string
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
// the delivery stage. The exception is delivery.ErrTaskTooBig: an event
// too big to queue as a delivery task, which no retry can mend; nothing
// was sent for it.
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
	match, filtered := f.applyFilters(match, ev)
	res := Result{Skipped: skipped, Filtered: filtered}
	// Each endpoint has its own queue, so SQS sends can't share a batch;
	// they go out concurrently (bounded) so an event's fan-out costs about
	// one send's latency, not one per endpoint. A queue that can send to
	// several queues at once (eachSender) gets them all in one call.
	ids := make([]string, len(match))
	for i, ep := range match {
		ids[i] = ep.ID
	}
	bodies, err := delivery.FirstAttempts(ev, ids)
	if err != nil {
		return Result{}, fmt.Errorf("fanout: %w", err)
	}
	for _, b := range bodies {
		// All about one size (they differ in the endpoint id only): an
		// event too big to queue fails as a whole, before any send.
		if err := webhook.CheckMessageBody("detail", b); err != nil {
			return Result{}, fmt.Errorf("fanout: event %s: %w: %w", ev.ID, delivery.ErrTaskTooBig, err)
		}
	}
	if q, ok := f.Queue.(eachSender); ok {
		queues := make([]string, len(ids))
		for i, id := range ids {
			queues[i] = f.QueueName(id)
		}
		if err := q.SendEach(ctx, queues, bodies); err != nil {
			return Result{}, fmt.Errorf("fanout: enqueue event %s: %w", ev.ID, err)
		}
		return f.finish(ctx, ev, lease, res, ids)
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
	return f.finish(ctx, ev, lease, res, ids)
}

// eachSender is implemented by a queue that can send one message to each
// of several queues in one write (the embedded store: one log append
// instead of a send per endpoint). SQS has no such call.
type eachSender interface {
	SendEach(ctx context.Context, queues []string, bodies [][]byte) error
}

// finish ends a fan-out whose tasks are enqueued for ids: it logs and
// records what was left out, then marks the event as fanned out.
func (f *Fanout) finish(ctx context.Context, ev *webhook.Event, lease webhook.Lease, res Result, ids []string) (Result, error) {
	// The tasks are queued: recording so must finish even if the caller
	// cancels now (local mode shutting down), or the event would be fanned
	// out again. It is bounded on its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), delivery.SettleTimeout)
	defer cancel()
	res.Endpoints = ids
	for id, why := range res.Skipped {
		f.logger().Info("event not sent to endpoint", "event_id", ev.ID, "event_type", ev.Type, "endpoint_id", id, "reason", why)
	}
	f.recordFiltered(ctx, ev, res.Filtered)
	if err := f.Keys.Finish(ctx, lease); err != nil {
		return Result{}, fmt.Errorf("fanout: finish event %s: %w", ev.ID, err)
	}
	return res, nil
}

// Dispatch is Publish for the filter handler: it logs the result.
func (f *Fanout) Dispatch(ctx context.Context, ev *webhook.Event) error {
	res, err := f.Publish(ctx, ev)
	if err != nil {
		return err
	}
	f.logger().Info("event fanned out", "event_id", ev.ID, "event_type", ev.Type,
		"endpoints", len(res.Endpoints), "filtered", len(res.Filtered), "duplicate", res.Duplicate)
	return nil
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

// applyFilters keeps the endpoints whose custom filter (if any) accepts
// ev. The event's data is prepared once for all of them. On a plan
// without custom filters, stored ones (saved while the deployment had a
// plan with them) are not applied, as the plan's event types and rate
// limit apply to what was saved before: the plan is what runs.
func (f *Fanout) applyFilters(eps []*webhook.Endpoint, ev *webhook.Event) (keep []*webhook.Endpoint, filtered map[string]string) {
	if !f.Plan.CustomFilters {
		return eps, nil
	}
	var in *filter.Input
	for _, ep := range eps {
		flt, err := f.filterOf(ep)
		if flt == nil && err == nil {
			keep = append(keep, ep)
			continue
		}
		why := ""
		if err != nil {
			why = "the stored filter does not compile: " + err.Error()
		} else {
			if in == nil {
				in = filter.Prepare(ev)
			}
			var ok bool
			if ok, why = flt.Eval(in); ok {
				keep = append(keep, ep)
				continue
			}
		}
		if filtered == nil {
			filtered = map[string]string{}
		}
		filtered[ep.ID] = why
	}
	return keep, filtered
}

// recordFiltered writes one delivery-log record per endpoint that
// filtered ev out. A failed write is logged: the event itself was handled.
func (f *Fanout) recordFiltered(ctx context.Context, ev *webhook.Event, filtered map[string]string) {
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	ttl := f.LogTTL
	if ttl <= 0 {
		ttl = delivery.DefaultLogTTL
	}
	for id, why := range filtered {
		f.logger().Info("event filtered out", "event_id", ev.ID, "event_type", ev.Type, "endpoint_id", id, "why", why)
		if f.Log == nil {
			continue
		}
		d := &webhook.Delivery{ID: webhook.DeliveryID(id, ev.ID), EndpointID: id, EventID: ev.ID, EventType: ev.Type,
			Status: webhook.DeliveryFiltered, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl)}
		a := webhook.Attempt{N: 1, At: now, Error: "filtered out: " + why}
		if err := f.Log.AppendAttempt(ctx, d, a); err != nil {
			f.logger().Error("recording a filtered event failed", "event_id", ev.ID, "endpoint_id", id, "error", err.Error())
		}
	}
}
