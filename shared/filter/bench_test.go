package filter

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// longTranscript is a ~5 KB call transcript in which "quote" first appears
// in the last line, so a search scans all of it. It has non-ASCII text
// ("María", "€") and near misses ("quotes", "misquoted", "prices").
func longTranscript() string {
	lines := []string{
		"AI: Thank you for calling Bayview Roofing, this is the PhoneShield assistant. How can I help you today?",
		"Caller: Hi, this is María González. I'm calling about the roof on my house in Oakland, it leaks.",
		"AI: I'm sorry to hear that. Is it a single-story or two-story home, and how old is the roof?",
		"Caller: Two stories, about 2,200 square feet; the shingles are around twenty years old.",
		"AI: Thanks. Our estimators can look at the decking and flashing. Prices vary with the pitch.",
		"Caller: A neighbour got three quotes last year and one contractor misquoted by €2,000.",
	}
	var b strings.Builder
	for i := 0; b.Len() < 5000; i++ {
		b.WriteString(lines[i%len(lines)])
		b.WriteByte('\n')
	}
	b.WriteString("Caller: OK. Could someone come out and give me a firm Quote? Thanks!")
	return b.String()
}

func benchEvent(b *testing.B) *webhook.Event {
	return event(b, "call.completed", sampleTime, map[string]any{"transcript": longTranscript()})
}

