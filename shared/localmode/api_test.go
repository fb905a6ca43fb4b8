package localmode

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
)

func TestEnableDisableAndConcurrentUpdates(t *testing.T) {
	_, c := start(t, nil)
	ctx := context.Background()
	var ep struct {
		ID      string
		Version int64
		Status  string
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": "https://a.example.com/h", "event_types": []string{"*"}}, &ep); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks/"+ep.ID+"/disable", nil, &ep); err != nil || ep.Status != "inactive" {
		t.Fatalf("disable: %v, status %s", err, ep.Status)
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks/"+ep.ID+"/enable", nil, &ep); err != nil || ep.Status != "active" {
		t.Fatalf("enable: %v, status %s", err, ep.Status)
	}
	// N concurrent updates without a version: every one lands.
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := c.Do(ctx, "PATCH", "/v1/webhooks/"+ep.ID, map[string]any{"description": fmt.Sprint("writer ", i)}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	before := ep.Version
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID, nil, &ep); err != nil {
		t.Fatal(err)
	}
	if got, want := ep.Version, before+n; got != want {
		t.Errorf("version after %d concurrent updates = %d, want %d (a write was lost)", n, got, want)
	}
	// With a version: exactly one of N racing updates wins, the rest get 409.
	var mu sync.Mutex
	results := map[int]int{}
	for i := range n {
		wg.Go(func() {
			err := c.Do(ctx, "PATCH", "/v1/webhooks/"+ep.ID, map[string]any{"description": fmt.Sprint("cas ", i), "version": ep.Version}, nil)
			code := 200
			if apiErr, isAPI := err.(*APIError); isAPI {
				code = apiErr.Status
			} else if err != nil {
				t.Error(err)
			}
			mu.Lock()
			results[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if results[200] != 1 || results[409] != n-1 {
		t.Errorf("conditional updates: %v, want one 200 and %d 409s", results, n-1)
	}
}

func TestRotateSecretOverlap(t *testing.T) {
	_, c := start(t, nil)
	ctx := context.Background()
	rcv := receiver(t)
	ep := register(t, c, rcv, "call.*")
	old := ep.Secret
	var rot struct {
		Secret                string
		PreviousSecretExpires time.Time `json:"previous_secret_expires"`
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks/"+ep.ID+"/rotate-secret", map[string]any{"overlap_hours": 1}, &rot); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == old || time.Until(rot.PreviousSecretExpires) < 59*time.Minute {
		t.Fatalf("rotate = %+v", rot)
	}
	// The receiver still knows only the old secret: the overlap keeps it valid.
	if err := c.PutEvents(ctx, []catalog.Entry{sample(t, "call.received", "evt_rot")}); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, c, ep.ID, 1, 10*time.Second)
	got, _ := rcv.Get("evt_rot")
	if !got.StandardOK {
		t.Fatal("old secret no longer verifies the Standard Webhooks signature during the overlap")
	}
	if err := signature.VerifyStandard([]string{rot.Secret}, got.Header, got.Body, 0, time.Now()); err != nil {
		t.Errorf("new secret does not verify: %v", err)
	}
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature holds %d signatures during the overlap, want 2", n)
	}
	if err := signature.VerifyPhoneShield(rot.Secret, got.Body, got.Header.Get("X-PhoneShield-Signature")); err != nil {
		t.Errorf("X-PhoneShield-Signature is not signed with the new (current) secret: %v", err)
	}
	var view map[string]any
	c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID, nil, &view)
	if fmt.Sprint(view) == "" || view["secret"] != nil || strings.Contains(fmt.Sprint(view), "whsec_") {
		t.Errorf("GET after rotation shows a secret: %v", view)
	}
}

func TestSendTestEvent(t *testing.T) {
	_, c := start(t, nil)
	ctx := context.Background()
	rcv := receiver(t)
	ep := register(t, c, rcv, "user.*") // a test may use any type
	var res struct {
		EventID    string `json:"event_id"`
		StatusCode int    `json:"status_code"`
		Response   string
		Request    struct {
			Headers map[string]string
			Body    string
		}
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks/"+ep.ID+"/test", map[string]any{"event_type": "call.completed"}, &res); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.Contains(res.Response, "Webhook received") || !strings.HasPrefix(res.EventID, "evt_test_") {
		t.Errorf("test result = %+v", res)
	}
	if got, _ := rcv.Get(res.EventID); !got.PhoneShieldOK || !got.StandardOK {
		t.Errorf("test delivery not verified by the receiver: %+v", got)
	}
	if res.Request.Headers["X-Phoneshield-Event-Type"] != "call.completed" || strings.Contains(fmt.Sprint(res.Request.Headers), "v1,") {
		t.Errorf("headers sent = %v (want the event type and no signatures)", res.Request.Headers)
	}
	err := c.Do(ctx, "POST", "/v1/webhooks/"+ep.ID+"/test", map[string]any{"event_type": "call.completed", "detail": map[string]any{"data": map[string]any{"call_id": 5}}}, nil)
	if !isStatus(err, 400) || !strings.Contains(err.Error(), "detail.data.call_id") {
		t.Errorf("bad detail: %v, want 400 naming detail.data.call_id", err)
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks/"+ep.ID+"/test", map[string]any{"event_type": "nope"}, nil); !isStatus(err, 400) {
		t.Errorf("unknown type: %v, want 400", err)
	}
}

func TestDeliveryQueriesAndDLQOperations(t *testing.T) {
	_, c := start(t, nil)
	ctx := context.Background()
	rcv := receiver(t)
	var failing sync.Map
	rcv.Fail = func(typ string, _ int) int {
		if _, ok := failing.Load(typ); ok {
			return http.StatusInternalServerError
		}
		return 0
	}
	failing.Store("voicemail.recorded", true)
	zero := 0
	ep := register(t, c, rcv)
	if err := c.Do(ctx, "PATCH", "/v1/webhooks/"+ep.ID, map[string]any{"retry": map[string]any{"max_retries": zero}}, nil); err != nil {
		t.Fatal(err)
	}
	var entries []catalog.Entry
	for i := range 3 {
		entries = append(entries, sample(t, "voicemail.recorded", fmt.Sprint("evt_vm_", i)), sample(t, "call.received", fmt.Sprint("evt_call_", i)))
	}
	if err := c.PutEvents(ctx, entries); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, c, ep.ID, 6, 10*time.Second)

	var page struct {
		Data []*webhook.Delivery
		Next string `json:"next_cursor"`
	}
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID+"/deliveries?status=dead_lettered", nil, &page); err != nil || len(page.Data) != 3 {
		t.Fatalf("dead_lettered deliveries = %d (%v), want 3", len(page.Data), err)
	}
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID+"/deliveries?event_type=call.received&limit=2", nil, &page); err != nil || len(page.Data) != 2 || page.Next == "" {
		t.Fatalf("call.received page 1 = %d, next %q (%v)", len(page.Data), page.Next, err)
	}
	first := []string{page.Data[0].ID, page.Data[1].ID}
	page.Data = nil
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID+"/deliveries?event_type=call.received&limit=2&cursor="+page.Next, nil, &page); err != nil || len(page.Data) != 1 {
		t.Fatalf("call.received page 2 = %d (%v), want 1", len(page.Data), err)
	}
	if page.Data[0].ID == first[0] || page.Data[0].ID == first[1] {
		t.Error("page 2 repeats page 1")
	}
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID+"/deliveries?since=not-a-time", nil, nil); !isStatus(err, 400) || !strings.Contains(err.Error(), "since") {
		t.Errorf("bad since: %v", err)
	}
	var one webhook.Delivery
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID+"/deliveries/"+first[0], nil, &one); err != nil || len(one.Attempts) != 1 {
		t.Errorf("show delivery: %v, %+v", err, one)
	}
	if err := c.Do(ctx, "GET", "/v1/webhooks/"+ep.ID+"/deliveries/dlv_nope", nil, nil); !isStatus(err, 404) {
		t.Errorf("unknown delivery: %v", err)
	}

	var counts struct {
		Total       int
		ByEventType map[string]int `json:"by_event_type"`
	}
	if err := c.Do(ctx, "GET", "/v1/dlq/counts", nil, &counts); err != nil || counts.Total != 3 || counts.ByEventType["voicemail.recorded"] != 3 {
		t.Fatalf("counts = %+v (%v)", counts, err)
	}
	var dlq struct{ Data []*webhook.DeadLetter }
	if err := c.Do(ctx, "GET", "/v1/dlq?event_type=voicemail.recorded&endpoint_id="+ep.ID, nil, &dlq); err != nil || len(dlq.Data) != 3 {
		t.Fatalf("dlq list = %d (%v)", len(dlq.Data), err)
	}
	var dl webhook.DeadLetter
	if err := c.Do(ctx, "GET", "/v1/dlq/"+dlq.Data[0].ID, nil, &dl); err != nil || dl.Event == nil {
		t.Fatalf("dlq show: %v", err)
	}
	if err := c.Do(ctx, "POST", "/v1/dlq/redrive", map[string]any{}, nil); !isStatus(err, 400) {
		t.Errorf("redrive without a selector: %v, want 400", err)
	}
	// Purge one, redrive the rest to a receiver that now succeeds.
	var bulk struct{ Done, Remaining int }
	if err := c.Do(ctx, "POST", "/v1/dlq/purge", map[string]any{"id": dlq.Data[0].ID}, &bulk); err != nil || bulk.Done != 1 {
		t.Fatalf("purge one: %+v (%v)", bulk, err)
	}
	failing.Delete("voicemail.recorded")
	if err := c.Do(ctx, "POST", "/v1/dlq/redrive", map[string]any{"endpoint_id": ep.ID, "limit": 1}, &bulk); err != nil || bulk.Done != 1 || bulk.Remaining != 1 {
		t.Fatalf("redrive 1 of 2: %+v (%v)", bulk, err)
	}
	if err := c.Do(ctx, "POST", "/v1/dlq/redrive", map[string]any{"all": true}, &bulk); err != nil || bulk.Done != 1 || bulk.Remaining != 0 {
		t.Fatalf("redrive the rest: %+v (%v)", bulk, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		delivered := 0
		for i := range 3 {
			if g, _ := rcv.Get(fmt.Sprint("evt_vm_", i)); g.Requests == 2 {
				delivered++
			}
		}
		if delivered == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 redriven deliveries arrived", delivered)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Do(ctx, "GET", "/v1/dlq/counts", nil, &counts); err != nil || counts.Total != 0 {
		t.Errorf("DLQ after redrive: %+v (%v)", counts, err)
	}
}

