package envelope

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/jsjson/jsjsontest"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// The baseline: the same body as a Go struct marshalled by encoding/json
// (which, unlike Render, does not produce JSON.stringify's bytes: it
// escapes <, >, &, U+2028 and U+2029 and keeps struct field order).
type segment struct {
	Speaker    string  `json:"speaker"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float64 `json:"confidence"`
	Text       string  `json:"text"`
}

type callData struct {
	CallID           string   `json:"call_id"`
	PhoneNumber      string   `json:"phone_number"`
	CallerNumber     string   `json:"caller_number"`
	CallerName       string   `json:"caller_name"`
	CallStart        string   `json:"call_start"`
	CallEnd          string   `json:"call_end"`
	DurationSeconds  int      `json:"duration_seconds"`
	Direction        string   `json:"direction"`
	Status           string   `json:"status"`
	AIHandled        bool     `json:"ai_handled"`
	Forwarded        bool     `json:"forwarded"`
	Summary          string   `json:"summary"`
	Topics           []string `json:"topics"`
	Sentiment        string   `json:"sentiment"`
	Urgency          string   `json:"urgency"`
	TranscriptionURL string   `json:"transcription_url"`
	RecordingURL     string   `json:"recording_url"`
	Metadata         struct {
		CustomerID  string `json:"customer_id"`
		AccountType string `json:"account_type"`
		Source      string `json:"source"`
	} `json:"metadata"`
	Transcript string    `json:"transcript"`
	Segments   []segment `json:"segments,omitempty"`
}

type envelopeStruct struct {
	EventType   string `json:"event_type"`
	Timestamp   string `json:"timestamp"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
	WebhookID   string `json:"webhook_id"`
	EventID     string `json:"event_id"`
	Data        any    `json:"data"`
}

func benchEvents(b *testing.B) []struct {
	name string
	ev   *webhook.Event
	data callData
} {
	var out []struct {
		name string
		ev   *webhook.Event
		data callData
	}
	for _, s := range []struct {
		name string
		size int
	}{{"2KB", 2 << 10}, {"50KB", 50 << 10}} {
		ev := seedEvent()
		ev.Data = jsjsontest.CallCompleted(s.size)
		var d callData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			b.Fatal(err)
		}
		out = append(out, struct {
			name string
			ev   *webhook.Event
			data callData
		}{s.name, ev, d})
	}
	return out
}

func BenchmarkRender(b *testing.B) {
	for _, e := range benchEvents(b) {
		b.Run(e.name+"/Render", func(b *testing.B) {
			b.SetBytes(int64(len(e.ev.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(e.ev, "whk_12345abcdef", webhook.Business); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(e.name+"/Render-standard", func(b *testing.B) {
			b.SetBytes(int64(len(e.ev.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(e.ev, "whk_12345abcdef", webhook.Standard); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(e.name+"/encoding-json-struct", func(b *testing.B) {
			b.SetBytes(int64(len(e.ev.Data)))
			b.ReportAllocs()
			for b.Loop() {
				env := envelopeStruct{e.ev.Type, e.ev.Time.UTC().Format(time.RFC3339), Version,
					e.ev.Environment, "whk_12345abcdef", e.ev.ID, &e.data}
				if _, err := json.Marshal(&env); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(e.name+"/encoding-json-rawmessage", func(b *testing.B) {
			b.SetBytes(int64(len(e.ev.Data)))
			b.ReportAllocs()
			for b.Loop() {
				env := envelopeStruct{e.ev.Type, e.ev.Time.UTC().Format(time.RFC3339), Version,
					e.ev.Environment, "whk_12345abcdef", e.ev.ID, e.ev.Data}
				if _, err := json.Marshal(&env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderTruncate renders a 1.5 MB transcript down to MaxBody.
func BenchmarkRenderTruncate(b *testing.B) {
	ev := seedEvent()
	ev.Data = object("call_id", "call_1", "transcript", words(1_500_000),
		"transcription_url", transcriptURL, "recording_url", recordingURL)
	b.SetBytes(int64(len(ev.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, info, err := RenderInfo(ev, "whk_1", webhook.Business); err != nil || !info.Truncated {
			b.Fatal(err, info)
		}
	}
}
