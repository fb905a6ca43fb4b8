// Package manage is the management domain: it validates endpoint
// configurations against the product rules and the deployment's plan,
// creates endpoints with their ids and secrets, applies updates without
// losing concurrent writes, and reads delivery logs and the DLQ. The HTTP
// API (package api) and, through it, the CLI are thin layers over it.
package manage

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/filter"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// URLChecker validates an endpoint URL at save time (egress.Guard).
type URLChecker interface {
	CheckURL(raw string, allowHTTP bool) error
}

// Service manages endpoints. Set its fields once.
type Service struct {
	Endpoints   webhook.EndpointStore
	Log         webhook.DeliveryLog
	DeadLetters webhook.DeadLetters
	Plan        webhook.Plan
	URLs        URLChecker
	// AllowHTTP permits plain http:// URLs (local mode); production
	// deployments require https.
	AllowHTTP bool
	// Changed is called after every successful create, update or delete
	// (local mode drops its endpoint cache and starts or stops pollers).
	Changed func(ctx context.Context, ep *webhook.Endpoint, deleted bool)
	// Provision creates an endpoint's queue and event source mapping
	// before the endpoint is stored, and removes them after it is deleted
	// (AWS: package provision). Nil in local mode, whose queues need none.
	Provision Provisioner
	// Queue and QueueName are where redriven dead letters are enqueued.
	Queue     delivery.MessageSender
	QueueName func(endpointID string) string
	// Tester makes the synchronous attempts of "send a test event".
	Tester Tester
	Now    func() time.Time
}

// Provisioner manages an endpoint's queue and event source mapping.
type Provisioner interface {
	Create(ctx context.Context, endpointID string) error
	Delete(ctx context.Context, endpointID string) error
}

// Tester makes one attempt outside the pipeline (delivery.Deliverer).
type Tester interface {
	Try(ctx context.Context, ep *webhook.Endpoint, ev *webhook.Event) (webhook.Attempt, webhook.Request, error)
}

// Input is a create or update request. Nil fields are absent: on create
// they take defaults (or are required); on update they are left as they are.
type Input struct {
	URL         *string                 `json:"url"`
	Description *string                 `json:"description"`
	EventTypes  []string                `json:"event_types"`
	Status      *webhook.EndpointStatus `json:"status"`
	Headers     map[string]string       `json:"headers"`
	Retry       *webhook.RetrySettings  `json:"retry"`
	// Filter is a custom filter as a JSON tree (or a JSON string holding
	// the text form); FilterText is the text form. Give at most one; an
	// empty string or null removes the filter. Enterprise plan only.
	Filter             json.RawMessage `json:"filter"`
	FilterText         *string         `json:"filter_text"`
	RateLimitPerMinute *int            `json:"rate_limit_per_minute"`
	// Version, on update, makes the update conditional: it fails with a
	// conflict unless the endpoint is still at this version.
	Version *int64 `json:"version"`
}

// maxUpdateTries bounds the re-read-and-reapply loop of an update that
// keeps losing races.
const maxUpdateTries = 50

// Limits on configuration values.
const (
	MaxDescription = 512
	MaxEventTypes  = 64
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// keepRedacted returns the headers to store for the headers given, in,
// over those stored: a value of sender.Redacted (what views show for a
// credential) keeps the stored value of that header (named in any case),
// so an endpoint read, edited and written back keeps its credentials. A
// credential's placeholder with no stored value is refused.
func keepRedacted(in, stored map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if v == sender.Redacted {
			found := false
			for sk, sv := range stored {
				if strings.EqualFold(sk, k) {
					v, found = sv, true
					break
				}
			}
			if !found && sender.Sensitive(k) {
				return nil, webhook.Invalid("headers."+k, "%q stands for a stored value, and the endpoint has none for %s: give the value", sender.Redacted, k)
			}
		}
		out[k] = v
	}
	return out, nil
}

