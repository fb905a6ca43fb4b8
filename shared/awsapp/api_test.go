package awsapp_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// call invokes the management Lambda's handler with the event API Gateway
// (HTTP API, payload 2.0, IAM authorization) would send.
func (w *world) call(method, path string, body any) (int, map[string]any) {
	w.t.Helper()
	raw := ""
	if body != nil {
		b, _ := json.Marshal(body)
		raw = string(b)
	}
	pathOnly, query, _ := strings.Cut(path, "?")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: pathOnly, RawQueryString: query,
		Headers: map[string]string{"content-type": "application/json", "authorization": "AWS4-HMAC-SHA256 Credential=..."},
		Body:    raw,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: pathOnly, SourceIP: "203.0.113.7"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::123456789012:user/ops"}},
		},
	}
	in, _ := json.Marshal(ev)
	out, err := lambda.NewHandler(w.api.Handle).Invoke(w.ctx, in)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		w.t.Fatal(err)
	}
	var m map[string]any
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
			w.t.Fatalf("%s %s: body %q: %v", method, path, resp.Body, err)
		}
	}
	return resp.StatusCode, m
}

func TestManagementAPIThroughAPIGateway(t *testing.T) {
	w := setup(t)
	rcv := receiver(t)
	fail := true
	rcv.Fail = func(string, int) int {
		if fail {
			return 500
		}
		return 0
	}
	status, ep := w.call("POST", "/v1/webhooks", map[string]any{"url": rcv.URL(), "event_types": []string{"call.*"}, "retry": map[string]any{"max_retries": 0}})
	if status != 201 || !strings.HasPrefix(fmt.Sprint(ep["secret"]), "whsec_") {
		t.Fatalf("create = %d %v", status, ep)
	}
	id := ep["id"].(string)
	rcv.SetSecret(ep["secret"].(string))
	w.queue(w.cfg.QueuePrefix + id) // the control plane's job (tested in package provision)

	if status, body := w.call("POST", "/v1/webhooks", map[string]any{"url": "http://10.1.2.3/", "event_types": []string{"*"}}); status != 400 || body["error"].(map[string]any)["field"] != "url" {
		t.Errorf("private URL: %d %v", status, body)
	}
	if status, body := w.call("GET", "/v1/webhooks", nil); status != 200 || strings.Contains(fmt.Sprint(body), "whsec_") {
		t.Errorf("list: %d %v", status, body)
	}
	if status, body := w.call("PATCH", "/v1/webhooks/"+id, map[string]any{"description": "CRM"}); status != 200 || body["description"] != "CRM" {
		t.Errorf("patch: %d %v", status, body)
	}
	if status, _ := w.call("GET", "/v1/webhooks/whk_missing", nil); status != 404 {
		t.Errorf("missing: %d", status)
	}

	// Deliveries fail (max_retries 0) into the DLQ; list, then redrive
	// through the API once the receiver is healthy.
	w.publish(entry(t, "call.received", "evt_api_1"), entry(t, "call.completed", "evt_api_2"))
	w.runFilter()
	w.drain(id, 15*time.Second, func() bool {
		return settledIn(w, id, "evt_api_1")() && settledIn(w, id, "evt_api_2")()
	})
	status, dlq := w.call("GET", "/v1/dlq?endpoint_id="+id, nil)
	if status != 200 || len(dlq["data"].([]any)) != 2 {
		t.Fatalf("dlq = %d %v", status, dlq)
	}
	status, counts := w.call("GET", "/v1/dlq/counts", nil)
	if status != 200 || counts["total"].(float64) != 2 {
		t.Fatalf("counts = %d %v", status, counts)
	}
	fail = false
	status, res := w.call("POST", "/v1/dlq/redrive", map[string]any{"endpoint_id": id})
	if status != 200 || res["done"].(float64) != 2 || res["remaining"].(float64) != 0 {
		t.Fatalf("redrive = %d %v", status, res)
	}
	w.drain(id, 15*time.Second, func() bool {
		a, _ := rcv.Get("evt_api_1")
		b, _ := rcv.Get("evt_api_2")
		return a.Requests == 2 && b.Requests == 2
	})
	if _, counts = w.call("GET", "/v1/dlq/counts", nil); counts["total"].(float64) != 0 {
		t.Errorf("DLQ after redrive: %v", counts)
	}
	status, d := w.call("GET", "/v1/webhooks/"+id+"/deliveries?status=delivered", nil)
	if status != 200 || len(d["data"].([]any)) != 2 {
		t.Errorf("delivered after redrive = %d %v", status, d)
	}
	status, tr := w.call("POST", "/v1/webhooks/"+id+"/test", map[string]any{"event_type": "voicemail.read"})
	if status != 200 || tr["status_code"].(float64) != 200 {
		t.Errorf("test event = %d %v", status, tr)
	}
	if status, _ := w.call("DELETE", "/v1/webhooks/"+id, nil); status != 204 {
		t.Errorf("delete = %d", status)
	}
}
