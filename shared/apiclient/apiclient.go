// Package apiclient is a client of the PhoneShield Webhooks management API
// (JSON under /v1) and of local mode's PutEvents port. It speaks to local
// mode as it is and to the API Gateway deployment when given a Signer
// (SigV4, service execute-api). webhookctl is built on it.
//
// Every 4xx/5xx answer becomes an *Error carrying the API's code, message
// and field; a request that never got an answer becomes a *NetworkError.
// Neither ever holds an endpoint secret: messages are passed through
// Redact.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Client calls the management API. Set its fields once.
type Client struct {
	// BaseURL is the API's root, without /v1: http://127.0.0.1:4000 for
	// local mode, https://<id>.execute-api.<region>.amazonaws.com on AWS.
	BaseURL string
	// HTTP is the client used; nil means http.DefaultClient.
	HTTP *http.Client
	// Signer, if set, signs every request just before it is sent.
	Signer Signer
	// UserAgent is sent as User-Agent; "" means "phoneshield-apiclient".
	UserAgent string
	// Retries is how many times a request answered 429 (throttled before
	// it reached the API, so always safe to repeat) is tried again;
	// default 3. Set a negative value for none.
	Retries int
}

// Signer signs an outgoing request; body is the request body (nil for
// none).
type Signer interface {
	Sign(ctx context.Context, req *http.Request, body []byte) error
}

// Error is an error answer of the API: {"error":{"code","message","field"}}
// with a 4xx/5xx status. Answers in another shape (API Gateway's own
// {"message"}, a proxy's page) get an empty Code.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Kind classifies an API error for callers that map errors to outcomes.
type Kind int

// The kinds of API error.
const (
	KindOther       Kind = iota // any other 4xx/5xx (400 invalid, 413, ...)
	KindNotFound                // 404
	KindConflict                // 409
	KindLimit                   // 403 plan_limit
	KindUnavailable             // 429, 502, 503, 504: retry later
)

// Kind returns the error's kind. A 403 counts as a plan limit only when it
// is the API's own plan_limit answer: API Gateway denying a request (bad
// or missing credentials) is a 403 too, and is not one.
func (e *Error) Kind() Kind {
	switch {
	case e.Status == http.StatusNotFound:
		return KindNotFound
	case e.Status == http.StatusConflict:
		return KindConflict
	case e.Status == http.StatusForbidden && e.Code == "plan_limit":
		return KindLimit
	case e.Status == http.StatusTooManyRequests, e.Status == http.StatusBadGateway,
		e.Status == http.StatusServiceUnavailable, e.Status == http.StatusGatewayTimeout:
		return KindUnavailable
	}
	return KindOther
}

// NetworkError is a request that got no HTTP answer: the API could not be
// reached, the connection broke or the request timed out.
type NetworkError struct {
	Method, URL string
	Err         error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

var secretRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/=_-]+`)

// Redact replaces anything shaped like an endpoint secret ("whsec_...")
// in s with "whsec_…".
func Redact(s string) string { return secretRE.ReplaceAllString(s, "whsec_…") }

// Do sends a request to path (e.g. "/v1/webhooks", with any query) with in
// as its JSON body (nil for none), decodes a 2xx answer into out (nil to
// skip) and returns the answer's bytes as well. A 4xx/5xx is an *Error, no
// answer a *NetworkError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (json.RawMessage, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
	}
	u := strings.TrimRight(c.BaseURL, "/") + path
	retries := c.Retries
	if retries == 0 {
		retries = 3
	}
	for try := 0; ; try++ {
		raw, resp, err := c.send(ctx, method, u, body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusTooManyRequests && try < retries {
			if err := sleep(ctx, retryAfter(resp.Header.Get("Retry-After"), try)); err != nil {
				return nil, &NetworkError{Method: method, URL: u, Err: err}
			}
			continue
		}
		if resp.StatusCode >= 400 {
			return nil, decodeError(resp.StatusCode, raw)
		}
		if out != nil && len(bytes.TrimSpace(raw)) > 0 {
			if err := json.Unmarshal(raw, out); err != nil {
				// Never echo the body: it may hold a secret.
				return raw, fmt.Errorf("%s %s: unexpected answer (HTTP %d, %d bytes): %v", method, path, resp.StatusCode, len(raw), err)
			}
		}
		return raw, nil
	}
}

func (c *Client) send(ctx context.Context, method, u string, body []byte) ([]byte, *http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("bad API URL: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "phoneshield-apiclient"
	}
	req.Header.Set("User-Agent", ua)
	if c.Signer != nil {
		if err := c.Signer.Sign(ctx, req, body); err != nil {
			return nil, nil, fmt.Errorf("sign request: %w", err)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err() // the caller gave up: not the network's fault
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, &NetworkError{Method: method, URL: u, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, &NetworkError{Method: method, URL: u, Err: err}
	}
	return raw, resp, nil
}

func decodeError(status int, raw []byte) *Error {
	e := &Error{Status: status}
	var env struct {
		Error   *Error `json:"error"`
		Message string `json:"message"` // API Gateway's own answers
	}
	if json.Unmarshal(raw, &env) == nil {
		if env.Error != nil && (env.Error.Code != "" || env.Error.Message != "") {
			e.Code, e.Message, e.Field = env.Error.Code, env.Error.Message, env.Error.Field
		} else if env.Message != "" {
			e.Message = env.Message
		}
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(raw))
		if i := strings.IndexByte(e.Message, '\n'); i >= 0 {
			e.Message = e.Message[:i]
		}
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
		if e.Message == "" || strings.HasPrefix(e.Message, "<") {
			e.Message = http.StatusText(status)
		}
		e.Message = fmt.Sprintf("HTTP %d: %s", status, e.Message)
	}
	e.Message = Redact(e.Message)
	e.Field = Redact(e.Field)
	return e
}

func retryAfter(h string, try int) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 30*time.Second)
	}
	return time.Duration(250<<try) * time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// PathID escapes an id for use as one path segment.
func PathID(id string) string { return url.PathEscape(id) }
