// Package egress is the SSRF guard of webhook deliveries (DESIGN §6):
// deliveries never reach loopback, private, link-local, cloud metadata or
// otherwise non-public addresses unless the deployment explicitly allows
// them.
//
// The guard is enforced twice:
//
//   - at save time, CheckURL validates an endpoint URL (scheme, host, port,
//     no credentials) and refuses IP-literal hosts the guard refuses, as well
//     as ambiguous numeric host forms ("2130706433", "0x7f.1", "0177.0.0.1")
//     that some resolvers would read as IPv4 addresses;
//   - at connect time, Control (a net.Dialer.Control hook) checks the address
//     actually being dialled, after DNS resolution, so a hostname that
//     resolves — or is later rebound — to a refused address is refused
//     before any packet leaves the host.
//
// The connect-time check is the one that matters; the save-time check only
// gives the integrator an early, clear error.
package egress

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// Reasons an address is refused; Refused.Reason holds one of them.
const (
	ReasonUnspecified   = "unspecified"
	ReasonLoopback      = "loopback"
	ReasonPrivate       = "private"
	ReasonLinkLocal     = "link-local"
	ReasonMetadata      = "a cloud metadata address"
	ReasonMulticast     = "multicast"
	ReasonBroadcast     = "broadcast"
	ReasonThisNetwork   = "in 0.0.0.0/8 (\"this network\")"
	ReasonCGNAT         = "carrier-grade NAT (100.64.0.0/10)"
	ReasonBenchmark     = "a benchmarking address (198.18.0.0/15)"
	ReasonDocumentation = "a documentation address"
	ReasonSiteLocal     = "site-local (fec0::/10)"
	ReasonReserved      = "reserved"
	ReasonInvalid       = "invalid"
)

// explanations completes the message of each reason.
var explanations = map[string]string{
	ReasonUnspecified:   "deliveries to the unspecified address are refused",
	ReasonLoopback:      "deliveries to loopback are refused",
	ReasonPrivate:       "deliveries to private networks are refused",
	ReasonLinkLocal:     "deliveries to link-local networks are refused",
	ReasonMetadata:      "deliveries to cloud metadata services are refused",
	ReasonMulticast:     "deliveries to multicast groups are refused",
	ReasonBroadcast:     "deliveries to broadcast addresses are refused",
	ReasonThisNetwork:   "deliveries to non-routable addresses are refused",
	ReasonCGNAT:         "deliveries to shared (non-public) address space are refused",
	ReasonBenchmark:     "deliveries to non-public address space are refused",
	ReasonDocumentation: "deliveries to non-public address space are refused",
	ReasonSiteLocal:     "deliveries to non-public address space are refused",
	ReasonReserved:      "deliveries to reserved address space are refused",
	ReasonInvalid:       "only valid IP addresses can be checked",
}

// Refused is the error of a refused address.
type Refused struct {
	// Addr is the address that was checked, as given (an IPv6 zone is kept).
	Addr netip.Addr
	// Reason is why: one of the Reason constants.
	Reason string
	// Embedded is the IPv4 address that Addr embeds (IPv4-mapped, NAT64,
	// 6to4, ...) and that caused the refusal; zero when Addr was refused
	// for itself.
	Embedded netip.Addr
	// Via names the embedding ("IPv4-mapped", "NAT64", "6to4", ...).
	Via string
}

func (r *Refused) Error() string {
	why := explanations[r.Reason]
	if why == "" {
		why = "deliveries there are refused"
	}
	if r.Embedded.IsValid() {
		return fmt.Sprintf("address %s (%s, embedding %s) is %s: %s", r.Addr, r.Via, r.Embedded, r.Reason, why)
	}
	return fmt.Sprintf("address %s is %s: %s", r.Addr, r.Reason, why)
}

// Guard decides which addresses deliveries may reach. Its zero value (and a
// nil *Guard) refuses every non-public address; New adds exceptions. A Guard
// is immutable and safe for concurrent use.
type Guard struct{ allow []netip.Prefix }

// New returns a guard that refuses every non-public address except those
// inside an allow prefix. Cloud metadata addresses are an exception to the
// exception: a prefix allows them only if it is exactly that one address
// (169.254.169.254/32, say), never because a wider range such as
// 169.254.0.0/16 or fc00::/7 contains them.
func New(allow ...netip.Prefix) *Guard {
	g := &Guard{}
	for _, p := range allow {
		if !p.IsValid() {
			continue
		}
		g.allow = append(g.allow, canonical(p))
	}
	return g
}

