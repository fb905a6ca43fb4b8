// Package api serves the management API (JSON under /v1) over net/http:
// local mode mounts it on its port, and the management Lambda serves it
// behind API Gateway. It only translates HTTP to the manage service and
// maps error kinds to statuses, once, here:
//
//	invalid → 400, limit → 403, not_found → 404, conflict → 409,
//	body too large → 413, anything else → 503 (retry later).
//
// Errors are {"error":{"code","message","field"}}.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/phoneshield/webhooks/shared/filter"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// MaxBody caps request bodies.
const MaxBody = 64 << 10

// Route is one operation of the API.
type Route struct{ Method, Path string }

// Routes lists every operation served, in the order of the OpenAPI
// document (a test checks the two agree).
func Routes() []Route {
	var out []Route
	for _, r := range (&api{}).routes() {
		out = append(out, r.Route)
	}
	return out
}

type route struct {
	Route
	h http.HandlerFunc
}

func (a *api) routes() []route {
	return []route{
		{Route{"POST", "/v1/webhooks"}, a.create},
		{Route{"GET", "/v1/webhooks"}, a.list},
		{Route{"GET", "/v1/webhooks/{id}"}, a.get},
		{Route{"PATCH", "/v1/webhooks/{id}"}, a.update},
		{Route{"DELETE", "/v1/webhooks/{id}"}, a.delete},
		{Route{"POST", "/v1/webhooks/{id}/enable"}, a.setStatus(webhook.StatusActive)},
		{Route{"POST", "/v1/webhooks/{id}/disable"}, a.setStatus(webhook.StatusInactive)},
		{Route{"POST", "/v1/webhooks/{id}/rotate-secret"}, a.rotate},
		{Route{"POST", "/v1/webhooks/{id}/test"}, a.test},
		{Route{"GET", "/v1/webhooks/{id}/deliveries"}, a.deliveries},
		{Route{"GET", "/v1/webhooks/{id}/deliveries/{delivery_id}"}, a.delivery},
		{Route{"GET", "/v1/dlq"}, a.dlq},
		{Route{"GET", "/v1/dlq/counts"}, a.dlqCounts},
		{Route{"GET", "/v1/dlq/{id}"}, a.dlqGet},
		{Route{"POST", "/v1/dlq/redrive"}, a.dlqBulk(func(ctx context.Context, q manage.DLQSelector, n int) (manage.BulkResult, error) {
			return a.svc.Redrive(ctx, q, n)
		})},
		{Route{"POST", "/v1/dlq/purge"}, a.dlqBulk(func(ctx context.Context, q manage.DLQSelector, n int) (manage.BulkResult, error) {
			return a.svc.Purge(ctx, q, n)
		})},
		{Route{"POST", "/v1/filters/test"}, a.filterTest},
		{Route{"GET", "/v1/event-types"}, a.eventTypes},
		{Route{"GET", "/v1/plan"}, a.plan},
		{Route{"GET", "/v1/openapi.json"}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(OpenAPI)
		}},
	}
}

// Handler returns the /v1 management API.
func Handler(svc *manage.Service, log *slog.Logger) http.Handler {
	a := &api{svc: svc, log: log}
	mux := http.NewServeMux()
	for _, r := range a.routes() {
		mux.HandleFunc(r.Method+" "+r.Path, r.h)
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", "), "")
			return
		}
		WriteError(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path, "")
	})
	return mux
}

// allowed lists the methods a route of mux serves at r's path (none: no
// route has it). The catch-all "/v1/" pattern, which answers unknown paths
// with the JSON error shape, matches every method, so the mux's own 405
// never happens; this gives it back.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "/v1/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

type api struct {
	svc *manage.Service
	log *slog.Logger
}

// EndpointView is an endpoint as the API shows it: never the secret, except
// in the response to create (and, later, rotate).
type EndpointView struct {
	ID                 string                 `json:"id"`
	URL                string                 `json:"url"`
	Description        string                 `json:"description"`
	EventTypes         []string               `json:"event_types"`
	Status             webhook.EndpointStatus `json:"status"`
	Headers            map[string]string      `json:"headers"`
	Retry              webhook.RetrySettings  `json:"retry"`
	RateLimitPerMinute int                    `json:"rate_limit_per_minute,omitempty"`
	Filter             json.RawMessage        `json:"filter,omitempty"`      // JSON tree
	FilterText         string                 `json:"filter_text,omitempty"` // the same filter, text form
	Version            int64                  `json:"version"`
	CreatedAt          time.Time              `json:"created_at"`
	UpdatedAt          time.Time              `json:"updated_at"`
	Secret             string                 `json:"secret,omitempty"`
}

