// Package sender makes webhook HTTP attempts (DESIGN §4–§6): one POST of a
// rendered, signed body to an endpoint, through the SSRF guard, within a
// hard time limit, with the outcome reduced to a Result for the delivery
// log. It also validates endpoints' custom headers (ValidateHeaders).
//
// # Connection reuse
//
// A Sender holds one http.Transport for all its sends, so connections to an
// endpoint are kept alive and reused (up to Options.MaxIdleConnsPerHost idle
// connections per host, closed after IdleConnTimeout). A fresh TLS
// handshake per delivery costs about 13× the CPU of a request on a warm
// connection, plus one to two round trips of latency, on both sides; a busy
// endpoint would pay that on every event. Reuse is safe here because the
// guard checks every address when it is dialled, and a kept connection was
// checked when it was made. To make a reused connection that the receiver
// had already closed harmless, requests carry an (empty, unsent)
// Idempotency-Key entry, which lets net/http replay the POST once on a fresh
// connection: deliveries are at-least-once by contract and receivers dedupe
// on webhook-id / event_id.
//
// # Hostile receivers
//
// Every attempt runs under a context deadline (Options.Timeout, 10 s by
// default) that covers connecting, the TLS handshake, sending, waiting for
// and reading the response headers, and reading the body. At most 4 KiB of
// the body is kept. A 2xx succeeds once its body has ended within the
// deadline (DESIGN §5: "connect through last body byte"), so a body that
// stalls fails the attempt; the rest of a body is read and discarded, up
// to 1 MiB more (MaxDrain), past which the attempt counts as a success and
// the connection is closed, unread. Other answers are failures whatever
// their body does: up to MaxDrain of it is drained for at most a second,
// within the deadline, so the connection can be reused. A 429's or 503's
// Retry-After is kept even when its body then fails. Response headers are limited to
// 64 KiB. Redirects are never followed and environment proxies are never
// used (either would bypass the guard).
package sender

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds a whole attempt (DESIGN §5: 10 s).
	DefaultTimeout = 10 * time.Second
	// DefaultMaxIdleConnsPerHost is how many idle keep-alive connections
	// are kept per endpoint host.
	DefaultMaxIdleConnsPerHost = 64
	// MaxResponseHeaderBytes limits the response headers read.
	MaxResponseHeaderBytes = 64 << 10
	// MaxDrain is how much of a response body beyond the excerpt is read
	// and discarded: a 2xx's to its end, to count as a success, another's
	// so the connection can be reused.
	MaxDrain = 1 << 20
	// DrainTimeout bounds the time spent draining (within the deadline).
	DrainTimeout = time.Second
	// IdleConnTimeout closes keep-alive connections idle this long.
	IdleConnTimeout = 30 * time.Second
)

// Options configure a Sender. The zero value of every field but Guard means
// its default.
type Options struct {
	// Guard is the SSRF guard every dialled address must pass. Required in
	// spirit: nil means egress.New(), the strictest guard (no exceptions).
	Guard *egress.Guard
	// Timeout bounds a whole attempt, from connecting to the last byte of
	// the response read. Default DefaultTimeout.
	Timeout time.Duration
	// MaxIdleConnsPerHost is how many idle keep-alive connections are kept
	// per endpoint host. Default DefaultMaxIdleConnsPerHost; negative
	// disables keep-alive (a new connection per attempt).
	MaxIdleConnsPerHost int
	// UserAgent is sent with every request. Default webhook.UserAgent.
	UserAgent string
	// TLSConfig is for tests and local use (a private root CA, say). It is
	// cloned, and its MinVersion is raised to TLS 1.2 if lower. Nil means
	// the system roots.
	TLSConfig *tls.Config
}

// Request is one attempt to make.
type Request struct {
	URL  string
	Body []byte
	// Headers are sent as given (signatures, X-PhoneShield-* and custom
	// headers); Content-Type and User-Agent are set by the sender.
	Headers http.Header
}

