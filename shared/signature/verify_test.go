package signature

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestVerifyStandard(t *testing.T) {
	good := signed(t, testID, testTime, testBody, testSecret, oldSecret)
	goodSig := good.Get(HeaderWebhookSignature)
	firstSig, _, _ := strings.Cut(goodSig, " ")
	shortSig := "v1,AAECAwQFBgcICQoLDA0ODw==" // valid base64 of 16 bytes

	tests := []struct {
		name      string
		secrets   []string
		edit      func(h http.Header) // applied to a copy of good
		body      []byte              // nil means testBody
		tolerance time.Duration
		now       time.Time // zero means testTime
		want      error
		header    string // the header the *HeaderError must name
	}{
		{name: "valid", secrets: []string{testSecret}},
		{name: "valid with old secret", secrets: []string{oldSecret}},
		{name: "receiver holds both", secrets: []string{otherSecret, oldSecret}},
		{name: "lowercase header keys set by hand", secrets: []string{testSecret}, edit: func(h http.Header) {
			id, ts, sig := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
			clear(h)
			h.Set("webhook-id", id)
			h.Set("WEBHOOK-TIMESTAMP", ts)
			h.Set("Webhook-Signature", sig)
		}},
		{name: "unknown versions ignored", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, "v1a,Zm9vYmFy v2,xyz "+firstSig)},
		{name: "extra spaces", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, "  "+firstSig+"   ")},
		{name: "signature split over two header lines", secrets: []string{oldSecret}, edit: func(h http.Header) {
			a, b, _ := strings.Cut(goodSig, " ")
			h[keySignature] = []string{a, b}
		}},
		{name: "at the tolerance edge", secrets: []string{testSecret}, now: testTime.Add(DefaultTolerance)},
		{name: "custom tolerance", secrets: []string{testSecret}, now: testTime.Add(-time.Hour), tolerance: time.Hour},

		{name: "wrong secret", secrets: []string{otherSecret}, want: ErrNoMatch, header: HeaderWebhookSignature},
		{name: "tampered body", secrets: []string{testSecret}, body: append([]byte(" "), testBody...), want: ErrNoMatch, header: HeaderWebhookSignature},
		{name: "empty body", secrets: []string{testSecret}, body: []byte{}, want: ErrNoMatch, header: HeaderWebhookSignature},
		{name: "tampered id", secrets: []string{testSecret}, edit: set(HeaderWebhookID, testID+"x"), want: ErrNoMatch, header: HeaderWebhookSignature},
		{name: "tampered timestamp", secrets: []string{testSecret}, edit: set(HeaderWebhookTimestamp, "1746026628"), want: ErrNoMatch, header: HeaderWebhookSignature},
		{name: "signature of another version only", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, "v1a,"+strings.TrimPrefix(firstSig, "v1,")), want: ErrNoMatch, header: HeaderWebhookSignature},
		{name: "too old", secrets: []string{testSecret}, now: testTime.Add(DefaultTolerance + time.Second), want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "too old by less than a second", secrets: []string{testSecret}, now: testTime.Add(DefaultTolerance + 900*time.Millisecond), want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "too new by less than a second", secrets: []string{testSecret}, now: testTime.Add(-DefaultTolerance - 100*time.Millisecond), want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "sub-second tolerance", secrets: []string{testSecret}, now: testTime.Add(400 * time.Millisecond), tolerance: 500 * time.Millisecond},
		{name: "outside a sub-second tolerance", secrets: []string{testSecret}, now: testTime.Add(600 * time.Millisecond), tolerance: 500 * time.Millisecond, want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "too new", secrets: []string{testSecret}, now: testTime.Add(-DefaultTolerance - time.Second), want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "outside custom tolerance", secrets: []string{testSecret}, now: testTime.Add(31 * time.Second), tolerance: 30 * time.Second, want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "timestamp in milliseconds", secrets: []string{testSecret}, edit: set(HeaderWebhookTimestamp, "1746026627000"), want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "timestamp not an integer", secrets: []string{testSecret}, edit: set(HeaderWebhookTimestamp, "2025-04-30T15:23:47Z"), want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "timestamp overflows", secrets: []string{testSecret}, edit: set(HeaderWebhookTimestamp, "99999999999999999999"), want: ErrTimestamp, header: HeaderWebhookTimestamp},
		{name: "missing id", secrets: []string{testSecret}, edit: del(HeaderWebhookID), want: ErrMissingHeader, header: HeaderWebhookID},
		{name: "empty id", secrets: []string{testSecret}, edit: set(HeaderWebhookID, ""), want: ErrMissingHeader, header: HeaderWebhookID},
		{name: "missing timestamp", secrets: []string{testSecret}, edit: del(HeaderWebhookTimestamp), want: ErrMissingHeader, header: HeaderWebhookTimestamp},
		{name: "missing signature", secrets: []string{testSecret}, edit: del(HeaderWebhookSignature), want: ErrMissingHeader, header: HeaderWebhookSignature},
		{name: "no headers", secrets: []string{testSecret}, edit: func(h http.Header) { clear(h) }, want: ErrMissingHeader, header: HeaderWebhookID},
		{name: "malformed: no comma", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, strings.Replace(firstSig, ",", "", 1)), want: ErrMalformedHeader, header: HeaderWebhookSignature},
		{name: "malformed: empty signature", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, "v1,"), want: ErrMalformedHeader, header: HeaderWebhookSignature},
		{name: "malformed: empty version", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, ","+strings.TrimPrefix(firstSig, "v1,")), want: ErrMalformedHeader, header: HeaderWebhookSignature},
		{name: "malformed: not base64", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, "v1,!!!!"), want: ErrMalformedHeader, header: HeaderWebhookSignature},
		{name: "malformed: hex instead of base64", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, "v1,"+PhoneShield(testSecret, testBody)), want: ErrMalformedHeader, header: HeaderWebhookSignature},
		{name: "malformed: short MAC", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, shortSig), want: ErrMalformedHeader, header: HeaderWebhookSignature},
		{name: "malformed: comma-separated list", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, strings.ReplaceAll(goodSig, " ", ",")), want: ErrMalformedHeader, header: HeaderWebhookSignature},
		{name: "malformed entries next to a good one", secrets: []string{testSecret}, edit: set(HeaderWebhookSignature, "v1,!!!! junk "+shortSig+" "+firstSig)},

		{name: "bad secret format", secrets: []string{"your_webhook_secret"}, want: ErrInvalidSecret},
		{name: "one bad secret among good", secrets: []string{testSecret, "whsec_short"}, want: ErrInvalidSecret},
		{name: "no secrets", secrets: nil, want: ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good.Clone()
			if tt.edit != nil {
				tt.edit(h)
			}
			body := testBody
			if tt.body != nil {
				body = tt.body
			}
			now := testTime
			if !tt.now.IsZero() {
				now = tt.now
			}
			err := VerifyStandard(tt.secrets, h, body, tt.tolerance, now)
			if got, want := err, tt.want; !errors.Is(got, want) {
				t.Fatalf("VerifyStandard = %v, want %v", got, want)
			}
			if err == nil {
				return
			}
			for _, s := range append(tt.secrets, testSecret, oldSecret) {
				assertNoSecret(t, err.Error(), s)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(firstSig, "v1,")[:12]) {
				t.Errorf("error %q echoes a signature", err)
			}
			if tt.header == "" {
				return
			}
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("error %v (%T) is not a *HeaderError", err, err)
			}
			if got, want := he.Header, tt.header; got != want {
				t.Errorf("HeaderError.Header = %q, want %q", got, want)
			}
			if got, want := err.Error(), tt.header+": "; !strings.HasPrefix(got, want) {
				t.Errorf("error %q does not start with %q", got, want)
			}
		})
	}
}

