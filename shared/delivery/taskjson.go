package delivery

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/phoneshield/webhooks/shared/jsjson"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// decodeTaskFast decodes body into t when it has the plain shape Encode
// and FirstAttempts write — a task object whose keys are exactly the
// Task's JSON names, each at most once, with strings free of escapes,
// integers without fraction or exponent, and an event object with the
// Event's keys — and reports whether it did. For anything else (unknown,
// repeated or differently cased keys, escapes, nulls, invalid or
// too-deeply nested JSON, a bad time…) it reports false and leaves the
// input to json.Unmarshal, which then gives the result or the error.
//
// Whenever it reports true, t is what json.Unmarshal would have decoded:
// the whole input is checked to be valid JSON (data and previous included)
// and every field is decoded by the same rules. It is about ten times
// faster because it scans the input once (json.Unmarshal validates all of
// it, then scans it again to decode, skipping data twice over) and because
// t.Event.Data aliases body instead of copying it (capped, so an append
// copies).
func decodeTaskFast(body []byte, t *Task) bool {
	p := scanner{b: body}
	if !p.object(func(key []byte) bool {
		switch string(key) {
		case "delivery_id":
			return p.once(0) && p.str(&t.DeliveryID)
		case "endpoint_id":
			return p.once(1) && p.str(&t.EndpointID)
		case "event":
			return p.once(2) && p.event(&t.Event)
		case "attempt":
			return p.once(3) && p.int(&t.Attempt)
		case "generation":
			return p.once(4) && p.int(&t.Generation)
		case "not_before":
			return p.once(5) && p.time(&t.NotBefore)
		case "previous":
			// Rare (retries only): decoded by encoding/json on its own.
			raw, ok := p.raw()
			return ok && p.once(6) && raw[0] == '[' && json.Unmarshal(raw, &t.Previous) == nil
		}
		return false
	}) {
		return false
	}
	p.space()
	return p.i == len(p.b)
}

// event decodes the Event object at the scanner's position.
func (p *scanner) event(ev *webhook.Event) bool {
	return p.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return p.once(7) && p.str(&ev.ID)
		case "type":
			return p.once(8) && p.str(&ev.Type)
		case "time":
			return p.once(9) && p.time(&ev.Time)
		case "environment":
			return p.once(10) && p.str(&ev.Environment)
		case "data":
			raw, ok := p.raw()
			if !ok || raw[0] == 'n' { // null: left to encoding/json
				return false
			}
			ev.Data = json.RawMessage(raw[:len(raw):len(raw)])
			return p.once(11)
		}
		return false
	})
}

// maxDepth bounds the nesting the scanner follows; deeper input is left to
// encoding/json (which allows 10000).
const maxDepth = 512

// scanner is a validating single-pass reader of the JSON a Task is
// encoded in. Every method reports false on input it does not accept.
type scanner struct {
	b    []byte
	i    int
	seen uint32 // keys decoded so far, by once's bit
}

// once records key bit k as seen and reports whether it was new.
func (p *scanner) once(k uint) bool {
	if p.seen&(1<<k) != 0 {
		return false
	}
	p.seen |= 1 << k
	return true
}

func (p *scanner) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object reads an object whose members' keys are plain strings, calling
// member with each key positioned at its value; member must consume the
// value.
func (p *scanner) object(member func(key []byte) bool) bool {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return false
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.space()
		key, ok := p.plain()
		if !ok {
			return false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		if !member(key) {
			return false
		}
		p.space()
		if p.i >= len(p.b) {
			return false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// plain reads a string with no escapes, control characters or invalid
// UTF-8 — one that encoding/json decodes to its bytes as they are — and
// returns its contents.
func (p *scanner) plain() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	ascii := true
	for i := start; i < len(p.b); i++ {
		c := p.b[i]
		switch {
		case c == '"':
			s := p.b[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			p.i = i + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (p *scanner) str(dst *string) bool {
	s, ok := p.plain()
	if ok {
		*dst = string(s)
	}
	return ok
}

// int reads an integer as encoding/json decodes one into an int: digits
// only (at most 18, so it can't overflow), optionally negative.
func (p *scanner) int(dst *int) bool {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	switch {
	case n == 0 || n > 18:
		return false
	case n > 1 && p.b[digits] == '0': // not JSON
		return false
	case p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E'):
		return false // a valid number, but not an int: left to encoding/json
	}
	v, err := strconv.Atoi(string(p.b[start:p.i]))
	*dst = v
	return err == nil
}

// time reads a time.Time the way encoding/json does: by handing the
// quoted string to Time.UnmarshalJSON.
func (p *scanner) time(dst *time.Time) bool {
	start := p.i
	if _, ok := p.plain(); !ok {
		return false
	}
	return dst.UnmarshalJSON(p.b[start:p.i]) == nil
}

// raw reads any JSON value, checking it is valid, and returns its bytes.
func (p *scanner) raw() ([]byte, bool) {
	start := p.i
	if !p.value(0) {
		return nil, false
	}
	return p.b[start:p.i], true
}

// value skips one JSON value (RFC 8259, as encoding/json accepts it:
// strings may hold any bytes from 0x20 up, valid UTF-8 or not).
func (p *scanner) value(depth int) bool {
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; c {
	case '{':
		if depth >= maxDepth {
			return false
		}
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return true
		}
		for {
			p.space()
			if !p.skipString() {
				return false
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return false
			}
			p.i++
			p.space()
			if !p.value(depth + 1) {
				return false
			}
			p.space()
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case '}':
				p.i++
				return true
			default:
				return false
			}
		}
	case '[':
		if depth >= maxDepth {
			return false
		}
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return true
		}
		for {
			p.space()
			if !p.value(depth + 1) {
				return false
			}
			p.space()
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case ']':
				p.i++
				return true
			default:
				return false
			}
		}
	case '"':
		return p.skipString()
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

func (p *scanner) literal(lit string) bool {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return false
	}
	p.i += len(lit)
	return true
}

// stringSafe marks the bytes that stand for themselves inside a string.
var stringSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipString skips a string, checking its escapes.
func (p *scanner) skipString() bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false
	}
	i := p.i + 1
	for {
		for i < len(p.b) && stringSafe[p.b[i]] {
			i++
		}
		if i >= len(p.b) {
			return false
		}
		switch p.b[i] {
		case '"':
			p.i = i + 1
			return true
		case '\\':
			if i+1 >= len(p.b) {
				return false
			}
			switch p.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(p.b)-i < 6 || !isHex(p.b[i+2]) || !isHex(p.b[i+3]) || !isHex(p.b[i+4]) || !isHex(p.b[i+5]) {
					return false
				}
				i += 6
			default:
				return false
			}
		default: // a control character
			return false
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number skips a JSON number.
func (p *scanner) number() bool {
	n := jsjson.NumberLen(p.b[p.i:])
	p.i += n
	return n > 0
}
