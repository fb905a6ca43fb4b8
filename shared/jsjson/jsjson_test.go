package jsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"whitespace", " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" :\r{ } } ", `{"a":[1,2],"b":{}}`},
		{"literals", `[true,false,null]`, `[true,false,null]`},
		{"empty object", `{}`, `{}`},
		{"empty array", `[ ]`, `[]`},
		{"top-level string", `"x"`, `"x"`},
		{"top-level number", ` 1.50 `, `1.5`},

		{"index keys first", `{"b":1,"10":2,"2":3,"01":4,"-1":5,"4294967295":6,"4294967294":7}`,
			`{"2":3,"10":2,"4294967294":7,"b":1,"01":4,"-1":5,"4294967295":6}`},
		{"zero key", `{"x":1,"0":2,"-0":3,"00":4}`, `{"0":2,"x":1,"-0":3,"00":4}`},
		{"escaped index key", `{"x":1,"\u0031":2}`, `{"1":2,"x":1}`},
		{"index keys already ordered", `{"1":1,"2":2,"a":3}`, `{"1":1,"2":2,"a":3}`},
		{"duplicate last wins first position", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{"duplicate escaped", `{"a":1,"\u0061":2}`, `{"a":2}`},
		{"duplicate index", `{"1":1,"b":2,"1":3}`, `{"1":3,"b":2}`},
		{"triple duplicate", `{"a":1,"a":2,"b":0,"a":3}`, `{"a":3,"b":0}`},
		{"nested reorder", `{"m":{"b":1,"3":2,"1":{"z":0,"5":1}},"0":true}`, `{"0":true,"m":{"1":{"5":1,"z":0},"3":2,"b":1}}`},
		{"duplicate with object value", `{"a":{"x":1},"b":[],"a":{"2":0,"1":1}}`, `{"a":{"1":1,"2":0},"b":[]}`},

		{"short escapes", `"\"\\\/\b\f\n\r\t"`, `"\"\\/\b\f\n\r\t"`},
		{"control escapes lowercase", `"\u0000\u001F\u000b\u007f"`, "\"\\u0000\\u001f\\u000b\x7f\""},
		{"html and separators raw", `"<>&\u003c\u2028\u2029"`, "\"<>&<\u2028\u2029\""},
		{"non-ascii escape", `"\u00e9\u4E2D"`, `"é中"`},
		{"raw non-ascii", `"héllo 世界 😀"`, `"héllo 世界 😀"`},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"surrogate pair uppercase", `"\uD83D\uDE00"`, `"😀"`},
		{"lone high", `"\uD800x"`, `"\ud800x"`},
		{"lone low", `"\uDC00"`, `"\udc00"`},
		{"high high low", `"\ud83d\ud83d\ude00"`, `"\ud83d😀"`},
		{"high then raw emoji", "\"\\ud83d😀\"", "\"\\ud83d😀\""},
		{"high at end", `"\ud83d"`, `"\ud83d"`},
		{"high then short escape", `"\ud83d\n"`, `"\ud83d\n"`},
		{"escaped replacement char", `"\ufffd"`, "\"\uFFFD\""},

		{"invalid utf8 lone continuation", "\"a\x80b\"", "\"a\uFFFDb\""},
		{"invalid utf8 truncated 3-byte", "\"\xe1\x80a\"", "\"\uFFFDa\""},
		{"invalid utf8 E0 80", "\"\xe0\x80\"", "\"\uFFFD\uFFFD\""},
		{"invalid utf8 surrogate", "\"\xed\xa0\x80\"", "\"\uFFFD\uFFFD\uFFFD\""},
		{"invalid utf8 overlong", "\"\xc0\x80\"", "\"\uFFFD\uFFFD\""},
		{"invalid utf8 truncated 4-byte", "\"\xf0\x90\x80\"", "\"\uFFFD\""},
		{"invalid utf8 F4 90", "\"\xf4\x90\x80\x80\"", "\"\uFFFD\uFFFD\uFFFD\uFFFD\""},
		{"invalid utf8 FF", "\"\xff\xfe\"", "\"\uFFFD\uFFFD\""},
		{"invalid utf8 in key", "{\"k\xff\":1}", "{\"k\uFFFD\":1}"},

		{"integers", `[0,-0,1,-1,100,123456789012345,-123456789012345]`, `[0,0,1,-1,100,123456789012345,-123456789012345]`},
		{"big integers", `[12345678901234567890,9007199254740993,1234567890123456]`, `[12345678901234567000,9007199254740992,1234567890123456]`},
		{"1e21", `[1e21,1e20,100000000000000000000,999999999999999999999]`, `[1e+21,100000000000000000000,100000000000000000000,1e+21]`},
		{"small", `[1e-7,1e-6,0.000001,1.5e-7,0.0000012345,123e-20]`, `[1e-7,0.000001,0.000001,1.5e-7,0.0000012345,1.23e-18]`},
		{"fractions", `[0.1,1.0,1.50,-0.0,0e10,0.30000000000000004,4.35]`, `[0.1,1,1.5,0,0,0.30000000000000004,4.35]`},
		{"exponents", `[1E5,1e+5,2.5E-3,1e0,10e-1]`, `[100000,100000,0.0025,1,1]`},
		{"extremes", `[5e-324,1.7976931348623157e308,2.2250738585072014e-308]`, `[5e-324,1.7976931348623157e+308,2.2250738585072014e-308]`},
		{"overflow", `[1e400,-1e400,1e-400,-1e-400]`, `[null,null,0,0]`},
		{"long mantissa", `[123456789012345678901234567890,0.1000000000000000055511151231257827]`, `[1.2345678901234568e+29,0.1]`},
		{"huge exponent", `[1e999999999999,1e-999999999999,0e999999999999]`, `[null,0,0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical([]byte(tt.in))
			if err != nil {
				t.Fatalf("Canonical(%q): %v", tt.in, err)
			}
			if want := tt.want; string(got) != want {
				t.Errorf("Canonical(%q)\n got %q\nwant %q", tt.in, got, want)
			}
		})
	}
}

func TestCanonicalErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
	}{
		{``, 0},
		{`   `, 3},
		{`{`, 1},
		{`{"a"}`, 4},
		{`{"a":}`, 5},
		{`{"a":1,}`, 7},
		{`[1,]`, 3},
		{`[1 2]`, 3},
		{`{} x`, 3},
		{`{}{}`, 2},
		{`"abc`, 4},
		{"\"a\nb\"", 2},
		{`"\x"`, 1},
		{`"\u12G4"`, 1},
		{`01`, 1},
		{`-`, 1},
		{`1.`, 2},
		{`1e`, 2},
		{`.5`, 0},
		{`+1`, 0},
		{`tru`, 3},
		{`nul1`, 3},
		{`NaN`, 0},
		{`Infinity`, 0},
		{"\xef\xbb\xbf{}", 0},
		{"[\xff]", 1},
		{`{'a':1}`, 1},
		{`{"a" 1}`, 5},
	}
	for _, tt := range tests {
		got, err := Canonical([]byte(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Canonical(%q) = %q, %v; want a *SyntaxError", tt.in, got, err)
			continue
		}
		if got, want := se.Offset, tt.offset; got != want {
			t.Errorf("Canonical(%q): offset %d, want %d (%v)", tt.in, got, want, err)
		}
	}
}

func TestDepth(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if got, err := Canonical([]byte(ok)); err != nil || string(got) != ok {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	_, err := Canonical([]byte(deep))
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "nesting") {
		t.Errorf("depth %d: err = %v, want a nesting error", MaxDepth+1, err)
	}
}

func TestAppendCanonical(t *testing.T) {
	dst := []byte("prefix:")
	got, err := AppendCanonical(dst, []byte(` {"b" : 1, "a":2} `))
	if err != nil {
		t.Fatal(err)
	}
	if want := `prefix:{"b":1,"a":2}`; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err = AppendCanonical(dst, []byte(`{"a":`))
	if err == nil || string(got) != "prefix:" {
		t.Errorf("on error got %q, %v; want the prefix and an error", got, err)
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\s/", `"q\"b\\s/"`},
		{"\x00\x1f\n\t\x7f", "\"\\u0000\\u001f\\n\\t\x7f\""},
		{"<\u2028😀>", "\"<\u2028😀>\""},
		{"bad\xe1\x80z\xff", "\"bad\uFFFDz\uFFFD\""},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAppendNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1.5, "-1.5"},
		{1e21, "1e+21"}, {1e-7, "1e-7"}, {123e-20, "1.23e-18"},
		{math.Inf(1), "null"}, {math.NaN(), "null"}, {math.MaxFloat64, "1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		if got := string(AppendNumber(nil, tt.in)); got != tt.want {
			t.Errorf("AppendNumber(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestNumberFastPath checks the decimal fast path against strconv on
// random numbers of every shape.
func TestNumberFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}
	for range 200000 {
		var s string
		intDigits := r.IntN(20)
		if intDigits == 0 {
			s = "0"
		} else {
			s = string(byte('1'+r.IntN(9))) + digits(intDigits-1)
		}
		if r.IntN(2) == 0 {
			s += "." + digits(1+r.IntN(18))
		}
		if r.IntN(3) == 0 {
			s += "e" + []string{"", "+", "-"}[r.IntN(3)] + strconv.Itoa(r.IntN(330))
		}
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		got, err := Canonical([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		f, _ := strconv.ParseFloat(s, 64)
		if want := AppendNumber(nil, f); !bytes.Equal(got, want) {
			t.Fatalf("Canonical(%s) = %s, want %s", s, got, want)
		}
	}
}

func TestLargeObjectDuplicates(t *testing.T) {
	var in, want strings.Builder
	in.WriteString("{")
	want.WriteString("{")
	const n = 200
	for i := range n {
		fmt.Fprintf(&in, `"k%d":%d,`, i, i)
	}
	for i := range n {
		if i%3 == 0 {
			fmt.Fprintf(&in, `"k%d":"dup%d",`, i, i)
		}
	}
	in.WriteString(`"7":0,"k0":"last"}`)
	want.WriteString(`"7":0`)
	for i := range n {
		switch {
		case i == 0:
			want.WriteString(`,"k0":"last"`)
		case i%3 == 0:
			fmt.Fprintf(&want, `,"k%d":"dup%d"`, i, i)
		default:
			fmt.Fprintf(&want, `,"k%d":%d`, i, i)
		}
	}
	want.WriteString("}")
	got, err := Canonical([]byte(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("got  %s\nwant %s", got, want.String())
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"10":2,"2":3,"01":4,"-1":5,"4294967295":6,"4294967294":7}`,
		`{"a":1,"a":{"2":0,"1":1},"b":[1e21,1e-7,-0,0.1,5e-324]}`,
		`["\ud800","\ud83d\ude00","\u2028<>&","\u001f",12345678901234567890]`,
		"{\"\xff\":\"\xe1\x80\",\"x\":1E5}",
		`[[[[{}]]]]`,
		`"\/\b\f\n\r\t\"\\"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Canonical(in)
		if !json.Valid(in) {
			if err == nil {
				t.Fatalf("Canonical accepted %q, which encoding/json rejects", in)
			}
			return
		}
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) && strings.Contains(se.Msg, "nesting") {
				return
			}
			t.Fatalf("Canonical(%q): %v", in, err)
		}
		if !json.Valid(got) {
			t.Fatalf("Canonical(%q) = %q: not valid JSON", in, got)
		}
		again, err := Canonical(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
		var a, b any
		if err := json.Unmarshal(in, &a); err != nil {
			return // e.g. a number encoding/json can't hold in a float64
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", got, err)
		}
		if !semanticEqual(a, b) {
			t.Fatalf("meaning changed: %q -> %q", in, got)
		}
	})
}

// semanticEqual compares values decoded by encoding/json. Invalid UTF-8
// is replaced per byte by encoding/json but per maximal subpart by the
// canonical form (as node does), so strings are compared with runs of
// U+FFFD collapsed; lone surrogates decode to U+FFFD either way.
func semanticEqual(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok {
			return false
		}
		na, nb := normKeys(a), normKeys(b)
		if len(na) != len(nb) {
			return false
		}
		for k, v := range na {
			w, ok := nb[k]
			if !ok || !semanticEqual(v, w) {
				return false
			}
		}
		return true
	case string:
		bs, ok := b.(string)
		return ok && collapseFFFD(a) == collapseFFFD(bs)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !semanticEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case float64:
		bf, ok := b.(float64)
		return ok && (a == bf)
	default:
		return reflect.DeepEqual(a, b)
	}
}

func normKeys(m map[string]any) map[string]any {
	n := make(map[string]any, len(m))
	for k, v := range m {
		n[collapseFFFD(k)] = v
	}
	return n
}

func collapseFFFD(s string) string {
	for strings.Contains(s, "\uFFFD\uFFFD") {
		s = strings.ReplaceAll(s, "\uFFFD\uFFFD", "\uFFFD")
	}
	return s
}

func TestNumberLen(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"0", 1}, {"-0", 2}, {"7", 1}, {"120", 3}, {"-12.5", 5}, {"1e9", 3}, {"1E+9", 4},
		{"2.5e-3", 6}, {"0.0", 3}, {"12,", 2}, {"3}", 1}, {"01", 1}, {"0x1", 1},
		{"", 0}, {"-", 0}, {"+1", 0}, {".5", 0}, {"1.", 0}, {"1.e5", 0}, {"1e", 0},
		{"1e+", 0}, {"-a", 0}, {"abc", 0}, {"NaN", 0},
	} {
		if got := NumberLen([]byte(tc.in)); got != tc.want {
			t.Errorf("NumberLen(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestHex4(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want rune
		ok   bool
	}{
		{"0041", 'A', true}, {"00e9x", 'é', true}, {"D83D", 0xD83D, true}, {"ffff", 0xFFFF, true},
		{"004", 0, false}, {"00g1", 0, false}, {"", 0, false}, {"+041", 0, false},
	} {
		if got, ok := Hex4([]byte(tc.in)); got != tc.want || ok != tc.ok {
			t.Errorf("Hex4(%q) = %U, %v; want %U, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestLongNumbersMatchNode: numbers strconv.ParseFloat misreads as
// written (integer digits past its 800th dropped, exponents past 10000
// not read), scaled back into range. The wants are node's
// JSON.stringify(JSON.parse(in)) (v20).
func TestLongNumbersMatchNode(t *testing.T) {
	zeros := strings.Repeat
	tests := []struct{ name, in, want string }{
		{"1e800e-800", "1" + zeros("0", 800) + "e-800", "1"},
		{"in array", "[1" + zeros("0", 1000) + "e-1000]", "[1]"},
		{"overflows in JS", "1" + zeros("0", 1000) + "e-600", "null"},
		{"in an event", `{"duration_seconds":1` + zeros("0", 801) + `e-799}`, `{"duration_seconds":100}`},
		{"exponent 100000", "0." + zeros("0", 100000) + "1234567890123456789e100000", "0.12345678901234568"},
		{"exponent of 20 digits", "0." + zeros("0", 50) + "1e99999999999999999999", "null"},
		{"negative exponent of 20 digits", "1e-99999999999999999999", "0"},
	}
	for _, tt := range tests {
		got, err := Canonical([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: Canonical = %q, %v; node gives %q", tt.name, got, err, tt.want)
		}
	}
}
