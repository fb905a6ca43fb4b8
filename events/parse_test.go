package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/envelope"
	"github.com/phoneshield/webhooks/shared/webhook"
)

var testTime = time.Date(2025, 4, 30, 15, 23, 47, 0, time.UTC)

// completedData returns valid call.completed data, for cases to change.
func completedData() map[string]any {
	return map[string]any{
		"call_id":           "call_9876543210",
		"phone_number":      "+15551234567",
		"caller_number":     "+15559876543",
		"caller_name":       "John Smith",
		"call_start":        "2025-04-30T15:21:32Z",
		"call_end":          "2025-04-30T15:23:47Z",
		"duration_seconds":  135,
		"direction":         "inbound",
		"status":            "completed",
		"ai_handled":        true,
		"forwarded":         false,
		"summary":           "John called about order #12345.",
		"topics":            []any{"order status", "shipping"},
		"sentiment":         "neutral",
		"urgency":           "medium",
		"transcript":        "Caller: Hi, I'm calling about pricing.",
		"transcription_url": "https://api.phoneshield.ai/v1/calls/call_9876543210/transcript",
		"recording_url":     "https://api.phoneshield.ai/v1/calls/call_9876543210/recording",
		"metadata":          map[string]any{"customer_id": "cust_987654"},
	}
}

