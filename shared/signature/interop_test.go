package signature

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Interop with the Standard Webhooks reference library. Its Verify checks
// the timestamp against time.Now, so these tests sign at time.Now.

func refWebhook(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("standardwebhooks.NewWebhook: %v", err)
	}
	return wh
}

func TestInteropOurSignerReferenceVerifier(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name      string
		signWith  []string
		verifyAs  string
		wantMatch bool
	}{
		{"one secret", []string{testSecret}, testSecret, true},
		{"overlap, receiver has new", []string{testSecret, oldSecret}, testSecret, true},
		{"overlap, receiver has old", []string{testSecret, oldSecret}, oldSecret, true},
		{"overlap, receiver has neither", []string{testSecret, oldSecret}, otherSecret, false},
		{"wrong secret", []string{testSecret}, oldSecret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := signed(t, testID, now, testBody, tt.signWith...)
			err := refWebhook(t, tt.verifyAs).Verify(testBody, h)
			if got, want := err == nil, tt.wantMatch; got != want {
				t.Errorf("reference Verify = %v, want match %v", err, want)
			}
			if !tt.wantMatch && !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
				t.Errorf("reference Verify = %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

func TestInteropReferenceSignerOurVerifier(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		signWith []string // each secret signs; the entries are joined
		verify   []string
		wantErr  error
	}{
		{"one secret", []string{testSecret}, []string{testSecret}, nil},
		{"receiver holds both", []string{oldSecret}, []string{testSecret, oldSecret}, nil},
		{"two signatures, receiver has old", []string{testSecret, oldSecret}, []string{oldSecret}, nil},
		{"wrong secret", []string{testSecret}, []string{otherSecret}, ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var list string
			for i, s := range tt.signWith {
				sig, err := refWebhook(t, s).Sign(testID, now, testBody)
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					list += " "
				}
				list += sig
			}
			h := http.Header{}
			h.Set(standardwebhooks.HeaderWebhookID, testID)
			h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
			h.Set(standardwebhooks.HeaderWebhookSignature, list)

			err := VerifyStandard(tt.verify, h, testBody, 0, now)
			if got, want := err, tt.wantErr; !errors.Is(got, want) {
				t.Errorf("VerifyStandard = %v, want %v", got, want)
			}
			v := &Verifier{Secrets: tt.verify, Now: func() time.Time { return now }}
			if got, want := v.Verify(h, testBody), tt.wantErr; !errors.Is(got, want) {
				t.Errorf("Verifier.Verify = %v, want %v", got, want)
			}
		})
	}
}

// TestInteropSameBytes checks that both sides produce the same entry for
// the same input.
func TestInteropSameBytes(t *testing.T) {
	for _, secret := range []string{testSecret, oldSecret} {
		want, err := refWebhook(t, secret).Sign(testID, testTime, testBody)
		if err != nil {
			t.Fatal(err)
		}
		h := signed(t, testID, testTime, testBody, secret)
		if got := h.Get(HeaderWebhookSignature); got != want {
			t.Errorf("Signer: %q, reference: %q", got, want)
		}
		if got := Standard([][]byte{refKey(t, secret)}, testID, testTime.Unix(), testBody); got != want {
			t.Errorf("Standard: %q, reference: %q", got, want)
		}
	}
}
