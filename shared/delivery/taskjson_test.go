package delivery

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// taskBodies are bodies of the shapes the pipeline writes, which the fast
// decoder must take.
func taskBodies(t testing.TB) map[string][]byte {
	t.Helper()
	at := time.Date(2026, 11, 27, 9, 59, 0, 123456789, time.UTC)
	ev := &webhook.Event{ID: "evt_1", Type: "call.completed", Time: at, Environment: "production",
		Data: json.RawMessage(`{"call_id":"call_1","duration_seconds":135,"score":-0.5e-3,"tags":["a","b\"c\\u00e9"],` +
			`"nested":{"x":[[],{},true,false,null,0,1.25E+2]},"text":"h\u00e9llo \\n \\/ \\t \\u2028 ✓"}`)}
	task := func(f func(*Task)) []byte {
		tk := NewTask(ev, "whk_1")
		f(tk)
		b, err := tk.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first, err := FirstAttempts(ev, []string{"whk_1"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{
		"first attempt":  first[0],
		"encoded":        task(func(*Task) {}),
		"generation":     task(func(tk *Task) { tk.Generation = 3 }),
		"not before":     task(func(tk *Task) { tk.NotBefore = at.Add(time.Hour) }),
		"offset time":    task(func(tk *Task) { tk.Event.Time = at.In(time.FixedZone("", 2*3600+1800)) }),
		"no environment": task(func(tk *Task) { tk.Event.Environment = "" }),
		"unicode ids":    task(func(tk *Task) { tk.Event.ID, tk.EndpointID = "evt_é✓", "whk_日本" }),
		"string data":    task(func(tk *Task) { tk.Event.Data = json.RawMessage(`"just a string"`) }),
		"array data":     task(func(tk *Task) { tk.Event.Data = json.RawMessage(`[1,2,{"a":[]}]`) }),
		"number data":    task(func(tk *Task) { tk.Event.Data = json.RawMessage(`-12.5`) }),
		"previous": task(func(tk *Task) {
			tk.Attempt = 3
			tk.Previous = []webhook.Attempt{
				{N: 1, At: at, StatusCode: 500, Latency: 12 * time.Millisecond, Error: "HTTP 500", Response: "oops \"quoted\" \x01 é"},
				{N: 2, At: at.Add(time.Second), Latency: time.Second, Error: "connection refused"},
			}
		}),
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, out["previous"], "\n", " \t"); err != nil {
		t.Fatal(err)
	}
	out["indented"] = indented.Bytes()
	out["padded"] = []byte(" \r\n\t" + string(out["encoded"]) + " \n")
	out["reordered"] = []byte(`{"attempt":2,"event":{"data":{},"environment":"sandbox","time":"2026-11-27T09:59:00Z","type":"t","id":"e"},` +
		`"endpoint_id":"whk_1","generation":0,"delivery_id":"dlv_1"}`)
	out["empty containers"] = []byte(`{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":"2026-11-27T09:59:00Z","data":{ }},"attempt":1,"previous":[ ]}`)
	// Decodes, then fails the checks.
	out["no data"] = []byte(`{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":"2026-11-27T09:59:00Z"},"attempt":1}`)
	out["attempt 0"] = []byte(`{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":"2026-11-27T09:59:00Z","data":{}},"attempt":0}`)
	out["attempt 7"] = []byte(`{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":"2026-11-27T09:59:00Z","data":{}},"attempt":7}`)
	out["negative generation"] = []byte(`{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":"2026-11-27T09:59:00Z","data":{}},"attempt":1,"generation":-1}`)
	out["negative zero"] = []byte(`{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":-0}`)
	out["invalid utf-8 data"] = []byte("{\"delivery_id\":\"d\",\"endpoint_id\":\"e\",\"event\":{\"id\":\"i\",\"type\":\"t\",\"data\":{\"a\":\"\xff\"}},\"attempt\":1}")
	out["empty object"] = []byte(`{}`)
	out["empty ids"] = []byte(`{"delivery_id":"","endpoint_id":"","event":{},"attempt":1}`)
	return out
}

// oddBodies are bodies the fast decoder leaves to encoding/json: valid
// ones it doesn't handle and invalid ones.
var oddBodies = map[string]string{
	"upper-case key":    `{"Delivery_ID":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1}`,
	"duplicate key":     `{"delivery_id":"d","delivery_id":"d2","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1}`,
	"duplicate event":   `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t"},"event":{"data":{}},"attempt":1}`,
	"unknown key":       `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{},"extra":1},"attempt":1,"x":[1]}`,
	"escaped id":        `{"delivery_id":"d\u0031","endpoint_id":"e\"","event":{"id":"i","type":"t","data":{}},"attempt":1}`,
	"escaped key":       `{"delivery\u005fid":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1}`,
	"null id":           `{"delivery_id":null,"endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1}`,
	"null event":        `{"delivery_id":"d","endpoint_id":"e","event":null,"attempt":1}`,
	"null data":         `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":null},"attempt":1}`,
	"null time":         `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":null,"data":{}},"attempt":1}`,
	"null previous":     `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1,"previous":null}`,
	"object previous":   `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1,"previous":{}}`,
	"bad previous":      `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1,"previous":[{"attempt":"1"}]}`,
	"float attempt":     `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1.0}`,
	"exponent attempt":  `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1e0}`,
	"leading zero":      `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":01}`,
	"huge attempt":      `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":99999999999999999999}`,
	"string attempt":    `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":"1"}`,
	"bad time":          `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":"yesterday","data":{}},"attempt":1}`,
	"number time":       `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","time":0,"data":{}},"attempt":1}`,
	"bad not_before":    `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1,"not_before":"2026-13-01T00:00:00Z"}`,
	"trailing comma":    `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{"a":1,}},"attempt":1}`,
	"bad escape":        `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{"a":"\x"}},"attempt":1}`,
	"short unicode":     `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{"a":"\u12"}},"attempt":1}`,
	"control character": "{\"delivery_id\":\"d\",\"endpoint_id\":\"e\",\"event\":{\"id\":\"i\",\"type\":\"t\",\"data\":{\"a\":\"\t\"}},\"attempt\":1}",
	"control in id":     "{\"delivery_id\":\"d\n\",\"endpoint_id\":\"e\",\"event\":{\"id\":\"i\",\"type\":\"t\",\"data\":{}},\"attempt\":1}",
	"bad number":        `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":[01]},"attempt":1}`,
	"bare dot":          `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":[1.]},"attempt":1}`,
	"bare exponent":     `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":[1e+]},"attempt":1}`,
	"plus number":       `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":[+1]},"attempt":1}`,
	"bare minus":        `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":[-]},"attempt":1}`,
	"bad literal":       `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":[tru]},"attempt":1}`,
	"glued literal":     `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":[truefalse]},"attempt":1}`,
	"unquoted key":      `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{a:1}},"attempt":1}`,
	"missing colon":     `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{"a" 1}},"attempt":1}`,
	"unclosed":          `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{"a":[1,2}},"attempt":1}`,
	"truncated":         `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{"a":"`,
	"trailing garbage":  `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1} x`,
	"two values":        `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":{}},"attempt":1}{}`,
	"invalid utf-8 id":  "{\"delivery_id\":\"d\xff\",\"endpoint_id\":\"e\",\"event\":{\"id\":\"i\",\"type\":\"t\",\"data\":{}},\"attempt\":1}",
	"array":             `[]`,
	"string":            `"task"`,
	"empty":             ``,
	"spaces":            ` `,
	"null":              `null`,
	"deep":              `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `},"attempt":1}`,
	"too deep":          `{"delivery_id":"d","endpoint_id":"e","event":{"id":"i","type":"t","data":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `},"attempt":1}`,
}

// checkSame fails unless DecodeTask and decodeTaskJSON agree on body.
func checkSame(t *testing.T, body []byte) {
	t.Helper()
	got, gotErr := DecodeTask(bytes.Clone(body))
	want, wantErr := decodeTaskJSON(bytes.Clone(body))
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("DecodeTask(%q) error = %v, json.Unmarshal's = %v", body, gotErr, wantErr)
	case gotErr != nil:
		if gotErr.Error() != wantErr.Error() || webhook.FieldOf(gotErr) != webhook.FieldOf(wantErr) {
			t.Fatalf("DecodeTask(%q) error = %v (field %q), json.Unmarshal's = %v (field %q)",
				body, gotErr, webhook.FieldOf(gotErr), wantErr, webhook.FieldOf(wantErr))
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("DecodeTask(%q) = %+v\njson.Unmarshal gives %+v", body, got, want)
	}
}

func TestDecodeTaskFastPath(t *testing.T) {
	for name, body := range taskBodies(t) {
		t.Run(name, func(t *testing.T) {
			var tk Task
			if !decodeTaskFast(body, &tk) {
				t.Errorf("fast decoder refused %s", body)
			}
			checkSame(t, body)
		})
	}
}

func TestDecodeTaskFallback(t *testing.T) {
	for name, body := range oddBodies {
		t.Run(name, func(t *testing.T) {
			var tk Task
			if decodeTaskFast([]byte(body), &tk) {
				t.Errorf("fast decoder took %s", body)
			}
			checkSame(t, []byte(body))
		})
	}
}

func TestDecodeTaskErrorsNameTheField(t *testing.T) {
	bodies := taskBodies(t)
	for _, c := range []struct{ name, field string }{
		{"no data", "event.data"}, {"attempt 0", "attempt"}, {"attempt 7", "attempt"},
		{"negative generation", "generation"}, {"empty object", "delivery_id"}, {"empty ids", "delivery_id"},
	} {
		_, err := DecodeTask(bodies[c.name])
		if webhook.KindOf(err) != webhook.KindInvalid || webhook.FieldOf(err) != c.field {
			t.Errorf("%s: error %v, want invalid %s", c.name, err, c.field)
		}
	}
	for _, name := range []string{"trailing comma", "bad time", "float attempt", "too deep", "empty"} {
		_, err := DecodeTask([]byte(oddBodies[name]))
		if webhook.KindOf(err) != webhook.KindInvalid || webhook.FieldOf(err) != "body" {
			t.Errorf("%s: error %v, want invalid body", name, err)
		}
	}
}

// The decoded data aliases the body but can't be appended into it.
func TestDecodeTaskDataAppendCopies(t *testing.T) {
	body := taskBodies(t)["first attempt"]
	keep := bytes.Clone(body)
	tk, err := DecodeTask(body)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(tk.Event.Data, "xxxxxxxx"...)
	if !bytes.Equal(body, keep) {
		t.Fatal("appending to Event.Data changed the body")
	}
}

func FuzzDecodeTask(f *testing.F) {
	for _, b := range taskBodies(f) {
		f.Add(b)
	}
	for _, b := range oddBodies {
		if len(b) < 4096 {
			f.Add([]byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var tk Task
		if decodeTaskFast(bytes.Clone(body), &tk) && !json.Valid(body) {
			t.Fatalf("fast decoder took invalid JSON %q", body)
		}
		checkSame(t, body)
	})
}

// TestTaskBodiesAreQueueSafe: task bodies, first attempts and re-encoded
// tasks alike, hold no raw U+FFFE or U+FFFF (SQS refuses a body with
// either: an event holding one could never be queued on AWS), and decode
// to the event's data as it was.
func TestTaskBodiesAreQueueSafe(t *testing.T) {
	data := "{\"note\":\"a\uFFFEb\uFFFFc\uFFFDd\",\"n\":1}"
	ev := &webhook.Event{ID: "evt_nc", Type: "call.completed", Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Environment: "production", Data: json.RawMessage(data)}
	first, err := FirstAttempts(ev, []string{"whk_1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewTask(ev, "whk_1").Encode()
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal([]byte(data), &want); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"first attempt": first[0], "encoded task": again} {
		if bytes.Contains(body, []byte("\uFFFE")) || bytes.Contains(body, []byte("\uFFFF")) {
			t.Errorf("%s body holds a raw noncharacter: %s", name, body)
		}
		task, err := DecodeTask(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got any
		if err := json.Unmarshal(task.Event.Data, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s decodes to data %s (%v), want %s", name, task.Event.Data, err, data)
		}
	}
}