// detailJSON marshals a detail {"event_id","environment","data"}.
func detailJSON(t testing.TB, d map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withData returns a production call.completed detail whose data is
// completedData changed by change.
func withData(t testing.TB, change func(map[string]any)) []byte {
	data := completedData()
	if change != nil {
		change(data)
	}
	return detailJSON(t, map[string]any{"event_id": "evt_1", "environment": "production", "data": data})
}

func set(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func del(ks ...string) func(map[string]any) {
	return func(m map[string]any) {
		for _, k := range ks {
			delete(m, k)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		eventType string // "" means call.completed, unless emptyType
		emptyType bool
		detail    []byte
		fallback  string
		wantField string
		wantMsg   string
	}{
		// detail-type
		{name: "no type", emptyType: true, detail: withData(t, nil), wantField: "detail-type", wantMsg: "required field is missing"},
		{name: "unknown type", eventType: "call.ended", detail: withData(t, nil), wantField: "detail-type", wantMsg: `unknown event type "call.ended"`},
		{name: "wildcard type", eventType: "call.*", detail: withData(t, nil), wantField: "detail-type", wantMsg: `unknown event type "call.*"`},
		{name: "type case", eventType: "Call.Completed", detail: withData(t, nil), wantField: "detail-type", wantMsg: "unknown event type"},

		// detail
		{name: "empty detail", detail: nil, wantField: "detail", wantMsg: "required field is missing"},
		{name: "blank detail", detail: []byte(" \n"), wantField: "detail", wantMsg: "required field is missing"},
		{name: "array detail", detail: []byte(`[{"data":{}}]`), wantField: "detail", wantMsg: "must be a JSON object, got array"},
		{name: "string detail", detail: []byte(`"{}"`), wantField: "detail", wantMsg: "must be a JSON object, got string"},
		{name: "number detail", detail: []byte(`42`), wantField: "detail", wantMsg: "must be a JSON object, got number"},
		{name: "null detail", detail: []byte(`null`), wantField: "detail", wantMsg: "must be a JSON object, got null"},
		{name: "truncated detail", detail: []byte(`{"data":{"call_id":"c"`), wantField: "detail", wantMsg: "invalid JSON"},
		{name: "trailing garbage", detail: []byte(`{"data":{}} x`), wantField: "detail", wantMsg: "invalid JSON"},
		{name: "not json", detail: []byte(`call_id=1`), wantField: "detail", wantMsg: "got invalid JSON"},

		// detail.event_id
		{name: "event_id number", detail: []byte(`{"event_id":42,"data":{}}`), fallback: "fb", wantField: "detail.event_id", wantMsg: "must be a string, got number"},
		{name: "event_id object", detail: []byte(`{"event_id":{},"data":{}}`), fallback: "fb", wantField: "detail.event_id", wantMsg: "must be a string, got object"},
		{name: "no event_id, no fallback", detail: []byte(`{"data":{}}`), wantField: "detail.event_id", wantMsg: "required field is missing"},
		{name: "empty event_id, no fallback", detail: []byte(`{"event_id":"","data":{}}`), wantField: "detail.event_id", wantMsg: "required field is missing"},
		{name: "event_id too long", detail: []byte(`{"event_id":"` + strings.Repeat("e", 129) + `","data":{}}`), wantField: "detail.event_id", wantMsg: "at most 128 characters, got 129"},
		{name: "event_id space", detail: []byte(`{"event_id":"evt 1","data":{}}`), wantField: "detail.event_id", wantMsg: "printable ASCII"},
		{name: "event_id newline", detail: []byte(`{"event_id":"evt\n1","data":{}}`), wantField: "detail.event_id", wantMsg: "printable ASCII"},
		{name: "event_id non-ASCII", detail: []byte(`{"event_id":"évt_1","data":{}}`), wantField: "detail.event_id", wantMsg: "printable ASCII"},
		{name: "event_id escaped control", detail: []byte(`{"event_id":"evt\u00001","data":{}}`), wantField: "detail.event_id", wantMsg: "printable ASCII"},
		{name: "bad fallback", detail: []byte(`{"data":{}}`), fallback: "id with spaces", wantField: "detail.event_id", wantMsg: "the fallback event id must be printable ASCII"},
		{name: "long fallback", detail: []byte(`{"data":{}}`), fallback: strings.Repeat("f", 200), wantField: "detail.event_id", wantMsg: "the fallback event id must be at most 128"},

		// detail.environment
		{name: "environment unknown", detail: []byte(`{"event_id":"e","environment":"staging","data":{}}`), wantField: "detail.environment", wantMsg: `must be "production" or "sandbox", got "staging"`},
		{name: "environment case", detail: []byte(`{"event_id":"e","environment":"Production","data":{}}`), wantField: "detail.environment", wantMsg: `got "Production"`},
		{name: "environment empty", detail: []byte(`{"event_id":"e","environment":"","data":{}}`), wantField: "detail.environment", wantMsg: `got ""`},
		{name: "environment bool", detail: []byte(`{"event_id":"e","environment":true,"data":{}}`), wantField: "detail.environment", wantMsg: "must be a string, got boolean"},

		// detail.data
		{name: "no data", detail: []byte(`{"event_id":"e"}`), wantField: "detail.data", wantMsg: "required field is missing"},
		{name: "null data", detail: []byte(`{"event_id":"e","data":null}`), wantField: "detail.data", wantMsg: "must be an object, got null"},
		{name: "array data", detail: []byte(`{"event_id":"e","data":[]}`), wantField: "detail.data", wantMsg: "must be an object, got array"},
		{name: "string data", detail: []byte(`{"event_id":"e","data":"{}"}`), wantField: "detail.data", wantMsg: "must be an object, got string"},

		// required fields
		{name: "empty data", detail: []byte(`{"event_id":"e","data":{}}`), wantField: "detail.data.call_id", wantMsg: "required field is missing"},
		{name: "missing call_id", detail: withData(t, del("call_id")), wantField: "detail.data.call_id", wantMsg: "required field is missing"},
		{name: "missing duration", detail: withData(t, del("duration_seconds")), wantField: "detail.data.duration_seconds", wantMsg: "required field is missing"},
		{name: "missing status", detail: withData(t, del("status")), wantField: "detail.data.status", wantMsg: "required field is missing"},
		{name: "null required", detail: withData(t, set("phone_number", nil)), wantField: "detail.data.phone_number", wantMsg: "must be a string, got null"},
		{name: "call_id number", detail: withData(t, set("call_id", 9876543210)), wantField: "detail.data.call_id", wantMsg: "must be a string, got number"},
		{name: "duration string", detail: withData(t, set("duration_seconds", "135")), wantField: "detail.data.duration_seconds", wantMsg: "must be an integer, got string"},
		{name: "duration fraction", detail: withData(t, set("duration_seconds", 135.5)), wantField: "detail.data.duration_seconds", wantMsg: "must be an integer, got 135.5"},
		{name: "duration bool", detail: withData(t, set("duration_seconds", true)), wantField: "detail.data.duration_seconds", wantMsg: "must be an integer, got boolean"},
		{name: "duration past doubles", detail: withData(t, set("duration_seconds", json.RawMessage("1"+strings.Repeat("0", 309)))), wantField: "detail.data.duration_seconds", wantMsg: "must be a finite number"},
		{name: "confidence past doubles", eventType: "transcription.completed", detail: []byte(`{"event_id":"e","data":{"call_id":"c1","transcript":"hi","confidence":1e400}}`), wantField: "detail.data.confidence", wantMsg: "must be a finite number: 1e400"},
		{name: "nested too deep", detail: withData(t, set("metadata", json.RawMessage(`{"x":`+strings.Repeat("[", 512)+strings.Repeat("]", 512)+`}`))), wantField: "detail", wantMsg: "more than 512 deep"},
		{name: "status object", detail: withData(t, set("status", map[string]any{})), wantField: "detail.data.status", wantMsg: "must be a string, got object"},
		{name: "caller not E.164", detail: withData(t, set("caller_number", "555-987-6543")), wantField: "detail.data.caller_number", wantMsg: `must be an E.164 phone number such as +15551234567, got "555-987-6543"`},
		{name: "caller no plus", detail: withData(t, set("caller_number", "15559876543")), wantField: "detail.data.caller_number", wantMsg: "E.164"},
		{name: "caller leading zero", detail: withData(t, set("caller_number", "+05559876543")), wantField: "detail.data.caller_number", wantMsg: "E.164"},
		{name: "caller too long", detail: withData(t, set("caller_number", "+1234567890123456")), wantField: "detail.data.caller_number", wantMsg: "E.164"},
		{name: "caller too short", detail: withData(t, set("caller_number", "+1")), wantField: "detail.data.caller_number", wantMsg: "E.164"},
		{name: "caller spaces", detail: withData(t, set("caller_number", "+1 555 987 6543")), wantField: "detail.data.caller_number", wantMsg: "E.164"},

		// optional fields, checked when present
		{name: "direction enum", detail: withData(t, set("direction", "sideways")), wantField: "detail.data.direction", wantMsg: `must be one of inbound, outbound; got "sideways"`},
		{name: "sentiment enum", detail: withData(t, set("sentiment", "angry")), wantField: "detail.data.sentiment", wantMsg: "must be one of positive, neutral, negative, mixed"},
		{name: "urgency enum", detail: withData(t, set("urgency", "urgent")), wantField: "detail.data.urgency", wantMsg: "must be one of low, medium, high"},
		{name: "call_start format", detail: withData(t, set("call_start", "2025-04-30 15:21:32")), wantField: "detail.data.call_start", wantMsg: "must be an RFC 3339 timestamp"},
		{name: "call_end number", detail: withData(t, set("call_end", 1746026627)), wantField: "detail.data.call_end", wantMsg: "must be a string, got number"},
		{name: "url scheme", detail: withData(t, set("recording_url", "ftp://example.com/r.mp3")), wantField: "detail.data.recording_url", wantMsg: "must be an absolute http(s) URL"},
		{name: "url relative", detail: withData(t, set("transcription_url", "/v1/calls/1/transcript")), wantField: "detail.data.transcription_url", wantMsg: "URL"},
		{name: "topics string", detail: withData(t, set("topics", "pricing")), wantField: "detail.data.topics", wantMsg: "must be an array, got string"},
		{name: "topics element", detail: withData(t, set("topics", []any{"pricing", 7})), wantField: "detail.data.topics[1]", wantMsg: "must be a string, got number"},
		{name: "ai_handled string", detail: withData(t, set("ai_handled", "yes")), wantField: "detail.data.ai_handled", wantMsg: "must be a boolean, got string"},
		{name: "metadata array", detail: withData(t, set("metadata", []any{})), wantField: "detail.data.metadata", wantMsg: "must be an object, got array"},
		{name: "long value is cut", detail: withData(t, set("direction", strings.Repeat("é", 100))), wantField: "detail.data.direction", wantMsg: `"…`},

		// other types
		{name: "transcript missing", eventType: "transcription.completed", detail: []byte(`{"event_id":"e","data":{"call_id":"c"}}`), wantField: "detail.data.transcript", wantMsg: "required field is missing"},
		{name: "confidence string", eventType: "transcription.completed", detail: []byte(`{"event_id":"e","data":{"call_id":"c","transcript":"hi","confidence":"high"}}`), wantField: "detail.data.confidence", wantMsg: "must be a number, got string"},
		{name: "voicemail_id missing", eventType: "voicemail.read", detail: []byte(`{"event_id":"e","data":{"call_id":"c"}}`), wantField: "detail.data.voicemail_id", wantMsg: "required field is missing"},
		{name: "recorded_at format", eventType: "voicemail.recorded", detail: []byte(`{"event_id":"e","data":{"voicemail_id":"vm","recorded_at":"yesterday"}}`), wantField: "detail.data.recorded_at", wantMsg: "RFC 3339"},
		{name: "system status enum", eventType: "system.status", detail: []byte(`{"event_id":"e","data":{"component":"api","status":"down"}}`), wantField: "detail.data.status", wantMsg: "must be one of operational, degraded"},
		{name: "severity enum", eventType: "system.error", detail: []byte(`{"event_id":"e","data":{"component":"api","message":"boom","severity":"fatal"}}`), wantField: "detail.data.severity", wantMsg: "must be one of info, warning, error, critical"},
		{name: "maintenance window", eventType: "system.maintenance", detail: []byte(`{"event_id":"e","data":{"component":"api","message":"m","starts_at":"soon"}}`), wantField: "detail.data.starts_at", wantMsg: "RFC 3339"},
		{name: "user email", eventType: "user.created", detail: []byte(`{"event_id":"e","data":{"user_id":"u","email":"jordan"}}`), wantField: "detail.data.email", wantMsg: "must be an email address"},
		{name: "user plan", eventType: "user.updated", detail: []byte(`{"event_id":"e","data":{"user_id":"u","plan":"gold"}}`), wantField: "detail.data.plan", wantMsg: "must be one of standard, business, enterprise"},
		{name: "user_id missing", eventType: "user.deleted", detail: []byte(`{"event_id":"e","data":{"email":"a@b.co"}}`), wantField: "detail.data.user_id", wantMsg: "required field is missing"},

		// order: the first failure in a fixed order
		{name: "type before detail", eventType: "nope", detail: []byte(`[]`), wantField: "detail-type"},
		{name: "event_id before environment", detail: []byte(`{"event_id":1,"environment":"x"}`), wantField: "detail.event_id"},
		{name: "environment before data", detail: []byte(`{"event_id":"e","environment":"x","data":[]}`), wantField: "detail.environment"},
		{name: "required in declared order", detail: withData(t, del("status", "call_id")), wantField: "detail.data.call_id"},
		{name: "required before optional", detail: withData(t, func(m map[string]any) { m["direction"] = "x"; delete(m, "status") }), wantField: "detail.data.status"},
		{name: "optional in declared order", detail: withData(t, func(m map[string]any) { m["urgency"] = "x"; m["call_start"] = "x" }), wantField: "detail.data.call_start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.eventType
			if typ == "" && !tt.emptyType {
				typ = "call.completed"
			}
			ev, err := Parse(typ, tt.detail, tt.fallback, testTime)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", ev)
			}
			if ev != nil {
				t.Errorf("Parse returned an event with its error")
			}
			var got *webhook.Error
			if e, ok := err.(*webhook.Error); ok {
				got = e
			} else {
				t.Fatalf("error %T %v, want a *webhook.Error", err, err)
			}
			if got.Kind != webhook.KindInvalid {
				t.Errorf("Kind = %q, want %q", got.Kind, webhook.KindInvalid)
			}
			if got.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (error: %v)", got.Field, tt.wantField, err)
			}
			if !strings.Contains(got.Message, tt.wantMsg) {
				t.Errorf("Message = %q, want it to contain %q", got.Message, tt.wantMsg)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name   string
		typ    string
		detail []byte
	}{
		{"complete", "call.completed", withData(t, nil)},
		{"only required", "call.completed", []byte(`{"data":{"call_id":"c","phone_number":"+15551234567","caller_number":"+442071838750","duration_seconds":0,"status":"missed"}}`)},
		{"integral float", "call.completed", withData(t, set("duration_seconds", 135.0))},
		{"integer exponent", "call.completed", []byte(`{"data":{"call_id":"c","phone_number":"+15551234567","caller_number":"+15559876543","duration_seconds":1.35e2,"status":"completed"}}`)},
		{"null optionals", "call.completed", withData(t, func(m map[string]any) { m["caller_name"] = nil; m["direction"] = nil; m["topics"] = nil })},
		{"empty topics", "call.completed", withData(t, set("topics", []any{}))},
		{"shortest E.164", "call.completed", withData(t, set("caller_number", "+12"))},
		{"longest E.164", "call.completed", withData(t, set("caller_number", "+123456789012345"))},
		{"timestamp with offset and fraction", "call.completed", withData(t, set("call_start", "2025-04-30T08:21:32.125-07:00"))},
		{"http url", "call.completed", withData(t, set("recording_url", "http://localhost:8080/r"))},
		{"unknown data fields", "call.completed", withData(t, set("crm", map[string]any{"stage": "lead"}))},
		{"unknown detail keys", "call.completed", []byte(`{"version":"2","data":{"call_id":"c","phone_number":"+15551234567","caller_number":"+15559876543","duration_seconds":3,"status":"completed"}}`)},
		{"whitespace around", "user.deleted", []byte("\n  {\"data\" : { \"user_id\" : \"u\" } }  \n")},
		{"escaped strings", "user.created", []byte(`{"data":{"user_id":"u\u0031","email":"jordan\u0040example.com","plan":"busin\u0065ss"}}`)},
		{"number where number", "transcription.completed", []byte(`{"data":{"call_id":"c","transcript":"hi","confidence":1}}`)},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.typ, tt.detail, "fallback", testTime); err != nil {
			t.Errorf("%s: Parse: %v", tt.name, err)
		}
	}
}

func TestParseEventIDAndEnvironment(t *testing.T) {
	const data = `"data":{"user_id":"u"}`
	tests := []struct {
		name     string
		detail   string
		fallback string
		wantID   string
		wantEnv  string
	}{
		{"own id", `{"event_id":"evt_abc","environment":"sandbox",` + data + `}`, "fb-1", "evt_abc", "sandbox"},
		{"absent id", `{"environment":"production",` + data + `}`, "fb-1", "fb-1", "production"},
		{"null id", `{"event_id":null,` + data + `}`, "fb-1", "fb-1", "production"},
		{"empty id", `{"event_id":"",` + data + `}`, "fb-1", "fb-1", "production"},
		{"escaped id", `{"event_id":"evt_\u0041",` + data + `}`, "", "evt_A", "production"},
		{"own id, no fallback", `{"event_id":"evt_x",` + data + `}`, "", "evt_x", "production"},
		{"128-char id", `{"event_id":"` + strings.Repeat("x", 128) + `",` + data + `}`, "", strings.Repeat("x", 128), "production"},
		{"null environment", `{"environment":null,` + data + `}`, "fb", "fb", "production"},
		{"uuid fallback", `{` + data + `}`, "6a7e3f1c-2b4d-4e8a-9c1f-0d2e3b4a5c6d", "6a7e3f1c-2b4d-4e8a-9c1f-0d2e3b4a5c6d", "production"},
	}
	for _, tt := range tests {
		ev, err := Parse("user.deleted", []byte(tt.detail), tt.fallback, testTime)
		if err != nil {
			t.Errorf("%s: Parse: %v", tt.name, err)
			continue
		}
		if ev.ID != tt.wantID || ev.Environment != tt.wantEnv {
			t.Errorf("%s: id, environment = %q, %q; want %q, %q", tt.name, ev.ID, ev.Environment, tt.wantID, tt.wantEnv)
		}
		if ev.Type != "user.deleted" || !ev.Time.Equal(testTime) {
			t.Errorf("%s: type, time = %q, %v", tt.name, ev.Type, ev.Time)
		}
	}
}

// Data is detail.data exactly as received: unknown fields, key order,
// spacing, escapes and number spellings are all kept.
func TestParseKeepsDataBytes(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		data string
	}{
		{"unknown fields", "call.received",
			`{"call_id":"c","phone_number":"+15551234567","caller_number":"+15559876543","crm":{"stage":"lead","score":1.50},"tags":["vip"],"z":null,"a":1e3}`},
		{"spacing and order", "user.created",
			"{ \"zeta\" : 1 ,\n\t\"user_id\" : \"u\" , \"alpha\" : [ 1 , 2 ] }"},
		{"escapes", "voicemail.read",
			`{"voicemail_id":"vm\u005f1","note":"caf\u00e9 \"quoted\" \/ <b>&amp;</b> \ud83d\ude00","emoji":"😀"}`},
		{"big numbers", "system.error",
			`{"component":"api","message":"m","count":12345678901234567890,"ratio":0.1000000000000000055511151231257827}`},
		{"duplicate keys", "user.deleted", `{"user_id":"u","user_id":"v","x":1,"x":2}`},
	}
	for _, tt := range tests {
		detail := `{"event_id":"e",  "data" :` + tt.data + ` , "environment":"sandbox"}`
		ev, err := Parse(tt.typ, []byte(detail), "", testTime)
		if err != nil {
			t.Errorf("%s: Parse: %v", tt.name, err)
			continue
		}
		if got, want := string(ev.Data), tt.data; got != want {
			t.Errorf("%s: Data = %s, want %s", tt.name, got, want)
		}
	}
}

// Parse must not keep a reference into the caller's buffer: the delivery
// pipeline reuses buffers.
func TestParseCopiesData(t *testing.T) {
	detail := []byte(`{"event_id":"e","data":{"user_id":"u"}}`)
	ev, err := Parse("user.deleted", detail, "", testTime)
	if err != nil {
		t.Fatal(err)
	}
	for i := range detail {
		detail[i] = 'x'
	}
	if got, want := string(ev.Data), `{"user_id":"u"}`; got != want {
		t.Errorf("Data = %s after the input changed, want %s", got, want)
	}
}

func BenchmarkParse(b *testing.B) {
	e, err := Sample("call.completed")
	if err != nil {
		b.Fatal(err)
	}
	detail := []byte(e.Detail)
	b.SetBytes(int64(len(detail)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(e.DetailType, detail, "fallback", testTime); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParse checks the walk against encoding/json: Parse never panics, it
// accepts only valid JSON objects, and what it accepts has the data and
// event id encoding/json finds.
func FuzzParse(f *testing.F) {
	for _, e := range Samples() {
		f.Add(e.DetailType, []byte(e.Detail))
	}
	f.Add("user.deleted", []byte(`{"data":{"user_id":"u","x":[{"a":"]}\"\\"},[]],"y":-1.5e3}}`))
	f.Add("user.deleted", []byte(`{"dat\u0061":{"user\u005fid":"u"},"data":{"user_id":"v"}}`))
	f.Add("call.completed", []byte(`{"data":{"topics":["a",1]}}`))
	f.Fuzz(func(t *testing.T, typ string, detail []byte) {
		ev, err := Parse(typ, detail, "fallback", testTime)
		if err != nil {
			if webhook.KindOf(err) != webhook.KindInvalid || webhook.FieldOf(err) == "" {
				t.Fatalf("error %v: want an invalid error naming a field", err)
			}
			return
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(detail, &top); err != nil {
			t.Fatalf("Parse accepted %q, which encoding/json rejects: %v", detail, err)
		}
		if got, want := string(ev.Data), string(top["data"]); got != want {
			t.Fatalf("Data = %s, encoding/json finds %s", got, want)
		}
		var data map[string]json.RawMessage
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatalf("data %s: %v", ev.Data, err)
		}
		ty, _ := Lookup(typ)
		for _, fd := range ty.Required {
			if _, ok := data[fd.Name]; !ok {
				t.Fatalf("Parse accepted data without required %s", fd.Name)
			}
		}
		var id string
		_ = json.Unmarshal(top["event_id"], &id)
		if id == "" {
			id = "fallback"
		}
		if ev.ID != id {
			t.Fatalf("ID = %q, encoding/json finds %q", ev.ID, id)
		}
	})
}

// TestFormatsAsReceiversReadThem: what Go's parsers let through but RFC
// 3339 and a URL with a host don't (and the guide's Node receiver can't
// read: new Date(...) is Invalid Date, new URL(...) throws) is refused.
func TestFormatsAsReceiversReadThem(t *testing.T) {
	for _, tc := range []struct{ field, value string }{
		{"call_start", "2025-04-30T15:21:32,5Z"},    // a comma before the fraction
		{"call_start", "2025-04-30T15:21:32+24:00"}, // offset hour 24
		{"call_start", "2025-04-30T15:21:32+00:60"}, // offset minute 60
		{"call_start", "2025-04-30T15:21:32.Z"},     // a point without digits
		{"recording_url", "https://:443/v1/calls/call_1/recording"},
		{"recording_url", "http://:8080/x"},
	} {
		if _, err := Parse("call.completed", withData(t, set(tc.field, tc.value)), "fb", testTime); err == nil {
			t.Errorf("%s %q accepted", tc.field, tc.value)
		}
	}
	for _, v := range []string{"2025-04-30T15:21:32.123456789Z", "2025-04-30T15:21:32-23:59", "2025-04-30T15:21:32+05:30"} {
		if _, err := Parse("call.completed", withData(t, set("call_start", v)), "fb", testTime); err != nil {
			t.Errorf("call_start %q refused: %v", v, err)
		}
	}
}

// TestParsedDetailsRender: every detail Parse accepts renders (the
// deliverer dead-letters a render failure as "a bug"; nesting past 512
// levels used to pass Parse and fail the render), and a declared number
// or integer field never reaches the receiver as null (1e400 is
// JavaScript's Infinity, which JSON.stringify writes as null).
func TestParsedDetailsRender(t *testing.T) {
	const head = `{"event_id":"evt_1","data":{"call_id":"c1","phone_number":"+15551234567","caller_number":"+15559876543","status":"completed",`
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	tests := []struct {
		name, typ, detail string
		accepted          bool // must be: the limits are no lower than need be
	}{
		{"metadata nested 600 deep", "call.completed", head + `"duration_seconds":1,"metadata":{"x":` + deep + `}}}`, false},
		{"undeclared field nested 513 deep", "call.completed", head + `"duration_seconds":1,"extra":` + strings.Repeat("[", 512) + strings.Repeat("]", 512) + `}}`, false},
		{"undeclared field nested 510 deep", "call.completed", head + `"duration_seconds":1,"extra":` + strings.Repeat("[", 510) + strings.Repeat("]", 510) + `}}`, true},
		{"integer overflowing to Infinity", "call.completed", head + `"duration_seconds":1` + strings.Repeat("0", 309) + `}}`, false},
		{"number overflowing to Infinity", "transcription.completed", `{"data":{"call_id":"c1","transcript":"hi","confidence":1e400}}`, false},
		{"the largest double", "transcription.completed", `{"data":{"call_id":"c1","transcript":"hi","confidence":1.7976931348623157e308}}`, true},
	}
	for _, tt := range tests {
		ev, err := Parse(tt.typ, []byte(tt.detail), "fallback", time.Unix(1e9, 0))
		if err != nil {
			if tt.accepted {
				t.Errorf("%s: %v, want it accepted", tt.name, err)
			}
			continue // rejected at the door: fine
		}
		body, err := envelope.Render(ev, "whk_1", webhook.Business)
		switch {
		case err != nil:
			t.Errorf("%s: Parse accepted it, but Render fails: %v", tt.name, err)
		case strings.Contains(string(body), `"duration_seconds":null`) || strings.Contains(string(body), `"confidence":null`):
			t.Errorf("%s: Parse accepted it as a number, but the body delivers null: …%s", tt.name, body[strings.Index(string(body), `"data"`):])
		}
	}
}
