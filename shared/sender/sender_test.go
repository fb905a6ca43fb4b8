package sender

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// Every connection in these tests goes to 127.0.0.1 (httptest servers and
// raw listeners opened here); the SSRF tests show the guard refusing
// loopback before a connection is made.

const slack = time.Second // scheduling slack on timing bounds

func loopbackGuard() *egress.Guard { return egress.New(egress.Loopback...) }

func newSender(t testing.TB, opts Options) *Sender {
	t.Helper()
	if opts.Guard == nil {
		opts.Guard = loopbackGuard()
	}
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Second
	}
	s := New(opts)
	t.Cleanup(s.CloseIdleConnections)
	return s
}

// countingServer starts an httptest server on 127.0.0.1 that counts the
// connections it accepts.
func countingServer(t testing.TB, h http.Handler, tlsOn bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	conns := new(atomic.Int64)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, conns
}

// rootsOf returns a TLS config trusting srv's test certificate.
func rootsOf(srv *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func send(s *Sender, url string) Result {
	return s.Send(context.Background(), Request{URL: url, Body: []byte(`{"event_id":"evt_1"}`)})
}

func wantErr(t *testing.T, res Result, substr string) {
	t.Helper()
	if res.Err == nil {
		t.Fatalf("Err = nil (status %d), want error containing %q", res.StatusCode, substr)
	}
	t.Logf("Err: %v", res.Err)
	if !strings.Contains(res.Err.Error(), substr) {
		t.Fatalf("Err = %q, want containing %q", res.Err, substr)
	}
}

func TestSendSuccess(t *testing.T) {
	var got struct {
		method, ctype, ua, custom, sig, idem string
		hasIdem                              bool
		body                                 []byte
	}
	big := bytes.Repeat([]byte("x"), 10<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.ctype, got.ua = r.Method, r.Header.Get("Content-Type"), r.Header.Get("User-Agent")
		got.custom, got.sig = r.Header.Get("X-Foo"), r.Header.Get("Webhook-Signature")
		_, got.hasIdem = r.Header["Idempotency-Key"]
		got.body, _ = io.ReadAll(r.Body)
		if r.URL.Path == "/small" {
			w.Write([]byte("ok"))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write(big)
	})
	srv, _ := countingServer(t, h, false)
	s := newSender(t, Options{})

	hdr := http.Header{}
	hdr.Set("X-Foo", "bar")
	hdr.Set("Webhook-Signature", "v1,abc")
	body := []byte(`{"event_type":"call.completed"}`)
	res := s.Send(context.Background(), Request{URL: srv.URL + "/big", Body: body, Headers: hdr})
	if res.Err != nil || !res.OK() {
		t.Fatalf("Send: %+v", res)
	}
	if got, want := res.StatusCode, http.StatusAccepted; got != want {
		t.Errorf("StatusCode = %d, want %d", got, want)
	}
	if got, want := len(res.Body), webhook.MaxResponseExcerpt; got != want {
		t.Errorf("len(Body) = %d, want %d", got, want)
	}
	if res.Latency <= 0 || res.Latency > 3*time.Second {
		t.Errorf("Latency = %v", res.Latency)
	}
	checks := []struct{ name, got, want string }{
		{"method", got.method, "POST"},
		{"Content-Type", got.ctype, "application/json"},
		{"User-Agent", got.ua, webhook.UserAgent},
		{"X-Foo", got.custom, "bar"},
		{"Webhook-Signature", got.sig, "v1,abc"},
		{"body", string(got.body), string(body)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got.hasIdem {
		t.Error("the placeholder Idempotency-Key was sent on the wire")
	}

	res = send(s, srv.URL+"/small")
	if res.Err != nil || string(res.Body) != "ok" || res.StatusCode != 200 {
		t.Errorf("small: %+v", res)
	}

	// A caller's own Idempotency-Key is sent; the user agent is configurable.
	s2 := newSender(t, Options{UserAgent: "test-agent"})
	hdr = http.Header{"Idempotency-Key": {"k1"}}
	if res := s2.Send(context.Background(), Request{URL: srv.URL + "/small", Headers: hdr}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if !got.hasIdem || got.ua != "test-agent" {
		t.Errorf("Idempotency-Key sent %v, User-Agent %q", got.hasIdem, got.ua)
	}
}

func TestSendStatuses(t *testing.T) {
	var otherHits atomic.Int64
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	mux := http.NewServeMux()
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) })
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if loc := q.Get("loc"); loc != "" {
			w.Header().Set("Location", loc)
		}
		if ra := q.Get("ra"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		code := 0
		for _, c := range q.Get("code") {
			code = code*10 + int(c-'0')
		}
		w.WriteHeader(code)
		w.Write([]byte("status body"))
	})
	srv, _ := countingServer(t, mux, false)
	s := newSender(t, Options{})
	enc := func(v string) string { return strings.NewReplacer(" ", "%20", ",", "%2C", ":", "%3A").Replace(v) }

	tests := []struct {
		name      string
		query     string
		wantCode  int
		wantErr   string // "" = success
		wantRA    time.Duration
		raSlackLo time.Duration
	}{
		{"200", "code=200", 200, "", 0, 0},
		{"204", "code=204", 204, "", 0, 0},
		{"500", "code=500", 500, "HTTP 500", 0, 0},
		{"404", "code=404", 404, "HTTP 404", 0, 0},
		{"400", "code=400", 400, "HTTP 400", 0, 0},
		{"301 not followed", "code=301&loc=" + srv.URL + "/other", 301, "HTTP 301: redirect to " + srv.URL + "/other not followed", 0, 0},
		{"302 relative", "code=302&loc=/other", 302, "redirect to /other not followed", 0, 0},
		{"307", "code=307&loc=/other", 307, "redirect to /other not followed", 0, 0},
		{"304 no location", "code=304", 304, "HTTP 304: redirect not followed", 0, 0},
		{"429 seconds", "code=429&ra=120", 429, "HTTP 429", 120 * time.Second, 0},
		{"503 seconds", "code=503&ra=5", 503, "HTTP 503", 5 * time.Second, 0},
		{"429 date", "code=429&ra=" + enc(future), 429, "HTTP 429", 90 * time.Second, 5 * time.Second},
		{"503 past date", "code=503&ra=" + enc(past), 503, "HTTP 503", 0, 0},
		{"429 huge", "code=429&ra=99999999999999999999999", 429, "HTTP 429", webhook.MaxRetryDelay, 0},
		{"429 capped", "code=429&ra=86400", 429, "HTTP 429", webhook.MaxRetryDelay, 0},
		{"429 invalid", "code=429&ra=soon", 429, "HTTP 429", 0, 0},
		{"429 negative", "code=429&ra=-5", 429, "HTTP 429", 0, 0},
		{"500 ignores Retry-After", "code=500&ra=60", 500, "HTTP 500", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := send(s, srv.URL+"/status?"+tt.query)
			if got, want := res.StatusCode, tt.wantCode; got != want {
				t.Errorf("StatusCode = %d, want %d", got, want)
			}
			if tt.wantErr == "" {
				if res.Err != nil {
					t.Errorf("Err = %v, want nil", res.Err)
				}
			} else {
				wantErr(t, res, tt.wantErr)
			}
			if tt.wantCode != 204 && tt.wantCode != 304 && string(res.Body) != "status body" {
				t.Errorf("Body = %q", res.Body)
			}
			if got := res.RetryAfter; got > tt.wantRA || got < tt.wantRA-tt.raSlackLo {
				t.Errorf("RetryAfter = %v, want %v (-%v)", got, tt.wantRA, tt.raSlackLo)
			}
		})
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("redirect target was requested %d times", n)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{" 30 ", 30 * time.Second},
		{"7200", 2 * time.Hour},
		{"7201", webhook.MaxRetryDelay},
		{"18446744073709551616", webhook.MaxRetryDelay},
		{"1.5", 0},
		{"-1", 0},
		{"+1", 0},
		{"1e3", 0},
		{"soon", 0},
		{"Sat, 01 Mar 2025 12:01:00 GMT", time.Minute},
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute}, // RFC 850
		{"Sat Mar  1 12:00:30 2025", 30 * time.Second},    // asctime
		{"Sat, 01 Mar 2025 11:59:00 GMT", 0},
		{"Sun, 02 Mar 2025 12:00:00 GMT", webhook.MaxRetryDelay},
		{"2025-03-01T12:01:00Z", 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.in, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSendTimeout(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client hanging up
		select {                    // hang, bounded
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv, _ := countingServer(t, h, false)
	const timeout = 300 * time.Millisecond
	s := newSender(t, Options{Timeout: timeout})
	start := time.Now()
	res := send(s, srv.URL)
	elapsed := time.Since(start)
	wantErr(t, res, "timeout after 300ms while waiting for the response")
	if res.StatusCode != 0 {
		t.Errorf("StatusCode = %d, want 0", res.StatusCode)
	}
	if elapsed < timeout || elapsed > timeout+slack {
		t.Errorf("took %v, want about %v", elapsed, timeout)
	}
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Errorf("Err %v does not wrap context.DeadlineExceeded", res.Err)
	}
}

func TestSendSlowDripBody(t *testing.T) {
	h := webhooktest.DripBody(200, 50*time.Millisecond) // at most 10 s
	srv, _ := countingServer(t, h, false)
	const timeout = 300 * time.Millisecond
	s := newSender(t, Options{Timeout: timeout})
	start := time.Now()
	res := send(s, srv.URL)
	elapsed := time.Since(start)
	wantErr(t, res, "timeout after 300ms while reading the response body")
	if res.StatusCode != 200 {
		t.Errorf("StatusCode = %d, want 200", res.StatusCode)
	}
	if len(res.Body) == 0 || len(res.Body) > 10 {
		t.Errorf("Body = %q, want the few bytes that arrived", res.Body)
	}
	if elapsed > timeout+slack {
		t.Errorf("took %v, want about %v", elapsed, timeout)
	}
}

func TestSendSlowDripHeaders(t *testing.T) {
	url := webhooktest.RawServer(t, 2, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Write([]byte("HTTP/1.1 200 OK\r\n"))
		for range 200 { // bounded: at most 10 s
			if _, err := c.Write([]byte("X")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	const timeout = 300 * time.Millisecond
	s := newSender(t, Options{Timeout: timeout})
	start := time.Now()
	res := send(s, url)
	wantErr(t, res, "timeout after 300ms")
	if elapsed := time.Since(start); elapsed > timeout+slack {
		t.Errorf("took %v, want about %v", elapsed, timeout)
	}
}

func TestSendHugeBody(t *testing.T) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10485760")
		for range 160 { // 10 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	srv, conns := countingServer(t, h, false)
	s := newSender(t, Options{Timeout: 5 * time.Second})
	start := time.Now()
	for range 2 {
		res := send(s, srv.URL)
		if res.Err != nil || res.StatusCode != 200 {
			t.Fatalf("Send: status %d, err %v", res.StatusCode, res.Err)
		}
		if got, want := len(res.Body), webhook.MaxResponseExcerpt; got != want {
			t.Fatalf("len(Body) = %d, want %d", got, want)
		}
		if !bytes.Equal(res.Body, chunk[:webhook.MaxResponseExcerpt]) {
			t.Fatal("Body is not the start of the response")
		}
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("two sends took %v", elapsed)
	}
	// A body too long to drain closes the connection rather than reuse it.
	if got, want := conns.Load(), int64(2); got != want {
		t.Errorf("connections = %d, want %d (not reused after an undrained body)", got, want)
	}
}

// TestSendStalledBody: a 2xx succeeds only once its body has ended within
// the attempt's deadline (DESIGN §5: "connect through last body byte"),
// however much of it came before the stall; one past the 4 KiB excerpt
// used to succeed after a second's drain.
func TestSendStalledBody(t *testing.T) {
	for _, n := range []int{100, 8 << 10, MaxDrain / 2} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(2*MaxDrain))
				w.Write(bytes.Repeat([]byte("x"), n))
				w.(http.Flusher).Flush()
				select { // the rest never comes (bounded)
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			})
			srv, _ := countingServer(t, h, false)
			res := send(newSender(t, Options{Timeout: time.Second}), srv.URL)
			if res.OK() || res.StatusCode != http.StatusOK || !strings.Contains(res.Err.Error(), "timeout after 1s while reading the response body") {
				t.Errorf("200 with %d bytes of body, then a stall: status %d, err %v; want a timeout while reading the body", n, res.StatusCode, res.Err)
			}
		})
	}
}

