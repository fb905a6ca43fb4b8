package filter

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones for hosts (Lambda) without zoneinfo

	"github.com/phoneshield/webhooks/shared/filter/internal/phonenumbers"
)

// fieldKind is the type of a field, which decides its operators and the
// values they take.
type fieldKind uint8

const (
	fkEventType fieldKind = iota + 1
	fkPhone               // an E.164 number
	fkRegion              // an ISO 3166 region derived from a number
	fkAreaCode            // the national destination code of a number
	fkEnum                // a string from a fixed set (case-insensitive)
	fkString              // any string
	fkNumber
	fkBool
	fkTopics  // an array of strings
	fkUrgency // low < medium < high
	fkText    // free text searched for phrases
	fkTime    // a part of the event's time in a zone
	fkMeta    // metadata.<key>
)

// dataField is a field of the event's data object that filters read.
type dataField uint8

const (
	dCallerNumber dataField = iota
	dPhoneNumber
	dDirection
	dStatus
	dDuration
	dAIHandled
	dForwarded
	dTopics
	dSentiment
	dUrgency
	dSummary
	dTranscript
	dMetadata
	dCount
)

// timePart is the part of the local time a time.* field reads.
type timePart uint8

const (
	tpHour timePart = iota + 1
	tpMinute
	tpClock // minutes since midnight, written "HH:MM"
	tpWeekday
	tpDay
	tpMonth
	tpDate // yyyymmdd, written "YYYY-MM-DD"
)

type fieldSpec struct {
	name string
	kind fieldKind
	data dataField // where the value comes from (and, for fkRegion/fkAreaCode, the number)
	enum []string  // fkEnum: the allowed values
	part timePart  // fkTime
	ops  []string
	doc  string
}

var (
	opsEquality = []string{opEq, opNe, opIn, opNotIn, opExists, opNotExists}
	opsOrdered  = []string{opEq, opNe, opIn, opNotIn, opLt, opLe, opGt, opGe, opExists, opNotExists}
	opsTime     = []string{opEq, opNe, opIn, opNotIn, opLt, opLe, opGt, opGe}
	opsPrefix   = []string{opEq, opNe, opIn, opNotIn, opPrefix, opExists, opNotExists}
	opsAll      = []string{opEq, opNe, opIn, opNotIn, opPrefix, opHas, opLt, opLe, opGt, opGe, opExists, opNotExists}

	weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	months   = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	urgency  = []string{"low", "medium", "high"}
)

// fields is the table of the fields a filter can test (see doc.go).
var fields = []fieldSpec{
	{name: "event_type", kind: fkEventType, ops: []string{opEq, opNe, opIn, opNotIn, opPrefix}, doc: "the event's type"},
	{name: "caller_number", kind: fkPhone, data: dCallerNumber, ops: opsPrefix, doc: "the caller's number, E.164"},
	{name: "phone_number", kind: fkPhone, data: dPhoneNumber, ops: opsPrefix, doc: "the PhoneShield number called, E.164"},
	{name: "caller_country", kind: fkRegion, data: dCallerNumber, ops: opsEquality, doc: "ISO region of caller_number"},
	{name: "phone_country", kind: fkRegion, data: dPhoneNumber, ops: opsEquality, doc: "ISO region of phone_number"},
	{name: "caller_area_code", kind: fkAreaCode, data: dCallerNumber, ops: opsEquality, doc: "national destination code of caller_number"},
	{name: "phone_area_code", kind: fkAreaCode, data: dPhoneNumber, ops: opsEquality, doc: "national destination code of phone_number"},
	{name: "direction", kind: fkEnum, data: dDirection, enum: []string{"inbound", "outbound"}, ops: opsEquality},
	{name: "status", kind: fkString, data: dStatus, ops: opsPrefix},
	{name: "duration_seconds", kind: fkNumber, data: dDuration, ops: opsOrdered},
	{name: "ai_handled", kind: fkBool, data: dAIHandled, ops: []string{opEq, opNe, opExists, opNotExists}},
	{name: "forwarded", kind: fkBool, data: dForwarded, ops: []string{opEq, opNe, opExists, opNotExists}},
	{name: "topics", kind: fkTopics, data: dTopics, ops: []string{opHas, opIn, opNotIn, opExists, opNotExists}},
	{name: "sentiment", kind: fkEnum, data: dSentiment, enum: []string{"positive", "neutral", "negative", "mixed"}, ops: opsEquality},
	{name: "urgency", kind: fkUrgency, data: dUrgency, ops: opsOrdered},
	{name: "summary", kind: fkText, data: dSummary, ops: []string{opHas, opExists, opNotExists}},
	{name: "transcript", kind: fkText, data: dTranscript, ops: []string{opHas, opExists, opNotExists}},
	{name: "time.hour", kind: fkTime, part: tpHour, ops: opsTime},
	{name: "time.minute", kind: fkTime, part: tpMinute, ops: opsTime},
	{name: "time.clock", kind: fkTime, part: tpClock, ops: opsTime},
	{name: "time.weekday", kind: fkTime, part: tpWeekday, ops: opsTime},
	{name: "time.day", kind: fkTime, part: tpDay, ops: opsTime},
	{name: "time.month", kind: fkTime, part: tpMonth, ops: opsTime},
	{name: "time.date", kind: fkTime, part: tpDate, ops: opsTime},
}