func set(name, value string) func(http.Header) {
	return func(h http.Header) { h.Set(name, value) }
}

func del(name string) func(http.Header) {
	return func(h http.Header) { h.Del(name) }
}

func TestVerifyPhoneShield(t *testing.T) {
	good := PhoneShield(testSecret, testBody)
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   error
	}{
		{"valid", testSecret, testBody, good, nil},
		{"uppercase hex", testSecret, testBody, strings.ToUpper(good), nil},
		{"seed-style secret", "your_webhook_secret", testBody, PhoneShield("your_webhook_secret", testBody), nil},
		{"wrong secret", oldSecret, testBody, good, ErrNoMatch},
		{"tampered body", testSecret, append(testBody[:len(testBody):len(testBody)], ' '), good, ErrNoMatch},
		{"signed with the decoded key instead", testSecret, testBody, refPhoneShieldKey(t, testSecret, testBody), ErrNoMatch},
		{"missing", testSecret, testBody, "", ErrMissingHeader},
		{"too short", testSecret, testBody, good[:62], ErrMalformedHeader},
		{"sha256= prefix", testSecret, testBody, "sha256=" + good, ErrMalformedHeader},
		{"not hex", testSecret, testBody, strings.Repeat("zz", 32), ErrMalformedHeader},
		{"empty secret", "", testBody, good, ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyPhoneShield(tt.secret, tt.body, tt.header)
			if got, want := err, tt.want; !errors.Is(got, want) {
				t.Fatalf("VerifyPhoneShield = %v, want %v", got, want)
			}
			if err != nil {
				assertNoSecret(t, err.Error(), tt.secret)
				if strings.Contains(strings.ToLower(err.Error()), good[:12]) {
					t.Errorf("error %q echoes the signature", err)
				}
			}
		})
	}
}

