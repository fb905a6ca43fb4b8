package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/jsjson/jsjsontest"
	"github.com/phoneshield/webhooks/shared/webhook"
)

var seedTime = time.Date(2025, 4, 30, 15, 23, 47, 0, time.UTC)

func seedEvent() *webhook.Event {
	return &webhook.Event{
		ID: "evt_1", Type: "call.completed", Time: seedTime,
		Environment: webhook.EnvProduction, Data: json.RawMessage(jsjsontest.SeedData),
	}
}

func head(typ, ts, env, hook, id string) string {
	return `{"event_type":"` + typ + `","timestamp":"` + ts + `","version":"1.0","environment":"` + env +
		`","webhook_id":"` + hook + `","event_id":"` + id + `","data":`
}

const seedHead = `{"event_type":"call.completed","timestamp":"2025-04-30T15:23:47Z","version":"1.0","environment":"production","webhook_id":"whk_12345abcdef","event_id":"evt_1","data":`

const coreSeedData = `{"call_id":"call_9876543210","phone_number":"+15551234567","caller_number":"+15559876543","caller_name":"John Smith","call_start":"2025-04-30T15:21:32Z","call_end":"2025-04-30T15:23:47Z","duration_seconds":135,"direction":"inbound","status":"completed","ai_handled":true,"forwarded":false}`