// Result is the outcome of one attempt.
type Result struct {
	// StatusCode is the response status, 0 when no response was received.
	StatusCode int
	// Latency is the time from the start of the attempt to the end of the
	// body read (or to the failure).
	Latency time.Duration
	// Err is nil on success (a 2xx whose excerpt was read), otherwise why
	// the attempt failed. A refusal by the SSRF guard wraps *egress.Refused.
	Err error
	// Body is the first webhook.MaxResponseExcerpt bytes of the response
	// body.
	Body []byte
	// RetryAfter is the response's Retry-After on a 429 or 503 (delta
	// seconds or an HTTP date), capped at webhook.MaxRetryDelay; 0 when
	// absent, invalid or in the past.
	RetryAfter time.Duration
}

// OK reports whether the attempt succeeded.
func (r Result) OK() bool { return r.Err == nil && r.StatusCode >= 200 && r.StatusCode < 300 }

// Sender makes webhook attempts. It is safe for concurrent use; make one
// per process and share it, so connections are reused.
type Sender struct {
	transport *http.Transport
	timeout   time.Duration
	userAgent []string // the User-Agent header's value, shared by every request
	now       func() time.Time
}

// contentType is the Content-Type header's value, shared by every request
// (net/http never modifies a request's header values).
var contentType = []string{"application/json"}

// New returns a Sender.
func New(opts Options) *Sender {
	if opts.Guard == nil {
		opts.Guard = egress.New()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxIdleConnsPerHost == 0 {
		opts.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if opts.UserAgent == "" {
		opts.UserAgent = webhook.UserAgent
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tc = opts.TLSConfig.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
	}
	dialer := &net.Dialer{
		Timeout:   opts.Timeout,
		KeepAlive: 30 * time.Second,
		// The guard sees every address actually dialled, after DNS.
		Control: opts.Guard.Control,
	}
	t := &http.Transport{
		Proxy:                  nil, // an environment proxy would bypass the guard
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    opts.Timeout,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    max(opts.MaxIdleConnsPerHost, 1),
		DisableKeepAlives:      opts.MaxIdleConnsPerHost < 0,
		IdleConnTimeout:        IdleConnTimeout,
		DisableCompression:     true, // the excerpt is the body as sent
		ForceAttemptHTTP2:      true, // HTTP/2 where the receiver offers it (ALPN)
	}
	return &Sender{
		transport: t,
		timeout:   opts.Timeout,
		userAgent: []string{opts.UserAgent},
		now:       time.Now,
	}
}

// CloseIdleConnections closes the Sender's idle keep-alive connections.
func (s *Sender) CloseIdleConnections() { s.transport.CloseIdleConnections() }

// Attempt phases, for error messages.
const (
	phaseStart int32 = iota
	phaseDNS
	phaseConnect
	phaseTLS
	phaseSend
	phaseWait
	phaseHeaders
	phaseBody
)

var phaseNames = [...]string{
	phaseStart:   "while connecting",
	phaseDNS:     "while resolving the host",
	phaseConnect: "while connecting",
	phaseTLS:     "during the TLS handshake",
	phaseSend:    "while sending the request",
	phaseWait:    "while waiting for the response",
	phaseHeaders: "while reading the response headers",
	phaseBody:    "while reading the response body",
}

// attempt tracks one attempt's progress; trace hooks run on other
// goroutines.
type attempt struct {
	phase  atomic.Int32
	tlsErr atomic.Pointer[error]
}

func (a *attempt) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { a.phase.Store(phaseDNS) },
		ConnectStart:      func(string, string) { a.phase.Store(phaseConnect) },
		TLSHandshakeStart: func() { a.phase.Store(phaseTLS) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				a.tlsErr.Store(&err)
			}
		},
		GotConn:              func(httptrace.GotConnInfo) { a.phase.Store(phaseSend) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { a.phase.Store(phaseWait) },
		GotFirstResponseByte: func() { a.phase.Store(phaseHeaders) },
	}
}

