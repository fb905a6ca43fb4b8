package filter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/phoneshield/webhooks/events"
)

// scanData finds what encoding/json finds, on every catalog sample and on
// awkward but valid objects.
func TestScanDataMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, ` { } `,
		`{"transcript":"a \"quoted\" \\ word","duration_seconds":-1.5e3,"topics":["a","b\"]"],"metadata":{"x":{"y":[1,{"z":"}"}]}},"urgency":null}`,
		`{"caller_number" : "+1415" , "status":"x","status":"last wins"}`,
		"{\n\t\"forwarded\": true,\r\n \"ai_handled\": false }",
		`{"tr\u0061nscript":"escaped name","other":[[[]]],"n":{"transcript":"nested, not read"}}`,
		`{"summary":"\\","direction":"inbound"}`,
	}
	for _, e := range events.Samples() {
		var d struct{ Data json.RawMessage }
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(d.Data))
	}
	names := map[string]dataField{}
	for d := range dCount {
		for _, n := range []string{"caller_number", "phone_number", "direction", "status", "duration_seconds", "ai_handled",
			"forwarded", "topics", "sentiment", "urgency", "summary", "transcript", "metadata"} {
			if f, ok := dataFieldOf([]byte(`"` + n + `"`)); ok && f == d {
				names[n] = d
			}
		}
	}
	for _, in := range inputs {
		var want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got [dCount]json.RawMessage
		scanData([]byte(in), &got)
		for n, d := range names {
			w := bytes.TrimSpace(want[n])
			if !bytes.Equal(got[d], w) {
				t.Errorf("%.60s: %s = %s, want %s", in, n, got[d], w)
			}
		}
	}
}

// Malformed data never panics and reads as no data.
func TestScanDataMalformed(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a":1}x`, `{"transcript":"unterminated}`,
		`{"transcript":"x\"}`, `{"topics":[1,2}`, `{"topics":[`, `{a:1}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":}`, `{,}`,
	} {
		var got [dCount]json.RawMessage
		scanData([]byte(in), &got)
		for d, v := range got {
			if v != nil {
				t.Errorf("%q: found field %d = %q", in, d, v)
			}
		}
	}
}

func TestIsNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "187": true, "1.5": true, "-1.5e-3": true, "1E+2": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "0x10": false, "Inf": false, "1_0": false, "+1": false,
	} {
		if isNumber([]byte(s)) != want {
			t.Errorf("isNumber(%q) != %v", s, want)
		}
	}
}

// FuzzScanData: on valid JSON objects scanData finds what encoding/json
// finds; on anything else it doesn't panic.
func FuzzScanData(f *testing.F) {
	f.Add(`{"transcript":"a \"b\" \\","topics":["x"],"metadata":{"k":[1,{"v":"}"}]},"duration_seconds":1e2}`)
	f.Add(`{"caller_number":"+14155550142","tr\u0061nscript":"x","status":null}`)
	f.Fuzz(func(t *testing.T, in string) {
		var got [dCount]json.RawMessage
		scanData([]byte(in), &got)
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(in), &want) != nil || want == nil {
			return
		}
		for n, v := range want {
			if strings.ContainsAny(n, `"\`) {
				continue
			}
			if d, ok := dataFieldOf([]byte(`"` + n + `"`)); ok && !bytes.Equal(got[d], v) {
				t.Fatalf("%q: %s = %q, want %q", in, n, got[d], v)
			}
		}
	})
}

// unquote decodes like encoding/json.
func TestUnquote(t *testing.T) {
	for _, raw := range []string{
		`""`, `"plain"`, `"a\"b\\c\/d\be\ff\ng\rh\ti"`, `"\u00e9\u20ac\ud83d\ude00"`, `"lone \ud800 x"`, `"\udc00"`,
		`"\ud800\u0041"`, `"María\nGonzález"`, `"\u0000"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(raw, err)
		}
		if got, ok := unquote([]byte(raw)); !ok || got != want {
			t.Errorf("unquote(%s) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	for _, raw := range []string{`"\x"`, `"\u12"`, `"\u12g4"`, `"abc\"`, `abc`, `"`, `7`} {
		if got, ok := unquote([]byte(raw)); ok {
			t.Errorf("unquote(%s) = %q, want failure", raw, got)
		}
	}
}
