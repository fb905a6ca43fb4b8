package egress

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// These tests check the guard's decisions on address strings. Nothing here
// connects anywhere except TestControlWithRealDialer, which dials only
// 127.0.0.1 / localhost listeners it opened itself.

// reasonOf returns the Reason of a *Refused, "" for nil, and fails on any
// other error.
func reasonOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var r *Refused
	if !errors.As(err, &r) {
		t.Fatalf("error %v (%T) is not a *Refused", err, err)
	}
	return r.Reason
}

func TestCheckDefaultGuard(t *testing.T) {
	g := New()
	tests := []struct {
		addr string
		want string // "" = allowed
	}{
		// Public: allowed.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.216.34", ""},
		{"11.0.0.1", ""},
		{"172.15.255.255", ""},
		{"172.32.0.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.1", ""},
		{"169.253.255.255", ""},
		{"169.255.0.1", ""},
		{"198.17.255.255", ""},
		{"198.20.0.1", ""},
		{"223.255.255.255", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:81b::200e", ""},
		{"::ffff:8.8.8.8", ""},       // IPv4-mapped public
		{"64:ff9b::808:808", ""},     // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},      // 6to4 of 8.8.8.8
		{"2001:4860:4860::8888", ""}, // outside 2001::/23

		// Unspecified.
		{"0.0.0.0", ReasonUnspecified},
		{"::", ReasonUnspecified},
		// Loopback.
		{"127.0.0.1", ReasonLoopback},
		{"127.1.2.3", ReasonLoopback},
		{"127.255.255.254", ReasonLoopback},
		{"::1", ReasonLoopback},
		// Private.
		{"10.0.0.1", ReasonPrivate},
		{"10.255.255.255", ReasonPrivate},
		{"172.16.0.1", ReasonPrivate},
		{"172.31.255.255", ReasonPrivate},
		{"192.168.0.1", ReasonPrivate},
		{"192.168.255.255", ReasonPrivate},
		{"fc00::1", ReasonPrivate},
		{"fd12:3456:789a::1", ReasonPrivate},
		{"64:ff9b:1::a00:1", ReasonPrivate}, // local-use NAT64
		// Link-local.
		{"169.254.0.1", ReasonLinkLocal},
		{"169.254.169.253", ReasonLinkLocal},
		{"fe80::1", ReasonLinkLocal},
		{"fe80::1%eth0", ReasonLinkLocal},
		{"febf:ffff::1", ReasonLinkLocal},
		// Cloud metadata.
		{"169.254.169.254", ReasonMetadata},
		{"169.254.170.2", ReasonMetadata},
		{"fd00:ec2::254", ReasonMetadata},
		// Multicast and broadcast.
		{"224.0.0.1", ReasonMulticast},
		{"239.255.255.250", ReasonMulticast},
		{"ff02::1", ReasonMulticast},
		{"ff05::1:3", ReasonMulticast},
		{"ff02::1%eth0", ReasonMulticast},
		{"255.255.255.255", ReasonBroadcast},
		// Special-purpose IPv4.
		{"0.1.2.3", ReasonThisNetwork},
		{"0.255.255.255", ReasonThisNetwork},
		{"100.64.0.1", ReasonCGNAT},
		{"100.127.255.255", ReasonCGNAT},
		{"100.100.100.201", ReasonCGNAT},
		{"100.100.100.200", ReasonMetadata}, // Alibaba Cloud
		{"198.18.0.1", ReasonBenchmark},
		{"198.19.255.255", ReasonBenchmark},
		{"192.0.2.1", ReasonDocumentation},
		{"198.51.100.7", ReasonDocumentation},
		{"203.0.113.200", ReasonDocumentation},
		{"192.0.0.170", ReasonReserved},
		{"192.88.99.1", ReasonReserved},
		{"240.0.0.1", ReasonReserved},
		{"254.255.255.255", ReasonReserved},
		// Special-purpose IPv6.
		{"2001:db8::1", ReasonDocumentation},
		{"3fff::1", ReasonDocumentation},
		{"fec0::1", ReasonSiteLocal},
		{"feff::1", ReasonSiteLocal},
		{"100::1", ReasonReserved},
		{"2001::1", ReasonReserved},      // Teredo
		{"2001:2::1", ReasonReserved},    // IETF protocol assignments
		{"::7f00:1", ReasonReserved},     // IPv4-compatible ::127.0.0.1
		{"::808:808", ReasonReserved},    // IPv4-compatible, even of a public address
		{"::2", ReasonReserved},          // inside ::/96
		{"5f00::1", ReasonReserved},      // SRv6 SIDs (RFC 9602)
		{"100:0:0:1::1", ReasonReserved}, // dummy prefix (RFC 9780)
		{"4000::1", ReasonReserved},      // outside 2000::/3: unallocated
		{"e000::1", ReasonReserved},      // outside 2000::/3: reserved
		{"1::1", ReasonReserved},         // below 64:ff9b::/96, outside 2000::/3
		{"64:ff9b::808:808", ""},         // NAT64 of a public address
		{"2002:808:808::1", ""},          // 6to4 of a public address
		// IPv4 embedded in IPv6.
		{"::ffff:127.0.0.1", ReasonLoopback},
		{"::ffff:7f00:1", ReasonLoopback},
		{"::ffff:10.0.0.1", ReasonPrivate},
		{"::ffff:169.254.169.254", ReasonMetadata},
		{"::ffff:0.0.0.0", ReasonUnspecified},
		{"::ffff:255.255.255.255", ReasonBroadcast},
		{"64:ff9b::7f00:1", ReasonLoopback},    // NAT64 127.0.0.1
		{"64:ff9b::a9fe:a9fe", ReasonMetadata}, // NAT64 169.254.169.254
		{"168.63.129.16", ReasonMetadata},      // Azure WireServer
		{"64:ff9b::c0a8:101", ReasonPrivate},   // NAT64 192.168.1.1
		{"2002:7f00:1::", ReasonLoopback},      // 6to4 127.0.0.1
		{"2002:a00:1::1", ReasonPrivate},       // 6to4 10.0.0.1
		{"2002:a9fe:a9fe::1", ReasonMetadata},  // 6to4 169.254.169.254
		{"::ffff:0:7f00:1", ReasonLoopback},    // SIIT-translated 127.0.0.1
		{"::ffff:0:808:808", ReasonReserved},   // SIIT-translated public: still not a destination
	}
	for _, tt := range tests {
		got := reasonOf(t, g.Check(netip.MustParseAddr(tt.addr)))
		if got != tt.want {
			t.Errorf("Check(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestCheckNilAndInvalid(t *testing.T) {
	var g *Guard
	if got, want := reasonOf(t, g.Check(netip.MustParseAddr("10.0.0.1"))), ReasonPrivate; got != want {
		t.Errorf("nil guard: got %q, want %q", got, want)
	}
	if got, want := reasonOf(t, g.Check(netip.MustParseAddr("8.8.8.8"))), ""; got != want {
		t.Errorf("nil guard public: got %q, want %q", got, want)
	}
	if got, want := reasonOf(t, New().Check(netip.Addr{})), ReasonInvalid; got != want {
		t.Errorf("zero Addr: got %q, want %q", got, want)
	}
}

func TestRefusedMessage(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"10.0.0.1", "address 10.0.0.1 is private: deliveries to private networks are refused"},
		{"127.0.0.1", "address 127.0.0.1 is loopback: deliveries to loopback are refused"},
		{"169.254.169.254", "address 169.254.169.254 is a cloud metadata address: deliveries to cloud metadata services are refused"},
		{"fe80::1%eth0", "address fe80::1%eth0 is link-local: deliveries to link-local networks are refused"},
		{"::ffff:127.0.0.1", "address ::ffff:127.0.0.1 (IPv4-mapped, embedding 127.0.0.1) is loopback: deliveries to loopback are refused"},
		{"64:ff9b::a00:1", "address 64:ff9b::a00:1 (NAT64, embedding 10.0.0.1) is private: deliveries to private networks are refused"},
	}
	for _, tt := range tests {
		err := New().Check(netip.MustParseAddr(tt.addr))
		if err == nil {
			t.Errorf("Check(%s) = nil, want refusal", tt.addr)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("Check(%s):\n got  %q\n want %q", tt.addr, got, tt.want)
		}
	}
	var r *Refused
	if err := New().Check(netip.MustParseAddr("2002:a00:1::")); !errors.As(err, &r) || r.Via != "6to4" || r.Embedded != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("6to4 refusal = %#v, want Via 6to4, Embedded 10.0.0.1", r)
	}
}

func TestCheckAllowList(t *testing.T) {
	tests := []struct {
		allow string
		addr  string
		want  string
	}{
		{"loopback", "127.0.0.1", ""},
		{"loopback", "127.9.9.9", ""},
		{"loopback", "::1", ""},
		{"loopback", "::ffff:127.0.0.1", ""},
		// An IPv4 entry does not cover the NAT64 or 6to4 form of its
		// addresses: that form leaves the host, to a translator or relay.
		{"loopback", "64:ff9b::7f00:1", ReasonLoopback},
		{"loopback", "2002:7f00:1::", ReasonLoopback},
		{"10.0.0.0/8", "64:ff9b::a00:1", ReasonPrivate},
		{"10.0.0.0/8", "2002:a00:1::", ReasonPrivate},
		{"loopback", "10.0.0.1", ReasonPrivate},
		{"loopback", "169.254.169.254", ReasonMetadata},
		{"loopback", "0.0.0.0", ReasonUnspecified},
		{"10.0.0.0/8", "10.1.2.3", ""},
		{"10.0.0.0/8", "::ffff:10.1.2.3", ""},
		{"10.0.0.0/8", "11.0.0.1", ""},
		{"10.0.0.0/8", "172.16.0.1", ReasonPrivate},
		{"10.0.0.0/8", "127.0.0.1", ReasonLoopback},
		{"192.168.1.10", "192.168.1.10", ""},
		{"192.168.1.10", "192.168.1.11", ReasonPrivate},
		{"::ffff:192.168.1.10", "192.168.1.10", ""},
		// Metadata needs its exact address, not a range that contains it.
		{"169.254.0.0/16", "169.254.1.1", ""},
		{"169.254.0.0/16", "169.254.169.254", ReasonMetadata},
		{"169.254.0.0/16", "169.254.170.2", ReasonMetadata},
		{"169.254.0.0/16", "169.254.170.23", ReasonMetadata},
		{"fc00::/7", "fd00:ec2::23", ReasonMetadata},
		{"fc00::/7", "fd20:ce::254", ReasonMetadata},
		{"100.64.0.0/10", "100.100.100.200", ReasonMetadata},
		{"fe80::/10", "fe80::a9fe:a9fe", ReasonMetadata},
		{"100.100.100.200", "100.100.100.200", ""},
		{"169.254.0.0/16", "::ffff:169.254.169.254", ReasonMetadata},
		{"0.0.0.0/0", "169.254.169.254", ReasonMetadata},
		{"169.254.169.254", "169.254.169.254", ""},
		{"169.254.169.254/32", "169.254.169.254", ""},
		{"fc00::/7", "fd00::1", ""},
		{"fc00::/7", "fd00:ec2::254", ReasonMetadata},
		{"fd00:ec2::254", "fd00:ec2::254", ""},
		// Zones are ignored when matching.
		{"fe80::/10", "fe80::1%eth0", ""},
		{"fe80::/10", "fe80::1", ""},
		{"fe80::/64", "fe80:1::1%eth0", ReasonLinkLocal},
		// An allowed NAT64 range passes whatever it embeds but a metadata
		// address, which needs an entry that is exactly the address: a
		// wider IPv6 range never reaches one through NAT64, 6to4 or SIIT.
		{"64:ff9b::/96", "64:ff9b::a00:1", ""},
		{"64:ff9b::/96", "64:ff9b::a9fe:a9fe", ReasonMetadata},
		{"64:ff9b::/96", "64:ff9b::a9fe:aa02", ReasonMetadata},
		{"64:ff9b::/96", "64:ff9b::6464:64c8", ReasonMetadata},
		{"::/0", "64:ff9b::a9fe:a9fe", ReasonMetadata},
		{"::/0", "::ffff:0:a9fe:a9fe", ReasonMetadata},
		{"::/0", "2002:a9fe:a9fe::", ReasonMetadata},
		{"2000::/3", "2002:a9fe:a9fe::", ReasonMetadata},
		{"2002::/16", "2002:a9fe:aa02::1", ReasonMetadata},
		{"169.254.169.254", "64:ff9b::a9fe:a9fe", ReasonMetadata},
		{"64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe", ""},
		{"::/0", "4000::1", ""},
		{"100.64.0.0/10", "100.64.0.1", ""},
		{"198.18.0.0/15", "198.18.0.1", ""},
	}
	for _, tt := range tests {
		allow, err := ParseAllow(tt.allow)
		if err != nil {
			t.Fatalf("ParseAllow(%q): %v", tt.allow, err)
		}
		got := reasonOf(t, New(allow...).Check(netip.MustParseAddr(tt.addr)))
		if got != tt.want {
			t.Errorf("allow %q: Check(%s) = %q, want %q", tt.allow, tt.addr, got, tt.want)
		}
	}
}

func TestParseAllow(t *testing.T) {
	tests := []struct {
		in      string
		want    string // prefixes joined by ","
		wantErr string
	}{
		{"", "", ""},
		{" , ,", "", ""},
		{"loopback", "127.0.0.0/8,::1/128", ""},
		{"LOOPBACK", "127.0.0.0/8,::1/128", ""},
		{"loopback, 10.0.0.0/8 ,192.168.1.5,fd00::/8", "127.0.0.0/8,::1/128,10.0.0.0/8,192.168.1.5/32,fd00::/8", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"::ffff:10.0.0.1", "10.0.0.1/32", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"bogus", "", `"bogus" is not an IP address`},
		{"10.0.0.0/33", "", `"10.0.0.0/33" is not a valid CIDR prefix`},
		{"fe80::1%eth0", "", "zone"},
		{"10.0.0.1,,nope", "", `"nope"`},
	}
	for _, tt := range tests {
		got, err := ParseAllow(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAllow(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAllow(%q): %v", tt.in, err)
			continue
		}
		s := make([]string, len(got))
		for i, p := range got {
			s[i] = p.String()
		}
		if g := strings.Join(s, ","); g != tt.want {
			t.Errorf("ParseAllow(%q) = %q, want %q", tt.in, g, tt.want)
		}
	}
}

// TestControl calls the Control hook directly with the address strings a
// net.Dialer would pass it. Nothing is dialled.
func TestControl(t *testing.T) {
	strict := New()
	loop := New(Loopback...)
	tests := []struct {
		g       *Guard
		network string
		address string
		want    string // reason, "" = allowed, "error" = a non-Refused error
	}{
		{strict, "tcp", "10.0.0.1:443", ReasonPrivate},
		{strict, "tcp4", "192.168.0.10:8080", ReasonPrivate},
		{strict, "tcp", "127.0.0.1:80", ReasonLoopback},
		{strict, "tcp6", "[::1]:443", ReasonLoopback},
		{strict, "tcp6", "[::ffff:127.0.0.1]:80", ReasonLoopback},
		{strict, "tcp6", "[::ffff:a9fe:a9fe]:80", ReasonMetadata},
		{strict, "tcp6", "[fe80::1%eth0]:443", ReasonLinkLocal},
		{strict, "tcp6", "[fe80::1%25eth0]:443", ReasonLinkLocal},
		{strict, "tcp", "169.254.169.254:80", ReasonMetadata},
		{strict, "tcp", "169.254.170.2:80", ReasonMetadata},
		{strict, "tcp6", "[fd00:ec2::254]:80", ReasonMetadata},
		{strict, "tcp", "0.0.0.0:443", ReasonUnspecified},
		{strict, "tcp6", "[::]:443", ReasonUnspecified},
		{strict, "tcp6", "[64:ff9b::a00:1]:443", ReasonPrivate},
		{strict, "tcp6", "[2002:c0a8:101::1]:443", ReasonPrivate},
		{strict, "tcp", "100.64.1.1:443", ReasonCGNAT},
		{strict, "tcp", "93.184.216.34:443", ""},
		{strict, "tcp6", "[2606:4700:4700::1111]:443", ""},
		{strict, "tcp6", "[64:ff9b::808:808]:443", ""},
		{loop, "tcp", "127.0.0.1:8080", ""},
		{loop, "tcp6", "[::1]:8080", ""},
		{loop, "tcp6", "[::ffff:127.0.0.1]:80", ""},
		{loop, "tcp", "10.0.0.1:443", ReasonPrivate},
		// Only TCP, and only addresses that parse.
		{strict, "udp", "93.184.216.34:53", "error"},
		{loop, "unix", "/tmp/sock", "error"},
		{strict, "tcp", "example.com:443", "error"},
		{strict, "tcp", "10.0.0.1", "error"},
		{strict, "tcp", "", "error"},
		{strict, "tcp", "2130706433:80", "error"},
	}
	for _, tt := range tests {
		err := tt.g.Control(tt.network, tt.address, nil)
		var got string
		var r *Refused
		switch {
		case err == nil:
			got = ""
		case errors.As(err, &r):
			got = r.Reason
		default:
			got = "error"
		}
		if got != tt.want {
			t.Errorf("Control(%q, %q) = %q (%v), want %q", tt.network, tt.address, got, err, tt.want)
		}
	}
}

// TestControlWithRealDialer proves the hook is wired the way net.Dialer
// calls it: a strict guard refuses a loopback listener before connecting,
// also when the address comes from resolving "localhost", and a guard
// allowing loopback connects. Only 127.0.0.1 is ever dialled.
func TestControlWithRealDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 8)
	go func() {
		for range 8 { // bounded
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	for _, addr := range []string{ln.Addr().String(), net.JoinHostPort("localhost", port)} {
		d := &net.Dialer{Timeout: 2 * time.Second, Control: New().Control}
		c, err := d.Dial("tcp", addr)
		if err == nil {
			c.Close()
			t.Fatalf("strict guard dialled %s", addr)
		}
		var r *Refused
		if !errors.As(err, &r) || r.Reason != ReasonLoopback {
			t.Errorf("dial %s: err = %v, want a loopback *Refused", addr, err)
		}
	}
	select {
	case <-accepted:
		t.Fatal("the listener accepted a connection the guard should have refused")
	case <-time.After(50 * time.Millisecond):
	}

	d := &net.Dialer{Timeout: 2 * time.Second, Control: New(Loopback...).Control}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("loopback-allowed guard: %v", err)
	}
	c.Close()
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("allowed dial never reached the listener")
	}
}

