package jsjson

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/phoneshield/webhooks/shared/jsjson/jsjsontest"
)

// awkward is a corpus of payloads that exercise every V8 rule; each one is
// checked byte for byte against node.
var awkward = []string{
	`{"event_type":"call.completed","data":{"summary":"<script>alert('x')</script> & \u003cb\u003e","q":"a \"quoted\" \\ word"}}`,
	"{\"sep\":\"line\u2028para\u2029end\",\"esc\":\"\\u2028\\u2029\"}",
	`{"emoji":"😀🎉👩‍👩‍👧‍👦 𝄞 \ud83d\ude00 \uD83C\uDF89","cjk":"通话结束 전화 通話","rtl":"مرحبا שלום"}`,
	`{"ctrl":"\u0000\u0001\u0007\b\t\n\u000b\f\r\u000e\u001f\u007f\u0080\u009f"}`,
	`{"lone":["\ud800","\udbff","\udc00","\udfff","x\ud800y","\ud800\ud800","\udc00\ud800","\ud83d\ude00\ude00"]}`,
	`{"metadata":{"b":1,"10":2,"2":3,"01":4,"-1":5,"4294967295":6,"4294967294":7,"0":8,"-0":9,"1.5":10," 1":11,"1e2":12,"9007199254740993":13}}`,
	`{"data":{"metadata":{"z":{"3":"c","1":"a","2":"b"},"a":[{"9":0,"8":0}]}}}`,
	`{"a":1,"b":2,"a":3}`,
	`{"a":1,"b":{"x":1,"x":2},"a":{"y":1,"1":2},"c":[{"d":1,"d":null}]}`,
	`{"1":"one","b":2,"1":"uno","0":"zero","0":"cero"}`,
	`{"__proto__":{"polluted":true},"constructor":1,"toString":2,"hasOwnProperty":3}`,
	`[1e21,1e-7,123456789012345678901234567890,0.1,5e-324,1.7976931348623157e308,1e400,-0,1.0,100,1E5]`,
	`[0.000001,1e-6,9.999999999999999e-7,1e20,99999999999999999999,999999999999999999999,1e+21,1.5e-7,1e-323,2.5e-324,-1e400]`,
	`[12345678901234567890,9007199254740993,18446744073709551615,0.30000000000000004,0.1e1,10e-1,1e0,-0.0,0e0]`,
	`[123.456e2,0.00001234,1.7976931348623158e308,1.7976931348623159e308,2.2250738585072011e-308,4.9e-324,3.14159265358979323846]`,
	`[-1.5,-100,-1e-10,-5e-324,0.5,2e-7,1e-7,9e-7]`,
	strings.Repeat("[", 500) + strings.Repeat("]", 500),
	strings.Repeat(`{"a":`, 300) + `{"2":1,"1":0}` + strings.Repeat("}", 300),
	`{}`, `[]`, `{"a":{},"b":[],"c":[{}],"d":[[]],"e":""}`,
	`"top"`, `0`, `-0`, `true`, `null`, `1e400`,
	" \t\r\n{ \"spaced\" : [ 1 , \"two\" , { } ] } \n",
	`{"url":"https:\/\/api.phoneshield.ai\/v1\/calls\/call_1\/transcript"}`,
	"{\"raw\":\"é\xc3\xa9\",\"bad\":\"a\x80b\xe1\x80c\xe0\x80d\xed\xa0\x80e\xc0\x80f\xf0\x90\x80g\xf4\x90\x80\x80h\xff\xfe\"}",
	"{\"k\xffey\":1,\"k\xfeey\":2,\"trunc\xe2\x82\":3}",
	"\"\xf0\x9f\x98\"", "\"end\xc3\"",
	`{"\u0030":0,"\u0061":1,"a":2}`,
	`{"":1,"\"":2,"\\":3,"\n":4}`,
}