// BenchmarkSeedExample: the seed's filter over a 5 KB transcript, next to
// the naive ways of searching it.
func BenchmarkSeedExample(b *testing.B) {
	ev := benchEvent(b)
	tr := longTranscript()
	b.Logf("transcript: %d bytes, event data: %d bytes", len(tr), len(ev.Data))
	f := mustParse(b, seedText)

	// The filter on one event, everything included: locating the data's
	// members, decoding the duration, searching the transcript.
	b.Run("filter/per-event", func(b *testing.B) {
		b.SetBytes(int64(len(tr)))
		for b.Loop() {
			if ok, _ := f.Eval(Prepare(ev)); !ok {
				b.Fatal("no match")
			}
		}
	})
	// What each further filter on the same event costs: the Input has
	// the data decoded and the phrases' results.
	b.Run("filter/prepared", func(b *testing.B) {
		in := Prepare(ev)
		f.Eval(in)
		b.SetBytes(int64(len(tr)))
		for b.Loop() {
			if ok, _ := f.Eval(in); !ok {
				b.Fatal("no match")
			}
		}
	})
	// Folding and scanning a Go string, as for a phrase that starts with a
	// non-ASCII letter: comparable to the baselines.
	needles := []phrase{}
	for _, s := range []string{"pricing", "quote"} {
		p, _ := newPhrase(s)
		needles = append(needles, p)
	}
	b.Run("filter/fold+scan", func(b *testing.B) {
		b.SetBytes(int64(len(tr)))
		for b.Loop() {
			t := foldString(tr)
			if !needles[0].in(t) && !needles[1].in(t) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("filter/scan-only", func(b *testing.B) {
		t := foldString(tr)
		b.SetBytes(int64(len(tr)))
		for b.Loop() {
			if !needles[0].in(t) && !needles[1].in(t) {
				b.Fatal("no match")
			}
		}
	})
	// The search in the event's JSON string, as a fresh event does it:
	// checking its escapes, then the two searches.
	var raw [dCount]json.RawMessage
	scanData(ev.Data, &raw)
	b.Run("filter/scan-json", func(b *testing.B) {
		b.SetBytes(int64(len(tr)))
		for b.Loop() {
			t, _ := parseJSONText(raw[dTranscript])
			if f, _ := t.has(&needles[0]); !f {
				if f, _ := t.has(&needles[1]); !f {
					b.Fatal("no match")
				}
			}
		}
	})
	b.Run("filter/scan-data", func(b *testing.B) {
		b.SetBytes(int64(len(ev.Data)))
		for b.Loop() {
			var raw [dCount]json.RawMessage
			scanData(ev.Data, &raw)
			if raw[dTranscript] == nil {
				b.Fatal("no transcript")
			}
		}
	})
	b.Run("baseline/json.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(ev.Data)))
		for b.Loop() {
			var d struct {
				Transcript      string  `json:"transcript"`
				DurationSeconds float64 `json:"duration_seconds"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Baselines: case-sensitive substring search (wrong: no case folding,
	// "quotes" matches) and a case-insensitive whole-word regexp (right,
	// ASCII word boundaries only).
	b.Run("baseline/strings.Contains", func(b *testing.B) {
		b.SetBytes(int64(len(tr)))
		for b.Loop() {
			if !strings.Contains(tr, "pricing") && !strings.Contains(tr, "quote") {
				b.Fatal("no match")
			}
		}
	})
	re := regexp.MustCompile(`(?i)\b(?:pricing|quote)\b`)
	b.Run("baseline/regexp", func(b *testing.B) {
		b.SetBytes(int64(len(tr)))
		for b.Loop() {
			if !re.MatchString(tr) {
				b.Fatal("no match")
			}
		}
	})
}

// filters50 are the filters of 50 endpoints of an enterprise account: a mix
// of every kind of condition.
func filters50(tb testing.TB) []*Filter {
	kinds := []string{
		seedText,
		`caller_country in ["US", "CA"] and caller_area_code in ["415", "510", "650"]`,
		`tz "America/New_York"; time.weekday <= fri and time.hour >= 9 and time.hour < 17`,
		`urgency >= medium and sentiment != negative`,
		`topics has "pricing" or topics has "refund"`,
		`summary has "roof replacement" and metadata.account_type = "premium"`,
		`not (caller_number prefix "+1900") and duration_seconds >= %d`,
		`tz "Europe/London"; time.clock >= "08:30" and time.clock < "18:00" and caller_country = "GB"`,
		`transcript has "cancel my account" or transcript has "speak to a manager"`,
		`direction = inbound and ai_handled = true and forwarded = false and status = "completed"`,
	}
	var fs []*Filter
	for i := range 50 {
		s := kinds[i%len(kinds)]
		if strings.Contains(s, "%d") {
			s = fmt.Sprintf(s, 30+i)
		}
		fs = append(fs, mustParse(tb, s))
	}
	return fs
}

// BenchmarkFilter50: one event, 50 endpoints with a filter each, one
// Prepare: the cost per event.
func BenchmarkFilter50(b *testing.B) {
	fs := filters50(b)
	ev := benchEvent(b)
	lookupPhone("+14155550142") // the number cache is warm in a running service
	b.Run("per-event", func(b *testing.B) {
		matched := 0
		for b.Loop() {
			in := Prepare(ev)
			for _, f := range fs {
				if ok, _ := f.Eval(in); ok {
					matched++
				}
			}
		}
		b.ReportMetric(float64(matched)/float64(b.N), "matches/event")
	})
	b.Run("per-event-cold-number", func(b *testing.B) {
		for b.Loop() {
			phoneCache.Lock()
			phoneCache.m = nil
			phoneCache.Unlock()
			in := Prepare(ev)
			for _, f := range fs {
				f.Eval(in)
			}
		}
	})
	b.Run("compile", func(b *testing.B) {
		for b.Loop() {
			mustParse(b, `tz "America/New_York"; time.weekday <= fri and time.hour >= 9 and time.hour < 17 and `+seedText)
		}
	})
}

// The seed example holds its cost target on a fresh event (the target is
// 5 µs; the bound here is for shared CI machines).
func TestSeedExampleFast(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing")
	}
	ev := event(t, "call.completed", sampleTime, map[string]any{"transcript": longTranscript()})
	f := mustParse(t, seedText)
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			f.Eval(Prepare(ev))
		}
	})
	per := time.Duration(r.NsPerOp())
	t.Logf("seed example per event (locate the data, read the duration, search the 5 KB transcript): %v", per)
	if per > 200*time.Microsecond { // generous: shared CI machines
		t.Errorf("seed example takes %v per event", per)
	}
}
