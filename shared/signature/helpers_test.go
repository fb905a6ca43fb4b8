package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Fixed test secrets: "whsec_" + base64 of 32 known bytes.
const (
	testSecret  = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // bytes 0x00..0x1f
	oldSecret   = "whsec_oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=" // bytes 0xa0..0xbf
	otherSecret = "whsec_QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=" // bytes 0x40..0x5f
	testID      = "evt_01JT2X9Q7M"
)

// testBody is a delivery body in the exact form JSON.stringify produces
// (DESIGN §4), with non-ASCII text, escapes and numbers.
var testBody = []byte(`{"event_type":"call.completed","timestamp":"2025-04-30T15:23:47Z","version":"1.0","environment":"production","webhook_id":"whk_12345abcdef","event_id":"evt_01JT2X9Q7M","data":{"call_id":"call_9876543210","caller_name":"José Ñúñez ✓ 📞","summary":"He said \"pricing\"\nthen hung up","duration_seconds":135,"ai_handled":true,"topics":["order status","shipping"]}}`)

var testTime = time.Unix(1746026627, 0) // 2025-04-30T15:23:47Z

// Independent reference computations, straight from crypto/hmac.

func refHMAC(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

func refKey(t testing.TB, secret string) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	if err != nil {
		t.Fatalf("test secret: %v", err)
	}
	return k
}

func refPhoneShield(secret string, body []byte) string {
	return hex.EncodeToString(refHMAC([]byte(secret), body))
}

func refV1(t testing.TB, secret, id string, ts int64, body []byte) string {
	t.Helper()
	msg := []byte(id + "." + strconv.FormatInt(ts, 10) + ".")
	msg = append(msg, body...)
	return "v1," + base64.StdEncoding.EncodeToString(refHMAC(refKey(t, secret), msg))
}

// signed returns the headers our Signer sets for the given delivery.
func signed(t testing.TB, id string, ts time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	s, err := NewSigner(secrets...)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	h := http.Header{}
	s.Sign(id, ts, body, h)
	return h
}