// Send makes one attempt: POST req.Body to req.URL. It never panics on a
// hostile response and returns within the Sender's Timeout (plus
// scheduling slack), or sooner if ctx ends.
func (s *Sender) Send(ctx context.Context, req Request) Result {
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	var at attempt
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, at.trace()), http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return Result{Latency: time.Since(start), Err: failf(err, "invalid URL: %s", urlErrText(err))}
	}
	if hreq.URL.Scheme != "https" && hreq.URL.Scheme != "http" {
		return Result{Latency: time.Since(start), Err: failf(nil, "invalid URL: scheme must be https or http, got %q", hreq.URL.Scheme)}
	}
	hreq.Header = make(http.Header, len(req.Headers)+3)
	for k, v := range req.Headers {
		hreq.Header[http.CanonicalHeaderKey(k)] = v
	}
	hreq.Header["Content-Type"] = contentType
	hreq.Header["User-Agent"] = s.userAgent
	if _, ok := hreq.Header["Idempotency-Key"]; !ok {
		// Not sent; lets net/http replay the POST once if a reused
		// keep-alive connection turns out to be closed (see package doc).
		hreq.Header["Idempotency-Key"] = nil
	}

	// The transport, not an http.Client: a 3xx is a failed attempt, never
	// followed, so the client's redirect machinery (which copies every
	// request's headers in case it follows one) has nothing to do.
	resp, err := s.transport.RoundTrip(hreq)
	if err != nil {
		return Result{Latency: time.Since(start), Err: s.classify(ctx, actx, &at, err)}
	}
	if resp.StatusCode < 200 {
		// 101 Switching Protocols is the only final 1xx net/http returns,
		// with the raw connection as the body, which neither the attempt's
		// deadline nor ctx reach any more: reading it could block for as
		// long as the receiver likes. Closing it closes the connection.
		resp.Body.Close()
		return Result{StatusCode: resp.StatusCode, Latency: time.Since(start),
			Err: failf(nil, "HTTP %d: the receiver switched protocols (%s); a webhook wants a 2xx", resp.StatusCode, sanitize(resp.Header.Get("Upgrade"), 64))}
	}
	at.phase.Store(phaseBody)
	res := Result{StatusCode: resp.StatusCode}
	code := resp.StatusCode
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		// Before the body is read: a body that then breaks off or stalls
		// must not lose what the receiver asked for.
		res.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"), s.now())
	}
	body, eof, err := readExcerpt(resp.Body)
	res.Body = body
	ok := code >= 200 && code < 300
	if err == nil && !eof && ok {
		// A 2xx succeeds once its body ends within the deadline (DESIGN
		// §5: "connect through last body byte"): the rest is read, up to
		// MaxDrain, and discarded.
		var n int64
		n, err = io.CopyN(io.Discard, resp.Body, MaxDrain)
		eof = err == io.EOF || n < MaxDrain
		if err == io.EOF {
			err = nil
		}
	}
	res.Latency = time.Since(start)
	if err != nil {
		resp.Body.Close()
		res.Err = s.classify(ctx, actx, &at, err)
		return res
	}
	switch {
	case eof:
		resp.Body.Close() // read to the end: the connection can be reused
	case ok:
		resp.Body.Close() // longer than MaxDrain: the connection is closed
	default:
		drain(resp.Body, cancel)
	}

	switch {
	case ok:
	case code >= 300 && code < 400:
		if loc := resp.Header.Get("Location"); loc != "" {
			res.Err = failf(nil, "HTTP %d: redirect to %s not followed", code, sanitize(loc, 512))
		} else {
			res.Err = failf(nil, "HTTP %d: redirect not followed", code)
		}
	default:
		res.Err = failf(nil, "HTTP %d", code)
	}
	return res
}

// excerptBufs holds buffers of webhook.MaxResponseExcerpt bytes.
var excerptBufs = sync.Pool{New: func() any { return new([webhook.MaxResponseExcerpt]byte) }}

