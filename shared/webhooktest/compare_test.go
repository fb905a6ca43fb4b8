package webhooktest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

func TestDiff(t *testing.T) {
	zero, three := 0, 3
	at := time.Date(2025, 6, 3, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name      string
		got, want any
		diffs     int
	}{
		{"same instant, other zone", at.In(zone), at, 0},
		{"a nanosecond apart", at.Add(1), at, 1},
		{"nil and empty slice", &webhook.Endpoint{EventTypes: nil}, &webhook.Endpoint{EventTypes: []string{}}, 0},
		{"nil and empty map", &webhook.Endpoint{Headers: nil}, &webhook.Endpoint{Headers: map[string]string{}}, 0},
		{"pointer to 0 is not nil", webhook.RetrySettings{MaxRetries: &zero}, webhook.RetrySettings{}, 1},
		{"pointers compared by value", webhook.RetrySettings{MaxRetries: &three}, webhook.RetrySettings{MaxRetries: new(int)}, 1},
		{"raw JSON byte for byte", json.RawMessage(`{"a": 1}`), json.RawMessage(`{"a":1}`), 1},
		{"map value", map[string]string{"a": "1"}, map[string]string{"a": "2"}, 1},
		{"map key", map[string]string{"a": "1"}, map[string]string{"b": "1"}, 1},
		{"secrets compared in full", webhook.Secret("whsec_a"), webhook.Secret("whsec_b"), 1},
		{"every field", NewEndpoint("whk_1"), NewEndpoint("whk_2"), 3}, // the id and both secrets
		{"slice length", []webhook.Attempt{{N: 1}}, []webhook.Attempt{{N: 1}, {N: 2}}, 1},
		{"nested field", []webhook.Attempt{{N: 1, At: at}}, []webhook.Attempt{{N: 1, At: at.Add(time.Second)}}, 1},
	}
	for _, tc := range tests {
		if ds := Diff(tc.got, tc.want); len(ds) != tc.diffs {
			t.Errorf("%s: %d differences %q, want %d", tc.name, len(ds), ds, tc.diffs)
		}
	}
}
