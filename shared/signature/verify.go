package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far webhook-timestamp may be from the
// receiver's clock, either way, when no tolerance is given.
const DefaultTolerance = 5 * time.Minute

// Sentinel errors of verification. The errors returned are *HeaderError
// values wrapping one of these (or ErrInvalidSecret, for a receiver
// misconfiguration); test with errors.Is. No error message includes a
// secret, a signature or any other header value.
var (
	// ErrMissingHeader: a required header is absent or empty.
	ErrMissingHeader = errors.New("missing header")
	// ErrMalformedHeader: a signature header holds nothing parseable, such
	// as a hex digest of the wrong length or a list with no well-formed
	// "version,signature" entry.
	ErrMalformedHeader = errors.New("malformed header")
	// ErrTimestamp: webhook-timestamp is not an integer, or is further
	// than the tolerance from now (a stale or replayed message).
	ErrTimestamp = errors.New("timestamp rejected")
	// ErrNoMatch: no signature matches any secret; the body, id or
	// timestamp was altered, or the secret is wrong.
	ErrNoMatch = errors.New("no matching signature")
)

// HeaderError is a verification failure about one header.
type HeaderError struct {
	Header string // e.g. "webhook-signature"
	Err    error  // one of the sentinel errors
	Detail string // optional; never holds header values or secrets
}

