package signature

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// DefaultMaxBodyBytes caps the body Middleware reads: PhoneShield never
// sends a payload over 1 MB, plus a margin.
const DefaultMaxBodyBytes int64 = 1<<20 + 64<<10

// Option configures Middleware.
type Option func(*middleware)

// WithMaxBodyBytes sets the largest body Middleware accepts (default
// DefaultMaxBodyBytes); larger requests get 413. n ≤ 0 keeps the default.
func WithMaxBodyBytes(n int64) Option {
	return func(m *middleware) {
		if n > 0 {
			m.maxBytes = n
		}
	}
}

// WithSeen installs replay and duplicate protection. After a request
// verifies, seen is called with its webhook-id (the PhoneShield event id,
// the same on every retry of a delivery); if it returns true the request
// is answered 200 "duplicate delivery" without calling the next handler,
// so PhoneShield stops retrying. seen is only called with an id the
// signature authenticated, so forged requests can't fill your store; it
// is never called under SchemePhoneShield, whose signature does not cover
// webhook-id (dedupe on the body's event_id there). seen may run
// concurrently.
//
// If seen records the id itself (check-and-set), a delivery whose handler
// then fails will be treated as a duplicate when retried and so be lost.
// To avoid that, let seen only look ids up, and record the id in your
// handler once the event is processed. Keep ids for longer than the
// timestamp tolerance plus PhoneShield's retry horizon (about 3 hours).
func WithSeen(seen func(msgID string) bool) Option {
	return func(m *middleware) { m.seen = seen }
}

// WithOnReject sets a function called with the request and the reason
// whenever Middleware rejects a request (for logging or metrics). The
// error never contains secrets.
func WithOnReject(f func(r *http.Request, status int, err error)) Option {
	return func(m *middleware) { m.onReject = f }
}

// errBodyTooLarge and errBodyRead are passed to the OnReject hook.
var (
	errBodyTooLarge = errors.New("signature: request body too large")
	errBodyRead     = errors.New("signature: cannot read request body")
)

type middleware struct {
	v        *Verifier
	maxBytes int64
	seen     func(string) bool
	onReject func(*http.Request, int, error)
}

// Middleware returns HTTP middleware that verifies each request with v
// before calling the next handler. It reads the body (up to the cap,
// answering 413 beyond it), verifies the signatures and answers 401 with
// a short plain-text reason when they don't hold. Otherwise it puts the
// exact bytes back in r.Body, so the next handler can read (and parse) the
// raw body, and calls it. A Verifier with an invalid secret gets 500: that
// is the receiver's fault, and PhoneShield will retry once it is fixed.
func Middleware(v *Verifier, opts ...Option) func(http.Handler) http.Handler {
	if v == nil {
		panic("signature: Middleware with nil Verifier")
	}
	m := &middleware{v: v, maxBytes: DefaultMaxBodyBytes}
	for _, o := range opts {
		o(m)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, next)
		})
	}
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, status, err := m.readBody(w, r)
	if err != nil {
		m.reject(w, r, status, err, err.Error())
		return
	}
	if err := m.v.Verify(r.Header, body); err != nil {
		if errors.Is(err, ErrInvalidSecret) {
			m.reject(w, r, http.StatusInternalServerError, err, "webhook verifier misconfigured")
			return
		}
		m.reject(w, r, http.StatusUnauthorized, err, "invalid webhook signature: "+err.Error())
		return
	}
	if m.seen != nil && m.v.Scheme != SchemePhoneShield && m.seen(header(r.Header, keyID)) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "duplicate delivery\n")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	next.ServeHTTP(w, r)
}

// preallocMax bounds the buffer made for a body before it is read.
const preallocMax = 64 << 10

func (m *middleware) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	if r.ContentLength > m.maxBytes {
		return nil, http.StatusRequestEntityTooLarge, errBodyTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, 0, nil
	}
	// The buffer is sized by the bytes received: Content-Length is the
	// sender's claim, made before anything is verified, so it sizes the
	// buffer only up to preallocMax.
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, preallocMax)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, m.maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, errBodyTooLarge
		}
		return nil, http.StatusBadRequest, errBodyRead
	}
	return buf.Bytes(), 0, nil
}

func (m *middleware) reject(w http.ResponseWriter, r *http.Request, status int, err error, text string) {
	if m.onReject != nil {
		m.onReject(r, status, err)
	}
	http.Error(w, text, status)
}