// TestSendRetryAfterWhenBodyFails: a 429's or 503's Retry-After holds even
// when its body then breaks off or stalls (DESIGN §5: "Retry-After on
// 429/503 is honoured"); it used to be read only after the body.
func TestSendRetryAfterWhenBodyFails(t *testing.T) {
	for _, stall := range []bool{false, true} {
		t.Run(fmt.Sprintf("stall=%t", stall), func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "600")
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("overloaded"))
				w.(http.Flusher).Flush()
				if stall {
					select {
					case <-r.Context().Done():
					case <-time.After(5 * time.Second):
					}
					return
				}
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					conn.Close() // cut off mid-body
				}
			})
			srv, _ := countingServer(t, h, false)
			res := send(newSender(t, Options{Timeout: time.Second}), srv.URL)
			if got, want := fmt.Sprint(res.StatusCode, " ", res.RetryAfter, " ", res.Err != nil), "503 10m0s true"; got != want {
				t.Errorf("status, Retry-After, failed = %s, want %s (err %v)", got, want, res.Err)
			}
		})
	}
}

func TestSendDrainsShortBodyForReuse(t *testing.T) {
	body := bytes.Repeat([]byte("y"), webhook.MaxResponseExcerpt+MaxDrain/2) // over the excerpt, under the drain limit
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	srv, conns := countingServer(t, h, false)
	s := newSender(t, Options{})
	for range 5 {
		if res := send(s, srv.URL); res.Err != nil || len(res.Body) != webhook.MaxResponseExcerpt {
			t.Fatalf("Send: %v, %d bytes", res.Err, len(res.Body))
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("connections = %d, want 1", got)
	}
}

func TestSendHostileResponses(t *testing.T) {
	tests := []struct {
		name  string
		serve func(net.Conn)
		want  string
	}{
		{"not HTTP", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			time.Sleep(100 * time.Millisecond)
		}, "invalid HTTP response: malformed HTTP response"},
		{"binary", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x00, '\n', 0x80, 0x81, '\r', '\n', '\r', '\n'})
			time.Sleep(100 * time.Millisecond)
		}, "invalid HTTP response: malformed HTTP response"},
		{"closed without a response", func(c net.Conn) {
			c.Read(make([]byte, 4096))
		}, "connection closed by the server"},
		{"endless status line", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			line := bytes.Repeat([]byte("A"), 1024)
			for range 1024 { // at most 1 MiB
				if _, err := c.Write(line); err != nil {
					return
				}
			}
		}, "headers larger than 64 KiB"},
		{"headers too large", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			c.Write([]byte("HTTP/1.1 200 OK\r\n"))
			hdr := []byte("X-Big: " + strings.Repeat("b", 1000) + "\r\n")
			for range 1024 { // at most ~1 MiB
				if _, err := c.Write(hdr); err != nil {
					return
				}
			}
		}, "headers larger than 64 KiB"},
		{"bad content length", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"))
			time.Sleep(100 * time.Millisecond)
		}, "invalid HTTP response: bad Content-Length"},
		{"switching protocols, then silent", func(c net.Conn) {
			// The body of a 101 is the raw connection, which no deadline
			// reaches: reading it would wait for as long as this holds.
			c.Read(make([]byte, 4096))
			c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			c.Read(make([]byte, 1))
		}, "HTTP 101: the receiver switched protocols (websocket)"},
		{"short body", func(c net.Conn) {
			c.Read(make([]byte, 4096))
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a bit"))
		}, "connection closed by the server while reading the response body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := webhooktest.RawServer(t, 4, tt.serve)
			s := newSender(t, Options{Timeout: 2 * time.Second})
			start := time.Now()
			res := send(s, url)
			wantErr(t, res, tt.want)
			if elapsed := time.Since(start); elapsed > 2*time.Second+slack {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := newSender(t, Options{})
	res := send(s, "http://"+addr+"/hook")
	wantErr(t, res, "connection refused")
	if res.StatusCode != 0 {
		t.Errorf("StatusCode = %d", res.StatusCode)
	}
}

func TestSendSSRF(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	srv, conns := countingServer(t, h, false)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	strict := newSender(t, Options{Guard: egress.New()})
	for _, url := range []string{srv.URL, "http://localhost:" + port + "/hook"} {
		res := send(strict, url)
		wantErr(t, res, "refused by SSRF guard: address ")
		wantErr(t, res, "is loopback: deliveries to loopback are refused")
		var r *egress.Refused
		if !errors.As(res.Err, &r) || r.Reason != egress.ReasonLoopback {
			t.Errorf("%s: Err %v does not wrap a loopback *egress.Refused", url, res.Err)
		}
		if res.StatusCode != 0 {
			t.Errorf("StatusCode = %d", res.StatusCode)
		}
	}
	// A nil Guard is the strict guard too.
	res := send(New(Options{Timeout: time.Second}), srv.URL)
	wantErr(t, res, "refused by SSRF guard")
	if n := conns.Load(); n != 0 {
		t.Fatalf("the server saw %d connections; the guard must refuse before connecting", n)
	}

	allowed := newSender(t, Options{Guard: loopbackGuard()})
	if res := send(allowed, srv.URL); res.Err != nil {
		t.Fatalf("loopback allowed: %v", res.Err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1", n)
	}
}

func TestConnectionReuse(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := "http"
		if tlsOn {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Write([]byte(`{"ok":true}`))
			})
			srv, conns := countingServer(t, h, tlsOn)
			opts := Options{}
			if tlsOn {
				opts.TLSConfig = rootsOf(srv)
			}
			s := newSender(t, opts)
			for i := range 50 {
				if res := send(s, srv.URL); res.Err != nil {
					t.Fatalf("send %d: %v", i, res.Err)
				}
			}
			if got, want := conns.Load(), int64(1); got != want {
				t.Errorf("new connections over 50 sends = %d, want %d", got, want)
			}

			// Keep-alive disabled: one connection per send.
			opts.MaxIdleConnsPerHost = -1
			s = newSender(t, opts)
			for range 3 {
				if res := send(s, srv.URL); res.Err != nil {
					t.Fatal(res.Err)
				}
			}
			if got, want := conns.Load(), int64(4); got != want {
				t.Errorf("connections without keep-alive = %d, want %d", got, want)
			}
		})
	}
}