// canonical masks p and turns an IPv4-mapped IPv6 prefix into its IPv4 form.
func canonical(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// Allowed returns a copy of the guard's allow list.
func (g *Guard) Allowed() []netip.Prefix {
	if g == nil {
		return nil
	}
	return append([]netip.Prefix(nil), g.allow...)
}

// Loopback is what the word "loopback" stands for in an allow list.
var Loopback = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// ParseAllow parses a comma-separated allow list, as given in a flag or an
// environment variable: CIDR prefixes ("10.1.0.0/16", "fd00::/8"), single
// addresses ("192.168.1.10", "::1") and the word "loopback" (127.0.0.0/8
// and ::1/128). Blanks around entries and empty entries are ignored; an
// empty list allows nothing.
func ParseAllow(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			continue
		case strings.EqualFold(f, "loopback"):
			out = append(out, Loopback...)
		case strings.Contains(f, "/"):
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("egress allow list: entry %q is not a valid CIDR prefix: %w", f, err)
			}
			out = append(out, canonical(p))
		default:
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("egress allow list: entry %q is not an IP address, a CIDR prefix or \"loopback\": %w", f, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("egress allow list: entry %q has an IPv6 zone; give the address without it", f)
			}
			out = append(out, canonical(netip.PrefixFrom(a, a.BitLen())))
		}
	}
	return out, nil
}

// Address ranges. Order matters in classify: the most specific first.
var (
	metadata = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, ... instance metadata
		netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata and credentials
		netip.MustParseAddr("169.254.170.23"),  // AWS EKS Pod Identity agent (credentials)
		netip.MustParseAddr("fd00:ec2::254"),   // AWS instance metadata over IPv6
		netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS Pod Identity agent over IPv6
		netip.MustParseAddr("fd20:ce::254"),    // GCP metadata over IPv6
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud instance metadata
		netip.MustParseAddr("168.63.129.16"),   // Azure WireServer (a public address, reached only inside Azure)
		netip.MustParseAddr("fe80::a9fe:a9fe"), // OpenStack metadata over IPv6
	}

	v4Ranges = []struct {
		p      netip.Prefix
		reason string
	}{
		{pfx("0.0.0.0/32"), ReasonUnspecified},
		{pfx("255.255.255.255/32"), ReasonBroadcast},
		{pfx("0.0.0.0/8"), ReasonThisNetwork},
		{pfx("127.0.0.0/8"), ReasonLoopback},
		{pfx("10.0.0.0/8"), ReasonPrivate},
		{pfx("172.16.0.0/12"), ReasonPrivate},
		{pfx("192.168.0.0/16"), ReasonPrivate},
		{pfx("169.254.0.0/16"), ReasonLinkLocal},
		{pfx("100.64.0.0/10"), ReasonCGNAT},
		{pfx("198.18.0.0/15"), ReasonBenchmark},
		{pfx("192.0.2.0/24"), ReasonDocumentation},    // TEST-NET-1
		{pfx("198.51.100.0/24"), ReasonDocumentation}, // TEST-NET-2
		{pfx("203.0.113.0/24"), ReasonDocumentation},  // TEST-NET-3
		{pfx("192.0.0.0/24"), ReasonReserved},         // IETF protocol assignments
		{pfx("192.88.99.0/24"), ReasonReserved},       // deprecated 6to4 relay anycast
		{pfx("224.0.0.0/4"), ReasonMulticast},
		{pfx("240.0.0.0/4"), ReasonReserved},
	}

	v6Ranges = []struct {
		p      netip.Prefix
		reason string
	}{
		{pfx("::/128"), ReasonUnspecified},
		{pfx("::1/128"), ReasonLoopback},
		{pfx("::/96"), ReasonReserved},           // deprecated IPv4-compatible addresses
		{pfx("::ffff:0:0:0/96"), ReasonReserved}, // SIIT IPv4-translated: never a public destination
		{pfx("100::/64"), ReasonReserved},        // discard-only
		{pfx("100:0:0:1::/64"), ReasonReserved},  // dummy prefix (RFC 9780), not globally reachable
		{pfx("5f00::/16"), ReasonReserved},       // SRv6 SIDs (RFC 9602), not globally reachable
		{pfx("2001::/32"), ReasonReserved},       // Teredo: embeds an obfuscated IPv4 address
		{pfx("2001::/23"), ReasonReserved},       // IETF protocol assignments
		{pfx("2001:db8::/32"), ReasonDocumentation},
		{pfx("3fff::/20"), ReasonDocumentation},
		{pfx("64:ff9b:1::/48"), ReasonPrivate}, // local-use NAT64 (RFC 8215)
		{pfx("fc00::/7"), ReasonPrivate},
		{pfx("fe80::/10"), ReasonLinkLocal},
		{pfx("fec0::/10"), ReasonSiteLocal},
		{pfx("ff00::/8"), ReasonMulticast},
	}

	globalUnicast = pfx("2000::/3") // the only IPv6 space allocated for the internet
	nat64         = pfx("64:ff9b::/96")
	sixToFour     = pfx("2002::/16")
	translated    = pfx("::ffff:0:0:0/96") // SIIT IPv4-translated addresses (RFC 2765)
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Check reports whether deliveries may reach addr: nil, or a *Refused
// saying why not. An IPv6 zone is ignored; an IPv4-mapped IPv6 address is
// checked as the IPv4 address it maps (the kernel connects to that IPv4
// address); NAT64, 6to4 and IPv4-translated addresses are refused when the
// IPv4 address they embed is refused by the strictest guard, unless an
// allow entry covers the IPv6 address itself (an entry for the IPv4 address
// does not: the IPv6 form leaves the host), and those embedding a metadata
// address need an entry that is exactly the IPv6 address. IPv6 outside
// global unicast (2000::/3) is refused, as is space that is not globally
// reachable inside it.
func (g *Guard) Check(addr netip.Addr) error {
	if !addr.IsValid() {
		return &Refused{Addr: addr, Reason: ReasonInvalid}
	}
	a := addr.WithZone("") // netip.Prefix.Contains never matches a zoned address
	if a.Is4In6() {
		if err := g.check(a.Unmap()); err != nil {
			return embedded(addr, "IPv4-mapped", err)
		}
		return nil
	}
	if a.Is6() {
		var v4 netip.Addr
		var via string
		switch {
		case nat64.Contains(a):
			b := a.As16()
			v4, via = netip.AddrFrom4([4]byte(b[12:16])), "NAT64"
		case translated.Contains(a):
			b := a.As16()
			v4, via = netip.AddrFrom4([4]byte(b[12:16])), "IPv4-translated"
		case sixToFour.Contains(a):
			b := a.As16()
			v4, via = netip.AddrFrom4([4]byte(b[2:6])), "6to4"
		}
		// The IPv6 form is routed off the host (to a translator or a
		// relay), so only an allow entry for it can let it through, never
		// one for the IPv4 address it embeds; and it reaches a metadata
		// address only by an entry that is exactly this address.
		switch {
		case !v4.IsValid():
		case isMetadata(v4):
			if !g.exactly(a) {
				return embedded(addr, via, &Refused{Addr: v4, Reason: ReasonMetadata})
			}
		case !g.allowed(a):
			if err := (*Guard)(nil).check(v4); err != nil {
				return embedded(addr, via, err)
			}
		}
	}
	if err := g.check(a); err != nil {
		err.(*Refused).Addr = addr
		return err
	}
	return nil
}

