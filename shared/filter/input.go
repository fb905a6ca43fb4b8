package filter

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Input is one event prepared for evaluation by any number of filters: the
// data object's members are located once, on first use, and what
// conditions derive from them (a field's value, whether a text has a
// phrase, region and area code of a number, metadata) is derived once,
// when a filter first needs it. An Input is not safe for concurrent use; a
// Filter is.
type Input struct {
	ev *webhook.Event

	decoded bool
	raw     [dCount]json.RawMessage // the data's fields filters read; nil when absent or null

	// Lazily derived, each guarded by a bit of done, or for the scalars
	// (the strings and numbers) by bit d of scalarDone.
	done       uint32
	scalarDone uint32
	strs       [dCount]string
	strOK      uint32 // bit d: strs[d] holds a string
	nums       [dCount]float64
	numOK      uint32
	texts      [2]string    // summary, transcript (d - dSummary): folded
	jtexts     [2]jsonText  // and as JSON strings
	textOK     uint8        // bit d - dSummary: texts[d - dSummary] is there
	jtextOK    uint8        // bit d - dSummary: jtexts[d - dSummary] is there
	topicsF    []string     // folded topics
	phones     [2]phoneInfo // caller, phone
	metadata   map[string]any
	phrases    []phraseResult  // phrase search results, the first ones
	phraseM    map[string]bool // and the rest, by phrase.key
	phraseA    [8]phraseResult // phrases' first array
	times      []localTime
}

type phraseResult struct {
	key   string // phrase.key
	found bool
}

type localTime struct {
	loc *time.Location
	t   time.Time
}

const (
	doneTopics uint32 = 1 << iota
	doneCaller
	donePhone
	doneMeta
	doneTextBase // << (field - dSummary): a bit for summary, one for transcript
	_
	doneJSONTextBase // likewise
)

// Prepare readies ev for evaluation by many filters. It does no work up
// front; everything is decoded or derived on first use and kept. The
// Input reads ev.Data in place: don't modify it while the Input is in use.
func Prepare(ev *webhook.Event) *Input { return &Input{ev: ev} }

// Event returns the event being evaluated.
func (in *Input) Event() *webhook.Event { return in.ev }

var null = []byte("null")

// data finds the data's members once (see scanData). Data that is not an
// object leaves every field absent.
func (in *Input) data() *[dCount]json.RawMessage {
	if in.decoded {
		return &in.raw
	}
	in.decoded = true
	if in.ev == nil {
		return &in.raw
	}
	scanData(in.ev.Data, &in.raw)
	for i, v := range in.raw {
		if bytes.Equal(v, null) {
			in.raw[i] = nil
		}
	}
	return &in.raw
}

// present reports whether data field d is there (and not null).
func (in *Input) present(d dataField) bool { return in.data()[d] != nil }

// unquote decodes a JSON string as encoding/json does (bad escapes fail,
// lone surrogates become U+FFFD), copying runs without escapes at once.
func unquote(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	k := bytes.IndexByte(body, '\\')
	if k < 0 {
		return string(body), true
	}
	buf := make([]byte, 0, len(body))
	for k >= 0 {
		buf = append(buf, body[:k]...)
		r, n, ok := escapeAt(body, k)
		if !ok {
			return "", false
		}
		buf = utf8.AppendRune(buf, r)
		body = body[k+n:]
		k = bytes.IndexByte(body, '\\')
	}
	buf = append(buf, body...)
	return bytesString(buf), true // buf is never written again
}

// str returns string field d, decoded on first use.
func (in *Input) str(d dataField) (string, bool) {
	if in.scalarDone&(1<<d) == 0 {
		in.scalarDone |= 1 << d
		if s, ok := unquote(in.data()[d]); ok {
			in.strs[d] = s
			in.strOK |= 1 << d
		}
	}
	return in.strs[d], in.strOK&(1<<d) != 0
}

// num returns number field d, decoded on first use.
func (in *Input) num(d dataField) (float64, bool) {
	if in.scalarDone&(1<<d) == 0 {
		in.scalarDone |= 1 << d
		if r := in.data()[d]; isNumber(r) {
			// The string doesn't outlive the call (nor does an error).
			if f, err := strconv.ParseFloat(bytesString(r), 64); err == nil {
				in.nums[d] = f
				in.numOK |= 1 << d
			}
		}
	}
	return in.nums[d], in.numOK&(1<<d) != 0
}

