package events

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/phoneshield/webhooks/shared/jsjson"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// MaxDepth is the deepest nesting of arrays and objects a detail may
// have: its data, one level down, is written in the webhook body in
// canonical form (package jsjson), which takes at most jsjson.MaxDepth.
const MaxDepth = jsjson.MaxDepth

// depth returns how deep the valid JSON value v nests arrays and objects
// (at most its count of '[' and '{', which is quicker to take).
func depth(v []byte) int {
	if n := bytes.Count(v, []byte{'['}) + bytes.Count(v, []byte{'{'}); n <= MaxDepth {
		return n
	}
	d, most, inString := 0, 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			most = max(most, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return most
}

// MaxEventIDLength is the longest event_id accepted.
const MaxEventIDLength = 128

// Parse validates one PhoneShield event as it comes off the bus — its
// EventBridge detail-type and detail — and returns it as a webhook.Event
// occurring at at.
//
// The detail is {"event_id", "environment", "data"} (DESIGN §3). event_id
// is optional and falls back to fallbackID (the EventBridge event id); the
// id must end up non-empty, at most MaxEventIDLength bytes of visible ASCII
// (0x21–0x7E). environment is "production" (the default) or "sandbox". data
// must be an object holding every required field of the type with its
// declared kind and format; declared optional fields are checked when
// present and not null; other fields are allowed and kept. Event.Data is
// detail.data byte for byte, never re-encoded. Other keys of the detail are
// ignored.
//
// Errors are KindInvalid *webhook.Error values whose Field is a JSON path:
// "detail-type", "detail", "detail.event_id", "detail.environment",
// "detail.data" or "detail.data.<field>" ("detail.data.topics[2]" for an
// array element). Checks run in a fixed order — type, detail, event_id,
// environment, data, then the required fields and the optional fields in
// declared order — and the first failure is returned.
func Parse(eventType string, detail []byte, fallbackID string, at time.Time) (*webhook.Event, error) {
	t, ok := byName[eventType]
	switch {
	case eventType == "":
		return nil, webhook.Invalid("detail-type", "required field is missing")
	case !ok:
		return nil, webhook.Invalid("detail-type", "unknown event type %s; want a type of the groups %s",
			quote(eventType), strings.Join(groups, ", "))
	}

	// One validating pass over the detail; after it the members are found
	// by a plain walk (members), with no decoding and no map.
	detail = bytes.Trim(detail, " \t\r\n") // JSON whitespace only
	switch {
	case len(detail) == 0:
		return nil, webhook.Invalid("detail", "required field is missing")
	case !json.Valid(detail):
		var v any
		err := json.Unmarshal(detail, &v)
		return nil, webhook.Invalid("detail", "must be a JSON object, got invalid JSON (%v)", err)
	case detail[0] != '{':
		return nil, webhook.Invalid("detail", "must be a JSON object, got %s", shown(kindOf(detail)))
	case depth(detail) > MaxDepth:
		return nil, webhook.Invalid("detail", "nests arrays and objects more than %d deep", MaxDepth)
	}
	var topBuf [8]member
	top := members(detail, topBuf[:0])

	id, err := eventID(lookup(top, "event_id"), fallbackID)
	if err != nil {
		return nil, err
	}
	env, err := environment(lookup(top, "environment"))
	if err != nil {
		return nil, err
	}

	raw := lookup(top, "data")
	switch {
	case raw == nil:
		return nil, webhook.Invalid("detail.data", "required field is missing")
	case raw[0] != '{':
		return nil, webhook.Invalid("detail.data", "must be an object, got %s", shown(kindOf(raw)))
	}
	var dataBuf [48]member
	data := members(raw, dataBuf[:0])
	for i := range t.Required {
		f := &t.Required[i]
		v := lookup(data, f.Name)
		if v == nil {
			return nil, webhook.Invalid(dataPath(f.Name), "required field is missing")
		}
		if err := check(f, v); err != nil {
			return nil, err
		}
	}
	for i := range t.Optional {
		f := &t.Optional[i]
		if v := lookup(data, f.Name); v != nil && !isNull(v) {
			if err := check(f, v); err != nil {
				return nil, err
			}
		}
	}
	return &webhook.Event{ID: id, Type: t.Name, Time: at, Environment: env, Data: bytes.Clone(raw)}, nil
}

// eventID returns detail.event_id (raw; nil when absent) or else fallback.
// An absent, null or empty event_id falls back.
func eventID(raw []byte, fallback string) (string, error) {
	const field = "detail.event_id"
	id, from := "", ""
	if raw != nil && !isNull(raw) {
		if raw[0] != '"' {
			return "", webhook.Invalid(field, "must be a string, got %s", shown(kindOf(raw)))
		}
		id = unquote(raw)
	}
	if id == "" {
		id, from = fallback, "absent, and the fallback event id "
	}
	if id == "" {
		return "", webhook.Invalid(field, "required field is missing (and there is no event id to fall back on)")
	}
	if len(id) > MaxEventIDLength {
		return "", webhook.Invalid(field, "%smust be at most %d characters, got %d", from, MaxEventIDLength, len(id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return "", webhook.Invalid(field, "%smust be printable ASCII without spaces, got %s", from, quote(id))
		}
	}
	return id, nil
}

// environment returns detail.environment, production when absent or null.
func environment(raw []byte) (string, error) {
	const field = "detail.environment"
	if raw == nil || isNull(raw) {
		return webhook.EnvProduction, nil
	}
	if raw[0] != '"' {
		return "", webhook.Invalid(field, "must be a string, got %s", shown(kindOf(raw)))
	}
	switch {
	case stringIs(raw, webhook.EnvProduction):
		return webhook.EnvProduction, nil
	case stringIs(raw, webhook.EnvSandbox):
		return webhook.EnvSandbox, nil
	default:
		return "", webhook.Invalid(field, "must be %q or %q, got %s", webhook.EnvProduction, webhook.EnvSandbox, quote(unquote(raw)))
	}
}

func dataPath(name string) string { return "detail.data." + name }

// check checks the value v (a valid JSON value) of the present field f.
func check(f *Field, v []byte) error {
	return checkValue(f.Name, f.Kind, f, v)
}

// checkValue checks that v, the value at detail.data.<rel>, has kind k and,
// when f is not nil, f's format, enumeration and element kind. The path is
// built only for an error: this runs for every field of every event.
func checkValue(rel string, k Kind, f *Field, v []byte) error {
	got := kindOf(v)
	switch {
	case got == k:
	case k == KindNumber && got == KindInteger:
	case k == KindInteger && got == KindNumber:
		return webhook.Invalid(dataPath(rel), "must be an integer, got %s", v)
	default:
		return webhook.Invalid(dataPath(rel), "must be %s, got %s", article(k), shown(got))
	}
	if (got == KindNumber || got == KindInteger) && !finite(v) {
		return webhook.Invalid(dataPath(rel), "must be a finite number: %s is past JavaScript's largest (about 1.8e308) and would be delivered as null", clip(v))
	}
	if f == nil {
		return nil
	}
	switch k {
	case KindString:
		if f.Format == FormatNone && f.Enum == nil {
			return nil
		}
		if f.Enum != nil && !isOneOf(v, f.Enum) {
			return webhook.Invalid(dataPath(rel), "must be one of %s; got %s", strings.Join(f.Enum, ", "), quote(unquote(v)))
		}
		if f.Format == FormatNone {
			return nil
		}
		if s := unquote(v); !validFormat(f.Format, s) {
			return webhook.Invalid(dataPath(rel), "must be %s, got %s", formatName[f.Format], quote(s))
		}
	case KindArray:
		if f.Elem == "" {
			return nil
		}
		for i, j := 0, skipSpace(v, 1); v[j] != ']'; i++ {
			end := valueEnd(v, j)
			if got := kindOf(v[j:end]); got != f.Elem && (f.Elem != KindNumber || got != KindInteger) ||
				(got == KindNumber || got == KindInteger) && !finite(v[j:end]) {
				return checkValue(rel+"["+strconv.Itoa(i)+"]", f.Elem, nil, v[j:end])
			}
			j = skipSpace(v, end)
			if v[j] == ',' {
				j = skipSpace(v, j+1)
			}
		}
	}
	return nil
}

var formatName = map[Format]string{
	FormatE164:     "an E.164 phone number such as +15551234567",
	FormatDateTime: "an RFC 3339 timestamp such as 2025-04-30T15:21:32Z",
	FormatURL:      "an absolute http(s) URL",
	FormatEmail:    "an email address",
}

// rfc3339Zone checks what Go's RFC 3339 parsing lets through but RFC 3339
// (and JavaScript's Date) does not: the fraction after a comma, an offset
// hour over 23 or minute over 59. s has already parsed, so its date and
// time are 19 bytes long.
func rfc3339Zone(s string) bool {
	rest := s[19:]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case rest == "Z" || rest == "z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		return rest[1:3] <= "23" && rest[4:6] <= "59"
	}
	return false
}

func validFormat(f Format, s string) bool {
	switch f {
	case FormatE164:
		return isE164(s)
	case FormatDateTime:
		_, err := time.Parse(time.RFC3339, s)
		return err == nil && rfc3339Zone(s)
	case FormatURL:
		u, err := url.Parse(s)
		return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Hostname() != ""
	case FormatEmail:
		at := strings.IndexByte(s, '@')
		return at > 0 && at == strings.LastIndexByte(s, '@') && strings.Contains(s[at+1:], ".") &&
			!strings.HasSuffix(s, ".") && !strings.ContainsAny(s, " \t\r\n<>")
	default:
		return true
	}
}

// isE164 reports whether s is "+" followed by 2 to 15 digits, the first
// not 0.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// kindOf returns the kind of the valid JSON value v, KindInteger for a
// number with an integral value, or "null".
func kindOf(v []byte) Kind {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return KindString
	case '{':
		return KindObject
	case '[':
		return KindArray
	case 't', 'f':
		return KindBoolean
	case 'n':
		return "null"
	}
	if bytes.IndexAny(v, ".eE") < 0 {
		return KindInteger
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
		return KindInteger
	}
	return KindNumber
}

