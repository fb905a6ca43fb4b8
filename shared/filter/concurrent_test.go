package filter

import (
	"encoding/json"
	"sync"
	"testing"
)

// Filters are shared by every goroutine; Inputs are per event.
func TestConcurrentUse(t *testing.T) {
	fs := filters50(t)
	ev := event(t, "call.completed", sampleTime, map[string]any{"transcript": longTranscript()})
	want := make([]bool, len(fs))
	in := Prepare(ev)
	for i, f := range fs {
		want[i], _ = f.Eval(in)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				in := Prepare(ev)
				for i, f := range fs {
					if got, _ := f.Eval(in); got != want[i] {
						t.Errorf("%s: %v", f, got)
					}
				}
				_, _ = fs[0].Match(ev)
				_, _ = Parse(`caller_country = "FR" and time.hour >= 9 tz "Europe/Paris"`)
			}
		})
	}
	wg.Wait()
}

func TestUnmarshalJSON(t *testing.T) {
	var cfg struct {
		A *Filter `json:"a"`
		B *Filter `json:"b"`
		C *Filter `json:"c"`
	}
	if err := json.Unmarshal([]byte(`{"a":`+seedJSON+`,"b":"urgency >= medium"}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.A.String() != seedText || cfg.B.String() != "urgency >= medium" || cfg.C != nil {
		t.Errorf("%s / %s / %v", cfg.A, cfg.B, cfg.C)
	}
	err := json.Unmarshal([]byte(`{"a":{"field":"urgency","op":">=","value":"urgent"}}`), &cfg)
	if fe, ok := err.(*Error); !ok || fe.Path != "value" {
		t.Errorf("got %v", err)
	}
}
