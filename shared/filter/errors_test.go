package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func deep(n int) string {
	return strings.Repeat(`{"not":`, n-1) + `{"field":"status","op":"exists"}` + strings.Repeat(`}`, n-1)
}

func manyConds(n int) string {
	conds := make([]string, n)
	for i := range conds {
		conds[i] = `{"field":"status","op":"exists"}`
	}
	return `{"or":[` + strings.Join(conds, ",") + `]}`
}

func TestJSONErrors(t *testing.T) {
	long := strings.Repeat("x", MaxString+1)
	list := make([]string, MaxList+1)
	for i := range list {
		list[i] = fmt.Sprint(i)
	}
	cases := []struct {
		json, path, msg string
	}{
		{`{"and":[{"field":"event_type","op":"=","value":"call.completed"},{"or":[{"field":"transcrip","op":"has","value":"x"}]}]}`,
			"and[1].or[0].field", `unknown field "transcrip" (did you mean transcript?)`},
		{`{"field":"durations","op":">","value":1}`, "field", `unknown field "durations" (did you mean duration_seconds?)`},
		{`{"field":"duration_seconds","op":"has","value":"x"}`, "op",
			"operator has is not defined for duration_seconds (a number); use =, !=, in, not in, <, <=, >, >=, exists, not exists"},
		{`{"field":"duration_seconds","op":">","value":"120"}`, "value", `duration_seconds > needs a number, got string "120"`},
		{`{"field":"duration_seconds","op":"in","value":[1,"2"]}`, "value[1]", `duration_seconds in needs a number, got string "2"`},
		{`{"field":"transcript","op":">","value":1}`, "op", "operator > is not defined for transcript (text); use has, exists, not exists"},
		{`{"field":"transcript","op":"has","value":"  "}`, "value", "empty phrase"},
		{`{"field":"transcript","op":"has","value":7}`, "value", "transcript has needs a phrase string, got number 7"},
		{`{"and":[{"field":"time.hour","op":">=","value":9,"tz":"Mars/Olympus_Mons"}]}`, "and[0].tz",
			`bad time zone "Mars/Olympus_Mons": not an IANA time zone (e.g. "America/New_York", "Europe/Paris", "UTC")`},
		{`{"field":"time.hour","op":">=","value":9,"tz":"Local"}`, "tz", `bad time zone "Local": an IANA name such as "America/New_York" or "UTC" expected`},
		{`{"field":"time.hour","op":"<","value":24}`, "value", "an hour is a whole number from 0 to 23, got number 24"},
		{`{"field":"time.hour","op":"<","value":9.5}`, "value", "an hour is a whole number from 0 to 23, got number 9.5"},
		{`{"field":"time.weekday","op":"in","value":["mon","funday"]}`, "value[1]", `a weekday is one of mon, tue, wed, thu, fri, sat, sun, got string "funday"`},
		{`{"field":"time.clock","op":">=","value":"9:30"}`, "value", `a clock time is "HH:MM" from "00:00" to "23:59", got string "9:30"`},
		{`{"field":"time.date","op":"=","value":"2025-02-30"}`, "value", `a date is "YYYY-MM-DD", got string "2025-02-30"`},
		{`{"field":"time.hour","op":"exists"}`, "op", "operator exists is not defined for time.hour (a time); use =, !=, in, not in, <, <=, >, >="},
		{`{"field":"status","op":"=","value":"x","tz":"UTC"}`, "tz", "tz applies to time.* conditions only"},
		{`{"and":[{"field":"time.hour","op":">=","value":9},{"field":"time.hour","op":"<","value":17,"tz":"Europe/Paris"}]}`, "and[0]",
			`time.hour >= 9 has no time zone while time.hour has "Europe/Paris": add tz to each time condition, or set one for the filter (tz "Europe/Paris"; ...)`},
		{`{"tz":"Nowhere/City","and":[{"field":"time.hour","op":">=","value":9}]}`, "tz", `bad time zone "Nowhere/City": not an IANA time zone (e.g. "America/New_York", "Europe/Paris", "UTC")`},
		{`{"and":[{"not":{"field":"status","op":"=","value":"x","tz":"UTC"}}],"tz":5}`, "tz", `tz must be a string, e.g. "America/New_York"`},
		{`{"and":[{"or":[{"field":"status","op":"exists"}],"tz":"UTC"}]}`, "and[0].tz", `"tz" is allowed on a condition or on the root only`},
		{`{"field":"caller_number","op":"prefix","value":"1415"}`, "value", `bad phone prefix "1415": "+" and 1 to 15 digits expected, e.g. "+1415"`},
		{`{"field":"caller_number","op":"prefix","value":"+1-415"}`, "value", `bad phone prefix "+1-415": "+" and 1 to 15 digits expected, e.g. "+1415"`},
		{`{"field":"caller_number","op":"=","value":"+0123"}`, "value", `bad phone number "+0123": E.164 expected, e.g. "+14155550142"`},
		{`{"field":"caller_country","op":"=","value":"UK"}`, "value", `"UK" is not a region with phone numbers (did you mean "GB"?)`},
		{`{"field":"caller_country","op":"in","value":["US","USA"]}`, "value[1]", `"USA" is not a region code: two letters expected, e.g. "US"`},
		{`{"field":"caller_country","op":"prefix","value":"U"}`, "op", "operator prefix is not defined for caller_country (a region code); use =, !=, in, not in, exists, not exists"},
		{`{"field":"caller_area_code","op":"=","value":415}`, "value", "caller_area_code = needs a string, got number 415"},
		{`{"field":"caller_area_code","op":"=","value":"4l5"}`, "value", `bad area code "4l5": 1 to 8 digits expected, e.g. "415"`},
		{`{"field":"urgency","op":">=","value":"urgent"}`, "value", `bad urgency value string "urgent": want low, medium or high`},
		{`{"field":"urgency","op":"in","value":["low","urgent"]}`, "value[1]", `bad urgency value string "urgent": want low, medium or high`},
		{`{"field":"sentiment","op":"=","value":"happy"}`, "value", `bad sentiment value "happy": want positive, neutral, negative or mixed`},
		{`{"field":"direction","op":"=","value":"sideways"}`, "value", `bad direction value "sideways": want inbound or outbound`},
		{`{"field":"ai_handled","op":"=","value":"yes"}`, "value", `ai_handled = needs true or false, got string "yes"`},
		{`{"field":"topics","op":"has","value":""}`, "value", `topics has needs a non-empty string, got string ""`},
		{`{"field":"topics","op":"=","value":"x"}`, "op", "operator = is not defined for topics (a list of topics); use has, in, not in, exists, not exists"},
		{`{"field":"metadata.a b","op":"exists"}`, "field", `bad metadata key "a b": up to 4 dot-separated keys of letters, digits, _ and -`},
		{`{"field":"metadata.","op":"exists"}`, "field", `bad metadata key "": up to 4 dot-separated keys of letters, digits, _ and -`},
		{`{"field":"metadata.score","op":">","value":"5"}`, "value", `metadata.score > needs a number, got string "5"`},
		{`{"field":"metadata.score","op":"prefix","value":5}`, "value", "metadata.score prefix needs a string, got number 5"},
		{`{"event_type":"call.complete"}`, "event_type", `unknown event type "call.complete"`},
		{`{"and":[{"event_type":["call.completed","call.nope"]}]}`, "and[0].event_type[1]", `unknown event type "call.nope"`},
		{`{"and":[{"event_type":{"x":1}}]}`, "and[0].event_type", "a value is a string, number or boolean, got object"},
		{`{"field":"event_type","op":"prefix","value":""}`, "value", "empty prefix"},
		{`{"field":"status","op":"in","value":[]}`, "value", "empty list"},
		{`{"field":"status","op":"in","value":"completed"}`, "value", `in needs an array value, got string "completed"`},
		{`{"field":"status","op":"=","value":null}`, "value", "a value is a string, number or boolean, got null"},
		{`{"field":"status","op":"="}`, "value", "value is missing"},
		{`{"field":"status","op":"exists","value":true}`, "value", "exists takes no value"},
		{`{"not":{"field":"status"}}`, "not.op", "op is missing"},
		{`{"field":"status","op":"~","value":"x"}`, "op",
			`unknown operator "~" (want =, !=, in, not in, prefix, has, contains, <, <=, >, >=, exists or not exists)`},
		{`{"field":7,"op":"exists"}`, "field", "field must be a string, got number 7"},
		{`{"field":"status","op":"=","value":"x","extra":1}`, "extra", `unknown key "extra"`},
		{`{"and":[{"field":"status","op":"exists"}],"or":[]}`, "", `a filter node has exactly one of "and", "or", "not", "field" or "event_type" (got and, or)`},
		{`{}`, "", `a filter node has exactly one of "and", "or", "not", "field" or "event_type"`},
		{`{"and":[]}`, "and", "and needs a non-empty array of filter nodes"},
		{`{"or":{}}`, "or", "or needs a non-empty array of filter nodes"},
		{`{"and":[{"or":[7]}]}`, "and[0].or[0]", "a filter node is an object, got number 7"},
		{`[1]`, "", "a filter is an object or a text filter string, got array"},
		{`{"field":"status","op":"=","value":"` + long + `"}`, "value", fmt.Sprintf("string longer than %d bytes", MaxString)},
		{`{"field":"status","op":"in","value":[` + strings.Join(list, ",") + `]}`, "value", fmt.Sprintf("list longer than %d", MaxList)},
		{`{"field":"duration_seconds","op":">","value":1e999}`, "value", "number 1e999 out of range"},
		{`{"field":"metadata.account_id","op":"=","value":9007199254740993}`, "value", "integer 9007199254740993 is beyond ±2^53, where numbers are no longer exact; compare such ids as strings (quote them)"},
		{`{"field":"metadata.account_id","op":"in","value":[1, 9007199254740992]}`, "value[1]", "integer 9007199254740992 is beyond ±2^53, where numbers are no longer exact; compare such ids as strings (quote them)"},
		{`{"field":"duration_seconds","op":">","value":1e-400}`, "value", "number 1e-400 is too small: it would be 0"},
		{deep(MaxDepth + 1), strings.TrimSuffix(strings.Repeat("not.", MaxDepth), "."), fmt.Sprintf("nested deeper than %d", MaxDepth)},
		{manyConds(MaxNodes), fmt.Sprintf("or[%d]", MaxNodes-1), fmt.Sprintf("more than %d nodes", MaxNodes)},
		{`{"field":"status"`, "", "malformed JSON: unexpected EOF"},
		{`{"field":"status","op":"exists"} {}`, "", "malformed JSON: data after the filter"},
		{``, "", "empty filter"},
		{`"durations > 5"`, "1:1", `unknown field "durations" (did you mean duration_seconds?)`},
	}
	for _, c := range cases {
		t.Run(c.path+" "+c.msg, func(t *testing.T) {
			_, err := FromJSON([]byte(c.json))
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("FromJSON(%s) = %v, want an *Error", c.json, err)
			}
			if fe.Path != c.path || fe.Msg != c.msg {
				t.Errorf("FromJSON(%.80s):\n got %q: %s\nwant %q: %s", c.json, fe.Path, fe.Msg, c.path, c.msg)
			}
		})
	}
	// Just inside the limits compiles.
	for _, s := range []string{deep(MaxDepth), manyConds(MaxNodes - 1)} {
		if _, err := FromJSON([]byte(s)); err != nil {
			t.Errorf("%.60s: %v", s, err)
		}
	}
}

