package signature

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a fake downstream handler that records what it was given.
type recorder struct {
	calls int
	body  []byte
	err   error
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.calls++
	rec.body, rec.err = io.ReadAll(r.Body)
	io.WriteString(w, "processed")
}

// seenStore is a fake dedupe store.
type seenStore struct {
	mu    sync.Mutex
	ids   map[string]bool
	calls []string
}

func (s *seenStore) seen(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, id)
	return s.ids[id]
}

// unsizedReader hides its length so the request has no Content-Length.
type unsizedReader struct{ r io.Reader }

func (u unsizedReader) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestMiddleware(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	good := signed(t, testID, now, testBody, testSecret, oldSecret)
	big := bytes.Repeat([]byte("a"), int(DefaultMaxBodyBytes)+1)

	tests := []struct {
		name       string
		v          *Verifier
		opts       []Option
		header     http.Header
		body       io.Reader
		wantStatus int
		wantText   string // substring of the response
		wantNext   bool   // next handler called
	}{
		{
			name: "happy path", v: &Verifier{Secrets: []string{testSecret}, Now: clock},
			header: good, body: bytes.NewReader(testBody),
			wantStatus: 200, wantText: "processed", wantNext: true,
		},
		{
			name: "happy path, chunked body", v: &Verifier{Secrets: []string{oldSecret}, Scheme: SchemeBoth, Now: clock},
			header: signed(t, testID, now, testBody, oldSecret), body: unsizedReader{bytes.NewReader(testBody)},
			wantStatus: 200, wantText: "processed", wantNext: true,
		},
		{
			name: "wrong secret", v: &Verifier{Secrets: []string{otherSecret}, Now: clock},
			header: good, body: bytes.NewReader(testBody),
			wantStatus: 401, wantText: "webhook-signature: no matching signature",
		},
		{
			name: "tampered body", v: &Verifier{Secrets: []string{testSecret}, Now: clock},
			header: good, body: strings.NewReader(strings.Replace(string(testBody), "135", "136", 1)),
			wantStatus: 401, wantText: "no matching signature",
		},
		{
			name: "no signature headers", v: &Verifier{Secrets: []string{testSecret}, Now: clock},
			header: http.Header{}, body: bytes.NewReader(testBody),
			wantStatus: 401, wantText: "webhook-id: missing header",
		},
		{
			name: "stale", v: &Verifier{Secrets: []string{testSecret}, Now: func() time.Time { return now.Add(time.Hour) }},
			header: good, body: bytes.NewReader(testBody),
			wantStatus: 401, wantText: "webhook-timestamp: timestamp rejected",
		},
		{
			name: "too large, Content-Length", v: &Verifier{Secrets: []string{testSecret}, Now: clock},
			header: good, body: bytes.NewReader(big),
			wantStatus: 413,
		},
		{
			name: "too large, chunked", v: &Verifier{Secrets: []string{testSecret}, Now: clock},
			header: good, body: unsizedReader{bytes.NewReader(big)},
			wantStatus: 413,
		},
		{
			name: "custom cap", v: &Verifier{Secrets: []string{testSecret}, Now: clock},
			opts:   []Option{WithMaxBodyBytes(int64(len(testBody)) - 1)},
			header: good, body: unsizedReader{bytes.NewReader(testBody)},
			wantStatus: 413,
		},
		{
			name: "body exactly at custom cap", v: &Verifier{Secrets: []string{testSecret}, Now: clock},
			opts:   []Option{WithMaxBodyBytes(int64(len(testBody)))},
			header: good, body: unsizedReader{bytes.NewReader(testBody)},
			wantStatus: 200, wantNext: true,
		},
		{
			name: "misconfigured secret", v: &Verifier{Secrets: []string{"your_webhook_secret"}, Now: clock},
			header: good, body: bytes.NewReader(testBody),
			wantStatus: 500, wantText: "misconfigured",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			var rejected []int
			opts := append(tt.opts, WithOnReject(func(_ *http.Request, status int, err error) {
				rejected = append(rejected, status)
			}))
			h := Middleware(tt.v, opts...)(rec)

			req := httptest.NewRequest(http.MethodPost, "/phoneshield-webhook", tt.body)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)

			if got, want := w.Code, tt.wantStatus; got != want {
				t.Errorf("status = %d, want %d (%q)", got, want, w.Body.String())
			}
			if got, want := w.Body.String(), tt.wantText; !strings.Contains(got, want) {
				t.Errorf("response %q does not contain %q", got, want)
			}
			if got, want := rec.calls == 1, tt.wantNext; got != want {
				t.Fatalf("next called %d times, want called: %v", rec.calls, want)
			}
			if tt.wantNext {
				if rec.err != nil {
					t.Fatalf("next read body: %v", rec.err)
				}
				if got, want := rec.body, testBody; !bytes.Equal(got, want) {
					t.Errorf("next read %q, want the raw body %q", got, want)
				}
				if len(rejected) != 0 {
					t.Errorf("OnReject called %v on success", rejected)
				}
				return
			}
			if got, want := rejected, []int{tt.wantStatus}; len(got) != 1 || got[0] != want[0] {
				t.Errorf("OnReject statuses = %v, want %v", got, want)
			}
			if got, want := w.Header().Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got := w.Body.Len(); got > 200 {
				t.Errorf("response is %d bytes, want a short reason", got)
			}
			for _, s := range append(tt.v.Secrets, testSecret, oldSecret) {
				assertNoSecret(t, w.Body.String(), s)
			}
		})
	}
}