func isNull(v []byte) bool { return len(v) > 0 && v[0] == 'n' }

// finite reports whether the JSON number v is a finite double as
// JavaScript reads it (1e400 is Infinity, which JSON.stringify writes as
// null), by the canonical form the body is written in.
func finite(v []byte) bool {
	var buf [32]byte
	out, err := jsjson.AppendCanonical(buf[:0], bytes.TrimSpace(v))
	return err == nil && string(out) != "null"
}

// clip shortens a long value for a message.
func clip(v []byte) string {
	if len(v) > 40 {
		return string(v[:40]) + "…"
	}
	return string(v)
}

// unquote returns the value of the valid JSON string literal v.
func unquote(v []byte) string {
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

// shown names a kind in a message: JSON has numbers, not integers.
func shown(k Kind) Kind {
	if k == KindInteger {
		return KindNumber
	}
	return k
}

// article returns "a string", "an integer", ...
func article(k Kind) string {
	switch k {
	case KindInteger, KindArray, KindObject:
		return "an " + string(k)
	default:
		return "a " + string(k)
	}
}

// quote quotes s for a message, cut to 64 bytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// The walk. These functions take JSON that json.Valid accepted, so they
// need no error handling: every index they compute is in range.

// member is one member of a JSON object: its key (the literal's content,
// unescaped only when it holds escapes) and its value's bytes.
type member struct {
	key []byte
	val []byte
}

// members appends the members of the JSON object obj (valid, starting with
// '{') to ms, in order.
func members(obj []byte, ms []member) []member {
	i := skipSpace(obj, 1)
	for obj[i] != '}' {
		end := stringEnd(obj, i)
		key := obj[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			key = []byte(unquote(obj[i:end]))
		}
		i = skipSpace(obj, skipSpace(obj, end)+1) // past ':'
		end = valueEnd(obj, i)
		ms = append(ms, member{key: key, val: obj[i:end]})
		i = skipSpace(obj, end)
		if obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return ms
}

// lookup returns the value of the member called name, nil if there is
// none. As encoding/json does, the last of duplicate keys wins.
func lookup(ms []member, name string) []byte {
	for i := len(ms) - 1; i >= 0; i-- {
		if string(ms[i].key) == name {
			return ms[i].val
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at i.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index just past the value starting at i.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	default: // number, true, false, null
		j := i + 1
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}

// isOneOf reports whether the JSON value v is one of the strings ss.
func isOneOf(v []byte, ss []string) bool {
	for _, s := range ss {
		if stringIs(v, s) {
			return true
		}
	}
	return false
}

// stringIs reports whether the JSON value v is the string s.
func stringIs(v []byte, s string) bool {
	switch {
	case len(v) < 2 || v[0] != '"':
		return false
	case bytes.IndexByte(v, '\\') < 0:
		return string(v[1:len(v)-1]) == s
	default:
		return unquote(v) == s
	}
}
