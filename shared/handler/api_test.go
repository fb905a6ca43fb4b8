package handler_test

import (
	"bufio"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/phoneshield/webhooks/shared/api"
	"github.com/phoneshield/webhooks/shared/bolt"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// (The API adapter's everyday requests are tested end to end, against
// moto, in package awsapp.)

// apiEvent is an API Gateway HTTP API request, payload format 2.0.
func apiEvent(method, rawPath string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: rawPath,
		Headers: map[string]string{"host": "abc123.execute-api.us-east-1.amazonaws.com"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "abc123.execute-api.us-east-1.amazonaws.com",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath, SourceIP: "203.0.113.7"},
		},
	}
}

// TestAPIPathIsNeverAHost: a path starting with "//" is a path, as
// net/http (local mode) reads it: DELETE //evil/v1/webhooks/whk_a gets
// the same answer through the adapter as from net/http, and deletes
// nothing; the adapter used to take "evil" for a host and serve DELETE
// /v1/webhooks/whk_a.
func TestAPIPathIsNeverAHost(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateEndpoint(t.Context(), webhooktest.NewEndpoint("whk_a")); err != nil {
		t.Fatal(err)
	}
	h := api.Handler(&manage.Service{Endpoints: db, Log: db, DeadLetters: db, Plan: webhook.Enterprise}, quiet)
	raw, err := http.ReadRequest(bufio.NewReader(strings.NewReader("DELETE //evil/v1/webhooks/whk_a HTTP/1.1\r\nHost: api\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, raw)
	resp, err := (&handler.API{Handler: h}).Handle(t.Context(), apiEvent("DELETE", "//evil/v1/webhooks/whk_a"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != rec.Code {
		t.Errorf("adapter answered %d, net/http %d", resp.StatusCode, rec.Code)
	}
	if _, err := db.GetEndpoint(t.Context(), "whk_a"); errors.Is(err, webhook.ErrNotFound) {
		t.Error("the endpoint was deleted")
	}
}

// TestAPIPanicIsAnAnswer: a panicking handler gets the API's answer to a
// failure (503, the error shape) instead of ending the process, which the
// Lambda runtime does with a panic (API Gateway then answers its own
// body, and the next request pays a cold start).
func TestAPIPanicIsAnAnswer(t *testing.T) {
	h := &handler.API{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		var m map[string]int
		m["x"]++
	})}
	resp, err := h.Handle(t.Context(), apiEvent("GET", "/v1/webhooks"))
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Body, `"code":"unavailable"`) {
		t.Errorf("Handle = %d %s, %v; want 503 in the API's error shape", resp.StatusCode, resp.Body, err)
	}
}

// TestAPIHostIsTheRequestsHost: as net/http gives a server request, the
// Host header is in Request.Host, not among the headers.
func TestAPIHostIsTheRequestsHost(t *testing.T) {
	var host, hdr string
	h := &handler.API{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, hdr = r.Host, r.Header.Get("Host")
	})}
	if _, err := h.Handle(t.Context(), apiEvent("GET", "/v1/webhooks")); err != nil {
		t.Fatal(err)
	}
	if host != "abc123.execute-api.us-east-1.amazonaws.com" || hdr != "" {
		t.Errorf("r.Host = %q, header Host = %q; want the host in r.Host only", host, hdr)
	}
}
