package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

type evalCase struct {
	filter string
	patch  map[string]any
	want   bool
}

// runCases runs the cases on a call.completed event at sampleTime.
func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			check(t, mustParse(t, c.filter), event(t, "call.completed", sampleTime, c.patch), c.want)
		})
	}
}

func TestEventType(t *testing.T) {
	runCases(t, []evalCase{
		{`event_type = "call.completed"`, nil, true},
		{`event_type = call.completed`, nil, true},
		{`event_type == "call.completed"`, nil, true},
		{`event_type = "call.received"`, nil, false},
		{`event_type != "call.completed"`, nil, false},
		{`event_type != "call.received"`, nil, true},
		{`event_type in ["call.received", "call.completed"]`, nil, true},
		{`event_type in ["call.received", "voicemail.recorded"]`, nil, false},
		{`event_type not in ["call.received"]`, nil, true},
		{`event_type not in ["call.completed"]`, nil, false},
		{`event_type prefix "call."`, nil, true},
		{`event_type prefix "voicemail."`, nil, false},
	})
}

func TestNumbers(t *testing.T) {
	gb := map[string]any{"caller_number": "+442079460958"}
	noCaller := map[string]any{"caller_number": nil}
	runCases(t, []evalCase{
		{`caller_number = "+14155550142"`, nil, true},
		{`caller_number = "+14155550143"`, nil, false},
		{`caller_number != "+14155550142"`, nil, false},
		{`caller_number in ["+442079460958", "+14155550142"]`, nil, true},
		{`caller_number not in ["+442079460958"]`, nil, true},
		{`caller_number prefix "+1415"`, nil, true},
		{`caller_number prefix "+1"`, nil, true},
		{`caller_number prefix "+44"`, nil, false},
		{`caller_number prefix "+44"`, gb, true},
		{`caller_number exists`, nil, true},
		{`caller_number not exists`, nil, false},
		{`caller_number exists`, noCaller, false},
		{`caller_number not exists`, noCaller, true},
		{`caller_number prefix "+1"`, noCaller, false},
		// != and not in are negations: true when the field is absent.
		{`caller_number != "+14155550142"`, noCaller, true},
		{`caller_number not in ["+14155550142"]`, noCaller, true},
		{`caller_number = "+14155550142"`, map[string]any{"caller_number": 14155550142}, false},
		{`phone_number = "+15551234567"`, nil, true},
		{`phone_number prefix "+1555"`, nil, true},
		{`phone_number prefix "+1556"`, nil, false},

		{`caller_country = "US"`, nil, true},
		{`caller_country = "us"`, nil, true},
		{`caller_country = "GB"`, nil, false},
		{`caller_country = "GB"`, gb, true},
		{`caller_country != "US"`, gb, true},
		{`caller_country in ["CA", "GB"]`, nil, false},
		{`caller_country in ["CA", "GB"]`, gb, true},
		{`caller_country not in ["CA", "GB"]`, nil, true},
		{`caller_country = "CA"`, map[string]any{"caller_number": "+14165550199"}, true}, // Toronto shares +1
		{`caller_country exists`, nil, true},
		{`caller_country exists`, noCaller, false},
		{`caller_country exists`, map[string]any{"caller_number": "not a number"}, false},
		{`caller_country = "US"`, noCaller, false},
		// +1 555 123 4567 is no region's number: the country is unknown.
		{`phone_country exists`, nil, false},
		{`phone_country not exists`, nil, true},
		{`phone_country = "US"`, map[string]any{"phone_number": "+12125551234"}, true},

		{`caller_area_code = "415"`, nil, true},
		{`caller_area_code != "415"`, nil, false},
		{`caller_area_code in ["212", "415"]`, nil, true},
		{`caller_area_code not in ["212", "646"]`, nil, true},
		{`caller_area_code = "20"`, gb, true},
		{`caller_area_code exists`, nil, true},
		{`caller_area_code exists`, noCaller, false},
		{`caller_country = "US" and caller_area_code in ["415", "510", "650"]`, nil, true},
		{`phone_area_code = "212"`, map[string]any{"phone_number": "+12125551234"}, true},
	})
}

