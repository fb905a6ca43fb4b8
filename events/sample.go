package events

import (
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

//go:embed samples/*.json
var sampleFiles embed.FS

// Entry is one entry of an EventBridge PutEvents request, spelled as the
// AWS API and the AWS CLI's --entries file spell it. Detail is a string
// holding the detail's JSON.
type Entry struct {
	Source       string    `json:"Source"`
	DetailType   string    `json:"DetailType"`
	Detail       string    `json:"Detail"`
	EventBusName string    `json:"EventBusName,omitempty"`
	Time         Timestamp `json:"Time,omitzero"`
	Resources    []string  `json:"Resources,omitempty"`
}

// Timestamp is the Time of an Entry. It reads both spellings the AWS tools
// use — epoch seconds, fractions allowed (the JSON wire protocol), and RFC
// 3339 strings (AWS CLI input files) — and writes epoch seconds.
type Timestamp struct{ time.Time }

// MarshalJSON writes epoch seconds, with milliseconds when there are any.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	ms := t.UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds (a number or a numeric string), an RFC
// 3339 string or null.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*t = Timestamp{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if at, err := time.Parse(time.RFC3339, s); err == nil {
			t.Time = at
			return nil
		}
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return fmt.Errorf("time %s: want epoch seconds or an RFC 3339 timestamp", b)
	}
	whole, frac := math.Modf(secs)
	t.Time = time.Unix(int64(whole), int64(math.Round(frac*1e9))).UTC()
	return nil
}

// samples holds the parsed sample of every type, in catalog order.
var samples = sync.OnceValue(func() []Entry {
	out := make([]Entry, len(catalog))
	for i, t := range catalog {
		b, err := sampleFiles.ReadFile("samples/" + t.Name + ".json")
		if err != nil {
			panic(fmt.Sprintf("events: no sample for %s: %v", t.Name, err))
		}
		var es []Entry
		if err := json.Unmarshal(b, &es); err != nil || len(es) != 1 {
			panic(fmt.Sprintf("events: sample %s must be a JSON array of one entry (%v)", t.Name, err))
		}
		out[i] = es[0]
	}
	return out
})

// Sample returns the sample PutEvents entry of the event type name — a
// realistic event, usable as a test event. It has no EventBusName or Time;
// callers add them.
func Sample(name string) (Entry, error) {
	for i, t := range catalog {
		if t.Name == name {
			return samples()[i].clone(), nil
		}
	}
	return Entry{}, webhook.Invalid("event_type", "unknown event type %s; want a type of the groups %s",
		quote(name), strings.Join(groups, ", "))
}

// Samples returns the sample entry of every event type, in catalog order.
func Samples() []Entry {
	out := make([]Entry, 0, len(catalog))
	for _, e := range samples() {
		out = append(out, e.clone())
	}
	return out
}

func (e Entry) clone() Entry {
	e.Resources = slices.Clone(e.Resources)
	return e
}

// WithEventID returns a copy of e whose detail carries eventID (the other
// detail fields as they were): demos and tests publish a sample several
// times as distinct events.
func (e Entry) WithEventID(eventID string) (Entry, error) {
	var d map[string]json.RawMessage
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		return e, fmt.Errorf("entry %s: Detail: %w", e.DetailType, err)
	}
	id, _ := json.Marshal(eventID)
	d["event_id"] = id
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep the data's characters as they were
	if err := enc.Encode(d); err != nil {
		return e, err
	}
	e.Detail = strings.TrimSuffix(b.String(), "\n")
	return e, nil
}