func (e *HeaderError) Error() string {
	msg := e.Header + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

func (e *HeaderError) Unwrap() error { return e.Err }

func headerErr(name string, err error, detail string) error {
	return &HeaderError{Header: name, Err: err, Detail: detail}
}

// VerifyPhoneShield checks header, the X-PhoneShield-Signature value,
// against the HMAC-SHA256 of body keyed with the secret string as given
// (seed-compatible). This header carries no timestamp, so it does not
// protect against replays; prefer VerifyStandard when you can.
func VerifyPhoneShield(secret string, body []byte, header string) error {
	if secret == "" {
		return fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	got, err := parsePhoneShield(header)
	if err != nil {
		return err
	}
	return matchPhoneShield(secret, body, &got)
}

func parsePhoneShield(value string) ([macSize]byte, error) {
	var got [macSize]byte
	if value == "" {
		return got, headerErr(HeaderPhoneShield, ErrMissingHeader, "")
	}
	if len(value) != hexSize {
		return got, headerErr(HeaderPhoneShield, ErrMalformedHeader, "want 64 hex digits")
	}
	if _, err := hex.Decode(got[:], []byte(value)); err != nil {
		return got, headerErr(HeaderPhoneShield, ErrMalformedHeader, "want 64 hex digits")
	}
	return got, nil
}

func matchPhoneShield(secret string, body []byte, got *[macSize]byte) error {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	var sum [macSize]byte
	if !hmac.Equal(got[:], h.Sum(sum[:0])) {
		return headerErr(HeaderPhoneShield, ErrNoMatch, "")
	}
	return nil
}

// VerifyStandard verifies a Standard Webhooks message: webhook-id must be
// present, webhook-timestamp must be an integer within ±tolerance of now
// (DefaultTolerance when tolerance ≤ 0), and at least one "v1," entry of
// the space-separated webhook-signature list must match one of secrets
// (give both while a rotated secret overlaps). Entries of other versions
// (e.g. "v1a,...") are ignored. Every secret must pass ParseSecret.
//
// Errors wrap ErrMissingHeader, ErrTimestamp, ErrMalformedHeader or
// ErrNoMatch in a *HeaderError naming the header, or ErrInvalidSecret.
func VerifyStandard(secrets []string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	keys, err := parseSecrets(secrets)
	if err != nil {
		return err
	}
	return verifyStandard(keys, h, body, tolerance, now)
}

func verifyStandard(keys [][]byte, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	msgID := header(h, keyID)
	if msgID == "" {
		return headerErr(HeaderWebhookID, ErrMissingHeader, "")
	}
	tsValue := header(h, keyTimestamp)
	if tsValue == "" {
		return headerErr(HeaderWebhookTimestamp, ErrMissingHeader, "")
	}
	sigValues := h[keySignature]
	if len(sigValues) == 0 || sigValues[0] == "" {
		return headerErr(HeaderWebhookSignature, ErrMissingHeader, "")
	}

	ts, err := strconv.ParseInt(tsValue, 10, 64)
	if err != nil {
		return headerErr(HeaderWebhookTimestamp, ErrTimestamp, "not an integer Unix time")
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// First in whole seconds, a second wider, which an absurd timestamp
	// can't overflow; then exactly (now keeps its fraction of a second).
	nowUnix, tol := now.Unix(), int64(tolerance/time.Second)+1
	age := now.Sub(time.Unix(ts, 0))
	switch {
	case ts < nowUnix-tol, age > tolerance:
		return headerErr(HeaderWebhookTimestamp, ErrTimestamp, "too old, beyond "+tolerance.String())
	case ts > nowUnix+tol, -age > tolerance:
		return headerErr(HeaderWebhookTimestamp, ErrTimestamp, "too new, beyond "+tolerance.String())
	}

	sigs, err := parseV1(sigValues)
	if err != nil {
		return err
	}

	var sum [macSize]byte
	for _, key := range keys {
		m := mac{h: hmac.New(sha256.New, key)}
		want := m.standard(msgID, ts, body)
		copy(sum[:], want)
		for i := range sigs {
			if hmac.Equal(sigs[i][:], sum[:]) {
				return nil
			}
		}
	}
	return headerErr(HeaderWebhookSignature, ErrNoMatch, "")
}

// parseV1 returns the decoded v1 signatures of a webhook-signature list
// (all values of the header, each space-separated). Entries of unknown
// versions are skipped; a list with no well-formed entry is malformed.
func parseV1(values []string) ([][macSize]byte, error) {
	var (
		backing [4][macSize]byte
		sigs    = backing[:0]
		valid   int // well-formed entries of any version
	)
	for _, value := range values {
		for entry := range strings.FieldsSeq(value) {
			version, sig, ok := strings.Cut(entry, ",")
			if !ok || version == "" || sig == "" {
				continue
			}
			if version != "v1" {
				valid++ // a future version; not ours to judge
				continue
			}
			if len(sig) != b64Size {
				continue
			}
			var d [macSize + 1]byte // DecodedLen(b64Size), whatever the padding
			n, err := base64.StdEncoding.Strict().Decode(d[:], []byte(sig))
			if err != nil || n != macSize {
				continue
			}
			valid++
			sigs = append(sigs, [macSize]byte(d[:macSize]))
		}
	}
	switch {
	case valid == 0:
		return nil, headerErr(HeaderWebhookSignature, ErrMalformedHeader, `want "v1,<base64>" entries separated by spaces`)
	case len(sigs) == 0:
		return nil, headerErr(HeaderWebhookSignature, ErrNoMatch, "no v1 signature")
	}
	return sigs, nil
}

// Scheme selects which signatures a Verifier requires.
type Scheme int

const (
	// SchemeStandard (the zero value) requires a valid Standard Webhooks
	// signature: webhook-id, webhook-timestamp, webhook-signature. It
	// rejects stale timestamps, so replays are bounded by the tolerance.
	SchemeStandard Scheme = iota
	// SchemePhoneShield requires a valid X-PhoneShield-Signature only
	// (the seed's scheme). It covers the body alone: no timestamp, no
	// replay protection, and webhook-id is not authenticated.
	SchemePhoneShield
	// SchemeBoth requires both signatures to be valid.
	SchemeBoth
)

// There is deliberately no "either" scheme: accepting whichever header is
// present would let an attacker strip the Standard Webhooks headers from a
// captured delivery and replay it forever on the body-only signature.

func (s Scheme) String() string {
	switch s {
	case SchemeStandard:
		return "standard"
	case SchemePhoneShield:
		return "phoneshield"
	case SchemeBoth:
		return "both"
	}
	return "Scheme(" + strconv.Itoa(int(s)) + ")"
}

// Verifier verifies incoming deliveries. The zero value of every field
// but Secrets is a sensible default. Set the fields before first use and
// don't change them while Verify may run.
type Verifier struct {
	// Secrets are the endpoint's signing secrets ("whsec_..."). During a
	// rotation, list the new one and the old one.
	Secrets []string
	// Scheme selects the signatures required; default SchemeStandard.
	Scheme Scheme
	// Tolerance bounds the age (and clock skew) of webhook-timestamp;
	// ≤ 0 means DefaultTolerance (5 minutes).
	Tolerance time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify checks the signatures of a delivery: h is the request's headers,
// body its raw bytes, exactly as received. Errors are as for
// VerifyStandard and VerifyPhoneShield; an error wrapping
// ErrInvalidSecret means the Verifier itself is misconfigured.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	switch v.Scheme {
	case SchemeStandard:
		return v.verifyStandard(h, body)
	case SchemePhoneShield:
		return v.verifyPhoneShield(h, body)
	case SchemeBoth:
		if err := v.verifyStandard(h, body); err != nil {
			return err
		}
		return v.verifyPhoneShield(h, body)
	}
	return fmt.Errorf("signature: unknown %v", v.Scheme)
}

func (v *Verifier) verifyStandard(h http.Header, body []byte) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	return VerifyStandard(v.Secrets, h, body, v.Tolerance, now())
}

// verifyPhoneShield accepts a match with any secret: while a rotation
// overlaps, a receiver holding both secrets accepts the header whichever
// one the sender considers current.
func (v *Verifier) verifyPhoneShield(h http.Header, body []byte) error {
	if len(v.Secrets) == 0 {
		return fmt.Errorf("%w: no secrets configured", ErrInvalidSecret)
	}
	for i, s := range v.Secrets {
		if s == "" {
			return fmt.Errorf("secret %d: %w: empty", i, ErrInvalidSecret)
		}
	}
	got, err := parsePhoneShield(header(h, keyPhoneShield))
	if err != nil {
		return err
	}
	for _, s := range v.Secrets {
		if err = matchPhoneShield(s, body, &got); err == nil {
			return nil
		}
	}
	return err
}