func embedded(addr netip.Addr, via string, err error) error {
	r := err.(*Refused)
	return &Refused{Addr: addr, Reason: r.Reason, Embedded: r.Addr, Via: via}
}

// allowed reports whether a (unzoned, unmapped) is inside an allow prefix.
// A metadata address is allowed only by a prefix that is exactly it.
func (g *Guard) allowed(a netip.Addr) bool {
	if g == nil {
		return false
	}
	if isMetadata(a) {
		return g.exactly(a)
	}
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// exactly reports whether an allow entry is exactly a.
func (g *Guard) exactly(a netip.Addr) bool {
	if g == nil {
		return false
	}
	for _, p := range g.allow {
		if p.IsSingleIP() && p.Addr() == a {
			return true
		}
	}
	return false
}

func isMetadata(a netip.Addr) bool {
	for _, m := range metadata {
		if a == m {
			return true
		}
	}
	return false
}

// check classifies a (unzoned; IPv4 or a non-mapped IPv6) and returns a
// *Refused unless it is public or allowed.
func (g *Guard) check(a netip.Addr) error {
	if g.allowed(a) {
		return nil
	}
	if isMetadata(a) {
		return &Refused{Addr: a, Reason: ReasonMetadata}
	}
	if a.Is4() {
		for _, r := range v4Ranges {
			if r.p.Contains(a) {
				return &Refused{Addr: a, Reason: r.reason}
			}
		}
		return nil
	}
	for _, r := range v6Ranges {
		if r.p.Contains(a) {
			return &Refused{Addr: a, Reason: r.reason}
		}
	}
	// The rest of IPv6 is unallocated or reserved by the IETF (4000::/2,
	// e000::/4, ...); the NAT64 prefix outside it was checked by what it
	// embeds.
	if !globalUnicast.Contains(a) && !nat64.Contains(a) {
		return &Refused{Addr: a, Reason: ReasonReserved}
	}
	// Belt and braces: whatever the tables miss, the standard library's
	// own classification still refuses.
	switch {
	case a.IsLoopback():
		return &Refused{Addr: a, Reason: ReasonLoopback}
	case a.IsPrivate():
		return &Refused{Addr: a, Reason: ReasonPrivate}
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return &Refused{Addr: a, Reason: ReasonLinkLocal}
	case a.IsMulticast():
		return &Refused{Addr: a, Reason: ReasonMulticast}
	case a.IsUnspecified():
		return &Refused{Addr: a, Reason: ReasonUnspecified}
	}
	return nil
}

// Control is a net.Dialer Control hook: it refuses to connect unless the
// guard allows the address being dialled. The dialer calls it once per
// resolved address, after DNS resolution and before connect(2), so a name
// that resolves to a refused address — including one rebound after the URL
// was validated — never gets a connection. Only TCP is allowed.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("egress: network %q refused: only TCP is allowed", network)
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("egress: cannot check address %q: %w", address, err)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("egress: cannot check address %q: %w", address, err)
	}
	return g.Check(a)
}
