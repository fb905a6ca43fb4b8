package egress

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// MaxURLLength is the longest endpoint URL accepted, in bytes.
const MaxURLLength = 2048

// CheckURL validates an endpoint URL at save time. It must be an absolute
// https URL (http too when allowHTTP, e.g. in local mode) with a host, no
// credentials, a valid port if any, at most MaxURLLength bytes and no
// spaces or control characters. Host names must be ASCII (use the punycode
// "xn--" form of an internationalised name). A host that is an IP literal
// must pass Check; a host in a non-standard numeric form that some software
// reads as an IPv4 address ("2130706433", "0x7f.1", "0177.0.0.1", "127.1")
// is refused as ambiguous, and so is "localhost" (always loopback) unless
// loopback is allowed.
//
// This check is advisory: a host name can resolve anywhere at delivery
// time, which is why the dialer's Control hook checks again on the resolved
// address. Errors are webhook.Invalid errors on field "url"; a guard
// refusal wraps a *Refused.
func (g *Guard) CheckURL(raw string, allowHTTP bool) error {
	if raw == "" {
		return webhook.Invalid("url", "is required")
	}
	if len(raw) > MaxURLLength {
		return webhook.Invalid("url", "must be at most %d bytes, got %d", MaxURLLength, len(raw))
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return webhook.Invalid("url", "must not contain spaces or control characters (byte %d is %q); percent-encode them", i, c)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return webhook.Invalid("url", "is not a valid URL: %s", unwrapURLError(err))
	}
	if !u.IsAbs() {
		return webhook.Invalid("url", "must be an absolute URL such as https://example.com/webhooks")
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
	case scheme == "http" && allowHTTP:
	case scheme == "http":
		return webhook.Invalid("url", "must use https (plain http is not allowed by this deployment)")
	default:
		if allowHTTP {
			return webhook.Invalid("url", "scheme must be https or http, got %q", u.Scheme)
		}
		return webhook.Invalid("url", "scheme must be https, got %q", u.Scheme)
	}
	if u.Opaque != "" {
		return webhook.Invalid("url", "must be of the form %s://host/path", strings.ToLower(u.Scheme))
	}
	if u.User != nil {
		return webhook.Invalid("url", "must not contain credentials (user:password@host); send them in a custom header such as Authorization instead")
	}
	host := u.Hostname()
	if host == "" {
		return webhook.Invalid("url", "must have a host")
	}
	if strings.HasSuffix(u.Host, ":") {
		return webhook.Invalid("url", "has an empty port after ':'")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return webhook.Invalid("url", "port must be between 1 and 65535, got %q", p)
		}
	}

	if strings.HasPrefix(u.Host, "[") { // IPv6 literal
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return webhook.Invalid("url", "host %q is not a valid IPv6 address", host)
		}
		if a.Zone() != "" {
			return webhook.Invalid("url", "host %q must not have an IPv6 zone", host)
		}
		return g.refusal(host, g.Check(a))
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			// Only reachable through odd inputs; IPv6 must be bracketed.
			return webhook.Invalid("url", "host %q: IPv6 addresses must be in brackets", host)
		}
		return g.refusal(host, g.Check(a))
	}
	return g.checkHostname(host)
}

// checkHostname validates a DNS host name (not an IP literal).
func (g *Guard) checkHostname(host string) error {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "" || len(name) > 253 {
		return webhook.Invalid("url", "host %q is not a valid host name", host)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return webhook.Invalid("url", "host %q is not a valid host name (empty or over-long label)", host)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return webhook.Invalid("url", "host %q must be ASCII; give an internationalised name in its punycode (xn--) form", host)
			default:
				return webhook.Invalid("url", "host %q is not a valid host name (character %q)", host, c)
			}
		}
	}
	// A host whose last label is a number is an IPv4 address to the URL
	// standard and to inet_aton-style parsers (decimal, octal, hex and
	// shortened forms such as 2130706433, 0177.0.0.1, 0x7f.1 or 127.1),
	// but a name to Go's resolver. No top-level domain is numeric, so such
	// a host is refused as ambiguous rather than guessed at.
	if last := labels[len(labels)-1]; numeric(last) {
		return webhook.Invalid("url", "host %q looks like an IPv4 address in a non-standard numeric form; write it as a dotted-decimal address (a.b.c.d) or use a DNS name", host)
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		// RFC 6761: always loopback, whatever DNS says.
		for _, a := range []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()} {
			if err := g.refusal(host, g.Check(a)); err != nil {
				return err
			}
		}
	}
	return nil
}

// numeric reports whether label is a decimal, octal or 0x-hex number.
func numeric(label string) bool {
	digits := label
	hex := false
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		digits, hex = label[2:], true
		if digits == "" {
			return true // "0x" alone is zero to inet_aton
		}
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		switch {
		case c >= '0' && c <= '9':
		case hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
		default:
			return false
		}
	}
	return digits != ""
}

// refusal turns a Check error into the save-time error for host.
func (g *Guard) refusal(host string, err error) error {
	if err == nil {
		return nil
	}
	e := webhook.Invalid("url", "host %s is not allowed", host)
	e.Err = err
	return e
}

func unwrapURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}