// refPhoneShieldKey signs with the decoded key, the mistake a receiver
// might make by reusing Standard Webhooks key handling.
func refPhoneShieldKey(t *testing.T, secret string, body []byte) string {
	return refPhoneShield(string(refKey(t, secret)), body)
}

func TestVerifier(t *testing.T) {
	now := testTime.Add(time.Minute)
	clock := func() time.Time { return now } // a fake clock
	both := signed(t, testID, testTime, testBody, testSecret, oldSecret)
	stdOnly := both.Clone()
	stdOnly.Del(HeaderPhoneShield)
	psOnly := http.Header{}
	psOnly.Set(HeaderPhoneShield, both.Get(HeaderPhoneShield))
	psOld := http.Header{}
	psOld.Set(HeaderPhoneShield, PhoneShield(oldSecret, testBody))

	tests := []struct {
		name string
		v    Verifier
		h    http.Header
		want error
	}{
		{"standard", Verifier{Secrets: []string{testSecret}, Now: clock}, both, nil},
		{"standard, old secret", Verifier{Secrets: []string{oldSecret}, Now: clock}, stdOnly, nil},
		{"standard needs its headers", Verifier{Secrets: []string{testSecret}, Now: clock}, psOnly, ErrMissingHeader},
		{"standard, stale", Verifier{Secrets: []string{testSecret}, Now: func() time.Time { return now.Add(time.Hour) }}, both, ErrTimestamp},
		{"standard, wide tolerance", Verifier{Secrets: []string{testSecret}, Tolerance: 2 * time.Hour, Now: func() time.Time { return now.Add(time.Hour) }}, both, nil},
		{"standard, real clock rejects 2025", Verifier{Secrets: []string{testSecret}}, both, ErrTimestamp},
		{"phoneshield", Verifier{Secrets: []string{testSecret}, Scheme: SchemePhoneShield}, psOnly, nil},
		{"phoneshield ignores time", Verifier{Secrets: []string{testSecret}, Scheme: SchemePhoneShield, Now: func() time.Time { return now.Add(1000 * time.Hour) }}, both, nil},
		{"phoneshield, receiver holds both", Verifier{Secrets: []string{testSecret, oldSecret}, Scheme: SchemePhoneShield}, psOld, nil},
		{"phoneshield, old secret only", Verifier{Secrets: []string{oldSecret}, Scheme: SchemePhoneShield}, psOnly, ErrNoMatch},
		{"phoneshield, missing", Verifier{Secrets: []string{testSecret}, Scheme: SchemePhoneShield}, stdOnly, ErrMissingHeader},
		{"phoneshield, empty secret", Verifier{Secrets: []string{testSecret, ""}, Scheme: SchemePhoneShield}, psOnly, ErrInvalidSecret},
		{"both", Verifier{Secrets: []string{testSecret}, Scheme: SchemeBoth, Now: clock}, both, nil},
		{"both, standard missing", Verifier{Secrets: []string{testSecret}, Scheme: SchemeBoth, Now: clock}, psOnly, ErrMissingHeader},
		{"both, phoneshield missing", Verifier{Secrets: []string{testSecret}, Scheme: SchemeBoth, Now: clock}, stdOnly, ErrMissingHeader},
		{"both, old secret fails phoneshield", Verifier{Secrets: []string{oldSecret}, Scheme: SchemeBoth, Now: clock}, both, ErrNoMatch},
		{"no secrets", Verifier{Now: clock}, both, ErrInvalidSecret},
		{"no secrets, phoneshield", Verifier{Scheme: SchemePhoneShield}, both, ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.v.Verify(tt.h, testBody), tt.want; !errors.Is(got, want) {
				t.Errorf("Verify = %v, want %v", got, want)
			}
		})
	}

	if err := (&Verifier{Secrets: []string{testSecret}, Scheme: Scheme(9)}).Verify(both, testBody); err == nil {
		t.Error("unknown scheme: Verify = nil, want error")
	}
}