// View returns the public view of ep, without its secret.
func View(ep *webhook.Endpoint) EndpointView {
	// Credentials (sender.Sensitive) are shown by name only, as in the
	// delivery log; an update that gives the placeholder back keeps them.
	h := sender.RedactHeaders(ep.Headers)
	v := EndpointView{
		ID: ep.ID, URL: ep.URL, Description: ep.Description, EventTypes: ep.EventTypes,
		Status: ep.Status, Headers: h, Retry: ep.Retry, RateLimitPerMinute: ep.RateLimitPerMinute,
		Version: ep.Version, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt,
	}
	if len(ep.Filter) > 0 {
		if f, err := filter.FromStoredJSON(ep.Filter); err == nil {
			v.Filter, v.FilterText = f.JSON(), f.String()
		}
	}
	return v
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	var in manage.Input
	if !a.decode(w, r, &in) {
		return
	}
	ep, err := a.svc.Create(r.Context(), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := View(ep)
	v.Secret = string(ep.Secret)
	writeJSON(w, http.StatusCreated, v)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	eps, err := a.svc.List(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]EndpointView, len(eps))
	for i, ep := range eps {
		out[i] = View(ep)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	ep, err := a.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, View(ep))
}

func (a *api) update(w http.ResponseWriter, r *http.Request) {
	var in manage.Input
	if !a.decode(w, r, &in) {
		return
	}
	ep, err := a.svc.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, View(ep))
}

func (a *api) delete(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.Delete(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) setStatus(st webhook.EndpointStatus) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.noBody(w, r) {
			return
		}
		ep, err := a.svc.SetStatus(r.Context(), r.PathValue("id"), st)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, View(ep))
	}
}

