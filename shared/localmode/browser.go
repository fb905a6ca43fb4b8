package localmode

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/phoneshield/webhooks/shared/api"
)

// browserGuard refuses what a web page could make a browser on this
// machine send to local mode, which has no authentication: the management
// API would let it add an endpoint that receives every event, or purge the
// DLQ.
//
//   - A request carrying an Origin (a browser's, on every cross-origin POST)
//     must come from local mode's own origin: a page elsewhere can send a
//     "simple" POST (no preflight) without reading the answer (CSRF).
//   - When local mode listens on loopback, the Host must be a loopback
//     name or address: a page whose own host name is rebound to 127.0.0.1
//     (DNS rebinding) is same-origin with local mode, but its requests name
//     its host. Listening elsewhere (--addr 0.0.0.0:4000, in a container)
//     is a choice to be reached under other names, and the Host is not
//     checked.
//
// The AWS CLI, the SDKs and webhookctl send no Origin and address
// 127.0.0.1 or localhost, so they pass.
func browserGuard(listen net.Addr, next http.Handler) http.Handler {
	checkHost := false
	if a, ok := listen.(*net.TCPAddr); ok && a.IP.IsLoopback() {
		checkHost = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if checkHost && !loopbackHost(r.Host) {
			forbid(w, "Host", fmt.Sprintf("local mode answers requests addressed to localhost or a loopback address, not %q (a guard against DNS rebinding)", r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, r.Host) {
				forbid(w, "Origin", fmt.Sprintf("local mode answers no request made by a web page from elsewhere (Origin %q): it has no authentication", o))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine's
// loopback: localhost (or a name under it, RFC 6761) or a loopback
// address, with or without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// forbid answers 403 in the management API's error shape.
func forbid(w http.ResponseWriter, field, msg string) {
	api.WriteError(w, http.StatusForbidden, "forbidden", msg, field)
}
