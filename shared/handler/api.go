package handler

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// API serves an http.Handler (the management API) to API Gateway HTTP API
// requests, payload format 2.0 — so local mode and the management Lambda
// run the same handler.
type API struct {
	Handler http.Handler
}

// Handle translates one request and its response.
func (h *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return textResponse(http.StatusBadRequest, "body: invalid base64"), nil
		}
		body = b
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	// Parsed as a request line's target, as net/http parses one: a path
	// starting with "//" stays a path (a URL string would read its first
	// segment as a host, and serve another route).
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return textResponse(http.StatusBadRequest, "bad request line"), nil
	}
	u.RawQuery = ev.RawQueryString
	req, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, "/", bytes.NewReader(body))
	if err != nil {
		return textResponse(http.StatusBadRequest, "bad request line"), nil
	}
	req.URL, req.RequestURI = u, u.RequestURI()
	for k, v := range ev.Headers {
		req.Header.Set(k, v) // API Gateway joins repeated headers with commas
	}
	// As net/http gives a server request its Host.
	req.Host = cmp.Or(req.Header.Get("Host"), ev.RequestContext.DomainName)
	req.Header.Del("Host")
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.ContentLength = int64(len(body))
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	w := &responseWriter{header: http.Header{}}
	if !serve(h.Handler, w, req) {
		// The runtime would end the process with the panic, and API
		// Gateway answer its own body; the API's answer to any failure
		// not the caller's instead.
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusServiceUnavailable,
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    `{"error":{"code":"unavailable","message":"temporary failure; retry later"}}`}, nil
	}
	return w.response(), nil
}

// serve runs h, reporting false if it panicked (the panic is logged).
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("management request panicked", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	h.ServeHTTP(w, r)
	return true
}

type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *responseWriter) response() events.APIGatewayV2HTTPResponse {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: map[string]string{}}
	for k, v := range w.header {
		resp.Headers[k] = strings.Join(v, ",")
	}
	if utf8.Valid(w.body.Bytes()) {
		resp.Body = w.body.String()
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(w.body.Bytes()), true
	}
	return resp
}

func textResponse(status int, msg string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "text/plain"}, Body: msg}
}
