package envelope

import (
	"bytes"
	"errors"

	"github.com/phoneshield/webhooks/shared/jsjson"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// MaxBody is the largest body Render returns, in bytes (DESIGN §4's
// "1 MB"): 1,048,576, which is what a receiver's "1mb" limit means in the
// seed guide's stack (Express's body parser reads "1mb" as 1024×1024).
const MaxBody = 1 << 20

// Version is the envelope's "version" field.
const Version = "1.0"

// TimestampLayout is the layout of the envelope's "timestamp": UTC, whole
// seconds, as in the seed guide ("2025-04-30T15:23:47Z"). Fractions of a
// second are dropped (truncated, not rounded), so the timestamp never
// falls after the event.
const TimestampLayout = "2006-01-02T15:04:05Z"

// Links are the data fields truncation never removes, at any depth. An
// object or array that holds one is never removed as a whole either.
var Links = []string{"transcription_url", "recording_url"}

// MaxDroppedListed caps Info.Dropped; Info.DroppedCount counts them all.
const MaxDroppedListed = 100

// ErrTooLarge is wrapped by the error Render returns when the body can't be
// brought under MaxBody without removing a link or an envelope field: the
// event's id, type, environment, the endpoint id and the links together
// (or data that is not an object) exceed MaxBody. A real event can't.
var ErrTooLarge = errors.New("envelope: body over MaxBody after removing every removable field")

// Info describes a rendered body, for the caller's logs.
type Info struct {
	Size         int      // len(body)
	Truncated    bool     // fields were removed to fit MaxBody; data.truncated is true
	Dropped      []string // paths in data of removed fields, in removal order, e.g. "transcript", "segments[3].text" (at most MaxDroppedListed)
	DroppedCount int      // number of removed fields
}

// Render returns the webhook body for ev sent to endpoint endpointID under
// plan: the envelope of DESIGN §4 in the canonical form of package jsjson
// (so it equals JSON.stringify(JSON.parse(body))), never over MaxBody.
func Render(ev *webhook.Event, endpointID string, plan webhook.Plan) ([]byte, error) {
	body, _, err := RenderInfo(ev, endpointID, plan)
	return body, err
}

// RenderInfo is Render that also reports whether and how the body was
// truncated.
//
// The body is
//
//	{"event_type":…,"timestamp":…,"version":"1.0","environment":…,"webhook_id":endpointID,"event_id":…,"data":…}
//
// with the keys in that order. An empty Environment is rendered as
// "production" (DESIGN §3's default), an empty Data as {}. data is ev.Data
// in canonical form; under a plan with CorePayload only its top-level
// members named in webhook.CoreFields are kept (data that is not an object
// becomes {}).
//
// A body over MaxBody is cut down by removing members of data, counting
// every byte exactly and stopping as soon as the body fits:
//
//  1. members named "transcript", at any depth and of any type, largest
//     first;
//  2. then members whose value is a string, at any depth (inside nested
//     objects and objects in arrays too), largest first;
//  3. then any other member (arrays, objects, numbers, ...), largest first,
//     by its size at that point; members removed in steps 1 and 2 that fit
//     again afterwards are put back, most recently removed first.
//
// Members named in Links, and objects or arrays holding one, are never
// removed. Sizes count the whole member ("key":value). Array elements are
// never removed on their own, so arrays keep their length unless removed
// whole. After removal, data gets "truncated":true as its last member. If
// data already has a top-level "truncated" member, its value is replaced
// by true in place instead (and listed in Info.Dropped unless it was true
// already) — the one case where a link could go, if a producer nested one
// in it.
func RenderInfo(ev *webhook.Event, endpointID string, plan webhook.Plan) ([]byte, Info, error) {
	if ev == nil {
		return nil, Info{}, webhook.Invalid("event", "no event")
	}
	env := ev.Environment
	if env == "" {
		env = webhook.EnvProduction
	}
	data := ev.Data
	if len(data) == 0 {
		data = emptyObject
	}
	buf := make([]byte, 0, 128+len(ev.Type)+len(ev.ID)+len(env)+len(endpointID)+len(data)+len(data)/64+16)
	buf = append(buf, `{"event_type":`...)
	buf = jsjson.AppendString(buf, ev.Type)
	buf = append(buf, `,"timestamp":"`...)
	buf = ev.Time.UTC().AppendFormat(buf, TimestampLayout)
	buf = append(buf, `","version":"`+Version+`","environment":`...)
	buf = jsjson.AppendString(buf, env)
	buf = append(buf, `,"webhook_id":`...)
	buf = jsjson.AppendString(buf, endpointID)
	buf = append(buf, `,"event_id":`...)
	buf = jsjson.AppendString(buf, ev.ID)
	buf = append(buf, `,"data":`...)
	dataStart := len(buf)
	buf, err := jsjson.AppendCanonical(buf, data)
	if err != nil {
		return nil, Info{}, &webhook.Error{Kind: webhook.KindInvalid, Field: "data", Message: "not valid JSON", Err: err}
	}
	if plan.CorePayload {
		buf = projectCore(buf, dataStart)
	}
	buf = append(buf, '}')
	if len(buf) <= MaxBody {
		return buf, Info{Size: len(buf)}, nil
	}
	return truncate(buf, dataStart)
}

var emptyObject = []byte("{}")

// projectCore keeps only the core members of the canonical object at
// buf[start:], moving them down in place. The kept members stay in
// canonical order, so the object stays canonical.
func projectCore(buf []byte, start int) []byte {
	if buf[start] != '{' {
		return append(buf[:start], emptyObject...)
	}
	w := start + 1
	i := start + 1
	for buf[i] != '}' {
		keyEnd := skipString(buf, i)
		end := skipValue(buf, keyEnd+1)
		if isCore(buf[i+1 : keyEnd-1]) {
			if w > start+1 {
				buf[w] = ','
				w++
			}
			w += copy(buf[w:], buf[i:end])
		}
		i = end
		if buf[i] == ',' {
			i++
		}
	}
	buf[w] = '}'
	return buf[:w+1]
}

func isCore(key []byte) bool {
	for _, f := range webhook.CoreFields {
		if string(key) == f {
			return true
		}
	}
	return false
}

// The scanners below walk canonical JSON (jsjson output: valid, no
// whitespace), so they check nothing.

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		i += j
		// The quote is escaped if an odd number of backslashes precede it.
		k := i
		for b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i + 1
		}
		i++
	}
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default:
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}
