package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Rotation bounds.
const (
	DefaultOverlap = 24 * time.Hour
	MaxOverlap     = 7 * 24 * time.Hour
)

// RotateSecret gives the endpoint a new secret. The old one keeps signing
// deliveries (beside the new) for overlap, then is gone; a second rotation
// within the window replaces the previous secret. The returned endpoint
// holds the new secret: the only time it is shown.
func (s *Service) RotateSecret(ctx context.Context, id string, overlap time.Duration) (*webhook.Endpoint, error) {
	if overlap < 0 || overlap > MaxOverlap {
		return nil, webhook.Invalid("overlap_hours", "must be between 0 and %d", int(MaxOverlap/time.Hour))
	}
	secret, err := signature.GenerateSecret()
	if err != nil {
		return nil, webhook.Transient(err, "generate secret")
	}
	return s.modify(ctx, id, func(ep *webhook.Endpoint) error {
		ep.PreviousSecret, ep.PreviousSecretExpires = ep.Secret, s.now().Add(overlap)
		if overlap == 0 {
			ep.PreviousSecret, ep.PreviousSecretExpires = "", time.Time{}
		}
		ep.Secret = webhook.Secret(secret)
		return nil
	})
}

// TestResult is the outcome of a test event.
type TestResult struct {
	EventID    string          `json:"event_id"`
	EventType  string          `json:"event_type"`
	StatusCode int             `json:"status_code"`
	LatencyMS  float64         `json:"latency_ms"`
	Error      string          `json:"error,omitempty"`
	Response   string          `json:"response"`
	Request    webhook.Request `json:"request"`
}

// SendTest sends one event of eventType to the endpoint now and returns
// what happened. Without a type (and a detail) the server chooses the
// first type of the catalog the endpoint subscribes to. The detail
// defaults to the catalog's sample; a given one is validated like any
// event. Test events get a fresh event id, bypass
// the queue, the plan's type list and the endpoint's subscriptions (so an
// integrator can test before enabling), and are not retried or logged.
func (s *Service) SendTest(ctx context.Context, id, eventType string, detail json.RawMessage) (*TestResult, error) {
	ep, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if eventType == "" && len(detail) > 0 && string(detail) != "null" {
		return nil, webhook.Invalid("event_type", "required with a detail")
	}
	if eventType == "" {
		// The server's choice: the first type of the catalog the endpoint
		// subscribes to, or the catalog's first.
		eventType = catalog.Types()[0].Name
		for _, t := range catalog.Types() {
			if ep.Subscribes(t.Name) {
				eventType = t.Name
				break
			}
		}
	}
	if !catalog.IsType(eventType) {
		return nil, webhook.Invalid("event_type", "unknown event type %q", eventType)
	}
	if len(detail) == 0 || string(detail) == "null" {
		sample, err := catalog.Sample(eventType)
		if err != nil {
			return nil, err
		}
		detail = json.RawMessage(sample.Detail)
	}
	eventID := NewID("evt_test_")
	ev, err := catalog.Parse(eventType, detail, eventID, s.now())
	if err != nil {
		return nil, err
	}
	ev.ID = eventID // always fresh: a test never collides with a real event
	a, req, err := s.Tester.Try(ctx, ep, ev)
	if err != nil {
		return nil, fmt.Errorf("manage: test event: %w", err)
	}
	return &TestResult{EventID: ev.ID, EventType: ev.Type, StatusCode: a.StatusCode, LatencyMS: float64(a.Latency.Microseconds()) / 1000,
		Error: a.Error, Response: a.Response, Request: req}, nil
}

// DeliveryQuery selects deliveries of one endpoint.
type DeliveryQuery struct {
	Status       webhook.DeliveryStatus
	EventType    string
	Since, Until time.Time
	Page         webhook.Page
}

