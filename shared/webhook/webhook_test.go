package webhook

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func intp(n int) *int { return &n }

func TestRetryValidate(t *testing.T) {
	for _, tc := range []struct {
		r         RetrySettings
		wantField string
	}{
		{RetrySettings{}, ""},
		{RetrySettings{MaxRetries: intp(0)}, ""},
		{RetrySettings{MaxRetries: intp(5), DelaysSeconds: []int{1, 60, 300, 1800, 7200}}, ""},
		{RetrySettings{MaxRetries: intp(6)}, "retry.max_retries"},
		{RetrySettings{MaxRetries: intp(-1)}, "retry.max_retries"},
		{RetrySettings{MaxRetries: intp(2), DelaysSeconds: []int{10}}, "retry.delays_seconds"},
		{RetrySettings{MaxRetries: intp(2), DelaysSeconds: []int{0, 10}}, "retry.delays_seconds[0]"},
		{RetrySettings{MaxRetries: intp(2), DelaysSeconds: []int{10, 7201}}, "retry.delays_seconds[1]"},
		{RetrySettings{MaxRetries: intp(2), DelaysSeconds: []int{60, 10}}, "retry.delays_seconds[1]"},
		{RetrySettings{DelaysSeconds: []int{10, 20, 30, 40, 50}}, ""},
	} {
		err := tc.r.Validate()
		if got := FieldOf(err); got != tc.wantField || (tc.wantField != "") != (err != nil) {
			t.Errorf("Validate(%+v) = %v, want field %q", tc.r, err, tc.wantField)
		}
	}
}

func TestNextDelay(t *testing.T) {
	def := RetrySettings{}
	for _, tc := range []struct {
		r          RetrySettings
		n          int
		retryAfter time.Duration
		rnd        float64
		want       time.Duration
		wantOK     bool
	}{
		{def, 1, 0, 0.5, 10 * time.Second, true},
		{def, 2, 0, 0.5, time.Minute, true},
		{def, 5, 0, 0.5, 2 * time.Hour, true},
		{def, 6, 0, 0.5, 0, false},
		{def, 1, 0, 0, 8 * time.Second, true},                   // -20 %
		{def, 3, 0, 0.999999, 6 * time.Minute, true},            // ≈ +20 %
		{def, 5, 0, 0.999999, 2 * time.Hour, true},              // capped
		{def, 1, 45 * time.Second, 0.5, 45 * time.Second, true}, // Retry-After is a floor
		{def, 2, time.Second, 0.5, time.Minute, true},           // ...not a ceiling
		{def, 1, 5 * time.Hour, 0.5, 2 * time.Hour, true},       // capped
		{RetrySettings{MaxRetries: intp(1)}, 1, 0, 0.5, 10 * time.Second, true},
		{RetrySettings{MaxRetries: intp(1)}, 2, 0, 0.5, 0, false},
		{RetrySettings{MaxRetries: intp(0)}, 1, 0, 0.5, 0, false},
		{RetrySettings{MaxRetries: intp(2), DelaysSeconds: []int{3, 4}}, 2, 0, 0.5, 4 * time.Second, true},
		{RetrySettings{MaxRetries: intp(2), DelaysSeconds: []int{1, 4}}, 1, 0, 0, time.Second, true}, // floor 1 s
	} {
		got, ok := tc.r.NextDelay(tc.n, tc.retryAfter, func() float64 { return tc.rnd })
		got = got.Round(time.Millisecond)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("NextDelay(%+v, n=%d, ra=%v, rnd=%v) = %v, %v; want %v, %v", tc.r, tc.n, tc.retryAfter, tc.rnd, got, ok, tc.want, tc.wantOK)
		}
	}
	if got := def.Attempts(); got != 6 {
		t.Errorf("default attempts = %d, want 6", got)
	}
}

func TestSubscriptions(t *testing.T) {
	for _, tc := range []struct {
		sub, typ string
		want     bool
	}{
		{"*", "user.deleted", true},
		{"call.*", "call.completed", true},
		{"call.*", "callx.completed", false},
		{"call.*", "transcription.completed", false},
		{"call.completed", "call.completed", true},
		{"call.completed", "call.completed2", false},
		{"call", "call.completed", false},
	} {
		if got := SubscriptionMatches(tc.sub, tc.typ); got != tc.want {
			t.Errorf("SubscriptionMatches(%q, %q) = %v, want %v", tc.sub, tc.typ, got, tc.want)
		}
	}
}