// boolean returns boolean field d.
func (in *Input) boolean(d dataField) (bool, bool) {
	switch string(in.data()[d]) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

var urgencyRank = map[string]float64{"low": 1, "medium": 2, "high": 3}

// urgency returns the rank of the urgency (low 1, medium 2, high 3).
func (in *Input) urgency() (float64, bool) {
	s, ok := in.str(dUrgency)
	if !ok {
		return 0, false
	}
	r, ok := urgencyRank[s]
	if !ok {
		r, ok = urgencyRank[strings.ToLower(s)]
	}
	return r, ok
}

// text returns the folded form of text field d (transcript or summary).
func (in *Input) text(d dataField) (string, bool) {
	i := d - dSummary
	bit := doneTextBase << i
	if in.done&bit == 0 {
		in.done |= bit
		if s, ok := unquote(in.data()[d]); ok {
			in.texts[i] = foldString(s)
			in.textOK |= 1 << i
		}
	}
	return in.texts[i], in.textOK&(1<<i) != 0
}

// jsonText returns text field d (transcript or summary) as a JSON string
// prepared for phrase searches.
func (in *Input) jsonText(d dataField) (*jsonText, bool) {
	i := d - dSummary
	bit := doneJSONTextBase << i
	if in.done&bit == 0 {
		in.done |= bit
		if t, ok := parseJSONText(in.data()[d]); ok {
			in.jtexts[i] = t
			in.jtextOK |= 1 << i
		}
	}
	return &in.jtexts[i], in.jtextOK&(1<<i) != 0
}

// maxPhraseCache bounds the phrase results an Input keeps.
const maxPhraseCache = 512

// hasPhrase reports whether text field d has the phrase p. Results are kept:
// endpoints often look for the same phrases, and explanations look again.
func (in *Input) hasPhrase(d dataField, p *phrase) bool {
	for _, r := range in.phrases {
		if r.key == p.key {
			return r.found
		}
	}
	if found, ok := in.phraseM[p.key]; ok {
		return found
	}
	found, decided := false, false
	if len(p.lits) > 0 {
		// Search the JSON string, unless it is not one (then there is no
		// text) or the search leaves it to the folded text.
		t, ok := in.jsonText(d)
		if found, decided = false, !ok; ok {
			found, decided = t.has(p)
		}
	}
	if !decided {
		t, ok := in.text(d)
		found = ok && p.in(t)
	}
	switch {
	case len(in.phrases) < len(in.phraseA):
		if in.phrases == nil {
			in.phrases = in.phraseA[:0]
		}
		in.phrases = append(in.phrases, phraseResult{p.key, found})
	case len(in.phraseM) < maxPhraseCache-len(in.phraseA):
		if in.phraseM == nil {
			in.phraseM = make(map[string]bool, 8)
		}
		in.phraseM[p.key] = found
	}
	return found
}

// topics returns the folded topics.
func (in *Input) topics() []string {
	if in.done&doneTopics == 0 {
		in.done |= doneTopics
		var ts []any
		if raw := in.data()[dTopics]; raw != nil && json.Unmarshal(raw, &ts) == nil {
			for _, t := range ts {
				if s, ok := t.(string); ok {
					in.topicsF = append(in.topicsF, foldString(s))
				}
			}
		}
	}
	return in.topicsF
}

// phone returns the region and area code of number field d.
func (in *Input) phone(d dataField) phoneInfo {
	i, bit := 0, doneCaller
	if d == dPhoneNumber {
		i, bit = 1, donePhone
	}
	if in.done&bit == 0 {
		in.done |= bit
		if s, ok := in.str(d); ok {
			in.phones[i] = lookupPhone(s)
		}
	}
	return in.phones[i]
}

// meta returns the metadata value at keys; nil when absent or null.
func (in *Input) meta(keys []string) any {
	if in.done&doneMeta == 0 {
		in.done |= doneMeta
		if raw := in.data()[dMetadata]; raw != nil {
			_ = json.Unmarshal(raw, &in.metadata) // not an object: no metadata
		}
	}
	var v any = in.metadata
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	if m, ok := v.(map[string]any); ok && m == nil {
		return nil
	}
	return v
}

// timePart returns a part of the event's time in loc; false when the event
// has no time.
func (in *Input) timePart(loc *time.Location, part timePart) (float64, bool) {
	if in.ev == nil || in.ev.Time.IsZero() {
		return 0, false
	}
	var t time.Time
	found := false
	for _, lt := range in.times {
		if lt.loc == loc {
			t, found = lt.t, true
			break
		}
	}
	if !found {
		t = in.ev.Time.In(loc)
		if len(in.times) < 8 {
			in.times = append(in.times, localTime{loc, t})
		}
	}
	switch part {
	case tpHour:
		return float64(t.Hour()), true
	case tpMinute:
		return float64(t.Minute()), true
	case tpClock:
		return float64(t.Hour()*60 + t.Minute()), true
	case tpWeekday:
		return float64((int(t.Weekday())+6)%7 + 1), true // mon 1 ... sun 7
	case tpDay:
		return float64(t.Day()), true
	case tpMonth:
		return float64(t.Month()), true
	case tpDate:
		y, m, d := t.Date()
		return float64(y*10000 + int(m)*100 + d), true
	}
	return 0, false
}

// gotData renders data field d for explanations: its JSON, shortened.
func (in *Input) gotData(d dataField) string {
	raw := in.data()[d]
	if raw == nil {
		return "absent"
	}
	return truncate(string(raw), 80)
}