// Deliveries lists an endpoint's delivery log, newest first, filtered.
func (s *Service) Deliveries(ctx context.Context, id string, q DeliveryQuery) ([]*webhook.Delivery, string, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, "", err
	}
	switch q.Status {
	case "", webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDeadLettered, webhook.DeliveryFiltered:
	default:
		return nil, "", webhook.Invalid("status", "must be pending, delivered, dead_lettered or filtered, got %q", q.Status)
	}
	want := q.Page.Limit
	if want <= 0 {
		want = 50
	}
	var out []*webhook.Delivery
	// The first store page holds want records: if every one matches (no
	// filter, say) the page ends at the last one returned, and the
	// store's cursor is the next page's. Otherwise the page can't end
	// within it, so a listing ends mid-page only on a later store page,
	// behind a cursor, where listing again is stable (see resumeCursor).
	page := webhook.Page{Limit: want, Cursor: q.Page.Cursor}
	for range 100 { // bounded: at most 100 store pages per request
		ds, next, err := s.Log.ListDeliveries(ctx, id, page)
		if err != nil {
			return nil, "", fmt.Errorf("manage: list deliveries of %s: %w", id, err)
		}
		for i, d := range ds {
			if !q.Since.IsZero() && d.CreatedAt.Before(q.Since) {
				return out, "", nil // newest first: nothing older matches
			}
			if (q.Status == "" || d.Status == q.Status) && (q.EventType == "" || d.EventType == q.EventType) &&
				(q.Until.IsZero() || !d.CreatedAt.After(q.Until)) {
				out = append(out, d)
				if len(out) == want {
					if i == len(ds)-1 {
						return out, next, nil
					}
					// Resume after d: the store's cursor is opaque, so
					// re-list from this page with a smaller limit.
					next, err := s.resumeCursor(ctx, id, page, i+1)
					if err != nil {
						return nil, "", err
					}
					return out, next, nil
				}
			}
		}
		if next == "" {
			return out, "", nil
		}
		page = webhook.Page{Limit: max(want, 100), Cursor: next}
	}
	return out, page.Cursor, nil
}

// resumeCursor returns a cursor that continues after the first k records
// of page: the store's cursor after listing exactly k of them. page has a
// cursor (see Deliveries): records logged meanwhile are newer, before it,
// and don't shift what follows it.
func (s *Service) resumeCursor(ctx context.Context, id string, page webhook.Page, k int) (string, error) {
	_, next, err := s.Log.ListDeliveries(ctx, id, webhook.Page{Limit: k, Cursor: page.Cursor})
	if err != nil {
		return "", fmt.Errorf("manage: list deliveries of %s: %w", id, err)
	}
	return next, nil
}

// Delivery returns one delivery of an endpoint with all its attempts.
func (s *Service) Delivery(ctx context.Context, id, deliveryID string) (*webhook.Delivery, error) {
	d, err := s.Log.GetDelivery(ctx, deliveryID)
	if errors.Is(err, webhook.ErrNotFound) || (err == nil && d.EndpointID != id) {
		return nil, webhook.NotFound("delivery %s of webhook %s not found", deliveryID, id)
	}
	if err != nil {
		return nil, fmt.Errorf("manage: get delivery %s: %w", deliveryID, err)
	}
	return d, nil
}

// DLQSelector picks dead letters: one by ID, those of an endpoint or event
// type, those in a time range, or all.
type DLQSelector struct {
	ID           string    `json:"id"`
	EndpointID   string    `json:"endpoint_id"`
	EventType    string    `json:"event_type"`
	Since, Until time.Time `json:"-"`
	All          bool      `json:"all"`
}

func (q DLQSelector) empty() bool {
	return q.ID == "" && q.EndpointID == "" && q.EventType == "" && q.Since.IsZero() && q.Until.IsZero() && !q.All
}

func (q DLQSelector) match(dl *webhook.DeadLetter) bool {
	if q.ID != "" && dl.ID != q.ID {
		return false
	}
	if q.EndpointID != "" && dl.EndpointID != q.EndpointID {
		return false
	}
	if q.EventType != "" && (dl.Event == nil || dl.Event.Type != q.EventType) {
		return false
	}
	if !q.Since.IsZero() && dl.At.Before(q.Since) {
		return false
	}
	return q.Until.IsZero() || !dl.At.After(q.Until)
}

// scanDLQ calls fn for every dead letter matching q, oldest first, until
// fn returns false. It reads at most maxScan records.
func (s *Service) scanDLQ(ctx context.Context, q DLQSelector, fn func(*webhook.DeadLetter) bool) error {
	if q.ID != "" {
		dl, err := s.DeadLetters.GetDeadLetter(ctx, q.ID)
		if errors.Is(err, webhook.ErrNotFound) {
			return webhook.NotFound("dead letter %s not found", q.ID)
		}
		if err != nil {
			return fmt.Errorf("manage: get dead letter %s: %w", q.ID, err)
		}
		if q.match(dl) {
			fn(dl)
		}
		return nil
	}
	page := webhook.Page{Limit: 1000}
	for range maxScan / 1000 {
		dls, next, err := s.DeadLetters.ListDeadLetters(ctx, page)
		if err != nil {
			return fmt.Errorf("manage: list dead letters: %w", err)
		}
		for _, dl := range dls {
			if q.match(dl) && !fn(dl) {
				return nil
			}
		}
		if next == "" {
			return nil
		}
		page.Cursor = next
	}
	return nil
}

