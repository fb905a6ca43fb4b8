package signature

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedVector is X-PhoneShield-Signature of testBody under testSecret, as
// printed by the seed's own code in Node.js:
// crypto.createHmac('sha256', secret).update(JSON.stringify(JSON.parse(body))).digest('hex').
// TestPhoneShieldMatchesNode recomputes it when node is available.
const seedVector = "85f600f2faaeef88f8bbe62ec93669aaf0106b4bd099629ddc21aa66064dc5c8"

func TestPhoneShield(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		body   []byte
	}{
		{"envelope", testSecret, testBody},
		{"seed placeholder secret", "your_webhook_secret", testBody},
		{"empty body", testSecret, nil},
		{"binary body", oldSecret, []byte{0, 1, 2, 0xff, 0xfe}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := PhoneShield(tt.secret, tt.body), refPhoneShield(tt.secret, tt.body)
			if got != want {
				t.Errorf("PhoneShield = %q, want %q", got, want)
			}
			if got != strings.ToLower(got) || len(got) != 64 {
				t.Errorf("PhoneShield = %q, want 64 lowercase hex digits", got)
			}
		})
	}
	if got, want := PhoneShield(testSecret, testBody), seedVector; got != want {
		t.Errorf("pinned seed vector: got %q, want %q", got, want)
	}
}

func TestStandard(t *testing.T) {
	// The published Standard Webhooks test vector (the reference
	// libraries' tests use it too).
	specKey, err := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Standard([][]byte{specKey}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("spec vector: got %q, want %q", got, want)
	}

	ts := testTime.Unix()
	tests := []struct {
		name    string
		secrets []string
		id      string
		body    []byte
	}{
		{"one secret", []string{testSecret}, testID, testBody},
		{"rotation overlap", []string{testSecret, oldSecret}, testID, testBody},
		{"empty body", []string{testSecret}, testID, nil},
		{"no keys", nil, testID, testBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var keys [][]byte
			var want []string
			for _, s := range tt.secrets {
				keys = append(keys, refKey(t, s))
				want = append(want, refV1(t, s, tt.id, ts, tt.body))
			}
			if got, want := Standard(keys, tt.id, ts, tt.body), strings.Join(want, " "); got != want {
				t.Errorf("Standard = %q, want %q", got, want)
			}
		})
	}
}

func TestSignerSign(t *testing.T) {
	ts := testTime.Unix()
	tests := []struct {
		name    string
		secrets []string
	}{
		{"one secret", []string{testSecret}},
		{"rotation overlap", []string{testSecret, oldSecret}},
		{"three secrets", []string{otherSecret, testSecret, oldSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(HeaderWebhookSignature, "v1,stale") // replaced, not appended to
			h.Set("X-PhoneShield-Event-Id", testID)   // left alone
			s, err := NewSigner(tt.secrets...)
			if err != nil {
				t.Fatal(err)
			}
			s.Sign(testID, testTime, testBody, h)

			var sigs []string
			for _, sec := range tt.secrets {
				sigs = append(sigs, refV1(t, sec, testID, ts, testBody))
			}
			want := map[string]string{
				// The current (first) secret only: the header holds one value.
				HeaderPhoneShield:        refPhoneShield(tt.secrets[0], testBody),
				HeaderWebhookID:          testID,
				HeaderWebhookTimestamp:   "1746026627",
				HeaderWebhookSignature:   strings.Join(sigs, " "),
				"X-PhoneShield-Event-Id": testID,
			}
			for name, w := range want {
				if got := h.Values(name); len(got) != 1 || got[0] != w {
					t.Errorf("%s = %q, want [%q]", name, got, w)
				}
			}
			if got, want := len(h), len(want); got != want {
				t.Errorf("len(header) = %d, want %d: %v", got, want, h)
			}
		})
	}
}

func TestSignerSignDoesNotAlias(t *testing.T) {
	s, err := NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	s.Sign(testID, testTime, testBody, h)
	h.Add(HeaderWebhookID, "appended") // must not overwrite the timestamp slot
	if got, want := h.Get(HeaderWebhookTimestamp), "1746026627"; got != want {
		t.Errorf("timestamp after Add = %q, want %q", got, want)
	}
}

func TestNewSignerErrors(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"empty", []string{""}},
		{"bad current", []string{"whsec_short", testSecret}},
		{"bad previous", []string{testSecret, "not-a-secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.secrets...)
			if got, want := s == nil && err != nil, true; got != want {
				t.Fatalf("NewSigner = %v, %v; want nil, error", s, err)
			}
		})
	}
}

// TestSignerConcurrent exercises the HMAC pools from many goroutines; run
// with -race.
func TestSignerConcurrent(t *testing.T) {
	s, err := NewSigner(testSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				id := fmt.Sprintf("evt_%d_%d", g, i)
				body := []byte(strings.Repeat("x", g*i))
				ts := testTime.Add(time.Duration(i) * time.Second)
				h := http.Header{}
				s.Sign(id, ts, body, h)
				want := Standard([][]byte{refKey(t, testSecret), refKey(t, oldSecret)}, id, ts.Unix(), body)
				if got := h.Get(HeaderWebhookSignature); got != want {
					errs <- fmt.Errorf("%s: got %q, want %q", id, got, want)
					return
				}
				if got, want := h.Get(HeaderPhoneShield), refPhoneShield(testSecret, body); got != want {
					errs <- fmt.Errorf("%s: phoneshield got %q, want %q", id, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
