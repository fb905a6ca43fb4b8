package filter

import (
	"encoding/json"
	"testing"
)

// Text and JSON forms of the same filters: each compiles to the other, and
// both print canonically.
func TestRoundTrip(t *testing.T) {
	cases := []struct {
		text  string // as written
		canon string // canonical text ("" = text)
		json  string // canonical JSON
	}{
		{seedText, "", seedJSON},
		{`duration_seconds > 120 and (transcript has "pricing" or transcript has "quote")`, "",
			`{"and":[{"field":"duration_seconds","op":">","value":120},{"or":[{"field":"transcript","op":"has","value":"pricing"},{"field":"transcript","op":"has","value":"quote"}]}]}`},
		{`urgency >= "medium"`, `urgency >= medium`, `{"field":"urgency","op":">=","value":"medium"}`},
		{`Sentiment = positive`, "", ""}, // filled in below: unknown field, skipped
		{`sentiment == "positive" AND transcript CONTAINS "refund"`, `sentiment = positive and transcript has "refund"`,
			`{"and":[{"field":"sentiment","op":"=","value":"positive"},{"field":"transcript","op":"has","value":"refund"}]}`},
		{`tz "America/New_York"; time.weekday in [mon, tue] and time.hour >= 9`, "",
			`{"and":[{"field":"time.weekday","op":"in","value":["mon","tue"],"tz":"America/New_York"},{"field":"time.hour","op":">=","value":9,"tz":"America/New_York"}]}`},
		{`time.weekday in [mon, tue] tz "America/New_York"`, `tz "America/New_York"; time.weekday in [mon, tue]`,
			`{"field":"time.weekday","op":"in","value":["mon","tue"],"tz":"America/New_York"}`},
		{`time.hour >= 9 tz "Europe/Paris" and time.hour < 17 tz "Europe/Paris"`, `tz "Europe/Paris"; time.hour >= 9 and time.hour < 17`,
			`{"and":[{"field":"time.hour","op":">=","value":9,"tz":"Europe/Paris"},{"field":"time.hour","op":"<","value":17,"tz":"Europe/Paris"}]}`},
		{`time.hour >= 9 tz "UTC" and time.hour < 17 tz "Asia/Tokyo"`, "",
			`{"and":[{"field":"time.hour","op":">=","value":9,"tz":"UTC"},{"field":"time.hour","op":"<","value":17,"tz":"Asia/Tokyo"}]}`},
		{`tz "Asia/Tokyo"; time.hour >= 9 tz "UTC" and time.hour < 17`, `time.hour >= 9 tz "UTC" and time.hour < 17 tz "Asia/Tokyo"`,
			`{"and":[{"field":"time.hour","op":">=","value":9,"tz":"UTC"},{"field":"time.hour","op":"<","value":17,"tz":"Asia/Tokyo"}]}`},
		{`tz "Asia/Tokyo"; status exists`, `status exists`, `{"field":"status","op":"exists"}`},
		{`not (caller_country in ["US", "CA"]) or caller_number not exists`, "",
			`{"or":[{"not":{"field":"caller_country","op":"in","value":["US","CA"]}},{"field":"caller_number","op":"not exists"}]}`},
		{`not caller_number prefix "+1"`, `not (caller_number prefix "+1")`, `{"not":{"field":"caller_number","op":"prefix","value":"+1"}}`},
		{`a_x = 1`, "", ""},
		{`(status = "a" and status = "b") and status = "c"`, "",
			`{"and":[{"and":[{"field":"status","op":"=","value":"a"},{"field":"status","op":"=","value":"b"}]},{"field":"status","op":"=","value":"c"}]}`},
		{`status = "a" and status = "b" and status = "c"`, "",
			`{"and":[{"field":"status","op":"=","value":"a"},{"field":"status","op":"=","value":"b"},{"field":"status","op":"=","value":"c"}]}`},
		{`status = "a" or status = "b" and status = "c"`, `status = "a" or (status = "b" and status = "c")`,
			`{"or":[{"field":"status","op":"=","value":"a"},{"and":[{"field":"status","op":"=","value":"b"},{"field":"status","op":"=","value":"c"}]}]}`},
		{`((((status = "a"))))`, `status = "a"`, `{"field":"status","op":"=","value":"a"}`},
		{`metadata.score >= -1.5e-7 and metadata.big < 1e21 and metadata.n = 1234567 and metadata.z = -0.25`,
			`metadata.score >= -1.5e-07 and metadata.big < 1e+21 and metadata.n = 1234567 and metadata.z = -0.25`,
			`{"and":[{"field":"metadata.score","op":">=","value":-1.5e-7},{"field":"metadata.big","op":"<","value":1e+21},{"field":"metadata.n","op":"=","value":1234567},{"field":"metadata.z","op":"=","value":-0.25}]}`},
		{`metadata.vip = true and metadata.x in ["a", 1, false]`, "",
			`{"and":[{"field":"metadata.vip","op":"=","value":true},{"field":"metadata.x","op":"in","value":["a",1,false]}]}`},
		{`summary has "say \"hi\" \\ <b>\n\u00e9\ud83d\ude00"`, `summary has "say \"hi\" \\ <b>\né😀"`,
			`{"field":"summary","op":"has","value":"say \"hi\" \\ <b>\né😀"}`},
		{`direction = "in bound" or direction = inbound`, "", ""}, // invalid value: skipped
		{`urgency in ["low", "Medium", "and"]`, "", ""},           // "and" is not an urgency: skipped
		{`direction in ["INBOUND", outbound]`, `direction in ["INBOUND", outbound]`,
			`{"field":"direction","op":"in","value":["INBOUND","outbound"]}`},
		{`time.weekday not in [sat, sunday] and time.month = jan and time.clock < "09:30" and time.date != "2025-12-25"`, "",
			`{"and":[{"field":"time.weekday","op":"not in","value":["sat","sunday"]},{"field":"time.month","op":"=","value":"jan"},{"field":"time.clock","op":"<","value":"09:30"},{"field":"time.date","op":"!=","value":"2025-12-25"}]}`},
	}
	for _, c := range cases {
		if c.json == "" {
			continue
		}
		t.Run(c.text, func(t *testing.T) {
			f := mustParse(t, c.text)
			canon := c.canon
			if canon == "" {
				canon = c.text
			}
			if f.String() != canon {
				t.Errorf("String:\n got %s\nwant %s", f, canon)
			}
			if got := string(f.JSON()); got != c.json {
				t.Errorf("JSON:\n got %s\nwant %s", got, c.json)
			}
			g := mustJSON(t, c.json)
			if !g.Equal(f) || g.String() != canon || string(g.JSON()) != c.json {
				t.Errorf("from JSON: %s / %s", g, g.JSON())
			}
			h := mustParse(t, canon)
			if !h.Equal(f) {
				t.Errorf("canonical text reparsed as %s", h)
			}
			// The text form is also accepted as a JSON string.
			quoted, _ := json.Marshal(c.text)
			if k := mustJSON(t, string(quoted)); !k.Equal(f) {
				t.Errorf("text in a JSON string: %s", k)
			}
			// MarshalJSON embeds the canonical form (encoding/json escapes
			// <, > and & in it).
			b, err := json.Marshal(struct{ F *Filter }{f})
			var back struct{ F json.RawMessage }
			if err != nil || json.Unmarshal(b, &back) != nil || !mustJSON(t, string(back.F)).Equal(f) {
				t.Errorf("MarshalJSON: %s %v", b, err)
			}
		})
	}
}

