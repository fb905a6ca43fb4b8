package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names set by Signer.Sign and read by the verifiers.
const (
	// HeaderPhoneShield carries the seed-compatible signature: lowercase hex
	// HMAC-SHA256 of the raw body, keyed with the secret string as given.
	HeaderPhoneShield = "X-PhoneShield-Signature"
	// HeaderWebhookID is the Standard Webhooks message id (the event id,
	// stable across retries); dedupe on it.
	HeaderWebhookID = "webhook-id"
	// HeaderWebhookTimestamp is the Unix time in seconds of the attempt.
	HeaderWebhookTimestamp = "webhook-timestamp"
	// HeaderWebhookSignature is a space-separated list of "v1,<base64>"
	// signatures, one per secret in use.
	HeaderWebhookSignature = "webhook-signature"
)

// Canonical http.Header keys, so the hot paths index the map directly
// instead of canonicalizing on every call.
var (
	keyPhoneShield = http.CanonicalHeaderKey(HeaderPhoneShield)
	keyID          = http.CanonicalHeaderKey(HeaderWebhookID)
	keyTimestamp   = http.CanonicalHeaderKey(HeaderWebhookTimestamp)
	keySignature   = http.CanonicalHeaderKey(HeaderWebhookSignature)
)

// header returns the first value of a canonical key, like h.Get.
func header(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

const (
	macSize = sha256.Size           // 32
	b64Size = (macSize + 2) / 3 * 4 // 44, padded
	v1Size  = len("v1,") + b64Size  // one list entry
	hexSize = 2 * macSize           // 64
	maxBuf  = 1 << 10               // largest prefix scratch kept in a pool
)

// mac is a keyed HMAC-SHA256 with its scratch space, reused through a pool.
type mac struct {
	h   hash.Hash
	buf []byte // scratch for the signed prefix "msgID.ts."
	sum [macSize]byte
}

// macKey is one HMAC key and a pool of HMACs keyed with it. hmac's Reset
// restores the precomputed inner state, so a pooled HMAC skips the key
// schedule and the allocations of hmac.New.
type macKey struct {
	key  []byte
	pool sync.Pool
}

func newMACKey(key []byte) *macKey {
	k := &macKey{key: key}
	k.pool.New = func() any {
		return &mac{h: hmac.New(sha256.New, k.key), buf: make([]byte, 0, 64)}
	}
	return k
}

func (k *macKey) get() *mac { return k.pool.Get().(*mac) }

func (k *macKey) put(m *mac) {
	m.h.Reset()
	if cap(m.buf) > maxBuf {
		m.buf = nil
	}
	k.pool.Put(m)
}

// raw returns HMAC(key, body). The result aliases m and is valid until m
// is reused.
func (m *mac) raw(body []byte) []byte {
	m.h.Write(body)
	return m.h.Sum(m.sum[:0])
}

// standard returns HMAC(key, msgID + "." + ts + "." + body). The result
// aliases m and is valid until m is reused.
func (m *mac) standard(msgID string, ts int64, body []byte) []byte {
	b := append(m.buf[:0], msgID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')
	m.buf = b
	m.h.Write(b)
	m.h.Write(body)
	return m.h.Sum(m.sum[:0])
}

// PhoneShield returns the X-PhoneShield-Signature value for body: the
// lowercase hex HMAC-SHA256 of the raw body keyed with the whole secret
// string as bytes, "whsec_" included. This is what the seed's Express
// receiver computes with crypto.createHmac('sha256', WEBHOOK_SECRET).
func PhoneShield(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Standard returns the webhook-signature value for a message: for each key
// (a decoded secret, see ParseSecret), "v1," + base64 of
// HMAC-SHA256(key, msgID + "." + ts + "." + body), space-separated. It
// returns "" when keys is empty. Signer does the same without re-keying
// the HMAC on every call.
func Standard(keys [][]byte, msgID string, ts int64, body []byte) string {
	if len(keys) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.Grow(len(keys)*(v1Size+1) - 1)
	for i, key := range keys {
		m := &mac{h: hmac.New(sha256.New, key)}
		writeV1(&sb, i, m.standard(msgID, ts, body))
	}
	return sb.String()
}

func writeV1(sb *strings.Builder, i int, sum []byte) {
	var enc [b64Size]byte
	base64.StdEncoding.Encode(enc[:], sum)
	if i > 0 {
		sb.WriteByte(' ')
	}
	sb.WriteString("v1,")
	sb.Write(enc[:])
}

// Signer signs deliveries for one endpoint. Build it once per set of
// secrets with NewSigner and reuse it: it keeps the decoded keys and pools
// of keyed HMACs, so Sign costs little beyond hashing the body. A Signer is
// safe for concurrent use.
type Signer struct {
	phoneShield *macKey   // the current secret string, as bytes
	keys        []*macKey // decoded keys, current first
	sigLen      int       // length of the webhook-signature value
}

// NewSigner returns a Signer for secrets, the current secret first and
// then any previous secret still inside its rotation overlap window.
// Every secret must pass ParseSecret.
func NewSigner(secrets ...string) (*Signer, error) {
	keys, err := parseSecrets(secrets)
	if err != nil {
		return nil, err
	}
	s := &Signer{
		phoneShield: newMACKey([]byte(secrets[0])),
		keys:        make([]*macKey, len(keys)),
		sigLen:      len(keys)*(v1Size+1) - 1,
	}
	for i, k := range keys {
		s.keys[i] = newMACKey(k)
	}
	return s, nil
}

// Sign sets the signature headers of one delivery attempt on h (which
// must not be nil), replacing any earlier values:
//
//   - X-PhoneShield-Signature: hex HMAC of body with the current (first)
//     secret only. The seed's receiver reads this header as exactly one
//     hex digest and compares it with timingSafeEqual, which throws on a
//     length mismatch, so it cannot carry a list. Receivers that want a
//     seamless rotation verify webhook-signature instead.
//   - webhook-id: msgID (the event id, the same on every retry).
//   - webhook-timestamp: ts in Unix seconds (the time of this attempt).
//   - webhook-signature: one "v1," entry per secret, current first.
func (s *Signer) Sign(msgID string, ts time.Time, body []byte, h http.Header) {
	unix := ts.Unix()

	var hx [hexSize]byte
	m := s.phoneShield.get()
	hex.Encode(hx[:], m.raw(body))
	s.phoneShield.put(m)

	var sb strings.Builder
	sb.Grow(s.sigLen)
	for i, k := range s.keys {
		m := k.get()
		writeV1(&sb, i, m.standard(msgID, unix, body))
		k.put(m)
	}

	// One backing array for the four single-value slices; each slice is
	// capped so an append by the caller copies instead of clobbering.
	vals := make([]string, 4)
	vals[0] = string(hx[:])
	vals[1] = msgID
	vals[2] = strconv.FormatInt(unix, 10)
	vals[3] = sb.String()
	h[keyPhoneShield] = vals[0:1:1]
	h[keyID] = vals[1:2:2]
	h[keyTimestamp] = vals[2:3:3]
	h[keySignature] = vals[3:4:4]
}
