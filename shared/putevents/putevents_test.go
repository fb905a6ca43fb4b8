package putevents

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	catalog "github.com/phoneshield/webhooks/events"
)

// sink is a hand-written Sink that keeps what it accepts, or fails.
type sink struct {
	got  []events.EventBridgeEvent
	json [][]byte // the encoding handed with each
	fail error
}

func (s *sink) Accept(_ context.Context, evs []Accepted) error {
	if s.fail != nil {
		return s.fail
	}
	for _, a := range evs {
		s.got, s.json = append(s.got, a.Event), append(s.json, a.JSON)
	}
	return nil
}

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// call does one request against a Handler over s and decodes the reply.
func call(t *testing.T, s *sink, method, target, body string) (int, http.Header, map[string]any) {
	t.Helper()
	h := &Handler{Sink: s, Now: func() time.Time { return now }}
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("reply is not JSON: %v: %q", err, w.Body.String())
	}
	return w.Code, w.Header(), out
}

// entryJSON is the PutEvents entry of the catalog's sample of typ.
func entryJSON(t *testing.T, typ string) string {
	t.Helper()
	e, err := catalog.Sample(typ)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRequestErrors(t *testing.T) {
	good := entryJSON(t, "call.received")
	for _, tt := range []struct {
		name, method, target, body string
		wantStatus                 int
		wantType, wantMessage      string
	}{
		{"not a POST", http.MethodGet, Target, "", 405, "ValidationException", "must be a POST"},
		{"other operation", http.MethodPost, "AWSEvents.ListRules", "{}", 400, "UnknownOperationException", `not "AWSEvents.ListRules"`},
		{"body over 1 MiB", http.MethodPost, Target, `{"Entries":[` + strings.Repeat(" ", MaxBody) + `]}`, 413, "ValidationException", "request body exceeds 1048576 bytes"},
		{"truncated JSON", http.MethodPost, Target, `{"Entries":[`, 400, "SerializationException", "malformed PutEvents body"},
		{"Entries not a list", http.MethodPost, Target, `{"Entries":{}}`, 400, "SerializationException", "malformed PutEvents body"},
		{"no entries", http.MethodPost, Target, `{"Entries":[]}`, 400, "ValidationException", "Entries: must hold 1 to 10 entries, got 0"},
		{"no Entries field", http.MethodPost, Target, `{}`, 400, "ValidationException", "Entries: must hold 1 to 10 entries, got 0"},
		{"eleven entries", http.MethodPost, Target, `{"Entries":[` + strings.Repeat(good+",", 10) + good + `]}`, 400, "ValidationException", "got 11"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			status, header, got := call(t, s, tt.method, tt.target, tt.body)
			if status != tt.wantStatus || got["__type"] != tt.wantType || header.Get("X-Amzn-ErrorType") != tt.wantType {
				t.Errorf("got %d %v (X-Amzn-ErrorType %q), want %d %s", status, got, header.Get("X-Amzn-ErrorType"), tt.wantStatus, tt.wantType)
			}
			if msg, _ := got["message"].(string); !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMessage)
			}
			if len(s.got) != 0 {
				t.Errorf("%d events accepted from a rejected request", len(s.got))
			}
		})
	}
}

// TestEntryErrors sends one bad entry between two good ones: the bad one
// fails naming its field, the good ones are accepted, in order.
func TestEntryErrors(t *testing.T) {
	good := entryJSON(t, "call.received")
	for _, tt := range []struct{ name, entry, want, code string }{
		{"wrong source", `{"Source":"acme","DetailType":"call.received","Detail":"{}"}`, "Entries[1].Source: must be \"phoneshield\"", ""},
		{"unknown type", `{"Source":"phoneshield","DetailType":"call.exploded","Detail":"{}"}`, "Entries[1].DetailType", ""},
		{"no type", `{"Source":"phoneshield","Detail":"{}"}`, "Entries[1].DetailType", ""},
		{"detail not JSON", `{"Source":"phoneshield","DetailType":"call.received","Detail":"{nope"}`, "Entries[1].Detail: not valid JSON", "MalformedDetail"},
		{"detail JSON, not an object", `{"Source":"phoneshield","DetailType":"call.received","Detail":"[1]"}`, "Entries[1].Detail", ""},
		{"missing required field", `{"Source":"phoneshield","DetailType":"call.received","Detail":"{\"data\":{\"phone_number\":\"+15551234567\"}}"}`, "detail.data.call_id", ""},
		{"Time a string", `{"Source":"phoneshield","DetailType":"call.received","Detail":"{}","Time":"yesterday"}`, "Entries[1].Time: must be a timestamp in epoch seconds", ""},
		{"Time negative", `{"Source":"phoneshield","DetailType":"call.received","Detail":"{}","Time":-1}`, "Entries[1].Time", ""},
		{"Time past 9999", `{"Source":"phoneshield","DetailType":"call.received","Detail":"{}","Time":253402300800}`, "Entries[1].Time", ""},
		{"escapes past the limit", escaped(t, 50000), "Entries[1].Detail: the event is", ""},
		{"entry over 256 KiB", `{"Source":"phoneshield","DetailType":"call.received","Detail":"` + strings.Repeat("x", MaxEntrySize) + `"}`, "Entries[1].Detail: entry is", ""},
	} {
		if tt.code == "" {
			tt.code = "InvalidArgument"
		}
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{}
			status, _, got := call(t, s, http.MethodPost, Target, `{"Entries":[`+good+","+tt.entry+","+good+`]}`)
			if status != 200 || got["FailedEntryCount"] != float64(1) {
				t.Fatalf("got %d %v, want 200 with one failed entry", status, got)
			}
			entries, _ := got["Entries"].([]any)
			if len(entries) != 3 {
				t.Fatalf("Entries = %v, want 3 results", got["Entries"])
			}
			bad, _ := entries[1].(map[string]any)
			if msg, _ := bad["ErrorMessage"].(string); bad["ErrorCode"] != tt.code || !strings.Contains(msg, tt.want) || bad["EventId"] != nil {
				t.Errorf("bad entry's result = %v, want %s containing %q and no EventId", bad, tt.code, tt.want)
			}
			if len(s.got) != 2 {
				t.Fatalf("%d events accepted, want the 2 good ones", len(s.got))
			}
			for k, i := range []int{0, 2} {
				r, _ := entries[i].(map[string]any)
				if r["EventId"] != s.got[k].ID || r["ErrorCode"] != nil {
					t.Errorf("entry %d result = %v, want EventId %s", i, r, s.got[k].ID)
				}
			}
		})
	}
}

