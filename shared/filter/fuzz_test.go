package filter

import (
	"errors"
	"testing"
)

// FuzzParse: the parser never panics; errors are *Error values inside the
// input; a filter that parses prints canonically as text that parses to
// the same filter (and prints the same), and as JSON that does too; all
// of them evaluate alike.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		seedText,
		`tz "America/New_York"; time.weekday in [mon, tue] and time.hour >= 9 and time.hour < 17`,
		`not (caller_country in ["US", "CA"]) or caller_number prefix "+44"`,
		`urgency >= medium and topics has "pricing" and metadata.tier = "gold"`,
		`summary has "say \"hi\" \u00e9" or metadata.score > -1.5e-7`,
		`((status = "a")) and not not forwarded = false`,
		`time.clock >= "09:30" tz "Europe/Paris" and time.date != "2025-12-25" tz "UTC"`,
	} {
		f.Add(s)
	}
	ev := event(f, "call.completed", sampleTime, nil)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q): %T %v", s, err, err)
			}
			if fe.Offset < 0 || fe.Offset > len(s) || fe.Path == "" || fe.Msg == "" {
				t.Fatalf("Parse(%q): bad error %+v", s, fe)
			}
			return
		}
		text := flt.String()
		g, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which doesn't parse: %v", s, text, err)
		}
		if !g.Equal(flt) || g.String() != text {
			t.Fatalf("Parse(%q) = %s, which parses as %s", s, text, g)
		}
		h, err := FromJSON(flt.JSON())
		if err != nil {
			t.Fatalf("Parse(%q).JSON() = %s, which doesn't compile: %v", s, flt.JSON(), err)
		}
		if !h.Equal(flt) || h.String() != text {
			t.Fatalf("Parse(%q).JSON() = %s, which compiles as %s", s, flt.JSON(), h)
		}
		r1, _ := flt.Eval(Prepare(ev))
		r2, _ := g.Eval(Prepare(ev))
		r3, _ := h.Eval(Prepare(ev))
		if r1 != r2 || r1 != r3 {
			t.Fatalf("%s: evaluations differ: %v %v %v", text, r1, r2, r3)
		}
	})
}