// rejected are inputs JSON.parse throws on; Canonical must reject them too.
var rejected = []string{
	"", " ", "{", `{"a"}`, `{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `+1`, `NaN`, `Infinity`,
	`'a'`, `{a:1}`, `"a` + "\n" + `b"`, `"\x"`, `"\u12"`, `tru`, `{} {}`, `[1] x`,
	"\xef\xbb\xbf{}", "[\xff]", "{\"a\":1}\x00", "\u00a0{}", `[1,2`, `"\ud800`,
}

func TestMatchesNode(t *testing.T) {
	var inputs [][]byte
	for _, s := range awkward {
		inputs = append(inputs, []byte(s))
	}
	r := rand.New(rand.NewPCG(7, 11))
	for range 400 {
		inputs = append(inputs, randomJSON(r, 0, true))
	}
	for _, s := range rejected {
		inputs = append(inputs, []byte(s))
	}
	results := jsjsontest.RoundTrip(t, inputs)
	nodeErrs := 0
	for i, in := range inputs {
		if results[i].Err != "" {
			nodeErrs++
		}
		got, err := Canonical(in)
		res := results[i]
		switch {
		case res.Err != "" && err == nil:
			t.Errorf("input %d %q: Canonical accepted it as %q; node: %s", i, clip(in), clip(got), res.Err)
		case res.Err == "" && err != nil:
			t.Errorf("input %d %q: %v; node gives %q", i, clip(in), err, clip(res.Out))
		case res.Err == "" && !bytes.Equal(got, res.Out):
			t.Errorf("input %d %q:\n got %q\nnode %q", i, clip(in), clip(got), clip(res.Out))
		}
	}
	t.Logf("%d inputs compared with node; node rejected %d (%d expected)", len(inputs), nodeErrs, len(rejected))
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

var (
	randKeys = []string{"a", "b", "call_id", "0", "1", "2", "10", "01", "-1", "4294967294", "4294967295",
		"__proto__", "é", "😀", "\\u0031", "\\ud800", "a\\nb", ""}
	randStrings = []string{"", "plain", "<a href=\\\"x\\\">&amp;</a>", "\u2028\u2029", "\\u2028", "😀", "\\ud83d\\ude00",
		"\\ud83d", "\\udc00", "\\u0000\\u001f", "\\b\\f\\n\\r\\t", "\\/", "tab\\there", "é中🎉", "\x7f", "\xff", "\xe2\x82", "\\\\"}
	randNumbers = []string{"0", "-0", "1", "-1", "0.1", "1e21", "1e-7", "1.5e-7", "5e-324", "1e400", "-1e400", "1E5",
		"12345678901234567890", "1.7976931348623157e308", "100", "1.0", "0.000001", "123456789.123456789", "4.35", "1e-400", "2e22"}
)

// randomJSON builds a random JSON text from awkward pieces, with random
// whitespace.
func randomJSON(r *rand.Rand, depth int, top bool) []byte {
	var b bytes.Buffer
	ws := func() {
		if r.IntN(4) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "\r\n  "}[r.IntN(4)])
		}
	}
	kind := r.IntN(8)
	if top {
		kind = 0
	}
	if depth > 5 && kind < 2 {
		kind = 2 + r.IntN(6)
	}
	switch kind {
	case 0:
		b.WriteByte('{')
		n := r.IntN(8)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			b.WriteString(`"` + randKeys[r.IntN(len(randKeys))] + `"`)
			ws()
			b.WriteByte(':')
			ws()
			b.Write(randomJSON(r, depth+1, false))
			ws()
		}
		b.WriteByte('}')
	case 1:
		b.WriteByte('[')
		n := r.IntN(5)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			b.Write(randomJSON(r, depth+1, false))
			ws()
		}
		b.WriteByte(']')
	case 2, 3:
		b.WriteString(`"` + randStrings[r.IntN(len(randStrings))] + randStrings[r.IntN(len(randStrings))] + `"`)
	case 4, 5:
		b.WriteString(randNumbers[r.IntN(len(randNumbers))])
	case 6:
		b.WriteString(strconv.FormatFloat(r.NormFloat64()*1e3, 'g', -1, 64))
	default:
		b.WriteString([]string{"true", "false", "null"}[r.IntN(3)])
	}
	return b.Bytes()
}