func TestCatalogAndPlanRoutes(t *testing.T) {
	_, c := start(t, func(c *Config) { c.Plan = webhook.Standard })
	ctx := context.Background()
	var types struct {
		Data []struct {
			Name      string
			Available bool
		}
	}
	if err := c.Do(ctx, "GET", "/v1/event-types", nil, &types); err != nil || len(types.Data) != len(catalog.Types()) {
		t.Fatalf("event types: %d (%v)", len(types.Data), err)
	}
	avail := 0
	for _, ty := range types.Data {
		if ty.Available {
			avail++
		}
	}
	if avail != 3 {
		t.Errorf("%d types available on standard, want 3", avail)
	}
	var plan struct {
		Name          string
		MaxEndpoints  int `json:"max_endpoints"`
		EndpointsUsed int `json:"endpoints_used"`
	}
	if err := c.Do(ctx, "GET", "/v1/plan", nil, &plan); err != nil || plan.Name != "standard" || plan.MaxEndpoints != 3 || plan.EndpointsUsed != 0 {
		t.Errorf("plan = %+v (%v)", plan, err)
	}
	var doc map[string]any
	if err := c.Do(ctx, "GET", "/v1/openapi.json", nil, &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Errorf("openapi: %v", err)
	}
}

// TestAPIErrorShape checks the management API's error replies on the
// wire: a 4xx, JSON, and exactly {"error":{"code","message","field"}}
// (field omitted when no one field is at fault), whatever went wrong.
func TestAPIErrorShape(t *testing.T) {
	s, c := start(t, nil)
	var ep endpoint
	if err := c.Do(context.Background(), "POST", "/v1/webhooks", map[string]any{"url": "https://hooks.example.com/ps", "event_types": []string{"*"}}, &ep); err != nil {
		t.Fatal(err)
	}
	const jsonType = "application/json"
	for _, tt := range []struct {
		name, method, path, contentType, body string
		wantStatus                            int
		wantCode, wantField, wantMessage      string
	}{
		{"bad url scheme", "POST", "/v1/webhooks", jsonType, `{"url":"ftp://hooks.example.com/x","event_types":["*"]}`, 400, "invalid", "url", "https"},
		{"unknown field", "POST", "/v1/webhooks", jsonType, `{"url":"https://hooks.example.com/x","event_types":["*"],"colour":"red"}`, 400, "invalid", "colour", "unknown field"},
		{"wrong JSON type", "POST", "/v1/webhooks", jsonType, `{"url":7,"event_types":["*"]}`, 400, "invalid", "url", "must be string"},
		{"malformed JSON", "POST", "/v1/webhooks", jsonType, `{"url":`, 400, "invalid", "", "malformed JSON"},
		{"two objects", "POST", "/v1/webhooks", jsonType, `{} {}`, 400, "invalid", "", "exactly one JSON object"},
		{"not JSON content", "POST", "/v1/webhooks", "text/plain", `{}`, 415, "invalid", "", "Content-Type must be application/json"},
		{"body too large", "POST", "/v1/webhooks", jsonType, `{"description":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", "", "body exceeds"},
		{"bad status", "PATCH", "/v1/webhooks/" + ep.ID, jsonType, `{"status":"paused"}`, 400, "invalid", "status", ""},
		{"bad limit", "GET", "/v1/webhooks/" + ep.ID + "/deliveries?limit=0", "", "", 400, "invalid", "limit", "between 1 and 1000"},
		{"unknown endpoint", "GET", "/v1/webhooks/whk_nope", "", "", 404, "not_found", "", ""},
		{"unknown route", "GET", "/v1/nothing", "", "", 404, "not_found", "", "no such route"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.URL()+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != jsonType {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantStatus, jsonType)
			}
			var got map[string]map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != 1 || got["error"] == nil {
				t.Fatalf("reply is not {\"error\":{code, message, field}}: %v %v", got, err)
			}
			e := got["error"]
			want := map[string]string{"code": tt.wantCode, "message": e["message"]}
			if tt.wantField != "" {
				want["field"] = tt.wantField
			}
			if !maps.Equal(e, want) || e["message"] == "" || !strings.Contains(e["message"], tt.wantMessage) {
				t.Errorf("error = %v, want code %q, field %q, a message containing %q", e, tt.wantCode, tt.wantField, tt.wantMessage)
			}
		})
	}
}

// TestDeletedEndpointPollersDrainThenStop: an endpoint deleted while a
// retry is scheduled keeps its queue's pollers until the retry is
// dead-lettered ("endpoint was deleted"); then they stop, where they used
// to poll the empty queue for good.
func TestDeletedEndpointPollersDrainThenStop(t *testing.T) {
	s, c := start(t, nil)
	ctx := context.Background()
	rcv := receiver(t)
	var calls sync.WaitGroup
	calls.Add(1)
	var once sync.Once
	rcv.Fail = func(string, int) int {
		once.Do(calls.Done)
		return http.StatusServiceUnavailable
	}
	ep := register(t, c, rcv, "call.*")
	polled := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.pollers[ep.ID]
		return ok
	}
	if err := c.PutEvents(ctx, []catalog.Entry{sample(t, "call.received", "evt_orphan")}); err != nil {
		t.Fatal(err)
	}
	calls.Wait() // attempt 1 made (and failed): a retry is on its way
	if err := c.Do(ctx, "DELETE", "/v1/webhooks/"+ep.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for polled() {
		if time.Now().After(deadline) {
			v, f, d := s.db.QueueDepth(ep.ID)
			t.Fatalf("the deleted endpoint's pollers still run (queue: %d visible, %d in flight, %d delayed)", v, f, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var dlq struct {
		Data []*webhook.DeadLetter `json:"data"`
	}
	if err := c.Do(ctx, "GET", "/v1/dlq", nil, &dlq); err != nil {
		t.Fatal(err)
	}
	if len(dlq.Data) != 1 || dlq.Data[0].EndpointID != ep.ID || !strings.Contains(dlq.Data[0].Reason, "deleted") {
		t.Fatalf("DLQ = %+v, want the retry dead-lettered as its endpoint was deleted", dlq.Data)
	}
	if v, f, d := s.db.QueueDepth(ep.ID); v+f+d != 0 {
		t.Errorf("pollers stopped with %d visible, %d in flight, %d delayed messages left", v, f, d)
	}
}