func TestMiddlewareSeen(t *testing.T) {
	now := time.Now()
	v := &Verifier{Secrets: []string{testSecret}, Now: func() time.Time { return now }}
	store := &seenStore{ids: map[string]bool{"evt_done": true}}
	tests := []struct {
		name       string
		id         string
		secret     string
		wantStatus int
		wantText   string
		wantNext   bool
		wantSeen   []string
	}{
		{"new event", "evt_new", testSecret, 200, "processed", true, []string{"evt_new"}},
		{"duplicate", "evt_done", testSecret, 200, "duplicate delivery", false, []string{"evt_done"}},
		{"forged id is never looked up", "evt_forged", otherSecret, 401, "no matching signature", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.calls = nil
			rec := &recorder{}
			h := Middleware(v, WithSeen(store.seen))(rec)
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(testBody))
			for k, vals := range signed(t, tt.id, now, testBody, tt.secret) {
				req.Header[k] = vals
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if got, want := w.Code, tt.wantStatus; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := w.Body.String(), tt.wantText; !strings.Contains(got, want) {
				t.Errorf("response %q does not contain %q", got, want)
			}
			if got, want := rec.calls == 1, tt.wantNext; got != want {
				t.Errorf("next called %d times, want called: %v", rec.calls, want)
			}
			if got, want := strings.Join(store.calls, ","), strings.Join(tt.wantSeen, ","); got != want {
				t.Errorf("seen called with %q, want %q", got, want)
			}
		})
	}

	// Under SchemePhoneShield webhook-id is not authenticated: no lookups.
	store.calls = nil
	ps := &Verifier{Secrets: []string{testSecret}, Scheme: SchemePhoneShield}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(testBody))
	req.Header = signed(t, "evt_done", now, testBody, testSecret)
	w := httptest.NewRecorder()
	Middleware(ps, WithSeen(store.seen))(&recorder{}).ServeHTTP(w, req)
	if got, want := w.Code, 200; got != want {
		t.Errorf("phoneshield scheme: status = %d, want %d", got, want)
	}
	if got := store.calls; len(got) != 0 {
		t.Errorf("phoneshield scheme: seen called with %q, want no calls", got)
	}
}

// failingBody is a fake request body that breaks mid-read.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestMiddlewareReadError(t *testing.T) {
	v := &Verifier{Secrets: []string{testSecret}}
	req := httptest.NewRequest(http.MethodPost, "/", failingBody{})
	w := httptest.NewRecorder()
	rec := &recorder{}
	Middleware(v)(rec).ServeHTTP(w, req)
	if got, want := w.Code, http.StatusBadRequest; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
	if rec.calls != 0 {
		t.Error("next called after a read error")
	}
}

// sizeRecorder is a request body of two bytes that records the size of
// the buffer its first Read is given.
type sizeRecorder struct {
	first int
	done  bool
}

func (b *sizeRecorder) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.first, b.done = len(p), true
	return copy(p, "{}"), nil
}

// TestMiddlewareClaimedLength: Content-Length is the sender's claim, read
// before any signature is checked, so it must not size the buffer: a
// request claiming 1 MiB and sending 2 bytes made the receiver allocate
// 1 MiB, and with a cap of MaxInt64 a claim near it panicked (no answer).
func TestMiddlewareClaimedLength(t *testing.T) {
	v := &Verifier{Secrets: []string{testSecret}}
	for _, tt := range []struct {
		name    string
		max     int64
		claimed int64
	}{
		{"default cap, 1 MiB claimed", 0, 1 << 20},
		{"no cap, MaxInt64-1 claimed", math.MaxInt64, math.MaxInt64 - 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := &sizeRecorder{}
			req := httptest.NewRequest(http.MethodPost, "/", body)
			req.ContentLength = tt.claimed
			w := httptest.NewRecorder()
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				Middleware(v, WithMaxBodyBytes(tt.max))(&recorder{}).ServeHTTP(w, req)
			}()
			if got, want := w.Code, http.StatusUnauthorized; got != want {
				t.Errorf("status = %d, want %d (unsigned)", got, want)
			}
			if got, limit := body.first, 128<<10; got > limit { // 64 KiB made, in an allocator size class
				t.Errorf("the body was read into a buffer of %d bytes, want at most %d", got, limit)
			}
		})
	}
}

func TestMiddlewareNilVerifierPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Middleware(nil) did not panic")
		}
	}()
	Middleware(nil)
}