func TestCallFields(t *testing.T) {
	runCases(t, []evalCase{
		{`direction = inbound`, nil, true},
		{`direction = "INBOUND"`, nil, true},
		{`direction = outbound`, nil, false},
		{`direction != outbound`, nil, true},
		{`direction in [inbound, outbound]`, nil, true},
		{`direction not in [inbound]`, nil, false},
		{`direction = inbound`, map[string]any{"direction": "Inbound"}, true},
		{`direction exists`, map[string]any{"direction": nil}, false},

		{`status = "completed"`, nil, true},
		{`status = "Completed"`, nil, false}, // free strings compare exactly
		{`status != "completed"`, nil, false},
		{`status in ["failed", "completed"]`, nil, true},
		{`status not in ["failed", "busy"]`, nil, true},
		{`status prefix "comp"`, nil, true},
		{`status prefix "fail"`, nil, false},
		{`status exists`, nil, true},

		{`duration_seconds = 187`, nil, true},
		{`duration_seconds = 187.0`, nil, true},
		{`duration_seconds != 187`, nil, false},
		{`duration_seconds > 120`, nil, true},
		{`duration_seconds > 187`, nil, false},
		{`duration_seconds >= 187`, nil, true},
		{`duration_seconds < 187`, nil, false},
		{`duration_seconds <= 187`, nil, true},
		{`duration_seconds < 200`, nil, true},
		{`duration_seconds in [60, 187]`, nil, true},
		{`duration_seconds not in [187]`, nil, false},
		{`duration_seconds > 120`, map[string]any{"duration_seconds": 95}, false},
		{`duration_seconds > 120`, map[string]any{"duration_seconds": 120.5}, true},
		{`duration_seconds > -1`, map[string]any{"duration_seconds": "187"}, false}, // not a number
		{`duration_seconds > 120`, map[string]any{"duration_seconds": nil}, false},
		{`duration_seconds exists`, nil, true},
		{`duration_seconds >= 1e2`, nil, true},

		{`ai_handled = true`, nil, true},
		{`ai_handled = false`, nil, false},
		{`ai_handled != true`, nil, false},
		{`ai_handled = TRUE`, nil, true},
		{`forwarded = false`, nil, true},
		{`forwarded = true`, nil, false},
		{`forwarded exists`, nil, true},
		{`forwarded = false`, map[string]any{"forwarded": "false"}, false},
		{`forwarded not exists`, map[string]any{"forwarded": nil}, true},
	})
}

func TestAnalysisFields(t *testing.T) {
	runCases(t, []evalCase{
		{`topics has "pricing"`, nil, true},
		{`topics has "PRICING"`, nil, true},
		{`topics has "Quote Request"`, nil, true},
		{`topics contains "roof replacement"`, nil, true},
		{`topics has "quote"`, nil, false}, // an element must equal it
		{`topics has "shipping"`, nil, false},
		{`topics in ["shipping", "pricing"]`, nil, true},
		{`topics in ["shipping", "tracking"]`, nil, false},
		{`topics not in ["shipping", "tracking"]`, nil, true},
		{`topics not in ["shipping", "Pricing"]`, nil, false},
		{`topics exists`, nil, true},
		{`topics has "pricing"`, map[string]any{"topics": []any{}}, false},
		{`topics exists`, map[string]any{"topics": []any{}}, true},
		{`topics not exists`, map[string]any{"topics": nil}, true},
		{`topics has "Prĳs"`, map[string]any{"topics": []any{"PRĲS", 7}}, true},

		{`sentiment = positive`, nil, true},
		{`sentiment = negative`, nil, false},
		{`sentiment != negative`, nil, true},
		{`sentiment in [negative, mixed]`, nil, false},
		{`sentiment not in [negative, mixed]`, nil, true},
		{`sentiment exists`, nil, true},

		{`urgency = medium`, nil, true},
		{`urgency = "MEDIUM"`, nil, true},
		{`urgency != medium`, nil, false},
		{`urgency >= medium`, nil, true},
		{`urgency > medium`, nil, false},
		{`urgency > low`, nil, true},
		{`urgency < high`, nil, true},
		{`urgency <= low`, nil, false},
		{`urgency in [high, medium]`, nil, true},
		{`urgency not in [high]`, nil, true},
		{`urgency > medium`, map[string]any{"urgency": "high"}, true},
		{`urgency >= low`, map[string]any{"urgency": "critical"}, false}, // not a known level
		{`urgency exists`, map[string]any{"urgency": "critical"}, true},
		{`urgency >= low`, map[string]any{"urgency": nil}, false},
	})
}