func (a *api) rotate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OverlapHours *float64 `json:"overlap_hours"`
	}
	if !a.decodeOptional(w, r, &in) {
		return
	}
	overlap := manage.DefaultOverlap
	if in.OverlapHours != nil {
		overlap = time.Duration(*in.OverlapHours * float64(time.Hour))
	}
	ep, err := a.svc.RotateSecret(r.Context(), r.PathValue("id"), overlap)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{"id": ep.ID, "secret": string(ep.Secret), "version": ep.Version}
	if !ep.PreviousSecretExpires.IsZero() {
		out["previous_secret_expires"] = ep.PreviousSecretExpires
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) test(w http.ResponseWriter, r *http.Request) {
	var in struct {
		EventType string          `json:"event_type"`
		Detail    json.RawMessage `json:"detail"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	res, err := a.svc.SendTest(r.Context(), r.PathValue("id"), in.EventType, in.Detail)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (a *api) deliveries(w http.ResponseWriter, r *http.Request) {
	p, ok := page(w, r)
	if !ok {
		return
	}
	q := manage.DeliveryQuery{Status: webhook.DeliveryStatus(r.URL.Query().Get("status")), EventType: r.URL.Query().Get("event_type"), Page: p}
	if q.Since, ok = timeParam(w, r, "since"); !ok {
		return
	}
	if q.Until, ok = timeParam(w, r, "until"); !ok {
		return
	}
	ds, next, err := a.svc.Deliveries(r.Context(), r.PathValue("id"), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	views := make([]*webhook.Delivery, len(ds))
	for i, d := range ds {
		views[i] = deliveryView(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": views, "next_cursor": next})
}

func (a *api) delivery(w http.ResponseWriter, r *http.Request) {
	d, err := a.svc.Delivery(r.Context(), r.PathValue("id"), r.PathValue("delivery_id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deliveryView(d))
}

// deliveryView is d as the API shows it: a delivery logged without a
// request (one a filter turned down) shows its request's headers as {},
// the object the document promises, not null.
func deliveryView(d *webhook.Delivery) *webhook.Delivery {
	if d.Request.Headers != nil {
		return d
	}
	v := *d
	v.Request.Headers = map[string]string{}
	return &v
}

// dlqSelector reads a DLQ selection from the query string.
func dlqSelector(w http.ResponseWriter, r *http.Request) (manage.DLQSelector, bool) {
	q := manage.DLQSelector{EndpointID: r.URL.Query().Get("endpoint_id"), EventType: r.URL.Query().Get("event_type")}
	var ok bool
	if q.Since, ok = timeParam(w, r, "since"); !ok {
		return q, false
	}
	q.Until, ok = timeParam(w, r, "until")
	return q, ok
}

func (a *api) dlq(w http.ResponseWriter, r *http.Request) {
	p, ok := page(w, r)
	if !ok {
		return
	}
	q, ok := dlqSelector(w, r)
	if !ok {
		return
	}
	dls, next, err := a.svc.DeadLetterList(r.Context(), q, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if dls == nil {
		dls = []*webhook.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": dls, "next_cursor": next})
}

func (a *api) dlqGet(w http.ResponseWriter, r *http.Request) {
	dl, err := a.svc.DeadLetter(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dl)
}

func (a *api) dlqCounts(w http.ResponseWriter, r *http.Request) {
	c, err := a.svc.DeadLetterCounts(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *api) dlqBulk(op func(context.Context, manage.DLQSelector, int) (manage.BulkResult, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID         string `json:"id"`
			EndpointID string `json:"endpoint_id"`
			EventType  string `json:"event_type"`
			Since      string `json:"since"` // parsed below, to name the field
			Until      string `json:"until"`
			All        bool   `json:"all"`
			Limit      int    `json:"limit"`
		}
		if !a.decode(w, r, &in) {
			return
		}
		q := manage.DLQSelector{ID: in.ID, EndpointID: in.EndpointID, EventType: in.EventType, All: in.All}
		var ok bool
		if q.Since, ok = parseTime(w, "since", in.Since); !ok {
			return
		}
		if q.Until, ok = parseTime(w, "until", in.Until); !ok {
			return
		}
		res, err := op(r.Context(), q, in.Limit)
		if err != nil && res.Done == 0 {
			a.fail(w, r, err)
			return
		}
		if err != nil {
			a.log.Error("bulk DLQ operation stopped early", "error", err.Error(), "done", res.Done)
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func (a *api) filterTest(w http.ResponseWriter, r *http.Request) {
	var in manage.FilterTest
	if !a.decode(w, r, &in) {
		return
	}
	res, err := a.svc.TestFilter(r.Context(), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (a *api) eventTypes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"data": a.svc.EventTypes()})
}

func (a *api) plan(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.PlanUsage(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func timeParam(w http.ResponseWriter, r *http.Request, name string) (time.Time, bool) {
	return parseTime(w, name, r.URL.Query().Get(name))
}

// parseTime parses s, a time in field name ("" is the zero time), writing
// an error naming the field when it is not one.
func parseTime(w http.ResponseWriter, name, s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "invalid", "must be an RFC 3339 time such as 2026-11-27T10:00:00Z", name)
		return time.Time{}, false
	}
	return t, true
}

// noBody accepts an empty body or an empty JSON object.
func (a *api) noBody(w http.ResponseWriter, r *http.Request) bool {
	var in struct{}
	return a.decodeOptional(w, r, &in)
}

// decodeOptional is decode for bodies that may be empty.
func (a *api) decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	return a.decode(w, r, v)
}

// page reads ?limit= and ?cursor=.
func page(w http.ResponseWriter, r *http.Request) (webhook.Page, bool) {
	var p webhook.Page
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			WriteError(w, http.StatusBadRequest, "invalid", "must be an integer between 1 and 1000", "limit")
			return p, false
		}
		p.Limit = n
	}
	p.Cursor = q.Get("cursor")
	return p, true
}

// decode reads a JSON body: at most MaxBody bytes, one object, no unknown
// fields. On failure it writes the error and returns false.
func (a *api) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		WriteError(w, http.StatusUnsupportedMediaType, "invalid", "Content-Type must be application/json", "")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			WriteError(w, http.StatusBadRequest, "invalid", "body must hold exactly one JSON object", "")
			return false
		}
		return true
	}
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		WriteError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body exceeds %d bytes", MaxBody), "")
	case errors.As(err, &syn):
		WriteError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, err), "")
	case errors.As(err, &typ):
		WriteError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("must be %s, got JSON %s", typ.Type, typ.Value), typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		WriteError(w, http.StatusBadRequest, "invalid", "unknown field", f)
	case errors.Is(err, io.EOF):
		WriteError(w, http.StatusBadRequest, "invalid", "body is empty; expected a JSON object", "")
	default:
		WriteError(w, http.StatusBadRequest, "invalid", "malformed JSON: "+err.Error(), "")
	}
	return false
}

// isJSON reports whether a Content-Type is application/json (media types
// are case-insensitive; parameters such as charset are allowed).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusServiceUnavailable, "unavailable"
	switch webhook.KindOf(err) {
	case webhook.KindInvalid:
		status, code = http.StatusBadRequest, "invalid"
	case webhook.KindLimit:
		status, code = http.StatusForbidden, "plan_limit"
	case webhook.KindNotFound:
		status, code = http.StatusNotFound, "not_found"
	case webhook.KindConflict:
		status, code = http.StatusConflict, "conflict"
	}
	msg := err.Error()
	var e *webhook.Error
	if errors.As(err, &e) && status != http.StatusServiceUnavailable {
		msg = e.Message
	}
	if status == http.StatusServiceUnavailable {
		a.log.Error("management request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		msg = "temporary failure; retry later"
	}
	WriteError(w, status, code, msg, webhook.FieldOf(err))
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// WriteError writes the API's error shape, {"error":{"code","message","field"}},
// with status; local mode's browser guard answers in it too.
func WriteError(w http.ResponseWriter, status int, code, msg, field string) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Field = code, msg, field
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
