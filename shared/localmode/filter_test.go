package localmode

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// callCompleted returns the call.completed sample with its duration and
// transcript replaced.
func callCompleted(t *testing.T, id string, duration int, transcript string) catalog.Entry {
	t.Helper()
	e := sample(t, "call.completed", id)
	var d map[string]any
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		t.Fatal(err)
	}
	data := d["data"].(map[string]any)
	data["duration_seconds"] = duration
	data["transcript"] = transcript
	b, _ := json.Marshal(d)
	e.Detail = string(b)
	return e
}

// TestSeedFilterExample: "send call.completed only when the call lasted
// over 2 minutes AND pricing or quote was mentioned", end to end.
func TestSeedFilterExample(t *testing.T) {
	_, c := start(t, nil)
	ctx := context.Background()
	rcv := receiver(t)
	var ep struct {
		ID, Secret string
		FilterText string `json:"filter_text"`
		Filter     json.RawMessage
	}
	err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": rcv.URL(), "event_types": []string{"call.completed"},
		"filter_text": `duration_seconds > 120 and (transcript has "pricing" or transcript has "quote")`}, &ep)
	if err != nil {
		t.Fatal(err)
	}
	rcv.SetSecret(ep.Secret)
	var tree struct{ And []map[string]any }
	json.Unmarshal(ep.Filter, &tree)
	if !strings.Contains(ep.FilterText, "duration_seconds > 120") || len(tree.And) != 2 || tree.And[0]["op"] != ">" {
		t.Errorf("saved filter = %s / %s", ep.FilterText, ep.Filter)
	}
	err = c.PutEvents(ctx, []catalog.Entry{
		callCompleted(t, "evt_long_pricing", 187, "Could you send me your Pricing, please?"),
		callCompleted(t, "evt_long_quote", 300, "I need a quote."),
		callCompleted(t, "evt_short_pricing", 95, "What's the pricing?"),
		callCompleted(t, "evt_long_other", 400, "My order never arrived; I was misquoted on shipping."),
	})
	if err != nil {
		t.Fatal(err)
	}
	ds := waitSettled(t, c, ep.ID, 4, 10*time.Second)
	status := map[string]string{}
	why := map[string]string{}
	for _, d := range ds {
		status[d.EventID] = string(d.Status)
		if d.Status == webhook.DeliveryFiltered {
			why[d.EventID] = d.Attempts[0].Error
		}
	}
	for id, want := range map[string]string{"evt_long_pricing": "delivered", "evt_long_quote": "delivered", "evt_short_pricing": "filtered", "evt_long_other": "filtered"} {
		if status[id] != want {
			t.Errorf("%s: %s, want %s", id, status[id], want)
		}
	}
	if !strings.Contains(why["evt_short_pricing"], "duration_seconds") || !strings.Contains(why["evt_long_other"], "transcript") {
		t.Errorf("filtered reasons = %v, want the failing part named", why)
	}
	for _, id := range []string{"evt_short_pricing", "evt_long_other"} {
		if _, reached := rcv.Get(id); reached {
			t.Errorf("%s reached the receiver", id)
		}
	}
	// Dry run against a past delivery's event.
	var dry struct {
		Match bool
		Why   string
	}
	err = c.Do(ctx, "POST", "/v1/filters/test", map[string]any{"filter_text": `duration_seconds > 200`,
		"delivery_id": webhook.DeliveryID(ep.ID, "evt_long_pricing")}, &dry)
	if err != nil || dry.Match || !strings.Contains(dry.Why, "187") {
		t.Errorf("dry run = %+v (%v), want no match explaining the 187 s duration", dry, err)
	}
}

func TestFilterValidationAndPlan(t *testing.T) {
	ctx := context.Background()
	_, c := start(t, nil)
	for _, tc := range []struct {
		name      string
		body      map[string]any
		wantField string
	}{
		{"unknown field in JSON", map[string]any{"filter": map[string]any{"and": []any{map[string]any{"field": "duration_seconds", "op": ">", "value": 1}, map[string]any{"field": "colour", "op": "=", "value": "red"}}}}, "filter.and[1].field"},
		{"wrong type", map[string]any{"filter_text": `duration_seconds has "x"`}, "filter_text"},
		{"bad time zone", map[string]any{"filter_text": `time.hour >= 9 tz "Mars/Olympus"`}, "filter_text"},
		{"both forms", map[string]any{"filter_text": `ai_handled = true`, "filter": map[string]any{"field": "ai_handled", "op": "=", "value": true}}, "filter_text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.body["url"], tc.body["event_types"] = "https://a.example.com/", []string{"*"}
			err := c.Do(ctx, "POST", "/v1/webhooks", tc.body, nil)
			var apiErr *APIError
			if !isStatus(err, 400) || !asAPI(err, &apiErr) || apiErr.Field != tc.wantField {
				t.Errorf("err = %v, want 400 naming %s", err, tc.wantField)
			}
		})
	}
	_, std := start(t, func(c *Config) { c.Plan = webhook.Business })
	err := std.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": "https://a.example.com/", "event_types": []string{"*"}, "filter_text": "ai_handled = true"}, nil)
	if !isStatus(err, 403) {
		t.Errorf("filter on business: %v, want 403", err)
	}
}

func asAPI(err error, target **APIError) bool {
	e, ok := err.(*APIError)
	if ok {
		*target = e
	}
	return ok
}