func TestPhrases(t *testing.T) {
	runCases(t, []evalCase{
		{`transcript has "pricing"`, nil, true},
		{`transcript has "PRICING"`, nil, true},
		{`transcript has "quote"`, nil, true}, // "a firm quote?"
		{`transcript has "quotes"`, nil, false},
		{`transcript has "misquote"`, nil, false},
		{`transcript has "firm quote"`, nil, true},
		{`transcript has "firm   quote"`, nil, true},
		{`transcript has "twenty years old"`, nil, true},
		{`transcript has "GONZÁLEZ"`, nil, true},
		{`transcript has "María González."`, nil, true},
		{`transcript has "gonz"`, nil, false},
		{`transcript has "$9"`, nil, true},
		{`transcript has "10 a.m."`, nil, true},
		{`transcript contains "square feet"`, nil, true},
		{`transcript has "quote"`, map[string]any{"transcript": "Quote, please."}, true},
		{`transcript has "quote"`, map[string]any{"transcript": "We misquoted the quotes."}, false},
		{`transcript has "quote"`, map[string]any{"transcript": "quote"}, true},
		{`transcript has "quote"`, map[string]any{"transcript": "«QUOTE»"}, true},
		{`transcript has "quote"`, map[string]any{"transcript": "quote_id 7"}, false},
		{`transcript has "quote"`, map[string]any{"transcript": "a \"quote\" with\tescapes\n"}, true},
		{`transcript has "quote"`, map[string]any{"transcript": 42}, false},
		{`transcript has "quote"`, map[string]any{"transcript": nil}, false},
		{`transcript exists`, nil, true},
		{`transcript not exists`, map[string]any{"transcript": nil}, true},

		{`summary has "roof replacement"`, nil, true},
		{`summary has "Oakland"`, nil, true},
		{`summary has "oak"`, nil, false},
		{`summary has "Friday, May 2"`, nil, true},
		{`summary has "on-site quote"`, nil, true},
		{`summary has "pricing" and transcript has "pricing"`, nil, true},
	})
}

func TestMetadata(t *testing.T) {
	rich := map[string]any{"metadata": map[string]any{
		"score": 7, "vip": true, "tier": "gold", "nested": map[string]any{"region": "west"}, "none": nil,
	}}
	runCases(t, []evalCase{
		{`metadata.account_type = "premium"`, nil, true},
		{`metadata.account_type = "basic"`, nil, false},
		{`metadata.account_type != "basic"`, nil, true},
		{`metadata.account_type in ["basic", "premium"]`, nil, true},
		{`metadata.account_type not in ["basic", "premium"]`, nil, false},
		{`metadata.source prefix "web"`, nil, true},
		{`metadata.source has "WEBSITE"`, nil, true},
		{`metadata.crm_lead_id prefix "lead_2025"`, nil, true},
		{`metadata.customer_id exists`, nil, true},
		{`metadata.missing exists`, nil, false},
		{`metadata.missing not exists`, nil, true},
		{`metadata.score > 5`, rich, true},
		{`metadata.score <= 5`, rich, false},
		{`metadata.score = 7`, rich, true},
		{`metadata.score = "7"`, rich, false},
		{`metadata.score in [1, 7, "x"]`, rich, true},
		{`metadata.score prefix "7"`, rich, false},
		{`metadata.tier > 5`, rich, false},
		{`metadata.vip = true`, rich, true},
		{`metadata.vip = "true"`, rich, false},
		{`metadata.nested.region = "west"`, rich, true},
		{`metadata.nested.region.deeper exists`, rich, false},
		{`metadata.nested exists`, rich, true},
		{`metadata.none exists`, rich, false},
		{`metadata.account_type exists`, map[string]any{"metadata": "not an object"}, false},
	})
}

func TestTimeFields(t *testing.T) {
	// sampleTime is Wednesday 2025-04-30 15:24:39 UTC = 11:24 in New York.
	runCases(t, []evalCase{
		{`time.hour = 15`, nil, true},
		{`time.hour = 11 tz "America/New_York"`, nil, true},
		{`time.hour = 17 tz "Europe/Paris"`, nil, true},
		{`time.hour >= 9 tz "Europe/Paris" and time.hour < 17 tz "Europe/Paris"`, nil, false},
		{`tz "America/New_York"; time.hour >= 9 and time.hour < 17`, nil, true},
		{`time.minute = 24`, nil, true},
		{`time.clock >= "15:00" and time.clock < "15:30"`, nil, true},
		{`time.clock < "09:30" tz "Asia/Tokyo"`, nil, true}, // 00:24 Thursday
		{`time.weekday = wed`, nil, true},
		{`time.weekday = Wednesday`, nil, true},
		{`time.weekday = thu tz "Asia/Tokyo"`, nil, true},
		{`time.weekday in [mon, tue] tz "America/New_York"`, nil, false},
		{`time.weekday not in [sat, sun]`, nil, true},
		{`time.weekday <= fri`, nil, true},
		{`time.weekday > fri`, nil, false},
		{`time.day = 30`, nil, true},
		{`time.day = 1 tz "Pacific/Auckland"`, nil, true},
		{`time.month = apr`, nil, true},
		{`time.month = may tz "Pacific/Kiritimati"`, nil, true}, // UTC+14
		{`time.month in [nov, dec, jan]`, nil, false},
		{`time.date = "2025-04-30"`, nil, true},
		{`time.date >= "2025-05-01"`, nil, false},
		{`time.date < "2025-05-01" and time.date >= "2025-04-01"`, nil, true},
		{`time.hour = 15 tz "UTC"`, nil, true},
	})
	// An event without a time matches no time condition.
	f := mustParse(t, `time.hour >= 0`)
	check(t, f, event(t, "call.completed", time.Time{}, nil), false)
}

