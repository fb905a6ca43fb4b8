package sender

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Redacted stands for the value of a sensitive custom header (Sensitive)
// wherever it is shown: the delivery log and the endpoint's views. Given
// back as a header's value in an update, it keeps the value stored.
const Redacted = "[redacted]"

// Sensitive reports whether a custom header's value is likely a
// credential (its name holds auth, token, key, secret, password, cookie,
// signature, session or credential), so it is shown by name only.
func Sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"auth", "token", "key", "secret", "password", "cookie", "signature", "session", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// RedactHeaders returns a copy of h with each Sensitive header's value
// replaced by Redacted; an empty map for nil.
func RedactHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if Sensitive(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

// Limits on an endpoint's custom headers.
const (
	MaxHeaders          = 20
	MaxHeaderNameBytes  = 256
	MaxHeaderValueBytes = 1024
	MaxHeadersBytes     = 8 << 10 // names plus values, all headers together
)

// reserved are the header names (lower case) a custom header can't set:
// the ones the sender and signer own, the ones that describe the body or
// the connection (so a custom value would break framing, signature checks
// or the request itself), and hop-by-hop and proxy headers. Every name
// starting with "x-phoneshield-" is reserved too.
//
// Cookie and Authorization are allowed: they are end-to-end headers that
// receivers legitimately use to authenticate us, and the delivery log
// redacts their values.
var reserved = map[string]bool{
	// Standard Webhooks signature headers (DESIGN §4).
	"webhook-id":        true,
	"webhook-timestamp": true,
	"webhook-signature": true,
	// Set by the sender or net/http; describe the body.
	"host":              true,
	"content-type":      true,
	"content-length":    true,
	"content-encoding":  true,
	"user-agent":        true,
	"transfer-encoding": true,
	"expect":            true,
	// Hop-by-hop and proxy headers.
	"connection":          true,
	"keep-alive":          true,
	"proxy-connection":    true,
	"proxy-authorization": true,
	"proxy-authenticate":  true,
	"te":                  true,
	"trailer":             true,
	"upgrade":             true,
	"http2-settings":      true,
}

// Reserved reports whether name (any case) is a header a custom header
// must not set.
func Reserved(name string) bool {
	n := strings.ToLower(name)
	return reserved[n] || strings.HasPrefix(n, "x-phoneshield-")
}

// ValidateHeaders checks an endpoint's custom headers: at most MaxHeaders,
// names valid HTTP tokens of at most MaxHeaderNameBytes, not reserved and
// not repeated in another case, values valid UTF-8 of at most
// MaxHeaderValueBytes without control characters (tab allowed), and at most
// MaxHeadersBytes in all. Errors are webhook.Invalid with field
// "headers.<Name>" (or "headers" when the fault is the whole set or a name
// that can't be printed).
func ValidateHeaders(h map[string]string) error {
	if len(h) > MaxHeaders {
		return webhook.Invalid("headers", "at most %d custom headers are allowed, got %d", MaxHeaders, len(h))
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic errors
	seen := make(map[string]string, len(h))
	total := 0
	for _, name := range names {
		value := h[name]
		field := "headers." + name
		if name == "" {
			return webhook.Invalid("headers", "a header name is empty")
		}
		if len(name) > MaxHeaderNameBytes {
			return webhook.Invalid("headers", "header name %.40q… is longer than %d bytes", name, MaxHeaderNameBytes)
		}
		if i := invalidTokenByte(name); i >= 0 {
			if !printable(name) {
				return webhook.Invalid("headers", "header name %q is not a valid HTTP header name", name)
			}
			return webhook.Invalid(field, "is not a valid HTTP header name (character %q is not allowed)", name[i])
		}
		if Reserved(name) {
			return webhook.Invalid(field, "is a reserved header and can't be set")
		}
		lower := strings.ToLower(name)
		if other, ok := seen[lower]; ok {
			return webhook.Invalid(field, "duplicates header %q (header names are case-insensitive)", other)
		}
		seen[lower] = name
		if len(value) > MaxHeaderValueBytes {
			return webhook.Invalid(field, "value must be at most %d bytes, got %d", MaxHeaderValueBytes, len(value))
		}
		if !utf8.ValidString(value) {
			return webhook.Invalid(field, "value must be valid UTF-8")
		}
		for i := 0; i < len(value); i++ {
			c := value[i]
			switch {
			case c == '\r' || c == '\n':
				return webhook.Invalid(field, "value must not contain CR or LF")
			case c == 0:
				return webhook.Invalid(field, "value must not contain NUL")
			case c < 0x20 && c != '\t' || c == 0x7f:
				return webhook.Invalid(field, "value must not contain control characters (found %s)", fmt.Sprintf("0x%02x", c))
			}
		}
		total += len(name) + len(value)
	}
	if total > MaxHeadersBytes {
		return webhook.Invalid("headers", "custom headers must total at most %d bytes (names and values), got %d", MaxHeadersBytes, total)
	}
	return nil
}

// invalidTokenByte returns the index of the first byte of name that is not
// an HTTP token character (RFC 9110 §5.6.2), or -1.
func invalidTokenByte(name string) int {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return i
		}
	}
	return -1
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