func TestTextErrors(t *testing.T) {
	cases := []struct {
		text, path string
		off        int
		msg        string
	}{
		{`duration_seconds > 120 and (transcript has "pricing" or transcrpt has "quote")`, "1:57", 56, `unknown field "transcrpt" (did you mean transcript?)`},
		{`duration_seconds has "x"`, "1:18", 17, "operator has is not defined for duration_seconds (a number); use =, !=, in, not in, <, <=, >, >=, exists, not exists"},
		{`urgency >= urgent`, "1:12", 11, `bad urgency value string "urgent": want low, medium or high`},
		{`urgency in [low, urgnet]`, "1:18", 17, `bad urgency value string "urgnet": want low, medium or high`},
		{`caller_number prefix "1415"`, "1:22", 21, `bad phone prefix "1415": "+" and 1 to 15 digits expected, e.g. "+1415"`},
		{`time.hour >= 9 tz "Mars/Base"`, "1:19", 18, `bad time zone "Mars/Base": not an IANA time zone (e.g. "America/New_York", "Europe/Paris", "UTC")`},
		{`tz "Nowhere"; time.hour > 1`, "1:4", 3, `bad time zone "Nowhere": not an IANA time zone (e.g. "America/New_York", "Europe/Paris", "UTC")`},
		{`tz "UTC" time.hour > 1`, "1:10", 9, `";" after the filter's time zone expected, got "time.hour"`},
		{`time.hour >= 9 and time.hour < 17 tz "Europe/Paris"`, "1:1", 0,
			`time.hour >= 9 has no time zone while time.hour has "Europe/Paris": add tz to each time condition, or set one for the filter (tz "Europe/Paris"; ...)`},
		{`status = "x" tz "UTC"`, "1:17", 16, "tz applies to time.* conditions only"},
		{"event_type = \"call.completed\"\n  and durations > 5", "2:7", 36, `unknown field "durations" (did you mean duration_seconds?)`},
		{"summary has \"é\" and\n  transcrip has \"é\"", "2:3", 23, `unknown field "transcrip" (did you mean transcript?)`},
		{`(status = "x"`, "1:14", 13, `")" expected, got end of filter`},
		{`status = "x")`, "1:13", 12, `unbalanced ")"`},
		{`status = "x" status = "y"`, "1:14", 13, `"and", "or" or end of filter expected, got "status"`},
		{`status = "unterminated`, "1:10", 9, "unterminated string"},
		{`status = "bad \q"`, "1:15", 14, `unknown escape \q`},
		{`status = "\ud800"`, "1:11", 10, `bad \u escape: lone surrogate`},
		{"status = \"a\tb\"", "1:12", 11, `control character in string (use \n, \t or \uXXXX)`},
		{`status = 12abc`, "1:10", 9, `bad number "12a" (quote text values)`},
		{`duration_seconds > 1e999`, "1:20", 19, "number 1e999 out of range"},
		{`metadata.account_id = -9007199254740993`, "1:23", 22, "integer -9007199254740993 is beyond ±2^53, where numbers are no longer exact; compare such ids as strings (quote them)"},
		{`duration_seconds > 1e-400`, "1:20", 19, "number 1e-400 is too small: it would be 0"},
		{`duration_seconds > 1.`, "1:20", 19, "bad number: digits expected after the decimal point"},
		{`status ! "x"`, "1:8", 7, `unexpected "!" (did you mean "!="?)`},
		{`status === "x"`, "1:10", 9, `value expected, got "="`},
		{`status`, "1:7", 6, "operator after status expected, got end of filter"},
		{`status not "x"`, "1:12", 11, `"in" or "exists" after "not" expected, got string "x"`},
		{`status in "x"`, "1:11", 10, `list "[...]" after in expected, got string "x"`},
		{`status in ["a" "b"]`, "1:16", 15, `"," or "]" expected, got string "b"`},
		{`status in []`, "1:11", 10, "empty list"},
		{`status = and`, "1:10", 9, `value expected, got "and"`},
		{`and = 1`, "1:1", 0, `field name expected, got "and"`},
		{`status = "x" and`, "1:17", 16, "field name expected, got end of filter"},
		{`status = €`, "1:10", 9, `unexpected character '€'`},
		{"status = \"\xff\"", "1:11", 10, "invalid UTF-8 in string"},
		{``, "1:1", 0, "empty filter"},
		{`   `, "1:1", 0, "empty filter"},
		{`status = "` + strings.Repeat("x", MaxString+1) + `"`, "1:10", 9, fmt.Sprintf("string longer than %d bytes", MaxString)},
		{strings.Repeat("not ", MaxDepth) + `status exists`, "1:65", 64, fmt.Sprintf("nested deeper than %d", MaxDepth)},
		{strings.Repeat("(", 2*MaxDepth+3) + `status exists`, "1:35", 34, fmt.Sprintf("nested deeper than %d", MaxDepth)},
		{`status = "x"` + strings.Repeat(` or status = "x"`, MaxNodes), fmt.Sprintf("1:%d", 1+12+16*(MaxNodes-2)+4), 12 + 16*(MaxNodes-2) + 4, fmt.Sprintf("more than %d nodes", MaxNodes)},
	}
	for _, c := range cases {
		t.Run(c.path+" "+c.msg, func(t *testing.T) {
			_, err := Parse(c.text)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) = %v, want an *Error", c.text, err)
			}
			if fe.Path != c.path || fe.Offset != c.off || fe.Msg != c.msg {
				t.Errorf("Parse(%.80q):\n got %q @%d: %s\nwant %q @%d: %s", c.text, fe.Path, fe.Offset, fe.Msg, c.path, c.off, c.msg)
			}
		})
	}
	// Error() reads well.
	_, err := Parse(`duration_seconds has "x"`)
	if got, want := err.Error(), "filter: 1:18: operator has is not defined for duration_seconds (a number); use =, !=, in, not in, <, <=, >, >=, exists, not exists"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestStoredFiltersReadLeniently: the rules on numbers given as input
// (none from ±2^53 on, none so small it would be 0) don't apply to a
// stored filter: one saved before them keeps compiling, as it did.
func TestStoredFiltersReadLeniently(t *testing.T) {
	for _, stored := range []string{
		`{"field":"metadata.account_id","op":"=","value":9007199254740992}`,
		`{"field":"duration_seconds","op":">","value":1e-400}`,
		`"metadata.account_id = 9007199254740993"`,
	} {
		if _, err := FromJSON([]byte(stored)); err == nil {
			t.Errorf("FromJSON(%s) accepted it as input", stored)
		}
		f, err := FromStoredJSON([]byte(stored))
		if err != nil {
			t.Errorf("FromStoredJSON(%s) = %v, want it compiled", stored, err)
			continue
		}
		if _, err := FromStoredJSON(f.JSON()); err != nil {
			t.Errorf("FromStoredJSON of its canonical form %s = %v", f.JSON(), err)
		}
		text, _ := json.Marshal(f.String()) // stored as the text form
		if _, err := FromStoredJSON(text); err != nil {
			t.Errorf("FromStoredJSON(%s) = %v", text, err)
		}
	}
}
