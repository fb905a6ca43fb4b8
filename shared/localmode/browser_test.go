package localmode

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestBrowserGuard: local mode has no authentication, so a web page must
// not reach it through the visitor's browser: a cross-origin request
// (CSRF: a "simple" POST needs no preflight) and a request addressed to
// another host name (DNS rebinding: a page whose name now resolves to
// 127.0.0.1) are refused with 403 naming the header; the CLI's, the SDK's
// and same-origin requests pass.
func TestBrowserGuard(t *testing.T) {
	s, _ := start(t, nil)
	_, port, _ := net.SplitHostPort(s.Addr())
	for _, tc := range []struct {
		name, method, path, host, origin, target string
		want                                     int
		field                                    string
	}{
		{name: "the CLI", method: "GET", path: "/v1/webhooks", host: "127.0.0.1:" + port, want: 200},
		{name: "localhost", method: "GET", path: "/v1/webhooks", host: "localhost:" + port, want: 200},
		{name: "IPv6 loopback", method: "GET", path: "/v1/webhooks", host: "[::1]:" + port, want: 200},
		{name: "under localhost", method: "GET", path: "/healthz", host: "app.localhost:" + port, want: 200},
		{name: "same origin", method: "GET", path: "/v1/webhooks", host: "127.0.0.1:" + port, origin: "http://127.0.0.1:" + port, want: 200},
		{name: "rebound name", method: "GET", path: "/v1/webhooks", host: "evil.example:" + port, want: 403, field: "Host"},
		{name: "rebound name, PutEvents", method: "POST", path: "/", host: "evil.example:" + port, target: "AWSEvents.PutEvents", want: 403, field: "Host"},
		{name: "loopback as a subdomain", method: "GET", path: "/v1/webhooks", host: "127.0.0.1.evil.example:" + port, want: 403, field: "Host"},
		{name: "cross-site POST", method: "POST", path: "/v1/dlq/purge", host: "127.0.0.1:" + port, origin: "https://evil.example", want: 403, field: "Origin"},
		{name: "another port", method: "POST", path: "/v1/dlq/purge", host: "127.0.0.1:" + port, origin: "http://127.0.0.1:1", want: 403, field: "Origin"},
		{name: "opaque origin", method: "POST", path: "/v1/dlq/purge", host: "127.0.0.1:" + port, origin: "null", want: 403, field: "Origin"},
	} {
		req, err := http.NewRequest(tc.method, s.URL()+tc.path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if tc.target != "" {
			req.Header.Set("X-Amz-Target", tc.target)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error struct{ Code, Field string } }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if got, want := resp.StatusCode, tc.want; got != want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, got, want)
		}
		if tc.want == 403 && (body.Error.Code != "forbidden" || body.Error.Field != tc.field) {
			t.Errorf("%s: error %+v, want forbidden naming %s", tc.name, body.Error, tc.field)
		}
	}
}