func TestPlans(t *testing.T) {
	for _, tc := range []struct {
		plan Plan
		typ  string
		want bool
	}{
		{Standard, "call.completed", true}, {Standard, "call.greeting", false},
		{Standard, "voicemail.recorded", true}, {Business, "call.greeting", true}, {Enterprise, "system.error", true},
	} {
		if got := tc.plan.Allows(tc.typ); got != tc.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tc.plan.Name, tc.typ, got, tc.want)
		}
	}
	if _, err := PlanNamed("platinum"); FieldOf(err) != "plan" {
		t.Errorf("PlanNamed(platinum) = %v, want an error naming plan", err)
	}
	got := fmt.Sprint(Standard.MaxEndpoints, Business.MaxEndpoints, Enterprise.MaxEndpoints, " ", Standard.RatePerMinute, Business.RatePerMinute, Enterprise.RatePerMinute)
	if want := "3 10 50 30 100 1000"; got != want {
		t.Errorf("plan limits = %s, want %s (DESIGN §6)", got, want)
	}
}

func TestDeliveryIDIsStableAndDistinct(t *testing.T) {
	a, b := DeliveryID("whk_1", "evt_1"), DeliveryID("whk_1", "evt_1")
	if a != b || !strings.HasPrefix(a, "dlv_") {
		t.Errorf("DeliveryID not stable: %s %s", a, b)
	}
	if DeliveryID("whk_1", "evt_2") == a || DeliveryID("whk_2", "evt_1") == a || DeliveryID("whk_1e", "vt_1") == a {
		t.Error("DeliveryID collides across endpoints/events")
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	s := Secret("whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")
	const cred, token = "Bearer tok_live_abcdef123456", "T000/B000/XXXXtoken"
	ep := &Endpoint{ID: "whk_1", URL: "https://x.example.com/services/" + token + "?k=" + token, Secret: s, PreviousSecret: s,
		Headers: map[string]string{"Authorization": cred}}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "secret", s, "endpoint", ep)
	log.Info("by value", "endpoint", *ep) // used to go through encoding/json
	for what, out := range map[string]string{
		"slog":                       buf.String(),
		"fmt of the secret":          fmt.Sprint(s) + fmt.Sprintf("%v %s %q %x", s, s, s, s),
		"%#v of the secret":          fmt.Sprintf("%#v", s), // used to print it whole
		"%v, %+v, %s of an endpoint": fmt.Sprintf("%v %+v %s %v", ep, ep, ep, *ep),
	} {
		for _, leak := range []string{string(s), "tok_live", token} {
			if strings.Contains(out, leak) {
				t.Errorf("%s shows %q: %s", what, leak, out)
			}
		}
	}
	if !strings.Contains(buf.String(), `"host":"x.example.com"`) {
		t.Errorf("an endpoint logs without its host: %s", buf.String())
	}
	now := time.Unix(1000, 0)
	ep.PreviousSecretExpires = now.Add(time.Hour)
	if got := len(ep.Secrets(now)); got != 2 {
		t.Errorf("secrets during overlap = %d, want 2", got)
	}
	if got := len(ep.Secrets(now.Add(2 * time.Hour))); got != 1 {
		t.Errorf("secrets after overlap = %d, want 1", got)
	}
}

func TestQueueSafeJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":"plain"}`, `{"a":"plain"}`},
		{"{\"a\":\"x\uFFFEy\uFFFFz\"}", `{"a":"x\ufffey\uffffz"}`},
		{"{\"a\":\"\uFFFD\uFFFC\"}", "{\"a\":\"\uFFFD\uFFFC\"}"}, // other characters of EF BF.. stay
		{"{\"a\":\"\U0001F600\"}", "{\"a\":\"\U0001F600\"}"},
	} {
		if got := string(QueueSafeJSON([]byte(tc.in))); got != tc.want {
			t.Errorf("QueueSafeJSON(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDeadLetterPosition(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
	p := PositionOf(&DeadLetter{ID: "dlv_b", At: at})
	got, err := ParseDeadLetterCursor(p.Cursor())
	if err != nil || !got.At.Equal(at) || got.ID != "dlv_b" {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		dl   DeadLetter
		want int
	}{
		{DeadLetter{ID: "dlv_a", At: at}, 1},
		{DeadLetter{ID: "dlv_b", At: at}, 0},
		{DeadLetter{ID: "dlv_a", At: at.Add(time.Nanosecond)}, -1},
	} {
		if got := p.Compare(&tc.dl); got != tc.want {
			t.Errorf("Compare(%s at +%v) = %d, want %d", tc.dl.ID, tc.dl.At.Sub(at), got, tc.want)
		}
	}
	for _, bad := range []string{"", "dlv_b", "e30", "!!"} {
		if _, err := ParseDeadLetterCursor(bad); FieldOf(err) != "cursor" {
			t.Errorf("ParseDeadLetterCursor(%q) = %v, want an invalid cursor", bad, err)
		}
	}
}
