package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// sampleFile reads samples/<name>.json from disk, independently of the
// embedded copy.
func sampleFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("samples", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSampleFilesAreTheCatalog(t *testing.T) {
	des, err := os.ReadDir("samples")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	var want []string
	for _, name := range designTypes {
		want = append(want, name+".json")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("samples/ holds %v, want %v", got, want)
	}
	if n := len(Samples()); n != len(designTypes) {
		t.Fatalf("len(Samples()) = %d, want %d", n, len(designTypes))
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	at := time.Date(2025, 4, 30, 15, 23, 47, 0, time.UTC)
	ids := map[string]string{}
	for i, name := range designTypes {
		t.Run(name, func(t *testing.T) {
			file := sampleFile(t, name)
			if len(file) >= 8<<10 {
				t.Errorf("sample is %d bytes, want under 8 KiB", len(file))
			}

			// The file is a PutEvents --entries file: one entry, exactly
			// the keys Source, DetailType and Detail.
			var raw []map[string]any
			if err := json.Unmarshal(file, &raw); err != nil {
				t.Fatal(err)
			}
			if len(raw) != 1 {
				t.Fatalf("file holds %d entries, want 1", len(raw))
			}
			var keys []string
			for k := range raw[0] {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if want := []string{"Detail", "DetailType", "Source"}; !slices.Equal(keys, want) {
				t.Errorf("entry keys = %v, want %v", keys, want)
			}

			got, err := Sample(name)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != webhook.Source || got.DetailType != name {
				t.Errorf("Source, DetailType = %q, %q; want %q, %q", got.Source, got.DetailType, webhook.Source, name)
			}
			if all := Samples(); !reflect.DeepEqual(all[i], got) {
				t.Errorf("Samples()[%d] = %+v, want %+v", i, all[i], got)
			}

			// Re-marshalled, the entry is the file's entry.
			again, err := json.Marshal([]Entry{got})
			if err != nil {
				t.Fatal(err)
			}
			var gotRaw []map[string]any
			if err := json.Unmarshal(again, &gotRaw); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotRaw, raw) {
				t.Errorf("re-marshalled entry = %s, want %s", again, file)
			}

			// The detail parses, and the event is the detail's.
			var detail struct {
				EventID     string          `json:"event_id"`
				Environment string          `json:"environment"`
				Data        json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal([]byte(got.Detail), &detail); err != nil {
				t.Fatal(err)
			}
			ev, err := Parse(got.DetailType, []byte(got.Detail), "fallback-id", at)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := &webhook.Event{ID: detail.EventID, Type: name, Time: at, Environment: detail.Environment, Data: detail.Data}
			if !reflect.DeepEqual(ev, want) {
				t.Errorf("Parse = %+v, want %+v", ev, want)
			}
			if !strings.HasPrefix(ev.ID, "evt_") || ev.Environment != webhook.EnvProduction {
				t.Errorf("event id %q, environment %q; want evt_..., production", ev.ID, ev.Environment)
			}
			if other, dup := ids[ev.ID]; dup {
				t.Errorf("event id %s is also %s's", ev.ID, other)
			}
			ids[ev.ID] = name

			// Every declared field is exercised somewhere: at least the
			// required ones are here, and the data is rich.
			var data map[string]json.RawMessage
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatal(err)
			}
			if len(data) < 6 {
				t.Errorf("data has %d fields; want a realistic, rich sample", len(data))
			}
		})
	}
}

// The seed's custom-filter example must match the call.completed sample:
// duration over 2 minutes and "pricing" mentioned in the transcript.
func TestCallCompletedSampleFitsSeedFilter(t *testing.T) {
	e, err := Sample("call.completed")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Data struct {
			DurationSeconds int      `json:"duration_seconds"`
			Transcript      string   `json:"transcript"`
			Topics          []string `json:"topics"`
			CallStart       string   `json:"call_start"`
			CallEnd         string   `json:"call_end"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		t.Fatal(err)
	}
	if d.Data.DurationSeconds <= 120 {
		t.Errorf("duration_seconds = %d, want over 120", d.Data.DurationSeconds)
	}
	if !strings.Contains(strings.ToLower(d.Data.Transcript), "pricing") {
		t.Error("transcript does not mention pricing")
	}
	start, _ := time.Parse(time.RFC3339, d.Data.CallStart)
	end, _ := time.Parse(time.RFC3339, d.Data.CallEnd)
	if got, want := int(end.Sub(start).Seconds()), d.Data.DurationSeconds; got != want {
		t.Errorf("call_end - call_start = %d s, want duration_seconds %d", got, want)
	}
}

func TestSampleUnknownType(t *testing.T) {
	for _, name := range []string{"", "call.*", "call.ended"} {
		_, err := Sample(name)
		if webhook.KindOf(err) != webhook.KindInvalid || webhook.FieldOf(err) != "event_type" {
			t.Errorf("Sample(%q) error = %v, want invalid event_type", name, err)
		}
	}
}

func TestSamplesAreCopies(t *testing.T) {
	all := Samples()
	all[0].Detail = "changed"
	all[0].Resources = append(all[0].Resources, "arn:changed")
	e, _ := Sample(all[0].DetailType)
	if e.Detail == "changed" || len(e.Resources) != 0 {
		t.Error("changing a returned sample changed the package's copy")
	}
}

func TestEntryJSON(t *testing.T) {
	at := time.Date(2025, 4, 30, 15, 23, 47, 250e6, time.UTC)
	tests := []struct {
		name string
		in   Entry
		want string
	}{
		{"minimal", Entry{Source: "phoneshield", DetailType: "call.completed", Detail: "{}"},
			`{"Source":"phoneshield","DetailType":"call.completed","Detail":"{}"}`},
		{"full", Entry{Source: "phoneshield", DetailType: "user.created", Detail: `{"data":{}}`, EventBusName: "phoneshield-events",
			Time: Timestamp{at}, Resources: []string{"arn:aws:example"}},
			`{"Source":"phoneshield","DetailType":"user.created","Detail":"{\"data\":{}}","EventBusName":"phoneshield-events","Time":1746026627.25,"Resources":["arn:aws:example"]}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%s: Marshal = %s, want %s", tt.name, got, tt.want)
		}
		var back Entry
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if !back.Time.Equal(tt.in.Time.Time) || back.Detail != tt.in.Detail || !slices.Equal(back.Resources, tt.in.Resources) {
			t.Errorf("%s: round trip = %+v, want %+v", tt.name, back, tt.in)
		}
	}
}

func TestTimestampUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{`1746026627`, time.Date(2025, 4, 30, 15, 23, 47, 0, time.UTC), false},
		{`1746026627.5`, time.Date(2025, 4, 30, 15, 23, 47, 500e6, time.UTC), false},
		{`"1746026627"`, time.Date(2025, 4, 30, 15, 23, 47, 0, time.UTC), false},
		{`"2025-04-30T15:23:47Z"`, time.Date(2025, 4, 30, 15, 23, 47, 0, time.UTC), false},
		{`"2025-04-30T08:23:47-07:00"`, time.Date(2025, 4, 30, 15, 23, 47, 0, time.UTC), false},
		{`null`, time.Time{}, false},
		{`"yesterday"`, time.Time{}, true},
		{`true`, time.Time{}, true},
	}
	for _, tt := range tests {
		var got Timestamp
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("Unmarshal(%s) = %v, want %v", tt.in, got.Time, tt.want)
		}
	}
}

// The files are pretty-printed JSON with a trailing newline, so they read
// well and diff cleanly.
func TestSampleFilesAreTidy(t *testing.T) {
	for _, name := range designTypes {
		file := sampleFile(t, name)
		if !json.Valid(file) || !bytes.HasPrefix(file, []byte("[\n  {\n")) || !bytes.HasSuffix(file, []byte("\n]\n")) {
			t.Errorf("%s: not a pretty-printed JSON array ending in a newline", name)
		}
	}
}

func TestWithEventID(t *testing.T) {
	e, err := Sample("call.completed")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.WithEventID("evt_copy")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Parse(got.DetailType, []byte(got.Detail), "fallback", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := Parse(e.DetailType, []byte(e.Detail), "fallback", time.Now())
	if ev.ID != "evt_copy" || string(ev.Data) != string(orig.Data) {
		t.Errorf("WithEventID: id %q, data changed %v", ev.ID, string(ev.Data) != string(orig.Data))
	}
	if _, err := (Entry{DetailType: "x", Detail: "{"}).WithEventID("a"); err == nil {
		t.Error("malformed detail: no error")
	}
}