// escaped is a call.received entry whose data carries n '<', each of
// which JSON encodes as 6 bytes (\u003c).
func escaped(t *testing.T, n int) string {
	t.Helper()
	e, err := catalog.Sample("call.received")
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]any
	if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil {
		t.Fatal(err)
	}
	detail["data"].(map[string]any)["pad"] = strings.Repeat("<", n)
	var d strings.Builder
	enc := json.NewEncoder(&d)
	enc.SetEscapeHTML(false) // the entry as sent holds the '<' themselves
	if err := enc.Encode(detail); err != nil {
		t.Fatal(err)
	}
	e.Detail = d.String()
	b, _ := json.Marshal(e)
	return string(b)
}

func TestAcceptedEvent(t *testing.T) {
	s := &sink{}
	e, err := catalog.Sample("voicemail.recorded")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"Entries": []any{map[string]any{
		"Source": e.Source, "DetailType": e.DetailType, "Detail": e.Detail,
		"Time": 1795773600.5, "Resources": []string{"arn:aws:x"}, "EventBusName": "phoneshield",
	}}})
	status, _, got := call(t, s, http.MethodPost, Target, string(body))
	if status != 200 || got["FailedEntryCount"] != float64(0) || len(s.got) != 1 {
		t.Fatalf("got %d %v with %d accepted, want one accepted", status, got, len(s.got))
	}
	ev := s.got[0]
	if want, _ := json.Marshal(ev); string(s.json[0]) != string(want) {
		t.Errorf("the sink was handed %s, want the event's encoding %s", s.json[0], want)
	}
	if want := time.Unix(1795773600, 5e8).UTC(); !ev.Time.Equal(want) {
		t.Errorf("Time = %v, want %v (the entry's Time)", ev.Time, want)
	}
	if ev.DetailType != e.DetailType || ev.Source != e.Source || string(ev.Detail) != e.Detail ||
		ev.Version != "0" || ev.AccountID != "000000000000" || ev.Region != "local" ||
		len(ev.Resources) != 1 || ev.Resources[0] != "arn:aws:x" || len(ev.ID) != 36 {
		t.Errorf("event = %+v, want the entry as EventBridge hands it on", ev)
	}

	// Without a Time, the event is stamped when accepted; without
	// Resources, they are an empty list (as EventBridge sends them).
	s = &sink{}
	call(t, s, http.MethodPost, Target, `{"Entries":[`+entryJSON(t, "call.received")+`]}`)
	if len(s.got) != 1 || !s.got[0].Time.Equal(now) || s.got[0].Resources == nil {
		t.Errorf("events = %+v, want one stamped %v with empty Resources", s.got, now)
	}

	// A Time after 2262 is kept as given (its nanoseconds used to
	// overflow, making it 1677).
	s = &sink{}
	good := entryJSON(t, "call.received")
	call(t, s, http.MethodPost, Target, `{"Entries":[`+good[:len(good)-1]+`,"Time":10000000000.25}]}`)
	if want := time.Unix(10000000000, 25e7).UTC(); len(s.got) != 1 || !s.got[0].Time.Equal(want) {
		t.Errorf("events = %+v, want one at %v", s.got, want)
	}
}

// TestSinkFailure: when the events cannot be stored, every entry that
// would have been accepted fails as retryable, and none reports an id.
func TestSinkFailure(t *testing.T) {
	s := &sink{fail: errors.New("disk full")}
	good := entryJSON(t, "call.received")
	status, _, got := call(t, s, http.MethodPost, Target, `{"Entries":[`+good+`,{"Source":"x"},`+good+`]}`)
	if status != 200 || got["FailedEntryCount"] != float64(3) {
		t.Fatalf("got %d %v, want 200 with 3 failed entries", status, got)
	}
	entries, _ := got["Entries"].([]any)
	for _, i := range []int{0, 2} {
		r, _ := entries[i].(map[string]any)
		if r["ErrorCode"] != "InternalFailure" || r["EventId"] != nil {
			t.Errorf("entry %d result = %v, want InternalFailure and no EventId", i, r)
		}
	}
	if r, _ := entries[1].(map[string]any); r["ErrorCode"] != "InvalidArgument" {
		t.Errorf("entry 1 result = %v, want InvalidArgument", r)
	}
}

// TestBrokenBody: a body that can't be read to its end (the client went
// away) is a 400 saying so, not the 413 of a body over the limit.
func TestBrokenBody(t *testing.T) {
	h := &Handler{Sink: &sink{}, Now: func() time.Time { return now }}
	req := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader(`{"Entries":[`), iotest.ErrReader(errors.New("connection reset by peer"))))
	req.Header.Set("X-Amz-Target", Target)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if body := w.Body.String(); w.Code != http.StatusBadRequest || !strings.Contains(body, "connection reset by peer") {
		t.Errorf("got %d %s, want 400 naming the read error", w.Code, body)
	}
}