// Other JSON spellings compile to the canonical tree.
func TestJSONForms(t *testing.T) {
	cases := []struct{ in, canon string }{
		{`{"event_type":"call.completed"}`, `event_type = "call.completed"`},
		{`{"event_type":["call.completed","call.summarized"]}`, `event_type in ["call.completed", "call.summarized"]`},
		{`{"and":[{"event_type":"call.completed"},{"field":"transcript","op":"contains","value":"quote"}]}`,
			`event_type = "call.completed" and transcript has "quote"`},
		{`{"field":"duration_seconds","op":"==","value":60}`, `duration_seconds = 60`},
		{`{"and":[{"field":"status","op":"exists"}]}`, `status exists`},
		{`{"or":[{"and":[{"not":{"or":[{"field":"status","op":"exists"}]}}]}]}`, `not (status exists)`},
		{`{"tz":"Europe/Berlin","and":[{"field":"time.hour","op":">=","value":9},{"field":"time.hour","op":"<","value":17,"tz":"Europe/Berlin"}]}`,
			`tz "Europe/Berlin"; time.hour >= 9 and time.hour < 17`},
		{`{"tz":"Europe/Berlin","and":[{"field":"status","op":"exists"}]}`, `status exists`},
		{`{"field":"time.hour","op":">=","value":9,"tz":"Europe/Berlin"}`, `tz "Europe/Berlin"; time.hour >= 9`},
		{` {"field" : "status", "op" : "prefix", "value" : "comp"} `, `status prefix "comp"`},
		{`"urgency >= medium and not (sentiment = negative)"`, `urgency >= medium and not (sentiment = negative)`},
	}
	for _, c := range cases {
		f := mustJSON(t, c.in)
		if f.String() != c.canon {
			t.Errorf("%s:\n got %s\nwant %s", c.in, f, c.canon)
		}
		if g := mustParse(t, c.canon); !g.Equal(f) {
			t.Errorf("%s: canonical text compiles differently", c.in)
		}
	}
}

// JSON returns a copy: callers can't corrupt the filter.
func TestJSONIsACopy(t *testing.T) {
	f := mustParse(t, `status exists`)
	b := f.JSON()
	b[0] = 'X'
	if string(f.JSON()) != `{"field":"status","op":"exists"}` {
		t.Error("JSON shares its buffer")
	}
}
