// Package signature signs and verifies PhoneShield webhook deliveries.
// It is written for the developers of webhook receivers and depends only
// on the standard library.
//
// Every delivery carries two signatures (DESIGN §4):
//
//   - X-PhoneShield-Signature: lowercase hex HMAC-SHA256 of the raw body,
//     keyed with your secret string exactly as shown in the dashboard,
//     "whsec_" prefix included. This is what the Express receiver of the
//     integration guide checks. It does not cover a timestamp, so on its
//     own it cannot stop replays.
//   - Standard Webhooks (https://www.standardwebhooks.com): webhook-id
//     (the event id, stable across retries), webhook-timestamp (Unix
//     seconds of the attempt) and webhook-signature, a space-separated
//     list of "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" where key
//     is the base64-decoded part of the secret after "whsec_". While a
//     rotated secret is in its overlap window (24 h by default) the list
//     holds one signature per secret, so a receiver holding either the
//     new or the old secret accepts the delivery.
//
// Prefer the Standard Webhooks signature (the default, SchemeStandard):
// it rejects messages older than the tolerance and authenticates the id
// you dedupe on. Always verify the raw body bytes, before any JSON
// decoding.
//
// The simplest receiver wraps its handler in Middleware:
//
//	v := &signature.Verifier{Secrets: []string{os.Getenv("PHONESHIELD_WEBHOOK_SECRET")}}
//	mw := signature.Middleware(v, signature.WithSeen(alreadyProcessed))
//	http.Handle("POST /phoneshield-webhook", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		var event struct {
//			EventType string          `json:"event_type"`
//			EventID   string          `json:"event_id"`
//			Data      json.RawMessage `json:"data"`
//		}
//		if err := json.NewDecoder(r.Body).Decode(&event); err != nil { // the verified bytes
//			http.Error(w, "bad payload", http.StatusBadRequest)
//			return
//		}
//		// ... hand the event off, then answer quickly:
//		w.WriteHeader(http.StatusOK)
//	})))
//
// Middleware answers 413 to bodies over the cap, 401 with a short reason
// to requests that fail verification, and otherwise passes the request on
// with r.Body holding the verified bytes. To verify by hand, call
// Verifier.Verify, VerifyStandard or VerifyPhoneShield; errors wrap
// ErrMissingHeader, ErrMalformedHeader, ErrTimestamp or ErrNoMatch in a
// *HeaderError that names the header, and ErrInvalidSecret reports a
// misconfigured secret. No error message contains a secret.
//
// During a rotation, list both secrets in Verifier.Secrets (new first)
// until the old one expires. X-PhoneShield-Signature is computed with the
// current secret only, so seed-style receivers must switch to the new
// secret when it is issued.
//
// The sending side uses GenerateSecret for new endpoints and a Signer
// built once per set of secrets.
package signature
