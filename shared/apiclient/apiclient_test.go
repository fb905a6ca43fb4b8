package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestDoErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/invalid":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"invalid","message":"must be between 0 and 5, got 9","field":"retry.max_retries"}}`))
		case "/v1/limit":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"plan_limit","message":"the standard plan allows 3 endpoints","field":"url"}}`))
		case "/v1/denied":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"message":"Forbidden"}`))
		case "/v1/html":
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><body>bad gateway whsec_abc</body></html>"))
		case "/v1/text":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("boom: whsec_Zm9vYmFy\nmore"))
		case "/v1/ok":
			if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "test-agent" {
				t.Errorf("headers %v", r.Header)
			}
			w.Write([]byte(`{"id":"whk_1","unknown":true}`))
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL + "/", UserAgent: "test-agent"}
	ctx := context.Background()
	for _, tc := range []struct {
		path, msg string
		kind      Kind
	}{
		{"/v1/invalid", "retry.max_retries: must be between 0 and 5, got 9", KindOther},
		{"/v1/limit", "url: the standard plan allows 3 endpoints", KindLimit},
		{"/v1/denied", "Forbidden", KindOther},
		{"/v1/html", "HTTP 502: Bad Gateway", KindUnavailable},
		{"/v1/text", "HTTP 500: boom: whsec_…", KindOther},
	} {
		_, err := c.Do(ctx, "GET", tc.path, nil, nil)
		var e *Error
		if !errors.As(err, &e) || e.Error() != tc.msg || e.Kind() != tc.kind {
			t.Errorf("%s: %v (%T), kind %v; want %q, kind %v", tc.path, err, err, e.Kind(), tc.msg, tc.kind)
		}
	}
	var ep Endpoint
	if raw, err := c.Do(ctx, "POST", "/v1/ok", map[string]any{"a": 1}, &ep); err != nil || ep.ID != "whk_1" || !strings.Contains(string(raw), "unknown") {
		t.Fatalf("Do = %s, %+v, %v", raw, ep, err)
	}
	_, err := (&Client{BaseURL: "http://127.0.0.1:1"}).Do(ctx, "GET", "/v1/plan", nil, nil)
	var ne *NetworkError
	if !errors.As(err, &ne) {
		t.Fatalf("unreachable: %v (%T)", err, err)
	}
}

func TestRedact(t *testing.T) {
	got := Redact(`secret "whsec_ab+/c=" and whsec_x-y_z.`)
	if got != `secret "whsec_…" and whsec_….` {
		t.Fatalf("Redact = %q", got)
	}
}

func TestSigV4Sign(t *testing.T) {
	s := &SigV4{Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Region: "us-east-1"}
	req, _ := http.NewRequest("POST", "https://abc.execute-api.us-east-1.amazonaws.com/v1/webhooks", strings.NewReader("{}"))
	if err := s.Sign(context.Background(), req, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/us-east-1/execute-api/aws4_request") ||
		req.Header.Get("X-Amz-Date") == "" {
		t.Fatalf("Authorization = %q", auth)
	}
}

// TestEndpointInputHeaders: nil Headers are left out (unchanged on
// update); empty ones are sent, to remove every custom header.
func TestEndpointInputHeaders(t *testing.T) {
	for _, tc := range []struct {
		in   EndpointInput
		want string
	}{
		{EndpointInput{}, `{}`},
		{EndpointInput{Headers: map[string]string{}}, `{"headers":{}}`},
		{EndpointInput{Headers: map[string]string{"X-Team": "ops"}}, `{"headers":{"X-Team":"ops"}}`},
	} {
		got, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Marshal(%+v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