func TestSendTLS(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secure")) })
	srv, _ := countingServer(t, h, true)

	s := newSender(t, Options{TLSConfig: rootsOf(srv)})
	if res := send(s, srv.URL); res.Err != nil || string(res.Body) != "secure" {
		t.Fatalf("trusted: %+v", res)
	}

	untrusted := newSender(t, Options{})
	res := send(untrusted, srv.URL)
	wantErr(t, res, "TLS handshake failed: ")
	wantErr(t, res, "certificate")

	// https to a server that doesn't speak TLS.
	plain, _ := countingServer(t, h, false)
	res = send(s, strings.Replace(plain.URL, "http://", "https://", 1))
	wantErr(t, res, "TLS handshake failed: ")

	// A server stuck at TLS 1.1 is refused, even if the config asks for less.
	old := httptest.NewUnstartedServer(h)
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	defer old.Close()
	cfg := rootsOf(old)
	cfg.MinVersion = tls.VersionTLS10
	s = newSender(t, Options{TLSConfig: cfg})
	res = send(s, old.URL)
	wantErr(t, res, "TLS handshake failed: ")
}

func TestSendCanceledAndInvalid(t *testing.T) {
	s := newSender(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := s.Send(ctx, Request{URL: "http://127.0.0.1:1/hook"})
	wantErr(t, res, "attempt canceled")

	res = send(s, "http://127.0.0.1:1/\x7f")
	wantErr(t, res, "invalid URL")
	res = send(s, "ftp://127.0.0.1/")
	wantErr(t, res, "scheme must be https or http")
	res = send(s, "/relative")
	wantErr(t, res, "scheme must be https or http")

	// The caller's shorter deadline is reported as such.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv, _ := countingServer(t, h, false)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res = s.Send(ctx, Request{URL: srv.URL})
	wantErr(t, res, "the caller's deadline passed")
}

func TestValidateHeaders(t *testing.T) {
	many := map[string]string{}
	for i := range 21 {
		many["X-H"+string(rune('a'+i))] = "v"
	}
	bigTotal := map[string]string{}
	for i := range 9 {
		bigTotal["X-Big-"+string(rune('a'+i))] = strings.Repeat("v", 1000)
	}
	tests := []struct {
		name      string
		h         map[string]string
		wantField string // "" = valid
		wantMsg   string
	}{
		{"nil", nil, "", ""},
		{"empty", map[string]string{}, "", ""},
		{"ok", map[string]string{"X-Foo": "bar", "Authorization": "Bearer abc", "Cookie": "s=1", "X-Tab": "a\tb", "X-Utf8": "héllo", "x-lower": "", "X-Api-Key": "k"}, "", ""},
		{"token chars", map[string]string{"X-!#$%&'*+-.^_`|~09": "v"}, "", ""},
		{"20 headers", func() map[string]string { m := map[string]string{}; maps(many, m, 20); return m }(), "", ""},
		{"21 headers", many, "headers", "at most 20"},
		{"total over 8 KiB", bigTotal, "headers", "at most 8192 bytes"},
		{"empty name", map[string]string{"": "v"}, "headers", "empty"},
		{"name with space", map[string]string{"X Foo": "v"}, "headers", "not a valid HTTP header name"},
		{"name with colon", map[string]string{"X:Foo": "v"}, "headers.X:Foo", "not a valid HTTP header name"},
		{"name with CRLF", map[string]string{"X-Foo\r\nEvil": "v"}, "headers", "not a valid HTTP header name"},
		{"name non-ASCII", map[string]string{"X-Föo": "v"}, "headers", "not a valid HTTP header name"},
		{"name too long", map[string]string{"X-" + strings.Repeat("a", 255): "v"}, "headers", "longer than 256 bytes"},
		{"name 256", map[string]string{"X-" + strings.Repeat("a", 254): "v"}, "", ""},
		{"value CR", map[string]string{"X-Foo": "a\rb"}, "headers.X-Foo", "CR or LF"},
		{"value LF", map[string]string{"X-Foo": "a\nInjected: 1"}, "headers.X-Foo", "CR or LF"},
		{"value NUL", map[string]string{"X-Foo": "a\x00b"}, "headers.X-Foo", "NUL"},
		{"value control", map[string]string{"X-Foo": "a\x1bb"}, "headers.X-Foo", "control characters (found 0x1b)"},
		{"value DEL", map[string]string{"X-Foo": "a\x7fb"}, "headers.X-Foo", "control characters"},
		{"value invalid UTF-8", map[string]string{"X-Foo": "a\xffb"}, "headers.X-Foo", "UTF-8"},
		{"value 1024", map[string]string{"X-Foo": strings.Repeat("v", 1024)}, "", ""},
		{"value 1025", map[string]string{"X-Foo": strings.Repeat("v", 1025)}, "headers.X-Foo", "at most 1024 bytes"},
		{"case duplicate", map[string]string{"X-Foo": "1", "x-foo": "2"}, "headers.x-foo", "duplicates header \"X-Foo\""},
	}
	for _, name := range []string{
		"X-PhoneShield-Signature", "x-phoneshield-event-id", "X-PHONESHIELD-ANYTHING", "X-PhoneShield-",
		"webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE",
		"Host", "content-type", "Content-Length", "Content-Encoding", "User-Agent", "Transfer-Encoding",
		"Connection", "keep-alive", "Proxy-Connection", "Proxy-Authorization", "TE", "Trailer", "Upgrade", "Expect",
	} {
		tests = append(tests, struct {
			name      string
			h         map[string]string
			wantField string
			wantMsg   string
		}{"reserved " + name, map[string]string{name: "v"}, "headers." + name, "reserved"})
	}
	for _, tt := range tests {
		err := ValidateHeaders(tt.h)
		if tt.wantField == "" {
			if err != nil {
				t.Errorf("%s: %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: nil, want error on %s", tt.name, tt.wantField)
			continue
		}
		if got, want := webhook.KindOf(err), webhook.KindInvalid; got != want {
			t.Errorf("%s: kind %q, want %q", tt.name, got, want)
		}
		if got, want := webhook.FieldOf(err), tt.wantField; got != want {
			t.Errorf("%s: field %q, want %q (%v)", tt.name, got, want, err)
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: %q, want containing %q", tt.name, err, tt.wantMsg)
		}
	}
}

func maps(from, to map[string]string, n int) {
	for k, v := range from {
		if len(to) == n {
			return
		}
		to[k] = v
	}
}

func TestReserved(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"X-PhoneShield-Attempt", true},
		{"x-phoneshield-delivery-id", true},
		{"webhook-id", true},
		{"Webhook-Signature", true},
		{"HOST", true},
		{"Content-Type", true},
		{"te", true},
		{"Authorization", false},
		{"Cookie", false},
		{"X-Phoneshield", false},
		{"X-Custom", false},
		{"Webhook-Token", false},
		{"Idempotency-Key", false},
	}
	for _, tt := range tests {
		if got := Reserved(tt.name); got != tt.want {
			t.Errorf("Reserved(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// BenchmarkSend compares Sender.Send with a plain, tuned http.Client doing
// the same POST to the same loopback server, interleaved in one run so both
// see the same machine state. It reports each side's ns/op and the ratio.
func BenchmarkSend(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"received":true}`))
	})
	srv, _ := countingServer(b, h, false)
	body := bytes.Repeat([]byte(`{"k":"value"},`), 100) // ~1.4 KB
	hdr := http.Header{}
	hdr.Set("X-PhoneShield-Signature", strings.Repeat("ab", 32))
	hdr.Set("Webhook-Id", "evt_123")

	s := newSender(b, Options{Timeout: 10 * time.Second})
	base := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: DefaultMaxIdleConnsPerHost,
		DisableCompression:  true,
		IdleConnTimeout:     IdleConnTimeout,
	}}
	defer base.CloseIdleConnections()
	baseline := func() error {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", webhook.UserAgent)
		resp, err := base.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(io.LimitReader(resp.Body, webhook.MaxResponseExcerpt)); err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}

	var tSender, tBase time.Duration
	n := 0
	ctx := context.Background()
	for b.Loop() {
		t0 := time.Now()
		if res := s.Send(ctx, Request{URL: srv.URL, Body: body, Headers: hdr}); res.Err != nil {
			b.Fatal(res.Err)
		}
		t1 := time.Now()
		if err := baseline(); err != nil {
			b.Fatal(err)
		}
		tBase += time.Since(t1)
		tSender += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(tSender.Nanoseconds())/float64(n), "sender-ns/op")
	b.ReportMetric(float64(tBase.Nanoseconds())/float64(n), "baseline-ns/op")
	b.ReportMetric(float64(tSender)/float64(tBase), "sender/baseline")
}

// BenchmarkTLSReuse measures what connection reuse saves: a TLS send on a
// kept-alive connection versus one that makes a new connection and TLS
// handshake every time (client and server in this process).
func BenchmarkTLSReuse(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"received":true}`))
	})
	srv, _ := countingServer(b, h, true)
	reuse := newSender(b, Options{TLSConfig: rootsOf(srv)})
	fresh := newSender(b, Options{TLSConfig: rootsOf(srv), MaxIdleConnsPerHost: -1})
	req := Request{URL: srv.URL, Body: bytes.Repeat([]byte("x"), 1024)}
	ctx := context.Background()
	var tReuse, tFresh time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if res := reuse.Send(ctx, req); res.Err != nil {
			b.Fatal(res.Err)
		}
		t1 := time.Now()
		if res := fresh.Send(ctx, req); res.Err != nil {
			b.Fatal(res.Err)
		}
		tFresh += time.Since(t1)
		tReuse += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(tReuse.Nanoseconds())/float64(n), "reuse-ns/op")
	b.ReportMetric(float64(tFresh.Nanoseconds())/float64(n), "fresh-ns/op")
	b.ReportMetric(float64(tFresh)/float64(tReuse), "fresh/reuse")
}
