package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/bolt"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// The end-to-end API tests (every route, the error shape, through the
// local-mode binary too) are in package localmode; these are the API and
// management cases that need a store to hand or a hook between two calls.

// env is the API over the embedded store, wired as local mode wires it.
type env struct {
	db  *bolt.DB
	svc *manage.Service
	srv *httptest.Server
}

func newEnv(t *testing.T, plan webhook.Plan) *env {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "webhooks.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := &manage.Service{
		Endpoints: db, Log: db, DeadLetters: db, Plan: plan, URLs: egress.New(egress.Loopback...), AllowHTTP: true,
		Queue: db, QueueName: func(id string) string { return id },
	}
	srv := httptest.NewServer(Handler(svc, slog.New(slog.NewJSONHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return &env{db: db, svc: svc, srv: srv}
}

// call makes one request; the answer's body is decoded into a map.
func (e *env) call(t *testing.T, method, path, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

// endpoint creates an endpoint for https://a.example.com/h.
func (e *env) endpoint(t *testing.T) *webhook.Endpoint {
	t.Helper()
	u := "https://a.example.com/h"
	ep, err := e.svc.Create(context.Background(), manage.Input{URL: &u, EventTypes: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// errorField is the field an error answer names.
func errorField(m map[string]any) any {
	e, _ := m["error"].(map[string]any)
	return e["field"]
}

func (e *env) putDeadLetter(t *testing.T, id string, at time.Time) {
	t.Helper()
	if err := e.db.PutDeadLetter(context.Background(), deadLetter(id, "whk_gone", at)); err != nil {
		t.Fatal(err)
	}
}

// deadLetter is a dead letter of endpointID, put at at, of an event with
// its data.
func deadLetter(id, endpointID string, at time.Time) *webhook.DeadLetter {
	return &webhook.DeadLetter{ID: id, EndpointID: endpointID, Reason: "test", At: at,
		Event: &webhook.Event{ID: "evt_" + id, Type: "call.received", Time: at, Environment: "production", Data: json.RawMessage(`{}`)}}
}

// ids lists the "id" of each item of a listing's "data".
func ids(m map[string]any) []string {
	var out []string
	data, _ := m["data"].([]any)
	for _, d := range data {
		item, _ := d.(map[string]any)
		id, _ := item["id"].(string)
		out = append(out, id)
	}
	return out
}

// TestDLQPagesResumeAfterARemovedDeadLetter: the DLQ listing's cursor is a
// position, so a page resumes where the last one ended even once the dead
// letter it ended on is redriven or purged (what an operator does with a
// page); it used to be that dead letter's id, and every later one was
// skipped. A cursor the listing never returned is refused, naming it.
func TestDLQPagesResumeAfterARemovedDeadLetter(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	base := time.Now().Add(-time.Hour).UTC()
	for i := range 5 {
		e.putDeadLetter(t, fmt.Sprintf("dlv_%d", i), base.Add(time.Duration(i)*time.Second))
	}
	st, page1, _ := e.call(t, "GET", "/v1/dlq?limit=2", "")
	cursor, _ := page1["next_cursor"].(string)
	if got, want := fmt.Sprint(ids(page1)), "[dlv_0 dlv_1]"; st != 200 || got != want || cursor == "" {
		t.Fatalf("page 1 = %d %v, want %s and a cursor", st, page1, want)
	}
	if st, m, _ := e.call(t, "POST", "/v1/dlq/purge", `{"id":"dlv_1"}`); st != 200 {
		t.Fatalf("purge: %d %v", st, m)
	}
	st, page2, _ := e.call(t, "GET", "/v1/dlq?limit=2&cursor="+cursor, "")
	if got, want := fmt.Sprint(ids(page2)), "[dlv_2 dlv_3]"; st != 200 || got != want {
		t.Errorf("page 2 after page 1's last dead letter was purged = %d %v, want %s", st, page2, want)
	}
	st, page3, _ := e.call(t, "GET", "/v1/dlq?limit=2&cursor="+page2["next_cursor"].(string), "")
	if got, want := fmt.Sprint(ids(page3)), "[dlv_4]"; st != 200 || got != want || page3["next_cursor"] != "" {
		t.Errorf("page 3 = %d %v, want %s and no cursor", st, page3, want)
	}

	for _, bad := range []string{"not-a-cursor", "dlv_2", "ZGx2XzI"} { // the last: base64 of "dlv_2"
		if st, m, _ := e.call(t, "GET", "/v1/dlq?cursor="+bad, ""); st != 400 || errorField(m) != "cursor" {
			t.Errorf("GET /v1/dlq?cursor=%s = %d %v, want 400 naming cursor", bad, st, m)
		}
	}
}

// TestBulkTimesNameTheField: a redrive or purge whose since or until is
// not a time gets a 400 naming that field, as the listings' query
// parameters do.
func TestBulkTimesNameTheField(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	for _, op := range []string{"redrive", "purge"} {
		for _, tc := range []struct{ body, field string }{
			{`{"since":"yesterday"}`, "since"},
			{`{"all":true,"until":"2026-13-01T00:00:00Z"}`, "until"},
			{`{"since":5}`, "since"},
		} {
			if st, m, _ := e.call(t, "POST", "/v1/dlq/"+op, tc.body); st != 400 || errorField(m) != tc.field {
				t.Errorf("POST /v1/dlq/%s %s = %d %v, want 400 naming %s", op, tc.body, st, m, tc.field)
			}
		}
	}
	if st, m, _ := e.call(t, "POST", "/v1/dlq/purge", `{"since":"2026-11-01T00:00:00Z","until":"2026-11-02T00:00:00Z"}`); st != 200 {
		t.Errorf("purge with a valid range = %d %v, want 200", st, m)
	}
}

// TestWrongMethodIs405: a known path asked with a method it doesn't serve
// gets 405 with an Allow header and the JSON error shape; an unknown path
// still gets 404.
func TestWrongMethodIs405(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	st, m, _ := e.call(t, "POST", "/v1/webhooks", `{"url":"https://a.example.com/h","event_types":["*"]}`)
	if st != 201 {
		t.Fatal(st, m)
	}
	id := m["id"].(string)
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/v1/webhooks/" + id, "GET, HEAD, PATCH, DELETE"},
		{"GET", "/v1/webhooks/" + id + "/enable", "POST"},
		{"DELETE", "/v1/dlq", "GET, HEAD"},
		{"PATCH", "/v1/webhooks", "GET, HEAD, POST"},
	} {
		st, m, h := e.call(t, tc.method, tc.path, "")
		if code, _ := m["error"].(map[string]any); st != 405 || h.Get("Allow") != tc.allow || code["code"] != "method_not_allowed" {
			t.Errorf("%s %s = %d (Allow %q) %v, want 405 with Allow %q", tc.method, tc.path, st, h.Get("Allow"), m, tc.allow)
		}
	}
	if st, m, _ := e.call(t, "GET", "/v1/nothing-here", ""); st != 404 {
		t.Errorf("GET /v1/nothing-here = %d %v, want 404", st, m)
	}
}

// TestContentType: media types are case-insensitive and may carry
// parameters; anything else is refused with 415.
func TestContentType(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	for i, tc := range []struct {
		ct   string
		want int
	}{
		{"Application/JSON", 201},
		{"application/json; charset=utf-8", 201},
		{"application/jsonp", 415},
		{"text/plain", 415},
	} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/webhooks", strings.NewReader(fmt.Sprintf(`{"url":"https://h%d.example.com/h","event_types":["*"]}`, i)))
		req.Header.Set("Content-Type", tc.ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("create with Content-Type %q = %d, want %d", tc.ct, resp.StatusCode, tc.want)
		}
	}
}

// TestConcurrentCreatesKeepThePlanLimit: creates racing for the plan's
// last places never leave more endpoints than it allows (its check and
// the write are two steps; each create counts again once written).
func TestConcurrentCreatesKeepThePlanLimit(t *testing.T) {
	e := newEnv(t, webhook.Standard)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 20 {
		wg.Go(func() {
			st, _, _ := e.call(t, "POST", "/v1/webhooks", fmt.Sprintf(`{"url":"https://h%d.example.com/hook","event_types":["call.received"]}`, i))
			mu.Lock()
			codes[st]++
			mu.Unlock()
		})
	}
	wg.Wait()
	eps, err := e.svc.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) > webhook.Standard.MaxEndpoints || codes[201] != len(eps) || codes[201]+codes[403] != 20 {
		t.Errorf("%d endpoints stored on the standard plan, which allows %d (answers: %v)", len(eps), webhook.Standard.MaxEndpoints, codes)
	}
	// Once the race is over, the places left are taken one by one.
	for i := len(eps); i < webhook.Standard.MaxEndpoints; i++ {
		if st, m, _ := e.call(t, "POST", "/v1/webhooks", fmt.Sprintf(`{"url":"https://late%d.example.com/hook","event_types":["call.received"]}`, i)); st != 201 {
			t.Errorf("create %d after the race = %d %v, want 201", i, st, m)
		}
	}
	if st, m, _ := e.call(t, "POST", "/v1/webhooks", `{"url":"https://over.example.com/hook","event_types":["call.received"]}`); st != 403 || errorField(m) != "url" {
		t.Errorf("create over the limit = %d %v, want 403", st, m)
	}
}

// appendingLog is the store's delivery log with a hook run before each
// listing: it stands for deliveries the pipeline logs while a listing
// request is served.
type appendingLog struct {
	webhook.DeliveryLog
	calls  int
	before func(call int)
}

func (l *appendingLog) ListDeliveries(ctx context.Context, id string, p webhook.Page) ([]*webhook.Delivery, string, error) {
	l.calls++
	if l.before != nil {
		l.before(l.calls)
	}
	return l.DeliveryLog.ListDeliveries(ctx, id, p)
}

// TestDeliveryPagesUnderNewDeliveries: deliveries logged while pages are
// listed (newer, so before them) neither repeat nor skip a delivery of the
// pages that follow, with and without a filter.
func TestDeliveryPagesUnderNewDeliveries(t *testing.T) {
	for _, status := range []webhook.DeliveryStatus{"", webhook.DeliveryDelivered} {
		t.Run(cmp.Or(string(status), "all"), func(t *testing.T) {
			e := newEnv(t, webhook.Enterprise)
			ctx := context.Background()
			ep := e.endpoint(t)
			now := time.Now().UTC()
			add := func(id string, st webhook.DeliveryStatus, at time.Time) {
				d := &webhook.Delivery{ID: id, EndpointID: ep.ID, EventID: "evt_" + id, EventType: "call.received",
					Status: st, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
				if err := e.db.AppendAttempt(ctx, d, webhook.Attempt{N: 1, At: at, StatusCode: 200}); err != nil {
					t.Fatal(err)
				}
			}
			// 300 older deliveries, every third one pending.
			var want []string
			for i := range 300 {
				st := webhook.DeliveryDelivered
				if i%3 == 0 {
					st = webhook.DeliveryPending
				}
				add(fmt.Sprintf("dlv_%03d", i), st, now.Add(-time.Hour+time.Duration(i)*time.Second))
				if status == "" || st == status {
					want = append([]string{fmt.Sprintf("dlv_%03d", i)}, want...)
				}
			}
			log := &appendingLog{DeliveryLog: e.db}
			log.before = func(call int) { // a new delivery before every store listing
				add(fmt.Sprintf("new_%d", call), webhook.DeliveryDelivered, now.Add(time.Duration(call)*time.Millisecond))
			}
			e.svc.Log = log
			var got []string
			q := manage.DeliveryQuery{Status: status, Page: webhook.Page{Limit: 7}}
			for range 100 {
				ds, next, err := e.svc.Deliveries(ctx, ep.ID, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					if strings.HasPrefix(d.ID, "dlv_") { // the older ones
						got = append(got, d.ID)
					}
				}
				if next == "" {
					break
				}
				q.Page.Cursor = next
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("listed %d older deliveries, want each of the %d once, newest first:\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
}

// TestPlanUsageLeavesThePlanAlone: GET /v1/plan lists the plan's event
// types sorted without sorting the plan itself, which every fan-out and
// delivery reads (run with -race: it was a data race).
func TestPlanUsageLeavesThePlanAlone(t *testing.T) {
	plan := webhook.Plan{Name: "standard", MaxEndpoints: 3, RatePerMinute: 30,
		EventTypes: []string{"voicemail.recorded", "call.received", "call.completed"}, CorePayload: true}
	e := newEnv(t, plan)
	var wg sync.WaitGroup
	var got map[string]any
	wg.Go(func() { _, got, _ = e.call(t, "GET", "/v1/plan", "") })
	wg.Go(func() {
		for range 50 {
			_ = e.svc.EventTypes() // reads Plan.EventTypes
		}
	})
	wg.Wait()
	if got, want := strings.Join(plan.EventTypes, ","), "voicemail.recorded,call.received,call.completed"; got != want {
		t.Errorf("after GET /v1/plan the plan's event types are %s, want %s as they were", got, want)
	}
	if types := fmt.Sprint(got["event_types"]); types != "[call.completed call.received voicemail.recorded]" {
		t.Errorf("GET /v1/plan event_types = %s, want them sorted", types)
	}
}

// TestRedriveWaitsForAnInactiveEndpoint: a dead letter whose endpoint is
// disabled is skipped by a redrive, naming why, and keeps its attempts:
// sent, its task would have been dead-lettered again at once, and the
// record holding the attempts' outcomes replaced by one holding none.
// Once the endpoint is enabled, the redrive goes through.
func TestRedriveWaitsForAnInactiveEndpoint(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	ctx := context.Background()
	ep := e.endpoint(t)
	at := time.Now().Add(-time.Minute).UTC()
	dl := deadLetter("dlv_off", ep.ID, at)
	dl.Attempts = []webhook.Attempt{{N: 1, At: at, StatusCode: 500}, {N: 2, At: at, StatusCode: 500}}
	if err := e.db.PutDeadLetter(ctx, dl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetStatus(ctx, ep.ID, webhook.StatusInactive); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Redrive(ctx, manage.DLQSelector{All: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Done != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "inactive") {
		t.Errorf("redrive while disabled = %+v, want dlv_off skipped as inactive", res)
	}
	if got, err := e.db.GetDeadLetter(ctx, "dlv_off"); err != nil || len(got.Attempts) != 2 {
		t.Errorf("dead letter after it: %+v, %v; want it kept with its 2 attempts", got, err)
	}
	if n := e.db.QueueLen(ep.ID); n != 0 {
		t.Errorf("%d messages queued, want none", n)
	}

	if _, err := e.svc.SetStatus(ctx, ep.ID, webhook.StatusActive); err != nil {
		t.Fatal(err)
	}
	// A dead letter whose event data was not kept (cut to fit the SQS
	// DLQ) is skipped too: sent, the event would go out without it.
	cut := *dl
	cut.ID, cut.Event = "dlv_cut", &webhook.Event{ID: "evt_cut", Type: "call.received", Time: at, Environment: "production"}
	if err := e.db.PutDeadLetter(ctx, &cut); err != nil {
		t.Fatal(err)
	}
	if res, err := e.svc.Redrive(ctx, manage.DLQSelector{All: true}, 0); err != nil || res.Done != 1 || len(res.Skipped) != 1 || !strings.HasPrefix(res.Skipped[0], "dlv_cut: the event's data was not kept") {
		t.Errorf("redrive once enabled = %+v, %v; want dlv_off done, dlv_cut skipped", res, err)
	}
	if n := e.db.QueueLen(ep.ID); n != 1 {
		t.Errorf("%d messages queued, want the redriven task", n)
	}
}

// failingAtOnce is the store's queue where every task sent is
// dead-lettered again at once, as a delivery failing its only attempt
// would be (a new generation, at the end of the DLQ's order).
type failingAtOnce struct {
	*bolt.DB
	t *testing.T
}

func (q failingAtOnce) SendMessages(ctx context.Context, queue string, msgs []webhook.OutMessage) error {
	for range msgs {
		dl := deadLetter("dlv_real#1", queue, time.Now().UTC())
		dl.Generation = 1
		if err := q.DB.PutDeadLetter(ctx, dl); err != nil {
			q.t.Error(err)
		}
	}
	return q.DB.SendMessages(ctx, queue, msgs)
}

// TestRedriveLeavesWhatItDeadLetters: a redrive scanning a long DLQ
// doesn't reach, and redrive again, the dead letter of a delivery it has
// just redriven that failed at once: that one is left (counted as
// remaining) for the next call.
func TestRedriveLeavesWhatItDeadLetters(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	ctx := context.Background()
	ep := e.endpoint(t)
	at := time.Now().Add(-time.Hour).UTC()
	// The oldest: a real one; then 1000 poison records (skipped, so the
	// scan goes on to its second page of 1000).
	if err := e.db.PutDeadLetter(ctx, deadLetter("dlv_real", ep.ID, at)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := range 100 {
				n := w*100 + i
				dl := &webhook.DeadLetter{ID: fmt.Sprintf("poison_%04d", n), Reason: "poison input", Raw: "{", At: at.Add(time.Duration(n+1) * time.Millisecond)}
				if err := e.db.PutDeadLetter(ctx, dl); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	e.svc.Queue = failingAtOnce{e.db, t}
	res, err := e.svc.Redrive(ctx, manage.DLQSelector{All: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Done != 1 || res.Remaining != 1 || len(res.Skipped) != 1000 {
		t.Errorf("redrive = done %d, remaining %d, %d skipped; want 1 done, its new dead letter remaining, 1000 skipped", res.Done, res.Remaining, len(res.Skipped))
	}
	if n := e.db.QueueLen(ep.ID); n != 1 {
		t.Errorf("%d tasks queued, want 1 (the delivery redriven once)", n)
	}
}

// batchDLQ is the store's DLQ with a batch delete, as the SQS adapter has.
type batchDLQ struct {
	*bolt.DB
	batches int
}

func (b *batchDLQ) DeleteDeadLetters(ctx context.Context, ids []string) error {
	b.batches++
	for _, id := range ids {
		if err := b.DB.DeleteDeadLetter(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// TestBulkDeletesInOneBatch: a redrive or purge removes what it handled
// with one batch delete where the DLQ offers one (on SQS a delete per id
// scanned the whole queue each time).
func TestBulkDeletesInOneBatch(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	dlq := &batchDLQ{DB: e.db}
	e.svc.DeadLetters = dlq
	at := time.Now().Add(-time.Hour).UTC()
	for i := range 5 {
		e.putDeadLetter(t, fmt.Sprintf("dlv_%d", i), at.Add(time.Duration(i)*time.Second))
	}
	res, err := e.svc.Purge(context.Background(), manage.DLQSelector{All: true}, 0)
	if err != nil || res.Done != 5 || dlq.batches != 1 {
		t.Errorf("purge = %+v, %v after %d batch deletes; want 5 done in 1", res, err, dlq.batches)
	}
	if dls, _, _ := e.db.ListDeadLetters(context.Background(), webhook.Page{}); len(dls) != 0 {
		t.Errorf("%d dead letters left", len(dls))
	}
}

// TestFilteredDeliveryShowsAnObject: a delivery logged without a request
// (a filter turned the event down) shows request.headers as {}, as the
// document's schema says, not null.
func TestFilteredDeliveryShowsAnObject(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	ep := e.endpoint(t)
	now := time.Now()
	d := &webhook.Delivery{ID: webhook.DeliveryID(ep.ID, "evt_1"), EndpointID: ep.ID, EventID: "evt_1", EventType: "call.completed",
		Status: webhook.DeliveryFiltered, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.db.AppendAttempt(context.Background(), d, webhook.Attempt{N: 1, At: now, Error: "filtered out: x"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/webhooks/" + ep.ID + "/deliveries", "/v1/webhooks/" + ep.ID + "/deliveries/" + d.ID} {
		st, m, _ := e.call(t, "GET", path, "")
		if data, ok := m["data"].([]any); ok && len(data) == 1 {
			m = data[0].(map[string]any)
		}
		req, _ := m["request"].(map[string]any)
		if _, ok := req["headers"].(map[string]any); st != 200 || !ok {
			t.Errorf("GET %s = %d, request.headers %#v; want an object", path, st, req["headers"])
		}
	}
}

// TestTestEventTypeWithADetail: a test event's type defaults only for the
// catalog's sample; a detail needs its type named (it used to be checked
// against a type the server guessed).
func TestTestEventTypeWithADetail(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	ep := e.endpoint(t)
	if st, m, _ := e.call(t, "POST", "/v1/webhooks/"+ep.ID+"/test", `{"detail":{"data":{"call_id":"c"}}}`); st != 400 || errorField(m) != "event_type" {
		t.Errorf("test with a detail and no type = %d %v, want 400 naming event_type", st, m)
	}
}

// TestCredentialHeadersRedacted: the endpoint's views show a credential
// header (Authorization, API keys) by name only, as the delivery log does
// (they used to be returned in clear on every read), and an update that
// gives the placeholder back keeps the stored value; a placeholder with
// nothing stored under its name is refused, naming the header.
func TestCredentialHeadersRedacted(t *testing.T) {
	e := newEnv(t, webhook.Enterprise)
	ctx := context.Background()
	u := "https://a.example.com/h"
	const token, apiKey = "Bearer sk_live_51HxQ2eZvKYlo2C0123456789", "ak_9f8e7d6c5b4a39281706"
	ep, err := e.svc.Create(ctx, manage.Input{URL: &u, EventTypes: []string{"*"},
		Headers: map[string]string{"Authorization": token, "X-Api-Key": apiKey, "X-Tenant": "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/webhooks/" + ep.ID
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, path, ""},
		{http.MethodGet, "/v1/webhooks", ""},
		{http.MethodPatch, path, `{"description":"x"}`},
		{http.MethodPost, path + "/disable", ""},
	} {
		status, m, _ := e.call(t, c.method, c.path, c.body)
		if status != http.StatusOK {
			t.Fatalf("%s %s: HTTP %d %v", c.method, c.path, status, m)
		}
		view := m
		if data, ok := m["data"].([]any); ok && len(data) == 1 {
			view = data[0].(map[string]any)
		}
		if got, want := fmt.Sprint(view["headers"]), "map[Authorization:[redacted] X-Api-Key:[redacted] X-Tenant:acme]"; got != want {
			t.Errorf("%s %s: headers %s, want %s", c.method, c.path, got, want)
		}
	}

	// Read, edit, write back: the credentials are kept (a name in another
	// case included), the rest as given.
	status, m, _ := e.call(t, http.MethodPatch, path, `{"headers":{"Authorization":"[redacted]","x-api-key":"[redacted]","X-Tenant":"beta"}}`)
	if status != http.StatusOK {
		t.Fatalf("PATCH with placeholders: HTTP %d %v", status, m)
	}
	got, err := e.svc.Get(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(got.Headers), fmt.Sprintf("map[Authorization:%s X-Tenant:beta x-api-key:%s]", token, apiKey); got != want {
		t.Errorf("stored headers %s, want %s", got, want)
	}
	// A credential's placeholder with nothing stored is refused.
	status, m, _ = e.call(t, http.MethodPatch, path, `{"headers":{"X-Auth-Token":"[redacted]"}}`)
	if errObj, _ := m["error"].(map[string]any); status != http.StatusBadRequest || errObj["field"] != "headers.X-Auth-Token" {
		t.Errorf("PATCH with a placeholder for nothing stored: HTTP %d %v, want 400 naming headers.X-Auth-Token", status, m)
	}
}