func TestCheckURL(t *testing.T) {
	strict := New()
	loop := New(Loopback...)
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength)
	tests := []struct {
		g         *Guard
		url       string
		allowHTTP bool
		want      string // substring of the error, "" = valid
		refused   string // reason when a *Refused must be wrapped
	}{
		{strict, "https://example.com/hook", false, "", ""},
		{strict, "https://Example.COM:8443/a/b?c=d&e=f", false, "", ""},
		{strict, "HTTPS://example.com/", false, "", ""},
		{strict, "https://api.example.co.uk./x", false, "", ""},
		{strict, "https://my_host.example.com/", false, "", ""},
		{strict, "https://xn--bcher-kva.example/", false, "", ""},
		{strict, "https://8.8.8.8/hook", false, "", ""},
		{strict, "https://[2606:4700:4700::1111]:443/", false, "", ""},
		{strict, "https://example.com/p%C3%A4th", false, "", ""},
		{strict, "https://example.com/päth", false, "", ""},
		{strict, "https://127.0.0.1.nip.io/", false, "", ""}, // a name: checked when resolved
		{strict, "http://example.com/hook", true, "", ""},
		{strict, "https://example.com/hook#frag", false, "", ""},

		{strict, "", false, "is required", ""},
		{strict, long, false, "at most 2048 bytes", ""},
		{strict, "http://example.com/hook", false, "must use https", ""},
		{strict, "ftp://example.com/", false, "scheme must be https", ""},
		{strict, "ftp://example.com/", true, "scheme must be https or http", ""},
		{strict, "javascript:alert(1)", false, "scheme must be https", ""},
		{strict, "example.com/hook", false, "absolute URL", ""},
		{strict, "//example.com/hook", false, "absolute URL", ""},
		{strict, "https:example.com", false, "of the form https://host/path", ""},
		{strict, "https://user:pass@example.com/", false, "credentials", ""},
		{strict, "https://user@example.com/", false, "credentials", ""},
		{strict, "https://:@example.com/", false, "credentials", ""},
		{strict, "https:///path", false, "must have a host", ""},
		{strict, "https://:443/", false, "must have a host", ""},
		{strict, "https://example.com:0/", false, "port must be between 1 and 65535", ""},
		{strict, "https://example.com:65536/", false, "port must be between 1 and 65535", ""},
		{strict, "https://example.com:99999999999/", false, "port must be between 1 and 65535", ""},
		{strict, "https://example.com:/", false, "empty port", ""},
		{strict, "https://example.com:https/", false, "not a valid URL", ""},
		{strict, "https://exa mple.com/", false, "spaces or control characters", ""},
		{strict, "https://example.com/\r\nX: y", false, "spaces or control characters", ""},
		{strict, "https://example.com/\x00", false, "spaces or control characters", ""},
		{strict, "https://bücher.example/", false, "must be ASCII", ""},
		{strict, "https://exa!mple.com/", false, "not a valid host name", ""},
		{strict, "https://a..b.com/", false, "not a valid host name", ""},
		{strict, "https://" + strings.Repeat("a", 64) + ".com/", false, "not a valid host name", ""},

		// IP literals the guard refuses.
		{strict, "https://127.0.0.1/", false, "not allowed", ReasonLoopback},
		{strict, "https://10.0.0.1:8443/hook", false, "not allowed", ReasonPrivate},
		{strict, "https://169.254.169.254/latest/meta-data/", false, "not allowed", ReasonMetadata},
		{strict, "https://0.0.0.0/", false, "not allowed", ReasonUnspecified},
		{strict, "https://[::1]/", false, "not allowed", ReasonLoopback},
		{strict, "https://[::]/", false, "not allowed", ReasonUnspecified},
		{strict, "https://[::ffff:127.0.0.1]/", false, "not allowed", ReasonLoopback},
		{strict, "https://[::ffff:a9fe:a9fe]/", false, "not allowed", ReasonMetadata},
		{strict, "https://[fd00:ec2::254]/", false, "not allowed", ReasonMetadata},
		{strict, "https://[fc00::1]/", false, "not allowed", ReasonPrivate},
		{strict, "https://[64:ff9b::a00:1]/", false, "not allowed", ReasonPrivate},
		{strict, "https://%31%32%37.0.0.1/", false, "not a valid URL", ""},
		{strict, "https://[fe80::1%25eth0]/", false, "zone", ""},
		{strict, "https://[not-an-ip]/", false, "not a valid", ""},
		// Ambiguous numeric IPv4 forms.
		{strict, "http://2130706433/", true, "non-standard numeric form", ""},
		{strict, "http://0x7f.1/", true, "non-standard numeric form", ""},
		{strict, "http://0x7f000001/", true, "non-standard numeric form", ""},
		{strict, "http://0X7F.0X0.0X0.0X1/", true, "non-standard numeric form", ""},
		{strict, "http://0177.0.0.1/", true, "non-standard numeric form", ""},
		{strict, "http://127.1/", true, "non-standard numeric form", ""},
		{strict, "http://127.0.0.01/", true, "non-standard numeric form", ""},
		{strict, "http://10.0.0.1./", true, "non-standard numeric form", ""},
		{strict, "https://017700000001/", false, "non-standard numeric form", ""},
		{strict, "https://1.2.3.0x4/", false, "non-standard numeric form", ""},
		{strict, "https://0x/", false, "non-standard numeric form", ""},
		// localhost is loopback by definition.
		{strict, "https://localhost/", false, "not allowed", ReasonLoopback},
		{strict, "https://LOCALHOST./", false, "not allowed", ReasonLoopback},
		{strict, "https://api.localhost/", false, "not allowed", ReasonLoopback},
		// Allowed loopback (local mode).
		{loop, "http://localhost:8080/hook", true, "", ""},
		{loop, "http://127.0.0.1:9000/", true, "", ""},
		{loop, "http://[::1]:9000/", true, "", ""},
		{loop, "http://10.0.0.1:9000/", true, "not allowed", ReasonPrivate},
	}
	for _, tt := range tests {
		err := tt.g.CheckURL(tt.url, tt.allowHTTP)
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckURL(%q, %v) = %v, want nil", tt.url, tt.allowHTTP, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckURL(%q, %v) = %v, want error containing %q", tt.url, tt.allowHTTP, err, tt.want)
			continue
		}
		if got, want := webhook.KindOf(err), webhook.KindInvalid; got != want {
			t.Errorf("CheckURL(%q): kind %q, want %q", tt.url, got, want)
		}
		if got, want := webhook.FieldOf(err), "url"; got != want {
			t.Errorf("CheckURL(%q): field %q, want %q", tt.url, got, want)
		}
		var r *Refused
		gotReason := ""
		if errors.As(err, &r) {
			gotReason = r.Reason
		}
		if gotReason != tt.refused {
			t.Errorf("CheckURL(%q): refusal reason %q, want %q (%v)", tt.url, gotReason, tt.refused, err)
		}
	}
}
