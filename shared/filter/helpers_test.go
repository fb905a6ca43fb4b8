package filter

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// sampleTime is the seed sample's call end: Wednesday 2025-04-30 15:24:39 UTC.
var sampleTime = time.Date(2025, 4, 30, 15, 24, 39, 0, time.UTC)

// sampleData returns the data of the catalog's call.completed sample.
func sampleData(t testing.TB) map[string]any {
	t.Helper()
	e, err := events.Sample("call.completed")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		t.Fatal(err)
	}
	return d.Data
}

// event builds an event of type typ at time at from the sample's data with
// patch applied (a nil value deletes the key).
func event(t testing.TB, typ string, at time.Time, patch map[string]any) *webhook.Event {
	t.Helper()
	d := sampleData(t)
	maps.Copy(d, patch)
	for k, v := range patch {
		if v == nil {
			delete(d, k)
		}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return &webhook.Event{ID: "evt_test", Type: typ, Time: at, Environment: "production", Data: raw}
}

func mustParse(t testing.TB, s string) *Filter {
	t.Helper()
	f, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}

func mustJSON(t testing.TB, s string) *Filter {
	t.Helper()
	f, err := FromJSON([]byte(s))
	if err != nil {
		t.Fatalf("FromJSON(%s): %v", s, err)
	}
	return f
}

// check evaluates f on ev every way there is (Eval, Match, and the filter
// recompiled from both of its canonical forms) and wants the same answer.
func check(t *testing.T, f *Filter, ev *webhook.Event, want bool) {
	t.Helper()
	got, why := f.Eval(Prepare(ev))
	if got != want {
		t.Errorf("%s: got %v, want %v (why: %s)", f, got, want, why)
	}
	if !got && why == "" {
		t.Errorf("%s: false without a why", f)
	}
	if got && why != "" {
		t.Errorf("%s: true with a why %q", f, why)
	}
	if m, tr := f.Match(ev); m != got || tr.Why != why {
		t.Errorf("%s: Match = %v, %q; Eval = %v, %q", f, m, tr.Why, got, why)
	}
	for _, g := range []*Filter{mustParse(t, f.String()), mustJSON(t, string(f.JSON()))} {
		if !g.Equal(f) {
			t.Errorf("%s: recompiled as %s", f, g)
		}
		if r, _ := g.Eval(Prepare(ev)); r != got {
			t.Errorf("%s: recompiled filter got %v", f, r)
		}
	}
}