// NewID returns a new random id with prefix, e.g. "whk_".
func NewID(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Create validates in and stores a new active (unless in says otherwise)
// endpoint with a fresh secret. The returned endpoint holds the secret: the
// only time it is shown.
func (s *Service) Create(ctx context.Context, in Input) (*webhook.Endpoint, error) {
	if in.URL == nil {
		return nil, webhook.Invalid("url", "required")
	}
	if in.EventTypes == nil {
		return nil, webhook.Invalid("event_types", "required: at least one event type, group.* or *")
	}
	now := s.now()
	ep := &webhook.Endpoint{ID: NewID(webhook.EndpointIDPrefix), Status: webhook.StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(ep, in); err != nil {
		return nil, err
	}
	secret, err := signature.GenerateSecret()
	if err != nil {
		return nil, webhook.Transient(err, "generate secret")
	}
	ep.Secret = webhook.Secret(secret)
	eps, err := s.Endpoints.ListEndpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("manage: count endpoints: %w", err)
	}
	if len(eps) >= s.Plan.MaxEndpoints {
		return nil, s.overLimit()
	}
	if s.Provision != nil {
		if err := s.Provision.Create(ctx, ep.ID); err != nil {
			return nil, fmt.Errorf("manage: provision queue for %s: %w", ep.ID, err)
		}
	}
	if err := s.Endpoints.CreateEndpoint(ctx, ep); err != nil {
		if s.Provision != nil {
			_ = s.Provision.Delete(context.WithoutCancel(ctx), ep.ID) // reconcile removes it otherwise
		}
		return nil, fmt.Errorf("manage: create endpoint: %w", err)
	}
	// The count above and the write are two steps, so concurrent creates
	// could all pass it: count again, now that this endpoint is stored
	// (the store's list is consistent), and withdraw it if the plan is
	// exceeded. Each create that stays saw every create before its count,
	// itself included, within the limit, so the limit holds; creates racing
	// for the last place may all be refused (a retry then gets it).
	eps, err = s.Endpoints.ListEndpoints(ctx)
	if err == nil && len(eps) > s.Plan.MaxEndpoints {
		ctx := context.WithoutCancel(ctx)
		if err := s.Endpoints.DeleteEndpoint(ctx, ep.ID); err != nil && !errors.Is(err, webhook.ErrNotFound) {
			return nil, fmt.Errorf("manage: withdraw endpoint %s over the plan's limit: %w", ep.ID, err)
		}
		if s.Provision != nil {
			_ = s.Provision.Delete(ctx, ep.ID) // reconcile removes it otherwise
		}
		s.changed(ctx, ep, true)
		return nil, s.overLimit()
	}
	s.changed(ctx, ep, false)
	return ep, nil
}

// Update applies in to endpoint id. It retries a lost conditional write a
// few times on a fresh read, so concurrent updates of different fields all
// land; in is validated against the merged result.
func (s *Service) Update(ctx context.Context, id string, in Input) (*webhook.Endpoint, error) {
	return s.modify(ctx, id, func(ep *webhook.Endpoint) error {
		if in.Version != nil && *in.Version != ep.Version {
			return &webhook.Error{Kind: webhook.KindConflict, Field: "version",
				Message: fmt.Sprintf("the webhook is at version %d, not %d: read it again and reapply your change", ep.Version, *in.Version)}
		}
		return s.apply(ep, in)
	})
}

// SetStatus enables or disables an endpoint.
func (s *Service) SetStatus(ctx context.Context, id string, st webhook.EndpointStatus) (*webhook.Endpoint, error) {
	return s.Update(ctx, id, Input{Status: &st})
}

func (s *Service) modify(ctx context.Context, id string, change func(*webhook.Endpoint) error) (*webhook.Endpoint, error) {
	for try := 0; ; try++ {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		ep := cur.Clone()
		if err := change(ep); err != nil {
			return nil, err
		}
		ep.Version = cur.Version + 1
		ep.UpdatedAt = s.now()
		err = s.Endpoints.UpdateEndpoint(ctx, ep)
		if errors.Is(err, webhook.ErrConflict) && try < maxUpdateTries {
			// Lost a race: back off a little, re-read, reapply.
			time.Sleep(time.Duration(1+mrand.IntN(5*(try+1))) * time.Millisecond)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("manage: update endpoint %s: %w", id, err)
		}
		s.changed(ctx, ep, false)
		return ep, nil
	}
}

// Get returns one endpoint or a KindNotFound error naming it.
func (s *Service) Get(ctx context.Context, id string) (*webhook.Endpoint, error) {
	ep, err := s.Endpoints.GetEndpoint(ctx, id)
	if errors.Is(err, webhook.ErrNotFound) {
		return nil, webhook.NotFound("webhook %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("manage: get endpoint %s: %w", id, err)
	}
	return ep, nil
}

// List returns every endpoint.
func (s *Service) List(ctx context.Context) ([]*webhook.Endpoint, error) {
	eps, err := s.Endpoints.ListEndpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("manage: list endpoints: %w", err)
	}
	return eps, nil
}

// Delete removes an endpoint. Its queued deliveries are dead-lettered as
// they come up ("endpoint was deleted"), so nothing vanishes silently.
func (s *Service) Delete(ctx context.Context, id string) error {
	ep, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Endpoints.DeleteEndpoint(ctx, id); err != nil {
		if errors.Is(err, webhook.ErrNotFound) {
			return webhook.NotFound("webhook %s not found", id)
		}
		return fmt.Errorf("manage: delete endpoint %s: %w", id, err)
	}
	if s.Provision != nil {
		if err := s.Provision.Delete(ctx, id); err != nil {
			return fmt.Errorf("manage: remove queue of %s (reconcile will retry): %w", id, err)
		}
	}
	s.changed(ctx, ep, true)
	return nil
}

// overLimit is the error of a create the plan's endpoint limit refuses.
func (s *Service) overLimit() error {
	return &webhook.Error{Kind: webhook.KindLimit, Field: "url",
		Message: fmt.Sprintf("the %s plan allows %d endpoints; delete one first", s.Plan.Name, s.Plan.MaxEndpoints)}
}

func (s *Service) changed(ctx context.Context, ep *webhook.Endpoint, deleted bool) {
	if s.Changed != nil {
		s.Changed(ctx, ep, deleted)
	}
}

// apply validates the present fields of in and sets them on ep.
func (s *Service) apply(ep *webhook.Endpoint, in Input) error {
	if in.URL != nil {
		if err := s.URLs.CheckURL(*in.URL, s.AllowHTTP); err != nil {
			return err
		}
		ep.URL = *in.URL
	}
	if in.Description != nil {
		d := *in.Description
		if !utf8.ValidString(d) || utf8.RuneCountInString(d) > MaxDescription {
			return webhook.Invalid("description", "must be valid UTF-8 of at most %d characters", MaxDescription)
		}
		ep.Description = d
	}
	if in.EventTypes != nil {
		if err := s.checkEventTypes(in.EventTypes); err != nil {
			return err
		}
		ep.EventTypes = append([]string(nil), in.EventTypes...)
	}
	if in.Status != nil {
		switch *in.Status {
		case webhook.StatusActive, webhook.StatusInactive:
			ep.Status = *in.Status
		default:
			return webhook.Invalid("status", "must be active or inactive, got %q", *in.Status)
		}
	}
	if in.Headers != nil {
		h, err := keepRedacted(in.Headers, ep.Headers)
		if err != nil {
			return err
		}
		if err := sender.ValidateHeaders(h); err != nil {
			return err
		}
		ep.Headers = h
		if len(ep.Headers) == 0 {
			ep.Headers = nil
		}
	}
	if in.Retry != nil {
		if err := in.Retry.Validate(); err != nil {
			return err
		}
		ep.Retry = *in.Retry
	}
	if in.Filter != nil || in.FilterText != nil {
		f, err := s.compileFilter(in)
		if err != nil {
			return err
		}
		ep.Filter = nil
		if f != nil {
			ep.Filter = f.JSON()
		}
	}
	if in.RateLimitPerMinute != nil {
		r := *in.RateLimitPerMinute
		if r < 1 || r > s.Plan.RatePerMinute {
			return webhook.Invalid("rate_limit_per_minute", "must be between 1 and %d (the %s plan's limit), got %d", s.Plan.RatePerMinute, s.Plan.Name, r)
		}
		ep.RateLimitPerMinute = r
	}
	return nil
}

// compileFilter validates a filter given as JSON or text; nil means "no
// filter" (removal).
func (s *Service) compileFilter(in Input) (*filter.Filter, error) {
	field, raw := "filter", strings.TrimSpace(string(in.Filter))
	if in.FilterText != nil {
		if in.Filter != nil {
			return nil, webhook.Invalid("filter_text", "give filter or filter_text, not both")
		}
		field, raw = "filter_text", *in.FilterText
	}
	if raw == "" || raw == "null" || raw == `""` {
		return nil, nil
	}
	if !s.Plan.CustomFilters {
		return nil, &webhook.Error{Kind: webhook.KindLimit, Field: field,
			Message: fmt.Sprintf("custom filters need the enterprise plan; this deployment is on %s", s.Plan.Name)}
	}
	var f *filter.Filter
	var err error
	if field == "filter_text" {
		f, err = filter.Parse(raw)
	} else {
		f, err = filter.FromJSON([]byte(raw))
	}
	return f, filterError(field, err)
}

// filterError turns a filter compile error into an invalid-input error
// naming the faulty node ("filter.and[1].or[0].field") or the text offset.
func filterError(field string, err error) error {
	if err == nil {
		return nil
	}
	var fe *filter.Error
	if !errors.As(err, &fe) {
		return webhook.Invalid(field, "%v", err)
	}
	switch {
	case field == "filter_text" && fe.Path != "":
		return webhook.Invalid(field, "at %s (line:column): %s", fe.Path, fe.Msg)
	case field == "filter_text":
		return webhook.Invalid(field, "at offset %d: %s", fe.Offset, fe.Msg)
	case fe.Path != "":
		return webhook.Invalid(field+"."+fe.Path, "%s", fe.Msg)
	}
	return webhook.Invalid(field, "%s", fe.Msg)
}

func (s *Service) checkEventTypes(types []string) error {
	if len(types) == 0 {
		return webhook.Invalid("event_types", "must not be empty")
	}
	if len(types) > MaxEventTypes {
		return webhook.Invalid("event_types", "at most %d entries", MaxEventTypes)
	}
	seen := map[string]bool{}
	for i, t := range types {
		field := fmt.Sprintf("event_types[%d]", i)
		if err := catalog.ValidSubscription(t); err != nil {
			return webhook.Invalid(field, "%v", err)
		}
		if seen[t] {
			return webhook.Invalid(field, "%q is listed twice", t)
		}
		seen[t] = true
		if !s.selectsAllowed(t) {
			return &webhook.Error{Kind: webhook.KindLimit, Field: field,
				Message: fmt.Sprintf("%s is not available on the %s plan (available: %s)", t, s.Plan.Name, strings.Join(s.Plan.EventTypes, ", "))}
		}
	}
	return nil
}

// selectsAllowed reports whether subscription sub selects at least one
// event type the plan allows.
func (s *Service) selectsAllowed(sub string) bool {
	for _, t := range catalog.Types() {
		if webhook.SubscriptionMatches(sub, t.Name) && s.Plan.Allows(t.Name) {
			return true
		}
	}
	return false
}