func TestLogic(t *testing.T) {
	runCases(t, []evalCase{
		{`duration_seconds > 120 and urgency >= medium`, nil, true},
		{`duration_seconds > 200 and urgency >= medium`, nil, false},
		{`duration_seconds > 200 or urgency >= medium`, nil, true},
		{`duration_seconds > 200 or urgency > medium`, nil, false},
		{`not duration_seconds > 200`, nil, true},
		{`not (duration_seconds > 120)`, nil, false},
		{`not not duration_seconds > 120`, nil, true},
		{`NOT (sentiment = negative OR urgency = high) AND direction = inbound`, nil, true},
		{`metadata.or = 1 or metadata.true_x = 1 or metadata.and exists`, nil, false},
		{`duration_seconds > 1 and (duration_seconds > 2 and (duration_seconds > 3 or duration_seconds < 0))`, nil, true},
	})
}

// The seed's example (DESIGN §6): call.completed, over two minutes, and
// "pricing" or "quote" mentioned.
const (
	seedText = `event_type = "call.completed" and duration_seconds > 120 and (transcript has "pricing" or transcript has "quote")`
	seedJSON = `{"and":[{"field":"event_type","op":"=","value":"call.completed"},{"field":"duration_seconds","op":">","value":120},{"or":[{"field":"transcript","op":"has","value":"pricing"},{"field":"transcript","op":"has","value":"quote"}]}]}`
)