// readExcerpt reads the first webhook.MaxResponseExcerpt bytes of body and
// returns a copy of them (nil when there are none), and whether body ended
// within them. On an error it returns what was read before it.
func readExcerpt(body io.Reader) (excerpt []byte, eof bool, err error) {
	buf := excerptBufs.Get().(*[webhook.MaxResponseExcerpt]byte)
	defer excerptBufs.Put(buf)
	n := 0
	for n < len(buf) && err == nil {
		var m int
		m, err = body.Read(buf[n:])
		n += m
	}
	if err == io.EOF {
		eof, err = true, nil
	}
	if n > 0 {
		excerpt = bytes.Clone(buf[:n])
	}
	return excerpt, eof, err
}

// drain reads and discards up to MaxDrain bytes of body, for at most
// DrainTimeout, then closes it: a body drained to EOF leaves the connection
// reusable, anything else closes it.
func drain(body io.ReadCloser, cancel context.CancelFunc) {
	t := time.AfterFunc(DrainTimeout, cancel) // a cancelled read closes the connection
	_, _ = io.CopyN(io.Discard, body, MaxDrain)
	t.Stop()
	body.Close()
}

// RetryAfter parses a Retry-After value at now: delta seconds or an HTTP
// date. It returns 0 for an empty, invalid or past value and caps the
// result at webhook.MaxRetryDelay.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0
			}
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(webhook.MaxRetryDelay/time.Second) {
			return webhook.MaxRetryDelay // a valid but huge number
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, webhook.MaxRetryDelay)
}

// attemptError is a failed attempt's error: a message for the delivery log
// and the cause, for errors.As / errors.Is.
type attemptError struct {
	msg string
	err error
}

func (e *attemptError) Error() string { return e.msg }
func (e *attemptError) Unwrap() error { return e.err }

func failf(cause error, format string, args ...any) error {
	return &attemptError{msg: fmt.Sprintf(format, args...), err: cause}
}

// classify turns a transport error into a delivery-log message.
func (s *Sender) classify(parent, actx context.Context, at *attempt, err error) error {
	phase := phaseNames[at.phase.Load()]
	var refused *egress.Refused
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &refused):
		return failf(err, "refused by SSRF guard: %v", refused)
	case parent.Err() != nil && !errors.Is(parent.Err(), context.DeadlineExceeded):
		return failf(err, "attempt canceled by the caller %s", phase)
	case actx.Err() != nil || isTimeout(err):
		if errors.Is(parent.Err(), context.DeadlineExceeded) {
			return failf(err, "timeout %s: the caller's deadline passed", phase)
		}
		return failf(err, "timeout after %v %s", s.timeout, phase)
	case errors.Is(err, syscall.ECONNREFUSED):
		return failf(err, "connection refused")
	case errors.Is(err, syscall.ECONNRESET):
		return failf(err, "connection reset by the server %s", phase)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return failf(err, "host unreachable")
	case errors.As(err, &dnsErr):
		return failf(err, "DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	}
	if p := at.tlsErr.Load(); p != nil {
		return failf(err, "TLS handshake failed: %v", *p)
	}
	if at.phase.Load() == phaseTLS {
		return failf(err, "TLS handshake failed: %s", urlErrText(err))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return failf(err, "connection closed by the server %s", phase)
	}
	msg := urlErrText(err)
	msg = strings.TrimPrefix(msg, "net/http: HTTP/1.x transport connection broken: ")
	msg = strings.TrimPrefix(msg, "net/http: ")
	switch p := at.phase.Load(); {
	case strings.Contains(msg, "response headers exceeded"):
		return failf(err, "invalid HTTP response: headers larger than %d KiB", MaxResponseHeaderBytes>>10)
	case p == phaseWait || p == phaseHeaders || p == phaseBody:
		return failf(err, "invalid HTTP response: %s", msg)
	}
	return failf(err, "request failed %s: %s", phase, msg)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// urlErrText is err's message without net/http's `Post "<url>": ` prefix.
func urlErrText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// sanitize makes a receiver-supplied string safe and short for a log.
func sanitize(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}