// metaPrefix starts the fields that read the data's metadata object.
const metaPrefix = "metadata."

var metaSpec = fieldSpec{name: "metadata.*", kind: fkMeta, data: dMetadata, ops: opsAll}

func lookupField(name string) (*fieldSpec, bool) {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i], true
		}
	}
	if strings.HasPrefix(name, metaPrefix) {
		return &metaSpec, true
	}
	return nil, false
}

func isTimeField(name string) bool { return strings.HasPrefix(name, "time.") }

// suggest returns the known field nearest to name, "" if none is near.
func suggest(name string) string {
	best, bestD := "", 4
	for _, f := range fields {
		if d := editDistance(name, f.name); d < bestD {
			best, bestD = f.name, d
		}
	}
	if best == "" {
		// A long shared beginning: "durations" → duration_seconds.
		bestP := 0
		for _, f := range fields {
			p := 0
			for p < len(name) && p < len(f.name) && name[p] == f.name[p] {
				p++
			}
			if p >= 5 && p*10 >= len(name)*6 && p > bestP {
				best, bestP = f.name, p
			}
		}
	}
	if best == "" && !strings.Contains(name, ".") {
		if d := editDistance(name, "metadata"); d < 3 {
			return "metadata.<key>"
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validMetaKey reports whether the path after "metadata." is one to four
// keys of letters, digits, "_" and "-" separated by dots.
func validMetaKey(path string) bool {
	keys := strings.Split(path, ".")
	if len(keys) > 4 {
		return false
	}
	for _, k := range keys {
		if k == "" || len(k) > 64 {
			return false
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(isIdentStart(c) || isDigit(c) || c == '-') {
				return false
			}
		}
	}
	return true
}

// ---- value checks ----

// isE164 reports whether s is "+" then 2..15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return allDigits(s[1:])
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

var regions = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for r := range phonenumbers.GetSupportedRegions() {
		m[r] = true
	}
	return m
})

// checkRegion normalizes an ISO 3166 alpha-2 region code ("us" → "US") and
// checks that libphonenumber knows it.
func checkRegion(s string) (string, string) {
	u := strings.ToUpper(s)
	if len(u) != 2 || u[0] < 'A' || u[0] > 'Z' || u[1] < 'A' || u[1] > 'Z' {
		return "", fmt.Sprintf("%q is not a region code: two letters expected, e.g. \"US\"", s)
	}
	if !regions()[u] {
		msg := fmt.Sprintf("%q is not a region with phone numbers", s)
		if u == "UK" {
			msg += ` (did you mean "GB"?)`
		}
		return "", msg
	}
	return u, ""
}

// nameIndex returns the 1-based position of s in names, matching the
// three-letter abbreviation or the full English name ("mon", "Monday").
func nameIndex(names []string, full []string, s string) int {
	l := strings.ToLower(s)
	for i, n := range names {
		if l == n || full != nil && l == full[i] {
			return i + 1
		}
	}
	return 0
}

var (
	weekdayNames = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
	monthNames   = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
)

// timeValue converts a literal of a time.* field to the number compared.
func timeValue(part timePart, v value) (float64, string) {
	intIn := func(lo, hi int, what string) (float64, string) {
		if v.kind != vNumber || v.n != float64(int(v.n)) || int(v.n) < lo || int(v.n) > hi {
			return 0, fmt.Sprintf("%s is a whole number from %d to %d, got %s", what, lo, hi, describe(v))
		}
		return v.n, ""
	}
	switch part {
	case tpHour:
		return intIn(0, 23, "an hour")
	case tpMinute:
		return intIn(0, 59, "a minute")
	case tpDay:
		return intIn(1, 31, "a day of the month")
	case tpWeekday:
		if v.kind == vString {
			if i := nameIndex(weekdays, weekdayNames, v.s); i > 0 {
				return float64(i), ""
			}
		}
		return 0, fmt.Sprintf("a weekday is one of mon, tue, wed, thu, fri, sat, sun, got %s", describe(v))
	case tpMonth:
		if v.kind == vString {
			if i := nameIndex(months, monthNames, v.s); i > 0 {
				return float64(i), ""
			}
		}
		return 0, fmt.Sprintf("a month is one of jan, feb, ..., dec, got %s", describe(v))
	case tpClock:
		if v.kind == vString {
			if t, err := time.Parse("15:04", v.s); err == nil && len(v.s) == 5 {
				return float64(t.Hour()*60 + t.Minute()), ""
			}
		}
		return 0, fmt.Sprintf(`a clock time is "HH:MM" from "00:00" to "23:59", got %s`, describe(v))
	case tpDate:
		if v.kind == vString {
			if t, err := time.Parse(time.DateOnly, v.s); err == nil {
				return float64(t.Year()*10000 + int(t.Month())*100 + t.Day()), ""
			}
		}
		return 0, fmt.Sprintf(`a date is "YYYY-MM-DD", got %s`, describe(v))
	}
	return 0, "unknown time field"
}

// formatTime renders a compared time number for explanations.
func formatTime(part timePart, x float64) string {
	n := int(x)
	switch part {
	case tpWeekday:
		return weekdays[n-1]
	case tpMonth:
		return months[n-1]
	case tpClock:
		return fmt.Sprintf("%02d:%02d", n/60, n%60)
	case tpDate:
		return fmt.Sprintf("%04d-%02d-%02d", n/10000, n/100%100, n%100)
	}
	return fmt.Sprint(n)
}

func describe(v value) string {
	switch v.kind {
	case vString:
		return fmt.Sprintf("string %q", v.s)
	case vNumber:
		return "number " + formatNumber(v.n)
	case vBool:
		return fmt.Sprintf("boolean %t", v.b)
	}
	return "nothing"
}

// ---- time zones ----

var zones sync.Map // name → *time.Location

// loadZone loads an IANA time zone (from the embedded tzdata when the host
// has none). It returns a message instead when the name is not one.
func loadZone(name string) (*time.Location, string) {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), ""
	}
	if name == "" || strings.EqualFold(name, "local") || len(name) > 64 {
		return nil, fmt.Sprintf("bad time zone %q: an IANA name such as \"America/New_York\" or \"UTC\" expected", name)
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Sprintf("bad time zone %q: not an IANA time zone (e.g. \"America/New_York\", \"Europe/Paris\", \"UTC\")", name)
	}
	zones.Store(name, z)
	return z, ""
}

func opAllowed(f *fieldSpec, op string) bool { return slices.Contains(f.ops, op) }