func TestSeedExample(t *testing.T) {
	f := mustParse(t, seedText)
	if got := string(f.JSON()); got != seedJSON {
		t.Errorf("JSON:\n got %s\nwant %s", got, seedJSON)
	}
	g := mustJSON(t, seedJSON)
	if !g.Equal(f) || g.String() != seedText {
		t.Errorf("FromJSON: %s", g)
	}
	cases := []struct {
		name string
		typ  string
		data map[string]any
		want bool
		why  string
	}{
		{"sample", "call.completed", nil, true, ""},
		{"quote only", "call.completed", map[string]any{"transcript": "Can I get a Quote, please?"}, true, ""},
		{"pricing in summary only", "call.completed", map[string]any{"transcript": "Hello."}, false,
			`none of: transcript has "pricing" (not found); transcript has "quote" (not found)`},
		{"quotes is another word", "call.completed", map[string]any{"transcript": "We sent the quotes."}, false,
			`none of: transcript has "pricing" (not found); transcript has "quote" (not found)`},
		{"short", "call.completed", map[string]any{"duration_seconds": 95}, false, `duration_seconds > 120 (was 95)`},
		{"exactly two minutes", "call.completed", map[string]any{"duration_seconds": 120}, false, `duration_seconds > 120 (was 120)`},
		{"no duration", "call.completed", map[string]any{"duration_seconds": nil}, false, `duration_seconds > 120 (absent)`},
		{"other type", "call.summarized", nil, false, `event_type = "call.completed" (was "call.summarized")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := event(t, c.typ, sampleTime, c.data)
			check(t, f, ev, c.want)
			if _, why := f.Eval(Prepare(ev)); why != c.why {
				t.Errorf("why:\n got %s\nwant %s", why, c.why)
			}
		})
	}
}

func TestWhyAndTrace(t *testing.T) {
	ev := event(t, "call.completed", sampleTime, nil)
	for _, c := range []struct{ filter, why string }{
		{`caller_country = "GB"`, `caller_country = "GB" (was "US")`},
		{`phone_country = "US"`, `phone_country = "US" (absent)`},
		{`not (urgency >= medium)`, `not: urgency >= medium matched (was "medium")`},
		{`not (transcript has "pricing" and duration_seconds > 1)`, `not: all of: transcript has "pricing" matched (found); duration_seconds > 1 matched (was 187)`},
		{`time.hour < 9 tz "America/New_York"`, `time.hour < 9 tz "America/New_York" (was 11)`},
		{`tz "Europe/Paris"; time.weekday in [sat, sun]`, `time.weekday in [sat, sun] tz "Europe/Paris" (was wed)`},
		{`metadata.account_type = "basic"`, `metadata.account_type = "basic" (was "premium")`},
		{`topics has "shipping"`, `topics has "shipping" (was ["pricing","roof replacement","quote request","appointment scheduling"])`},
	} {
		if ok, why := mustParse(t, c.filter).Eval(Prepare(ev)); ok || why != c.why {
			t.Errorf("%s: got %v, %q; want false, %q", c.filter, ok, why, c.why)
		}
	}

	ok, tr := mustParse(t, `duration_seconds > 200 or (urgency = medium and not (sentiment = negative))`).Match(ev)
	if !ok || tr.Why != "" {
		t.Fatalf("Match = %v, %+v", ok, tr)
	}
	want := []Step{
		{Path: "or[0]", Cond: "duration_seconds > 200", Matched: false, Value: "187"},
		{Path: "or[1].and[0]", Cond: "urgency = medium", Matched: true, Value: `"medium"`},
		{Path: "or[1].and[1].not", Cond: "sentiment = negative", Matched: false, Value: `"positive"`},
	}
	if len(tr.Steps) != len(want) {
		t.Fatalf("steps: %+v", tr.Steps)
	}
	for i := range want {
		if tr.Steps[i] != want[i] {
			t.Errorf("step %d: got %+v, want %+v", i, tr.Steps[i], want[i])
		}
	}
}

func TestNilFilterAndOddInput(t *testing.T) {
	var f *Filter
	if ok, why := f.Eval(Prepare(&webhook.Event{})); !ok || why != "" {
		t.Error("a nil filter must match")
	}
	if ok, _ := f.Match(&webhook.Event{}); !ok {
		t.Error("a nil filter must match")
	}
	g := mustParse(t, `duration_seconds > 1 or transcript has "x" or topics has "y" or metadata.a exists or caller_country = "US" or time.hour >= 0 or urgency >= low`)
	for _, data := range []string{``, `null`, `[]`, `"x"`, `{"duration_seconds":{}}`, `{bad json`} {
		ev := &webhook.Event{Type: "call.completed", Data: []byte(data)}
		if ok, why := g.Eval(Prepare(ev)); ok || !strings.HasPrefix(why, "none of:") {
			t.Errorf("data %q: %v %q", data, ok, why)
		}
	}
	if ok, _ := g.Eval(Prepare(nil)); ok {
		t.Error("nil event matched")
	}
}

// One Input serves many filters: derived values are cached, not recomputed
// wrongly.
func TestInputShared(t *testing.T) {
	in := Prepare(event(t, "call.completed", sampleTime, nil))
	fs := []string{
		`transcript has "pricing"`, `transcript has "nope"`, `summary has "oakland"`, `caller_country = "US"`,
		`caller_area_code = "415"`, `topics has "pricing"`, `time.hour = 11 tz "America/New_York"`,
		`time.hour = 17 tz "Europe/Paris"`, `time.hour = 15`, `metadata.source = "website"`,
	}
	want := []bool{true, false, true, true, true, true, true, true, true, true}
	for round := 0; round < 3; round++ {
		for i, s := range fs {
			if ok, _ := mustParse(t, s).Eval(in); ok != want[i] {
				t.Errorf("round %d: %s = %v", round, s, ok)
			}
		}
	}
}

// Invalid UTF-8 in event text (raw bytes in the JSON) reads as U+FFFD, as
// encoding/json decodes it, and never breaks evaluation.
func TestInvalidUTF8Text(t *testing.T) {
	data := []byte("{\"transcript\":\"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7 Quote \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\\n\xe4\"}")
	ev := &webhook.Event{Type: "call.completed", Time: sampleTime, Data: data}
	if ok, why := mustParse(t, `transcript has "quote"`).Eval(Prepare(ev)); !ok {
		t.Error(why)
	}
	if ok, _ := mustParse(t, `transcript has "quo"`).Eval(Prepare(ev)); ok {
		t.Error("partial word matched")
	}
}
