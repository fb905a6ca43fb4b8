package filter

import (
	"bytes"
	"encoding/json"

	"github.com/phoneshield/webhooks/shared/jsjson"
)

// scanData finds the members of the data object that filters read, in one
// pass and without copying: out's values are slices of data. Event data
// was validated when the event was accepted, so this is a scanner, not a
// validator; it never panics, and input it can't follow (not an object,
// truncated) leaves out empty. The values filters use are checked again
// when they are read (numbers, strings, and through encoding/json topics
// and metadata).
func scanData(data []byte, out *[dCount]json.RawMessage) {
	if !scanObject(data, out) {
		*out = [dCount]json.RawMessage{}
	}
}

func scanObject(data []byte, out *[dCount]json.RawMessage) bool {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipWS(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		kEnd, ok := skipString(data, i)
		if !ok {
			return false
		}
		key := data[i:kEnd]
		i = skipWS(data, kEnd)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipWS(data, i+1)
		vEnd, ok := skipValue(data, i)
		if !ok {
			return false
		}
		if d, ok := dataFieldOf(key); ok {
			out[d] = data[i:vEnd:vEnd] // the last member of a name wins, as in encoding/json
		}
		i = skipWS(data, vEnd)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '}':
			return skipWS(data, i+1) == len(data)
		case ',':
			i = skipWS(data, i+1)
		default:
			return false
		}
	}
}

// dataFieldOf maps a quoted member name to the field it is.
func dataFieldOf(quoted []byte) (dataField, bool) {
	name := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if json.Unmarshal(quoted, &s) != nil {
			return 0, false
		}
		name = []byte(s)
	}
	switch string(name) {
	case "caller_number":
		return dCallerNumber, true
	case "phone_number":
		return dPhoneNumber, true
	case "direction":
		return dDirection, true
	case "status":
		return dStatus, true
	case "duration_seconds":
		return dDuration, true
	case "ai_handled":
		return dAIHandled, true
	case "forwarded":
		return dForwarded, true
	case "topics":
		return dTopics, true
	case "sentiment":
		return dSentiment, true
	case "urgency":
		return dUrgency, true
	case "summary":
		return dSummary, true
	case "transcript":
		return dTranscript, true
	case "metadata":
		return dMetadata, true
	}
	return 0, false
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the end of the string starting at data[i] == '"'.
func skipString(data []byte, i int) (int, bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return 0, false
		}
		j += k
		escapes := 0
		for p := j - 1; p > i && data[p] == '\\'; p-- {
			escapes++
		}
		j++
		if escapes%2 == 0 {
			return j, true
		}
	}
}

// skipValue returns the end of the value starting at data[i].
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); {
			switch data[j] {
			case '"':
				end, ok := skipString(data, j)
				if !ok {
					return 0, false
				}
				j = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
			j++
		}
		return 0, false
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return 0, false
			}
			return j, true
		}
		j++
	}
	return j, j > i
}

// isNumber reports whether b is a JSON number.
func isNumber(b []byte) bool {
	n := jsjson.NumberLen(b)
	return n > 0 && n == len(b)
}