// maxScan bounds the dead letters one request reads.
const maxScan = 100_000

// DeadLetterList lists matching dead letters, oldest first, with a cursor:
// the position (time, id) of the last one returned, so a page resumes
// after it even once that dead letter is redriven or purged.
func (s *Service) DeadLetterList(ctx context.Context, q DLQSelector, p webhook.Page) ([]*webhook.DeadLetter, string, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	var after *webhook.DeadLetterPosition
	if p.Cursor != "" {
		c, err := webhook.ParseDeadLetterCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	var out []*webhook.DeadLetter
	more := false
	err := s.scanDLQ(ctx, q, func(dl *webhook.DeadLetter) bool {
		if after != nil && after.Compare(dl) >= 0 {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, dl)
		return true
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more {
		next = webhook.PositionOf(out[len(out)-1]).Cursor()
	}
	return out, next, nil
}

// DeadLetter returns one dead letter.
func (s *Service) DeadLetter(ctx context.Context, id string) (*webhook.DeadLetter, error) {
	dl, err := s.DeadLetters.GetDeadLetter(ctx, id)
	if errors.Is(err, webhook.ErrNotFound) {
		return nil, webhook.NotFound("dead letter %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("manage: get dead letter %s: %w", id, err)
	}
	return dl, nil
}

// BulkResult reports a bounded redrive or purge.
type BulkResult struct {
	Done      int      `json:"done"`
	Skipped   []string `json:"skipped,omitempty"` // ids that can't be redriven, with why
	Remaining int      `json:"remaining"`         // matching dead letters left
}

// MaxBulk bounds the dead letters one redrive or purge request handles, so
// a request fits a Lambda's time; callers repeat until Remaining is 0.
const MaxBulk = 500

func bulkLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return 100, nil
	case limit < 0 || limit > MaxBulk:
		return 0, webhook.Invalid("limit", "must be between 1 and %d", MaxBulk)
	}
	return limit, nil
}

// Redrive sends matching dead letters back to their endpoints' queues with
// a fresh attempt budget (a new generation, under a new idempotency key),
// delivered with the endpoint's current configuration, and removes them
// from the DLQ. Poison records (no endpoint or event), those whose event
// data was not kept (an adapter with a record size limit drops it last)
// and those whose endpoint was deleted or is inactive are skipped and stay
// in the DLQ.
func (s *Service) Redrive(ctx context.Context, q DLQSelector, limit int) (BulkResult, error) {
	return s.bulk(ctx, q, limit, func(dl *webhook.DeadLetter) (string, error) {
		if dl.Event == nil || dl.EndpointID == "" {
			return "poison input: nothing to redeliver", nil
		}
		if len(dl.Event.Data) == 0 {
			// Cut to fit the store (see Reason); sent, the event would go
			// out without its data.
			return "the event's data was not kept: nothing to redeliver", nil
		}
		ep, err := s.Endpoints.GetEndpoint(ctx, dl.EndpointID)
		switch {
		case errors.Is(err, webhook.ErrNotFound):
			return "endpoint " + dl.EndpointID + " was deleted", nil
		case err != nil:
			return "", err
		case ep.Status != webhook.StatusActive:
			// Sent now, the task would be dead-lettered again at once,
			// without its attempts: this dead letter, which holds them,
			// stays until the endpoint is enabled.
			return "endpoint " + dl.EndpointID + " is inactive; enable it first", nil
		}
		t := delivery.NewTask(dl.Event, dl.EndpointID)
		t.Generation = generation(dl) + 1
		body, err := t.Encode()
		if err != nil {
			return "", err
		}
		if err := s.Queue.SendMessages(ctx, s.QueueName(dl.EndpointID), []webhook.OutMessage{{ID: "0", Body: body}}); err != nil {
			return "", err
		}
		return "", nil
	})
}

// generation returns a dead letter's generation, from its field or, for
// records written before the field existed, its id's "#n" suffix.
func generation(dl *webhook.DeadLetter) int {
	if dl.Generation > 0 {
		return dl.Generation
	}
	if i := strings.LastIndexByte(dl.ID, '#'); i >= 0 {
		if n, err := strconv.Atoi(dl.ID[i+1:]); err == nil {
			return n
		}
	}
	return 0
}

// Purge deletes matching dead letters for good.
func (s *Service) Purge(ctx context.Context, q DLQSelector, limit int) (BulkResult, error) {
	return s.bulk(ctx, q, limit, func(*webhook.DeadLetter) (string, error) { return "", nil })
}

func (s *Service) bulk(ctx context.Context, q DLQSelector, limit int, act func(*webhook.DeadLetter) (skip string, err error)) (BulkResult, error) {
	var res BulkResult
	if q.empty() {
		return res, webhook.Invalid("selector", "name an id, an endpoint_id, an event_type, a time range, or all: true")
	}
	limit, err := bulkLimit(limit)
	if err != nil {
		return res, err
	}
	// Act during the scan (skipped records don't count against the
	// limit, so poison can't stall a loop of calls), delete after it.
	// Dead letters newer than the call are left for the next: a delivery
	// this call redrove that fails at once is dead-lettered again, at the
	// end of the DLQ's order, and a long scan would reach it and redrive
	// it a second time.
	started := s.now()
	var done []string
	var actErr error
	err = s.scanDLQ(ctx, q, func(dl *webhook.DeadLetter) bool {
		if len(done) == limit || actErr != nil || dl.At.After(started) {
			res.Remaining++
			return true
		}
		why, err := act(dl)
		switch {
		case err != nil:
			actErr = fmt.Errorf("manage: dead letter %s: %w", dl.ID, err)
			res.Remaining++
		case why != "":
			res.Skipped = append(res.Skipped, dl.ID+": "+why)
		default:
			done = append(done, dl.ID)
		}
		return true
	})
	if err == nil {
		err = actErr
	}
	// A record acted on but not deleted is redriven again by a later call:
	// the delivery stage drops it as a duplicate (same generation key).
	if bd, ok := s.DeadLetters.(batchDeleter); ok && len(done) > 0 {
		if derr := bd.DeleteDeadLetters(ctx, done); derr != nil {
			return res, errors.Join(err, fmt.Errorf("manage: remove %d dead letters: %w", len(done), derr))
		}
		res.Done = len(done)
		return res, err
	}
	for _, id := range done {
		if derr := s.DeadLetters.DeleteDeadLetter(ctx, id); derr != nil && !errors.Is(derr, webhook.ErrNotFound) {
			return res, errors.Join(err, fmt.Errorf("manage: remove dead letter %s: %w", id, derr))
		}
		res.Done++
	}
	return res, err
}

// batchDeleter is a DeadLetters that removes several dead letters in one
// go (the SQS adapter: one scan of the queue instead of one per id).
type batchDeleter interface {
	DeleteDeadLetters(ctx context.Context, ids []string) error
}

// Counts summarises the DLQ.
type Counts struct {
	Total       int            `json:"total"`
	ByEndpoint  map[string]int `json:"by_endpoint"`
	ByEventType map[string]int `json:"by_event_type"`
}

// DeadLetterCounts counts the DLQ by endpoint and event type.
func (s *Service) DeadLetterCounts(ctx context.Context) (Counts, error) {
	c := Counts{ByEndpoint: map[string]int{}, ByEventType: map[string]int{}}
	err := s.scanDLQ(ctx, DLQSelector{}, func(dl *webhook.DeadLetter) bool {
		c.Total++
		ep := dl.EndpointID
		if ep == "" {
			ep = "(poison)"
		}
		c.ByEndpoint[ep]++
		if dl.Event != nil {
			c.ByEventType[dl.Event.Type]++
		}
		return true
	})
	return c, err
}

// EventType is a catalog entry with its availability on the plan.
type EventType struct {
	Name        string `json:"name"`
	Group       string `json:"group"`
	Description string `json:"description"`
	Available   bool   `json:"available"`
}

// EventTypes lists the catalog in order.
func (s *Service) EventTypes() []EventType {
	var out []EventType
	for _, t := range catalog.Types() {
		out = append(out, EventType{Name: t.Name, Group: t.Group, Description: t.Description, Available: s.Plan.Allows(t.Name)})
	}
	return out
}

// PlanInfo is the deployment's plan and its use.
type PlanInfo struct {
	webhook.Plan
	EndpointsUsed int `json:"endpoints_used"`
}

// PlanUsage returns the plan and how many endpoints exist.
func (s *Service) PlanUsage(ctx context.Context) (PlanInfo, error) {
	eps, err := s.List(ctx)
	if err != nil {
		return PlanInfo{}, err
	}
	p := s.Plan
	// A copy to sort: p.EventTypes shares the plan's array, which every
	// fan-out and delivery reads.
	p.EventTypes = slices.Clone(p.EventTypes)
	if p.EventTypes == nil {
		for _, t := range catalog.Types() {
			p.EventTypes = append(p.EventTypes, t.Name)
		}
	}
	sort.Strings(p.EventTypes)
	return PlanInfo{Plan: p, EndpointsUsed: len(eps)}, nil
}

// FilterTest is a dry run of a filter against a sample, a given detail or
// a past delivery's event.
type FilterTest struct {
	Filter     json.RawMessage `json:"filter"`
	FilterText *string         `json:"filter_text"`
	EventType  string          `json:"event_type"`
	Detail     json.RawMessage `json:"detail"`
	DeliveryID string          `json:"delivery_id"`
}

// FilterResult is a dry run's verdict.
type FilterResult struct {
	Match     bool            `json:"match"`
	Why       string          `json:"why,omitempty"` // the part that failed
	Filter    json.RawMessage `json:"filter"`        // the compiled filter, canonical JSON
	Text      string          `json:"filter_text"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
}

// TestFilter compiles a filter and evaluates it on one event: a past
// delivery's (by delivery_id), or one of event_type built from detail or
// the catalog sample. Works on any plan, so integrators can try filters
// before upgrading.
func (s *Service) TestFilter(ctx context.Context, in FilterTest) (*FilterResult, error) {
	if in.Filter == nil && in.FilterText == nil {
		return nil, webhook.Invalid("filter", "give filter or filter_text")
	}
	anyPlan := *s
	anyPlan.Plan.CustomFilters = true // a dry run is allowed on every plan
	f, err := anyPlan.compileFilter(Input{Filter: in.Filter, FilterText: in.FilterText})
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, webhook.Invalid("filter", "empty filter")
	}
	var ev *webhook.Event
	if in.DeliveryID != "" {
		d, err := s.Log.GetDelivery(ctx, in.DeliveryID)
		if errors.Is(err, webhook.ErrNotFound) {
			return nil, webhook.NotFound("delivery %s not found", in.DeliveryID)
		}
		if err != nil {
			return nil, fmt.Errorf("manage: get delivery %s: %w", in.DeliveryID, err)
		}
		if ev, err = eventFromBody(d); err != nil {
			return nil, err
		}
	} else {
		if !catalog.IsType(in.EventType) {
			return nil, webhook.Invalid("event_type", "unknown event type %q", in.EventType)
		}
		detail := in.Detail
		if len(detail) == 0 || string(detail) == "null" {
			sample, _ := catalog.Sample(in.EventType)
			detail = json.RawMessage(sample.Detail)
		}
		if ev, err = catalog.Parse(in.EventType, detail, "evt_dry_run", s.now()); err != nil {
			return nil, err
		}
	}
	ok, why := f.Match(ev)
	return &FilterResult{Match: ok, Why: why.Why, Filter: f.JSON(), Text: f.String(), EventID: ev.ID, EventType: ev.Type}, nil
}

// eventFromBody rebuilds a past delivery's event from the body it logged.
func eventFromBody(d *webhook.Delivery) (*webhook.Event, error) {
	var env struct {
		EventType   string          `json:"event_type"`
		Timestamp   time.Time       `json:"timestamp"`
		Environment string          `json:"environment"`
		EventID     string          `json:"event_id"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(d.Request.Body), &env); err != nil || len(env.Data) == 0 {
		return nil, webhook.Invalid("delivery_id", "delivery %s has no logged payload to test against (it was never sent)", d.ID)
	}
	return &webhook.Event{ID: env.EventID, Type: env.EventType, Time: env.Timestamp, Environment: env.Environment, Data: env.Data}, nil
}
