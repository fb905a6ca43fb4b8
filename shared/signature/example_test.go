package signature_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/phoneshield/webhooks/shared/signature"
)

// The secret as shown in the PhoneShield dashboard.
const secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func ExampleMiddleware() {
	// A receiver: verify, then decode the very bytes that were signed.
	v := &signature.Verifier{Secrets: []string{secret}}
	mw := signature.Middleware(v)
	handler := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var event struct {
			EventType string `json:"event_type"`
			EventID   string `json:"event_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "got %s %s", event.EventType, event.EventID)
	}))

	// What PhoneShield sends (signed just now).
	body := []byte(`{"event_type":"call.completed","event_id":"evt_1","data":{}}`)
	signer, err := signature.NewSigner(secret)
	if err != nil {
		panic(err)
	}
	deliver := func(signed, received []byte) {
		req := httptest.NewRequest(http.MethodPost, "/phoneshield-webhook", bytes.NewReader(received))
		signer.Sign("evt_1", time.Now(), signed, req.Header)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}

	deliver(body, body)
	deliver(body, bytes.Replace(body, []byte("evt_1"), []byte("evt_2"), 1)) // tampered in transit
	// Output:
	// 200 got call.completed evt_1
	// 401 invalid webhook signature: webhook-signature: no matching signature
}

func ExampleVerifyStandard() {
	body := []byte(`{"event_type":"call.completed","event_id":"evt_1"}`)
	sent := time.Unix(1746026627, 0)

	// Headers as PhoneShield sets them.
	h := http.Header{}
	signer, err := signature.NewSigner(secret)
	if err != nil {
		panic(err)
	}
	signer.Sign("evt_1", sent, body, h)

	// Received 30 seconds later.
	err = signature.VerifyStandard([]string{secret}, h, body, 0, sent.Add(30*time.Second))
	fmt.Println("verified:", err == nil)

	// A replay an hour later is refused, whatever the signature.
	err = signature.VerifyStandard([]string{secret}, h, body, 0, sent.Add(time.Hour))
	fmt.Println(err, errors.Is(err, signature.ErrTimestamp))

	// So is a different body.
	err = signature.VerifyStandard([]string{secret}, h, []byte(`{}`), 0, sent)
	fmt.Println(err, errors.Is(err, signature.ErrNoMatch))
	// Output:
	// verified: true
	// webhook-timestamp: timestamp rejected (too old, beyond 5m0s) true
	// webhook-signature: no matching signature true
}

func ExampleSigner_Sign() {
	// During a rotation PhoneShield signs with the new secret and the old.
	const previous = "whsec_oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
	signer, err := signature.NewSigner(secret, previous)
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	signer.Sign("evt_1", time.Unix(1746026627, 0), []byte(`{"event_id":"evt_1"}`), h)
	for _, name := range []string{
		signature.HeaderPhoneShield,
		signature.HeaderWebhookID,
		signature.HeaderWebhookTimestamp,
		signature.HeaderWebhookSignature,
	} {
		fmt.Printf("%s: %s\n", name, h.Get(name))
	}
	// Output:
	// X-PhoneShield-Signature: 76bf7d73665c5475dff0361d3047c31ff073a938425b4045119597da50088830
	// webhook-id: evt_1
	// webhook-timestamp: 1746026627
	// webhook-signature: v1,1aKyte2AZhkV8xP6lY+VSvI4b+HfrazPx+XA+tY4BXw= v1,Iaz29Pyy6OF4DfvFRydfKw0J7aSXiL6L4fS7K653lYQ=
}

func ExampleGenerateSecret() {
	s, err := signature.GenerateSecret()
	if err != nil {
		panic(err)
	}
	key, err := signature.ParseSecret(s)
	fmt.Println(strings.HasPrefix(s, "whsec_"), len(key), err)
	// Output: true 32 <nil>
}