// renderCases are rendered by TestRender and checked against node by
// TestRenderMatchesNode.
var renderCases = []struct {
	name string
	ev   func() *webhook.Event
	hook string
	plan webhook.Plan
	want string
}{
	{"seed business", seedEvent, "whk_12345abcdef", webhook.Business, seedHead + jsjsontest.SeedData + `}`},
	{"seed enterprise", seedEvent, "whk_12345abcdef", webhook.Enterprise, seedHead + jsjsontest.SeedData + `}`},
	{"seed standard keeps core fields", seedEvent, "whk_12345abcdef", webhook.Standard, seedHead + coreSeedData + `}`},
	{"pretty data is compacted", func() *webhook.Event {
		ev := seedEvent()
		var b bytes.Buffer
		_ = json.Indent(&b, ev.Data, "", "  ")
		ev.Data = b.Bytes()
		return ev
	}, "whk_12345abcdef", webhook.Business, seedHead + jsjsontest.SeedData + `}`},
	{"time to UTC seconds", func() *webhook.Event {
		ev := seedEvent()
		ev.Time = time.Date(2025, 4, 30, 17, 23, 47, 999_999_999, time.FixedZone("CEST", 2*3600))
		ev.Data = json.RawMessage(`{}`)
		return ev
	}, "whk_1", webhook.Business, head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_1") + `{}}`},
	{"empty environment is production, empty data {}", func() *webhook.Event {
		return &webhook.Event{ID: "evt_2", Type: "system.status", Time: seedTime}
	}, "whk_1", webhook.Business, head("system.status", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_2") + `{}}`},
	{"sandbox", func() *webhook.Event {
		return &webhook.Event{ID: "e", Type: "user.created", Time: seedTime, Environment: webhook.EnvSandbox, Data: json.RawMessage(`{"user_id":"u1"}`)}
	}, "whk_1", webhook.Business, head("user.created", "2025-04-30T15:23:47Z", "sandbox", "whk_1", "e") + `{"user_id":"u1"}}`},
	{"envelope strings escaped like JSON.stringify", func() *webhook.Event {
		return &webhook.Event{ID: "evt_\"q\"\\<\u2028>\x01", Type: "call.completed", Time: seedTime, Data: json.RawMessage(`{}`)}
	}, "whk_é😀", webhook.Business, head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_é😀", "evt_\\\"q\\\"\\\\<\u2028>\\u0001") + `{}}`},
	{"data made canonical", func() *webhook.Event {
		ev := seedEvent()
		ev.Data = json.RawMessage(`{"b":1, "10":2, "2":3, "a":"\u003c\/a\u003e", "b":1e21, "m":{"1":0.10,"0":"\ud83d\ude00"}}`)
		return ev
	}, "whk_1", webhook.Business, head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_1") +
		`{"2":3,"10":2,"b":1e+21,"a":"</a>","m":{"0":"😀","1":0.1}}}`},
	{"core projection keeps canonical order and drops the rest", func() *webhook.Event {
		ev := seedEvent()
		ev.Data = json.RawMessage(`{"0":"x","status":"done","metadata":{"call_id":"nested"},"call_\u0069d":"c1","transcript":"t","recording_url":"u","duration_seconds":1.50}`)
		return ev
	}, "whk_1", webhook.Standard, head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_1") +
		`{"status":"done","call_id":"c1","duration_seconds":1.5}}`},
	{"core projection of nothing", func() *webhook.Event {
		ev := seedEvent()
		ev.Data = json.RawMessage(`{"summary":"s","topics":["a"]}`)
		return ev
	}, "whk_1", webhook.Standard, head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_1") + `{}}`},
	{"core projection of non-object", func() *webhook.Event {
		ev := seedEvent()
		ev.Data = json.RawMessage(`["call_id"]`)
		return ev
	}, "whk_1", webhook.Standard, head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_1") + `{}}`},
	{"non-object data passes on full plans", func() *webhook.Event {
		ev := seedEvent()
		ev.Data = json.RawMessage(` [1, "two", null] `)
		return ev
	}, "whk_1", webhook.Business, head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_1") + `[1,"two",null]}`},
}

func TestRender(t *testing.T) {
	for _, tt := range renderCases {
		t.Run(tt.name, func(t *testing.T) {
			got, info, err := RenderInfo(tt.ev(), tt.hook, tt.plan)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want; string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if info.Truncated || info.Size != len(got) {
				t.Errorf("info = %+v for a %d-byte body", info, len(got))
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	ev := seedEvent()
	ev.Data = json.RawMessage(`{"a":}`)
	_, err := Render(ev, "whk_1", webhook.Business)
	if webhook.KindOf(err) != webhook.KindInvalid || webhook.FieldOf(err) != "data" {
		t.Errorf("invalid data: err = %v, want an invalid-data error", err)
	}
	if _, err := Render(nil, "whk_1", webhook.Business); webhook.KindOf(err) != webhook.KindInvalid {
		t.Errorf("nil event: err = %v", err)
	}
}

// fixture builds event data from members given in order; string values
// are JSON-quoted with encoding/json, others are used as is.
func object(members ...any) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i < len(members); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(members[i].(string))
		b.Write(k)
		b.WriteByte(':')
		switch v := members[i+1].(type) {
		case string:
			q, _ := json.Marshal(v)
			b.Write(q)
		case json.RawMessage:
			b.Write(v)
		default:
			q, _ := json.Marshal(v)
			b.Write(q)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

const (
	transcriptURL = "https://api.phoneshield.ai/v1/calls/call_1/transcript"
	recordingURL  = "https://api.phoneshield.ai/v1/calls/call_1/recording"
)

func words(n int) string {
	w := "pricing quote order shipping tracking "
	return strings.Repeat(w, n/len(w)+1)[:n]
}

type truncCase struct {
	name    string
	data    json.RawMessage
	dropped []string // want Info.Dropped
	check   func(*testing.T, map[string]any)
}

func truncCases() []truncCase {
	emoji := strings.Repeat("😀 é 中 ", 160_000) // 1.76 MB of UTF-8, far fewer characters
	return []truncCase{
		{"transcript of 1.5 MB", object(
			"call_id", "call_1", "duration_seconds", 135, "summary", words(2000),
			"transcript", words(1_500_000),
			"transcription_url", transcriptURL, "recording_url", recordingURL,
			"metadata", json.RawMessage(`{"customer_id":"cust_1"}`)),
			[]string{"transcript"}, func(t *testing.T, d map[string]any) {
				if d["summary"] != words(2000) || d["call_id"] != "call_1" {
					t.Errorf("fields other than the transcript were changed")
				}
			}},
		{"unicode transcript: bytes count, not characters", object(
			"call_id", "call_1", "transcript", emoji, "recording_url", recordingURL),
			[]string{"transcript"}, nil},
		{"many large fields, largest first", object(
			"a", words(300_000), "b", words(200_000), "c", words(400_000),
			"transcript", words(100_000), "d", words(250_000), "e", words(10_000),
			"transcription_url", transcriptURL),
			// 1,260,000 of text: the transcript goes first whatever its
			// size, then c (400 KB) brings it under 1 MB.
			[]string{"transcript", "c"}, nil},
		{"many large fields and a number", object(
			"a", words(300_000), "b", words(200_000), "c", words(400_000),
			"transcript", words(100_000), "d", words(250_000), "e", words(10_000),
			"transcription_url", transcriptURL, "duration_seconds", 135),
			// As above: a number (not removed, text alone is too big)
			// doesn't bring the transcript back once c has made room.
			[]string{"transcript", "c"}, nil},
		{"nested strings and objects in arrays", object(
			"call_id", "c1",
			"metadata", object("notes", words(700_000), "recording_url", recordingURL, "tag", "x"),
			"segments", json.RawMessage(`[`+strings.TrimSuffix(strings.Repeat(string(object("text", words(5000), "start", 1.5))+",", 100), ",")+`]`),
			"summary", words(100)),
			nil, // checked below
			func(t *testing.T, d map[string]any) {
				md := d["metadata"].(map[string]any)
				if md["recording_url"] != recordingURL || md["tag"] != "x" {
					t.Errorf("metadata = %v", md)
				}
				if _, ok := md["notes"]; ok {
					t.Errorf("metadata.notes kept")
				}
				if segs := d["segments"].([]any); len(segs) != 100 {
					t.Errorf("segments has %d elements, want 100", len(segs))
				}
			}},
		{"huge array of numbers", object(
			"call_id", "c1", "recording_url", recordingURL, "summary", words(1000),
			"samples", json.RawMessage(`[`+strings.TrimSuffix(strings.Repeat("0.123456,", 200_000), ",")+`]`)),
			// Text goes first, but what fits again once the array is gone
			// is put back.
			[]string{"samples"}, func(t *testing.T, d map[string]any) {
				if d["call_id"] != "c1" || d["summary"] != words(1000) {
					t.Errorf("strings not put back: %v", d)
				}
			}},
		{"links kept even when large", object(
			"transcription_url", transcriptURL+"?"+words(400_000),
			"recording_url", recordingURL+"?"+words(400_000),
			"transcript", words(300_000), "summary", words(200_000)),
			[]string{"transcript"}, nil},
		{"object holding a link is not removed whole", object(
			"media", object("recording_url", recordingURL, "waveform", json.RawMessage(`[`+strings.TrimSuffix(strings.Repeat("1,", 600_000), ",")+`]`)),
			"call_id", "c1"),
			[]string{"media.waveform"}, nil},
		{"existing truncated member replaced in place", object(
			"truncated", false, "transcript", words(1_200_000), "call_id", "c1"),
			[]string{"truncated", "transcript"}, func(t *testing.T, d map[string]any) {
				if d["call_id"] != "c1" {
					t.Errorf("call_id lost")
				}
			}},
		{"index keys and truncated last", object(
			"7", words(10), "transcript", words(1_100_000), "1", "x"),
			[]string{"transcript"}, nil},
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range truncCases() {
		t.Run(tt.name, func(t *testing.T) {
			ev := seedEvent()
			ev.Data = tt.data
			body, info, err := RenderInfo(ev, "whk_1", webhook.Enterprise)
			if err != nil {
				t.Fatal(err)
			}
			checkTruncated(t, ev.Data, body, info)
			if tt.dropped != nil && !slices.Equal(info.Dropped, tt.dropped) {
				t.Errorf("dropped %q, want %q", info.Dropped, tt.dropped)
			}
			if tt.check != nil {
				var env struct{ Data map[string]any }
				if err := json.Unmarshal(body, &env); err != nil {
					t.Fatal(err)
				}
				tt.check(t, env.Data)
			}
		})
	}
}

// checkTruncated checks the invariants of a truncated body: at most
// MaxBody, canonical, data.truncated true and the last non-index key (or in
// place), every link of the input kept, nothing kept that was reported
// dropped, and no more dropped than needed (putting back the last dropped
// field would not fit).
func checkTruncated(t *testing.T, data, body []byte, info Info) {
	t.Helper()
	if len(body) > MaxBody || info.Size != len(body) {
		t.Fatalf("body %d bytes (info.Size %d), want ≤ %d", len(body), info.Size, MaxBody)
	}
	if !info.Truncated || info.DroppedCount == 0 || len(info.Dropped) == 0 {
		t.Fatalf("info = %+v, want truncated with dropped fields", info)
	}
	var env struct {
		Data map[string]any
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("truncated body is not JSON: %v", err)
	}
	if env.Data["truncated"] != true {
		t.Errorf("data.truncated = %v, want true", env.Data["truncated"])
	}
	if !bytes.HasSuffix(body, []byte(`"truncated":true}}`)) && !bytes.Contains(data, []byte(`"truncated"`)) {
		t.Errorf("truncated is not the last key: …%s", body[max(0, len(body)-60):])
	}
	for _, l := range Links {
		for _, v := range findAll(mustDecode(t, data), l) {
			found := false
			for _, w := range findAll(env.Data, l) {
				found = found || w == v
			}
			if !found {
				t.Errorf("link %s = %.60q lost", l, v)
			}
		}
	}
	// Nothing over-removed: the body plus the smallest dropped field (a
	// lower bound on putting back any of them) would not fit.
	if info.DroppedCount == len(info.Dropped) && info.DroppedCount > 0 {
		last := info.Dropped[len(info.Dropped)-1]
		if n := memberSize(t, data, last); len(body)+n+1 <= MaxBody {
			t.Errorf("dropped %s (%d bytes) although the body fits with it (%d bytes)", last, n, len(body)+n+1)
		}
	}
}

func mustDecode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// findAll returns the values of every member named key, at any depth.
func findAll(v any, key string) []any {
	var out []any
	switch v := v.(type) {
	case map[string]any:
		for k, w := range v {
			if k == key {
				out = append(out, w)
			}
			out = append(out, findAll(w, key)...)
		}
	case []any:
		for _, w := range v {
			out = append(out, findAll(w, key)...)
		}
	}
	return out
}

// memberSize is the canonical size of "key":value for a top-level or
// dotted path without array steps.
func memberSize(t *testing.T, data []byte, path string) int {
	t.Helper()
	v := mustDecode(t, data)
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		v = v.(map[string]any)[p]
	}
	last := parts[len(parts)-1]
	b, err := json.Marshal(v.(map[string]any)[last])
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json escapes <>& and U+2028/9; count the canonical size.
	return len(last) + 3 + len(unescapeHTML(b))
}

func unescapeHTML(b []byte) []byte {
	r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\u2028`, "\u2028", `\u2029`, "\u2029")
	return []byte(r.Replace(string(b)))
}

func TestTruncateBoundary(t *testing.T) {
	ev := seedEvent()
	ev.Data = object("call_id", "c1", "transcript", "")
	small, _ := Render(ev, "whk_1", webhook.Business)
	fill := MaxBody - len(small)
	for _, tt := range []struct {
		extra     int
		truncated bool
	}{{0, false}, {1, true}} {
		// Multi-byte text: the limit is in bytes.
		text := strings.Repeat("é", (fill+tt.extra)/2) + strings.Repeat("a", (fill+tt.extra)%2)
		ev.Data = object("call_id", "c1", "transcript", text)
		body, info, err := RenderInfo(ev, "whk_1", webhook.Business)
		if err != nil {
			t.Fatal(err)
		}
		if info.Truncated != tt.truncated {
			t.Errorf("fill+%d: truncated = %v, want %v (body %d bytes)", tt.extra, info.Truncated, tt.truncated, len(body))
		}
		if !tt.truncated && len(body) != MaxBody {
			t.Errorf("fill+%d: body %d bytes, want exactly %d", tt.extra, len(body), MaxBody)
		}
		if tt.truncated {
			want := strings.Replace(string(small), `"transcript":""`, `"truncated":true`, 1)
			if got := string(body); got != want {
				t.Errorf("fill+%d: got %s, want %s", tt.extra, got, want)
			}
		}
	}
}

func TestTruncateTooLarge(t *testing.T) {
	for name, data := range map[string]json.RawMessage{
		"links alone":       object("recording_url", words(MaxBody), "transcript", "x"),
		"data not object":   json.RawMessage(`["` + words(MaxBody) + `"]`),
		"link inside array": json.RawMessage(`{"calls":[{"recording_url":"u"},` + strings.Repeat("1,", MaxBody/2) + `2]}`),
	} {
		ev := seedEvent()
		ev.Data = data
		_, err := Render(ev, "whk_1", webhook.Business)
		if !errors.Is(err, ErrTooLarge) || webhook.KindOf(err) != webhook.KindInvalid {
			t.Errorf("%s: err = %v, want ErrTooLarge", name, err)
		}
	}
}

func TestTruncateStandardPlan(t *testing.T) {
	ev := seedEvent()
	ev.Data = object("call_id", "c1", "caller_name", words(MaxBody+10), "transcript", words(MaxBody))
	body, info, err := RenderInfo(ev, "whk_1", webhook.Standard)
	if err != nil {
		t.Fatal(err)
	}
	want := head("call.completed", "2025-04-30T15:23:47Z", "production", "whk_1", "evt_1") + `{"call_id":"c1","truncated":true}}`
	if string(body) != want || !slices.Equal(info.Dropped, []string{"caller_name"}) {
		t.Errorf("got %s %+v\nwant %s", body, info, want)
	}
}

func TestDroppedList(t *testing.T) {
	var members []any
	for i := range 400 {
		members = append(members, fmt.Sprintf("f%03d", i), words(5000))
	}
	ev := seedEvent()
	ev.Data = object(members...)
	_, info, err := RenderInfo(ev, "whk_1", webhook.Business)
	if err != nil {
		t.Fatal(err)
	}
	if info.DroppedCount <= MaxDroppedListed || len(info.Dropped) != MaxDroppedListed {
		t.Errorf("DroppedCount %d, len(Dropped) %d", info.DroppedCount, len(info.Dropped))
	}
	// Equal sizes: removed in document order.
	if info.Dropped[0] != "f000" || info.Dropped[1] != "f001" {
		t.Errorf("Dropped starts %q", info.Dropped[:2])
	}
}

// TestRenderMatchesNode checks, in one node run, that every body rendered
// by these tests is a fixed point of JSON.stringify(JSON.parse(body)).
func TestRenderMatchesNode(t *testing.T) {
	var bodies [][]byte
	var names []string
	for _, tt := range renderCases {
		b, err := Render(tt.ev(), tt.hook, tt.plan)
		if err != nil {
			t.Fatal(err)
		}
		bodies, names = append(bodies, b), append(names, tt.name)
	}
	for _, tt := range truncCases() {
		ev := seedEvent()
		ev.Data = tt.data
		b, err := Render(ev, "whk_1", webhook.Enterprise)
		if err != nil {
			t.Fatal(err)
		}
		bodies, names = append(bodies, b), append(names, "truncated: "+tt.name)
	}
	awkward := object(
		"html", "<script>&</script>", "seps", "\u2028\u2029", "emoji", "😀👩‍👩‍👧",
		"ctrl", "\x00\x1f\"\\", "metadata", json.RawMessage(`{"b":1,"10":2,"2":3,"01":4,"-1":5,"4294967295":6,"4294967294":7}`),
		"lone", json.RawMessage(`"\ud800"`), "nums", json.RawMessage(`[1e21,1e-7,123456789012345678901234567890,0.1,5e-324,1e400,-0,1.0,1E5]`),
		"dup", 1, "dup", 2)
	for _, plan := range webhook.Plans {
		ev := seedEvent()
		ev.Data = awkward
		ev.ID, ev.Type = "evt_\u2028\"<>", "call.completed"
		b, err := Render(ev, "whk_\x7f\x01", plan)
		if err != nil {
			t.Fatal(err)
		}
		bodies, names = append(bodies, b), append(names, "awkward "+plan.Name)
	}
	results := jsjsontest.RoundTrip(t, bodies)
	for i, r := range results {
		if r.Err != "" {
			t.Errorf("%s: node: %s", names[i], r.Err)
		} else if !bytes.Equal(r.Out, bodies[i]) {
			t.Errorf("%s: not a JSON.stringify fixed point:\nours %.300q\nnode %.300q", names[i], bodies[i], r.Out)
		}
	}
}
